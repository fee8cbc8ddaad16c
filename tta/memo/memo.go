package memo

import (
	"fmt"
	"math"
	"path"
	"sort"

	"github.com/gomlx/gomlx/backends"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph-building style.
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/pkg/errors"

	"github.com/gotta-ml/gotta/tta"
	"github.com/gotta-ml/gotta/tta/mcdropout"
	"github.com/gotta-ml/gotta/tta/nn"
	"github.com/gotta-ml/gotta/tta/resnet"
	"github.com/gotta-ml/gotta/tta/viewens"
)

// Mode is what the adapter does with an example's views.
type Mode int

const (
	// Adapt is MEMO: Steps of marginal-entropy minimisation, then the prediction on view 0.
	Adapt Mode = iota
	// CropEnsemble has no gradient: the mean softmax of the selected views (the seed project's "Cut ensemble"; its
	// "Baseline" is this with 1 view).
	CropEnsemble
	// MCDropout has no gradient: dropout (Options.Dropout) on the last stage's output of view 0, Samples times
	// (tta/mcdropout), and the mean softmax of the selected samples (the seed project's "Dropout").
	MCDropout
)

// String is the method name used in records: "memo", "memo-crop-ensemble" or "memo-mc-dropout".
func (m Mode) String() string {
	switch m {
	case Adapt:
		return "memo"
	case CropEnsemble:
		return "memo-crop-ensemble"
	case MCDropout:
		return "memo-mc-dropout"
	}
	return fmt.Sprintf("memo.Mode(%d)", int(m))
}

// Params says which variables MEMO adapts.
type Params int

const (
	// AllParams adapts every trainable variable: convolutions, batch-norm affine parameters, the classifier (MEMO).
	AllParams Params = iota
	// BNAffine adapts only the batch-norm scales and offsets (as TENT does).
	BNAffine
)

// String is "all" or "bn-affine".
func (p Params) String() string {
	if p == BNAffine {
		return "bn-affine"
	}
	return "all"
}

// PaperPrior is MEMO's batch-norm prior for ResNets, N/(N+1) with N = 16.
const PaperPrior = 16.0 / 17.0

// PaperLR is MEMO's SGD learning rate for ResNet-50 on ImageNet (with the prior).
const PaperLR = 2.5e-4

// Options configure the adapter. The zero value has the MEMO paper's hyper-parameters; PaperOptions also sets
// AugmentedOnly (the paper's batch).
type Options struct {
	// Mode is Adapt (default), CropEnsemble or MCDropout.
	Mode Mode
	// Select is the confidence-selection fraction rho: the floor(N rho) (at least 1) views of lowest entropy are
	// kept, recomputed at every step on the current weights (the seed project's MEMO). 0 means 1: all views (the
	// MEMO paper).
	Select float64
	// Prior is the batch-norm prior p in (0, 1] of every forward pass (adaptation and prediction); 1 is plain
	// inference batch norm. 0 means PaperPrior (16/17) for Adapt and 1 for the no-gradient modes (the seed
	// project's ensembles). The seed project's MEMO uses 0.94. In MCDropout the trunk runs once, so with p < 1 the
	// batch statistics are those of view 0 alone (unbiased over H x W), not of N identical copies (over N x H x W):
	// a negligible difference the seed never met (its dropout runs use p = 1).
	Prior float64
	// MemberPrior is the prior of ViewLogits, used when the adapter is a member of tta/ensemble's multi-model
	// ensemble. 0 means Prior. The seed project's ensemble runs its MEMO members with 1.
	MemberPrior float64
	// Optimizer updates the adapted variables (Adapt only). nil means SGD with lr PaperLR, no weight decay, no
	// momentum (the MEMO paper); the seed project: &tta.SGD{LR: 5e-3, WeightDecay: 1e-4}; tta.NewAdamW(lr) for AdamW.
	Optimizer tta.Optimizer
	// Params says which variables adapt (default AllParams).
	Params Params
	// Steps is the number of adaptation steps (Adapt only); 0 means 1.
	Steps int
	// Dropout is MC-dropout's drop probability (MCDropout only); 0 means 0.5 (the seed project's).
	Dropout float64
	// Samples is MC-dropout's number of dropout samples (MCDropout only; the seed project's 8 or 64 identity
	// views); 0 means the number of views given to Adapt.
	Samples int
	// AugmentedOnly adapts on views 1..N-1 only (Adapt mode): the MEMO paper's batch of B augmented copies, the
	// clean image (view 0) serving only the prediction; give N = B+1 views. Default false: view 0 is one of the
	// adaptation views and a selection candidate (the seed project). Selected indices still count view 0.
	AugmentedOnly bool
	// ClassSubset restricts the logits to these classes, in this order (e.g. ImageNet-A's 200); nil: all.
	ClassSubset []int
}

// PaperOptions is the MEMO paper's configuration for ResNet-50 (zhangmarvin/memo, imagenet-exps): the zero
// Options' defaults (SGD lr 2.5e-4, no weight decay, one step, all parameters, p = 16/17, all views) with
// AugmentedOnly, for 65 views (64 augmented copies + the clean view 0: PaperViewMaker). The paper's code re-draws
// the augmented copies at every step; here the views are fixed per example (no difference for its one step).
func PaperOptions() Options { return Options{AugmentedOnly: true}.withDefaults() }

