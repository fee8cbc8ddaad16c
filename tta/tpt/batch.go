package tpt

import (
	"fmt"
	"sync"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gotta-ml/gotta/tta"
	"github.com/gotta-ml/gotta/tta/clip"
	"github.com/gotta-ml/gotta/tta/viewens"
)

// Throughput mode: TPT on B independent examples in one executable (Adapter.Batched). Each example keeps its own
// learnable context (a variable [B, NCtx, W]), its own AdamW moments (AdamW is element-wise, so the moments of a
// [B, ...] variable are B independent states; the step count is shared and equal for all), and its own confidence
// selection, made in the graph. The executable takes the B examples' views as B inputs [N, R, R, 3] (host views, or
// device views still on the device) and runs, without a host wait:
//
//	image tower on [B*N] views -> features [B, N, E], logits with the initial prompt [B, N, C]
//	-> view entropies [B, N] (float64, as the host computes them) -> selection [B, k] -> selected features [B, k, E]
//	-> Steps x (text tower over the B contexts [B, C, E], marginal entropy [B] (minus lambda ATFD [B] for C-TPT),
//	   gradient, AdamW) -> view 0's logits with the tuned contexts [B, C]
//
// The records equal those of one example at a time (Reset, Adapt): the same selection, the losses and logits up to
// float32 rounding. A last batch shorter than B is padded with copies of its last example's views, so one
// executable serves the run; the padded episodes are independent of the others and their results are dropped.
//
// Not batched: the seed's alignment (AlignSteps: it adapts the image tower, shared by the batch), Reselect, and more
// than MaxBatchSteps steps (the steps are unrolled into the executable). Ensemble mode batches its image tower
// (ViewLogitsHostBatch, through viewens). MEMO has no batched path: B examples would need B copies of a ResNet-50's
// adapted weights.

// MaxBatchSteps is the most AdamW steps per example the batched path unrolls into its executable.
const MaxBatchSteps = 16

// Batch is TPT's batched path for batches of a fixed size: a tta.BatchAdapter made by Adapter.Batched.
type Batch struct {
	a       *Adapter
	size    int
	ctxVar  *context.Variable // [B, NCtx, W] or [B, C, NCtx, W]; nil without steps
	opt     *tta.AdamW
	episode *tta.Episode
	exec    *context.Exec
}

// batches holds an adapter's batched paths, one per size.
type batches struct {
	mu     sync.Mutex
	bySize map[int]*Batch
	logits *context.Exec // ViewLogitsHostBatch's executable
}

// Batched implements tta.Batcher: TPT's batched path for batches of size examples (the same *Batch for the same
// size). Errors wrap tta.ErrNoBatch for the configurations without one (alignment, Reselect, more than MaxBatchSteps
// steps).
func (a *Adapter) Batched(size int) (tta.BatchAdapter, error) {
	switch o := a.opts; {
	case size < 1:
		return nil, fmt.Errorf("tpt: batch size %d: want >= 1", size)
	case o.AlignSteps > 0:
		return nil, fmt.Errorf("tpt: alignment (align-steps %d) adapts the image tower the batch shares: %w",
			o.AlignSteps, tta.ErrNoBatch)
	case o.Reselect:
		return nil, fmt.Errorf("tpt: reselect has %w", tta.ErrNoBatch)
	case o.Steps > MaxBatchSteps:
		return nil, fmt.Errorf("tpt: %d steps, more than the %d the batched path unrolls: %w", o.Steps,
			MaxBatchSteps, tta.ErrNoBatch)
	}
	a.batch.mu.Lock()
	defer a.batch.mu.Unlock()
	if bt := a.batch.bySize[size]; bt != nil {
		return bt, nil
	}
	bt := &Batch{a: a, size: size}
	if a.opts.Steps > 0 && !a.opts.Ensemble {
		init := make([]float32, 0, size*len(a.ctx0))
		for range size {
			init = append(init, a.ctx0...)
		}
		shape := append([]int{size}, a.ctxVar.Shape().Dimensions...)
		root := a.model.Ctx.InAbsPath(a.opts.Scope).Checked(false)
		bt.ctxVar = root.VariableWithValue(fmt.Sprintf("ctx_batch%d", size),
			tensors.FromFlatDataAndDimensions(init, shape...)).SetTrainable(false)
		o := a.opt
		bt.opt = &tta.AdamW{LR: o.LR, Beta1: o.Beta1, Beta2: o.Beta2, Eps: o.Eps, WeightDecay: o.WeightDecay}
		var err error
		if bt.episode, err = tta.NewEpisode(a.backend, a.model.Ctx, bt.opt, bt.ctxVar); err != nil {
			return nil, fmt.Errorf("tpt: batch of %d: %w", size, err)
		}
	}
	if !a.opts.Ensemble {
		var err error
		if bt.exec, err = context.NewExec(a.backend, a.model.Ctx, bt.graph); err != nil {
			return nil, fmt.Errorf("tpt: batch of %d: %w", size, err)
		}
	}
	if a.batch.bySize == nil {
		a.batch.bySize = map[int]*Batch{}
	}
	a.batch.bySize[size] = bt
	return bt, nil
}

