package memo

import "github.com/gotta-ml/gotta/tta"

// SeedPrior is the seed project's batch-norm prior (given directly as the mixing weight; about 16/17).
const SeedPrior = 0.94

// SeedOptimizer is the seed project's MEMO optimizer: SGD lr 5e-3, weight decay 1e-4, no momentum.
func SeedOptimizer() tta.Optimizer { return &tta.SGD{LR: 5e-3, WeightDecay: 1e-4} }
