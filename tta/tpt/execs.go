package tpt

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"

	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gotta-ml/gotta/tta"
	"github.com/gotta-ml/gotta/tta/clip"
	"github.com/gotta-ml/gotta/tta/nn"
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

// initialImageFeatures is ImageFeatures for the views of example id with the image tower at its initial weights
// (before any alignment step): read from the process's tta.ForwardCache when it is on (a report run), computed and
// stored there otherwise. Every TPT-family row of a report (TPT, its ensemble, alignment, C-TPT, the steps, rho
// and learning-rate ablations) reads the same tower on the same views with the same initial prompt, so the tower
// runs once per example. The key names the tower (model configuration and dtype), the initial prompt's text
// features (their bits), the backend, the example and the views' content; cached values are computed ones, so the
// results are bit-identical with or without the cache. Only on the pure-Go backend: on a GPU, hashing 64 ImageNet
// views (38 MB) costs about as much as running the tower.
func (a *Adapter) initialImageFeatures(id string, images *tensors.Tensor) (features, logits [][]float32, err error) {
	cache := tta.SharedForwardCache()
	if cache != nil && !nn.Portable(a.backend) {
		cache = nil
	}
	var key [32]byte
	if cache != nil {
		h := sha256.New()
		for _, r := range a.text0 {
			_ = binary.Write(h, binary.LittleEndian, r)
		}
		cfg := map[string]any{"model": a.model.Config.String(), "dtype": a.model.DType.String(),
			"scale": a.scale, "text0": fmt.Sprintf("%x", h.Sum(nil))}
		if key, err = tta.ForwardKey("tpt-image/"+a.backend.Name(), cfg, id, images); err != nil {
			return nil, nil, err
		}
		if v, ok := cache.Get(key); ok {
			n := (len(v) - 1) / 2 // the feature rows, one empty separator row, the logit rows
			return v[:n], v[n+1:], nil
		}
	}
	if features, logits, err = a.ImageFeatures(images); err != nil || cache == nil {
		return features, logits, err
	}
	v := make([][]float32, 0, len(features)+1+len(logits))
	v = append(append(append(v, features...), nil), logits...)
	cache.Put(key, v)
	return features, logits, nil
}

// viewLogits0 is the logits of the views of example id with the initial prompt: from the forward cache
// (initialImageFeatures) unless an alignment step is configured, which may have moved the image tower.
func (a *Adapter) viewLogits0(id string, images *tensors.Tensor) ([][]float32, error) {
	var logits [][]float32
	var err error
	if a.align != nil {
		_, logits, err = a.ImageFeatures(images)
	} else {
		_, logits, err = a.initialImageFeatures(id, images)
	}
	return logits, err
}
