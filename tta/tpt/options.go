package tpt

import "github.com/gotta-ml/gotta/tta/align"

// The TPT paper's setting (azshue/TPT on the ImageNet variants): the defaults of Options and of the method's spec.
const (
	// PaperPrompt is the init prompt: prompts "a photo of a {class}.".
	PaperPrompt = "a photo of a"
	// PaperViews is the number of views: the original and 63 augmented views (TPT's -b 64).
	PaperViews = 64
	// PaperSelect is the confidence-selection ratio rho.
	PaperSelect = 0.1
	// PaperSteps is the number of AdamW steps per example.
	PaperSteps = 1
	// PaperLR is AdamW's learning rate; PaperBeta1, PaperBeta2, PaperEps and PaperWeightDecay are torch's AdamW
	// defaults, which TPT keeps.
	PaperLR          = 5e-3
	PaperBeta1       = 0.9
	PaperBeta2       = 0.999
	PaperEps         = 1e-8
	PaperWeightDecay = 0.01
	// SeedAlignLR is the seed project's alignment learning rate (hard-coded there).
	SeedAlignLR = align.SeedLR
)

// Options configure a TPT adapter. Fields whose zero value cannot run (Prompt, Views, Select, LR, Beta1, Beta2, Eps,
// Scope, AlignLR) take the paper's value when zero; Steps and WeightDecay mean what they say, so the zero Options
// are CLIP zero-shot with the paper's prompt (no step) and PaperOptions is TPT.
type Options struct {
	// Prompt is the init prompt; "" means PaperPrompt (prompts "a photo of a {class}."). With "[CLS]" the class
	// goes there and the words on both sides are learnable (the seed project's "a photo of a [CLS]").
	Prompt string
	// NCtx > 0 starts from NCtx random context tokens drawn from N(0, 0.02) (TPT without ctx_init) instead of the
	// prompt's words; default 0.
	NCtx int
	// InitSeed seeds the random context init; default 0.
	InitSeed int64
	// CoOp is a file with a trained CoOp context (.npy, or .safetensors with a tensor "ctx"), [n, TextWidth]
	// (class-shared) or [C, n, TextWidth] (class-specific), placed before the class as in TPT's --load; default none.
	CoOp string
	// ClassSpecific gives every class its own copy of the context (CoOp's CSC; TPT shares one); default false.
	ClassSpecific bool
	// Views is the number of views per example the view maker makes (recorded in Config; Adapt takes whatever
	// it gets); 0 means PaperViews.
	Views int
	// Select is the confidence-selection ratio rho (floor(N*rho) lowest-entropy views); 0 means PaperSelect.
	Select float64
	// Steps is the number of AdamW steps per example (PaperSteps in the paper); 0 is none: zero-shot with the
	// prompt.
	Steps int
	// Reselect recomputes the selection at every step with the current context; default false (TPT keeps the
	// first step's selection).
	Reselect bool
	// Ensemble skips tuning and predicts the mean softmax of the selected views (the seed's "ensemble mode").
	Ensemble bool
	// LR, Beta1, Beta2, Eps are AdamW's; 0 means PaperLR, PaperBeta1, PaperBeta2, PaperEps.
	LR, Beta1, Beta2, Eps float64
	// WeightDecay is AdamW's decoupled weight decay (PaperWeightDecay in the paper); 0 is none.
	WeightDecay float64
	// FullContext runs the text tower on the full ContextLength (77) instead of the longest prompt (the cut is
	// exact; this is for checking it).
	FullContext bool
	// Scope is the absolute context scope of the learnable context; default "/tpt".
	Scope string
	// AlignSteps > 0 runs the seed project's alignment before the TPT step (tta/align): AdamW
	// steps on the image tower (except the attention pool) towards equal features of the selected views, BatchNorm
	// in training mode. Default 0 (off). Needs a float32 model; not with Ensemble.
	AlignSteps int
	// AlignLR is the alignment's AdamW learning rate; 0 means SeedAlignLR (align.SeedLR).
	AlignLR float64
	// ATFD is C-TPT's lambda: the step's loss is the marginal entropy minus ATFD times the dispersion of the class
	// text features (tta.TextFeatureDispersion), and the method's name is "c-tpt"; 0 (the default) is TPT.
	ATFD float64
}

// PaperOptions are TPT's own setting: the zero Options with PaperSteps and PaperWeightDecay.
func PaperOptions() Options {
	return Options{Steps: PaperSteps, WeightDecay: PaperWeightDecay}.withDefaults()
}

func (o Options) withDefaults() Options {
	if o.Prompt == "" {
		o.Prompt = PaperPrompt
	}
	if o.Select == 0 {
		o.Select = PaperSelect
	}
	if o.Views == 0 {
		o.Views = PaperViews
	}
	if o.LR == 0 {
		o.LR = PaperLR
	}
	if o.Beta1 == 0 {
		o.Beta1 = PaperBeta1
	}
	if o.Beta2 == 0 {
		o.Beta2 = PaperBeta2
	}
	if o.Eps == 0 {
		o.Eps = PaperEps
	}
	if o.Scope == "" {
		o.Scope = "/tpt"
	}
	if o.AlignLR == 0 {
		o.AlignLR = SeedAlignLR
	}
	return o
}
