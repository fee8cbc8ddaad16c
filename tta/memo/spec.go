package memo

import (
	"fmt"

	"github.com/gotta-ml/gotta/datasets/augment"
	"github.com/gotta-ml/gotta/tta"
	"github.com/gotta-ml/gotta/tta/method"
	"github.com/gotta-ml/gotta/tta/viewens"
)

func init() { method.Register(Spec()) }

// Spec is MEMO's method spec ("memo"): MEMO and the seed project's no-gradient ResNet ensembles (crop ensemble,
// MC-dropout) on the environment's ResNet, with the MEMO paper's configuration and the seed project's seven rows
// (Baseline, MEMO, MEMO topk, Dropout, Dropout topk, Cut ensemble, Cut ensemble topk) as presets.
func Spec() *method.Spec {
	seedMEMO := func(views int, sel float64) method.Values {
		return method.Values{"views": views, "view-kind": "cut", "select": sel, "prior": SeedPrior,
			"lr": 5e-3, "weight-decay": 1e-4}
	}
	noGrad := func(mode string, views int, kind string, sel float64) method.Values {
		v := method.Values{"mode": mode, "views": views, "select": sel, "prior": 1.0}
		if kind != "" {
			v["view-kind"] = kind
		}
		return v
	}
	return &method.Spec{
		Name:    "memo",
		Summary: "MEMO (Zhang et al. 2022) on a torchvision ResNet; --mode crop-ensemble / mc-dropout: no-gradient ensembles",
		Paper: "M. Zhang, S. Levine, C. Finn, \"MEMO: Test Time Robustness via Adaptation and Augmentation\", " +
			"NeurIPS 2022",
		Models: []string{"resnet"},
		Params: []method.Param{
			method.String("mode", "memo", "memo (entropy minimisation), crop-ensemble (mean softmax of the selected views) "+
				"or mc-dropout (dropout samples of view 0)").OneOf("memo", "crop-ensemble", "mc-dropout"),
			method.Int("views", 64, "number of views including view 0 (--preset paper: 65, 64 augmented copies + view 0); "+
				"mc-dropout: the number of dropout samples of view 0").AtLeast(1).AtMost(4096),
			method.String("view-kind", "memo-augmix", "augmentation of views 1..N-1: memo-augmix (MEMO's own: random resized "+
				"crop + flip, then the AugMix paper's PIL ops and mixing), crop+augmix (the same order with torchvision's "+
				"AugMix), augmix (the seed's), cut (random resized crop + flip, the seed's reported runs) or identity").
				OneOf("memo-augmix", "crop+augmix", "augmix", "cut", "identity"),
			method.Float("select", 1, "confidence selection: keep the floor(views*select) lowest-entropy views, recomputed "+
				"every step (the seed: 0.1)").Above(0).AtMost(1),
			method.Float("prior", PaperPrior, "batch-norm prior p = N/(N+1) of every forward pass; 1 is plain batch norm "+
				"(the seed: 0.94 for MEMO, 1 for its ensembles)").Above(0).AtMost(1),
			method.Float("member-prior", 1, "batch-norm prior when the model is a member of the multi-model ensemble "+
				"(the seed's: 1)").Above(0).AtMost(1),
			method.String("optimizer", "sgd", "sgd (no momentum) or adamw").OneOf("sgd", "adamw"),
			method.Float("lr", PaperLR, "learning rate (the seed: 5e-3)").Above(0).AtMost(10),
			method.Float("weight-decay", 0, "weight decay: L2 for sgd, decoupled for adamw (the seed: 1e-4)").
				AtLeast(0).AtMost(10),
			method.Int("steps", 1, "adaptation steps per example (mode memo)").AtLeast(1).AtMost(1000),
			method.String("params", "all", "adapted variables: all or bn-affine").OneOf("all", "bn-affine"),
			method.Float("dropout", 0.5, "mc-dropout drop probability").Above(0).Below(1),
			method.Bool("augmented-only", false, "adapt on views 1..N-1 only, view 0 (clean) for the prediction only "+
				"(the MEMO paper's batch, set by --preset paper with --views 65)"),
			method.Int("resnet", 0, "which ResNet of the environment: the i-th --model resnet, 0-based (ensemble "+
				"members take 0, 1, ...)").AtLeast(0).AtMost(63),
		},
		Presets: []method.Preset{
			{Name: "paper", Doc: "the MEMO paper (ResNet-50): 64 MEMO AugMix copies + the clean view 0 for the prediction, " +
				"SGD lr 2.5e-4, prior 16/17, all views",
				Set: method.Values{"views": PaperViews, "augmented-only": true}},
			{Name: "seed-baseline", Doc: "the seed's Baseline: view 0 alone, no adaptation, plain batch norm",
				Set: noGrad("crop-ensemble", 1, "identity", 1)},
			{Name: "seed-memo", Doc: "the seed's MEMO: 8 cut views, prior 0.94, SGD lr 5e-3 wd 1e-4",
				Set: seedMEMO(8, 1)},
			{Name: "seed-memo-topk", Doc: "the seed's MEMO topk selection: 64 cut views, rho 0.1, prior 0.94, SGD lr 5e-3 wd 1e-4",
				Set: seedMEMO(64, 0.1)},
			{Name: "seed-dropout", Doc: "the seed's Dropout: 8 dropout samples (p 0.5) of view 0, plain batch norm",
				Set: noGrad("mc-dropout", 8, "", 1)},
			{Name: "seed-dropout-topk", Doc: "the seed's Dropout topk selection: 64 samples, rho 0.1",
				Set: noGrad("mc-dropout", 64, "", 0.1)},
			{Name: "seed-cut-ensemble", Doc: "the seed's Cut ensemble: mean softmax of 8 cut views, plain batch norm",
				Set: noGrad("crop-ensemble", 8, "cut", 1)},
			{Name: "seed-cut-ensemble-topk", Doc: "the seed's Cut ensemble topk selection: 64 cut views, rho 0.1",
				Set: noGrad("crop-ensemble", 64, "cut", 0.1)},
		},
		DefaultPreset: "paper",
		Build:         build,
	}
}

