package mta

import (
	"github.com/gotta-ml/gotta/tta"
	"github.com/gotta-ml/gotta/tta/method"
)

func init() { method.Register(Spec()) }

// Spec is MTA's method spec ("mta"): the MeanShift mode of the views' image features with inlierness scores, with
// the original's defaults (64 views, lambda_y 0.2, lambda_q 4, 5 iterations).
func Spec() *method.Spec {
	return &method.Spec{
		Name:    "mta",
		Summary: "MTA (Zanella & Ben Ayed 2024): MeanShift mode of the views' image features with inlierness scores; no gradient",
		Paper: "M. Zanella, I. Ben Ayed, \"On the test-time zero-shot generalization of vision-language models: Do " +
			"we really need prompt learning?\", CVPR 2024",
		Models: []string{"clip"},
		Params: append([]method.Param{
			method.Int("views", DefaultViews, "number of views: view 0 (CLIP's base preprocessing) + random resized "+
				"crops with flips (MTA: 64; at least 5 for the bandwidth's nearest neighbours)").AtLeast(5).AtMost(4096),
			method.Float("lambda-y", DefaultLambdaY, "inlierness entropy weight lambda_y (MTA: 0.2)").Above(0),
			method.Float("lambda-q", DefaultLambdaQ, "inlierness affinity weight lambda_q (MTA: 4)").Above(0),
			method.Int("max-iter", DefaultMaxIter, "outer iterations, and the cap of each inner loop (MTA: 5)").
				AtLeast(1).AtMost(1000),
		}, method.TextHeadParams()...),
		Presets: []method.Preset{
			{Name: "paper", Doc: "MTA with one prompt (the paper's defaults)", Set: method.Values{}},
			{Name: "ensemble", Doc: "MTA with the 7 Tip-Adapter templates", Set: method.Values{"templates": "tip7"}},
		},
		DefaultPreset: "paper",
		Build:         build,
	}
}

// build makes MTA on the environment's CLIP.
func build(env *method.Env, classes []string, v method.Values) (tta.Adapter, tta.ViewMaker, error) {
	cm, err := env.CLIP()
	if err != nil {
		return nil, nil, err
	}
	templates, err := env.TextHead(v)
	if err != nil {
		return nil, nil, err
	}
	a, err := New(env.Backend, cm.Model, cm.Tokenizer, classes, templates, Options{LambdaY: v.Float("lambda-y"),
		LambdaQ: v.Float("lambda-q"), MaxIter: v.Int("max-iter")})
	if err != nil {
		return nil, nil, err
	}
	return a, NewViewMaker(cm.Model, v.Int("views")), nil
}
