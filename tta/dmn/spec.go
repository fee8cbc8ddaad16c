package dmn

import (
	"strconv"

	"github.com/gotta-ml/gotta/tta"
	"github.com/gotta-ml/gotta/tta/method"
)

func init() { method.Register(Spec()) }

// searchedWeights are the dynamic memory's weights (beta2) that the original's search picked on each test set
// (camera_ready_dmn_tf_shift_0.txt, camera_ready_dmn_tf_searched_vit_0.txt, ViT-B/16 zero-shot), with whether the
// set's views are AugMix ones (dmn_main.py: augmix=len(set_id) > 1, the fine-grained sets) and its templates.
var searchedWeights = []struct {
	preset, set string
	weight      float64
	augmix      bool
	template    string // the set's single template (data/imagnet_prompts.py ID_to_prompts); "" means tip7
}{
	{"imagenet", "ImageNet", 1, false, ""},
	{"imagenet-a", "ImageNet-A", 3, false, ""},
	{"imagenet-v2", "ImageNet-V2", 1, false, ""},
	{"imagenet-r", "ImageNet-R", 0.3, false, ""},
	{"imagenet-sketch", "ImageNet-Sketch", 1, false, ""},
	{"flowers102", "Flowers102", 10, true, "a photo of a {}, a type of flower."},
	{"dtd", "DTD", 10, true, "{} texture."},
	{"pets", "Oxford Pets", 1, true, "a photo of a {}, a type of pet."},
	{"cars", "Stanford Cars", 0.3, true, "a photo of a {}, a type of car."},
	{"ucf101", "UCF101", 0.3, true, "a photo of a person doing {}."},
	{"caltech101", "Caltech101", 0.3, true, ""},
	{"food101", "Food101", 0.3, true, "a photo of {}, a type of food."},
	{"sun397", "SUN397", 3, true, ""},
	{"aircraft", "FGVC Aircraft", 1, true, "a photo of a {}, a type of aircraft."},
	{"eurosat", "EuroSAT", 0.3, true, "a centered satellite photo of {}."},
}

// Spec is DMN-ZS's method spec ("dmn"): the dynamic memory of the original's zero-shot setting, its ImageNet
// defaults, and one preset per test set of the paper with the memory weight the original searched there.
func Spec() *method.Spec {
	text := method.TextHeadParams()
	text[0].Default = "tip7" // dmn_main.py --text_prompt tip_cupl: the 7 Tip-Adapter templates (+ CuPL, not carried)
	var presets []method.Preset
	for _, s := range searchedWeights {
		kind, doc := "cut", "crops"
		if s.augmix {
			kind, doc = "augmix", "AugMix views"
		}
		set := method.Values{"weight": s.weight, "view-kind": kind}
		if s.template != "" {
			set["templates"], set["template"] = "single", s.template
			doc += ", \"" + s.template + "\""
		} else {
			doc += ", the 7 templates"
		}
		presets = append(presets, method.Preset{Name: s.preset,
			Doc: "DMN-ZS on " + s.set + ": memory weight " + strconv.FormatFloat(s.weight, 'g', -1, 64) +
				" (the original's search), " + doc, Set: set})
	}
	return &method.Spec{
		Name: "dmn",
		Summary: "DMN-ZS (Zhang et al. 2024): a per-class memory of earlier test features, read by similarity, " +
			"added to CLIP's zero-shot probabilities; online, no gradient",
		Paper: "Y. Zhang, W. Zhu, H. Tang, Z. Ma, K. Zhou, L. Zhang, \"Dual Memory Networks: A Versatile Adaptation " +
			"Approach for Vision-Language Models\", CVPR 2024",
		Models: []string{"clip"},
		Online: true,
		Params: append([]method.Param{
			method.Int("views", DefaultViews, "number of views: view 0 (CLIP's base preprocessing) + random resized "+
				"crops (area 0.5-1) with flips (DMN: 32)").AtLeast(1).AtMost(4096),
			method.Float("select", DefaultSelect, "keep the int(views*select) lowest-entropy views; their mean "+
				"prediction pseudo-labels the example (DMN: 0.1)").Above(0).AtMost(1),
			method.Int("memory-size", DefaultMemorySize, "memory slots per class (DMN: 50)").AtLeast(1).AtMost(100000),
			method.Float("beta", DefaultBeta, "sharpness of the memory read exp(-beta (1 - cos)) (DMN: 5.5)").
				Above(0).AtMost(1000),
			method.Float("weight", DefaultWeight, "weight of the memory's probabilities added to CLIP's (DMN searches "+
				"it per test set; 1 for ImageNet)").AtLeast(0).AtMost(1e6),
			method.String("view-kind", "cut", "views 1..N-1: cut (crops, the original's ImageNet sets) or augmix "+
				"(TPT's AugMix ops on the crop, its fine-grained sets)").OneOf("cut", "augmix"),
		}, text...),
		Presets:       presets,
		DefaultPreset: "imagenet",
		Build:         build,
	}
}

// build makes DMN-ZS on the environment's CLIP.
func build(env *method.Env, classes []string, v method.Values) (tta.Adapter, tta.ViewMaker, error) {
	cm, err := env.CLIP()
	if err != nil {
		return nil, nil, err
	}
	templates, err := env.TextHead(v)
	if err != nil {
		return nil, nil, err
	}
	w := v.Float("weight")
	if w == 0 {
		w = NoWeight
	}
	a, err := New(env.Backend, cm.Model, cm.Tokenizer, classes, templates, Options{Select: v.Float("select"),
		MemorySize: v.Int("memory-size"), Beta: v.Float("beta"), Weight: w})
	if err != nil {
		return nil, nil, err
	}
	return a, NewViewMaker(cm.Model, v.Int("views"), v.String("view-kind") == "augmix"), nil
}
