// Package align is the seed project's image-feature alignment (DavidC001/MEMO-TPT-DL2024,
// EasyTPT.align_embeddings), which tpt runs before its prompt step when tpt.Options.AlignSteps > 0 (tpt's spec:
// --align-steps, preset seed-align): Steps AdamW steps (lr LR, weight decay 0.01) on every image-tower parameter
// except the attention pool minimise 1 - mean(cos(f_i, f_j)) over the full k x k matrix of the selected views'
// features, with BatchNorm in training mode (clip.Model.EncodeImageTrain: batch statistics, running statistics
// updated with momentum 0.1 at every forward, including one extra forward after the last step). The caller then
// recomputes the image features (BatchNorm in inference form with the updated running statistics). Reset restores
// the image tower (weights and running statistics) and the optimizer on the device.
//
// Usage:
//
//	al, err := align.New(b, clipModel, 1, align.SeedLR)
//	losses, err := al.Run(views, selected)
//	err = al.Reset()
package align

import (
	"fmt"
	"strings"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph-building style.
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/gotta-ml/gotta/tta"
	"github.com/gotta-ml/gotta/tta/clip"
)

// SeedLR is the seed project's alignment learning rate (hard-coded there).
const SeedLR = 1e-4

// Aligner holds the alignment's executables, variables and optimizer for one CLIP model.
type Aligner struct {
	steps   int
	params  []*context.Variable // trained: visual, not attnpool, not running statistics
	opt     *tta.AdamW
	episode *tta.Episode  // the image tower and the optimizer, restored on the device
	step    *context.Exec // selected views [k, R, R, 3] -> loss; updates params, running stats, optimizer state
	extra   *context.Exec // selected views -> loss; updates running stats only
}

// VisualVariables lists the variables of m's image tower (scope <m.Scope>/visual).
func VisualVariables(m *clip.Model) []*context.Variable {
	prefix := m.Scope + "/visual"
	var out []*context.Variable
	m.Ctx.EnumerateVariables(func(v *context.Variable) {
		if v.Scope() == prefix || strings.HasPrefix(v.Scope(), prefix+"/") {
			out = append(out, v)
		}
	})
	return out
}

// New snapshots m's image tower and builds the alignment of steps AdamW steps with learning rate lr on backend b.
// m must be float32 (the seed calls clip.float(); fp16 gave NaN gradients).
func New(b backends.Backend, m *clip.Model, steps int, lr float64) (*Aligner, error) {
	if m.DType != dtypes.Float32 {
		return nil, fmt.Errorf("align: alignment needs a float32 model (the seed calls clip.float(); fp16 gave NaN "+
			"gradients), got %s", m.DType)
	}
	if steps < 1 || !(lr > 0) {
		return nil, fmt.Errorf("align: need steps >= 1 and lr > 0, got %d and %g", steps, lr)
	}
	all := VisualVariables(m)
	s := &Aligner{steps: steps, opt: &tta.AdamW{LR: lr, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0.01}}
	for _, v := range all {
		if strings.Contains(v.Scope(), "attnpool") || v.Name() == "running_mean" || v.Name() == "running_var" {
			continue
		}
		s.params = append(s.params, v)
	}
	var err error
	if s.episode, err = tta.NewEpisode(b, m.Ctx, s.opt, all...); err != nil {
		return nil, fmt.Errorf("align: %w", err)
	}
	s.step, err = context.NewExec(b, m.Ctx, func(ctx *context.Context, views *Node) *Node {
		g := views.Graph()
		loss := Loss(m.EncodeImageTrain(ctx, views))
		nodes := make([]*Node, len(s.params))
		for i, v := range s.params {
			nodes[i] = v.ValueGraph(g)
		}
		s.opt.Step(ctx, s.params, Gradient(loss, nodes...))
		return loss
	})
	if err != nil {
		return nil, fmt.Errorf("align: %w", err)
	}
	s.extra, err = context.NewExec(b, m.Ctx, func(ctx *context.Context, views *Node) *Node {
		return StopGradient(Loss(m.EncodeImageTrain(ctx, views)))
	})
	if err != nil {
		return nil, fmt.Errorf("align: %w", err)
	}
	return s, nil
}

// Loss is 1 - mean(F F^T) for features [k, E], normalised per row here -> scalar.
func Loss(f *Node) *Node {
	f = clip.Normalize(f)
	sim := Einsum("ie,je->ij", f, f) // [k, k]
	return OneMinus(ReduceAllMean(sim))
}

// Run aligns the image tower on the selected views sel of images [N, R, R, 3] and returns the loss before each
// step's update.
func (s *Aligner) Run(images *tensors.Tensor, sel []int) ([]float64, error) {
	views, err := tta.PickViews(images, sel) // [k, R, R, 3]
	if err != nil {
		return nil, fmt.Errorf("align: %w", err)
	}
	var losses []float64
	for i := 0; i < s.steps; i++ {
		out, err := s.step.Exec(views)
		if err != nil {
			return nil, fmt.Errorf("align: step %d: %w", i, err)
		}
		losses = append(losses, float64(tensors.MustCopyFlatData[float32](out[0])[0]))
	}
	if _, err := s.extra.Exec(views); err != nil {
		return nil, fmt.Errorf("align: the extra forward: %w", err)
	}
	return losses, nil
}

// Reset restores the image tower (weights and running statistics) and zeroes the optimizer's state.
func (s *Aligner) Reset() error {
	if err := s.episode.Restore(); err != nil {
		return fmt.Errorf("align: %w", err)
	}
	return nil
}
