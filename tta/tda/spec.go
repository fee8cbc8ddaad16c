package tda

import (
	"fmt"

	"github.com/gotta-ml/gotta/datasets/augment"
	"github.com/gotta-ml/gotta/tta"
	"github.com/gotta-ml/gotta/tta/clip"
	"github.com/gotta-ml/gotta/tta/method"
)

func init() { method.Register(Spec()) }

// DefaultTemplates is TDA's text head on ImageNet, -A and -V2 (the 7 Tip-Adapter templates); -R and -Sketch use
// CLIP's 80 (ensemble80).
const DefaultTemplates = "tip7"

// Spec is TDA's method spec ("tda"), an online method: positive and negative caches of test features carried from
// one example to the next, with the published ImageNet configuration as defaults and one preset per ImageNet
// variant's configs/*.yaml.
func Spec() *method.Spec {
	head := method.TextHeadParams()
	for i := range head {
		if head[i].Key == "templates" {
			head[i].Default = DefaultTemplates
		}
	}
	return &method.Spec{
		Name: "tda",
		Summary: "TDA (Karmanov et al. 2024): positive and negative caches of test features adjust CLIP's logits; " +
			"online, no gradient",
		Paper: "A. Karmanov, D. Guan, S. Lu, A. El Saddik, E. Xing, \"Efficient Test-Time Adaptation of " +
			"Vision-Language Models\", CVPR 2024",
		Models: []string{"clip"},
		Online: true,
		Params: append([]method.Param{
			method.Int("views", DefaultViews, "number of views: view 0 (CLIP's preprocessing), then TDA's AugMix views "+
				"(TDA: 1 on ImageNet, 64 on -A/-V2/-R/-Sketch)").AtLeast(1).AtMost(4096),
			method.Float("select", DefaultSelect, "with several views, keep the int(views*select) of lowest entropy "+
				"(TDA: 0.1)").Above(0).AtMost(1),
			method.Bool("pos", true, "positive cache on (TDA: on)"),
			method.Int("pos-shots", DefaultPosShots, "positive cache entries per class (TDA: 3)").AtLeast(1).AtMost(1000),
			method.Float("pos-alpha", DefaultPosAlpha, "positive cache weight alpha (TDA ImageNet: 2)").AtLeast(0),
			method.Float("pos-beta", DefaultPosBeta, "positive cache sharpness beta (TDA ImageNet: 5)").AtLeast(0),
			method.Bool("neg", true, "negative cache on (TDA: on)"),
			method.Int("neg-shots", DefaultNegShots, "negative cache entries per class (TDA: 2)").AtLeast(1).AtMost(1000),
			method.Float("neg-alpha", DefaultNegAlpha, "negative cache weight alpha (TDA: 0.117)").AtLeast(0),
			method.Float("neg-beta", DefaultNegBeta, "negative cache sharpness beta (TDA: 1)").AtLeast(0),
			method.Float("entropy-lower", DefaultEntropyLower, "the negative cache takes examples whose entropy / "+
				"log2(classes) is above this (TDA: 0.2)"),
			method.Float("entropy-upper", DefaultEntropyUpper, "... and below this (TDA: 0.5)"),
			method.Float("mask-lower", DefaultMaskLower, "a negative entry counts against the classes whose mean "+
				"probability is above this (TDA: 0.03)"),
			method.Float("mask-upper", DefaultMaskUpper, "... and below this (TDA: 1)"),
		}, head...),
		Presets: []method.Preset{
			{Name: "imagenet", Doc: "configs/imagenet.yaml: one view, pos alpha 2 beta 5, tip7", Set: method.Values{}},
			{Name: "imagenet-a", Doc: "configs/imagenet_a.yaml: 64 AugMix views, pos alpha 2 beta 5, tip7",
				Set: method.Values{"views": AugMixViews}},
			{Name: "imagenet-v2", Doc: "configs/imagenet_v.yaml: 64 AugMix views, pos alpha 1 beta 8, tip7",
				Set: method.Values{"views": AugMixViews, "pos-alpha": 1.0, "pos-beta": 8.0}},
			{Name: "imagenet-r", Doc: "configs/imagenet_r.yaml: 64 AugMix views, pos alpha 1 beta 8, CLIP's 80 templates",
				Set: method.Values{"views": AugMixViews, "pos-alpha": 1.0, "pos-beta": 8.0, "templates": "ensemble80"}},
			{Name: "imagenet-sketch", Doc: "configs/imagenet_s.yaml: 64 AugMix views, pos alpha 2.363 beta 7.45, " +
				"CLIP's 80 templates", Set: method.Values{"views": AugMixViews, "pos-alpha": 2.363, "pos-beta": 7.45,
				"templates": "ensemble80"}},
		},
		DefaultPreset: "imagenet",
		Build:         build,
	}
}

// build makes TDA on the environment's CLIP.
func build(env *method.Env, classes []string, v method.Values) (tta.Adapter, tta.ViewMaker, error) {
	views, sel := v.Int("views"), v.Float("select")
	if KeepCount(views, sel) < 1 {
		return nil, nil, fmt.Errorf("tda: %d views keep int(%d * %g) = 0 views; use 1 view or more", views, views, sel)
	}
	cm, err := env.CLIP()
	if err != nil {
		return nil, nil, err
	}
	templates, err := env.TextHead(v)
	if err != nil {
		return nil, nil, err
	}
	opts := Options{Select: sel,
		Positive: CacheOptions{Enabled: v.Bool("pos"), Shots: v.Int("pos-shots"), Alpha: v.Float("pos-alpha"),
			Beta: v.Float("pos-beta")},
		Negative: CacheOptions{Enabled: v.Bool("neg"), Shots: v.Int("neg-shots"), Alpha: v.Float("neg-alpha"),
			Beta: v.Float("neg-beta")},
		EntropyLower: v.Float("entropy-lower"), EntropyUpper: v.Float("entropy-upper"),
		MaskLower: v.Float("mask-lower"), MaskUpper: v.Float("mask-upper")}
	a, err := New(env.Backend, cm.Model, cm.Tokenizer, classes, templates, opts)
	if err != nil {
		return nil, nil, err
	}
	return a, NewViewMaker(cm.Model, views), nil
}

// NewViewMaker returns TDA's views for m: view 0 is CLIP's preprocessing (Resize + CenterCrop), views 1..n-1 the
// original's AugMixAugmenter(augmix=True) views: RandomResizedCrop + flip of the raw image, then the AugMix paper's
// ops at severity 1 with PIL's black fill (datasets/augmix_ops.py, as TPT's); n = 1 gives view 0 only.
func NewViewMaker(m *clip.Model, n int) *clip.ViewMaker {
	vm := clip.NewViewMaker(m, n)
	vm.Views.Kind = augment.PaperAugMix
	vm.Views.PaperAugMix.TPTFill = true
	return vm
}
