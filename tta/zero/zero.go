package zero

import (
	"fmt"
	"math"
	"slices"
	"sync"

	"github.com/gomlx/gomlx/backends"
	"github.com/gotta-ml/gotta/tta"
	"github.com/gotta-ml/gotta/tta/clip"
)

// DefaultTemplate is the original's prompt (scripts/zero.sh's ctx_init "a_photo_of_a" + " {class}.").
const DefaultTemplate = "a photo of a {}."

// Options are ZERO's settings; the zero value is the paper's.
type Options struct {
	// Gamma is the fraction of views kept by confidence: the KeepCount(N, Gamma) = int(N * Gamma) of lowest entropy;
	// default 0.3 (19 of 64 views).
	Gamma float64
	// Name is the method name in records; default "zero", or "zero-ensemble" with several templates.
	Name string
}

// DefaultGamma is the original's gamma (ttas/zero.py set_hyperparams).
const DefaultGamma = 0.3

// DefaultViews is the original's number of views (the image and 63 crops; run.py --num_views).
const DefaultViews = 64

// Adapter is ZERO as a tta.Adapter. Adapt is safe for concurrent use (calls serialise).
type Adapter struct {
	opts      Options
	model     *clip.Model
	classes   []string
	templates []string
	head      *clip.ViewHead // class features and the views' features and scores

	mu   sync.Mutex
	last *Trace
}

// Trace is what the last Adapt computed, for tests and inspection.
type Trace struct {
	// Features are the normalised image features [N][E].
	Features [][]float32
	// Cosines are the features' cosines with the class features [N][C].
	Cosines [][]float32
	// Result is the vote.
	Result *Result
}

// New builds ZERO over CLIP model m for classNames with the prompt templates (each with "{}"; nil means
// DefaultTemplate; the 7 of imagenet.TipTemplates are the paper's "+Ensemble"), tokenized by tok; the class
// features are computed once here. The image tower's executable is compiled at the first Adapt, once per number
// of views.
func New(b backends.Backend, m *clip.Model, tok clip.Tokenizer, classNames, templates []string, opts Options) (*Adapter, error) {
	if len(templates) == 0 {
		templates = []string{DefaultTemplate}
	}
	if opts.Gamma == 0 {
		opts.Gamma = DefaultGamma
	}
	if opts.Gamma < 0 || opts.Gamma > 1 || math.IsNaN(opts.Gamma) {
		return nil, fmt.Errorf("zero: Gamma must be in (0, 1], got %g", opts.Gamma)
	}
	if opts.Name == "" {
		opts.Name = "zero"
		if len(templates) > 1 {
			opts.Name = "zero-ensemble"
		}
	}
	a := &Adapter{opts: opts, model: m, classes: slices.Clone(classNames), templates: slices.Clone(templates)}
	head, err := clip.NewViewHead(b, m, tok, classNames, templates, 0)
	if err != nil {
		return nil, fmt.Errorf("zero: %w", err)
	}
	a.head = head
	return a, nil
}

// Name implements tta.Adapter.
func (a *Adapter) Name() string { return a.opts.Name }

// Config implements tta.Adapter: the model, dtype, class count, templates and gamma.
func (a *Adapter) Config() map[string]any {
	return map[string]any{"model": a.model.Config.String(), "dtype": a.model.DType.String(),
		"classes": len(a.classes), "templates": a.templates, "gamma": a.opts.Gamma, "vote_eps": VoteEps}
}

// Reset implements tta.Adapter (nothing adapts).
func (a *Adapter) Reset() error { return nil }

// LastTrace returns what the last Adapt computed (nil before the first).
func (a *Adapter) LastTrace() *Trace {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.last
}

// AdaptTrace implements tta.Tracer: the views' logits exp(logit_scale) * cosines and their entropies.
func (a *Adapter) AdaptTrace() *tta.Trace {
	tr := a.LastTrace()
	if tr == nil {
		return nil
	}
	logits := a.head.Logits(tr.Cosines)
	return &tta.Trace{LogitsBefore: logits, Entropies: tta.ViewEntropiesHost(logits)}
}

// Adapt implements tta.Adapter: one forward of the views, the confidence filter and the zero-temperature vote.
func (a *Adapter) Adapt(v *tta.Views) (*tta.Prediction, error) {
	if err := a.head.Check(v); err != nil {
		return nil, fmt.Errorf("zero: %w", err)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	feats, cos, err := a.head.Score(v.Images)
	if err != nil {
		return nil, fmt.Errorf("zero: example %q: %w", v.ExampleID, err)
	}
	tr := &Trace{Features: feats, Cosines: cos}
	tr.Result, err = Vote(tr.Cosines, a.head.LogitScale, a.opts.Gamma)
	if err != nil {
		return nil, fmt.Errorf("zero: example %q: %w", v.ExampleID, err)
	}
	a.last = tr
	before := marginalEntropy(tr.Cosines, a.head.LogitScale)
	out := tr.Result.Output
	return &tta.Prediction{Logits: slices.Clone(out), EntropyBefore: before, EntropyAfter: tta.EntropyOfLogits(out),
		Selected: slices.Clone(tr.Result.Kept)}, nil
}

// marginalEntropy is the entropy of the views' mean softmax(scale * cos), in float64.
func marginalEntropy(cos [][]float32, scale float64) float64 {
	mean := make([]float64, len(cos[0]))
	for _, row := range cos {
		m := math.Inf(-1)
		for _, v := range row {
			m = math.Max(m, scale*float64(v))
		}
		s := 0.0
		for _, v := range row {
			s += math.Exp(scale*float64(v) - m)
		}
		for j, v := range row {
			mean[j] += math.Exp(scale*float64(v)-m) / s / float64(len(cos))
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

// ViewMaker makes ZERO's views (data/augs.py MultiViewCropAndFlip): clip.ViewMaker's random resized crops with flips.
type ViewMaker = clip.ViewMaker

// NewViewMaker returns ZERO's view maker for m with n views (0 means DefaultViews).
func NewViewMaker(m *clip.Model, n int) *ViewMaker {
	if n <= 0 {
		n = DefaultViews
	}
	return clip.NewViewMaker(m, n)
}

var _ tta.Adapter = (*Adapter)(nil)
var _ tta.Tracer = (*Adapter)(nil)
