package weights

import (
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/dtypes/bfloat16"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/x448/float16"
)

// mustNPY reads a reference .npy file of testdata (written by make_testdata.py).
func mustNPY(t *testing.T, name string) *NPY {
	t.Helper()
	n, err := ReadNPY(filepath.Join("testdata", name))
	require.NoError(t, err)
	return n
}

// flatOf returns a tensor's flat data (a copy).
func flatOf(t *testing.T, x *tensors.Tensor) any {
	t.Helper()
	var out any
	x.MustConstFlatData(func(flat any) { out = flat })
	return out
}

// TestPythonWritten reads a safetensors file written by hand by numpy/torch and compares every tensor with the
// .npy file numpy wrote of the same values.
func TestPythonWritten(t *testing.T) {
	f, err := Open("testdata/python_written.safetensors")
	require.NoError(t, err)
	defer func() { require.NoError(t, f.Close()) }()

	want := []string{"a.f32", "b.f16", "c.bf16", "conv.weight", "d.i64", "e.i32.scalar", "empty", "f.u8", "g.bool",
		"h.f64", "i.i8"}
	assert.Equal(t, want, f.Names())
	assert.Equal(t, map[string]string{"format": "pt", "made_by": "make_testdata.py"}, f.Metadata())

	wantDTypes := map[string]dtypes.DType{"a.f32": dtypes.Float32, "b.f16": dtypes.Float16, "c.bf16": dtypes.BFloat16,
		"conv.weight": dtypes.Float32, "d.i64": dtypes.Int64, "e.i32.scalar": dtypes.Int32, "empty": dtypes.Float32,
		"f.u8": dtypes.Uint8, "g.bool": dtypes.Bool, "h.f64": dtypes.Float64, "i.i8": dtypes.Int8}
	for _, name := range want {
		t.Run(name, func(t *testing.T) {
			ref := mustNPY(t, "st_"+name+".npy")
			info, ok := f.Info(name)
			require.True(t, ok)
			assert.Equal(t, wantDTypes[name], info.DType)
			assert.Equal(t, ref.Shape, info.Shape)
			if info.DType == dtypes.BFloat16 { // numpy has no bfloat16: the reference holds its exact float32 values
				x, err := f.Tensor(name, dtypes.Float32)
				require.NoError(t, err)
				assert.Equal(t, ref.Data, flatOf(t, x))
				return
			}
			x, err := f.Tensor(name, dtypes.InvalidDType)
			require.NoError(t, err)
			assert.Equal(t, info.DType, x.DType())
			assert.Equal(t, ref.Shape, x.Shape().Dimensions)
			assert.Equal(t, ref.Data, flatOf(t, x))
			if info.DType != dtypes.Bool {
				got, shape, err := f.Float32s(name)
				require.NoError(t, err)
				assert.Equal(t, ref.Shape, shape)
				want, _, err := ReadNPYFloat32(filepath.Join("testdata", "st_"+name+".npy"))
				require.NoError(t, err)
				assert.Equal(t, want, got)
			}
		})
	}
}

// sameFloats compares float32s exactly, NaN matching any NaN.
func sameFloats(t *testing.T, want, got []float32, inputs []float32) {
	t.Helper()
	require.Len(t, got, len(want))
	for i := range want {
		if math.IsNaN(float64(want[i])) {
			assert.True(t, math.IsNaN(float64(got[i])), "input %g", inputs[i])
			continue
		}
		assert.Equal(t, math.Float32bits(want[i]), math.Float32bits(got[i]), "input %g: want %g got %g",
			inputs[i], want[i], got[i])
	}
}

