package dmn

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"sync"

	"github.com/gomlx/gomlx/backends"

	"github.com/gotta-ml/gotta/datasets/augment"
	"github.com/gotta-ml/gotta/tta"
	"github.com/gotta-ml/gotta/tta/clip"
)

// The original's zero-shot settings (scripts/run.sh and dmn_main.py's argument defaults).
const (
	// DefaultViews is the number of views: the image and 31 augmented views (-b 32).
	DefaultViews = 32
	// DefaultSelect is the fraction of views whose mean prediction pseudo-labels the example (--selection_p 0.1:
	// int(32 * 0.1) = 3 views).
	DefaultSelect = 0.1
	// DefaultMemorySize is the number of slots per class (--memory_size 50).
	DefaultMemorySize = 50
	// DefaultBeta is the sharpness of the memory read, exp(-beta (1 - cos)) (--beta 5.5).
	DefaultBeta = 5.5
	// DefaultWeight is the weight of the memory's probabilities in the sum with CLIP's (beta2; the original searches
	// it on each labelled test set; 1 is its value for ImageNet in camera_ready_dmn_tf_searched_vit_0.txt).
	DefaultWeight = 1.0
	// CropMinScale is the smallest area fraction of the views' random resized crops (data/datautils.py
	// get_preaugment: RandomResizedCrop(224, scale=(0.5, 1))).
	CropMinScale = 0.5
)

// Options are DMN-ZS's settings; the zero value is the original's for ImageNet.
type Options struct {
	// Select is the fraction of views kept by confidence: the int(N * Select) views of lowest entropy; default
	// DefaultSelect.
	Select float64
	// MemorySize is the number of memory slots per class; default DefaultMemorySize.
	MemorySize int
	// Beta is the read's sharpness; default DefaultBeta.
	Beta float64
	// Weight is the memory's weight in the final scores; default DefaultWeight. NoWeight gives 0 (CLIP alone, the
	// memory still updated).
	Weight float64
	// Name is the method name in records; default "dmn".
	Name string
}

// NoWeight as Options.Weight means a weight of 0.
const NoWeight = -1.0

// Adapter is DMN-ZS as a tta.Online adapter: its dynamic memory carries from one example to the next. Adapt is
// safe for concurrent use (calls serialise), but the stream's order decides the results.
type Adapter struct {
	opts      Options
	model     *clip.Model
	classes   []string
	templates []string
	head      *clip.ViewHead // class features and the views' features and scores

	mu   sync.Mutex
	mem  *Memory
	last *Trace
}

// Trace is what the last Adapt computed, for tests and inspection.
type Trace struct {
	// Features are the views' normalised image features [N][E].
	Features [][]float32
	// Cosines are the features' cosines with the class text features [N][C].
	Cosines [][]float32
	// Probs are the views' softmax(scale * cosines) [N][C].
	Probs [][]float64
	// Entropies are the views' entropies as the original ranks them, -sum p log(p + 1e-6) [N].
	Entropies []float64
	// Selected are the kept views, in ascending entropy.
	Selected []int
	// Vote is the mean of the kept views' Probs [C]; its argmax is PseudoLabel.
	Vote        []float64
	PseudoLabel int
	// VoteEntropy is -sum Vote log(Vote + 1e-8), the entropy written with the feature.
	VoteEntropy float64
	// Action and Slot say what the memory write did (Slot -1 when skipped).
	Action Action
	Slot   int
	// TextProbs are view 0's probabilities from the class text features [C].
	TextProbs []float64
	// MemoryLogits are the memory read's logits for view 0, after the write [C]; MemoryProbs their softmax.
	MemoryLogits, MemoryProbs []float64
	// Scores are TextProbs + Weight * MemoryProbs, the original's final scores [C].
	Scores []float64
}

