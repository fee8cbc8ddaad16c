package weights

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/x448/float16"
)

// npyMagic starts every .npy file.
const npyMagic = "\x93NUMPY"

// npyKinds maps numpy type strings (without the byte-order character) to GoMLX dtypes.
var npyKinds = map[string]dtypes.DType{
	"f2": dtypes.Float16, "f4": dtypes.Float32, "f8": dtypes.Float64,
	"i1": dtypes.Int8, "i2": dtypes.Int16, "i4": dtypes.Int32, "i8": dtypes.Int64,
	"u1": dtypes.Uint8, "u2": dtypes.Uint16, "u4": dtypes.Uint32, "u8": dtypes.Uint64,
	"b1": dtypes.Bool,
}

// NPY is an array read from a .npy file, in C (row-major) order.
type NPY struct {
	// DType is the array's dtype.
	DType dtypes.DType
	// Shape is the array's shape (empty for a 0-d array).
	Shape []int
	// Data is the flat data, a slice of DType's Go type: []float32, []float64, []float16.Float16, []int64, []int32,
	// []int16, []int8, []uint64, []uint32, []uint16, []uint8 or []bool.
	Data any
}

// Tensor returns the array as a host tensor (a copy).
func (n *NPY) Tensor() *tensors.Tensor {
	t := tensors.FromShape(shapes.Make(n.DType, n.Shape...))
	if t.Size() > 0 {
		t.MustMutableFlatData(func(flat any) { copy(sliceBytes(flat), sliceBytes(n.Data)) })
	}
	return t
}

var (
	npyDescrRE   = regexp.MustCompile(`['"]descr['"]\s*:\s*['"]([^'"]*)['"]`)
	npyFortranRE = regexp.MustCompile(`['"]fortran_order['"]\s*:\s*(True|False)`)
	npyShapeRE   = regexp.MustCompile(`['"]shape['"]\s*:\s*\(([^)]*)\)`)
)

// ReadNPY reads a .npy file (format versions 1.0 to 3.0; numeric and bool dtypes of either byte order; C or Fortran
// order, Fortran arrays being transposed to C order). Errors name the file.
func ReadNPY(path string) (*NPY, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("weights: %w", err)
	}
	n, err := parseNPY(raw)
	if err != nil {
		return nil, fmt.Errorf("weights: %s: %w", path, err)
	}
	return n, nil
}

// parseNPY decodes the bytes of a .npy file.
func parseNPY(raw []byte) (*NPY, error) {
	if len(raw) < 10 || string(raw[:6]) != npyMagic {
		return nil, fmt.Errorf("not a .npy file (no %q magic)", npyMagic)
	}
	major := raw[6]
	var hlen, start int
	switch major {
	case 1:
		hlen, start = int(binary.LittleEndian.Uint16(raw[8:10])), 10
	case 2, 3:
		if len(raw) < 12 {
			return nil, fmt.Errorf("truncated .npy header")
		}
		hlen, start = int(binary.LittleEndian.Uint32(raw[8:12])), 12
	default:
		return nil, fmt.Errorf("unsupported .npy format version %d.%d", major, raw[7])
	}
	if hlen < 0 || start+hlen > len(raw) {
		return nil, fmt.Errorf("header length %d is beyond the file size %d", hlen, len(raw))
	}
	header := string(raw[start : start+hlen])
	data := raw[start+hlen:]

	m := npyDescrRE.FindStringSubmatch(header)
	if m == nil {
		return nil, fmt.Errorf("header %q has no descr", header)
	}
	descr := m[1]
	if len(descr) != 3 {
		return nil, fmt.Errorf("unsupported dtype %q", descr)
	}
	order, kind := descr[0], descr[1:]
	dt, ok := npyKinds[kind]
	if !ok || !strings.ContainsRune("<>|=", rune(order)) {
		return nil, fmt.Errorf("unsupported dtype %q", descr)
	}
	m = npyFortranRE.FindStringSubmatch(header)
	if m == nil {
		return nil, fmt.Errorf("header %q has no fortran_order", header)
	}
	fortran := m[1] == "True"
	m = npyShapeRE.FindStringSubmatch(header)
	if m == nil {
		return nil, fmt.Errorf("header %q has no shape", header)
	}
	var shape []int
	size := 1
	for _, s := range strings.Split(m[1], ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		d, err := strconv.Atoi(strings.TrimSuffix(s, "L"))
		if err != nil || d < 0 {
			return nil, fmt.Errorf("bad shape (%s)", m[1])
		}
		shape = append(shape, d)
		if d > 0 && size > (1<<62)/d {
			return nil, fmt.Errorf("shape (%s) is too large", m[1])
		}
		size *= d
	}
	shape = append([]int{}, shape...)
	if size > len(data) { // also keeps size * dt.Size() below from overflowing
		return nil, fmt.Errorf("%s shape %v needs more data than the file's %d bytes", descr, shape, len(data))
	}
	want := size * dt.Size()
	if len(data) != want {
		return nil, fmt.Errorf("%s shape %v needs %d data bytes, the file has %d", descr, shape, want, len(data))
	}
	if order == '>' && dt.Size() > 1 {
		swapped := make([]byte, len(data))
		sz := dt.Size()
		for i := 0; i < len(data); i += sz {
			for j := 0; j < sz; j++ {
				swapped[i+j] = data[i+sz-1-j]
			}
		}
		data = swapped
	}
	flat := reflect.MakeSlice(reflect.SliceOf(dt.GoType()), size, size).Interface()
	if size > 0 {
		convertInto(flat, data, dt, dt)
	}
	if fortran && len(shape) > 1 {
		// Column-major data is the row-major array of the reversed shape; transpose it back.
		rev := slices.Clone(shape)
		slices.Reverse(rev)
		perm := make([]int, len(shape))
		for i := range perm {
			perm[i] = len(shape) - 1 - i
		}
		out := reflect.MakeSlice(reflect.SliceOf(dt.GoType()), size, size).Interface()
		if size > 0 {
			transposeBytes(sliceBytes(out), sliceBytes(flat), rev, perm, dt.Size())
		}
		flat = out
	}
	return &NPY{DType: dt, Shape: shape, Data: flat}, nil
}

