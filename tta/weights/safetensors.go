package weights

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"sync"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// File is an open, memory-mapped, validated safetensors file. Its methods are safe for concurrent use; Close must
// not race with them.
type File struct {
	path   string
	header Header

	mu     sync.RWMutex
	data   []byte // the whole file, mapped read-only; nil after Close
	unmap  func() error
	closed bool
}

// Open memory-maps a safetensors file read-only and validates its header (see the package documentation for the
// rules). Errors name the path and, where one is at fault, the tensor.
func Open(path string) (*File, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("weights: %w", err)
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return nil, fmt.Errorf("weights: %s: %w", path, err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("weights: %s: not a regular file", path)
	}
	size := st.Size()
	if size < 8 {
		return nil, fmt.Errorf("weights: %s: file of %d bytes is shorter than the 8-byte header length", path, size)
	}
	data, unmap, err := mapFile(fh, size)
	if err != nil {
		return nil, fmt.Errorf("weights: %s: mmap: %w", path, err)
	}
	h, err := ParseHeader(data, size)
	if err != nil {
		_ = unmap()
		return nil, fmt.Errorf("weights: %s: %w", path, err)
	}
	return &File{path: path, header: h, data: data, unmap: unmap}, nil
}

// Path is the file's path as given to Open.
func (f *File) Path() string { return f.path }

// Header returns the parsed header (a copy).
func (f *File) Header() Header {
	h := f.header
	h.Tensors = maps.Clone(h.Tensors)
	h.Names = slices.Clone(h.Names)
	h.Metadata = maps.Clone(h.Metadata)
	return h
}

// Names lists the tensor names, sorted.
func (f *File) Names() []string { return slices.Clone(f.header.Names) }

// Info describes a tensor; ok is false when the file has no such tensor.
func (f *File) Info(name string) (info TensorInfo, ok bool) {
	info, ok = f.header.Tensors[name]
	info.Shape = slices.Clone(info.Shape)
	return info, ok
}

// Metadata returns a copy of the file's "__metadata__" map (empty when it has none).
func (f *File) Metadata() map[string]string { return maps.Clone(f.header.Metadata) }

// Close unmaps the file. Tensors already read stay valid; slices from Bytes do not.
func (f *File) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return nil
	}
	f.closed = true
	f.data = nil
	if err := f.unmap(); err != nil {
		return fmt.Errorf("weights: %s: munmap: %w", f.path, err)
	}
	return nil
}

// errf formats an error naming the file and the tensor.
func (f *File) errf(name, format string, args ...any) error {
	return fmt.Errorf("weights: %s: tensor %q: %s", f.path, name, fmt.Sprintf(format, args...))
}

// withBytes calls fn with the raw little-endian bytes of a tensor, under the read lock.
func (f *File) withBytes(name string, fn func(info TensorInfo, raw []byte) error) error {
	info, ok := f.header.Tensors[name]
	if !ok {
		return f.errf(name, "not in file (%d tensors)", len(f.header.Names))
	}
	f.mu.RLock()
	defer f.mu.RUnlock()
	if f.closed {
		return fmt.Errorf("weights: %s: tensor %q: %w", f.path, name, ErrClosed)
	}
	start := info.FileOffset
	return fn(info, f.data[start:start+info.NumBytes()])
}

// Bytes returns the raw little-endian bytes of a tensor: a view of the mapping, no copy, valid until Close and
// never to be written.
func (f *File) Bytes(name string) ([]byte, error) {
	var out []byte
	err := f.withBytes(name, func(_ TensorInfo, raw []byte) error {
		out = raw
		return nil
	})
	return out, err
}

// Tensor reads a tensor into a new host tensor of dtype to, converting on the way (see the package documentation
// for the allowed conversions); to == dtypes.InvalidDType keeps the stored dtype. The shape is the stored one.
func (f *File) Tensor(name string, to dtypes.DType) (*tensors.Tensor, error) {
	var t *tensors.Tensor
	err := f.withBytes(name, func(info TensorInfo, raw []byte) error {
		if to == dtypes.InvalidDType {
			to = info.DType
		}
		if err := checkConversion(info.DType, to); err != nil {
			return f.errf(name, "%v", err)
		}
		t = tensors.FromShape(shapes.Make(to, info.Shape...))
		if info.Size() == 0 {
			return nil
		}
		return t.MutableFlatData(func(flat any) { convertParallel(flat, raw, info.DType, to) })
	})
	if err != nil {
		return nil, err
	}
	return t, nil
}

// Float32s reads a tensor converted to float32 (from any float or integer dtype): its flat data, in row-major
// order, and its shape.
func (f *File) Float32s(name string) ([]float32, []int, error) {
	var out []float32
	var shape []int
	err := f.withBytes(name, func(info TensorInfo, raw []byte) error {
		if err := checkConversion(info.DType, dtypes.Float32); err != nil {
			return f.errf(name, "%v", err)
		}
		out = make([]float32, info.Size())
		shape = slices.Clone(info.Shape)
		convertParallel(out, raw, info.DType, dtypes.Float32)
		return nil
	})
	return out, shape, err
}

// ErrClosed is returned (wrapped) by reads after Close.
var ErrClosed = errors.New("file is closed")
