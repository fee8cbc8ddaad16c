package clip

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strings"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/dtypes/bfloat16"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gotta-ml/gotta/tta/nn"
	"github.com/gotta-ml/gotta/tta/weights"
)

// f32 is the default compute dtype.
const f32 = dtypes.Float32

// DefaultScope is the absolute context scope under which Load creates the model's variables.
const DefaultScope = "/clip"

// LoadOpts configures Load. The zero value loads float32 variables under DefaultScope.
type LoadOpts struct {
	// DType of the variables and of the computation: dtypes.Float32 (default, also for the zero value) or
	// dtypes.BFloat16 (LayerNorm statistics and the outputs stay float32). Files may store F32, F16 or BF16.
	DType dtypes.DType
	// Scope is the absolute context scope of the variables; default DefaultScope ("/clip").
	Scope string
	// Trainable marks the loaded variables trainable (default false: CLIP is frozen; methods such as TPT add their
	// own variables).
	Trainable bool
}

// Model is a CLIP model whose weights live in a GoMLX context. Its graph methods (EncodeImage, EncodeText,
// EncodeTextEmbeddings, TokenEmbeddingTable, Logits) take the context to read the variables from: Ctx, or any
// context sharing Ctx's variables (a clone made by an adapter).
type Model struct {
	// Config is the architecture, derived from the file's tensor shapes and metadata.
	Config Config
	// Path is the weights file the model was loaded from.
	Path string
	// Ctx is the context holding the variables (under Scope).
	Ctx *context.Context
	// Scope is the absolute scope of the variables in Ctx.
	Scope string
	// DType is the dtype of the variables and of the computation.
	DType dtypes.DType
	// Impl is the tta/nn implementation of the convolutions, pools and slices; default nn.ImplAuto (portable
	// gradients on the pure-Go backend, native ops elsewhere).
	Impl nn.Impl
	// NativeMatMulGradient makes the matrix products use Impl too. By default (false) they use nn.ImplPortable on
	// every backend: the same forward op, with a gradient of two matrix products instead of GoMLX v0.26.0's
	// broadcast product, which on an H100 made the CLIP text tower's forward+gradient (200 prompts x 20 tokens,
	// 12 layers) compile for more than 65 s against 5.3 s (and 16 ms per step) with the portable gradient.
	NativeMatMulGradient bool
}

// Load reads a CLIP weights file (safetensors, OpenAI/open_clip or Hugging Face CLIPModel names; F32, F16 or BF16)
// into a fresh context. Loading is strict: a tensor the model needs that is missing or mis-shaped, or a tensor of
// the file that the model does not use, is an error naming it (only known inference-free buffers are skipped:
// BatchNorm num_batches_tracked, OpenAI's input_resolution/context_length/vocab_size scalars, HF's position_ids).
func Load(path string, opts LoadOpts) (*Model, error) {
	return LoadInto(context.New(), path, opts)
}

// LoadInto is Load into an existing context (under opts.Scope, which must not hold variables yet).
func LoadInto(ctx *context.Context, path string, opts LoadOpts) (*Model, error) {
	if opts.DType == dtypes.InvalidDType {
		opts.DType = f32
	}
	if opts.DType != dtypes.Float32 && opts.DType != dtypes.BFloat16 {
		return nil, fmt.Errorf("clip.Load %s: DType %s not supported (Float32 or BFloat16)", path, opts.DType)
	}
	if opts.Scope == "" {
		opts.Scope = DefaultScope
	}
	if !strings.HasPrefix(opts.Scope, "/") {
		return nil, fmt.Errorf("clip.Load %s: Scope %q must be absolute (start with /)", path, opts.Scope)
	}
	f, err := weights.Open(path)
	if err != nil {
		return nil, fmt.Errorf("clip.Load: %w", err)
	}
	defer func() { _ = f.Close() }()
	shapes := map[string][]int{}
	for _, n := range f.Names() {
		info, _ := f.Info(n)
		shapes[n] = info.Shape
	}
	cfg, err := DeriveConfig(shapes, f.Metadata())
	if err != nil {
		return nil, fmt.Errorf("clip.Load %s: %w", path, err)
	}
	values, err := readTable(weights.NewLoader(f), buildTable(cfg), shapes)
	if err != nil {
		return nil, fmt.Errorf("clip.Load %s (%s): %w", path, cfg, err)
	}
	return newModel(ctx, cfg, path, values, opts)
}

// newModel creates the variables of values in ctx under opts.Scope.
func newModel(ctx *context.Context, cfg Config, path string, values []hostValue, opts LoadOpts) (*Model, error) {
	m := &Model{Config: cfg, Path: path, Ctx: ctx, Scope: opts.Scope, DType: opts.DType}
	root := ctx.InAbsPath(opts.Scope).Checked(false)
	for _, v := range values {
		c := root
		if v.scope != "" {
			for _, s := range strings.Split(v.scope, "/") {
				c = c.In(s)
			}
		}
		if c.GetVariable(v.name) != nil {
			return nil, fmt.Errorf("clip: %s: variable %s/%s already exists in the context", path, c.Scope(), v.name)
		}
		t := tensors.FromFlatDataAndDimensions(v.data, v.shape...)
		if opts.DType != f32 {
			t = convertTensor(t, opts.DType)
		}
		c.VariableWithValue(v.name, t).SetTrainable(opts.Trainable)
	}
	return m, nil
}

