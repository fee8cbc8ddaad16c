package tpt

import (
	"fmt"
	"strings"

	"github.com/gotta-ml/gotta/datasets/augment"
	"github.com/gotta-ml/gotta/tta"
	"github.com/gotta-ml/gotta/tta/method"
	"github.com/gotta-ml/gotta/tta/viewens"
)

func init() { method.Register(Spec()) }

// Spec is TPT's method spec ("tpt"): the paper's defaults, its ensemble mode and the seed project's alignment as
// presets, built on the environment's CLIP.
func Spec() *method.Spec {
	return &method.Spec{
		Name:    "tpt",
		Summary: "test-time prompt tuning of CLIP (Shu et al. 2022); --preset ensemble: mean softmax of the selected views",
		Paper: "M. Shu et al., \"Test-Time Prompt Tuning for Zero-Shot Generalization in Vision-Language Models\", " +
			"NeurIPS 2022",
		Models: []string{"clip"},
		Params: []method.Param{
			method.Int("views", PaperViews, "number of views: view 0 (CLIP's base preprocessing) + random resized crops with flips").
				AtLeast(1).AtMost(4096),
			method.Float("select", PaperSelect, "confidence selection: keep the floor(views*select) lowest-entropy views").
				Above(0).AtMost(1),
			method.Int("steps", PaperSteps, "AdamW steps per example (0: no tuning, zero-shot with the prompt)").
				AtLeast(0).AtMost(1000),
			method.String("prompt", PaperPrompt, `init prompt: its words are the learnable context; prompts are "PROMPT {class}."; `+
				`with [CLS] inside, the class goes there and the words on both sides are learnable (the seed's split context); `+
				`the embedded CLIP uses "`+method.EmbeddedPrompt+`" for the default`).Checked(nonEmpty),
			method.Int("n-ctx", 0, "start from this many random N(0, 0.02) context tokens instead of the prompt's words (0: off)").
				AtLeast(0).AtMost(64),
			method.Int("init-seed", 0, "seed of the random context init (--n-ctx)"),
			method.String("coop", "", "CoOp context file (.npy, or .safetensors with tensor ctx) [n, width] or [classes, n, width], "+
				"placed before the class"),
			method.Bool("class-specific", false, "class-specific context (each class its own copy; TPT shares one)"),
			method.Bool("reselect", false, "recompute the confidence selection at every step (TPT keeps the first step's)"),
			method.Bool("ensemble", false, "no tuning: predict the mean softmax of the selected views (method name tpt-ensemble)"),
			method.Float("lr", PaperLR, "AdamW learning rate").Above(0).AtMost(10),
			method.Float("beta1", PaperBeta1, "AdamW beta1").AtLeast(0).Below(1),
			method.Float("beta2", PaperBeta2, "AdamW beta2").AtLeast(0).Below(1),
			method.Float("eps", PaperEps, "AdamW epsilon").Above(0).AtMost(1),
			method.Float("weight-decay", PaperWeightDecay, "AdamW decoupled weight decay (torch's default)").AtLeast(0).AtMost(10),
			method.Int("align-steps", 0, "the seed project's alignment: AdamW steps on the image tower (not the attention pool) "+
				"towards equal features of the selected views, BatchNorm in training mode, before the TPT step (0: off; f32 only)").
				AtLeast(0).AtMost(1000),
			method.Float("align-lr", SeedAlignLR, "the alignment's AdamW learning rate").Above(0).AtMost(10),
			method.String("view-kind", "cut", "views 1..N-1: cut (random resized crop + flip: TPT on the ImageNet sets) or "+
				"augmix (TPT's AugMixAugmenter with augmix=True, its fine-grained sets: the crop, then the AugMix paper's ops "+
				"at severity 1, black fill)").OneOf("cut", "augmix"),
			method.Bool("device-views", false, "make the views on the device from the uint8 image padded to a size bucket, "+
				"bit-exact with the host's PIL views; only the crop regions are drawn on the host (cut only)"),
			method.Float("atfd-lambda", 0, "C-TPT's lambda: subtract lambda times the dispersion of the class text "+
				"features (ATFD) from the loss (0: TPT; gotta eval --method c-tpt sets C-TPT's own)").AtLeast(0).AtMost(1000),
			method.Bool("full-context", false, "run the text tower on all 77 positions instead of the longest prompt "+
				"(exact either way; slower)"),
		},
		Presets: []method.Preset{
			{Name: "paper", Doc: "TPT: 64 views, top 10%, one AdamW step (lr 5e-3) on the prompt context"},
			{Name: "zero-shot", Doc: "CLIP zero-shot with the prompt: ensemble mode on view 0 alone (the seed's TPT_baseline)",
				Set: method.Values{"ensemble": true, "views": 1, "select": 1.0}},
			{Name: "ensemble", Doc: "the seed's TPT ensemble mode: mean softmax of 8 views, no selection, no tuning",
				Set: method.Values{"ensemble": true, "views": 8, "select": 1.0}},
			{Name: "ensemble-select", Doc: "the seed's TPT ensemble + confidence selection: 64 views, top 10%, no tuning",
				Set: method.Values{"ensemble": true, "views": 64, "select": 0.1}},
			{Name: "seed-align", Doc: "the seed's TPT + alignment: one image-alignment step before the TPT step",
				Set: method.Values{"align-steps": 1}},
		},
		DefaultPreset: "paper",
		Build:         build,
	}
}

func nonEmpty(v any) error {
	if strings.TrimSpace(v.(string)) == "" {
		return fmt.Errorf("want a non-empty prompt")
	}
	return nil
}

// build makes the TPT adapter and its view maker from resolved values.
func build(env *method.Env, classes []string, v method.Values) (tta.Adapter, tta.ViewMaker, error) {
	cm, err := env.CLIP()
	if err != nil {
		return nil, nil, err
	}
	opts := Options{Views: v.Int("views"), Prompt: env.Prompt(v.String("prompt"), PaperPrompt), NCtx: v.Int("n-ctx"),
		InitSeed: int64(v.Int("init-seed")), CoOp: v.String("coop"), ClassSpecific: v.Bool("class-specific"),
		Select: v.Float("select"), Steps: v.Int("steps"), Reselect: v.Bool("reselect"), Ensemble: v.Bool("ensemble"),
		LR: v.Float("lr"), Beta1: v.Float("beta1"), Beta2: v.Float("beta2"), Eps: v.Float("eps"),
		WeightDecay: v.Float("weight-decay"), FullContext: v.Bool("full-context"), AlignSteps: v.Int("align-steps"),
		AlignLR: v.Float("align-lr"), ATFD: v.Float("atfd-lambda"), Scope: env.Scope("tpt")}
	a, err := New(env.Backend, cm.Model, cm.Tokenizer, classes, opts)
	if err != nil {
		return nil, nil, err
	}
	var adapter tta.Adapter = a
	if opts.Ensemble {
		adapter = viewens.New(a.Name(), a, opts.Select)
	}
	vm := NewViewMaker(cm.Model, opts.Views)
	vm.OnDevice = v.Bool("device-views")
	if v.String("view-kind") == "augmix" {
		if vm.OnDevice {
			return nil, nil, fmt.Errorf("view-kind augmix has no device path (device-views: cut only)")
		}
		// TPT's AugMixAugmenter with augmix=True: the AugMix paper's ops at severity 1 on the random resized crop,
		// PIL's black fill, m weighting the crop.
		vm.Views.Kind = augment.PaperAugMix
		vm.Views.PaperAugMix.TPTFill = true
	}
	return adapter, vm, nil
}
