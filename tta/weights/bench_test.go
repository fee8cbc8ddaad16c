package weights

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
)

// benchFile writes a 1 GiB safetensors file (64 MiB with -short) of 16 MiB tensors in
// F32, F16 and BF16, in turn.
func benchFile(b *testing.B) string {
	var benchPath string
	benchErr := func() error {
		total := 1 << 30
		if testing.Short() {
			total = 64 << 20
		}
		const chunk = 16 << 20
		data := make([]byte, chunk)
		for i := range data {
			data[i] = byte(i*2654435761>>13) & 0x3f // small exponents: finite values in every dtype
		}
		var ts []RawTensor
		kinds := []dtypes.DType{dtypes.Float32, dtypes.Float16, dtypes.BFloat16}
		for i := 0; i < total/chunk; i++ {
			dt := kinds[i%len(kinds)]
			ts = append(ts, RawTensor{Name: fmt.Sprintf("layer%03d.weight", i), DType: dt,
				Shape: []int{chunk / dt.Size() / 1024, 1024}, Data: data})
		}
		dir, err := os.MkdirTemp("", "gotta-weights-bench")
		if err != nil {
			return err
		}
		benchPath = filepath.Join(dir, "bench.safetensors")
		return WriteRaw(benchPath, ts, nil)
	}()
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	return benchPath
}

// BenchmarkRead1GB opens a 1 GiB file and reads every tensor converted to float32 (reported as MB/s of file data).
// The file is removed when the benchmark ends.
func BenchmarkRead1GB(b *testing.B) {
	path := benchFile(b)
	defer os.RemoveAll(filepath.Dir(path))
	st, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(st.Size())
	b.ResetTimer()
	for b.Loop() {
		f, err := Open(path)
		if err != nil {
			b.Fatal(err)
		}
		for _, name := range f.Names() {
			x, err := f.Tensor(name, dtypes.Float32)
			if err != nil {
				b.Fatal(err)
			}
			x.FinalizeAll()
		}
		if err := f.Close(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(st.Size())*float64(b.N)/b.Elapsed().Seconds()/1e6, "file-MB/s")
}
