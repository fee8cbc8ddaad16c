package augment

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/stretchr/testify/require"

	"github.com/gotta-ml/gotta/tta/backend"
)

// BenchmarkViews64 makes TPT's 64 views (CLIP(224) base + 63 random resized crops with flips) of a
// 500x375 image (ImageNet's typical JPEG size).
//
//	host/workers=k: Views.GenerateInto on k goroutines (1 and runtime.NumCPU()), PIL-exact uint8 passes
//	graph:          CropRegions on the host + one uint8 image upload + CropResizeRegionsGraph + NormalizeGraph on the
//	                GOMLX_BACKEND backend; views stay on the device (a scalar sum is fetched to wait for them)
//	graph+download: the same, fetching all views [64, 224, 224, 3] to the host
func BenchmarkViews64(b *testing.B) {
	img := pattern(500, 375)
	v := Views{N: 64, Kind: RandomResizedCrop, Seed: 1, Preprocess: CLIP(224)}
	S := 224
	report := func(b *testing.B, start time.Time, n int) {
		perSec := float64(n*v.N) / time.Since(start).Seconds()
		b.ReportMetric(perSec, "views/s")
	}
	for _, workers := range []int{1, runtime.NumCPU()} {
		b.Run(fmt.Sprintf("host/workers=%d", workers), func(b *testing.B) {
			v := v
			v.Workers = workers
			dst := make([]float32, v.N*S*S*3)
			start, n := time.Now(), 0
			for b.Loop() {
				require.NoError(b, v.GenerateInto(dst, img, fmt.Sprint(n)))
				n++
			}
			report(b, start, n)
		})
	}
	baseFilter, viewFilter := v.GraphFilters()
	for _, download := range []bool{false, true} {
		name := "graph"
		if download {
			name = "graph+download"
		}
		b.Run(name, func(b *testing.B) {
			be := backend.MustNew() // created here, so the host benchmark runs without a backend's threads
			defer be.Finalize()
			exec, err := graph.NewExec(be, func(im, reg *graph.Node) *graph.Node {
				views := NormalizeGraph(CropResizeRegionsGraph(im, reg, S, baseFilter, viewFilter),
					v.Preprocess.Mean, v.Preprocess.Std) // [64, 224, 224, 3]
				if download {
					return views
				}
				return graph.ReduceAllSum(views)
			})
			require.NoError(b, err)
			run := func(n int) {
				regions, err := v.CropRegions(img.W, img.H, fmt.Sprint(n))
				require.NoError(b, err)
				out, err := exec.Exec1(tensors.FromFlatDataAndDimensions(img.Pix, img.H, img.W, 3), // uint8 upload
					tensors.FromFlatDataAndDimensions(regions, v.N, 2, 4))
				require.NoError(b, err)
				_ = tensors.MustCopyFlatData[float32](out)
				out.FinalizeAll()
			}
			t0 := time.Now()
			run(-1) // compile
			b.Logf("%s: compile + first run %s on %s", name, time.Since(t0), be.Name())
			start, n := time.Now(), 0
			for b.Loop() {
				run(n)
				n++
			}
			report(b, start, n)
		})
	}
}

// BenchmarkViews64AugMix makes 64 views with torchvision's AugMix on the raw 500x375 image, then
// Resize(224, BICUBIC) + CenterCrop(224) (Kind AugMix).
func BenchmarkViews64AugMix(b *testing.B) {
	img := pattern(500, 375)
	for _, workers := range []int{1, runtime.NumCPU()} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			v := Views{N: 64, Kind: AugMix, Seed: 1, Preprocess: CLIP(224), Workers: workers}
			dst := make([]float32, v.N*224*224*3)
			start, n := time.Now(), 0
			for b.Loop() {
				require.NoError(b, v.GenerateInto(dst, img, fmt.Sprint(n)))
				n++
			}
			b.ReportMetric(float64(n*v.N)/time.Since(start).Seconds(), "views/s")
		})
	}
}