// New builds DMN-ZS over CLIP model m for classNames with the prompt templates (each with "{}"; several give the
// mean of the normalised per-template features, renormalised), tokenized by tok. The memory starts empty.
func New(b backends.Backend, m *clip.Model, tok clip.Tokenizer, classNames, templates []string, opts Options) (*Adapter, error) {
	if len(templates) == 0 {
		return nil, fmt.Errorf("dmn: need at least one prompt template")
	}
	if opts.Select == 0 {
		opts.Select = DefaultSelect
	}
	if opts.MemorySize == 0 {
		opts.MemorySize = DefaultMemorySize
	}
	if opts.Beta == 0 {
		opts.Beta = DefaultBeta
	}
	switch opts.Weight {
	case 0:
		opts.Weight = DefaultWeight
	case NoWeight:
		opts.Weight = 0
	}
	if opts.Name == "" {
		opts.Name = "dmn"
	}
	switch {
	case !(opts.Select > 0 && opts.Select <= 1):
		return nil, fmt.Errorf("dmn: Select must be in (0, 1], got %g", opts.Select)
	case opts.MemorySize < 1:
		return nil, fmt.Errorf("dmn: MemorySize must be >= 1, got %d", opts.MemorySize)
	case !(opts.Beta > 0) || math.IsInf(opts.Beta, 0):
		return nil, fmt.Errorf("dmn: Beta must be positive and finite, got %g", opts.Beta)
	case !(opts.Weight >= 0) || math.IsInf(opts.Weight, 0):
		return nil, fmt.Errorf("dmn: Weight must be >= 0 and finite, got %g", opts.Weight)
	}
	a := &Adapter{opts: opts, model: m, classes: slices.Clone(classNames), templates: slices.Clone(templates)}
	head, err := clip.NewViewHead(b, m, tok, classNames, templates, 0)
	if err != nil {
		return nil, fmt.Errorf("dmn: %w", err)
	}
	a.head = head
	a.mem = NewMemory(len(classNames), opts.MemorySize, m.Config.EmbedDim)
	return a, nil
}

// Name implements tta.Adapter.
func (a *Adapter) Name() string { return a.opts.Name }

// Config implements tta.Adapter: the model, dtype, class count, templates and DMN's settings.
func (a *Adapter) Config() map[string]any {
	return map[string]any{"model": a.model.Config.String(), "dtype": a.model.DType.String(),
		"classes": len(a.classes), "templates": a.templates, "select": a.opts.Select,
		"memory_size": a.opts.MemorySize, "beta": a.opts.Beta, "weight": a.opts.Weight}
}

// Reset implements tta.Adapter: nothing is adapted per example (the memory is the stream's state).
func (a *Adapter) Reset() error { return nil }

// ResetStream implements tta.Online: it empties the memory.
func (a *Adapter) ResetStream() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.mem.Clear()
	a.last = nil
	return nil
}

// Memory returns the adapter's memory (read it between Adapt calls only).
func (a *Adapter) Memory() *Memory { return a.mem }

// LastTrace returns what the last Adapt computed (nil before the first and after ResetStream).
func (a *Adapter) LastTrace() *Trace {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.last
}

// AdaptTrace implements tta.Tracer: the views' logits exp(logit_scale) * cosines and their ranking entropies.
func (a *Adapter) AdaptTrace() *tta.Trace {
	tr := a.LastTrace()
	if tr == nil {
		return nil
	}
	logits := a.head.Logits(tr.Cosines)
	return &tta.Trace{LogitsBefore: logits, Entropies: slices.Clone(tr.Entropies)}
}

// KeepCount is the number of views DMN keeps: int(n * sel) as Python computes it (the float64 product, truncated).
func KeepCount(n int, sel float64) int { return int(float64(n) * sel) }

