package resnet

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gotta-ml/gotta/tta"
)

func presetShapes(c Config) map[string][]int {
	shapes := map[string][]int{}
	for _, ts := range c.Tensors() {
		shapes[ts.Name] = ts.Shape
	}
	return shapes
}

func TestConfigFromShapesErrors(t *testing.T) {
	for _, tc := range []struct {
		name     string
		edit     func(s map[string][]int)
		mentions []string
	}{
		{"no_stem", func(s map[string][]int) { delete(s, "conv1.weight") }, []string{`"conv1.weight"`, "missing"}},
		{"stem_not_7x7", func(s map[string][]int) { s["conv1.weight"] = []int{64, 3, 3, 3} },
			[]string{`"conv1.weight"`, "[64 3 3 3]"}},
		{"empty_stage", func(s map[string][]int) {
			for name := range s {
				if len(name) > 7 && name[:7] == "layer3." {
					delete(s, name)
				}
			}
		}, []string{`"layer3.0.conv1.weight"`, "stage 3"}},
		{"inconsistent_groups", func(s map[string][]int) { s["layer2.0.conv2.weight"] = []int{256, 4, 3, 3} },
			[]string{`"layer2.0.conv2.weight"`, "groups"}},
		{"no_fc", func(s map[string][]int) { delete(s, "fc.weight") }, []string{`"fc.weight"`}},
		{"expansion", func(s map[string][]int) { s["layer1.0.conv3.weight"] = []int{255, 128, 1, 1} },
			[]string{`"layer1.0.conv3.weight"`, "expansion"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := presetShapes(ResNeXt50x32x4d())
			tc.edit(s)
			_, err := ConfigFromShapes("some/file.safetensors", s)
			require.Error(t, err)
			t.Logf("error: %v", err)
			assert.Contains(t, err.Error(), "some/file.safetensors")
			for _, m := range tc.mentions {
				assert.Contains(t, err.Error(), m)
			}
		})
	}
}

// TestRealWeights loads the torchvision checkpoints that `gotta fetch` puts under tta.WeightsDir(), when present
// (it skips otherwise: tests never download), and checks the derived architecture against the presets.
func TestRealWeights(t *testing.T) {
	for _, tc := range []struct {
		model string
		want  Config
	}{
		{"resnet50", ResNet50()},
		{"resnet50.tv2", ResNet50()},
		{"resnext50", ResNeXt50x32x4d()},
	} {
		t.Run(tc.model, func(t *testing.T) {
			path := filepath.Join(tta.WeightsDir(), "resnet", tc.model, "model.safetensors")
			if _, err := os.Stat(path); err != nil {
				t.Skipf("no weights at %s", path)
			}
			m, err := Load(context.New(), path)
			require.NoError(t, err)
			assert.Equal(t, tc.want, m.Config)
		})
	}
}