// TestHalfConversions checks F16 and BF16 encoding (round to nearest even) and decoding against the bit patterns
// torch produced for the same float32 values (testdata/round_*.npy).
func TestHalfConversions(t *testing.T) {
	vals := mustNPY(t, "round_values_f32.npy").Data.([]float32)
	for _, tc := range []struct {
		name   string
		dt     dtypes.DType
		bits   string
		asF32  string
		isNaN  func(uint16) bool
		encode func(float32) uint16
	}{
		{"F16", dtypes.Float16, "round_f16_bits.npy", "round_f16_as_f32.npy",
			func(b uint16) bool { return b&0x7c00 == 0x7c00 && b&0x3ff != 0 },
			func(v float32) uint16 { return F16FromFloat32(v).Bits() }},
		{"BF16", dtypes.BFloat16, "round_bf16_bits.npy", "round_bf16_as_f32.npy",
			func(b uint16) bool { return b&0x7f80 == 0x7f80 && b&0x7f != 0 },
			func(v float32) uint16 { return BF16FromFloat32(v).Bits() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantBits := mustNPY(t, tc.bits).Data.([]uint16)
			wantF32 := mustNPY(t, tc.asF32).Data.([]float32)
			enc, err := EncodeFloat32s(vals, tc.dt)
			require.NoError(t, err)
			for i, v := range vals {
				got := binary.LittleEndian.Uint16(enc[2*i:])
				assert.Equal(t, tc.encode(v), got)
				if tc.isNaN(wantBits[i]) {
					assert.True(t, tc.isNaN(got), "input %g: got bits %#04x, want a NaN", v, got)
					continue
				}
				assert.Equal(t, wantBits[i], got, "input %g (index %d)", v, i)
			}

			// Files holding torch's bits, F32 values converted on load, and the reverse.
			path := filepath.Join(t.TempDir(), "half.safetensors")
			bitBytes := make([]byte, 2*len(wantBits))
			for i, b := range wantBits {
				binary.LittleEndian.PutUint16(bitBytes[2*i:], b)
			}
			require.NoError(t, WriteRaw(path, []RawTensor{
				{Name: "half", DType: tc.dt, Shape: []int{len(vals)}, Data: bitBytes},
				{Name: "f32", DType: dtypes.Float32, Shape: []int{len(vals)}, Float32s: vals},
			}, nil))
			f, err := Open(path)
			require.NoError(t, err)
			defer f.Close()
			got, _, err := f.Float32s("half")
			require.NoError(t, err)
			sameFloats(t, wantF32, got, vals)
			x, err := f.Tensor("half", dtypes.Float64)
			require.NoError(t, err)
			for i, v := range flatOf(t, x).([]float64) {
				if !math.IsNaN(float64(wantF32[i])) {
					assert.Equal(t, float64(wantF32[i]), v)
				}
			}
			x, err = f.Tensor("f32", tc.dt)
			require.NoError(t, err)
			require.NoError(t, x.ConstBytes(func(data []byte) {
				for i := range vals {
					got := binary.LittleEndian.Uint16(data[2*i:])
					if !tc.isNaN(wantBits[i]) {
						assert.Equal(t, wantBits[i], got, "input %g", vals[i])
					}
				}
			}))
		})
	}
}

// TestRoundTrip writes a tensor of every dtype with Write and reads it back unchanged.
func TestRoundTrip(t *testing.T) {
	ts := []Named{
		{"f32", tensors.FromFlatDataAndDimensions([]float32{1.5, -2, float32(math.Inf(1)), 3e-40, 0, 7}, 2, 3)},
		{"f64", tensors.FromFlatDataAndDimensions([]float64{math.Pi, -1e300}, 2)},
		{"f16", tensors.FromFlatDataAndDimensions([]float16.Float16{float16.Fromfloat32(0.5), float16.Fromfloat32(-3)}, 1, 2)},
		{"bf16", tensors.FromFlatDataAndDimensions([]bfloat16.BFloat16{bfloat16.FromFloat32(0.25), bfloat16.FromFloat32(1e20)}, 2, 1)},
		{"i64", tensors.FromFlatDataAndDimensions([]int64{math.MinInt64, math.MaxInt64, 0}, 3)},
		{"i32", tensors.FromFlatDataAndDimensions([]int32{math.MinInt32, 5}, 2)},
		{"i16", tensors.FromFlatDataAndDimensions([]int16{-300, 300}, 2)},
		{"i8", tensors.FromFlatDataAndDimensions([]int8{-128, 127, 0}, 3)},
		{"u64", tensors.FromFlatDataAndDimensions([]uint64{math.MaxUint64}, 1)},
		{"u32", tensors.FromFlatDataAndDimensions([]uint32{math.MaxUint32, 1}, 2)},
		{"u16", tensors.FromFlatDataAndDimensions([]uint16{65535, 2}, 2)},
		{"u8", tensors.FromFlatDataAndDimensions([]uint8{0, 255, 9}, 3)},
		{"bool", tensors.FromFlatDataAndDimensions([]bool{true, false, true, true}, 2, 2)},
		{"scalar", tensors.FromScalar(float32(42))},
		{"empty", tensors.FromFlatDataAndDimensions([]float32{}, 0, 4)},
	}
	path := filepath.Join(t.TempDir(), "rt.safetensors")
	md := map[string]string{"arch": "test", "note": "ünïcode"}
	require.NoError(t, Write(path, ts, md))
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Zero(t, (8+binary.LittleEndian.Uint64(raw))%8, "data section is 8-byte aligned")

	f, err := Open(path)
	require.NoError(t, err)
	defer f.Close()
	assert.Equal(t, md, f.Metadata())
	assert.Len(t, f.Names(), len(ts))
	for _, nt := range ts {
		t.Run(nt.Name, func(t *testing.T) {
			got, err := f.Tensor(nt.Name, dtypes.InvalidDType)
			require.NoError(t, err)
			assert.True(t, nt.Tensor.Shape().Equal(got.Shape()), "shape %s vs %s", nt.Tensor.Shape(), got.Shape())
			if nt.Tensor.Size() > 0 {
				assert.Equal(t, flatOf(t, nt.Tensor), flatOf(t, got))
			}
		})
	}
}

