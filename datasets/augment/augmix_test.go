package augment

import (
	"fmt"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func opByName(t *testing.T, name string) AugMixOp {
	for op := AugMixOp(0); op < numAugMixOps; op++ {
		if op.String() == name {
			return op
		}
	}
	t.Fatalf("unknown op %q", name)
	return 0
}

func TestAugMixMagnitudeTables(t *testing.T) {
	g := readGolden(t)
	require.Len(t, g.AugMixSpace.Ops, int(numAugMixOps), "op count (all_ops=True)")
	check := func(t *testing.T, op AugMixOp, w, h int, want []float64) {
		got, _ := AugMixMagnitudes(op, w, h)
		require.Len(t, got, len(want), "%s", op)
		for i := range want {
			assert.InDelta(t, want[i], got[i], 1e-6*math.Max(1, math.Abs(want[i])), "%s bin %d", op, i)
		}
	}
	for i, o := range g.AugMixSpace.Ops {
		op := AugMixOp(i)
		require.Equal(t, o.Name, op.String(), "op order at index %d", i)
		_, signed := AugMixMagnitudes(op, 40, 31)
		require.Equal(t, o.Signed, signed, "%s signed", op)
		check(t, op, g.AugMixSpace.ImageHW[1], g.AugMixSpace.ImageHW[0], o.Magnitudes)
		check(t, op, 500, 375, g.AugMixSpace500[o.Name])
	}
}

// TestAugMixOpsMatchTorchvision compares each op at magnitude bins 1, 2 and 9, both signs, with torchvision's
// _apply_op on a uint8 tensor: at most 1 level off (2 for the float32 affine grid), and at least 99% of the
// pixels identical.
func TestAugMixOpsMatchTorchvision(t *testing.T) {
	g := readGolden(t)
	want := readNPY(t, "augmix_ops.npy")
	h, w := want.Shape[1], want.Shape[2]
	img := pattern(w, h)
	n := h * w * 3
	for _, c := range g.Ops {
		name := c.Op
		if c.Bin != nil {
			name += "/" + string(rune('0'+*c.Bin))
		}
		if c.Magnitude < 0 {
			name += "-"
		}
		t.Run(name, func(t *testing.T) {
			got := ApplyAugMixOp(img, opByName(t, c.Op), c.Magnitude)
			maxDiff, exact := diffStats(got.Pix, want.Data[c.Index*n:(c.Index+1)*n])
			if maxDiff > 0 {
				t.Logf("%s magnitude %g: max |diff| %d, %.2f%% exact", c.Op, c.Magnitude, maxDiff, 100*exact)
			}
			assert.LessOrEqual(t, maxDiff, 1, "%s %g", c.Op, c.Magnitude)
			assert.GreaterOrEqual(t, exact, 0.99, "%s %g", c.Op, c.Magnitude)
		})
	}
}

// TestAugMixMixMatchesTorchvision replays whole AugMix calls whose random draws were scripted in torchvision
// (testdata/gen_golden.py section 5): at most 1 level off and at least 99% of the pixels identical.
func TestAugMixMixMatchesTorchvision(t *testing.T) {
	g := readGolden(t)
	require.NotEmpty(t, g.AugMixPlans)
	want := readNPY(t, "augmix_mix.npy")
	h, w := want.Shape[1], want.Shape[2]
	n := h * w * 3
	img := pattern(w, h)
	for _, c := range g.AugMixPlans {
		t.Run(fmt.Sprint("plan", c.Index), func(t *testing.T) {
			pl := augMixPlan{M: c.M, W: c.W}
			for _, chain := range c.Chains {
				var ops []augMixOpDraw
				for _, d := range chain {
					ops = append(ops, augMixOpDraw{opByName(t, d.Op), d.Magnitude})
				}
				pl.Chains = append(pl.Chains, ops)
			}
			maxDiff, exact := diffStats(pl.apply(img).Pix, want.Data[c.Index*n:(c.Index+1)*n])
			t.Logf("plan %d: max |diff| %d, %.2f%% exact", c.Index, maxDiff, 100*exact)
			assert.LessOrEqual(t, maxDiff, 1)
			assert.GreaterOrEqual(t, exact, 0.99)
		})
	}
}
