package tda

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"sync"

	"github.com/gomlx/gomlx/backends"
	"github.com/gotta-ml/gotta/tta"
	"github.com/gotta-ml/gotta/tta/clip"
)

// Adapter is TDA as a tta.Online adapter: the caches carry from one Adapt to the next. Adapt is safe for concurrent
// use (calls serialise), but a stream's result depends on the order of the calls.
type Adapter struct {
	opts      Options
	model     *clip.Model
	classes   []string
	templates []string
	head      *clip.ViewHead // class features and the views' features and scores

	mu       sync.Mutex
	pos, neg *Cache
	seen     int // examples adapted since the stream began
	last     *Trace
}

// Trace is what the last Adapt computed, for tests and inspection.
type Trace struct {
	// Features are the views' normalised image features [N][E].
	Features [][]float32
	// Logits are the views' logits LogitScale * cosine [N][C].
	Logits [][]float32
	// Entropies are the views' entropies [N].
	Entropies []float64
	// Selected are the kept views in ascending entropy.
	Selected []int
	// Feature is the example's feature [E]: the mean of the kept views' features (not renormalised).
	Feature []float32
	// CLIPLogits are the mean of the kept views' logits [C].
	CLIPLogits []float32
	// Loss is the entropy of the mean softmax of the kept views (one view: its entropy).
	Loss float64
	// NormEntropy is Loss / log2(C), the negative cache's gate.
	NormEntropy float64
	// Probs are the mean softmax of the kept views [C].
	Probs []float32
	// CachePred is the class the caches file the example under: the argmax of CLIPLogits.
	CachePred int
	// PosUpdated and NegUpdated say which caches took the example.
	PosUpdated, NegUpdated bool
	// PosLogits and NegLogits are the caches' logits [C] (nil when the cache is off or empty).
	PosLogits, NegLogits []float64
	// Final are CLIPLogits + PosLogits - NegLogits.
	Final []float32
	// PosSizes and NegSizes are the caches' entries per class after the updates [C].
	PosSizes, NegSizes []int
}

// New builds TDA over CLIP model m for classNames with the prompt templates (each with "{}"; TDA uses the 7 of
// imagenet.TipTemplates on ImageNet and -A/-V2, CLIP's 80 on -R and -Sketch), tokenized by tok; the class features
// are computed once here. The caches start empty. The image tower's executable compiles at the first Adapt, once
// per number of views.
func New(b backends.Backend, m *clip.Model, tok clip.Tokenizer, classNames, templates []string,
	opts Options) (*Adapter, error) {
	if err := opts.check(); err != nil {
		return nil, err
	}
	if len(templates) == 0 {
		return nil, fmt.Errorf("tda: no prompt templates")
	}
	if opts.Name == "" {
		opts.Name = "tda"
	}
	a := &Adapter{opts: opts, model: m, classes: slices.Clone(classNames), templates: slices.Clone(templates)}
	head, err := clip.NewViewHead(b, m, tok, classNames, templates, LogitScale)
	if err != nil {
		return nil, fmt.Errorf("tda: %w", err)
	}
	a.head = head
	if err := a.ResetStream(); err != nil {
		return nil, err
	}
	return a, nil
}

// Name implements tta.Adapter.
func (a *Adapter) Name() string { return a.opts.Name }

// Config implements tta.Adapter: the model, class count, templates and every option.
func (a *Adapter) Config() map[string]any {
	o := a.opts
	return map[string]any{"model": a.model.Config.String(), "dtype": a.model.DType.String(),
		"classes": len(a.classes), "templates": a.templates, "select": o.Select, "logit_scale": LogitScale,
		"pos_enabled": o.Positive.Enabled, "pos_shots": o.Positive.Shots, "pos_alpha": o.Positive.Alpha,
		"pos_beta": o.Positive.Beta, "neg_enabled": o.Negative.Enabled, "neg_shots": o.Negative.Shots,
		"neg_alpha": o.Negative.Alpha, "neg_beta": o.Negative.Beta, "entropy_lower": o.EntropyLower,
		"entropy_upper": o.EntropyUpper, "mask_lower": o.MaskLower, "mask_upper": o.MaskUpper}
}

// Reset implements tta.Adapter: nothing adapts per example; the caches are stream state (ResetStream).
func (a *Adapter) Reset() error { return nil }

// ResetStream implements tta.Online: empties both caches.
func (a *Adapter) ResetStream() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	c := len(a.classes)
	a.pos, a.neg = newCache(c, a.opts.Positive.Shots), newCache(c, a.opts.Negative.Shots)
	a.seen = 0
	return nil
}

// Caches returns copies of the positive and negative caches.
func (a *Adapter) Caches() (pos, neg *Cache) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.pos.clone(), a.neg.clone()
}

// LastTrace returns what the last Adapt computed (nil before the first).
func (a *Adapter) LastTrace() *Trace {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.last
}

// AdaptTrace implements tta.Tracer: the views' logits and entropies, and the array "cache_sizes" [2, C] (the
// positive and the negative cache's entries per class after the example).
func (a *Adapter) AdaptTrace() *tta.Trace {
	tr := a.LastTrace()
	if tr == nil {
		return nil
	}
	sizes := make([]float32, 0, 2*len(tr.PosSizes))
	for _, l := range [][]int{tr.PosSizes, tr.NegSizes} {
		for _, n := range l {
			sizes = append(sizes, float32(n))
		}
	}
	return &tta.Trace{LogitsBefore: tr.Logits, Entropies: tr.Entropies,
		Arrays: []tta.TraceArray{{Name: "cache_sizes", Shape: []int{2, len(tr.PosSizes)}, Data: sizes}}}
}

