package tpt

import (
	"fmt"
	"math"
	"math/rand"
	"time"

	"github.com/gomlx/gomlx/backends"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gotta-ml/gotta/tta"
	"github.com/gotta-ml/gotta/tta/align"
	"github.com/gotta-ml/gotta/tta/clip"
	"github.com/gotta-ml/gotta/tta/viewens"
)

// Adapter is TPT as a tta.Adapter over a CLIP model.
type Adapter struct {
	opts    Options
	model   *clip.Model
	backend backends.Backend
	// Learner is the prompt layout.
	Learner *PromptLearner
	ctxVar  *context.Variable
	opt     *tta.AdamW
	episode *tta.Episode // the context and AdamW state, restored on the device
	scale   float32      // exp(logit_scale)
	text0   [][]float32  // initial normalised text features [C][E]
	// text0Var holds text0 on the device [C, E], so the image executable also returns the initial logits.
	text0Var *context.Variable
	ctx0     []float32

	imgExec, stepExec, textExec *context.Exec
	predExec                    *context.Exec  // view 0's features [1, E] -> logits [1, C] with the current context
	align                       *align.Aligner // nil without alignment
	devViews                    *DeviceViews   // makes the views of a RawImage payload on the device
	last                        *Trace
	batch                       batches // the batched paths (batch.go)
}

// New builds a TPT adapter over model m for classNames (in logit order), tokenizing prompts with tok, running on
// backend b. It creates the context variable in m.Ctx under Options.Scope and computes the initial text features.
func New(b backends.Backend, m *clip.Model, tok Tokenizer, classNames []string, opts Options) (*Adapter, error) {
	opts = opts.withDefaults()
	if opts.Select <= 0 || opts.Select > 1 {
		return nil, fmt.Errorf("tpt: Select must be in (0, 1], got %g", opts.Select)
	}
	if opts.Steps < 0 || opts.WeightDecay < 0 || opts.AlignSteps < 0 {
		return nil, fmt.Errorf("tpt: Steps %d, WeightDecay %g and AlignSteps %d must not be negative", opts.Steps,
			opts.WeightDecay, opts.AlignSteps)
	}
	if opts.AlignSteps > 0 && opts.Ensemble {
		return nil, fmt.Errorf("tpt: alignment (AlignSteps %d) and Ensemble mode are exclusive", opts.AlignSteps)
	}
	nRandom := opts.NCtx
	var coop []float32
	var coopShape []int
	if opts.CoOp != "" {
		var err error
		coop, coopShape, err = readContext(opts.CoOp)
		if err != nil {
			return nil, err
		}
		if len(coopShape) < 2 || coopShape[len(coopShape)-1] != m.Config.TextWidth ||
			(len(coopShape) == 3 && coopShape[0] != len(classNames)) || len(coopShape) > 3 {
			return nil, fmt.Errorf("tpt: CoOp context %s has shape %v, want [n, %d] or [%d, n, %d]", opts.CoOp,
				coopShape, m.Config.TextWidth, len(classNames), m.Config.TextWidth)
		}
		nRandom = coopShape[len(coopShape)-2]
		if len(coopShape) == 3 {
			opts.ClassSpecific = true
		}
	}
	pl, err := NewPromptLearner(tok, classNames, opts.Prompt, nRandom, m.Config.ContextLength, !opts.FullContext)
	if err != nil {
		return nil, err
	}
	a := &Adapter{opts: opts, model: m, backend: b, Learner: pl, devViews: NewDeviceViews(b)}
	a.opt = &tta.AdamW{LR: opts.LR, Beta1: opts.Beta1, Beta2: opts.Beta2, Eps: opts.Eps, WeightDecay: opts.WeightDecay}
	ls, err := m.LogitScaleValue()
	if err != nil {
		return nil, fmt.Errorf("tpt: %w", err)
	}
	a.scale = float32(math.Exp(float64(ls))) // exp(logit_scale), 100 for the released models

	// The context's initial value.
	w := m.Config.TextWidth
	var init []float32
	switch {
	case coop != nil:
		init = coop
	case opts.NCtx > 0:
		r := rand.New(rand.NewSource(opts.InitSeed))
		init = make([]float32, opts.NCtx*w)
		for i := range init {
			init[i] = float32(r.NormFloat64() * 0.02)
		}
	default:
		out, err := context.ExecOnce(b, m.Ctx, func(ctx *context.Context, g *Graph) *Node {
			return pl.InitEmbeddings(m, ctx, g)
		})
		if err != nil {
			return nil, fmt.Errorf("tpt: embedding the prompt %q: %w", opts.Prompt, err)
		}
		init = tensors.MustCopyFlatData[float32](out)
	}
	shape := []int{pl.NCtx, w}
	if opts.ClassSpecific {
		shape = []int{len(classNames), pl.NCtx, w}
		if len(init) == pl.NCtx*w {
			rep := make([]float32, 0, len(classNames)*len(init))
			for range classNames {
				rep = append(rep, init...)
			}
			init = rep
		}
	}
	a.ctx0 = init
	root := m.Ctx.InAbsPath(opts.Scope).Checked(false)
	if root.GetVariable("ctx") != nil {
		return nil, fmt.Errorf("tpt: the context already has a variable %s/ctx (another adapter on this model?): "+
			"set Options.Scope", opts.Scope)
	}
	a.ctxVar = root.VariableWithValue("ctx", tensors.FromFlatDataAndDimensions(append([]float32(nil), init...), shape...)).
		SetTrainable(false)
	if a.episode, err = tta.NewEpisode(b, m.Ctx, a.opt, a.ctxVar); err != nil {
		return nil, fmt.Errorf("tpt: %w", err)
	}
	if err := a.buildExecs(); err != nil {
		return nil, err
	}
	if opts.AlignSteps > 0 {
		if a.align, err = align.New(b, m, opts.AlignSteps, opts.AlignLR); err != nil {
			return nil, fmt.Errorf("tpt: %w", err)
		}
	}
	if a.text0, err = a.textFeatures(); err != nil {
		return nil, err
	}
	flatText := make([]float32, 0, len(a.text0)*m.Config.EmbedDim)
	for _, r := range a.text0 {
		flatText = append(flatText, r...)
	}
	a.text0Var = root.VariableWithValue("text0",
		tensors.FromFlatDataAndDimensions(flatText, len(a.text0), m.Config.EmbedDim)).SetTrainable(false)
	return a, nil
}

