package mta

import (
	"fmt"
	"math"
	"slices"
	"sync"

	"github.com/gomlx/gomlx/backends"
	"github.com/gotta-ml/gotta/tta"
	"github.com/gotta-ml/gotta/tta/clip"
)

// DefaultTemplate is the original's prompt (main.py's ctx_init "a_photo_of_a" + " {class}.").
const DefaultTemplate = "a photo of a {}."

// Options are MTA's settings; the zero value is the paper's.
type Options struct {
	// LambdaY weighs the inlierness entropy (y = softmax((K + LambdaQ A y) / LambdaY)); default 0.2.
	LambdaY float64
	// LambdaQ weighs the affinity (quadratic) term; default 4.
	LambdaQ float64
	// MaxIter is the number of outer iterations and the cap of each inner loop; default 5.
	MaxIter int
	// Name is the method name in records; default "mta", or "mta-ensemble" with several templates.
	Name string
}

// Defaults of the original (main.py's --lambda_y, --lambda_q; mta.py's max_iter).
const (
	DefaultLambdaY = 0.2
	DefaultLambdaQ = 4
	DefaultMaxIter = 5
)

// DefaultViews is the original's number of views (the image and 63 crops; main.py's batch size 64).
const DefaultViews = 64

// Adapter is MTA as a tta.Adapter. Adapt is safe for concurrent use (calls serialise).
type Adapter struct {
	opts      Options
	model     *clip.Model
	classes   []string
	templates []string
	head      *clip.ViewHead // class features and the views' features and scores

	mu   sync.Mutex
	last *Last
}

// Last is what the last Adapt computed, for tests and inspection.
type Last struct {
	// Features are the normalised image features [N][E].
	Features [][]float32
	// Logits are the views' logits exp(logit_scale) * cosines [N][C].
	Logits [][]float32
	// Trace is the MeanShift.
	Trace *Trace
}

// New builds MTA over CLIP model m for classNames with the prompt templates (each with "{}"; nil means
// DefaultTemplate; the 7 of imagenet.TipTemplates are the paper's "+Ensemble"), tokenized by tok; the class
// features are computed once here. The image tower's executable is compiled at the first Adapt, once per number
// of views.
func New(b backends.Backend, m *clip.Model, tok clip.Tokenizer, classNames, templates []string, opts Options) (*Adapter, error) {
	if len(templates) == 0 {
		templates = []string{DefaultTemplate}
	}
	if opts.LambdaY == 0 {
		opts.LambdaY = DefaultLambdaY
	}
	if opts.LambdaQ == 0 {
		opts.LambdaQ = DefaultLambdaQ
	}
	if opts.MaxIter == 0 {
		opts.MaxIter = DefaultMaxIter
	}
	if !(opts.LambdaY > 0) || opts.LambdaQ < 0 || opts.MaxIter < 1 {
		return nil, fmt.Errorf("mta: need LambdaY > 0, LambdaQ >= 0, MaxIter >= 1; got %g, %g, %d", opts.LambdaY,
			opts.LambdaQ, opts.MaxIter)
	}
	if opts.Name == "" {
		opts.Name = "mta"
		if len(templates) > 1 {
			opts.Name = "mta-ensemble"
		}
	}
	a := &Adapter{opts: opts, model: m, classes: slices.Clone(classNames), templates: slices.Clone(templates)}
	head, err := clip.NewViewHead(b, m, tok, classNames, templates, 0)
	if err != nil {
		return nil, fmt.Errorf("mta: %w", err)
	}
	a.head = head
	return a, nil
}

// Name implements tta.Adapter.
func (a *Adapter) Name() string { return a.opts.Name }

// Config implements tta.Adapter: the model, dtype, class count, templates and the MeanShift's settings.
func (a *Adapter) Config() map[string]any {
	return map[string]any{"model": a.model.Config.String(), "dtype": a.model.DType.String(),
		"classes": len(a.classes), "templates": a.templates, "lambda_y": a.opts.LambdaY, "lambda_q": a.opts.LambdaQ,
		"max_iter": a.opts.MaxIter, "neighbor_fraction": NeighborFraction, "tol": Tol}
}

// Reset implements tta.Adapter (nothing adapts).
func (a *Adapter) Reset() error { return nil }

// LastTrace returns what the last Adapt computed (nil before the first).
func (a *Adapter) LastTrace() *Last {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.last
}

// AdaptTrace implements tta.Tracer: the views' logits and their entropies.
func (a *Adapter) AdaptTrace() *tta.Trace {
	last := a.LastTrace()
	if last == nil {
		return nil
	}
	return &tta.Trace{LogitsBefore: last.Logits, Entropies: tta.ViewEntropiesHost(last.Logits)}
}

// Adapt implements tta.Adapter: one forward of the views, the MeanShift, the mode's logits.
func (a *Adapter) Adapt(v *tta.Views) (*tta.Prediction, error) {
	if err := a.head.Check(v); err != nil {
		return nil, fmt.Errorf("mta: %w", err)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	feats, cos, err := a.head.Score(v.Images)
	if err != nil {
		return nil, fmt.Errorf("mta: example %q: %w", v.ExampleID, err)
	}
	c := len(a.head.Text)
	last := &Last{Features: feats, Logits: a.head.Logits(cos)}
	last.Trace, err = MeanShift(last.Features, last.Logits, a.opts.LambdaY, a.opts.LambdaQ, a.opts.MaxIter)
	if err != nil {
		return nil, fmt.Errorf("mta: example %q: %w", v.ExampleID, err)
	}
	a.last = last
	logits := make([]float32, c)
	for j := range c {
		s := 0.0
		for l, m := range last.Trace.Mode {
			s += m * float64(a.head.Text[j][l])
		}
		logits[j] = float32(a.head.LogitScale * s)
	}
	return &tta.Prediction{Logits: logits, EntropyBefore: marginalEntropy(last.Logits),
		EntropyAfter: tta.EntropyOfLogits(logits)}, nil
}

// marginalEntropy is the entropy of the views' mean softmax(logits), in float64.
func marginalEntropy(logits [][]float32) float64 {
	mean := make([]float64, len(logits[0]))
	for _, row := range logits {
		for j, p := range softmax32(row) {
			mean[j] += p / float64(len(logits))
		}
	}
	h := 0.0
	for _, p := range mean {
		if p > 0 {
			h -= p * math.Log(p)
		}
	}
	return h
}

// ViewMaker makes MTA's views (main.py's AugMixAugmenter without AugMix): clip.ViewMaker's random resized crops with
// flips.
type ViewMaker = clip.ViewMaker

// NewViewMaker returns MTA's view maker for m with n views (0 means DefaultViews).
func NewViewMaker(m *clip.Model, n int) *ViewMaker {
	if n <= 0 {
		n = DefaultViews
	}
	return clip.NewViewMaker(m, n)
}

var _ tta.Adapter = (*Adapter)(nil)
var _ tta.Tracer = (*Adapter)(nil)
