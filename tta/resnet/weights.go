package resnet

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/gotta-ml/gotta/tta/weights"
)

// LoadConfig derives the architecture from the tensor shapes of a torchvision-named state dict (see
// ConfigFromShapes). Errors name the file and the tensor.
func LoadConfig(f *weights.File) (Config, error) {
	return ConfigFromShapes(f.Path(), fileShapes(f))
}

func fileShapes(f *weights.File) map[string][]int {
	shapes := map[string][]int{}
	for _, name := range f.Names() {
		info, _ := f.Info(name)
		shapes[name] = info.Shape
	}
	return shapes
}

// Load reads a torchvision ResNet / ResNeXt state dict (safetensors; F32, F16 or BF16, computed in float32) into
// ctx and returns the model. The architecture is derived from the tensor shapes (LoadConfig). Loading is strict:
// a missing tensor, a tensor no module uses, or one with the wrong shape is an error naming the file and the
// tensor; BN num_batches_tracked tensors are accepted and ignored. Existing variables of the same shape are
// overwritten (so a model can be reset by loading again).
//
// Usage:
//
//	ctx := context.New()
//	m, err := resnet.Load(ctx, "resnet50.tv_in1k.safetensors")
//	logits := m.Logits(ctx, x, resnet.ForwardOpts{}) // inside a graph function; x [N, 224, 224, 3]
func Load(ctx *context.Context, path string) (*Model, error) {
	f, err := weights.Open(path)
	if err != nil {
		return nil, fmt.Errorf("resnet.Load: %w", err)
	}
	defer func() { _ = f.Close() }()
	cfg, err := LoadConfig(f)
	if err != nil {
		return nil, err
	}
	if err := cfg.checkShapes(path, fileShapes(f)); err != nil {
		return nil, err
	}
	l := weights.NewLoader(f)
	values := make(map[string]*tensors.Tensor)
	for _, t := range cfg.Tensors() {
		var v *tensors.Tensor
		switch t.Kind {
		case ConvKernel:
			v, err = l.Transposed(t.Name, t.Shape, weights.OIHWToHWIO, dtypes.Float32)
		case LinearWeight:
			v, err = l.Transposed(t.Name, t.Shape, []int{1, 0}, dtypes.Float32)
		default:
			v, err = l.Take(t.Name, t.Shape, dtypes.Float32)
		}
		if err != nil {
			return nil, fmt.Errorf("resnet.Load: %w", err)
		}
		values[t.Name] = v
	}
	for _, name := range f.Names() {
		if isNumBatchesTracked(name) {
			if err := l.Skip(name); err != nil {
				return nil, fmt.Errorf("resnet.Load: %w", err)
			}
		}
	}
	if err := l.Finish(); err != nil {
		return nil, fmt.Errorf("resnet.Load: %w", err)
	}
	m := &Model{Config: cfg, Source: path}
	if err := m.setVariables(ctx, values); err != nil {
		return nil, fmt.Errorf("resnet.Load: %s: %w", path, err)
	}
	return m, nil
}

// Init fills ctx with random weights for m's configuration, deterministic in seed: convolutions with He (kaiming
// normal, fan-out) initialisation as torchvision, BN scale 1, offset 0, running mean 0, variance 1, and fc uniform
// in +-1/sqrt(in). For tests and benchmarks.
func (m *Model) Init(ctx *context.Context, seed uint64) error {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	values := make(map[string]*tensors.Tensor)
	for _, t := range m.Config.Tensors() {
		shape := t.VarShape()
		n := 1
		for _, d := range shape {
			n *= d
		}
		data := make([]float32, n)
		switch {
		case t.Kind == ConvKernel:
			std := math.Sqrt(2 / float64(t.Shape[0]*t.Shape[2]*t.Shape[3]))
			for i := range data {
				data[i] = float32(rng.NormFloat64() * std)
			}
		case t.Name == "fc.weight" || t.Name == "fc.bias":
			bound := 1 / math.Sqrt(float64(m.Config.FeatureDim()))
			for i := range data {
				data[i] = float32((2*rng.Float64() - 1) * bound)
			}
		case t.Var == "weight" || t.Var == "running_var":
			for i := range data {
				data[i] = 1
			}
		}
		values[t.Name] = tensors.FromFlatDataAndDimensions(data, shape...)
	}
	return m.setVariables(ctx, values)
}

// setVariables stores values (by torchvision name) into the context variables of m's configuration.
func (m *Model) setVariables(ctx *context.Context, values map[string]*tensors.Tensor) error {
	for _, t := range m.Config.Tensors() {
		v, ok := values[t.Name]
		if !ok {
			return fmt.Errorf("no value for tensor %q", t.Name)
		}
		scoped := inScope(ctx, t.Scope)
		if old := ctx.GetVariableByScopeAndName(scoped.Scope(), t.Var); old != nil {
			if !old.Shape().Equal(v.Shape()) {
				return fmt.Errorf("variable %s/%s exists with shape %s, tensor %q has %s", scoped.Scope(), t.Var,
					old.Shape(), t.Name, v.Shape())
			}
			if err := old.SetValue(v); err != nil {
				return fmt.Errorf("setting variable for tensor %q: %w", t.Name, err)
			}
			old.SetTrainable(t.Kind != RunningStat)
			continue
		}
		scoped.Checked(false).VariableWithValue(t.Var, v).SetTrainable(t.Kind != RunningStat)
	}
	return nil
}

func isNumBatchesTracked(name string) bool {
	const suffix = ".num_batches_tracked"
	return len(name) > len(suffix) && name[len(name)-len(suffix):] == suffix
}

// inScope descends ctx into a "/"-separated scope path ("layer1/0/conv1").
func inScope(ctx *context.Context, path string) *context.Context {
	for _, p := range strings.Split(path, "/") {
		ctx = ctx.In(p)
	}
	return ctx
}