// textFeatures runs the text tower with the current context: [C][E] normalised.
func (a *Adapter) textFeatures() ([][]float32, error) {
	out, err := a.textExec.Exec()
	if err != nil {
		return nil, fmt.Errorf("tpt: text features: %w", err)
	}
	return rows(tensors.MustCopyFlatData[float32](out[0]), a.model.Config.EmbedDim), nil
}

func rows(flat []float32, w int) [][]float32 {
	out := make([][]float32, len(flat)/w)
	for i := range out {
		out[i] = flat[i*w : (i+1)*w]
	}
	return out
}

// logitsHost is scale * img @ text^T for normalised features: [N][C].
func (a *Adapter) logitsHost(img, text [][]float32) [][]float32 {
	out := make([][]float32, len(img))
	for i, x := range img {
		out[i] = make([]float32, len(text))
		for c, t := range text {
			var s float32
			for k := range x {
				s += x[k] * t[k]
			}
			out[i][c] = a.scale * s
		}
	}
	return out
}

// Name implements tta.Adapter.
func (a *Adapter) Name() string {
	switch {
	case a.opts.Ensemble:
		return "tpt-ensemble"
	case a.opts.ATFD != 0:
		return "c-tpt"
	}
	return "tpt"
}

// Config implements tta.Adapter: every knob.
func (a *Adapter) Config() map[string]any {
	o := a.opts
	cfg := map[string]any{
		"model": a.model.Config.String(), "dtype": a.model.DType.String(), "prompt": o.Prompt, "n_ctx": a.Learner.NCtx,
		"random_init": o.NCtx > 0, "init_seed": o.InitSeed, "coop": o.CoOp, "class_specific": o.ClassSpecific,
		"views": o.Views, "select": o.Select, "steps": o.Steps, "reselect": o.Reselect, "ensemble": o.Ensemble,
		"optimizer": a.opt.Config(), "classes": len(a.Learner.Classes), "context_length": a.Learner.Length,
		"align_steps": o.AlignSteps, "align_lr": o.AlignLR,
	}
	if o.ATFD != 0 {
		cfg["atfd_lambda"] = o.ATFD
	}
	return cfg
}

// Options returns the effective options.
func (a *Adapter) Options() Options { return a.opts }

// Reset implements tta.Adapter: the context back to its init, AdamW's moments and step count to zero.
func (a *Adapter) Reset() error {
	if a.align != nil {
		if err := a.align.Reset(); err != nil {
			return err
		}
	}
	return a.episode.Restore()
}

// LastTrace returns what the last Adapt did.
func (a *Adapter) LastTrace() *Trace { return a.last }

// ImageFeatures returns the normalised image features of views [N, R, R, 3], [N][E], and their logits with the
// initial prompts, [N][C].
func (a *Adapter) ImageFeatures(images *tensors.Tensor) (features, logits [][]float32, err error) {
	out, err := a.imgExec.Exec(images)
	if err != nil {
		return nil, nil, fmt.Errorf("tpt: image features: %w", err)
	}
	return rows(tensors.MustCopyFlatData[float32](out[0]), a.model.Config.EmbedDim),
		rows(tensors.MustCopyFlatData[float32](out[1]), len(a.Learner.Classes)), nil
}