// TestConversions checks the allowed and refused dtype conversions on load.
func TestConversions(t *testing.T) {
	path := filepath.Join(t.TempDir(), "conv.safetensors")
	require.NoError(t, Write(path, []Named{
		{"i32", tensors.FromFlatDataAndDimensions([]int32{-3, 0, 70000}, 3)},
		{"u8", tensors.FromFlatDataAndDimensions([]uint8{200, 1}, 2)},
		{"bool", tensors.FromFlatDataAndDimensions([]bool{true, false}, 2)},
		{"f64", tensors.FromFlatDataAndDimensions([]float64{1.0 / 3, -2}, 2)},
	}, nil))
	f, err := Open(path)
	require.NoError(t, err)
	defer f.Close()

	get := func(name string, to dtypes.DType) any {
		x, err := f.Tensor(name, to)
		require.NoError(t, err, "%s -> %s", name, to)
		return flatOf(t, x)
	}
	assert.Equal(t, []float32{-3, 0, 70000}, get("i32", dtypes.Float32))
	assert.Equal(t, []int64{-3, 0, 70000}, get("i32", dtypes.Int64))
	assert.Equal(t, []int16{-3, 0, int16(int32(70000) & 0xffff)}, get("i32", dtypes.Int16))
	assert.Equal(t, []int32{200, 1}, get("u8", dtypes.Int32))
	assert.Equal(t, []float64{1, 0}, get("bool", dtypes.Float64))
	assert.Equal(t, []uint8{1, 0}, get("bool", dtypes.Uint8))
	assert.Equal(t, []float32{float32(1.0 / 3), -2}, get("f64", dtypes.Float32))
	bf := get("f64", dtypes.BFloat16).([]bfloat16.BFloat16)
	assert.Equal(t, []float32{0.333984375, -2}, []float32{bf[0].Float32(), bf[1].Float32()})
	for _, bad := range []struct {
		name string
		to   dtypes.DType
	}{{"f64", dtypes.Int32}, {"i32", dtypes.Bool}, {"f64", dtypes.Bool}, {"i32", dtypes.Complex64}} {
		_, err := f.Tensor(bad.name, bad.to)
		require.Error(t, err)
		assert.Contains(t, err.Error(), path)
		assert.Contains(t, err.Error(), `"`+bad.name+`"`)
	}
	_, _, err = f.Float32s("nope")
	require.ErrorContains(t, err, `"nope"`)
	require.NoError(t, f.Close())
	_, err = f.Tensor("i32", dtypes.Float32)
	require.ErrorIs(t, err, ErrClosed)
	require.NoError(t, f.Close(), "closing twice is fine")
}

// rawSafetensors returns file bytes made of a header (used as given) and dataLen data bytes.
func rawSafetensors(header string, dataLen int) []byte {
	out := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	out = append(out, header...)
	return append(out, make([]byte, dataLen)...)
}

