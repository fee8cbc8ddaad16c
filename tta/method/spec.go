package method

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/gotta-ml/gotta/tta"
)

// ErrNotAvailable marks a method or model that this build or this machine cannot provide (a method package not
// linked in, a missing weights file): the report shows the row as "not available" with the error's text.
var ErrNotAvailable = errors.New("not available")

// Preset is a named configuration of a method: values for some of its parameters.
type Preset struct {
	// Name is the --preset value ("paper", "seed-memo-topk").
	Name string
	// Doc says what the configuration is, in the paper's words.
	Doc string
	// Set are the parameters the preset sets; the others keep their defaults.
	Set Values
}

// NoPreset is the preset name that Resolve takes for the parameters' own defaults, whatever DefaultPreset is; no
// spec may declare a preset of that name.
const NoPreset = "none"

// Spec describes one method: what it is, its parameters and how to build it.
type Spec struct {
	// Name is the method's name (--method, report rows): "tpt", "memo".
	Name string
	// Summary is one line for --help.
	Summary string
	// Paper cites the method's paper.
	Paper string
	// Params are the method's parameters with their paper defaults, in --help order.
	Params []Param
	// Presets are named configurations; DefaultPreset (one of them, or "" for the parameters' defaults) applies when
	// none is asked for.
	Presets       []Preset
	DefaultPreset string
	// Models are the model families the method needs ("clip", "resnet").
	Models []string
	// Online marks a method whose state carries from one example to the next (its adapter implements tta.Online):
	// it runs as a stream, and sharding is refused before any model is loaded.
	Online bool
	// Build makes the adapter and its view maker for a dataset's class names (in label order, the logits' order)
	// from resolved values (every parameter present and valid). Errors wrapping ErrNotAvailable mean a model is
	// missing.
	Build func(env *Env, classes []string, v Values) (tta.Adapter, tta.ViewMaker, error)
}

var (
	registryMu sync.RWMutex
	registry   = map[string]*Spec{}
)

// Register adds a method's spec; method packages call it from an init function. It panics on a duplicate name and
// on a spec whose defaults or presets are invalid (a programmer's error).
func Register(s *Spec) {
	if s.Name == "" || s.Build == nil {
		panic("method: Register needs a name and a Build function")
	}
	seen := map[string]bool{}
	for _, p := range s.Params {
		if seen[p.Key] {
			panic(fmt.Sprintf("method %s: parameter %q declared twice", s.Name, p.Key))
		}
		seen[p.Key] = true
		if _, err := p.normalize(p.Default); err != nil {
			panic(fmt.Sprintf("method %s: default: %v", s.Name, err))
		}
	}
	for _, pr := range s.Presets {
		if pr.Name == NoPreset || pr.Name == "" {
			panic(fmt.Sprintf("method %s: a preset may not be named %q", s.Name, pr.Name))
		}
		if _, err := s.Resolve(pr.Name, nil); err != nil {
			panic(err.Error())
		}
	}
	if s.DefaultPreset != "" && s.preset(s.DefaultPreset) == nil {
		panic(fmt.Sprintf("method %s: default preset %q is not among its presets", s.Name, s.DefaultPreset))
	}
	registryMu.Lock()
	defer registryMu.Unlock()
	if _, dup := registry[s.Name]; dup {
		panic("method: Register called twice for " + s.Name)
	}
	registry[s.Name] = s
}

// Lookup returns the spec of the method name; the error lists the registered methods.
func Lookup(name string) (*Spec, error) {
	registryMu.RLock()
	s, ok := registry[name]
	registryMu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("unknown method %q (one of %s)", name, strings.Join(Names(), ", "))
	}
	return s, nil
}

// All returns the registered specs sorted by name.
func All() []*Spec {
	registryMu.RLock()
	defer registryMu.RUnlock()
	out := make([]*Spec, 0, len(registry))
	for _, s := range registry {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Names returns the registered method names, sorted.
func Names() []string {
	var names []string
	for _, s := range All() {
		names = append(names, s.Name)
	}
	return names
}

// Param returns the parameter key, or nil.
func (s *Spec) Param(key string) *Param {
	for i := range s.Params {
		if s.Params[i].Key == key {
			return &s.Params[i]
		}
	}
	return nil
}

// Keys lists the parameter keys in declaration order.
func (s *Spec) Keys() []string {
	keys := make([]string, len(s.Params))
	for i, p := range s.Params {
		keys[i] = p.Key
	}
	return keys
}

// preset returns the preset name, or nil.
func (s *Spec) preset(name string) *Preset {
	for i := range s.Presets {
		if s.Presets[i].Name == name {
			return &s.Presets[i]
		}
	}
	return nil
}

// PresetNames lists the presets in declaration order.
func (s *Spec) PresetNames() []string {
	names := make([]string, len(s.Presets))
	for i, p := range s.Presets {
		names[i] = p.Name
	}
	return names
}

// Resolve returns the values of every parameter: the defaults, then the preset's values (preset "" means
// DefaultPreset), then overrides. It rejects unknown keys, values of the wrong type, out-of-range values and NaN or
// infinite floats, naming the method and the parameter ("method tpt: select 0: want 0 < select <= 1").
func (s *Spec) Resolve(preset string, overrides Values) (Values, error) {
	v := make(Values, len(s.Params))
	for _, p := range s.Params {
		v[p.Key] = p.Default
	}
	if preset == "" {
		preset = s.DefaultPreset
	}
	if preset != "" && preset != NoPreset {
		pr := s.preset(preset)
		if pr == nil {
			if len(s.Presets) == 0 {
				return nil, fmt.Errorf("method %s: unknown preset %q (it has none)", s.Name, preset)
			}
			return nil, fmt.Errorf("method %s: unknown preset %q (one of %s)", s.Name, preset,
				strings.Join(s.PresetNames(), ", "))
		}
		if err := s.set(v, pr.Set); err != nil {
			return nil, fmt.Errorf("method %s: preset %s: %w", s.Name, preset, err)
		}
	}
	if err := s.set(v, overrides); err != nil {
		return nil, fmt.Errorf("method %s: %w", s.Name, err)
	}
	return v, nil
}

// set validates and copies src into dst, in key order (so the first error is deterministic).
func (s *Spec) set(dst, src Values) error {
	keys := make([]string, 0, len(src))
	for k := range src {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		p := s.Param(k)
		if p == nil {
			return fmt.Errorf("unknown parameter %q (known: %s)", k, strings.Join(s.Keys(), ", "))
		}
		x, err := p.normalize(src[k])
		if err != nil {
			return err
		}
		dst[k] = x
	}
	return nil
}

// BuildWith resolves the values (Resolve) and builds the adapter (Spec.Build), naming the method in errors.
func (s *Spec) BuildWith(env *Env, preset string, overrides Values, classes []string) (tta.Adapter, tta.ViewMaker,
	Values, error) {
	v, err := s.Resolve(preset, overrides)
	if err != nil {
		return nil, nil, nil, err
	}
	a, vm, err := s.Build(env, classes, v)
	if err != nil {
		return nil, nil, v, fmt.Errorf("method %s: %w", s.Name, err)
	}
	return a, vm, v, nil
}

// Build looks up the method name and builds it on env for classes: the resolved values of preset and overrides,
// the adapter and its view maker.
func Build(env *Env, name, preset string, overrides Values, classes []string) (tta.Adapter, tta.ViewMaker, Values,
	error) {
	s, err := Lookup(name)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("%w: %w", ErrNotAvailable, err)
	}
	return s.BuildWith(env, preset, overrides, classes)
}