// specOptions turns resolved values into the adapter's options (without ClassSubset) and its views (without
// Preprocess): mc-dropout takes view 0 alone, its views value being the number of samples.
func specOptions(v method.Values) (Options, augment.Views, error) {
	var o Options
	switch v.String("mode") {
	case "memo":
		o.Mode = Adapt
	case "crop-ensemble":
		o.Mode = CropEnsemble
	case "mc-dropout":
		o.Mode = MCDropout
	}
	if v.String("params") == "bn-affine" {
		o.Params = BNAffine
	}
	switch v.String("optimizer") {
	case "sgd":
		o.Optimizer = &tta.SGD{LR: v.Float("lr"), WeightDecay: v.Float("weight-decay")}
	case "adamw":
		a := tta.NewAdamW(v.Float("lr"))
		a.WeightDecay = v.Float("weight-decay")
		o.Optimizer = a
	}
	o.Select, o.Prior, o.MemberPrior, o.Steps = v.Float("select"), v.Float("prior"), v.Float("member-prior"), v.Int("steps")
	o.Dropout, o.AugmentedOnly = v.Float("dropout"), v.Bool("augmented-only")
	kind, err := augment.ParseKind(v.String("view-kind"))
	if err != nil {
		return o, augment.Views{}, err
	}
	views := augment.Views{N: v.Int("views"), Kind: kind}
	if o.Mode == MCDropout {
		o.Samples = views.N
		views.N, views.Kind = 1, augment.Identity
	}
	if o.Mode == Adapt && o.AugmentedOnly && views.N < 2 {
		return o, views, fmt.Errorf("augmented-only needs at least 2 views (view 0 + copies), got %d", views.N)
	}
	return o, views, o.Validate()
}

// build makes the adapter on the environment's ResNet number v["resnet"] and its view maker.
func build(env *method.Env, classes []string, v method.Values) (tta.Adapter, tta.ViewMaker, error) {
	opts, views, err := specOptions(v)
	if err != nil {
		return nil, nil, err
	}
	rm, err := env.ResNet(v.Int("resnet"))
	if err != nil {
		return nil, nil, err
	}
	if opts.ClassSubset, err = env.ClassSubset(classes, rm.Model.Config.NumClasses); err != nil {
		return nil, nil, err
	}
	a, err := New(env.Backend, rm.Ctx, rm.Model, opts)
	if err != nil {
		return nil, nil, err
	}
	views.Preprocess = env.ResNetPreprocess()
	vm := ViewMaker{Views: views}
	if opts.Mode != Adapt { // the no-gradient ensembles: the view ensemble of the ResNet's (or dropout samples') logits
		return viewens.New(a.Name(), a, a.Options().Select), vm, nil
	}
	return a, vm, nil
}
