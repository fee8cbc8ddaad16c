package weights

import (
	"encoding/binary"
	"os"
	"testing"
)

// FuzzParseHeader feeds arbitrary bytes to ParseHeader, which must never panic, and checks the invariants of every
// header it accepts: tensors inside the data section, byte counts matching dtype x shape, sorted names.
// Seeds: the f.Add calls below and testdata/fuzz/FuzzParseHeader/.
// Run: go test ./tta/weights -run '^$' -fuzz FuzzParseHeader -fuzztime 30s
func FuzzParseHeader(f *testing.F) {
	if good, err := os.ReadFile("testdata/python_written.safetensors"); err == nil {
		f.Add(good, int64(len(good)))
		f.Add(good[:len(good)/2], int64(len(good)))
	}
	for _, hdr := range []string{
		`{}`,
		`{"__metadata__": {"format": "pt"}}`,
		`{"w": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]}}`,
		`{"a": {"dtype": "BF16", "shape": [1], "data_offsets": [0, 2]}, "b": {"dtype": "BOOL", "shape": [0], "data_offsets": [2, 2]}}`,
		`{"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}`,
		`{"w": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}}`,
		`{"w": {"dtype": "I64", "shape": [9223372036854775807, 2], "data_offsets": [0, 16]}}`,
		`{"w": {"dtype": "F16", "shape": [1e3], "data_offsets": [0, 2000]}}`,
	} {
		data := binary.LittleEndian.AppendUint64(nil, uint64(len(hdr)))
		data = append(data, hdr...)
		data = append(data, make([]byte, 16)...)
		f.Add(data, int64(len(data)))
		f.Add(data, int64(len(data)-16))
	}
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, '{', '}'}, int64(10))
	f.Fuzz(func(t *testing.T, data []byte, fileSize int64) {
		h, err := ParseHeader(data, fileSize)
		if err != nil {
			return
		}
		if h.DataOffset+h.DataSize != fileSize {
			t.Fatalf("data section [%d, +%d) does not end at file size %d", h.DataOffset, h.DataSize, fileSize)
		}
		var covered int64
		for i, name := range h.Names {
			if i > 0 && h.Names[i-1] >= name {
				t.Fatalf("names not sorted: %q >= %q", h.Names[i-1], name)
			}
			info := h.Tensors[name]
			if info.Begin < 0 || info.End < info.Begin || info.End > h.DataSize {
				t.Fatalf("tensor %q: offsets [%d, %d] outside data section of %d", name, info.Begin, info.End, h.DataSize)
			}
			if int64(info.Size())*int64(info.DType.Size()) != info.NumBytes() {
				t.Fatalf("tensor %q: %d elements of %s in %d bytes", name, info.Size(), info.DType, info.NumBytes())
			}
			covered += info.NumBytes()
		}
		if covered != h.DataSize {
			t.Fatalf("tensors cover %d bytes of a %d-byte data section", covered, h.DataSize)
		}
	})
}

// FuzzParseNPY checks that parseNPY never panics and that what it accepts is consistent.
// Run: go test ./tta/weights -run '^$' -fuzz FuzzParseNPY -fuzztime 30s
func FuzzParseNPY(f *testing.F) {
	for _, name := range []string{"np_f32_2x3x4.npy", "np_f32_fortran_3x4.npy", "np_f32_bigendian_2x3.npy",
		"np_f32_v2_2x2.npy", "np_bool_3.npy", "np_f32_scalar.npy"} {
		if raw, err := os.ReadFile("testdata/" + name); err == nil {
			f.Add(raw)
		}
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		n, err := parseNPY(raw)
		if err != nil {
			return
		}
		size := 1
		for _, d := range n.Shape {
			size *= d
		}
		if got := len(sliceBytes(n.Data)); got != size*n.DType.Size() {
			t.Fatalf("shape %v of %s but %d data bytes", n.Shape, n.DType, got)
		}
	})
}
