package tpt

import (
	"time"

	"github.com/gotta-ml/gotta/tta"
)

// Trace is what the last Adapt did, for inspection (gotta adapt): all float32 row-major.
type Trace struct {
	// CtxShape is the context's shape ([NCtx, W] or [C, NCtx, W]).
	CtxShape []int
	// CtxBefore, CtxGrad (first step) and CtxAfter are the context values.
	CtxBefore, CtxGrad, CtxAfter []float32
	// LogitsBefore are the logits of every view with the initial prompt [N][C].
	LogitsBefore [][]float32
	// Entropies are the per-view entropies with the initial prompt.
	Entropies []float64
	// Selected are the selected views (first step), ascending entropy.
	Selected []int
	// Losses are the losses of the steps (before each update).
	Losses []float64
	// AlignLosses are the alignment losses (1 - mean cosine) of the alignment steps, before each update.
	AlignLosses []float64
	// LogitsAfter are view 0's logits after adaptation.
	LogitsAfter []float32
	// ViewTime is the call of the device-views executable (RawImage payloads; 0 for host views). On an asynchronous
	// backend (XLA) the work may finish inside ImageTime.
	ViewTime time.Duration
	// ImageTime (image features of all views, device views included), StepTime (text forward + backward + AdamW, all
	// steps, including reselection) and PredictTime (text features after tuning and view 0's logits) split Adapt's wall
	// time.
	ImageTime, StepTime, PredictTime time.Duration
}

// AdaptTrace implements tta.Tracer: the views' logits and entropies with the initial prompt, and the context
// before, its gradient at the first step and after (ctx_before, ctx_grad, ctx_after).
func (a *Adapter) AdaptTrace() *tta.Trace {
	tr := a.last
	if tr == nil {
		return nil
	}
	return &tta.Trace{LogitsBefore: tr.LogitsBefore, Entropies: tr.Entropies, Arrays: []tta.TraceArray{
		{Name: "ctx_before", Shape: tr.CtxShape, Data: tr.CtxBefore},
		{Name: "ctx_grad", Shape: tr.CtxShape, Data: tr.CtxGrad},
		{Name: "ctx_after", Shape: tr.CtxShape, Data: tr.CtxAfter}}}
}
