package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gotta-ml/gotta/datasets/augment"
	"github.com/gotta-ml/gotta/tta/backend"
	"github.com/gotta-ml/gotta/tta/memo"
	"github.com/gotta-ml/gotta/tta/method"
	"github.com/gotta-ml/gotta/tta/weights"
)

// The tiny torchvision ResNet of tta/resnet's tests (10 classes) and tta/memo's PyTorch golden file.
const (
	tinyResNet = "../../tta/resnet/testdata/tiny_basic.safetensors"
	memoGolden = "../../tta/memo/testdata/memo_golden.safetensors"
)

// TestAdaptMemo runs gotta adapt --method memo (through Main, so the adapt command's dispatch is covered) on the
// golden views of tta/memo and compares the three logit files with PyTorch's (case prior_all: prior 0.94, SGD lr
// 5e-3 wd 1e-4, one step, all views): rtol 1e-4 before, 1e-3 after.
func TestAdaptMemo(t *testing.T) {
	g, err := weights.Open(memoGolden)
	require.NoError(t, err)
	defer func() { _ = g.Close() }()
	views, shape, err := g.Float32s("views") // NHWC
	require.NoError(t, err)
	n, h, w := shape[0], shape[1], shape[2]
	nchw := make([]float32, len(views))
	for i := 0; i < n; i++ {
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				for c := 0; c < 3; c++ {
					nchw[((i*3+c)*h+y)*w+x] = views[((i*h+y)*w+x)*3+c]
				}
			}
		}
	}
	dir := t.TempDir()
	vpath := filepath.Join(dir, "V.npy")
	require.NoError(t, weights.WriteNPY(vpath, []int{n, 3, h, w}, nchw))
	out := filepath.Join(dir, "out")
	code := Main([]string{"adapt", "--method", "memo", "--weights", tinyResNet, "--views-npy", vpath, "--prior", "0.94",
		"--lr", "0.005", "--weight-decay", "1e-4", "--steps", "1", "--select", "1", "--out", out})
	require.Equal(t, 0, code)
	for _, f := range []struct {
		file, ref string
		rtol      float64
	}{{"logits_view0_before.npy", "prior_all/view0_before", 1e-4}, {"logits_view0_after.npy", "prior_all/view0_after", 1e-3},
		{"logits_view0_after_plain.npy", "prior_all/view0_after_plain", 1e-3}} {
		got, gshape, err := weights.ReadNPYFloat32(filepath.Join(out, f.file))
		require.NoError(t, err, f.file)
		assert.Equal(t, []int{10}, gshape, f.file)
		want, _, err := g.Float32s(f.ref)
		require.NoError(t, err)
		for j := range want {
			assert.InDelta(t, float64(want[j]), float64(got[j]), f.rtol*math.Abs(float64(want[j]))+f.rtol/10, "%s[%d]", f.file, j)
		}
	}
	data, err := os.ReadFile(filepath.Join(out, "report.json"))
	require.NoError(t, err)
	var rep memoAdaptReport
	require.NoError(t, json.Unmarshal(data, &rep))
	loss, _, err := g.Float32s("prior_all/loss")
	require.NoError(t, err)
	assert.InDelta(t, float64(loss[0]), rep.LossBefore, 1e-5)
	assert.Equal(t, 8, rep.Views)
	assert.Len(t, rep.Entropies, 8)
	assert.Equal(t, "memo", rep.Method)
	assert.Equal(t, 0.94, rep.Config["bn_prior"])

	// Other methods still go to the generic adapt command.
	var stdout, stderr bytes.Buffer
	assert.Error(t, adaptMain([]string{"--method", "tpt", "--out", out}, &stdout, &stderr))
}

// TestEvalMemo runs gotta eval with every MEMO mode on a tiny 10-class folder (the tiny ResNet has 10 outputs).
func TestEvalMemo(t *testing.T) {
	classes := []string{"c0", "c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8", "c9"}
	data := tinyImageFolder(t, classes, 1)
	for _, mode := range [][]string{
		{"--mode", "memo", "--views", "4", "--view-kind", "cut", "--select", "0.5", "--prior", "0.94", "--lr", "5e-3", "--weight-decay", "1e-4"},
		{"--mode", "crop-ensemble", "--views", "4", "--view-kind", "cut", "--select", "0.5"},
		{"--mode", "mc-dropout", "--views", "4", "--select", "0.5"},
	} {
		t.Run(mode[1], func(t *testing.T) {
			if testing.Short() && mode[1] != "memo" {
				t.Skip("slow on pure Go")
			}
			out := filepath.Join(t.TempDir(), "r.jsonl")
			var stdout, stderr bytes.Buffer
			args := append([]string{"--method", "memo", "--model", "resnet=" + tinyResNet, "--data", "folder=" + data,
				"--limit", "2", "--quiet", "--out", out}, mode...)
			require.NoError(t, evalMain(args, &stdout, &stderr), stderr.String())
			recs := readRecs(t, out)
			require.Len(t, recs, 2)
			for _, r := range recs {
				assert.Empty(t, r.Error)
				assert.Len(t, r.Top5, 5)
			}
		})
	}
}

