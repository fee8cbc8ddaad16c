package memo

import (
	"fmt"

	"github.com/gotta-ml/gotta/tta"
)

// Mode is what the adapter does with an example's views.
type Mode int

const (
	// Adapt is MEMO: Steps of marginal-entropy minimisation, then the prediction on view 0.
	Adapt Mode = iota
	// CropEnsemble has no gradient: the mean softmax of the selected views (the seed project's "Cut ensemble"; its
	// "Baseline" is this with 1 view).
	CropEnsemble
	// MCDropout has no gradient: dropout (Options.Dropout) on the last stage's output of view 0, Samples times
	// (tta/mcdropout), and the mean softmax of the selected samples (the seed project's "Dropout").
	MCDropout
)

// String is the method name used in records: "memo", "memo-crop-ensemble" or "memo-mc-dropout".
func (m Mode) String() string {
	switch m {
	case Adapt:
		return "memo"
	case CropEnsemble:
		return "memo-crop-ensemble"
	case MCDropout:
		return "memo-mc-dropout"
	}
	return fmt.Sprintf("memo.Mode(%d)", int(m))
}

// Params says which variables MEMO adapts.
type Params int

const (
	// AllParams adapts every trainable variable: convolutions, batch-norm affine parameters, the classifier (MEMO).
	AllParams Params = iota
	// BNAffine adapts only the batch-norm scales and offsets (as TENT does).
	BNAffine
)

// String is "all" or "bn-affine".
func (p Params) String() string {
	if p == BNAffine {
		return "bn-affine"
	}
	return "all"
}

// PaperPrior is MEMO's batch-norm prior for ResNets, N/(N+1) with N = 16.
const PaperPrior = 16.0 / 17.0

// PaperLR is MEMO's SGD learning rate for ResNet-50 on ImageNet (with the prior).
const PaperLR = 2.5e-4

// Options configure the adapter. The zero value has the MEMO paper's hyper-parameters; PaperOptions also sets
// AugmentedOnly (the paper's batch).
type Options struct {
	// Mode is Adapt (default), CropEnsemble or MCDropout.
	Mode Mode
	// Select is the confidence-selection fraction rho: the floor(N rho) (at least 1) views of lowest entropy are
	// kept, recomputed at every step on the current weights (the seed project's MEMO). 0 means 1: all views (the
	// MEMO paper).
	Select float64
	// Prior is the batch-norm prior p in (0, 1] of every forward pass (adaptation and prediction); 1 is plain
	// inference batch norm. 0 means PaperPrior (16/17) for Adapt and 1 for the no-gradient modes (the seed
	// project's ensembles). The seed project's MEMO uses 0.94. In MCDropout the trunk runs once, so with p < 1 the
	// batch statistics are those of view 0 alone (unbiased over H x W), not of N identical copies (over N x H x W):
	// a negligible difference the seed never met (its dropout runs use p = 1).
	Prior float64
	// MemberPrior is the prior of ViewLogits, used when the adapter is a member of tta/ensemble's multi-model
	// ensemble. 0 means Prior. The seed project's ensemble runs its MEMO members with 1.
	MemberPrior float64
	// Optimizer updates the adapted variables (Adapt only). nil means SGD with lr PaperLR, no weight decay, no
	// momentum (the MEMO paper); the seed project: &tta.SGD{LR: 5e-3, WeightDecay: 1e-4}; tta.NewAdamW(lr) for AdamW.
	Optimizer tta.Optimizer
	// Params says which variables adapt (default AllParams).
	Params Params
	// Steps is the number of adaptation steps (Adapt only); 0 means 1.
	Steps int
	// Dropout is MC-dropout's drop probability (MCDropout only); 0 means 0.5 (the seed project's).
	Dropout float64
	// Samples is MC-dropout's number of dropout samples (MCDropout only; the seed project's 8 or 64 identity
	// views); 0 means the number of views given to Adapt.
	Samples int
	// AugmentedOnly adapts on views 1..N-1 only (Adapt mode): the MEMO paper's batch of B augmented copies, the
	// clean image (view 0) serving only the prediction; give N = B+1 views. Default false: view 0 is one of the
	// adaptation views and a selection candidate (the seed project). Selected indices still count view 0.
	AugmentedOnly bool
	// ClassSubset restricts the logits to these classes, in this order (e.g. ImageNet-A's 200); nil: all.
	ClassSubset []int
}

// PaperOptions is the MEMO paper's configuration for ResNet-50 (zhangmarvin/memo, imagenet-exps): the zero
// Options' defaults (SGD lr 2.5e-4, no weight decay, one step, all parameters, p = 16/17, all views) with
// AugmentedOnly, for 65 views (64 augmented copies + the clean view 0: PaperViewMaker). The paper's code re-draws
// the augmented copies at every step; here the views are fixed per example (no difference for its one step).
func PaperOptions() Options { return Options{AugmentedOnly: true}.withDefaults() }

// WithDefaults returns o with every default filled in: the options New runs with.
func (o Options) WithDefaults() Options { return o.withDefaults() }

func (o Options) withDefaults() Options {
	if o.Select == 0 {
		o.Select = 1
	}
	if o.Prior == 0 {
		o.Prior = PaperPrior
		if o.Mode != Adapt {
			o.Prior = 1
		}
	}
	if o.MemberPrior == 0 {
		o.MemberPrior = o.Prior
	}
	if o.Optimizer == nil {
		o.Optimizer = &tta.SGD{LR: PaperLR}
	}
	if o.Steps == 0 {
		o.Steps = 1
	}
	if o.Dropout == 0 {
		o.Dropout = 0.5
	}
	return o
}

// Validate reports options that cannot run.
func (o Options) Validate() error {
	o = o.withDefaults()
	switch {
	case o.Mode < Adapt || o.Mode > MCDropout:
		return fmt.Errorf("memo: unknown mode %d", int(o.Mode))
	case o.Select <= 0 || o.Select > 1:
		return fmt.Errorf("memo: Select (rho) %g is outside (0, 1]", o.Select)
	case o.Prior <= 0 || o.Prior > 1 || o.MemberPrior <= 0 || o.MemberPrior > 1:
		return fmt.Errorf("memo: priors %g, %g must lie in (0, 1]", o.Prior, o.MemberPrior)
	case o.Steps < 0:
		return fmt.Errorf("memo: Steps %d is negative", o.Steps)
	case o.Dropout < 0 || o.Dropout >= 1:
		return fmt.Errorf("memo: Dropout %g is outside [0, 1)", o.Dropout)
	case o.Samples < 0:
		return fmt.Errorf("memo: Samples %d is negative", o.Samples)
	case o.Params != AllParams && o.Params != BNAffine:
		return fmt.Errorf("memo: unknown Params %d", int(o.Params))
	}
	return nil
}
