package main

import (
	"flag"
	"fmt"
	"strings"

	"github.com/gotta-ml/gotta/tta"
	"github.com/gotta-ml/gotta/tta/embedded"
	"github.com/gotta-ml/gotta/tta/zeroshot"
)

func init() {
	registerMethod(&method{name: "zero-shot", summary: "CLIP zero-shot: one prompt, or the 80 / 7 template ensembles (no adaptation)",
		addFlags: addZeroShotFlags, build: buildZeroShot, adapt: adaptCLIP})
}

type zeroShotFlags struct {
	templates, template string
}

func addZeroShotFlags(fs *flag.FlagSet) any {
	f := &zeroShotFlags{}
	fs.StringVar(&f.templates, "templates", "single", "template set: single (--template), ensemble80 (CLIP's 80 ImageNet templates) or tip7 (Tip-Adapter's 7)")
	fs.StringVar(&f.template, "template", zeroshot.DefaultTemplate, "the prompt template of --templates single; {} is the class name")
	return f
}

func buildZeroShot(env *methodEnv, flags any) (tta.Adapter, tta.ViewMaker, error) {
	f := flags.(*zeroShotFlags)
	m, err := env.CLIP()
	if err != nil {
		return nil, nil, err
	}
	tok, err := env.Tokenizer()
	if err != nil {
		return nil, nil, err
	}
	templates, err := zeroshot.Templates(f.templates)
	if err != nil {
		return nil, nil, err
	}
	if env.usesEmbeddedCLIP() {
		// The embedded CLIP knows only its MNIST captions' words: its own prompt and caption templates.
		if f.template == zeroshot.DefaultTemplate {
			f.template = embedded.DefaultTemplate
		}
		if f.templates != "single" {
			templates = embedded.EnsembleTemplates()
		}
	}
	name := "zero-shot"
	if f.templates == "single" {
		if !strings.Contains(f.template, "{}") {
			return nil, nil, fmt.Errorf("--template %q has no {} for the class name", f.template)
		}
		templates = []string{f.template}
	} else {
		name = "zero-shot-" + f.templates
	}
	a, err := zeroshot.New(env.Backend, m, tok, env.Classes, templates, name)
	if err != nil {
		return nil, nil, err
	}
	return a, zeroshot.NewViewMaker(m), nil
}
