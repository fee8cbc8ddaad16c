package tpt

import (
	"fmt"
	"strings"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gotta-ml/gotta/tta"
	"github.com/gotta-ml/gotta/tta/clip"
)

// The seed project's "TPT + alignment" (DavidC001/MEMO-TPT-DL2024, EasyTPT.align_embeddings): before the TPT step,
// AlignSteps AdamW steps (lr AlignLR, weight decay 0.01) on every image-tower parameter except the attention pool
// minimise 1 - mean(cos(f_i, f_j)) over the full k x k matrix of the selected views' features, with BatchNorm in
// training mode (clip.Model.EncodeImageTrain: batch statistics, running statistics updated with momentum 0.1 at
// every forward, including one extra forward after the last step); then the image features of all views are
// recomputed (BatchNorm in inference form with the updated running statistics) and TPT runs with the selection
// made before alignment. Reset restores the image tower (weights and running statistics) and the alignment optimizer.
// Options.AlignSteps turns it on.

// alignState holds the alignment's executables, variables and optimizer.
type alignState struct {
	params  []*context.Variable // trained: visual, not attnpool, not running statistics
	opt     *tta.AdamW
	episode *tta.Episode  // the image tower and the alignment optimizer, restored on the device
	step    *context.Exec // selected views [k, R, R, 3] -> loss; updates params, running stats, optimizer state
	extra   *context.Exec // selected views -> loss; updates running stats only
}

// visualVars lists the variables of m's image tower (scope <m.Scope>/visual).
func visualVars(m *clip.Model) []*context.Variable {
	prefix := m.Scope + "/visual"
	var out []*context.Variable
	m.Ctx.EnumerateVariables(func(v *context.Variable) {
		if v.Scope() == prefix || strings.HasPrefix(v.Scope(), prefix+"/") {
			out = append(out, v)
		}
	})
	return out
}

func (a *Adapter) buildAlign() error {
	m := a.model
	if m.DType != dtypes.Float32 {
		return fmt.Errorf("tpt: alignment needs a float32 model (the seed calls clip.float(); fp16 gave NaN gradients), got %s", m.DType)
	}
	all := visualVars(m)
	s := &alignState{opt: &tta.AdamW{LR: a.opts.AlignLR, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0.01}}
	for _, v := range all {
		if strings.Contains(v.Scope(), "attnpool") || v.Name() == "running_mean" || v.Name() == "running_var" {
			continue
		}
		s.params = append(s.params, v)
	}
	var err error
	if s.episode, err = tta.NewEpisode(a.backend, m.Ctx, s.opt, all...); err != nil {
		return fmt.Errorf("tpt: alignment: %w", err)
	}
	s.step, err = context.NewExec(a.backend, m.Ctx, func(ctx *context.Context, views *Node) *Node {
		g := views.Graph()
		loss := alignLoss(a.model.EncodeImageTrain(ctx, views))
		nodes := make([]*Node, len(s.params))
		for i, v := range s.params {
			nodes[i] = v.ValueGraph(g)
		}
		s.opt.Step(ctx, s.params, Gradient(loss, nodes...))
		return loss
	})
	if err != nil {
		return fmt.Errorf("tpt: alignment: %w", err)
	}
	s.extra, err = context.NewExec(a.backend, m.Ctx, func(ctx *context.Context, views *Node) *Node {
		return StopGradient(alignLoss(a.model.EncodeImageTrain(ctx, views)))
	})
	if err != nil {
		return fmt.Errorf("tpt: alignment: %w", err)
	}
	a.align = s
	return nil
}

// alignLoss is 1 - mean(F F^T) for features [k, E] normalised per row -> scalar.
func alignLoss(f *Node) *Node {
	f = clip.Normalize(f)
	sim := Einsum("ie,je->ij", f, f) // [k, k]
	return OneMinus(ReduceAllMean(sim))
}

// runAlign runs the alignment on the selected views of images [N, R, R, 3] and zeroes the shared AdamW step
// counter afterwards, so TPT's AdamW starts its bias correction at step 1.
func (a *Adapter) runAlign(images *tensors.Tensor, sel []int) ([]float64, error) {
	views, err := tta.PickViews(images, sel) // [k, R, R, 3]
	if err != nil {
		return nil, fmt.Errorf("tpt: alignment: %w", err)
	}
	var losses []float64
	for i := 0; i < a.opts.AlignSteps; i++ {
		out, err := a.align.step.Exec(views)
		if err != nil {
			return nil, fmt.Errorf("tpt: alignment step %d: %w", i, err)
		}
		losses = append(losses, float64(tensors.MustCopyFlatData[float32](out[0])[0]))
	}
	if _, err := a.align.extra.Exec(views); err != nil {
		return nil, fmt.Errorf("tpt: alignment's extra forward: %w", err)
	}
	return losses, nil
}

// resetAlign restores the image tower and the alignment optimizer.
func (a *Adapter) resetAlign() error {
	return a.align.episode.Restore()
}