// Adapt implements tta.Online: one forward of the views, the confidence selection, the cache updates and the
// final logits, in tda_runner.py's order (the example enters the caches before its final logits are computed).
func (a *Adapter) Adapt(v *tta.Views) (*tta.Prediction, error) {
	if err := a.head.Check(v); err != nil {
		return nil, fmt.Errorf("tda: %w", err)
	}
	n := v.N()
	k := KeepCount(n, a.opts.Select)
	if k < 1 {
		return nil, fmt.Errorf("tda: example %q: %d views keep int(%d * %g) = 0; use 1 view or at least %d",
			v.ExampleID, n, n, a.opts.Select, int(math.Ceil(1/a.opts.Select)))
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	feats, logits, err := a.head.Score(v.Images)
	if err != nil {
		return nil, fmt.Errorf("tda: example %q: %w", v.ExampleID, err)
	}
	tr := &Trace{Features: feats, Logits: logits}
	tr.Entropies = tta.ViewEntropiesHost(tr.Logits)
	a.selectViews(tr, k)
	a.update(tr, v.ExampleID)
	a.last = tr
	a.seen++
	return &tta.Prediction{Logits: slices.Clone(tr.Final), EntropyBefore: marginalEntropy(tr.Logits),
		EntropyAfter: tta.EntropyOfLogits(tr.Final), Selected: slices.Clone(tr.Selected)}, nil
}

// selectViews is get_clip_logits after the forward: the k views of lowest entropy (stable order), the means of their
// features and logits, the entropy of their mean softmax, their mean softmax and the argmax class.
func (a *Adapter) selectViews(tr *Trace, k int) {
	order := make([]int, len(tr.Entropies))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(i, j int) bool { return tr.Entropies[order[i]] < tr.Entropies[order[j]] })
	tr.Selected = order[:k]
	tr.Feature = meanRows(tr.Features, tr.Selected)
	tr.CLIPLogits = meanRows(tr.Logits, tr.Selected)
	probs := make([]float64, len(tr.CLIPLogits)) // the mean softmax, float64
	for _, i := range tr.Selected {
		for j, lp := range tta.LogSoftmaxHost(tr.Logits[i]) {
			probs[j] += math.Exp(lp) / float64(k)
		}
	}
	tr.Probs = make([]float32, len(probs))
	for j, p := range probs {
		tr.Probs[j] = float32(p)
		if p > 0 {
			tr.Loss -= p * math.Log(p)
		}
	}
	tr.NormEntropy = tr.Loss / math.Log2(float64(len(a.classes)))
	tr.CachePred = argmax(tr.CLIPLogits)
}

// update is run_test_tda's body after get_clip_logits: the positive cache takes every example, the negative cache
// those with EntropyLower < NormEntropy < EntropyUpper; then the final logits.
func (a *Adapter) update(tr *Trace, id string) {
	o := a.opts
	if o.Positive.Enabled {
		a.pos.Update(tr.CachePred, Entry{Example: id, Feature: tr.Feature, Loss: tr.Loss})
		tr.PosUpdated = true
	}
	if o.Negative.Enabled && o.EntropyLower < tr.NormEntropy && tr.NormEntropy < o.EntropyUpper {
		a.neg.Update(tr.CachePred, Entry{Example: id, Feature: tr.Feature, Loss: tr.Loss, Probs: tr.Probs})
		tr.NegUpdated = true
	}
	final := make([]float64, len(tr.CLIPLogits))
	for j, l := range tr.CLIPLogits {
		final[j] = float64(l)
	}
	if o.Positive.Enabled && a.pos.Len() > 0 {
		tr.PosLogits = a.pos.Logits(tr.Feature, o.Positive.Alpha, o.Positive.Beta, false, 0, 0)
		for j, l := range tr.PosLogits {
			final[j] += l
		}
	}
	if o.Negative.Enabled && a.neg.Len() > 0 {
		tr.NegLogits = a.neg.Logits(tr.Feature, o.Negative.Alpha, o.Negative.Beta, true, o.MaskLower, o.MaskUpper)
		for j, l := range tr.NegLogits {
			final[j] -= l
		}
	}
	tr.Final = make([]float32, len(final))
	for j, l := range final {
		tr.Final[j] = float32(l)
	}
	tr.PosSizes, tr.NegSizes = make([]int, len(final)), make([]int, len(final))
	for j := range final {
		tr.PosSizes[j], tr.NegSizes[j] = len(a.pos.Classes[j]), len(a.neg.Classes[j])
	}
}

// meanRows is the mean of rows sel of x, in float64, as float32.
func meanRows(x [][]float32, sel []int) []float32 {
	sum := make([]float64, len(x[sel[0]]))
	for _, i := range sel {
		for j, v := range x[i] {
			sum[j] += float64(v)
		}
	}
	out := make([]float32, len(sum))
	for j, s := range sum {
		out[j] = float32(s / float64(len(sel)))
	}
	return out
}

// argmax is the first index of the maximum (torch's topk(1) on these rows).
func argmax(x []float32) int {
	best := 0
	for j, v := range x {
		if v > x[best] {
			best = j
		}
	}
	return best
}

// marginalEntropy is the entropy of the mean softmax of every view.
func marginalEntropy(logits [][]float32) float64 {
	return tta.EntropyOfLogits(tta.MeanLogProbsHost(logits, nil))
}

var (
	_ tta.Online = (*Adapter)(nil)
	_ tta.Tracer = (*Adapter)(nil)
)
