package main

import (
	"flag"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/gotta-ml/gotta/datasets/augment"
	"github.com/gotta-ml/gotta/datasets/imagenet"
	"github.com/gotta-ml/gotta/tta"
	"github.com/gotta-ml/gotta/tta/embedded"
	"github.com/gotta-ml/gotta/tta/memo"
	"github.com/gotta-ml/gotta/tta/resnet"
)

func init() {
	registerMethod(&method{name: "memo",
		summary:  "MEMO (Zhang et al. 2022) on a torchvision ResNet; --mode crop-ensemble / mc-dropout: no-gradient ensembles",
		addFlags: addMemoFlags, build: buildMemo, adapt: adaptMemoMain})
}

// memoFlags are MEMO's options as flags.
type memoFlags struct {
	mode, kind, optimizer, params, classes1k string
	views, steps, samples                    int
	select_, prior, memberPrior, lr, wd      float64
	dropout                                  float64
	augmentedOnly                            bool

	fs      *flag.FlagSet // to tell the flags given from the defaults (nil: no preset)
	preset  string
	applied bool
}

// memoPreset sets the flags of one configuration; flags given on the command line win.
type memoPreset struct {
	summary string
	set     map[string]string
}

// memoPresets are the MEMO paper's configuration and the seed project's seven MEMO rows (memo.SeedModes,
// seed-project.md 3.4), as flag values.
var memoPresets = map[string]memoPreset{
	"paper": {"the MEMO paper (ResNet-50): 64 AugMix copies (memo-augmix) + the clean view 0 for the prediction, SGD lr 2.5e-4, prior 16/17, all views",
		map[string]string{"views": "65", "augmented-only": "true", "view-kind": "memo-augmix"}},
	"none": {"the flags' own defaults, nothing set", map[string]string{}},
	"seed-baseline": {"the seed's Baseline: view 0 alone, no adaptation, plain batch norm",
		map[string]string{"mode": "crop-ensemble", "views": "1", "view-kind": "identity", "prior": "1"}},
	"seed-memo": {"the seed's MEMO: 8 cut views, prior 0.94, SGD lr 5e-3 wd 1e-4",
		map[string]string{"views": "8", "view-kind": "cut", "prior": "0.94", "lr": "5e-3", "wd": "1e-4"}},
	"seed-memo-topk": {"the seed's MEMO topk selection: 64 cut views, rho 0.1, prior 0.94, SGD lr 5e-3 wd 1e-4",
		map[string]string{"views": "64", "view-kind": "cut", "select": "0.1", "prior": "0.94", "lr": "5e-3", "wd": "1e-4"}},
	"seed-dropout": {"the seed's Dropout: 8 dropout samples (p 0.5) of view 0, plain batch norm",
		map[string]string{"mode": "mc-dropout", "views": "1", "samples": "8", "dropout": "0.5", "prior": "1"}},
	"seed-dropout-topk": {"the seed's Dropout topk selection: 64 samples, rho 0.1",
		map[string]string{"mode": "mc-dropout", "views": "1", "samples": "64", "dropout": "0.5", "prior": "1", "select": "0.1"}},
	"seed-cut-ensemble": {"the seed's Cut ensemble: mean softmax of 8 cut views, plain batch norm",
		map[string]string{"mode": "crop-ensemble", "views": "8", "view-kind": "cut", "prior": "1"}},
	"seed-cut-ensemble-topk": {"the seed's Cut ensemble topk selection: 64 cut views, rho 0.1",
		map[string]string{"mode": "crop-ensemble", "views": "64", "view-kind": "cut", "prior": "1", "select": "0.1"}},
}

// memoPresetHelp lists the presets for --preset's help.
func memoPresetHelp() string {
	names := make([]string, 0, len(memoPresets))
	for n := range memoPresets {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		fmt.Fprintf(&b, "; %s: %s", n, memoPresets[n].summary)
	}
	return b.String()
}

// applyPreset sets the flags the command line did not give from --preset (once).
func (f *memoFlags) applyPreset() error {
	if f.fs == nil || f.applied {
		return nil
	}
	f.applied = true
	p, ok := memoPresets[f.preset]
	if !ok {
		return fmt.Errorf("--preset %q: unknown (%s)", f.preset, strings.TrimPrefix(memoPresetHelp(), "; "))
	}
	given := map[string]bool{}
	f.fs.Visit(func(fl *flag.Flag) { given[fl.Name] = true })
	for name, v := range p.set {
		if given[name] {
			continue
		}
		if err := f.fs.Set(name, v); err != nil {
			return fmt.Errorf("--preset %s: --%s %s: %w", f.preset, name, v, err)
		}
	}
	return nil
}

