package zeroshot

import (
	"fmt"
	"strings"

	"github.com/gotta-ml/gotta/tta"
	"github.com/gotta-ml/gotta/tta/embedded"
	"github.com/gotta-ml/gotta/tta/method"
)

func init() { method.Register(Spec()) }

// Spec is CLIP zero-shot's method spec ("zero-shot"): one prompt template, or CLIP's 80 or Tip-Adapter's 7
// ImageNet templates averaged; no adaptation.
func Spec() *method.Spec {
	return &method.Spec{
		Name:    "zero-shot",
		Summary: "CLIP zero-shot: one prompt, or the 80 / 7 template ensembles (no adaptation)",
		Paper: "A. Radford et al., \"Learning Transferable Visual Models From Natural Language Supervision\", " +
			"ICML 2021",
		Models: []string{"clip"},
		Params: []method.Param{
			method.String("templates", "single", "template set: single (--template), ensemble80 (CLIP's 80 ImageNet "+
				"templates) or tip7 (Tip-Adapter's 7); the embedded CLIP has its own caption templates").
				OneOf(TemplateSets...),
			method.String("template", DefaultTemplate, "the prompt template of --templates single; {} is the class name "+
				"(the embedded CLIP uses \""+embedded.DefaultTemplate+"\" for the default)").Checked(hasSlot),
		},
		Build: build,
	}
}

func hasSlot(v any) error {
	if !strings.Contains(v.(string), "{}") {
		return fmt.Errorf("no {} for the class name")
	}
	return nil
}

// build makes the zero-shot adapter on the environment's CLIP.
func build(env *method.Env, classes []string, v method.Values) (tta.Adapter, tta.ViewMaker, error) {
	cm, err := env.CLIP()
	if err != nil {
		return nil, nil, err
	}
	set, template := v.String("templates"), v.String("template")
	templates, err := Templates(set)
	if err != nil {
		return nil, nil, err
	}
	if cm.Embedded {
		// The embedded CLIP knows only its MNIST captions' words: its own prompt and caption templates.
		if template == DefaultTemplate {
			template = embedded.DefaultTemplate
		}
		if set != "single" {
			templates = embedded.EnsembleTemplates()
		}
	}
	name := "zero-shot"
	if set == "single" {
		templates = []string{template}
	} else {
		name = "zero-shot-" + set
	}
	a, err := New(env.Backend, cm.Model, cm.Tokenizer, classes, templates, name)
	if err != nil {
		return nil, nil, err
	}
	return a, NewViewMaker(cm.Model), nil
}
