package dmn

import (
	"fmt"
	"math"
)

// Memory is DMN's dynamic memory: for each class up to Size image features of earlier test examples that were
// pseudo-labelled with the class, each with the entropy of the prediction that labelled it. It is the host twin of
// the original's image_feature_memory [C, Size, E], image_entropy_mem [C, Size] and image_feature_count [C, 1].
type Memory struct {
	classes, size, dim int
	count              []int     // [classes] filled slots per class; slots 0..count-1 hold features
	feat               []float32 // [classes, size, dim] the written features
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

// Feature is the feature in slot s of class c (a view into the memory; s < Count(c)).
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
	copy(m.Feature(class, slot), feature)
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
	acc := make([]float64, m.dim)
	k := make([]float64, m.dim)
	logits := make([]float64, m.classes)
	for c := range m.classes {
		clear(acc)
		add := func(f []float32) {
			n := 0.0
			for _, x := range f {
				n += float64(x) * float64(x)
			}
			n = math.Sqrt(n)
			sim := 0.0
			for i, x := range f {
				k[i] = float64(x) / n
				sim += k[i] * q[i]
			}
			w := math.Exp(-beta * (1 - sim))
			for i := range acc {
				acc[i] += w * k[i]
			}
		}
		for s := range m.count[c] {
			add(m.Feature(c, s))
		}
		add(text[c])
		n, dot := 0.0, 0.0
		for i, x := range acc {
			n += x * x
			dot += x * q[i]
		}
		logits[c] = scale * dot / math.Sqrt(n)
	}
	return logits
}

// unit returns f / |f| in float64.
func unit(f []float32) []float64 {
	n := 0.0
	for _, x := range f {
		n += float64(x) * float64(x)
	}
	n = math.Sqrt(n)
	out := make([]float64, len(f))
	for i, x := range f {
		out[i] = float64(x) / n
	}
	return out
}