// BatchSize implements tta.BatchAdapter.
func (bt *Batch) BatchSize() int { return bt.size }

// imageLogits runs the image tower on B examples' views, each [N, R, R, 3]: normalised features [B, N, E] and their
// logits with the initial prompts [B, N, C].
func (a *Adapter) imageLogits(ctx *context.Context, views []*Node) (features, logits *Node) {
	b, n := len(views), views[0].Shape().Dimensions[0]
	x := views[0]
	if b > 1 {
		x = Concatenate(views, 0) // [B*N, R, R, 3]
	}
	e := a.model.Config.EmbedDim
	f := Reshape(clip.Normalize(a.model.EncodeImage(ctx, x)), b, n, e) // [B, N, E]
	text0 := a.text0Var.ValueGraph(x.Graph())                          // [C, E]
	return f, MulScalar(Einsum("bne,ce->bnc", f, text0), float64(a.scale))
}

// graph is the batched episode: views (B inputs [N, R, R, 3]) -> logits before [B, N, C], selected views [B, k]
// int32, step losses [B, Steps] (with steps), view 0's logits after [B, C].
func (bt *Batch) graph(ctx *context.Context, views []*Node) []*Node {
	a := bt.a
	if len(views) != bt.size {
		panic(fmt.Errorf("tpt.Batch: %d view inputs for a batch of %d", len(views), bt.size))
	}
	for _, v := range views[1:] {
		if !v.Shape().Equal(views[0].Shape()) {
			panic(fmt.Errorf("tpt.Batch: the examples' views differ in shape: %s and %s", views[0].Shape(),
				v.Shape()))
		}
	}
	b, n := bt.size, views[0].Shape().Dimensions[0]
	f, logits0 := a.imageLogits(ctx, views) // [B, N, E], [B, N, C]
	// View entropies in float64 from the float32 logits, as the host's selection computes them.
	logp := LogSoftmax(ConvertDType(logits0, dtypes.Float64), -1)
	ent := Neg(ReduceSum(Mul(Exp(logp), logp), -1)) // [B, N]
	sel, idx := tta.ConfidenceSelect(ent, tta.SelectCount(n, a.opts.Select))
	out := []*Node{logits0, idx}
	view0 := Reshape(Slice(f, AxisRange(), AxisElem(0)), b, a.model.Config.EmbedDim) // [B, E]
	if bt.ctxVar == nil {
		return append(out, Reshape(Slice(logits0, AxisRange(), AxisElem(0)), b, len(a.Learner.Classes))) // [B, C]
	}
	selF := Einsum("bkn,bne->bke", ConvertDType(sel, f.DType()), f) // [B, k, E]: rows of f, exactly
	losses := make([]*Node, a.opts.Steps)
	for s := range losses {
		c := bt.ctxVar.ValueGraph(f.Graph())
		text := a.Learner.TextFeaturesBatch(a.model, ctx, c)                      // [B, C, E]
		logits := MulScalar(Einsum("bke,bce->bkc", selF, text), float64(a.scale)) // [B, k, C]
		loss := tta.MarginalEntropy(logits)                                       // [B]
		if a.opts.ATFD != 0 {
			loss = Sub(loss, MulScalar(tta.TextFeatureDispersion(text), a.opts.ATFD))
		}
		grad := Gradient(ReduceAllSum(loss), c)[0] // [B, ...]: example b's gradient in row b
		bt.opt.Step(ctx, []*context.Variable{bt.ctxVar}, []*Node{grad})
		losses[s] = Reshape(loss, b, 1)
	}
	text := a.Learner.TextFeaturesBatch(a.model, ctx, bt.ctxVar.ValueGraph(f.Graph())) // [B, C, E]
	after := MulScalar(Einsum("be,bce->bc", view0, text), float64(a.scale))            // [B, C]
	return append(out, Concatenate(losses, 1), after)
}

