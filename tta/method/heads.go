package method

import (
	"fmt"
	"strings"

	"github.com/gotta-ml/gotta/datasets/imagenet"
	"github.com/gotta-ml/gotta/tta/embedded"
)

// DefaultTemplate is the single prompt of CLIP's zero-shot head ("{}" is the class name).
const DefaultTemplate = "a photo of a {}."

// TemplateSets are the text heads every CLIP method can use: "single" (one template), "ensemble80" (CLIP's 80
// ImageNet templates) and "tip7" (the 7 of Tip-Adapter, TDA and ZERO+Ensemble).
var TemplateSets = []string{"single", "ensemble80", "tip7"}

// TextHeadParams are the two parameters of a CLIP method's text head: "templates" (a TemplateSets name) and
// "template" (the single template).
func TextHeadParams() []Param {
	return []Param{
		String("templates", "single", "text head: single (--template), ensemble80 (CLIP's 80 ImageNet templates) or "+
			"tip7 (Tip-Adapter's 7, as TDA and ZERO+Ensemble); the embedded CLIP has its own caption templates").
			OneOf(TemplateSets...),
		String("template", DefaultTemplate, "the prompt template of --templates single; {} is the class name (the "+
			"embedded CLIP uses \""+embedded.DefaultTemplate+"\" for the default)").Checked(hasClassSlot),
	}
}

func hasClassSlot(v any) error {
	if !strings.Contains(v.(string), "{}") {
		return fmt.Errorf("no {} for the class name")
	}
	return nil
}

// TextHead returns the templates of a method's text head (TextHeadParams' values) for the environment's CLIP: the
// embedded CLIP, whose vocabulary holds only its MNIST captions' words, gets its own caption (for the default
// template) and caption templates (for either ensemble).
func (e *Env) TextHead(v Values) ([]string, error) {
	set, template := v.String("templates"), v.String("template")
	embeddedCLIP := e.UsesEmbeddedCLIP()
	switch set {
	case "single":
		if embeddedCLIP && template == DefaultTemplate {
			template = embedded.DefaultTemplate
		}
		return []string{template}, nil
	case "ensemble80", "tip7":
		if embeddedCLIP {
			return embedded.EnsembleTemplates(), nil
		}
		if set == "tip7" {
			return imagenet.TipTemplates(), nil
		}
		return imagenet.Templates(), nil
	}
	return nil, fmt.Errorf("unknown template set %q (one of %s)", set, strings.Join(TemplateSets, ", "))
}
