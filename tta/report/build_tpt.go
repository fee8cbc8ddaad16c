package report

import (
	"github.com/gotta-ml/gotta/tta"
	"github.com/gotta-ml/gotta/tta/tpt"
)

// Methods whose packages are not in this build yet: the rows that use them say so.
func init() {
	RegisterMethod("tpt", []string{"views", "select", "steps", "lr", "ensemble", "align_steps", "prompt"}, buildTPT)
	// Replaced by build_ensemble.go's registration when tta/ensemble is in the build (declareMissing keeps it).
	declareMissing("ensemble", "tta/ensemble (the MEMO + TPT multi-model ensemble) has not landed in this build")
}

// buildTPT builds TPT (tta/tpt) on env's CLIP. Params: views (N, default 64), select (rho, 0.1), steps (1), lr
// (AdamW, 5e-3), ensemble (mean softmax of the selected views, no tuning; false), align_steps (the seed's image
// alignment before the TPT step; 0), prompt (default env.CLIPPrompt). views 1 + select 1 + ensemble is CLIP
// zero-shot with the prompt (the seed's TPT_baseline).
func buildTPT(env *Env, classes []string, p Params) (tta.Adapter, tta.ViewMaker, error) {
	cm, err := env.CLIP()
	if err != nil {
		return nil, nil, err
	}
	prompt := p.String("prompt", env.CLIPPrompt)
	opts := tpt.Options{Prompt: prompt, Select: p.Float("select", 0.1), Steps: p.Int("steps", 1),
		LR: p.Float("lr", 0), Ensemble: p.Bool("ensemble", false), AlignSteps: p.Int("align_steps", 0),
		Scope: env.Scope("tpt")}
	if opts.Ensemble {
		opts.Steps = -1 // no tuning; tpt's -1 means 0 steps.
	}
	a, err := tpt.New(env.Backend, cm.Model, cm.Tokenizer, classes, opts)
	if err != nil {
		return nil, nil, err
	}
	return a, tpt.NewViewMaker(cm.Model, p.Int("views", 64)), nil
}
