package main

import (
	"fmt"
	"io"
	"time"

	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/gotta-ml/gotta/datasets/augment"
	"github.com/gotta-ml/gotta/datasets/imagenet"
	"github.com/gotta-ml/gotta/tta"
	"github.com/gotta-ml/gotta/tta/backend"
	"github.com/gotta-ml/gotta/tta/memo"
	"github.com/gotta-ml/gotta/tta/resnet"
)

// benchResNets are the architectures gotta bench memo builds with random weights (torchvision's configs).
var benchResNets = map[string]func() resnet.Config{
	"resnet50":        resnet.ResNet50,
	"resnext50_32x4d": resnet.ResNeXt50x32x4d,
	"resnet18":        resnet.ResNet18,
}

// tinyResNetSize is the input side of --tiny: the last stage keeps 2 x 2 positions, so view 0 alone has batch
// statistics for MEMO's prior.
const tinyResNetSize = 64

// tinyBenchResNet shrinks a torchvision architecture so the pure-Go backend runs it in seconds: the same block type and
// the same grouped (or not) 3x3 convolutions, one block per stage, stem 8, planes 8-64, 1000 classes.
func tinyBenchResNet(c resnet.Config) resnet.Config {
	t := resnet.Config{Block: c.Block, Layers: [4]int{1, 1, 1, 1}, Groups: 1, WidthPerGroup: 64, NumClasses: 1000,
		StemWidth: 8, Planes: [4]int{8, 16, 32, 64}}
	t.Widths = t.Planes
	if c.Groups > 1 { // ResNeXt: grouped 3x3 convolutions twice as wide as the planes, as 32x4d's.
		t.Groups, t.WidthPerGroup = 2, 4
		for s := range t.Widths {
			t.Widths[s] = 2 * t.Planes[s]
		}
	}
	return t
}

