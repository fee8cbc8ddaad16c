package tpt

import (
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gotta-ml/gotta/tta"
	"github.com/gotta-ml/gotta/tta/clip"
)

// The methods below make the adapter a tta.Member, for tta/ensemble's multi-model ensemble: its prompt context is
// the trainable variable, updated by the adapter's AdamW; the image tower is frozen. The ensemble runs its own
// steps and selection; the adapter's alignment (AlignSteps) does not run there.

// Context is the CLIP model's context, which also holds the prompt context and the optimizer's state.
func (a *Adapter) Context() *context.Context { return a.model.Ctx }

// ViewLogits is exp(logit_scale) * cos(image features, text features of the current prompt context) inside a
// graph: views [n, R, R, 3] (preprocessed for the model) -> logits [n, C]. The image tower is under StopGradient:
// TPT tunes the prompt only.
func (a *Adapter) ViewLogits(ctx *context.Context, views *Node) *Node {
	img := StopGradient(clip.Normalize(a.model.EncodeImage(ctx, views)))             // [n, E]
	text := a.Learner.TextFeatures(a.model, ctx, a.ctxVar.ValueGraph(views.Graph())) // [C, E]
	return MulScalar(Einsum("ne,ce->nc", img, text), float64(a.scale))               // [n, C]
}

// Trainable is the prompt context, or nil for a frozen (zero-shot) member: Options.Steps 0 or Options.Ensemble.
func (a *Adapter) Trainable() []*context.Variable {
	if a.opts.Steps == 0 || a.opts.Ensemble {
		return nil
	}
	return []*context.Variable{a.ctxVar}
}

// Optimizer is the adapter's AdamW (Options.LR, Beta1, Beta2, Eps, WeightDecay); Reset zeroes its state.
func (a *Adapter) Optimizer() tta.Optimizer { return a.opt }

var _ tta.Member = (*Adapter)(nil)
