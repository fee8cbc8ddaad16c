package ensemble

import (
	"fmt"

	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/gotta-ml/gotta/tta"
)

// IndependentViews is implemented by a Member whose logits of a view do not depend on the other views of the
// batch (no batch statistics, no randomness drawn over the batch): a ResNet with plain batch norm (memo.Adapter with
// member prior 1). The joint update then backpropagates through the blocks of ViewBlock views that hold a selected
// view instead of through all views (the other views' gradients are zero).
type IndependentViews interface {
	// IndependentViews reports whether the member's ViewLogits of a view depend on that view alone.
	IndependentViews() bool
}

// ViewBlock is the number of consecutive views the joint update keeps or drops together for an IndependentViews
// member. The pure-Go backend's matrix products add the products along the contracted axis in aligned groups of 8;
// whole blocks of 8 views (of H*W rows each) keep every group of the full batch, so the gradients, and the
// records, are bit-identical to the update over all views.
const ViewBlock = 8

// selectedBlocks returns the views of x [N, ...] in the blocks of ViewBlock views that hold a view of sel (in
// ascending order) and sel renumbered into them.
func selectedBlocks(x *tensors.Tensor, sel []int) (*tensors.Tensor, []int, error) {
	n := x.Shape().Dimensions[0]
	keep := make([]bool, (n+ViewBlock-1)/ViewBlock)
	for _, s := range sel {
		if s < 0 || s >= n {
			return nil, nil, fmt.Errorf("selected view %d of %d", s, n)
		}
		keep[s/ViewBlock] = true
	}
	var idx []int
	pos := make([]int, n) // pos[view] = its index among the kept views
	for b, k := range keep {
		if !k {
			continue
		}
		for j := b * ViewBlock; j < min((b+1)*ViewBlock, n); j++ {
			pos[j] = len(idx)
			idx = append(idx, j)
		}
	}
	if len(idx) == n {
		return x, sel, nil
	}
	out, err := tta.PickViews(x, idx)
	if err != nil {
		return nil, nil, err
	}
	renumbered := make([]int, len(sel))
	for j, s := range sel {
		renumbered[j] = pos[s]
	}
	return out, renumbered, nil
}

// memberLogits is member i's logits [N][C] of its views x of example id: read from the process's
// tta.ForwardCache when it is on and the members are at their initial weights (since Reset), computed (and then
// stored there) otherwise. The joint mode's first forward and the simple mode's only forward are the same
// computation on the same views, so a report computes it once.
func (a *Adapter) memberLogits(i int, id string, x *tensors.Tensor) ([][]float32, error) {
	cache := tta.SharedForwardCache()
	cfg, hasCfg := a.entries[i].Member.(interface{ Config() map[string]any })
	var key [32]byte
	useCache := cache != nil && hasCfg && !a.adapted
	if useCache {
		var err error
		key, err = tta.ForwardKey("ensemble-member/"+a.entries[i].Name+"/"+a.backend.Name(), cfg.Config(), id, x)
		if err != nil {
			return nil, fmt.Errorf("ensemble: member %q on %q: %w", a.entries[i].Name, id, err)
		}
		if logits, ok := cache.Get(key); ok {
			return logits, nil
		}
	}
	outs, err := a.fwd[i].Exec(x)
	if err != nil {
		return nil, fmt.Errorf("ensemble: member %q on %q: %w", a.entries[i].Name, id, err)
	}
	logits := outs[0].Value().([][]float32)
	if useCache {
		cache.Put(key, logits)
	}
	return logits, nil
}
