package memo

import (
	"fmt"
	"math"
	"path"
	"time"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph-building style.
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/gotta-ml/gotta/tta"
	"github.com/gotta-ml/gotta/tta/mcdropout"
	"github.com/gotta-ml/gotta/tta/nn"
	"github.com/gotta-ml/gotta/tta/resnet"
	"github.com/gotta-ml/gotta/tta/viewens"
)

// Adapter is MEMO (or one of its no-gradient ensembles) on a torchvision ResNet; it implements tta.Adapter.
type Adapter struct {
	opts    Options
	backend backends.Backend
	ctx     *context.Context
	model   *resnet.Model
	vars    []*context.Variable
	episode *tta.Episode // the adapted variables and the optimizer state, restored on the device

	step   *context.Exec             // Adapt: views [N,H,W,3] -> loss, marginal entropy of all views, selected, logits
	logits map[float64]*context.Exec // prior -> views [n,H,W,3] -> logits [n,C]
	mc     *mcdropout.Model          // MCDropout's sampler
}

// New returns the adapter for model m, whose variables live in ctx (the context given to resnet.Load or Init). The
// adapted variables are snapshotted now; Reset restores them.
func New(b backends.Backend, ctx *context.Context, m *resnet.Model, opts Options) (*Adapter, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	opts = opts.withDefaults()
	for i, c := range opts.ClassSubset {
		if c < 0 || c >= m.Config.NumClasses {
			return nil, fmt.Errorf("memo: ClassSubset[%d] = %d is outside [0, %d)", i, c, m.Config.NumClasses)
		}
	}
	a := &Adapter{opts: opts, backend: b, ctx: ctx, model: m, logits: map[float64]*context.Exec{}}
	var err error
	if a.vars, err = adaptedVariables(ctx, m, opts.Params); err != nil {
		return nil, err
	}
	if a.episode, err = tta.NewEpisode(b, ctx, opts.Optimizer, a.vars...); err != nil {
		return nil, fmt.Errorf("memo: %w", err)
	}
	if opts.Mode == MCDropout {
		a.mc, err = mcdropout.New(b, ctx, m, mcdropout.Options{Dropout: opts.Dropout, Samples: opts.Samples,
			Prior: opts.Prior, ClassSubset: opts.ClassSubset})
		if err != nil {
			return nil, fmt.Errorf("memo: %w", err)
		}
	}
	return a, nil
}

// adaptedVariables lists the variables of m that Params adapts, in the model's tensor order.
func adaptedVariables(ctx *context.Context, m *resnet.Model, p Params) ([]*context.Variable, error) {
	var vars []*context.Variable
	for _, ts := range m.Config.Tensors() {
		if ts.Kind == resnet.RunningStat || (p == BNAffine && (ts.Kind != resnet.Vector || ts.Scope == "fc")) {
			continue
		}
		scope := path.Join(ctx.Scope(), ts.Scope)
		v := ctx.GetVariableByScopeAndName(scope, ts.Var)
		if v == nil {
			return nil, fmt.Errorf("memo: the context has no variable %s/%s (tensor %s): load the model into it first",
				scope, ts.Var, ts.Name)
		}
		vars = append(vars, v)
	}
	return vars, nil
}

// Name implements tta.Adapter: the mode's name ("memo", "memo-crop-ensemble", "memo-mc-dropout").
func (a *Adapter) Name() string { return a.opts.Mode.String() }

// Options returns the effective options (defaults filled in).
func (a *Adapter) Options() Options { return a.opts }

// Config implements tta.Adapter.
func (a *Adapter) Config() map[string]any {
	o := a.opts
	c := map[string]any{"mode": o.Mode.String(), "select": o.Select, "bn_prior": o.Prior,
		"member_bn_prior": o.MemberPrior, "model": a.model.Config.String(), "weights": a.model.Source,
		"class_subset": len(o.ClassSubset), "augmented_only": o.AugmentedOnly}
	switch o.Mode {
	case Adapt:
		c["steps"], c["params"], c["optimizer"] = o.Steps, o.Params.String(), o.Optimizer.Config()
	case MCDropout:
		c["dropout"], c["samples"] = o.Dropout, o.Samples
	}
	return c
}

// Reset implements tta.Adapter: it restores the adapted variables and zeroes the optimizer state.
func (a *Adapter) Reset() error {
	if err := a.episode.Restore(); err != nil {
		return fmt.Errorf("memo: %w", err)
	}
	return nil
}

