package memo

import (
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph-building style.
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/gotta-ml/gotta/tta"
	"github.com/gotta-ml/gotta/tta/resnet"
)

// The methods below (with Reset) make the adapter a tta.Member of tta/ensemble's multi-model ensemble.

// Context is the context holding the model's variables and the optimizer's state.
func (a *Adapter) Context() *context.Context { return a.ctx }

// ViewLogits is the model on a batch of views inside a graph: views [n, H, W, 3] -> logits [n, classes] (over
// ClassSubset), with batch-norm prior Options.MemberPrior.
func (a *Adapter) ViewLogits(ctx *context.Context, views *Node) *Node {
	return a.model.Logits(ctx, views, resnet.ForwardOpts{BNPrior: a.opts.MemberPrior, ClassSubset: a.opts.ClassSubset})
}

// IndependentViews implements ensemble.IndependentViews: with member prior 1 (plain batch norm with the running
// statistics) the logits of a view depend on that view alone.
func (a *Adapter) IndependentViews() bool { return a.opts.MemberPrior == 1 && a.opts.Mode != MCDropout }

// Trainable lists the adapted variables (Options.Params).
func (a *Adapter) Trainable() []*context.Variable { return a.vars }

// Optimizer is the options' optimizer.
func (a *Adapter) Optimizer() tta.Optimizer { return a.opts.Optimizer }

var _ tta.Member = (*Adapter)(nil)