// WithDefaults returns o with every default filled in: the options New runs with.
func (o Options) WithDefaults() Options { return o.withDefaults() }

func (o Options) withDefaults() Options {
	if o.Select == 0 {
		o.Select = 1
	}
	if o.Prior == 0 {
		o.Prior = PaperPrior
		if o.Mode != Adapt {
			o.Prior = 1
		}
	}
	if o.MemberPrior == 0 {
		o.MemberPrior = o.Prior
	}
	if o.Optimizer == nil {
		o.Optimizer = &tta.SGD{LR: PaperLR}
	}
	if o.Steps == 0 {
		o.Steps = 1
	}
	if o.Dropout == 0 {
		o.Dropout = 0.5
	}
	return o
}

// Validate reports options that cannot run.
func (o Options) Validate() error {
	o = o.withDefaults()
	switch {
	case o.Mode < Adapt || o.Mode > MCDropout:
		return fmt.Errorf("memo: unknown mode %d", int(o.Mode))
	case o.Select <= 0 || o.Select > 1:
		return fmt.Errorf("memo: Select (rho) %g is outside (0, 1]", o.Select)
	case o.Prior <= 0 || o.Prior > 1 || o.MemberPrior <= 0 || o.MemberPrior > 1:
		return fmt.Errorf("memo: priors %g, %g must lie in (0, 1]", o.Prior, o.MemberPrior)
	case o.Steps < 0:
		return fmt.Errorf("memo: Steps %d is negative", o.Steps)
	case o.Dropout < 0 || o.Dropout >= 1:
		return fmt.Errorf("memo: Dropout %g is outside [0, 1)", o.Dropout)
	case o.Samples < 0:
		return fmt.Errorf("memo: Samples %d is negative", o.Samples)
	case o.Params != AllParams && o.Params != BNAffine:
		return fmt.Errorf("memo: unknown Params %d", int(o.Params))
	}
	return nil
}

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
	if a.step == nil {
		var err error
		a.step, err = context.NewExec(a.backend, a.ctx, a.stepGraph)
		if err != nil {
			return tta.StepReport{}, 0, nil, err
		}
	}
	outs, err := a.step.Exec(x)
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
	onehot := SelectionMatrix(StopGradient(tta.ViewEntropies(logits)), k) // [k, N]
	selLogits := logits
	if k < n {
		selLogits = nn.MatMul(onehot, logits) // [k, C]
	}
	loss := tta.MarginalEntropy(selLogits)
	entAll := tta.MarginalEntropy(StopGradient(logits))
	selected := nn.MatMul(onehot, Iota(g, shapes.Make(logits.DType(), n, 1), 0)) // [k, 1]
	grads := Gradient(loss, params...)
	a.opts.Optimizer.Step(ctx, a.vars, grads)
	return []*Node{loss, entAll, Reshape(selected, k), StopGradient(logits)}
}

// SelectionMatrix is confidence selection inside a graph: given the views' entropies [N], it returns the one-hot
// matrix [k, N] whose row r picks the view of rank r in ascending entropy (ties: the lower index first, as
// tta.ConfidenceSelect), so MatMul(SelectionMatrix(h, k), logits) is the selected views' logits [k, C].
func SelectionMatrix(entropies *Node, k int) *Node {
	if entropies.Rank() != 1 {
		panicf("memo.SelectionMatrix: entropies must be [views], got %s", entropies.Shape())
	}
	n := entropies.Shape().Dimensions[0]
	if k < 1 || k > n {
		panicf("memo.SelectionMatrix: k = %d is outside [1, %d]", k, n)
	}
	g := entropies.Graph()
	dt := entropies.DType()
	hi := Reshape(entropies, n, 1) // [N(i), 1]
	hj := Reshape(entropies, 1, n) // [1, N(j)]
	jBeforeI := make([][]bool, n)
	for i := range jBeforeI {
		jBeforeI[i] = make([]bool, n)
		for j := 0; j < i; j++ {
			jBeforeI[i][j] = true
		}
	}
	// View j ranks before view i when h_j < h_i, or h_j == h_i and j < i: [N(i), N(j)].
	before := LogicalOr(LessThan(hj, hi), LogicalAnd(Equal(hj, hi), Const(g, jBeforeI)))
	rank := ReduceSum(ConvertDType(before, dt), 1)            // [N]
	rows := Iota(g, shapes.Make(dt, k, 1), 0)                 // [k, 1]
	return ConvertDType(Equal(Reshape(rank, 1, n), rows), dt) // [k, N]
}

// Logits returns the logits [n, classes] (over ClassSubset when set) of the views x [n, H, W, 3] with batch-norm
// prior p, with the current (possibly adapted) weights. Executables are compiled once per prior and shape.
func (a *Adapter) Logits(x *tensors.Tensor, prior float64) ([][]float32, error) {
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
	outs, err := e.Exec(x)
	if err != nil {
		return nil, err
	}
	return outs[0].Value().([][]float32), nil
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

// sortedCopy is a sorted copy of ints (for comparisons in tests and reports).
func sortedCopy(xs []int) []int {
	out := append([]int(nil), xs...)
	sort.Ints(out)
	return out
}

// panicf panics with an error carrying a stack trace, as GoMLX graph functions do.
func panicf(format string, args ...any) {
	panic(errors.Errorf(format, args...))
}
