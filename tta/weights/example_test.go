package weights_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gotta-ml/gotta/tta/weights"
)

// A model loader takes every tensor it needs with its expected shape, transposes torch conv kernels to HWIO on the
// host, and fails when the checkpoint holds tensors it did not use.
func ExampleLoader() {
	dir, _ := os.MkdirTemp("", "weights-example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "tiny.safetensors")
	kernel := make([]float32, 8*3*3*3) // torch layout [out=8, in=3, kh=3, kw=3]
	err := weights.WriteRaw(path, []weights.RawTensor{
		{Name: "conv1.weight", DType: dtypes.Float16, Shape: []int{8, 3, 3, 3}, Float32s: kernel},
		{Name: "fc.bias", DType: dtypes.Float32, Shape: []int{10}, Float32s: make([]float32, 10)},
		{Name: "bn1.num_batches_tracked", DType: dtypes.Int64, Shape: []int{}, Data: make([]byte, 8)},
	}, map[string]string{"arch": "tiny"})
	if err != nil {
		panic(err)
	}

	f, err := weights.Open(path)
	if err != nil {
		panic(err)
	}
	defer f.Close()
	l := weights.NewLoader(f)
	w, err := l.Transposed("conv1.weight", []int{8, 3, 3, 3}, weights.OIHWToHWIO, dtypes.Float32)
	if err != nil {
		panic(err)
	}
	fmt.Println("conv1.weight:", w.Shape())
	fmt.Println("metadata:", f.Metadata())
	fmt.Println("finish:", l.Finish() != nil)
	_ = l.Skip("bn1.num_batches_tracked")
	_, err = l.Take("fc.bias", []int{10}, dtypes.Float32)
	fmt.Println("take:", err, "finish:", l.Finish())
	// Output:
	// conv1.weight: (Float32)[3 3 3 8]
	// metadata: map[arch:tiny]
	// finish: true
	// take: <nil> finish: <nil>
}