// Adapt implements tta.Adapter in the original's order (direct_inference): one forward of the views; the
// KeepCount(N, Select) views of lowest entropy vote a pseudo-label; view 0's feature is written to the memory under
// it; the memory, read with view 0's feature, gives probabilities that are added, times Weight, to view 0's CLIP
// probabilities. Logits are the log of that sum divided by 1 + Weight (a distribution with the same argmax).
func (a *Adapter) Adapt(v *tta.Views) (*tta.Prediction, error) {
	if err := a.head.Check(v); err != nil {
		return nil, fmt.Errorf("dmn: %w", err)
	}
	n := v.N()
	k := KeepCount(n, a.opts.Select)
	if k < 1 {
		return nil, fmt.Errorf("dmn: example %q: int(%d views * select %g) = 0 views to vote (the original's mean "+
			"of no views is NaN)", v.ExampleID, n, a.opts.Select)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	feats, cos, err := a.head.Score(v.Images)
	if err != nil {
		return nil, fmt.Errorf("dmn: example %q: %w", v.ExampleID, err)
	}
	c := len(a.classes)
	tr := &Trace{Features: feats, Cosines: cos, Probs: make([][]float64, n), Entropies: make([]float64, n)}
	for i := range n {
		logits := make([]float64, c)
		for j, x := range tr.Cosines[i] {
			logits[j] = a.head.LogitScale * float64(x)
		}
		tr.Probs[i] = softmax(logits)
		for _, p := range tr.Probs[i] {
			tr.Entropies[i] -= p * math.Log(p+1e-6) // select_confident_samples
		}
	}
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(x, y int) bool { return tr.Entropies[order[x]] < tr.Entropies[order[y]] })
	tr.Selected = order[:k]
	tr.Vote = make([]float64, c)
	for _, i := range tr.Selected {
		for j, p := range tr.Probs[i] {
			tr.Vote[j] += p / float64(k)
		}
	}
	tr.PseudoLabel = argmax(tr.Vote)
	for _, p := range tr.Vote {
		tr.VoteEntropy -= p * math.Log(p+1e-8) // update_memory_bank
	}
	tr.Action, tr.Slot = a.mem.Write(tr.PseudoLabel, tr.Features[0], tr.VoteEntropy)
	tr.MemoryLogits = a.mem.Read(tr.Features[0], a.head.Text, a.opts.Beta, a.head.LogitScale)
	tr.MemoryProbs = softmax(tr.MemoryLogits)
	tr.TextProbs = tr.Probs[0]
	tr.Scores = make([]float64, c)
	out := make([]float32, c)
	for j := range tr.Scores {
		tr.Scores[j] = tr.TextProbs[j] + a.opts.Weight*tr.MemoryProbs[j]
		out[j] = float32(math.Log(tr.Scores[j] / (1 + a.opts.Weight)))
	}
	a.last = tr
	mean := make([]float64, c)
	for _, p := range tr.Probs {
		for j, x := range p {
			mean[j] += x / float64(n)
		}
	}
	before := 0.0
	for _, p := range mean {
		if p > 0 {
			before -= p * math.Log(p)
		}
	}
	return &tta.Prediction{Logits: out, EntropyBefore: before, EntropyAfter: tta.EntropyOfLogits(out),
		Selected: slices.Clone(tr.Selected)}, nil
}

// softmax in float64.
func softmax(x []float64) []float64 {
	m := math.Inf(-1)
	for _, v := range x {
		m = math.Max(m, v)
	}
	s := 0.0
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = math.Exp(v - m)
		s += out[i]
	}
	for i := range out {
		out[i] /= s
	}
	return out
}

// argmax is the first index of the largest value (torch.max's pick among equal values on CPU).
func argmax(x []float64) int {
	best := 0
	for i, v := range x {
		if v > x[best] {
			best = i
		}
	}
	return best
}

// ViewMaker makes DMN's views: clip.ViewMaker with the crops' area in (CropMinScale, 1).
type ViewMaker = clip.ViewMaker

// NewViewMaker returns DMN's view maker for m with n views (0 means DefaultViews): view 0 is CLIP's base
// preprocessing, views 1..n-1 random resized crops of area fraction 0.5-1 with flips (the original's ImageNet sets),
// then, with augmix, TPT's AugMix ops on the crop (its fine-grained sets).
func NewViewMaker(m *clip.Model, n int, augmix bool) *ViewMaker {
	if n <= 0 {
		n = DefaultViews
	}
	vm := clip.NewViewMaker(m, n)
	vm.Views.Crop.Scale = [2]float64{CropMinScale, 1}
	if augmix {
		vm.Views.Kind = augment.PaperAugMix
		vm.Views.PaperAugMix.TPTFill = true
	}
	return vm
}

var _ tta.Online = (*Adapter)(nil)
var _ tta.Tracer = (*Adapter)(nil)