// Adapt implements tta.Adapter: v.Images is [N, H, W, 3], preprocessed for the model, view 0 the un-augmented
// image. It does not reset (the evaluation runner calls Reset before every example).
func (a *Adapter) Adapt(v *tta.Views) (*tta.Prediction, error) {
	if v == nil || v.Images == nil {
		return nil, fmt.Errorf("memo: no views")
	}
	x := v.Images
	if x.Rank() != 4 || x.Shape().Dimensions[3] != 3 {
		return nil, fmt.Errorf("memo: views of %q must be [N, H, W, 3], got %s", v.ExampleID, x.Shape())
	}
	if a.opts.Mode == Adapt {
		return a.adapt(v)
	}
	logits, err := a.ViewLogitsHost(v)
	if err != nil {
		return nil, err
	}
	return viewens.Predict(logits, a.opts.Select), nil
}

// ViewLogitsHost implements viewens.Model for the no-gradient modes: the logits [N][C] of v's views with the
// prior (CropEnsemble), or of the dropout samples of view 0 (MCDropout).
func (a *Adapter) ViewLogitsHost(v *tta.Views) ([][]float32, error) {
	if v == nil || v.Images == nil {
		return nil, fmt.Errorf("memo: no views")
	}
	if a.mc != nil {
		return a.mc.ViewLogitsHost(v)
	}
	logits, err := a.Logits(v.Images, a.opts.Prior)
	if err != nil {
		return nil, fmt.Errorf("memo: example %q: %w", v.ExampleID, err)
	}
	return logits, nil
}

// adapt runs the MEMO steps and predicts on view 0 with the prior.
func (a *Adapter) adapt(v *tta.Views) (*tta.Prediction, error) {
	pred := &tta.Prediction{EntropyBefore: math.NaN()}
	x := v.Images
	if a.opts.AugmentedOnly {
		var err error
		if x, err = Views(v.Images, 1, v.Images.Shape().Dimensions[0]); err != nil {
			return nil, fmt.Errorf("memo: example %q: AugmentedOnly needs at least 2 views: %w", v.ExampleID, err)
		}
	}
	for s := range a.opts.Steps {
		rep, entAll, _, err := a.Step(x)
		if err != nil {
			return nil, fmt.Errorf("memo: example %q step %d: %w", v.ExampleID, s, err)
		}
		rep.Step = s
		if a.opts.AugmentedOnly {
			for i := range rep.Selected {
				rep.Selected[i]++
			}
		}
		if s == 0 {
			pred.EntropyBefore, pred.Selected = entAll, rep.Selected
		}
		pred.Steps = append(pred.Steps, rep)
	}
	x0, err := View(v.Images, 0)
	if err != nil {
		return nil, fmt.Errorf("memo: example %q: %w", v.ExampleID, err)
	}
	logits, err := a.Logits(x0, a.opts.Prior)
	if err != nil {
		return nil, fmt.Errorf("memo: example %q: %w", v.ExampleID, err)
	}
	pred.Logits = logits[0]
	pred.EntropyAfter = tta.EntropyOfLogits(pred.Logits)
	return pred, nil
}

// Step runs one MEMO step on views x [N, H, W, 3] with the options' prior, selection and optimizer, updating the
// adapted variables. It returns the step report (Loss: the marginal entropy of the selected views before the
// update; Selected: their indices in ascending-entropy order, all N views when rho = 1), the marginal entropy of
// all N views, and the logits [N, classes] of the views before the update.
func (a *Adapter) Step(x *tensors.Tensor) (tta.StepReport, float64, [][]float32, error) {
	step, err := a.stepExec()
	if err != nil {
		return tta.StepReport{}, 0, nil, err
	}
	outs, err := step.Exec(x)
	if err != nil {
		return tta.StepReport{}, 0, nil, err
	}
	loss := tensors.ToScalar[float32](outs[0])
	entAll := tensors.ToScalar[float32](outs[1])
	selF := outs[2].Value().([]float32)
	sel := make([]int, len(selF))
	for i, s := range selF {
		sel[i] = int(math.Round(float64(s)))
	}
	logits := outs[3].Value().([][]float32)
	return tta.StepReport{Loss: float64(loss), Selected: sel}, float64(entAll), logits, nil
}

