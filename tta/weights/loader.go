package weights

import (
	"fmt"
	"slices"
	"strings"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// OIHWToHWIO is the permutation for Loader.Transposed that turns a torch convolution kernel [out, in, kh, kw] into
// GoMLX's [kh, kw, in, out].
var OIHWToHWIO = []int{2, 3, 1, 0}

// Loader takes the tensors of a File for a model, strictly: every tensor taken is shape-checked, and Finish fails
// when any tensor of the file was never taken (nanoGPT's from_pretrained and timm's converters work the same way).
// A Loader is not safe for concurrent use.
type Loader struct {
	f    *File
	used map[string]bool
}

// NewLoader returns a Loader over f.
func NewLoader(f *File) *Loader { return &Loader{f: f, used: map[string]bool{}} }

// File is the file the loader reads.
func (l *Loader) File() *File { return l.f }

// Has reports whether the file holds a tensor called name (taken or not).
func (l *Loader) Has(name string) bool {
	_, ok := l.f.header.Tensors[name]
	return ok
}

// Shape returns the stored shape of a tensor, without taking it; ok is false when it is missing. Loaders that
// derive a model's configuration from tensor shapes use it.
func (l *Loader) Shape(name string) (shape []int, ok bool) {
	info, ok := l.f.Info(name)
	return info.Shape, ok
}

// check looks a tensor up, compares its shape with want (nil accepts any shape) and marks it used.
func (l *Loader) check(name string, want []int) (TensorInfo, error) {
	info, ok := l.f.header.Tensors[name]
	if !ok {
		return info, l.f.errf(name, "missing (the model needs it, shape %v)", want)
	}
	if want != nil && !slices.Equal(info.Shape, want) {
		return info, l.f.errf(name, "shape %v in the file, the model needs %v", info.Shape, want)
	}
	l.used[name] = true
	return info, nil
}

// Take reads tensor name converted to dtype to (dtypes.InvalidDType keeps the stored one), after checking that its
// stored shape equals shape (nil accepts any shape), and marks it used. Errors name the file and the tensor.
func (l *Loader) Take(name string, shape []int, to dtypes.DType) (*tensors.Tensor, error) {
	if _, err := l.check(name, shape); err != nil {
		return nil, err
	}
	return l.f.Tensor(name, to)
}

// Transposed is Take followed by a transpose on the host: shape is the stored shape (checked as in Take) and the
// result has dimension i equal to shape[perm[i]], like torch's permute or numpy's transpose. With OIHWToHWIO, a
// torch conv kernel [out, in, kh, kw] becomes [kh, kw, in, out].
func (l *Loader) Transposed(name string, shape, perm []int, to dtypes.DType) (*tensors.Tensor, error) {
	info, err := l.check(name, shape)
	if err != nil {
		return nil, err
	}
	if err := checkPerm(perm, len(info.Shape)); err != nil {
		return nil, l.f.errf(name, "shape %v: %v", info.Shape, err)
	}
	t, err := l.f.Tensor(name, to)
	if err != nil {
		return nil, err
	}
	return transposeTensor(t, perm), nil
}

// Skip marks tensors as deliberately unused (e.g. batch norm's num_batches_tracked), so Finish does not report
// them. Names missing from the file are errors.
func (l *Loader) Skip(names ...string) error {
	for _, n := range names {
		if _, err := l.check(n, nil); err != nil {
			return err
		}
	}
	return nil
}

// Unused lists, sorted, the tensors of the file not taken (nor skipped) so far.
func (l *Loader) Unused() []string {
	var out []string
	for _, n := range l.f.header.Names {
		if !l.used[n] {
			out = append(out, n)
		}
	}
	return out
}

// Finish returns an error listing every tensor of the file that was neither taken nor skipped, or nil.
func (l *Loader) Finish() error {
	unused := l.Unused()
	if len(unused) == 0 {
		return nil
	}
	return fmt.Errorf("weights: %s: %d tensor(s) not used by the model: %s", l.f.path, len(unused),
		strings.Join(quoteAll(unused), ", "))
}

func quoteAll(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = fmt.Sprintf("%q", n)
	}
	return out
}

// checkPerm checks that perm is a permutation of 0..rank-1.
func checkPerm(perm []int, rank int) error {
	if len(perm) != rank {
		return fmt.Errorf("permutation %v has %d axes, the tensor %d", perm, len(perm), rank)
	}
	seen := make([]bool, rank)
	for _, p := range perm {
		if p < 0 || p >= rank || seen[p] {
			return fmt.Errorf("%v is not a permutation of 0..%d", perm, rank-1)
		}
		seen[p] = true
	}
	return nil
}

// transposeTensor returns a new tensor with out.dims[i] = t.dims[perm[i]]; perm must be valid.
func transposeTensor(t *tensors.Tensor, perm []int) *tensors.Tensor {
	dims := t.Shape().Dimensions
	outDims := make([]int, len(dims))
	for i, p := range perm {
		outDims[i] = dims[p]
	}
	out := tensors.FromShape(shapes.Make(t.DType(), outDims...))
	if t.Size() == 0 {
		return out
	}
	elem := t.DType().Size()
	t.MustConstFlatData(func(src any) {
		out.MustMutableFlatData(func(dst any) {
			transposeBytes(sliceBytes(dst), sliceBytes(src), dims, perm, elem)
		})
	})
	return out
}

// transposeBytes writes into dst the row-major array src of shape dims, transposed by perm, with elements of elem
// bytes.
func transposeBytes(dst, src []byte, dims, perm []int, elem int) {
	rank := len(dims)
	if rank == 0 {
		copy(dst, src)
		return
	}
	// srcStrides[a]: elements between consecutive indices of source axis a.
	srcStrides := make([]int, rank)
	s := 1
	for a := rank - 1; a >= 0; a-- {
		srcStrides[a] = s
		s *= dims[a]
	}
	// Walk the output in row-major order; stride[i] is the source stride of output axis i.
	outDims := make([]int, rank)
	stride := make([]int, rank)
	for i, p := range perm {
		outDims[i] = dims[p]
		stride[i] = srcStrides[p]
	}
	idx := make([]int, rank)
	srcPos := 0
	last := rank - 1
	n := len(dst) / elem
	for o := 0; o < n; {
		// Inner loop over the last output axis.
		for k := 0; k < outDims[last]; k++ {
			copy(dst[o*elem:(o+1)*elem], src[(srcPos+k*stride[last])*elem:])
			o++
		}
		// Carry into the outer axes.
		a := last - 1
		for ; a >= 0; a-- {
			idx[a]++
			srcPos += stride[a]
			if idx[a] < outDims[a] {
				break
			}
			srcPos -= stride[a] * outDims[a]
			idx[a] = 0
		}
		if a < 0 {
			break
		}
	}
}
