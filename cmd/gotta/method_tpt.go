package main

import (
	"flag"
	"fmt"

	"github.com/gotta-ml/gotta/datasets/augment"
	"github.com/gotta-ml/gotta/tta"
	"github.com/gotta-ml/gotta/tta/tpt"
)

func init() {
	registerMethod(&method{name: "tpt", summary: "test-time prompt tuning of CLIP (Shu et al. 2022); --ensemble: mean softmax of the selected views",
		addFlags: addTPTFlags, build: buildTPT, adapt: adaptCLIP})
}

// tptDefaultPrompt is TPT's init prompt.
const tptDefaultPrompt = "a photo of a"

// tptFlags are TPT's options as flags.
type tptFlags struct {
	views                          *int
	steps                          int
	select_                        float64
	lr, beta1, beta2, eps, wd      float64
	prompt, coop                   string
	nctx, alignSteps               int
	alignLR                        float64
	initSeed                       int64
	csc, reselect, ensemble, full7 bool
	deviceViews                    bool
	viewKind                       string
}

func addTPTFlags(fs *flag.FlagSet) any {
	f := &tptFlags{}
	f.views = fs.Int("views", 64, "number of views: view 0 (CLIP's base preprocessing) + random resized crops with flips (TPT: 64)")
	fs.Float64Var(&f.select_, "select", 0.1, "confidence selection: keep the floor(views*select) lowest-entropy views (TPT: 0.1)")
	fs.IntVar(&f.steps, "steps", 1, "AdamW steps per example (TPT: 1; 0 = no tuning, zero-shot with the prompt)")
	fs.StringVar(&f.prompt, "prompt", tptDefaultPrompt, `init prompt: its words are the learnable context; prompts are "PROMPT {class}."; with [CLS] inside, the class goes there and the words on both sides are learnable (the seed's split context); the embedded CLIP's default: "`+embeddedPrompt+`"`)
	fs.IntVar(&f.nctx, "n-ctx", 0, "start from this many random N(0, 0.02) context tokens instead of the prompt's words (0 = off)")
	fs.Int64Var(&f.initSeed, "init-seed", 0, "seed of the random context init (--n-ctx)")
	fs.StringVar(&f.coop, "coop", "", "CoOp context file (.npy, or .safetensors with tensor ctx) [n, width] or [classes, n, width], placed before the class")
	fs.BoolVar(&f.csc, "class-specific", false, "class-specific context (each class its own copy; TPT shares one)")
	fs.BoolVar(&f.reselect, "reselect", false, "recompute the confidence selection at every step (TPT keeps the first step's)")
	fs.BoolVar(&f.ensemble, "ensemble", false, "no tuning: predict the mean softmax of the selected views (method name tpt-ensemble)")
	fs.Float64Var(&f.lr, "lr", 5e-3, "AdamW learning rate")
	fs.Float64Var(&f.beta1, "beta1", 0.9, "AdamW beta1")
	fs.Float64Var(&f.beta2, "beta2", 0.999, "AdamW beta2")
	fs.Float64Var(&f.eps, "eps", 1e-8, "AdamW epsilon")
	fs.Float64Var(&f.wd, "weight-decay", 0.01, "AdamW decoupled weight decay (torch's default)")
	fs.IntVar(&f.alignSteps, "align-steps", 0, "the seed project's alignment: AdamW steps on the image tower (not the attention pool) towards equal features of the selected views, BatchNorm in training mode, before the TPT step (0 = off; needs --dtype f32)")
	fs.Float64Var(&f.alignLR, "align-lr", 1e-4, "the alignment's AdamW learning rate")
	fs.StringVar(&f.viewKind, "view-kind", "cut", "views 1..N-1: cut (random resized crop + flip: TPT on the ImageNet sets) or augmix (TPT's AugMixAugmenter with augmix=True, its fine-grained sets and C-TPT's --I_augmix: the crop, then the AugMix paper's ops at severity 1, black fill)")
	fs.BoolVar(&f.deviceViews, "device-views", false, "make the views on the device (GOMLX backend) from the uint8 image padded to a size bucket, bit-exact with the host's PIL views; only the crop regions are drawn on the host")
	fs.BoolVar(&f.full7, "full-context", false, "run the text tower on all 77 positions instead of the longest prompt (exact either way; slower)")
	return f
}

func buildTPT(env *methodEnv, flags any) (tta.Adapter, tta.ViewMaker, error) {
	a, err := buildTPTAdapter(env, flags.(*tptFlags))
	if err != nil {
		return nil, nil, err
	}
	f := flags.(*tptFlags)
	m, _ := env.CLIP()
	vm := tpt.NewViewMaker(m, *f.views)
	vm.OnDevice = f.deviceViews
	switch f.viewKind {
	case "cut":
	case "augmix":
		if f.deviceViews {
			return nil, nil, fmt.Errorf("--view-kind augmix has no device path (--device-views: cut only)")
		}
		// TPT's AugMixAugmenter with augmix=True: the AugMix paper's ops at severity 1 on the random resized
		// crop, PIL's black fill, m weighting the crop.
		vm.Views.Kind = augment.PaperAugMix
		vm.Views.PaperAugMix.TPTFill = true
	default:
		return nil, nil, fmt.Errorf("--view-kind %q: want cut or augmix", f.viewKind)
	}
	return a, vm, nil
}

// buildTPTAdapter is buildTPT returning the concrete adapter (gotta adapt reads its trace).
func buildTPTAdapter(env *methodEnv, f *tptFlags) (*tpt.Adapter, error) {
	m, err := env.CLIP()
	if err != nil {
		return nil, err
	}
	tok, err := env.Tokenizer()
	if err != nil {
		return nil, err
	}
	steps := f.steps
	if steps == 0 {
		steps = -1 // tpt.Options: -1 means no steps
	}
	wd := f.wd
	if wd == 0 {
		wd = -1
	}
	return tpt.New(env.Backend, m, tok, env.Classes, tpt.Options{Views: *f.views, Prompt: env.prompt(f.prompt, tptDefaultPrompt), NCtx: f.nctx, InitSeed: f.initSeed,
		CoOp: f.coop, ClassSpecific: f.csc, Select: f.select_, Steps: steps, Reselect: f.reselect,
		Ensemble: f.ensemble, LR: f.lr, Beta1: f.beta1, Beta2: f.beta2, Eps: f.eps, WeightDecay: wd,
		FullContext: f.full7, AlignSteps: f.alignSteps, AlignLR: f.alignLR})
}
