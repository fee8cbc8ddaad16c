package weights

import (
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/x448/float16"
)

// TestReadNPY reads files written by numpy (testdata/make_testdata.py) and checks dtype, shape and values (the
// values are the expressions the script used).
func TestReadNPY(t *testing.T) {
	f32 := func(n int, fn func(i int) float32) []float32 {
		out := make([]float32, n)
		for i := range out {
			out[i] = fn(i)
		}
		return out
	}
	cases := []struct {
		file  string
		dtype dtypes.DType
		shape []int
		data  any
	}{
		{"np_f32_2x3x4.npy", dtypes.Float32, []int{2, 3, 4}, f32(24, func(i int) float32 { return (float32(i) - 11.5) / 3 })},
		{"np_f64_5.npy", dtypes.Float64, []int{5}, []float64{1e-300, -0.5, math.Pow(2, 60), math.Pi, -math.E}},
		{"np_i64_2x2.npy", dtypes.Int64, []int{2, 2}, []int64{-(1 << 62), 1, 2, 1<<62 + 7}},
		{"np_i32_3x1.npy", dtypes.Int32, []int{3, 1}, []int32{-7, 0, math.MaxInt32}},
		{"np_u8_2x2x3.npy", dtypes.Uint8, []int{2, 2, 3}, []uint8{0, 21, 42, 63, 84, 105, 126, 147, 168, 189, 210, 231}},
		{"np_f32_scalar.npy", dtypes.Float32, []int{}, []float32{2.5}},
		{"np_f32_0x3.npy", dtypes.Float32, []int{0, 3}, []float32{}},
		{"np_f32_fortran_3x4.npy", dtypes.Float32, []int{3, 4}, f32(12, func(i int) float32 { return float32(i) })},
		{"np_f32_bigendian_2x3.npy", dtypes.Float32, []int{2, 3}, f32(6, func(i int) float32 { return float32(i) * 1.5 })},
		{"np_f16_4.npy", dtypes.Float16, []int{4}, []float16.Float16{
			float16.Fromfloat32(0.5), float16.Fromfloat32(-2.25), float16.Fromfloat32(1000), float16.Fromfloat32(1e-5)}},
		{"np_bool_3.npy", dtypes.Bool, []int{3}, []bool{true, false, true}},
		{"np_f32_v2_2x2.npy", dtypes.Float32, []int{2, 2}, []float32{1, 2, 3, 4}},
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			n := mustNPY(t, tc.file)
			assert.Equal(t, tc.dtype, n.DType)
			assert.Equal(t, tc.shape, n.Shape)
			assert.Equal(t, tc.data, n.Data)
			x := n.Tensor()
			assert.Equal(t, tc.shape, x.Shape().Dimensions)
			if tc.dtype != dtypes.Bool {
				got, shape, err := ReadNPYFloat32(filepath.Join("testdata", tc.file))
				require.NoError(t, err)
				assert.Equal(t, tc.shape, shape)
				assert.Len(t, got, x.Size())
			}
		})
	}
}

// TestWriteNPY writes the arrays numpy wrote and compares the files byte for byte (same header layout, padded to
// 64 bytes, little-endian C-order data), then round-trips other dtypes.
func TestWriteNPY(t *testing.T) {
	dir := t.TempDir()
	for _, file := range []string{"np_f32_2x3x4.npy", "np_f64_5.npy", "np_i64_2x2.npy", "np_i32_3x1.npy",
		"np_u8_2x2x3.npy", "np_f32_scalar.npy", "np_f32_0x3.npy", "np_f16_4.npy", "np_bool_3.npy"} {
		t.Run(file, func(t *testing.T) {
			n := mustNPY(t, file)
			path := filepath.Join(dir, file)
			require.NoError(t, WriteNPY(path, n.Shape, n.Data))
			want, err := os.ReadFile(filepath.Join("testdata", file))
			require.NoError(t, err)
			got, err := os.ReadFile(path)
			require.NoError(t, err)
			assert.Equal(t, string(want), string(got))
		})
	}
	t.Run("round trip", func(t *testing.T) {
		for _, data := range []any{[]int16{-1, 2}, []uint16{1, 65535}, []uint32{7, 8}, []uint64{math.MaxUint64, 0}, []int8{-5, 5}} {
			path := filepath.Join(dir, "rt.npy")
			require.NoError(t, WriteNPY(path, []int{2, 1}, data))
			n, err := ReadNPY(path)
			require.NoError(t, err)
			assert.Equal(t, data, n.Data)
			assert.Equal(t, []int{2, 1}, n.Shape)
		}
	})
	t.Run("tensor", func(t *testing.T) {
		n := mustNPY(t, "np_i64_2x2.npy")
		path := filepath.Join(dir, "tensor.npy")
		require.NoError(t, WriteNPYTensor(path, n.Tensor()))
		want, err := os.ReadFile("testdata/np_i64_2x2.npy")
		require.NoError(t, err)
		got, err := os.ReadFile(path)
		require.NoError(t, err)
		assert.Equal(t, want, got)
	})
	t.Run("errors", func(t *testing.T) {
		path := filepath.Join(dir, "bad.npy")
		require.ErrorContains(t, WriteNPY(path, []int{3}, []float32{1, 2}), path)
		require.ErrorContains(t, WriteNPY(path, []int{1}, []string{"x"}), "unsupported")
		require.ErrorContains(t, WriteNPY(path, []int{-1}, []float32{}), "negative")
		good, err := os.ReadFile("testdata/np_f32_2x3x4.npy")
		require.NoError(t, err)
		for name, raw := range map[string][]byte{
			"truncated":  good[:len(good)-4],
			"no magic":   append([]byte("XNUMPY"), good[6:]...),
			"short":      good[:9],
			"complex":    npyWithHeader("{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }\n", 8),
			"no shape":   npyWithHeader("{'descr': '<f4', 'fortran_order': False, }\n", 4),
			"bad shape":  npyWithHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }\n", 4),
			"overflow":   npyWithHeader("{'descr': '<f8', 'fortran_order': False, 'shape': (2147483648, 2147483648), }\n", 0),
			"structured": npyWithHeader("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }\n", 4),
		} {
			require.NoError(t, os.WriteFile(path, raw, 0o644))
			_, err := ReadNPY(path)
			require.Error(t, err, name)
			t.Log(name, ": ", err)
			assert.Contains(t, err.Error(), path, name)
		}
	})
}

// npyWithHeader returns a version 1.0 .npy file with the given header text and dataLen zero bytes of data.
func npyWithHeader(header string, dataLen int) []byte {
	out := append([]byte(npyMagic), 1, 0, byte(len(header)), byte(len(header)>>8))
	out = append(out, header...)
	return append(out, make([]byte, dataLen)...)
}