// hostValue is a variable's value computed on the host.
type hostValue struct {
	scope, name string
	shape       []int
	data        []float32
}

// readTable takes every tensor of the table from the loader (strictly) and applies the ops.
func readTable(l *weights.Loader, t *table, shapes map[string][]int) ([]hostValue, error) {
	cache := map[string][]float32{}
	var out []hostValue
	for _, e := range t.entries {
		data, ok := cache[e.src]
		if !ok {
			tt, err := l.Take(e.src, e.srcShape, f32)
			if err != nil {
				return nil, err
			}
			data = tensors.MustCopyFlatData[float32](tt)
			cache[e.src] = data
		}
		vs := e.varShape()
		out = append(out, hostValue{scope: e.scope, name: e.name, shape: vs, data: applyOp(e, data)})
	}
	var skip []string
	for n, s := range shapes {
		if ignorable(n, s) {
			skip = append(skip, n)
		}
	}
	sort.Strings(skip)
	if err := l.Skip(skip...); err != nil {
		return nil, err
	}
	if err := l.Finish(); err != nil {
		return nil, err
	}
	return out, nil
}

// applyOp turns the file's float32 data of e.src into the variable's data.
func applyOp(e entry, src []float32) []float32 {
	s := e.srcShape
	switch e.op {
	case opT:
		return transpose2D(src, s[0], s[1])
	case opConv:
		o, i, kh, kw := s[0], s[1], s[2], s[3]
		dst := make([]float32, len(src))
		for a := 0; a < o; a++ {
			for b := 0; b < i; b++ {
				for y := 0; y < kh; y++ {
					for x := 0; x < kw; x++ {
						dst[((y*kw+x)*i+b)*o+a] = src[((a*i+b)*kh+y)*kw+x]
					}
				}
			}
		}
		return dst
	case opRowsT:
		n := s[1]
		return transpose2D(src[e.part*n*n:(e.part+1)*n*n], n, n)
	case opSeg:
		n := s[0] / 3
		return append([]float32(nil), src[e.part*n:(e.part+1)*n]...)
	}
	return src
}

// transpose2D transposes a row-major [rows, cols] matrix.
func transpose2D(src []float32, rows, cols int) []float32 {
	dst := make([]float32, len(src))
	for r := 0; r < rows; r++ {
		for c := 0; c < cols; c++ {
			dst[c*rows+r] = src[r*cols+c]
		}
	}
	return dst
}

// convertTensor converts a float32 host tensor to dtype dt (BFloat16).
func convertTensor(t *tensors.Tensor, dt dtypes.DType) *tensors.Tensor {
	data := tensors.MustCopyFlatData[float32](t)
	out := tensors.FromShape(shapes.Make(dt, t.Shape().Dimensions...))
	out.MustMutableFlatData(func(flat any) {
		switch dst := flat.(type) {
		case []bfloat16.BFloat16:
			for i, v := range data {
				dst[i] = weights.BF16FromFloat32(v)
			}
		default:
			panic(fmt.Sprintf("clip: conversion to %s not supported", dt))
		}
	})
	return out
}

// NewRandom creates a model of config c (OpenAI naming) with random weights in ctx, for benchmarks and for tests
// of code built on CLIP: convolutions and Linear layers normal with std sqrt(1/fan_in) (convs sqrt(2/fan_in)),
// embeddings std 0.02, BatchNorm identity (weight 1, bias 0, mean 0, var 1), LayerNorm weight 1 bias 0,
// logit_scale ln(100). Deterministic for a seed.
func NewRandom(ctx *context.Context, c Config, seed int64, opts LoadOpts) (*Model, error) {
	c.Naming = NamingOpenAI
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if opts.DType == dtypes.InvalidDType {
		opts.DType = f32
	}
	if opts.DType != dtypes.Float32 && opts.DType != dtypes.BFloat16 {
		return nil, fmt.Errorf("clip.NewRandom: DType %s not supported (Float32 or BFloat16)", opts.DType)
	}
	if opts.Scope == "" {
		opts.Scope = DefaultScope
	}
	rng := rand.New(rand.NewPCG(uint64(seed), 0x5eed))
	var values []hostValue
	for _, e := range buildTable(c).entries {
		shape := e.varShape()
		n := 1
		for _, d := range shape {
			n *= d
		}
		data := make([]float32, n)
		std := 0.02
		switch {
		case e.name == "running_var" || (e.name == "weight" && len(shape) == 1):
			for i := range data {
				data[i] = 1
			}
			std = 0
		case e.name == "running_mean" || strings.HasSuffix(e.name, "bias"):
			std = 0
		case e.name == "logit_scale":
			data[0] = float32(math.Log(100))
			std = 0
		case e.op == opConv:
			std = math.Sqrt(2 / float64(shape[0]*shape[1]*shape[2]))
		case e.op == opT || e.op == opRowsT || e.name == "proj" || e.name == "text_projection":
			std = math.Sqrt(1 / float64(shape[0]))
		}
		if std > 0 {
			for i := range data {
				data[i] = float32(rng.NormFloat64() * std)
			}
		}
		values = append(values, hostValue{scope: e.scope, name: e.name, shape: shape, data: data})
	}
	return newModel(ctx, c, "(random)", values, opts)
}