// TestMemoViewKindDefault checks that gotta eval --method memo takes MEMO's own AugMix views (augment.PaperAugMix)
// unless --view-kind says otherwise, and runs one example with them end to end; an unknown kind lists the known.
func TestMemoViewKindDefault(t *testing.T) {
	spec, err := method.Lookup("memo")
	require.NoError(t, err)
	env := method.NewEnv(backend.MustNew(), method.Models{ResNets: []string{tinyResNet}})
	classes := []string{"c0", "c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8", "c9"}
	for _, tc := range []struct {
		args []string
		kind augment.Kind
	}{
		{nil, augment.PaperAugMix},
		{[]string{"--view-kind", "memo-augmix"}, augment.PaperAugMix},
		{[]string{"--view-kind", "crop+augmix"}, augment.CropAugMix},
		{[]string{"--view-kind", "cut"}, augment.RandomResizedCrop},
		{[]string{"--mode", "mc-dropout"}, augment.Identity},
	} {
		fs := flag.NewFlagSet("memo", flag.ContinueOnError)
		mf := method.AddFlags(fs, spec, spec.DefaultPreset)
		require.NoError(t, mf.Parse(tc.args))
		v, err := mf.Values()
		require.NoError(t, err, "%v", tc.args)
		_, vm, err := spec.Build(env, classes, v)
		require.NoError(t, err, "%v", tc.args)
		assert.Equal(t, tc.kind, vm.(memo.ViewMaker).Views.Kind, "%v", tc.args)
	}
	fs := flag.NewFlagSet("memo", flag.ContinueOnError)
	mf := method.AddFlags(fs, spec, spec.DefaultPreset)
	require.NoError(t, mf.Parse([]string{"--view-kind", "mixup"}))
	_, err = mf.Values()
	require.ErrorContains(t, err, "memo-augmix")

	data := tinyImageFolder(t, classes, 1)
	out := filepath.Join(t.TempDir(), "r.jsonl")
	var stdout, stderr bytes.Buffer
	require.NoError(t, evalMain([]string{"--method", "memo", "--model", "resnet=" + tinyResNet, "--data", "folder=" + data,
		"--limit", "1", "--quiet", "--out", out, "--views", "4"}, &stdout, &stderr), stderr.String())
	recs := readRecs(t, out)
	require.Len(t, recs, 1)
	assert.Empty(t, recs[0].Error)
}

// TestMethodFlags: gotta eval's flags and --help come from the method's spec; a given flag overrides the preset, the
// rest comes from it; another method's flag, an unknown method and an out-of-range value are refused by name.
func TestMethodFlags(t *testing.T) {
	var stdout, stderr bytes.Buffer
	require.ErrorIs(t, evalMain([]string{"--method", "memo", "--help"}, &stdout, &stderr), flag.ErrHelp)
	help := stderr.String()
	for _, want := range []string{"-preset", "seed-memo-topk: the seed's MEMO topk selection", "-weight-decay",
		"0 < prior <= 1", "-classes-1k", "\n  tpt "} {
		assert.Contains(t, help, want)
	}
	stderr.Reset()
	err := evalMain([]string{"--method", "memo", "--prompt", "a photo of a", "--limit", "1"}, &stdout, &stderr)
	require.Error(t, err)
	assert.Regexp(t, `^method memo has no flag --prompt \(method [a-z-]+ has\)$`, err.Error())
	err = evalMain([]string{"--method", "x"}, &stdout, &stderr)
	assert.EqualError(t, err, `unknown method "x" (one of `+strings.Join(method.Names(), ", ")+`)`)
	assert.Subset(t, method.Names(), []string{"c-tpt", "ensemble", "memo", "mta", "tpt", "zero", "zero-shot"})
	err = evalMain([]string{"--method", "tpt", "--select", "0"}, &stdout, &stderr)
	assert.EqualError(t, err, "method tpt: select 0: want 0 < select <= 1")

	spec, err := method.Lookup("memo")
	require.NoError(t, err)
	fs := flag.NewFlagSet("eval", flag.ContinueOnError)
	mf := method.AddFlags(fs, spec, spec.DefaultPreset)
	require.NoError(t, mf.Parse([]string{"--preset", "seed-memo", "--views", "16", "--lr", "1e-3"}))
	v, err := mf.Values()
	require.NoError(t, err)
	assert.Equal(t, 16, v.Int("views"), "a given flag wins")
	assert.Equal(t, 1e-3, v.Float("lr"))
	assert.Equal(t, 0.94, v.Float("prior"), "the rest from the preset")
	assert.Equal(t, "cut", v.String("view-kind"))
}

// TestAdaptHooks: gotta adapt runs every method with a CLIP or a ResNet; --help lists them; an unknown method is
// refused by name.
func TestAdaptHooks(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"--method", "memo", "--help"}, {"--method", "nope", "--help"}} {
		var stdout, stderr bytes.Buffer
		require.ErrorIs(t, adaptMain(args, &stdout, &stderr), flag.ErrHelp, "%v", args)
		for _, n := range []string{"memo", "tpt", "zero-shot"} {
			assert.Contains(t, stderr.String(), "\n  "+n+" ", "%v lists %s", args, n)
		}
	}
	assert.Equal(t, []string{"c-tpt", "dmn", "ensemble", "memo", "mta", "tda", "tpt", "zero", "zero-shot"}, adaptMethodNames())
	var stdout, stderr bytes.Buffer
	err := adaptMain([]string{"--method", "nope"}, &stdout, &stderr)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `unknown method "nope"`)
}
