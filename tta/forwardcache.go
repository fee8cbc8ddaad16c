package tta

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// ForwardCache memoises no-gradient forward passes of models at their initial (un-adapted) weights, for the
// whole process: the logits (or features) [N][D] of a batch of views, keyed by ForwardKey. Rows of a report that
// only read a model on the same views of the same example (the multi-model ensemble's joint mode, whose first
// forward is at the initial weights, and its simple mode) then compute that forward once.
//
// It is off until EnableForwardCache: a key names a model by its configuration, not by its weights, so it is only
// valid while every model of a given configuration in the process has the same initial weights, as in a report
// run (one environment). Cached values are the computed ones, so results are bit-identical with or without it.
// Safe for concurrent use. Values returned by Get must not be modified.
type ForwardCache struct {
	mu       sync.Mutex
	maxBytes int64
	bytes    int64
	entries  map[[32]byte][][]float32
	order    [][32]byte // insertion order, oldest first, for eviction
	hits     int
	misses   int
}

var (
	forwardCacheMu sync.Mutex
	forwardCache   *ForwardCache
)

// DefaultForwardCacheBytes is the memory bound of EnableForwardCache with maxBytes 0: 256 MiB of cached values.
const DefaultForwardCacheBytes = 256 << 20

// EnableForwardCache turns the process's forward cache on, keeping at most maxBytes of values (0:
// DefaultForwardCacheBytes; the oldest entries are dropped first), and returns a function that turns it off and
// drops its entries. Enable it only where every model of a configuration has the same initial weights (see
// ForwardCache).
func EnableForwardCache(maxBytes int64) (disable func()) {
	if maxBytes <= 0 {
		maxBytes = DefaultForwardCacheBytes
	}
	c := &ForwardCache{maxBytes: maxBytes, entries: map[[32]byte][][]float32{}}
	forwardCacheMu.Lock()
	forwardCache = c
	forwardCacheMu.Unlock()
	return func() {
		forwardCacheMu.Lock()
		if forwardCache == c {
			forwardCache = nil
		}
		forwardCacheMu.Unlock()
	}
}

// SharedForwardCache returns the process's forward cache, or nil when it is off.
func SharedForwardCache() *ForwardCache {
	forwardCacheMu.Lock()
	defer forwardCacheMu.Unlock()
	return forwardCache
}

// ForwardKey is the key of a forward pass: what (a name such as "ensemble-member/memo"), the model's
// configuration (a JSON-marshalable value that determines the forward graph and names the weights, e.g. an
// adapter's Config()), the example's id and the content of the views x (float32; shape and data). It returns
// an error when config cannot be marshalled or x is not float32.
func ForwardKey(what string, config any, exampleID string, x *tensors.Tensor) ([32]byte, error) {
	var key [32]byte
	cfg, err := json.Marshal(config) // maps marshal with sorted keys: deterministic
	if err != nil {
		return key, fmt.Errorf("tta.ForwardKey %s: config: %w", what, err)
	}
	h := sha256.New()
	writeString := func(s string) {
		_ = binary.Write(h, binary.LittleEndian, int64(len(s)))
		h.Write([]byte(s))
	}
	writeString(what)
	writeString(string(cfg))
	writeString(exampleID)
	for _, d := range x.Shape().Dimensions {
		_ = binary.Write(h, binary.LittleEndian, int64(d))
	}
	writeString(x.DType().String())
	if x.DType() != dtypes.Float32 {
		return key, fmt.Errorf("tta.ForwardKey %s: views of %q must be float32, got %s", what, exampleID, x.Shape())
	}
	x.ConstBytes(func(data []byte) { h.Write(data) })
	h.Sum(key[:0])
	return key, nil
}

// Get returns the values stored under key, or nil, false.
func (c *ForwardCache) Get(key [32]byte) ([][]float32, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.entries[key]
	if ok {
		c.hits++
	} else {
		c.misses++
	}
	return v, ok
}

// Put stores values under key (not copied: the caller must not modify them afterwards), dropping the oldest
// entries beyond the memory bound.
func (c *ForwardCache) Put(key [32]byte, values [][]float32) {
	var size int64
	for _, row := range values {
		size += int64(4 * len(row))
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[key]; ok || size > c.maxBytes {
		return
	}
	for c.bytes+size > c.maxBytes && len(c.order) > 0 {
		old := c.order[0]
		c.order = c.order[1:]
		for _, row := range c.entries[old] {
			c.bytes -= int64(4 * len(row))
		}
		delete(c.entries, old)
	}
	c.entries[key] = values
	c.order = append(c.order, key)
	c.bytes += size
}

// Stats returns the number of lookups that found an entry and that did not.
func (c *ForwardCache) Stats() (hits, misses int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.hits, c.misses
}