// benchMemo is gotta bench memo.
func benchMemo(args []string, w io.Writer) error {
	fs := newFlags("bench memo", "[--arch resnet50|resnext50_32x4d|resnet18] [--views 64] [--iters 10] [--classes 200|1000] [--tiny]",
		`Times MEMO (Zhang, Levine, Finn, NeurIPS 2022) and the seed project's no-gradient ensembles per example on a
torchvision ResNet with random weights (built in Go from torchvision's config), on a random 500x375 image:

  views (CPU)            MEMO's views: view 0 (Resize 256, CenterCrop 224) + --views copies with MEMO's own AugMix (memo-augmix)
  MEMO adapt step        forward + backward + SGD update (lr 2.5e-4, all parameters) on the --views augmented
                         copies, batch-norm prior 16/17, marginal entropy of all of them (the MEMO paper)
  MEMO prediction        view 0 alone with the prior
  MEMO reset             restoring the adapted variables (episodic)
  crop views (CPU)       --views random-resized-crop + flip views (view 0 included), the seed's "cut"
  crop ensemble          forward of those views, no gradient, mean softmax of the 10% most confident
  MC-dropout             trunk once on view 0, dropout p 0.5 + pooling + head for --views samples, top 10%

Each row is the median ms per example over --iters examples after the first, the first example's time (which
includes compiling each executable) and images/s through the model. Then the peak memory the process reached (host
RSS, and the device's peak as PJRT reports it: n/a on pure Go). --tiny shrinks the network (same block type and grouping, one
block per stage, stem 8, planes 8-64) and the input to 64x64, so that the pure-Go backend finishes in seconds
(64 views: about 1 s per example). The full ResNet-50 on pure Go (2-core CPU): --views 8 --iters 1 took 2.6 min
and 3.7 GiB, the MEMO step 58 s; 64 views would need tens of GiB.

On a GPU (issue 6's table; compile time is in the first-example column):
  GOMLX_NO_AUTO_INSTALL=1 GOMLX_BACKEND=xla:/abs/path/xla_cuda_plugin.so gotta bench memo --arch resnet50 --views 64 --iters 20
and the same with --arch resnext50_32x4d, and --classes 1000.`)
	arch := fs.String("arch", "resnet50", "architecture: resnet50, resnext50_32x4d or resnet18 (torchvision's)")
	views := fs.Int("views", 64, "augmented views per example (MEMO: 64; the ensembles take as many views / dropout samples)")
	iters := fs.Int("iters", 10, "timed examples after the first")
	classes := fs.Int("classes", 200, "classes of the logits: 200 (ImageNet-A's subset of the 1000 outputs) or 1000")
	tiny := fs.Bool("tiny", false, "a tiny ResNet of the same block type at 64x64 (for the pure-Go backend)")
	dtype := fs.String("dtype", "f32", "compute dtype of the convolutions: f32 or bf16 (BN statistics, softmax, "+
		"entropy, loss and the adapted variables stay f32)")
	precompile := fs.Bool("precompile", true, "compile MEMO's and the crop ensemble's executables up front, "+
		"concurrently, and print that time apart (false: they compile in the first example)")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return fmt.Errorf("gotta bench memo: unexpected arguments %q", pos)
	}
	mkCfg, ok := benchResNets[*arch]
	if !ok {
		return fmt.Errorf("--arch %q: want resnet50, resnext50_32x4d or resnet18", *arch)
	}
	if *views < 2 || *iters < 0 {
		return fmt.Errorf("--views %d, --iters %d: want at least 2 views and no negative iterations", *views, *iters)
	}
	dt, err := parseDType(*dtype)
	if err != nil {
		return err
	}
	var subset []int
	switch *classes {
	case imagenet.NumSubsetClasses:
		subset = imagenet.SubsetA()
	case imagenet.NumClasses:
	default:
		return fmt.Errorf("--classes %d: want 200 (ImageNet-A's) or 1000", *classes)
	}
	cfg, pre := mkCfg(), resnet.Preprocessing()
	if *tiny {
		cfg = tinyBenchResNet(cfg)
		pre.Size, pre.Resize = tinyResNetSize, tinyResNetSize*pre.Resize/pre.Size
	}
	b, _, err := backend.New()
	if err != nil {
		return err
	}
	t0 := time.Now()
	m, err := resnet.New(cfg)
	if err != nil {
		return err
	}
	m.DType = dt
	ctx := context.New()
	if err := m.Init(ctx, 1); err != nil {
		return err
	}
	initTime := time.Since(t0)
	// The three adapters share the weights: MEMO's reset restores them before the ensembles run.
	memoOpts := memo.PaperOptions()
	memoOpts.ClassSubset = subset
	adapters := make([]*memo.Adapter, 3)
	for i, o := range []memo.Options{memoOpts,
		{Mode: memo.CropEnsemble, Select: 0.1, ClassSubset: subset},
		{Mode: memo.MCDropout, Select: 0.1, Samples: *views, ClassSubset: subset}} {
		if adapters[i], err = memo.New(b, ctx, m, o); err != nil {
			return err
		}
	}
	memoA, cropA, dropA := adapters[0], adapters[1], adapters[2]
	// MEMO's views: the clean view 0 (prediction only) and --views augmented copies (the step's batch).
	memoVM := memo.PaperViewMaker(pre) // MEMO's own AugMix (memo-augmix)
	memoVM.Views.N = *views + 1
	cropVM := memo.ViewMaker{Views: augment.Views{N: *views, Kind: augment.RandomResizedCrop, Preprocess: pre}}
	img := randomImage(500, 375)
	var compile [2]time.Duration
	if *precompile {
		k := *views + 1 // view 0 and the augmented views, as memoVM makes them
		if !memoA.Options().AugmentedOnly {
			k = *views // the step below runs on the augmented views only
		}
		if compile[0], err = memoA.Precompile(k, pre.Size); err != nil {
			return err
		}
		if compile[1], err = cropA.Precompile(*views, pre.Size); err != nil {
			return err
		}
	}

	phViews := &benchPhase{name: "views (CPU)"}
	phStep := &benchPhase{name: "MEMO adapt step (fwd+bwd+SGD)", images: *views}
	phPredict := &benchPhase{name: "MEMO prediction (view 0, prior)", images: 1}
	phReset := &benchPhase{name: "MEMO reset"}
	phMemo := &benchPhase{name: "MEMO total (views+step+prediction+reset)"}
	phCropViews := &benchPhase{name: "crop views (CPU)"}
	phCrop := &benchPhase{name: "crop ensemble (forward, no gradient)", images: *views}
	phDrop := &benchPhase{name: "MC-dropout (trunk once + heads)", images: 1}
	phases := []*benchPhase{phViews, phStep, phPredict, phReset, phMemo, phCropViews, phCrop, phDrop}
	one := func(i int) error {
		id, seed := fmt.Sprintf("bench%d", i), int64(i)
		start := time.Now()
		timed := func(p *benchPhase, f func() error) error {
			t := time.Now()
			err := f()
			p.add(i, time.Since(t))
			if err != nil {
				return fmt.Errorf("bench memo, example %d, %s: %w", i, p.name, err)
			}
			return nil
		}
		var v, cv *tta.Views
		steps := []struct {
			p *benchPhase
			f func() error
		}{
			{phViews, func() (err error) { v, err = memoVM.MakeViews(img, id, seed); return err }},
			{phStep, func() error {
				x, err := memo.Views(v.Images, 1, *views+1)
				if err != nil {
					return err
				}
				_, _, _, err = memoA.Step(x)
				return err
			}},
			{phPredict, func() error {
				x0, err := memo.View(v.Images, 0)
				if err != nil {
					return err
				}
				_, err = memoA.Logits(x0, memoA.Options().Prior)
				return err
			}},
			{phReset, memoA.Reset},
		}
		for _, s := range steps {
			if err := timed(s.p, s.f); err != nil {
				return err
			}
		}
		phMemo.add(i, time.Since(start))
		for _, s := range []struct {
			p *benchPhase
			f func() error
		}{
			{phCropViews, func() (err error) { cv, err = cropVM.MakeViews(img, id, seed); return err }},
			{phCrop, func() error { _, err := cropA.Adapt(cv); return err }},
			{phDrop, func() error { _, err := dropA.Adapt(v); return err }},
		} {
			if err := timed(s.p, s.f); err != nil {
				return err
			}
		}
		return nil
	}
	for i := 0; i <= *iters; i++ {
		if err := one(i); err != nil {
			return err
		}
	}
	name := *arch
	if *tiny {
		name += " (tiny)"
	}
	fmt.Fprintf(w, "MEMO bench: %s, %s, %d classes, %d views (+ view 0), %dx%d input, prior %.4g, optimizer %v; backend %s (%s)\n",
		name, *dtype, *classes, *views, pre.Size, pre.Size, memoA.Options().Prior,
		optimizerSummary(memoA.Options().Optimizer.Config()), b.Name(), b.Description())
	fmt.Fprintf(w, "model: %s\nrandom weights: %.0f ms\n", cfg, float64(initTime)/1e6)
	if *precompile {
		fmt.Fprintf(w, "compile up front, concurrent: MEMO step + prediction %.0f ms, crop ensemble %.0f ms "+
			"(MC-dropout compiles in its first example)\n", float64(compile[0])/1e6, float64(compile[1])/1e6)
	}
	writePhaseTable(w, phases)
	writePeakMemory(w, b)
	return nil
}

// optimizerSummary is an optimizer's Config in one line, e.g. "sgd lr 0.00025 weight_decay 0".
func optimizerSummary(c map[string]any) string {
	return fmt.Sprintf("%v lr %v weight_decay %v", c["optimizer"], c["lr"], c["weight_decay"])
}
