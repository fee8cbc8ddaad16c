package tpt

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/gotta-ml/gotta/tta"
	"github.com/gotta-ml/gotta/tta/backend"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestAlignGolden: the seed project's TPT + alignment (2 alignment steps, BatchNorm in training mode for the
// ResNet, then 1 TPT step) matches the PyTorch reference (testdata/<model>_align_golden.json), and Reset restores
// the image tower: a second run of the same example gives the same result.
func TestAlignGolden(t *testing.T) {
	tok := loadTokenizer(t)
	b := backend.MustNew()
	for _, kind := range []string{"rn", "vit"} {
		t.Run(kind, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", kind+"_align_golden.json"))
			require.NoError(t, err)
			var cases []struct {
				golden
				AlignSteps  int       `json:"align_steps"`
				AlignLosses []float64 `json:"align_losses"`
			}
			require.NoError(t, json.Unmarshal(data, &cases))
			g := cases[0]
			a, err := New(b, loadModel(t, kind), tok, g.Classes, Options{Prompt: g.Prompt, Select: g.Rho,
				Steps: g.Steps, WeightDecay: PaperWeightDecay, AlignSteps: g.AlignSteps})
			require.NoError(t, err)
			views := loadViews(t, kind)
			for run := 0; run < 2; run++ {
				require.NoError(t, a.Reset())
				pred, err := a.Adapt(&tta.Views{ExampleID: "golden", Images: views})
				require.NoError(t, err)
				tr := a.LastTrace()
				assert.Equal(t, g.Selected, pred.Selected, "run %d: selected views", run)
				assert.InDeltaSlice(t, g.AlignLosses, tr.AlignLosses, 1e-5, "run %d: alignment losses", run)
				assert.InDeltaSlice(t, g.Losses, tr.Losses, 1e-5, "run %d: TPT loss after alignment", run)
				assert.InDeltaSlice(t, flat64(g.CtxAfter), f64(tr.CtxAfter), 1e-5, "run %d: context after", run)
				assert.InDeltaSlice(t, g.LogitsAfter, f64(pred.Logits), 1e-4, "run %d: view-0 logits after", run)
			}
		})
	}
}