// batchInputs returns the image inputs of vs padded to size with copies of the last example's views, and the
// tensors made here (device views) that the caller finalizes. Errors name the example.
func (a *Adapter) batchInputs(vs []*tta.Views, size int) (inputs, owned []*tensors.Tensor, err error) {
	if len(vs) == 0 || len(vs) > size {
		return nil, nil, fmt.Errorf("tpt: a batch of %d examples for batches of %d", len(vs), size)
	}
	inputs = make([]*tensors.Tensor, 0, size)
	for _, v := range vs {
		images, own, err := a.viewImages(v)
		if err != nil {
			for _, t := range owned {
				t.FinalizeAll()
			}
			return nil, nil, err
		}
		if own {
			owned = append(owned, images)
		}
		if s := images.Shape(); images.Rank() != 4 || s.Dimensions[0] == 0 || len(inputs) > 0 &&
			!s.Equal(inputs[0].Shape()) {
			for _, t := range owned {
				t.FinalizeAll()
			}
			return nil, nil, fmt.Errorf("tpt: the views of example %q are %s, those of example %q %s: a batch "+
				"needs the same number and size of views", v.ExampleID, s, vs[0].ExampleID, inputs[0].Shape())
		}
		inputs = append(inputs, images)
	}
	for len(inputs) < size { // padding: independent episodes whose results are dropped
		inputs = append(inputs, inputs[len(vs)-1])
	}
	return inputs, owned, nil
}

// AdaptBatch implements tta.BatchAdapter: every example from the prompt's context and a fresh AdamW, its own
// selection, Steps steps and view 0's prediction, as Reset and Adapt give for each alone (LastTrace is not set).
func (bt *Batch) AdaptBatch(vs []*tta.Views) ([]*tta.Prediction, error) {
	a := bt.a
	if a.opts.Ensemble {
		logits, err := a.ViewLogitsHostBatch(vs, bt.size)
		if err != nil {
			return nil, err
		}
		preds := make([]*tta.Prediction, len(vs))
		for i, l := range logits {
			preds[i] = viewens.Predict(l, a.opts.Select)
		}
		return preds, nil
	}
	inputs, owned, err := a.batchInputs(vs, bt.size)
	if err != nil {
		return nil, err
	}
	defer func() {
		for _, t := range owned {
			t.FinalizeAll()
		}
	}()
	ids := exampleIDs(vs)
	if bt.episode != nil {
		if err := bt.episode.Restore(); err != nil {
			return nil, fmt.Errorf("tpt: batch of examples %s: %w", ids, err)
		}
	}
	out, err := bt.exec.Exec(inputs)
	if err != nil {
		return nil, fmt.Errorf("tpt: batch of examples %s: %w", ids, err)
	}
	n, c := inputs[0].Shape().Dimensions[0], len(a.Learner.Classes)
	logits0 := tensors.MustCopyFlatData[float32](out[0]) // [B, N, C]
	idx := tensors.MustCopyFlatData[int32](out[1])       // [B, k]
	k := len(idx) / bt.size
	var losses []float32
	if bt.ctxVar != nil {
		losses = tensors.MustCopyFlatData[float32](out[2]) // [B, Steps]
	}
	after := tensors.MustCopyFlatData[float32](out[len(out)-1]) // [B, C]
	preds := make([]*tta.Prediction, len(vs))
	for i := range vs {
		before := rows(logits0[i*n*c:(i+1)*n*c], c)
		sel := make([]int, k)
		for r := range sel {
			sel[r] = int(idx[i*k+r])
		}
		p := &tta.Prediction{Selected: sel, EntropyBefore: tta.EntropyOfLogits(tta.MeanLogProbsHost(before, nil)),
			Logits: append([]float32(nil), after[i*c:(i+1)*c]...)}
		for s := 0; s < len(losses)/bt.size; s++ {
			p.Steps = append(p.Steps, tta.StepReport{Step: s, Loss: float64(losses[i*a.opts.Steps+s]),
				Selected: append([]int(nil), sel...)})
		}
		p.EntropyAfter = tta.EntropyOfLogits(p.Logits)
		preds[i] = p
	}
	return preds, nil
}

