package nn

import (
	"github.com/pkg/errors"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/graph"
)

// Impl selects the implementation of the helpers in this package. The zero value, ImplAuto, is what the
// package-level functions use.
type Impl int

const (
	// ImplAuto uses ImplPortable when the graph's backend lacks an op needed by the native gradients (see
	// Portable), ImplNative otherwise.
	ImplAuto Impl = iota
	// ImplNative uses GoMLX's native ops (Convolve, ReduceWindow pools, Slice). Their forward pass runs on every
	// backend; their gradient needs ops that the pure-Go backend lacks.
	ImplNative
	// ImplPortable uses compositions of Gather, ScatterSum (as Gather's gradient), DotGeneral, Concatenate,
	// Reshape, Transpose, reductions and element-wise ops, whose forward and gradient run on every backend.
	ImplPortable
)

// String returns "auto", "native" or "portable".
func (impl Impl) String() string {
	switch impl {
	case ImplAuto:
		return "auto"
	case ImplNative:
		return "native"
	case ImplPortable:
		return "portable"
	}
	return "Impl(?)"
}

// nativeGradientOps are the backend ops that GoMLX v0.26.0's gradients of Convolve (Reverse), Slice and
// ReduceWindow-sum (Pad) and ReduceWindow-max (SelectAndScatterMax) emit.
var nativeGradientOps = []backends.OpType{backends.OpTypeReverse, backends.OpTypePad, backends.OpTypeSelectAndScatterMax}

// Portable reports whether the helpers of this package should use their portable implementations on backend b:
// true when b's declared capabilities lack any of the ops Reverse, Pad or SelectAndScatterMax (the pure-Go
// backend of GoMLX v0.26.0), false when it has them all (XLA). A backend that declares no operations at all is
// taken as capable of everything (false).
//
// A caution about the pure-Go backend of GoMLX v0.26.0 with its default configuration ("go"): with ops running
// in parallel, every ready node holds one of 2*NumCPU worker slots, and a DotGeneral node then waits for a further
// slot; when 2*NumCPU DotGenerals are ready at once (4 on a 2-core machine) they wait for each other forever.
// The portable gradients here run their two products one after the other to stay clear of it; the backend
// configuration "go:ops_sequential" avoids it altogether.
func Portable(b backends.Backend) bool {
	if b == nil {
		return true
	}
	ops := b.Capabilities().Operations
	if len(ops) == 0 {
		return false
	}
	for _, op := range nativeGradientOps {
		if !ops[op] {
			return true
		}
	}
	return false
}

// portableFor resolves impl for the graph of x.
func (impl Impl) portableFor(x *graph.Node) bool {
	switch impl {
	case ImplNative:
		return false
	case ImplPortable:
		return true
	case ImplAuto:
		return Portable(x.Graph().Backend())
	}
	panicf("nn: unknown Impl %d", int(impl))
	return false
}

// panicf panics with an error carrying a stack trace, as GoMLX graph functions do.
func panicf(format string, args ...any) {
	panic(errors.Errorf(format, args...))
}
