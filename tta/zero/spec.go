package zero

import (
	"github.com/gotta-ml/gotta/tta"
	"github.com/gotta-ml/gotta/tta/method"
)

func init() { method.Register(Spec()) }

// Spec is ZERO's method spec ("zero"): confidence filtering of the views, then a zero-temperature vote, with the
// original's defaults (64 views, gamma 0.3) and text heads (one prompt; "+Ensemble" is --templates tip7).
func Spec() *method.Spec {
	return &method.Spec{
		Name:    "zero",
		Summary: "ZERO (Farina et al. 2024): keep the int(N*gamma) most confident views, argmax of their one-hot vote; no gradient",
		Paper: "M. Farina et al., \"Frustratingly Easy Test-Time Adaptation of Vision-Language Models\", " +
			"NeurIPS 2024",
		Models: []string{"clip"},
		Params: append([]method.Param{
			method.Int("views", DefaultViews, "number of views: view 0 (CLIP's base preprocessing) + random resized "+
				"crops with flips (ZERO: 64)").AtLeast(1).AtMost(4096),
			method.Float("gamma", DefaultGamma, "confidence filter: keep the int(views*gamma) lowest-entropy views "+
				"(ZERO: 0.3)").Above(0).AtMost(1),
		}, method.TextHeadParams()...),
		Presets: []method.Preset{
			{Name: "paper", Doc: "ZERO with one prompt (the paper's defaults)", Set: method.Values{}},
			{Name: "ensemble", Doc: "ZERO+Ensemble: the 7 Tip-Adapter templates", Set: method.Values{"templates": "tip7"}},
		},
		DefaultPreset: "paper",
		Build:         build,
	}
}

// build makes ZERO on the environment's CLIP.
func build(env *method.Env, classes []string, v method.Values) (tta.Adapter, tta.ViewMaker, error) {
	cm, err := env.CLIP()
	if err != nil {
		return nil, nil, err
	}
	templates, err := env.TextHead(v)
	if err != nil {
		return nil, nil, err
	}
	a, err := New(env.Backend, cm.Model, cm.Tokenizer, classes, templates, Options{Gamma: v.Float("gamma")})
	if err != nil {
		return nil, nil, err
	}
	return a, NewViewMaker(cm.Model, v.Int("views")), nil
}