func addMemoFlags(fs *flag.FlagSet) any {
	f := &memoFlags{fs: fs}
	preset := "paper"
	if fs.Name() == "adapt" { // gotta adapt: the given views and flags say it all (e.g. a reference's configuration)
		preset = "none"
	}
	fs.StringVar(&f.preset, "preset", preset, "a configuration that sets the flags not given"+memoPresetHelp())
	fs.StringVar(&f.mode, "mode", "memo", "memo (entropy minimisation), crop-ensemble (mean softmax of the selected views) or mc-dropout (dropout samples of view 0)")
	fs.IntVar(&f.views, "views", 64, "number of views including view 0 (--preset paper: 65, 64 augmented copies + view 0; the seed: 8 or 64); mc-dropout: the number of dropout samples unless --samples")
	fs.StringVar(&f.kind, "view-kind", "memo-augmix", "augmentation of views 1..N-1: memo-augmix (MEMO's own: random resized crop + flip, then the AugMix paper's PIL ops and mixing), crop+augmix (the same order with torchvision's AugMix), augmix (the seed's), cut (random resized crop + flip, the seed's reported runs) or identity")
	fs.Float64Var(&f.select_, "select", 1, "confidence selection: keep the floor(views*select) lowest-entropy views, recomputed every step (MEMO: 1; the seed: 0.1)")
	fs.Float64Var(&f.prior, "prior", 0, "batch-norm prior p = N/(N+1) (0 = 16/17 for memo, 1 for the ensembles; the seed: 0.94)")
	fs.Float64Var(&f.memberPrior, "member-prior", 0, "batch-norm prior when the model is an ensemble member (0 = --prior)")
	fs.StringVar(&f.optimizer, "optimizer", "sgd", "sgd (no momentum) or adamw")
	fs.Float64Var(&f.lr, "lr", memo.PaperLR, "learning rate (MEMO ResNet-50: 2.5e-4; the seed: 5e-3)")
	fs.Float64Var(&f.wd, "wd", 0, "weight decay: L2 for sgd, decoupled for adamw (the seed: 1e-4)")
	fs.IntVar(&f.steps, "steps", 1, "adaptation steps per example")
	fs.StringVar(&f.params, "params", "all", "adapted variables: all or bn-affine")
	fs.Float64Var(&f.dropout, "dropout", 0.5, "mc-dropout drop probability")
	fs.IntVar(&f.samples, "samples", 0, "mc-dropout samples (0 = --views)")
	fs.BoolVar(&f.augmentedOnly, "augmented-only", false, "adapt on views 1..N-1 only, view 0 (clean) for the prediction only (the MEMO paper's batch, set by --preset paper with --views 65)")
	fs.StringVar(&f.classes1k, "classes-1k", "auto", "which of the model's outputs are the dataset's classes: auto (all when the counts match, else ImageNet-A's or -R's 200 by name), a, r or all")
	return f
}

// memoOptions turns the flags into memo.Options (without ClassSubset).
func (f *memoFlags) options() (memo.Options, error) {
	var o memo.Options
	if err := f.applyPreset(); err != nil {
		return o, err
	}
	switch f.mode {
	case "memo":
		o.Mode = memo.Adapt
	case "crop-ensemble":
		o.Mode = memo.CropEnsemble
	case "mc-dropout":
		o.Mode = memo.MCDropout
	default:
		return o, fmt.Errorf("--mode %q: want memo, crop-ensemble or mc-dropout", f.mode)
	}
	switch f.params {
	case "all":
		o.Params = memo.AllParams
	case "bn-affine":
		o.Params = memo.BNAffine
	default:
		return o, fmt.Errorf("--params %q: want all or bn-affine", f.params)
	}
	switch f.optimizer {
	case "sgd":
		o.Optimizer = &tta.SGD{LR: f.lr, WeightDecay: f.wd}
	case "adamw":
		a := tta.NewAdamW(f.lr)
		a.WeightDecay = f.wd
		o.Optimizer = a
	default:
		return o, fmt.Errorf("--optimizer %q: want sgd or adamw", f.optimizer)
	}
	if f.steps < 1 {
		return o, fmt.Errorf("--steps %d: want at least 1 (use --mode crop-ensemble for no adaptation)", f.steps)
	}
	o.Select, o.Prior, o.MemberPrior, o.Steps = f.select_, f.prior, f.memberPrior, f.steps
	o.Dropout, o.Samples, o.AugmentedOnly = f.dropout, f.samples, f.augmentedOnly
	if o.Mode == memo.MCDropout && o.Samples == 0 {
		o.Samples = f.views
	}
	return o, o.Validate()
}

