package dmn

import (
	"fmt"
	"math"
	"runtime"
	"sync"
)

// Memory is DMN's dynamic memory: for each class up to Size image features of earlier test examples that were
// pseudo-labelled with the class, each with the entropy of the prediction that labelled it. It is the host twin of
// the original's image_feature_memory [C, Size, E], image_entropy_mem [C, Size] and image_feature_count [C, 1].
type Memory struct {
	classes, size, dim int
	count              []int     // [classes] filled slots per class; slots 0..count-1 hold features
	feat               []float32 // [classes, size, dim] the written features, L2-normalised (the read's keys and values)
	ent                []float64 // [classes, size] their entropies
}

// NewMemory returns an empty memory of classes x size slots of dim-dimensional features.
func NewMemory(classes, size, dim int) *Memory {
	return &Memory{classes: classes, size: size, dim: dim, count: make([]int, classes),
		feat: make([]float32, classes*size*dim), ent: make([]float64, classes*size)}
}

// Classes, Size and Dim are the memory's shape: classes x Size slots of Dim-dimensional features.
func (m *Memory) Classes() int { return m.classes }

// Size is the number of slots per class.
func (m *Memory) Size() int { return m.size }

// Dim is the feature dimension.
func (m *Memory) Dim() int { return m.dim }

// Count is the number of filled slots of class c.
func (m *Memory) Count(c int) int { return m.count[c] }

// Feature is the feature in slot s of class c, L2-normalised when written (a view into the memory; s < Count(c)).
func (m *Memory) Feature(c, s int) []float32 {
	o := (c*m.size + s) * m.dim
	return m.feat[o : o+m.dim]
}

// Entropy is the entropy stored with slot s of class c.
func (m *Memory) Entropy(c, s int) float64 { return m.ent[c*m.size+s] }

// Clear empties every slot.
func (m *Memory) Clear() {
	clear(m.count)
	clear(m.feat)
	clear(m.ent)
}

// Action is what a Write did.
type Action string

// The actions of Write.
const (
	// Written: the class had a free slot; the feature went into the first one.
	Written Action = "write"
	// Replaced: the class was full and the new entropy is below the largest stored one; that slot was overwritten.
	Replaced Action = "replace"
	// Skipped: the class was full and no stored entropy is above the new one; nothing changed.
	Skipped Action = "skip"
)

// Write is the original's update_memory_bank: feature goes to class's first free slot; when the class is full it
// replaces the slot of largest entropy if entropy is below it (of equal largest entropies, the highest slot, as the
// last index of torch.sort's ascending order), and is dropped otherwise. It returns the action and the slot (-1 when
// skipped).
func (m *Memory) Write(class int, feature []float32, entropy float64) (Action, int) {
	if class < 0 || class >= m.classes || len(feature) != m.dim {
		panic(fmt.Sprintf("dmn.Memory.Write: class %d of %d, feature of %d of %d", class, m.classes, len(feature), m.dim))
	}
	slot, action := m.count[class], Written
	if slot == m.size {
		slot = 0
		for s := 1; s < m.size; s++ {
			if m.Entropy(class, s) >= m.Entropy(class, slot) {
				slot = s
			}
		}
		if !(entropy < m.Entropy(class, slot)) {
			return Skipped, -1
		}
		action = Replaced
	} else {
		m.count[class]++
	}
	dst, n := m.Feature(class, slot), norm(feature)
	for i, x := range feature {
		dst[i] = float32(float64(x) / n)
	}
	m.ent[class*m.size+slot] = entropy
	return action, slot
}

// Read is the original's get_image_pred (its "similarity_weighted" classifier): for each class c, the features in
// its memory and its text feature text[c] (the key and value slots, each L2-normalised) are weighted by
// exp(-beta (1 - cos(q, k))) for the normalised query q, summed, normalised, and scored as scale * (sum . q). It
// returns those C logits, in float64. Empty slots take no part (the original zeroes them).
func (m *Memory) Read(query []float32, text [][]float32, beta, scale float64) []float64 {
	if len(query) != m.dim || len(text) != m.classes {
		panic(fmt.Sprintf("dmn.Memory.Read: query of %d (want %d), %d text features (want %d)", len(query), m.dim,
			len(text), m.classes))
	}
	q := unit(query)
	logits := make([]float64, m.classes)
	// Classes are independent: large memories are read on several goroutines, each over a range of classes.
	work := m.classes * (m.size + 1) * m.dim
	workers := min(runtime.GOMAXPROCS(0), m.classes, 1+work/(1<<18))
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m.readClasses(logits, q, text, beta, scale, w*m.classes/workers, (w+1)*m.classes/workers)
		}()
	}
	wg.Wait()
	return logits
}

// readClasses writes the logits of classes lo..hi-1 (Read).
func (m *Memory) readClasses(logits, q []float64, text [][]float32, beta, scale float64, lo, hi int) {
	acc := make([]float64, m.dim)
	add := func(k []float32, n float64) { // key k with norm n
		sim := 0.0
		for i, x := range k {
			sim += float64(x) * q[i]
		}
		w := math.Exp(-beta*(1-sim/n)) / n
		for i, x := range k {
			acc[i] += w * float64(x)
		}
	}
	for c := lo; c < hi; c++ {
		clear(acc)
		for s := range m.count[c] {
			add(m.Feature(c, s), 1)
		}
		add(text[c], norm(text[c]))
		n, dot := 0.0, 0.0
		for i, x := range acc {
			n += x * x
			dot += x * q[i]
		}
		logits[c] = scale * dot / math.Sqrt(n)
	}
}

// norm is |f| in float64.
func norm(f []float32) float64 {
	n := 0.0
	for _, x := range f {
		n += float64(x) * float64(x)
	}
	return math.Sqrt(n)
}

// unit returns f / |f| in float64.
func unit(f []float32) []float64 {
	n := norm(f)
	out := make([]float64, len(f))
	for i, x := range f {
		out[i] = float64(x) / n
	}
	return out
}
