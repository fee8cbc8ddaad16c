package tta

import (
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph-building style.
	"github.com/gomlx/gomlx/pkg/ml/context"
)

// Member is what a model must provide to join a multi-model ensemble (tta/ensemble): memo.Adapter and tpt.Adapter
// implement it. It lives in the root so that methods implement it without importing each other.
type Member interface {
	// Context holds the member's variables and its optimizer's state.
	Context() *context.Context
	// ViewLogits builds the member's logits of a batch of its views inside a graph built on Context():
	// views [n, H, W, 3] (preprocessed for the member) -> [n, classes]. Every member must use the same classes in
	// the same order. It is called for several graphs (all views, view 0 alone) and must depend only on the
	// variables of the context and the views.
	ViewLogits(ctx *context.Context, views *Node) *Node
	// Trainable lists the variables the joint entropy minimisation adapts; empty for a frozen member.
	Trainable() []*context.Variable
	// Optimizer updates Trainable (may be nil when Trainable is empty).
	Optimizer() Optimizer
	// Reset restores Trainable and the optimizer state to their values before any adaptation.
	Reset() error
}
