package weights

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// Named is a tensor with the name it gets in a safetensors file.
type Named struct {
	// Name is the tensor's key in the file.
	Name string
	// Tensor is written in its own dtype and shape.
	Tensor *tensors.Tensor
}

// RawTensor is a tensor given as host data, for WriteRaw.
type RawTensor struct {
	// Name is the tensor's key in the file.
	Name string
	// DType is the dtype stored in the file.
	DType dtypes.DType
	// Shape is the stored shape (nil or empty for a scalar).
	Shape []int
	// Data holds the values already encoded as little-endian DType, row-major; used when Float32s is nil.
	Data []byte
	// Float32s, when not nil, holds the values, row-major, to be converted to DType (any float dtype; F16 and
	// BF16 round to nearest even) on write.
	Float32s []float32
}

// writeEntry is one tensor to write: its header fields and a function writing its bytes.
type writeEntry struct {
	name   string
	dtype  dtypes.DType
	shape  []int
	nbytes int64
	write  func(w io.Writer) error
}

// Write writes tensors, in the given order and in their own dtypes, to a safetensors file at path, with optional
// metadata ("__metadata__"). The file is written to a temporary file beside path and renamed into place.
func Write(path string, ts []Named, metadata map[string]string) error {
	entries := make([]writeEntry, len(ts))
	for i, nt := range ts {
		if nt.Tensor == nil {
			return fmt.Errorf("weights: writing %s: tensor %q is nil", path, nt.Name)
		}
		t := nt.Tensor
		dt := t.DType()
		entries[i] = writeEntry{
			name: nt.Name, dtype: dt, shape: t.Shape().Dimensions,
			nbytes: int64(t.Size()) * int64(dt.Size()),
			write: func(w io.Writer) error {
				if t.Size() == 0 {
					return nil
				}
				var werr error
				err := t.ConstFlatData(func(flat any) { _, werr = w.Write(encodeLE(flat, dt)) })
				if err != nil {
					return err
				}
				return werr
			},
		}
	}
	return writeFile(path, entries, metadata)
}

// WriteRaw writes host data to a safetensors file at path (see RawTensor), in the given order, with optional
// metadata. The file is written to a temporary file beside path and renamed into place.
func WriteRaw(path string, ts []RawTensor, metadata map[string]string) error {
	entries := make([]writeEntry, len(ts))
	for i, rt := range ts {
		data := rt.Data
		if rt.Float32s != nil {
			var err error
			if data, err = EncodeFloat32s(rt.Float32s, rt.DType); err != nil {
				return fmt.Errorf("weights: writing %s: tensor %q: %w", path, rt.Name, err)
			}
		}
		size := 1
		for _, d := range rt.Shape {
			size *= d
		}
		if want := size * rt.DType.Size(); len(data) != want {
			return fmt.Errorf("weights: writing %s: tensor %q: %s shape %v needs %d bytes, got %d",
				path, rt.Name, rt.DType, rt.Shape, want, len(data))
		}
		entries[i] = writeEntry{
			name: rt.Name, dtype: rt.DType, shape: rt.Shape, nbytes: int64(len(data)),
			write: func(w io.Writer) error { _, err := w.Write(data); return err },
		}
	}
	return writeFile(path, entries, metadata)
}

// EncodeFloat32s converts values to the little-endian bytes of a float dtype (F16 and BF16 round to nearest even).
func EncodeFloat32s(values []float32, to dtypes.DType) ([]byte, error) {
	if !to.IsFloat() {
		return nil, fmt.Errorf("cannot encode float32 values as %s", to)
	}
	out := make([]byte, len(values)*to.Size())
	le := binary.LittleEndian
	for i, v := range values {
		switch to {
		case dtypes.Float32:
			le.PutUint32(out[4*i:], math.Float32bits(v))
		case dtypes.Float64:
			le.PutUint64(out[8*i:], math.Float64bits(float64(v)))
		case dtypes.Float16:
			le.PutUint16(out[2*i:], F16FromFloat32(v).Bits())
		case dtypes.BFloat16:
			le.PutUint16(out[2*i:], BF16FromFloat32(v).Bits())
		}
	}
	return out, nil
}

// headerEntry is one tensor's JSON header entry.
type headerEntry struct {
	DType       string  `json:"dtype"`
	Shape       []int   `json:"shape"`
	DataOffsets []int64 `json:"data_offsets"`
}

// writeFile writes the header and the entries' data atomically (temporary file + rename).
func writeFile(path string, entries []writeEntry, metadata map[string]string) (err error) {
	var hdr bytes.Buffer
	hdr.WriteByte('{')
	first := true
	writeKV := func(key string, value any) error {
		k, _ := json.Marshal(key)
		v, err := json.Marshal(value)
		if err != nil {
			return err
		}
		if !first {
			hdr.WriteByte(',')
		}
		first = false
		hdr.Write(k)
		hdr.WriteByte(':')
		hdr.Write(v)
		return nil
	}
	if len(metadata) > 0 {
		if err := writeKV(metadataKey, metadata); err != nil {
			return fmt.Errorf("weights: writing %s: metadata: %w", path, err)
		}
	}
	seen := map[string]bool{metadataKey: true}
	var offset int64
	for _, e := range entries {
		if seen[e.name] {
			return fmt.Errorf("weights: writing %s: tensor %q: duplicated or reserved name", path, e.name)
		}
		seen[e.name] = true
		stName := STName(e.dtype)
		if stName == "" {
			return fmt.Errorf("weights: writing %s: tensor %q: dtype %s has no safetensors name", path, e.name, e.dtype)
		}
		shape := slices.Clone(e.shape)
		if shape == nil {
			shape = []int{}
		}
		he := headerEntry{DType: stName, Shape: shape, DataOffsets: []int64{offset, offset + e.nbytes}}
		if err := writeKV(e.name, he); err != nil {
			return fmt.Errorf("weights: writing %s: tensor %q: %w", path, e.name, err)
		}
		offset += e.nbytes
	}
	hdr.WriteByte('}')
	for (8+hdr.Len())%8 != 0 { // pad with spaces so the data section starts 8-byte aligned
		hdr.WriteByte(' ')
	}

	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("weights: writing %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	w := bufio.NewWriterSize(tmp, 1<<20)
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(hdr.Len()))
	w.Write(n[:])
	w.Write(hdr.Bytes())
	for _, e := range entries {
		if err := e.write(w); err != nil {
			return fmt.Errorf("weights: writing %s: tensor %q: %w", path, e.name, err)
		}
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("weights: writing %s: %w", path, err)
	}
	return commitTemp(tmp, path)
}

// commitTemp makes the fully written temporary file tmp the file at path: mode 0644, closed, renamed over path.
func commitTemp(tmp *os.File, path string) error {
	if err := tmp.Chmod(0o644); err != nil {
		return fmt.Errorf("weights: writing %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("weights: writing %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("weights: writing %s: %w", path, err)
	}
	return nil
}