// ReadNPYFloat32 reads a .npy file of any numeric or bool dtype as float32: flat data (C order) and shape.
func ReadNPYFloat32(path string) ([]float32, []int, error) {
	n, err := ReadNPY(path)
	if err != nil {
		return nil, nil, err
	}
	if f, ok := n.Data.([]float32); ok {
		return f, n.Shape, nil
	}
	if err := checkConversion(n.DType, dtypes.Float32); err != nil {
		return nil, nil, fmt.Errorf("weights: %s: %w", path, err)
	}
	out := make([]float32, reflect.ValueOf(n.Data).Len())
	if len(out) > 0 {
		convertInto(out, encodeLE(n.Data, n.DType), n.DType, dtypes.Float32)
	}
	return out, n.Shape, nil
}

// npyDescr returns numpy's little-endian type string for a flat slice, and its dtype.
func npyDescr(data any) (string, dtypes.DType, error) {
	switch data.(type) {
	case []float32, []float64, []float16.Float16, []int64, []int32, []int16, []int8,
		[]uint64, []uint32, []uint16, []uint8, []bool:
	default:
		return "", dtypes.InvalidDType, fmt.Errorf("unsupported data type %T", data)
	}
	dt := dtypes.FromGoType(reflect.TypeOf(data).Elem())
	for kind, d := range npyKinds {
		if d == dt {
			order := "<"
			if dt.Size() == 1 {
				order = "|"
			}
			return order + kind, dt, nil
		}
	}
	return "", dtypes.InvalidDType, fmt.Errorf("unsupported data type %T", data)
}

// WriteNPY writes a flat slice in C order with the given shape to a .npy file (format 1.0, or 2.0 for huge
// headers), little-endian. data is one of []float32, []float64, []int64, []int32, []uint8 (also []float16.Float16,
// []int16, []int8, []uint64, []uint32, []uint16, []bool). The file is written beside path and renamed into place.
func WriteNPY(path string, shape []int, data any) error {
	descr, dt, err := npyDescr(data)
	if err != nil {
		return fmt.Errorf("weights: writing %s: %w", path, err)
	}
	size := 1
	dims := make([]string, len(shape))
	for i, d := range shape {
		if d < 0 {
			return fmt.Errorf("weights: writing %s: negative dimension in shape %v", path, shape)
		}
		size *= d
		dims[i] = strconv.Itoa(d)
	}
	if n := reflect.ValueOf(data).Len(); n != size {
		return fmt.Errorf("weights: writing %s: shape %v has %d elements, data has %d", path, shape, size, n)
	}
	shapeStr := strings.Join(dims, ", ")
	if len(shape) == 1 {
		shapeStr += ","
	}
	dict := fmt.Sprintf("{'descr': '%s', 'fortran_order': False, 'shape': (%s), }", descr, shapeStr)
	var buf bytes.Buffer
	buf.WriteString(npyMagic)
	prefix := 10
	if len(dict)+1+prefix+64 > 65535 {
		prefix = 12
	}
	total := prefix + len(dict) + 1
	pad := (64 - total%64) % 64
	hlen := len(dict) + pad + 1
	if prefix == 10 {
		buf.Write([]byte{1, 0})
		_ = binary.Write(&buf, binary.LittleEndian, uint16(hlen))
	} else {
		buf.Write([]byte{2, 0})
		_ = binary.Write(&buf, binary.LittleEndian, uint32(hlen))
	}
	buf.WriteString(dict)
	buf.WriteString(strings.Repeat(" ", pad))
	buf.WriteByte('\n')
	return writeAtomic(path, buf.Bytes(), encodeLE(data, dt))
}

// WriteNPYTensor writes a host tensor to a .npy file (see WriteNPY for the dtypes; BFloat16 has no numpy dtype
// and is refused).
func WriteNPYTensor(path string, t *tensors.Tensor) error {
	var err error
	if cerr := t.ConstFlatData(func(flat any) { err = WriteNPY(path, t.Shape().Dimensions, flat) }); cerr != nil {
		return fmt.Errorf("weights: writing %s: %w", path, cerr)
	}
	return err
}

// writeAtomic writes the chunks to a temporary file beside path and renames it into place.
func writeAtomic(path string, chunks ...[]byte) (err error) {
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
	for _, c := range chunks {
		if _, err := tmp.Write(c); err != nil {
			return fmt.Errorf("weights: writing %s: %w", path, err)
		}
	}
	return commitTemp(tmp, path)
}
