package weights

import (
	"encoding/binary"
	"fmt"
	"math"
	"reflect"
	"runtime"
	"sync"
	"unsafe"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/dtypes/bfloat16"
	"github.com/x448/float16"
)

// hostLittleEndian is true on little-endian machines, where same-dtype copies are plain memory copies.
var hostLittleEndian = func() bool {
	x := uint16(1)
	return *(*byte)(unsafe.Pointer(&x)) == 1
}()

// BF16FromFloat32 rounds x to the nearest bfloat16, ties to even, as torch does (NaN stays a quiet NaN). GoMLX's
// bfloat16.FromFloat32 truncates instead.
func BF16FromFloat32(x float32) bfloat16.BFloat16 {
	b := math.Float32bits(x)
	if b&0x7fffffff > 0x7f800000 { // NaN: keep the sign, force a quiet NaN
		return bfloat16.BFloat16(uint16(b>>16) | 0x0040)
	}
	b += 0x7fff + (b>>16)&1
	return bfloat16.BFloat16(b >> 16)
}

// F16FromFloat32 rounds x to the nearest IEEE half, ties to even.
func F16FromFloat32(x float32) float16.Float16 { return float16.Fromfloat32(x) }

// checkConversion says whether values of dtype from may be loaded as dtype to.
func checkConversion(from, to dtypes.DType) error {
	switch {
	case from == to:
		return nil
	case to.IsFloat() && (from.IsFloat() || from.IsInt() || from == dtypes.Bool):
		return nil
	case to.IsInt() && (from.IsInt() || from == dtypes.Bool):
		return nil
	}
	return fmt.Errorf("cannot convert %s to %s", from, to)
}

// convertInto fills dst, a flat slice of to's Go type with len(src)/from.Size() elements, with the little-endian
// values of dtype from held in src. The conversion must have passed checkConversion.
func convertInto(dst any, src []byte, from, to dtypes.DType) {
	if from == to && hostLittleEndian && from != dtypes.Bool {
		copy(sliceBytes(dst), src)
		return
	}
	switch d := dst.(type) {
	case []float32:
		toFloat32(d, src, from)
	case []float64:
		f := floatReader(src, from)
		for i := range d {
			d[i] = f(i)
		}
	case []float16.Float16:
		if from == dtypes.Float64 {
			f := floatReader(src, from)
			for i := range d {
				d[i] = float16.Fromfloat32(float32(f(i)))
			}
			return
		}
		tmp := make([]float32, len(d))
		toFloat32(tmp, src, from)
		for i, v := range tmp {
			d[i] = float16.Fromfloat32(v)
		}
	case []bfloat16.BFloat16:
		tmp := make([]float32, len(d))
		toFloat32(tmp, src, from)
		for i, v := range tmp {
			d[i] = BF16FromFloat32(v)
		}
	case []int64:
		fillInts(d, src, from)
	case []int32:
		fillInts(d, src, from)
	case []int16:
		fillInts(d, src, from)
	case []int8:
		fillInts(d, src, from)
	case []uint64:
		fillInts(d, src, from)
	case []uint32:
		fillInts(d, src, from)
	case []uint16:
		fillInts(d, src, from)
	case []uint8:
		fillInts(d, src, from)
	case []bool:
		for i := range d {
			d[i] = src[i] != 0
		}
	default:
		panic(fmt.Sprintf("weights.convertInto: unsupported destination %T", dst))
	}
}

var (
	f16TableOnce sync.Once
	f16TableData *[1 << 16]float32
)

// f16Table returns the float32 value of every float16 bit pattern (256 KiB, built on first use): a lookup is much
// faster than decoding the bits.
func f16Table() *[1 << 16]float32 {
	f16TableOnce.Do(func() {
		f16TableData = new([1 << 16]float32)
		for i := range f16TableData {
			f16TableData[i] = float16.Frombits(uint16(i)).Float32()
		}
	})
	return f16TableData
}

// parallelMinElems is the element count above which conversions are split across GOMAXPROCS goroutines.
const parallelMinElems = 1 << 20

// convertParallel is convertInto split into chunks converted concurrently when the tensor is large.
func convertParallel(dst any, src []byte, from, to dtypes.DType) {
	dv := reflect.ValueOf(dst)
	n := dv.Len()
	workers := min(runtime.GOMAXPROCS(0), n/(parallelMinElems/4))
	if n < parallelMinElems || workers < 2 {
		convertInto(dst, src, from, to)
		return
	}
	var wg sync.WaitGroup
	per := (n + workers - 1) / workers
	fs := from.Size()
	for lo := 0; lo < n; lo += per {
		hi := min(lo+per, n)
		wg.Add(1)
		go func() {
			defer wg.Done()
			convertInto(dv.Slice(lo, hi).Interface(), src[lo*fs:hi*fs], from, to)
		}()
	}
	wg.Wait()
}

