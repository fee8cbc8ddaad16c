package report

import (
	"fmt"

	"github.com/gotta-ml/gotta/datasets/augment"
	"github.com/gotta-ml/gotta/tta"
	"github.com/gotta-ml/gotta/tta/memo"
)

func init() {
	RegisterMethod("memo", []string{"views", "select", "steps", "lr", "weight_decay", "prior"}, buildMEMO)
	RegisterMethod("memo-paper", []string{"views"}, buildMEMOPaper)
	RegisterMethod("memo-ensemble", []string{"views", "select", "mode", "dropout"}, buildMEMOEnsemble)
}

// memoAdapter builds a tta/memo adapter on env's ResNet with opts (ClassSubset filled from the classes) and views of
// kind.
func memoAdapter(env *Env, classes []string, opts memo.Options, views int, kind augment.Kind) (tta.Adapter, tta.ViewMaker, error) {
	rm, err := env.ResNet()
	if err != nil {
		return nil, nil, err
	}
	if env.ClassSubset != nil {
		if opts.ClassSubset, err = env.ClassSubset(classes); err != nil {
			return nil, nil, err
		}
	}
	a, err := memo.New(env.Backend, rm.Ctx, rm.Model, opts)
	if err != nil {
		return nil, nil, err
	}
	pre := env.ResNetPreprocess
	if pre.Size == 0 {
		return nil, nil, fmt.Errorf("report: the environment has no ResNet preprocessing")
	}
	return a, memo.ViewMaker{Views: augment.Views{N: views, Kind: kind, Preprocess: pre}}, nil
}

// buildMEMO builds MEMO (tta/memo, Adapt mode) with the seed project's optimizer and views: Params views (8),
// select (rho, 1 = all views), steps (1), lr (SGD, 5e-3), weight_decay (1e-4), prior (BN prior, 0.94); random
// resized crop views.
func buildMEMO(env *Env, classes []string, p Params) (tta.Adapter, tta.ViewMaker, error) {
	opts := memo.Options{Mode: memo.Adapt, Select: p.Float("select", 1), Steps: p.Int("steps", 1),
		Prior:     p.Float("prior", memo.SeedPrior),
		Optimizer: &tta.SGD{LR: p.Float("lr", 5e-3), WeightDecay: p.Float("weight_decay", 1e-4)}}
	return memoAdapter(env, classes, opts, p.Int("views", 8), augment.RandomResizedCrop)
}

// buildMEMOPaper builds MEMO in the MEMO paper's configuration (memo.PaperOptions: SGD lr 2.5e-4, no weight decay,
// one step, all parameters, BN prior 16/17, adaptation on the augmented copies only) with its own AugMix views
// (memo.PaperViewMaker: views 1..N-1 are RandomResizedCrop + flip + the AugMix paper's ops, augment.PaperAugMix).
// Params views (65: the clean view 0 for the prediction + 64 augmented copies).
func buildMEMOPaper(env *Env, classes []string, p Params) (tta.Adapter, tta.ViewMaker, error) {
	return memoAdapter(env, classes, memo.PaperOptions(), p.Int("views", memo.PaperViews), augment.PaperAugMix)
}

// buildMEMOEnsemble builds the seed project's no-gradient ResNet ensembles (tta/memo): mode "crop" (mean softmax of
// the selected random-resized-crop views; 1 view is the plain model) or "dropout" (MC-dropout: Params dropout,
// default 0.5, on the last stage's output of the identity view, views = samples). Params views (8), select (1).
func buildMEMOEnsemble(env *Env, classes []string, p Params) (tta.Adapter, tta.ViewMaker, error) {
	switch mode := p.String("mode", "crop"); mode {
	case "crop":
		kind := augment.RandomResizedCrop
		if p.Int("views", 8) == 1 {
			kind = augment.Identity
		}
		opts := memo.Options{Mode: memo.CropEnsemble, Prior: 1, Select: p.Float("select", 1)}
		return memoAdapter(env, classes, opts, p.Int("views", 8), kind)
	case "dropout":
		opts := memo.Options{Mode: memo.MCDropout, Prior: 1, Select: p.Float("select", 1),
			Dropout: p.Float("dropout", 0.5), Samples: p.Int("views", 8)}
		return memoAdapter(env, classes, opts, 1, augment.Identity)
	default:
		return nil, nil, fmt.Errorf("report: memo-ensemble mode %q (want crop or dropout)", mode)
	}
}
