package tpt

import (
	"fmt"

	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gotta-ml/gotta/tta"
	"github.com/gotta-ml/gotta/tta/clip"
)

// buildExecs compiles the adapter's executables: image features, text features, prediction and one TPT step.
func (a *Adapter) buildExecs() error {
	var err error
	m, pl := a.model, a.Learner
	// Image features [N, E] (normalised) and their logits [N, C] with the initial prompts.
	a.imgExec, err = context.NewExec(a.backend, m.Ctx, func(ctx *context.Context, images *Node) (*Node, *Node) {
		f := clip.Normalize(m.EncodeImage(ctx, images))
		return f, MulScalar(Einsum("ne,ce->nc", f, a.text0Var.ValueGraph(images.Graph())), float64(a.scale))
	})
	if err != nil {
		return fmt.Errorf("tpt: %w", err)
	}
	a.textExec, err = context.NewExec(a.backend, m.Ctx, func(ctx *context.Context, g *Graph) *Node {
		return pl.TextFeatures(m, ctx, a.ctxVar.ValueGraph(g)) // [C, E]
	})
	if err != nil {
		return fmt.Errorf("tpt: %w", err)
	}
	a.predExec, err = context.NewExec(a.backend, m.Ctx, func(ctx *context.Context, img *Node) *Node {
		text := pl.TextFeatures(m, ctx, a.ctxVar.ValueGraph(img.Graph())) // [C, E]
		return MulScalar(Einsum("ne,ce->nc", img, text), float64(a.scale))
	})
	if err != nil {
		return fmt.Errorf("tpt: %w", err)
	}
	// One step: selected image features [k, E] (normalised) -> loss, gradient; updates ctx and AdamW's state.
	a.stepExec, err = context.NewExec(a.backend, m.Ctx, func(ctx *context.Context, img *Node) (*Node, *Node) {
		g := img.Graph()
		c := a.ctxVar.ValueGraph(g)
		text := pl.TextFeatures(m, ctx, c)                                    // [C, E]
		logits := MulScalar(Einsum("ke,ce->kc", img, text), float64(a.scale)) // [k, C]
		loss := tta.MarginalEntropy(logits)                                   // scalar
		if a.opts.ATFD != 0 {                                                 // C-TPT: spread the class features apart
			loss = Sub(loss, MulScalar(tta.TextFeatureDispersion(text), a.opts.ATFD))
		}
		grad := Gradient(loss, c)[0] // ctx's shape
		a.opt.Step(ctx, []*context.Variable{a.ctxVar}, []*Node{grad})
		return loss, grad
	})
	if err != nil {
		return fmt.Errorf("tpt: %w", err)
	}
	return nil
}
