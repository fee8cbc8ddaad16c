package ctpt

import (
	"github.com/gotta-ml/gotta/tta"
	"github.com/gotta-ml/gotta/tta/method"
)

func init() { method.Register(Spec()) }

// The original's lambdas (scripts/test_tpt_ctpt_ds.sh and scripts/test_tpt_ctpt_fg.sh).
const (
	// NaturalShiftLambda is lambda on ImageNet-A, -V2, -R and -Sketch.
	NaturalShiftLambda = 20
	// FineGrainedLambda is lambda on the fine-grained sets and ImageNet.
	FineGrainedLambda = 50
)

// tptParams are the TPT parameters C-TPT passes through, with TPT's defaults (tta/tpt's spec checks them).
var tptParams = []string{"views", "select", "steps", "lr", "prompt"}

// Spec is C-TPT's method spec ("c-tpt").
func Spec() *method.Spec {
	return &method.Spec{
		Name:    "c-tpt",
		Summary: "C-TPT (Yoon et al. 2024): TPT minus lambda times the dispersion of the class text features (calibration)",
		Paper: "H. S. Yoon et al., \"C-TPT: Calibrated Test-Time Prompt Tuning for Vision-Language Models via Text " +
			"Feature Dispersion\", ICLR 2024",
		Models: []string{"clip"},
		Params: []method.Param{
			method.Float("lambda", NaturalShiftLambda, "weight of the text feature dispersion (ATFD) subtracted from "+
				"TPT's loss (C-TPT: 20 on natural shifts, 50 on fine-grained sets and ImageNet)").AtLeast(0).AtMost(1000),
			method.String("view-kind", "augmix", "views 1..N-1: augmix (the natural-shift scripts' --I_augmix: TPT's "+
				"AugMixAugmenter) or cut (random resized crop + flip)").OneOf("augmix", "cut"),
			method.Int("views", 64, "number of views (C-TPT: 64)").AtLeast(1).AtMost(4096),
			method.Float("select", 0.1, "confidence selection ratio (C-TPT: 0.1)").Above(0).AtMost(1),
			method.Int("steps", 1, "AdamW steps per example (C-TPT: 1)").AtLeast(1).AtMost(100),
			method.Float("lr", 5e-3, "AdamW learning rate (C-TPT: 5e-3)").Above(0).AtMost(10),
			method.String("prompt", "a photo of a", "init prompt, its words the learnable context (C-TPT: a_photo_of_a)"),
		},
		Presets: []method.Preset{
			{Name: "natural", Doc: "ImageNet-A, -V2, -R, -Sketch: lambda 20, AugMix views (--I_augmix)", Set: method.Values{}},
			{Name: "fine-grained", Doc: "the fine-grained sets: lambda 50, AugMix views",
				Set: method.Values{"lambda": float64(FineGrainedLambda)}},
			{Name: "imagenet", Doc: "ImageNet: lambda 50, crops only", Set: method.Values{
				"lambda": float64(FineGrainedLambda), "view-kind": "cut"}},
		},
		DefaultPreset: "natural",
		Build:         build,
	}
}

// build makes TPT with C-TPT's loss through the registry (with lambda 0 it is TPT, and its records say "tpt").
func build(env *method.Env, classes []string, v method.Values) (tta.Adapter, tta.ViewMaker, error) {
	over := method.Values{"atfd-lambda": v.Float("lambda"), "view-kind": v.String("view-kind")}
	for _, k := range tptParams {
		over[k] = v[k]
	}
	a, vm, _, err := method.Build(env, "tpt", "paper", over, classes)
	return a, vm, err
}