// stepGraph: views [N, H, W, 3] -> loss (scalar), marginal entropy of all views (scalar), selected view indices
// [k] (float32, ascending entropy), logits [N, C]; it updates the adapted variables with the optimizer.
func (a *Adapter) stepGraph(ctx *context.Context, x *Node) []*Node {
	g := x.Graph()
	params := make([]*Node, len(a.vars))
	for i, v := range a.vars {
		params[i] = v.ValueGraph(g)
	}
	logits := a.model.Logits(ctx, x, resnet.ForwardOpts{BNPrior: a.opts.Prior, ClassSubset: a.opts.ClassSubset})
	n := logits.Shape().Dimensions[0]
	k := tta.SelectCount(n, a.opts.Select)
	onehot, idx := tta.ConfidenceSelect(StopGradient(tta.ViewEntropies(logits)), k) // [k, N], [k]
	selLogits := logits
	if k < n {
		selLogits = nn.MatMul(onehot, logits) // [k, C]
	}
	loss := tta.MarginalEntropy(selLogits)
	entAll := tta.MarginalEntropy(StopGradient(logits))
	selected := ConvertDType(idx, logits.DType()) // [k]
	grads := Gradient(loss, params...)
	a.opts.Optimizer.Step(ctx, a.vars, grads)
	return []*Node{loss, entAll, Reshape(selected, k), StopGradient(logits)}
}

// Logits returns the logits [n, classes] (over ClassSubset when set) of the views x [n, H, W, 3] with batch-norm
// prior p, with the current (possibly adapted) weights. Executables are compiled once per prior and shape.
func (a *Adapter) Logits(x *tensors.Tensor, prior float64) ([][]float32, error) {
	e, err := a.logitsExec(prior)
	if err != nil {
		return nil, err
	}
	outs, err := e.Exec(x)
	if err != nil {
		return nil, err
	}
	return outs[0].Value().([][]float32), nil
}

// stepExec returns the step's executable, made on first use.
func (a *Adapter) stepExec() (*context.Exec, error) {
	if a.step == nil {
		var err error
		if a.step, err = context.NewExec(a.backend, a.ctx, a.stepGraph); err != nil {
			return nil, err
		}
	}
	return a.step, nil
}

// logitsExec returns the executable of the logits with prior p, made on first use.
func (a *Adapter) logitsExec(prior float64) (*context.Exec, error) {
	e := a.logits[prior]
	if e == nil {
		var err error
		e, err = context.NewExec(a.backend, a.ctx, func(ctx *context.Context, x *Node) *Node {
			return a.model.Logits(ctx, x, resnet.ForwardOpts{BNPrior: prior, ClassSubset: a.opts.ClassSubset})
		})
		if err != nil {
			return nil, err
		}
		a.logits[prior] = e
	}
	return e, nil
}

// Precompile compiles, concurrently (tta.PrecompileContext), the executables Adapt runs on n views of size x size
// pixels, so that the first example pays no compile time: the step on the n views (n-1 with AugmentedOnly) and the
// prediction on view 0 (Adapt), or the logits of the n views (CropEnsemble). MCDropout compiles on first use. It
// returns the compile wall time; nothing is executed and no variable changes.
func (a *Adapter) Precompile(n, size int) (time.Duration, error) {
	views := func(k int) *tensors.Tensor { return tensors.FromShape(shapes.Make(dtypes.Float32, k, size, size, 3)) }
	var jobs []func() error
	switch a.opts.Mode {
	case Adapt:
		step, err := a.stepExec()
		if err != nil {
			return 0, err
		}
		pred, err := a.logitsExec(a.opts.Prior)
		if err != nil {
			return 0, err
		}
		k := n
		if a.opts.AugmentedOnly {
			k = n - 1
		}
		jobs = append(jobs, func() error { return step.PreCompile(views(k)) },
			func() error { return pred.PreCompile(views(1)) })
	case CropEnsemble:
		e, err := a.logitsExec(a.opts.Prior)
		if err != nil {
			return 0, err
		}
		jobs = append(jobs, func() error { return e.PreCompile(views(n)) })
	}
	d, err := tta.PrecompileContext(a.ctx, jobs...)
	if err != nil {
		return d, fmt.Errorf("memo: precompile for %d views of %dx%d: %w", n, size, size, err)
	}
	return d, nil
}

// View returns view i of x [N, H, W, 3] as a tensor [1, H, W, 3].
func View(x *tensors.Tensor, i int) (*tensors.Tensor, error) { return Views(x, i, i+1) }

// Views returns views from..to-1 of x [N, H, W, 3] as a tensor [to-from, H, W, 3].
func Views(x *tensors.Tensor, from, to int) (*tensors.Tensor, error) {
	if x.Rank() != 4 || from < 0 || to > x.Shape().Dimensions[0] || from >= to {
		return nil, fmt.Errorf("memo.Views: views %d..%d of a tensor %s", from, to-1, x.Shape())
	}
	idx := make([]int, to-from)
	for i := range idx {
		idx[i] = from + i
	}
	out, err := tta.PickViews(x, idx)
	if err != nil {
		return nil, fmt.Errorf("memo.Views: %w", err)
	}
	return out, nil
}
