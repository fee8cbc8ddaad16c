package tda

import (
	"math"
	"slices"
	"sort"
)

// Entry is one test example held in a cache: the original's list item [image_features, loss(, prob_map)].
type Entry struct {
	// Example is the example's id, for inspection.
	Example string `json:"example"`
	// Feature is the example's image feature [E] (the mean of the kept views' normalised features), the cache key.
	Feature []float32 `json:"feature"`
	// Loss is the example's entropy (of the mean softmax of its kept views), the order within a class.
	Loss float64 `json:"loss"`
	// Probs is the mean softmax of the kept views [C] (the negative cache's prob_map; nil in the positive cache).
	Probs []float32 `json:"probs,omitempty"`
}

// Cache is one of TDA's caches: per class, at most Capacity entries in ascending loss (tda_runner.py's dict of
// lists, classes in index order).
type Cache struct {
	// Capacity is the number of entries a class keeps (shot_capacity).
	Capacity int
	// Classes holds each class's entries in ascending loss; an empty list is a class not in the cache.
	Classes [][]Entry
}

// newCache returns an empty cache over c classes.
func newCache(c, capacity int) *Cache {
	return &Cache{Capacity: capacity, Classes: make([][]Entry, c)}
}

// Len is the number of entries held.
func (c *Cache) Len() int {
	n := 0
	for _, l := range c.Classes {
		n += len(l)
	}
	return n
}

// Update is the original's update_cache: a class seen for the first time gets e; a class below capacity appends e;
// a full class replaces its last (highest-loss) entry when e's loss is strictly lower; then the class's entries
// are sorted by loss, stably (Python's sorted).
func (c *Cache) Update(class int, e Entry) {
	l := c.Classes[class]
	switch {
	case len(l) == 0:
		c.Classes[class] = []Entry{e}
		return
	case len(l) < c.Capacity:
		l = append(l, e)
	case e.Loss < l[len(l)-1].Loss:
		l[len(l)-1] = e
	}
	sort.SliceStable(l, func(i, j int) bool { return l[i].Loss < l[j].Loss })
	c.Classes[class] = l
}

// Logits is the original's compute_cache_logits, in float64: alpha * sum over the entries of
// exp(-(beta - beta * <feature, key>)) * value, where an entry's value [C] is the one-hot of its class (positive
// cache, mask false) or, with mask, the indicator maskLower < Probs < maskUpper (negative cache).
func (c *Cache) Logits(feature []float32, alpha, beta float64, mask bool, maskLower, maskUpper float64) []float64 {
	out := make([]float64, len(c.Classes))
	for class, l := range c.Classes {
		for _, e := range l {
			aff := 0.0
			for i, k := range e.Feature {
				aff += float64(feature[i]) * float64(k)
			}
			w := math.Exp(-(beta - beta*aff))
			if !mask {
				out[class] += w
				continue
			}
			for j, p := range e.Probs {
				if float64(p) > maskLower && float64(p) < maskUpper {
					out[j] += w
				}
			}
		}
	}
	for j := range out {
		out[j] *= alpha
	}
	return out
}

// clone is a deep copy of the class lists (entries' slices are never written after insertion, so they are shared).
func (c *Cache) clone() *Cache {
	out := &Cache{Capacity: c.Capacity, Classes: make([][]Entry, len(c.Classes))}
	for i, l := range c.Classes {
		out.Classes[i] = slices.Clone(l)
	}
	return out
}