// ViewLogitsHost implements viewens.Model: the logits of v's views with the initial prompt, [N][C].
func (a *Adapter) ViewLogitsHost(v *tta.Views) ([][]float32, error) {
	images, owned, err := a.viewImages(v)
	if err != nil {
		return nil, err
	}
	if owned {
		defer images.FinalizeAll()
	}
	logits, err := a.viewLogits0(v.ExampleID, images)
	if err != nil {
		return nil, fmt.Errorf("%w (example %q)", err, v.ExampleID)
	}
	return logits, nil
}

// Adapt implements tta.Adapter: TPT's steps on the views of one example, then view 0's prediction. The views are
// v.Images, or, when Images is nil, made on the device from its RawImage payload (ViewMaker.OnDevice) and passed to
// the image tower without leaving the device.
func (a *Adapter) Adapt(v *tta.Views) (*tta.Prediction, error) {
	t0 := time.Now()
	images, owned, err := a.viewImages(v)
	if err != nil {
		return nil, err
	}
	if owned {
		defer images.FinalizeAll()
	}
	viewTime := time.Since(t0)
	img, logits0, err := a.initialImageFeatures(v.ExampleID, images)
	if err != nil {
		return nil, fmt.Errorf("%w (example %q)", err, v.ExampleID)
	}
	n := len(img)
	tr := &Trace{CtxShape: a.ctxVar.Shape().Dimensions, CtxBefore: a.ctx0, ViewTime: viewTime, ImageTime: time.Since(t0)}
	tr.LogitsBefore = logits0
	tr.Entropies = tta.ViewEntropiesHost(tr.LogitsBefore)
	sel := tta.ConfidenceSelectHost(tr.Entropies, a.opts.Select)
	tr.Selected = sel
	a.last = tr
	if a.opts.Ensemble {
		pred := viewens.Predict(tr.LogitsBefore, a.opts.Select)
		tr.LogitsAfter = pred.Logits
		return pred, nil
	}
	pred := &tta.Prediction{Selected: sel, EntropyBefore: tta.EntropyOfLogits(tta.MeanLogProbsHost(tr.LogitsBefore, nil))}
	w := a.model.Config.EmbedDim
	t1 := time.Now()
	if a.align != nil {
		if tr.AlignLosses, err = a.align.Run(images, sel); err != nil {
			return nil, fmt.Errorf("%w (example %q)", err, v.ExampleID)
		}
		if img, _, err = a.ImageFeatures(images); err != nil { // the aligned tower, BatchNorm in inference form
			return nil, fmt.Errorf("%w (example %q)", err, v.ExampleID)
		}
	}
	for step := 0; step < a.opts.Steps; step++ {
		if step > 0 && a.opts.Reselect {
			text, err := a.textFeatures()
			if err != nil {
				return nil, err
			}
			sel = tta.ConfidenceSelectHost(tta.ViewEntropiesHost(a.logitsHost(img, text)), a.opts.Select)
		}
		flat := make([]float32, 0, len(sel)*w)
		for _, i := range sel {
			flat = append(flat, img[i]...)
		}
		out, err := a.stepExec.Exec(tensors.FromFlatDataAndDimensions(flat, len(sel), w))
		if err != nil {
			return nil, fmt.Errorf("tpt: step %d of example %q: %w", step, v.ExampleID, err)
		}
		loss := float64(tensors.MustCopyFlatData[float32](out[0])[0])
		if step == 0 {
			tr.CtxGrad = tensors.MustCopyFlatData[float32](out[1])
		}
		tr.Losses = append(tr.Losses, loss)
		pred.Steps = append(pred.Steps, tta.StepReport{Step: step, Loss: loss, Selected: append([]int(nil), sel...)})
	}
	tr.StepTime = time.Since(t1)
	t2 := time.Now()
	if n == 0 {
		return nil, fmt.Errorf("tpt: example %q has no views", v.ExampleID)
	}
	if a.opts.Steps > 0 || a.align != nil {
		out, err := a.predExec.Exec(tensors.FromFlatDataAndDimensions(append([]float32(nil), img[0]...), 1, w))
		if err != nil {
			return nil, fmt.Errorf("tpt: prediction of example %q: %w", v.ExampleID, err)
		}
		pred.Logits = tensors.MustCopyFlatData[float32](out[0])
	} else {
		pred.Logits = a.logitsHost(img[:1], a.text0)[0]
	}
	pred.EntropyAfter = tta.EntropyOfLogits(pred.Logits)
	tr.LogitsAfter = pred.Logits
	tr.PredictTime = time.Since(t2)
	cv, err := a.ctxVar.Value()
	if err != nil {
		return nil, fmt.Errorf("tpt: %w", err)
	}
	tr.CtxAfter = tensors.MustCopyFlatData[float32](cv)
	return pred, nil
}

var _ tta.Adapter = (*Adapter)(nil)
var _ tta.Tracer = (*Adapter)(nil)
var _ tta.ViewMaker = (*ViewMaker)(nil)
