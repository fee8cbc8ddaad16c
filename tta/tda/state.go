package tda

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/gotta-ml/gotta/tta"
)

// StateFormat names the stream-state format SaveStream writes; RestoreStream refuses any other.
const StateFormat = "gotta-tda-stream/1"

// streamState is SaveStream's JSON: the format, the configuration the caches were made under, the number of
// examples seen and both caches.
type streamState struct {
	Format   string         `json:"format"`
	Config   map[string]any `json:"config"`
	Examples int            `json:"examples"`
	Positive [][]Entry      `json:"positive"`
	Negative [][]Entry      `json:"negative"`
}

// stateConfig is what a saved state must agree on with the adapter restoring it: the adapter's Config plus the
// embedding width, as JSON values.
func (a *Adapter) stateConfig() (map[string]any, error) {
	cfg := a.Config()
	cfg["embed_dim"] = a.model.Config.EmbedDim
	data, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	var out map[string]any
	return out, json.Unmarshal(data, &out)
}

// SaveStream implements tta.StreamStater: the caches as versioned JSON (features and probabilities as float32,
// losses as float64, exactly).
func (a *Adapter) SaveStream() ([]byte, error) {
	cfg, err := a.stateConfig()
	if err != nil {
		return nil, fmt.Errorf("tda: SaveStream: %w", err)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return json.Marshal(streamState{Format: StateFormat, Config: cfg, Examples: a.seen, Positive: a.pos.Classes,
		Negative: a.neg.Classes})
}

// RestoreStream implements tta.StreamStater: replaces the caches with a state SaveStream wrote under the same
// configuration; another format, configuration (class count, model, templates, options) or malformed caches are
// refused, saying what differs.
func (a *Adapter) RestoreStream(state []byte) error {
	var s streamState
	if err := json.Unmarshal(state, &s); err != nil {
		return fmt.Errorf("tda: RestoreStream: not a TDA stream state: %w", err)
	}
	if s.Format != StateFormat {
		return fmt.Errorf("tda: RestoreStream: format %q, want %q", s.Format, StateFormat)
	}
	cfg, err := a.stateConfig()
	if err != nil {
		return fmt.Errorf("tda: RestoreStream: %w", err)
	}
	if diff := configDiff(s.Config, cfg); diff != "" {
		return fmt.Errorf("tda: RestoreStream: the state was saved under another configuration: %s", diff)
	}
	c, e := len(a.classes), a.model.Config.EmbedDim
	pos, err := checkCache("positive", s.Positive, c, e, a.opts.Positive.Shots, false)
	if err != nil {
		return err
	}
	neg, err := checkCache("negative", s.Negative, c, e, a.opts.Negative.Shots, true)
	if err != nil {
		return err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.pos, a.neg, a.seen = pos, neg, s.Examples
	return nil
}

// configDiff lists the keys whose values differ between a saved configuration and the adapter's ("" if none).
func configDiff(saved, want map[string]any) string {
	keys := make([]string, 0, len(want))
	for k := range want {
		keys = append(keys, k)
	}
	for k := range saved {
		if _, ok := want[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	var diffs []string
	for _, k := range keys {
		s, _ := json.Marshal(saved[k])
		w, _ := json.Marshal(want[k])
		if string(s) != string(w) {
			diffs = append(diffs, fmt.Sprintf("%s %s (this adapter: %s)", k, s, w))
		}
	}
	return strings.Join(diffs, ", ")
}

// checkCache validates a saved cache's shape and order and returns it as a Cache.
func checkCache(name string, classes [][]Entry, c, e, shots int, probs bool) (*Cache, error) {
	if len(classes) != c {
		return nil, fmt.Errorf("tda: RestoreStream: %s cache has %d classes, want %d", name, len(classes), c)
	}
	out := newCache(c, shots)
	for class, l := range classes {
		if len(l) > max(shots, 1) {
			return nil, fmt.Errorf("tda: RestoreStream: %s cache class %d holds %d entries, capacity %d", name, class,
				len(l), shots)
		}
		for i, en := range l {
			if len(en.Feature) != e || (probs && len(en.Probs) != c) || (!probs && en.Probs != nil) {
				return nil, fmt.Errorf("tda: RestoreStream: %s cache class %d entry %d (example %q): feature %d, "+
					"probs %d values, want %d and %d", name, class, i, en.Example, len(en.Feature), len(en.Probs), e,
					map[bool]int{true: c}[probs])
			}
			if i > 0 && en.Loss < l[i-1].Loss {
				return nil, fmt.Errorf("tda: RestoreStream: %s cache class %d is not in ascending loss", name, class)
			}
		}
		out.Classes[class] = slices.Clone(l)
	}
	return out, nil
}

var _ tta.StreamStater = (*Adapter)(nil)
