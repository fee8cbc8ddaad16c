// Package zeroshot holds CLIP's zero-shot baselines as tta.Adapters: one prompt template ("a photo of a {}."),
// CLIP's 80 ImageNet templates (the "prompt ensemble": the mean of the normalised per-template text features,
// renormalised), or the 7 templates of Tip-Adapter / TDA / ZERO. No adaptation: view 0 (CLIP's base
// preprocessing) is classified by CLIP's zero-shot head.
//
// Paper: A. Radford et al., "Learning Transferable Visual Models From Natural Language Supervision", ICML 2021
// (the 80 templates: openai/CLIP notebooks/Prompt_Engineering_for_ImageNet.ipynb); the baselines of TPT (Shu et
// al., NeurIPS 2022, Table 1).
//
// Usage:
//
//	templates, _ := zeroshot.Templates("ensemble80")
//	a, err := zeroshot.New(backend.MustNew(), m, tok, classNames, templates, "")
//	recs, err := eval.Run(dataset, a, zeroshot.NewViewMaker(m), eval.Options{Out: "zs.jsonl"})
package zeroshot

import (
	"fmt"
	"hash/fnv"
	"math"
	"slices"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gotta-ml/gotta/datasets/augment"
	"github.com/gotta-ml/gotta/datasets/imagenet"
	"github.com/gotta-ml/gotta/tta"
	"github.com/gotta-ml/gotta/tta/clip"
)

// DefaultTemplate is TPT's and CLIP's single prompt.
const DefaultTemplate = "a photo of a {}."

// TemplateSets are the names Templates accepts.
var TemplateSets = []string{"single", "ensemble80", "tip7"}

// Templates returns a named template set: "single" (DefaultTemplate), "ensemble80" (CLIP's 80 ImageNet
// templates) or "tip7" (the 7 of Tip-Adapter / TDA / ZERO).
func Templates(set string) ([]string, error) {
	switch set {
	case "single", "":
		return []string{DefaultTemplate}, nil
	case "ensemble80":
		return imagenet.Templates(), nil
	case "tip7":
		return imagenet.TipTemplates(), nil
	}
	return nil, fmt.Errorf("zeroshot: unknown template set %q (want one of %v)", set, TemplateSets)
}

// Adapter is CLIP zero-shot classification as a tta.Adapter (nothing adapts).
type Adapter struct {
	name      string
	model     *clip.Model
	head      *clip.ZeroShot
	templates []string
	classes   []string
	text      [][]float32 // normalised class features [C][E]
	logitLn   float32     // logit_scale before exp
}

// New builds the zero-shot classifier of classNames from templates (each with "{}") over model m; name is the
// method name in records (default "zero-shot" for one template, "zero-shot-ensemble" otherwise).
func New(b backends.Backend, m *clip.Model, tok clip.Tokenizer, classNames, templates []string, name string) (*Adapter, error) {
	if len(templates) == 0 {
		templates = []string{DefaultTemplate}
	}
	if name == "" {
		name = "zero-shot"
		if len(templates) > 1 {
			name = "zero-shot-ensemble"
		}
	}
	a := &Adapter{name: name, model: m, head: clip.NewZeroShot(b, m, tok), templates: slices.Clone(templates),
		classes: slices.Clone(classNames)}
	var err error
	if a.text, err = a.head.TextFeatures(classNames, templates); err != nil {
		return nil, fmt.Errorf("zeroshot: %w", err)
	}
	if a.logitLn, err = m.LogitScaleValue(); err != nil {
		return nil, fmt.Errorf("zeroshot: %w", err)
	}
	return a, nil
}

// Name implements tta.Adapter.
func (a *Adapter) Name() string { return a.name }

// Config implements tta.Adapter: the model, dtype, class count and the templates (listed when there are at
// most 7; otherwise their count, the first one and an FNV-1a hash of all, to keep records short).
func (a *Adapter) Config() map[string]any {
	c := map[string]any{"model": a.model.Config.String(), "dtype": a.model.DType.String(),
		"classes": len(a.classes), "n_templates": len(a.templates)}
	if len(a.templates) <= 7 {
		c["templates"] = a.templates
	} else {
		h := fnv.New64a()
		for _, t := range a.templates {
			h.Write([]byte(t + "\n"))
		}
		c["templates_first"] = a.templates[0]
		c["templates_fnv64a"] = fmt.Sprintf("%016x", h.Sum64())
	}
	return c
}

// Reset implements tta.Adapter (nothing to reset).
func (a *Adapter) Reset() error { return nil }

// TextFeatures returns the normalised class features [C][EmbedDim].
func (a *Adapter) TextFeatures() [][]float32 { return a.text }

// Adapt implements tta.Adapter: view 0's zero-shot logits.
func (a *Adapter) Adapt(v *tta.Views) (*tta.Prediction, error) {
	if v == nil || v.Images == nil || v.Images.Shape().Rank() != 4 || v.Images.Shape().Dimensions[0] < 1 {
		return nil, fmt.Errorf("zeroshot: need views [N>=1, R, R, 3]")
	}
	img := v.Images
	if img.Shape().Dimensions[0] > 1 { // only view 0
		d := img.Shape().Dimensions
		flat := tensors.MustCopyFlatData[float32](img)
		img = tensors.FromFlatDataAndDimensions(flat[:d[1]*d[2]*d[3]], 1, d[1], d[2], d[3])
	}
	f, err := a.head.ImageFeatures(img)
	if err != nil {
		return nil, fmt.Errorf("zeroshot: example %q: %w", v.ExampleID, err)
	}
	logits := clip.LogitsHost(f[:1], a.text, a.logitLn)[0]
	h := tta.EntropyOfLogits(logits)
	if math.IsNaN(h) {
		return nil, fmt.Errorf("zeroshot: example %q: NaN logits", v.ExampleID)
	}
	return &tta.Prediction{Logits: logits, EntropyBefore: h, EntropyAfter: h}, nil
}

// ViewMaker makes the one view zero-shot CLIP classifies: CLIP's base preprocessing, [1, R, R, 3].
type ViewMaker = clip.ViewMaker

// NewViewMaker returns the base-view maker for m.
func NewViewMaker(m *clip.Model) *ViewMaker {
	return &ViewMaker{Views: augment.Views{N: 1, Kind: augment.Identity, Preprocess: m.Preprocess()}}
}

var _ tta.Adapter = (*Adapter)(nil)