// TestCorruptFiles checks that every malformed file is refused with an error naming the file and, where one is at
// fault, the tensor.
func TestCorruptFiles(t *testing.T) {
	good, err := os.ReadFile("testdata/python_written.safetensors")
	require.NoError(t, err)
	hdrLen := int(binary.LittleEndian.Uint64(good))

	hugeLen := binary.LittleEndian.AppendUint64(nil, 1<<40)
	hugeLen = append(hugeLen, `{}`...)
	cases := []struct {
		name   string
		data   []byte
		tensor string // the tensor the error must name ("" when none is at fault)
		want   string // another substring of the error
	}{
		{"empty file", nil, "", "shorter than the 8-byte"},
		{"short file", []byte{1, 2, 3}, "", "shorter than the 8-byte"},
		{"header length beyond file", hugeLen, "", "beyond the file size"},
		{"truncated in header", good[:8+hdrLen/2], "", "beyond the file size"},
		{"truncated in data", good[:len(good)-5], "conv.weight", "out of range"},
		{"not JSON", rawSafetensors(`{nope}`, 0), "", "header JSON"},
		{"not an object", rawSafetensors(`[1, 2]`, 0), "", "does not start with '{'"},
		{"bad JSON in entry", rawSafetensors(`{"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]`, 4), "", "header JSON"},
		{"bad entry type", rawSafetensors(`{"w": [1, 2]}`, 0), "w", "bad entry"},
		{"unknown dtype", rawSafetensors(`{"w": {"dtype": "F8_E4M3", "shape": [4], "data_offsets": [0, 4]}}`, 4), "w", "dtype"},
		{"missing dtype", rawSafetensors(`{"w": {"shape": [1], "data_offsets": [0, 4]}}`, 4), "w", "needs dtype"},
		{"unknown field", rawSafetensors(`{"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4], "x": 1}}`, 4), "w", "unknown field"},
		{"negative dim", rawSafetensors(`{"w": {"dtype": "F32", "shape": [-1, -4], "data_offsets": [0, 16]}}`, 16), "w", "negative dimension"},
		{"fractional dim", rawSafetensors(`{"w": {"dtype": "F32", "shape": [1.5], "data_offsets": [0, 4]}}`, 4), "w", "bad entry"},
		{"overflowing dims", rawSafetensors(`{"w": {"dtype": "F32", "shape": [4294967296, 4294967296, 16], "data_offsets": [0, 0]}}`, 0), "w", "needs"},
		{"byte count", rawSafetensors(`{"w": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}`, 8), "w", "needs 12 bytes"},
		{"three offsets", rawSafetensors(`{"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4, 8]}}`, 8), "w", "2 entries"},
		{"begin after end", rawSafetensors(`{"w": {"dtype": "F32", "shape": [1], "data_offsets": [8, 4]}}`, 8), "w", "invalid data_offsets"},
		{"negative offset", rawSafetensors(`{"w": {"dtype": "F32", "shape": [1], "data_offsets": [-4, 0]}}`, 8), "w", "invalid data_offsets"},
		{"out of range", rawSafetensors(`{"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}`, 8), "w", "out of range"},
		{"overlap", rawSafetensors(`{"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}`, 12), "b", "overlap"},
		{"same range twice", rawSafetensors(`{"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, "b": {"dtype": "I32", "shape": [2], "data_offsets": [0, 8]}}`, 8), "b", "overlap"},
		{"hole", rawSafetensors(`{"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}, "b": {"dtype": "F32", "shape": [1], "data_offsets": [8, 12]}}`, 12), "b", "hole"},
		{"hole at start", rawSafetensors(`{"a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}`, 8), "a", "hole"},
		{"trailing bytes", rawSafetensors(`{"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}`, 8), "a", "trailing"},
		{"duplicated tensor", rawSafetensors(`{"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}, "a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}`, 8), "a", "twice"},
		{"metadata not strings", rawSafetensors(`{"__metadata__": {"k": 1}}`, 0), "", "__metadata__"},
		{"trailing JSON", rawSafetensors(`{} {}`, 0), "", "after the header"},
	}
	dir := t.TempDir()
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_")+".safetensors")
			require.NoError(t, os.WriteFile(path, tc.data, 0o644))
			f, err := Open(path)
			require.Error(t, err, "case %d", i)
			require.Nil(t, f)
			msg := err.Error()
			assert.Contains(t, msg, path)
			if tc.tensor != "" {
				assert.Contains(t, msg, `tensor "`+tc.tensor+`"`)
			}
			assert.Contains(t, msg, tc.want)
		})
	}
	t.Run("missing file", func(t *testing.T) {
		path := filepath.Join(dir, "absent.safetensors")
		_, err := Open(path)
		require.ErrorContains(t, err, path)
	})
	t.Run("valid edge cases", func(t *testing.T) {
		for _, hdr := range []string{
			`{}`,
			`{"__metadata__": {}}   `,
			`{"z": {"dtype": "U8", "shape": [0], "data_offsets": [0, 0]}, "a": {"dtype": "U8", "shape": [2], "data_offsets": [0, 2]}, "b": {"dtype": "BOOL", "shape": [0, 5], "data_offsets": [2, 2]}}`,
		} {
			data := rawSafetensors(hdr, 0)
			if strings.Contains(hdr, `"a"`) {
				data = rawSafetensors(hdr, 2)
			}
			_, err := ParseHeader(data, int64(len(data)))
			require.NoError(t, err, hdr)
		}
	})
}

// TestConvertParallel checks that chunked concurrent conversion of a large tensor equals the sequential one.
func TestConvertParallel(t *testing.T) {
	n := parallelMinElems*2 + 3
	src := make([]byte, 2*n)
	for i := range n {
		binary.LittleEndian.PutUint16(src[2*i:], uint16(i*40503)&0x7bff)
	}
	for _, from := range []dtypes.DType{dtypes.Float16, dtypes.BFloat16} {
		want := make([]float32, n)
		convertInto(want, src, from, dtypes.Float32)
		got := make([]float32, n)
		convertParallel(got, src, from, dtypes.Float32)
		require.Equal(t, want, got, "from %s", from)
	}
}
