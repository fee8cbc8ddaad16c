package memo

import (
	"github.com/gotta-ml/gotta/datasets/augment"
	"github.com/gotta-ml/gotta/tta"
)

// SeedPrior is the seed project's batch-norm prior (given directly as the mixing weight; about 16/17).
const SeedPrior = 0.94

// SeedOptimizer is the seed project's MEMO optimizer: SGD lr 5e-3, weight decay 1e-4, no momentum.
func SeedOptimizer() tta.Optimizer { return &tta.SGD{LR: 5e-3, WeightDecay: 1e-4} }

// SeedMode is one configuration of the seed project's MEMO table (seed-project.md 3.4): the adapter's options and
// the views it takes.
type SeedMode struct {
	// Name is the seed project's label, e.g. "MEMO topk selection".
	Name string
	// Options configure the adapter (ClassSubset left for the caller).
	Options Options
	// Views is the number of views including view 0 (the seed's naug); Kind their augmentation.
	Views int
	Kind  augment.Kind
}

// SeedModes returns the seed project's seven MEMO configurations, all with SGD lr 5e-3 weight decay 1e-4 and one
// step: Baseline (1 view, no adaptation), MEMO (8 cut views, prior 0.94), MEMO topk selection (64 cut views, rho 0.1),
// Dropout (8 dropout samples of the identity view, p 0.5), Dropout topk selection (64, rho 0.1), Cut ensemble (8
// cut views, mean softmax), Cut ensemble topk selection (64, rho 0.1). The no-gradient modes use plain batch norm.
func SeedModes() []SeedMode {
	sgd := SeedOptimizer
	return []SeedMode{
		{Name: "Baseline", Options: Options{Mode: CropEnsemble, Prior: 1}, Views: 1, Kind: augment.Identity},
		{Name: "MEMO", Options: Options{Prior: SeedPrior, Optimizer: sgd()}, Views: 8, Kind: augment.RandomResizedCrop},
		{Name: "MEMO topk selection", Options: Options{Prior: SeedPrior, Optimizer: sgd(), Select: 0.1}, Views: 64,
			Kind: augment.RandomResizedCrop},
		{Name: "Dropout", Options: Options{Mode: MCDropout, Prior: 1, Dropout: 0.5, Samples: 8}, Views: 1,
			Kind: augment.Identity},
		{Name: "Dropout topk selection", Options: Options{Mode: MCDropout, Prior: 1, Dropout: 0.5, Samples: 64,
			Select: 0.1}, Views: 1, Kind: augment.Identity},
		{Name: "Cut ensemble", Options: Options{Mode: CropEnsemble, Prior: 1}, Views: 8, Kind: augment.RandomResizedCrop},
		{Name: "Cut ensemble topk selection", Options: Options{Mode: CropEnsemble, Prior: 1, Select: 0.1}, Views: 64,
			Kind: augment.RandomResizedCrop},
	}
}