// viewMaker returns the views the mode takes (mc-dropout: view 0 only).
func (f *memoFlags) viewMaker() (memo.ViewMaker, error) {
	if err := f.applyPreset(); err != nil {
		return memo.ViewMaker{}, err
	}
	kind, err := augment.ParseKind(f.kind)
	if err != nil {
		return memo.ViewMaker{}, fmt.Errorf("--view-kind: %w", err)
	}
	n := f.views
	if f.mode == "mc-dropout" {
		n, kind = 1, augment.Identity
	}
	if n < 1 {
		return memo.ViewMaker{}, fmt.Errorf("--views %d: want at least 1", f.views)
	}
	return memo.ViewMaker{Views: augment.Views{N: n, Kind: kind, Preprocess: resnet.Preprocessing()}}, nil
}

// loadResNet loads the --model resnet[:ARCH]=FILE number i (counting resnet models only) into a fresh context.
func (e *methodEnv) loadResNet(i int) (*context.Context, *resnet.Model, modelSpec, error) {
	var specs []modelSpec
	for _, s := range e.Models {
		if s.Family == "resnet" {
			specs = append(specs, s)
		}
	}
	if len(specs) == 0 && e.Embedded {
		ctx := context.New()
		m, err := embedded.LoadResNet(ctx)
		if err != nil {
			return nil, nil, modelSpec{}, fmt.Errorf("the embedded ResNet: %w", err)
		}
		return ctx, m, modelSpec{Family: "resnet", Arch: "embedded"}, nil
	}
	if i >= len(specs) {
		return nil, nil, modelSpec{}, fmt.Errorf("this method needs --model resnet[:ARCH]=FILE (%d given, need %d)",
			len(specs), i+1)
	}
	ctx := context.New()
	m, err := resnet.Load(ctx, specs[i].Path)
	if err != nil {
		return nil, nil, specs[i], err
	}
	return ctx, m, specs[i], nil
}

// classSubset maps the dataset's classes (names, in label order) to the model's outputs: nil when they are all of
// them in order; ImageNet-A's or -R's 200 classes when the names are theirs.
func classSubset(which string, classes []string, numOutputs int) ([]int, error) {
	names := func(idx []int) []string {
		out := make([]string, len(idx))
		for i, c := range idx {
			out[i] = imagenet.ClassName(c)
		}
		return out
	}
	switch which {
	case "all":
		return nil, nil
	case "a":
		return imagenet.SubsetA(), nil
	case "r":
		return imagenet.SubsetR(), nil
	case "auto":
	default:
		return nil, fmt.Errorf("--classes-1k %q: want auto, a, r or all", which)
	}
	if len(classes) == 0 || len(classes) == numOutputs {
		return nil, nil
	}
	if numOutputs == imagenet.NumClasses {
		for _, idx := range [][]int{imagenet.SubsetA(), imagenet.SubsetR()} {
			if slices.Equal(names(idx), classes) {
				return idx, nil
			}
		}
	}
	return nil, fmt.Errorf("the dataset has %d classes (%s, ...) and the model %d outputs: give --classes-1k a, r or all",
		len(classes), strings.Join(classes[:min(3, len(classes))], ", "), numOutputs)
}

func buildMemo(env *methodEnv, flags any) (tta.Adapter, tta.ViewMaker, error) {
	f := flags.(*memoFlags)
	a, err := buildMemoAdapter(env, f, 0)
	if err != nil {
		return nil, nil, err
	}
	vm, err := f.viewMaker()
	if err != nil {
		return nil, nil, err
	}
	vm.Views.Preprocess = env.resnetPreprocess()
	return a, vm, nil
}

// buildMemoAdapter builds the MEMO adapter of the i-th resnet --model.
func buildMemoAdapter(env *methodEnv, f *memoFlags, i int) (*memo.Adapter, error) {
	opts, err := f.options()
	if err != nil {
		return nil, err
	}
	ctx, m, _, err := env.loadResNet(i)
	if err != nil {
		return nil, err
	}
	if opts.ClassSubset, err = classSubset(f.classes1k, env.Classes, m.Config.NumClasses); err != nil {
		return nil, err
	}
	return memo.New(env.Backend, ctx, m, opts)
}