// ViewLogitsHostBatch implements viewens.BatchModel: the logits with the initial prompt of each example's views,
// [len(vs)][N][C], in one execution for batches of size examples (a shorter batch padded).
func (a *Adapter) ViewLogitsHostBatch(vs []*tta.Views, size int) ([][][]float32, error) {
	inputs, owned, err := a.batchInputs(vs, size)
	if err != nil {
		return nil, err
	}
	defer func() {
		for _, t := range owned {
			t.FinalizeAll()
		}
	}()
	a.batch.mu.Lock()
	if a.batch.logits == nil {
		a.batch.logits, err = context.NewExec(a.backend, a.model.Ctx, func(ctx *context.Context, views []*Node) *Node {
			_, logits := a.imageLogits(ctx, views)
			return logits // [B, N, C]
		})
	}
	exec := a.batch.logits
	a.batch.mu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("tpt: %w", err)
	}
	out, err := exec.Exec(inputs)
	if err != nil {
		return nil, fmt.Errorf("tpt: view logits of examples %s: %w", exampleIDs(vs), err)
	}
	flat := tensors.MustCopyFlatData[float32](out[0])
	n, c := inputs[0].Shape().Dimensions[0], len(a.Learner.Classes)
	res := make([][][]float32, len(vs))
	for i := range res {
		res[i] = rows(flat[i*n*c:(i+1)*n*c], c)
	}
	return res, nil
}

// exampleIDs lists the examples of a batch for error messages.
func exampleIDs(vs []*tta.Views) string {
	ids := make([]string, len(vs))
	for i, v := range vs {
		ids[i] = fmt.Sprintf("%q", v.ExampleID)
	}
	return fmt.Sprint(ids)
}

var _ tta.Batcher = (*Adapter)(nil)
var _ tta.BatchAdapter = (*Batch)(nil)

// Preload implements tta.Preloader: uploads v's views (or its RawImage's pixels and regions) to the adapter's
// device.
func (a *Adapter) Preload(v *tta.Views) error {
	if v == nil {
		return nil
	}
	ts := []*tensors.Tensor{v.Images}
	if r, ok := tta.PayloadOf[*RawImage](v); ok && r != nil {
		ts = append(ts, r.Pixels, r.Regions)
	}
	for _, t := range ts {
		if t == nil {
			continue
		}
		if err := t.MaterializeOnDevice(a.backend, false, 0); err != nil {
			return fmt.Errorf("tpt: uploading the views of example %q: %w", v.ExampleID, err)
		}
	}
	return nil
}

var _ tta.Preloader = (*Adapter)(nil)