// toFloat32 decodes src (dtype from) into d.
func toFloat32(d []float32, src []byte, from dtypes.DType) {
	le := binary.LittleEndian
	switch from {
	case dtypes.Float32:
		if hostLittleEndian {
			copy(sliceBytes(d), src)
			return
		}
		for i := range d {
			d[i] = math.Float32frombits(le.Uint32(src[4*i:]))
		}
	case dtypes.BFloat16:
		src = src[:2*len(d)]
		for i := range d {
			d[i] = math.Float32frombits(uint32(le.Uint16(src[2*i:])) << 16)
		}
	case dtypes.Float16:
		src = src[:2*len(d)]
		table := f16Table()
		for i := range d {
			d[i] = table[le.Uint16(src[2*i:])]
		}
	default:
		f := floatReader(src, from)
		for i := range d {
			d[i] = float32(f(i))
		}
	}
}

// floatReader returns a function giving element i of src (dtype from) as a float64.
func floatReader(src []byte, from dtypes.DType) func(i int) float64 {
	le := binary.LittleEndian
	switch from {
	case dtypes.Float64:
		return func(i int) float64 { return math.Float64frombits(le.Uint64(src[8*i:])) }
	case dtypes.Float32:
		return func(i int) float64 { return float64(math.Float32frombits(le.Uint32(src[4*i:]))) }
	case dtypes.Float16:
		return func(i int) float64 { return float64(float16.Frombits(le.Uint16(src[2*i:])).Float32()) }
	case dtypes.BFloat16:
		return func(i int) float64 { return float64(math.Float32frombits(uint32(le.Uint16(src[2*i:])) << 16)) }
	case dtypes.Uint64:
		return func(i int) float64 { return float64(le.Uint64(src[8*i:])) }
	}
	g := intReader(src, from)
	return func(i int) float64 { return float64(g(i)) }
}

// intReader returns a function giving element i of src (an integer or bool dtype) as an int64 (uint64 values wrap,
// and are converted back exactly by fillInts).
func intReader(src []byte, from dtypes.DType) func(i int) int64 {
	le := binary.LittleEndian
	switch from {
	case dtypes.Int64:
		return func(i int) int64 { return int64(le.Uint64(src[8*i:])) }
	case dtypes.Uint64:
		return func(i int) int64 { return int64(le.Uint64(src[8*i:])) }
	case dtypes.Int32:
		return func(i int) int64 { return int64(int32(le.Uint32(src[4*i:]))) }
	case dtypes.Uint32:
		return func(i int) int64 { return int64(le.Uint32(src[4*i:])) }
	case dtypes.Int16:
		return func(i int) int64 { return int64(int16(le.Uint16(src[2*i:]))) }
	case dtypes.Uint16:
		return func(i int) int64 { return int64(le.Uint16(src[2*i:])) }
	case dtypes.Int8:
		return func(i int) int64 { return int64(int8(src[i])) }
	case dtypes.Uint8:
		return func(i int) int64 { return int64(src[i]) }
	case dtypes.Bool:
		return func(i int) int64 {
			if src[i] != 0 {
				return 1
			}
			return 0
		}
	}
	panic(fmt.Sprintf("weights.intReader: %s is not an integer dtype", from))
}

type integer interface {
	~int64 | ~int32 | ~int16 | ~int8 | ~uint64 | ~uint32 | ~uint16 | ~uint8
}

func fillInts[T integer](d []T, src []byte, from dtypes.DType) {
	g := intReader(src, from)
	for i := range d {
		d[i] = T(g(i))
	}
}

// sliceBytes returns the memory of a flat slice of fixed-size elements as bytes (no copy).
func sliceBytes(flat any) []byte {
	switch s := flat.(type) {
	case []float32:
		return asBytes(s)
	case []float64:
		return asBytes(s)
	case []float16.Float16:
		return asBytes(s)
	case []bfloat16.BFloat16:
		return asBytes(s)
	case []int64:
		return asBytes(s)
	case []int32:
		return asBytes(s)
	case []int16:
		return asBytes(s)
	case []int8:
		return asBytes(s)
	case []uint64:
		return asBytes(s)
	case []uint32:
		return asBytes(s)
	case []uint16:
		return asBytes(s)
	case []uint8:
		return s
	case []bool:
		return asBytes(s)
	}
	panic(fmt.Sprintf("weights.sliceBytes: unsupported slice %T", flat))
}

func asBytes[T any](s []T) []byte {
	if len(s) == 0 {
		return nil
	}
	var zero T
	return unsafe.Slice((*byte)(unsafe.Pointer(&s[0])), len(s)*int(unsafe.Sizeof(zero)))
}

// encodeLE returns the little-endian bytes of a flat slice (a copy on big-endian hosts, the slice's own memory on
// little-endian ones).
func encodeLE(flat any, dt dtypes.DType) []byte {
	b := sliceBytes(flat)
	if hostLittleEndian || dt.Size() == 1 {
		return b
	}
	out := make([]byte, len(b))
	sz := dt.Size()
	for i := 0; i < len(b); i += sz {
		for j := 0; j < sz; j++ {
			out[i+j] = b[i+sz-1-j]
		}
	}
	return out
}
