package clip

import (
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gotta-ml/gotta/tta/nn"
	"github.com/stretchr/testify/require"
)

// BenchmarkEncodeImage times the image tower of RN50 and ViT-B/16 (random weights, published configs) and reports
// img/s and the compile (+ first run) time in seconds. The batch is 1 on the pure-Go backend and 256 elsewhere;
// GOTTA_BENCH_BATCH overrides it, GOTTA_BENCH_BF16=1 computes in bfloat16. Skipped under -short.
//
//	go test -run '^$' -bench EncodeImage -benchtime 1x ./tta/clip
//
// Measured 2026-11-27: one H100 (GoMLX XLA over jax-cuda13-pjrt's plugin, batch 256, 20 runs): RN50 10,201 img/s
// float32 (TF32) and 18,526 img/s bfloat16, ViT-B/16 3,734 and 7,079 img/s, compile + first run 1.2-6.0 s (PyTorch
// fp16 anchors: 8,013 and 5,749 img/s). Pure Go on the 2-core dev machine, batch 1: RN50 1.8 s, ViT-B/16 4.6-5.5 s
// per image (matmul-bound).
func BenchmarkEncodeImage(b *testing.B) {
	if testing.Short() {
		b.Skip("CLIP-size image towers take seconds per image on the pure-Go backend")
	}
	pureGo := strings.HasPrefix(be().Name(), "go") || strings.Contains(strings.ToLower(be().Name()), "simplego")
	batch := 256
	if pureGo {
		batch = 1
	}
	if s := os.Getenv("GOTTA_BENCH_BATCH"); s != "" {
		n, err := strconv.Atoi(s)
		require.NoError(b, err)
		batch = n
	}
	opts := LoadOpts{}
	if os.Getenv("GOTTA_BENCH_BF16") == "1" {
		opts.DType = dtypes.BFloat16
	}
	for _, name := range []string{"RN50", "ViT-B/16"} {
		b.Run(strings.ReplaceAll(name, "/", "_"), func(b *testing.B) {
			c := published[name]
			c.ContextLength, c.VocabSize, c.TextLayers = 77, 49408, 12
			m, err := NewRandom(context.New(), c, 1, opts)
			require.NoError(b, err)
			exec, err := context.NewExec(be(), m.Ctx, func(ctx *context.Context, x *Node) *Node {
				return m.EncodeImage(ctx, x)
			})
			require.NoError(b, err)
			r := c.ImageResolution
			data := make([]float32, batch*r*r*3)
			for i := range data {
				data[i] = float32(i%251)/125 - 1
			}
			x := tensors.FromFlatDataAndDimensions(data, batch, r, r, 3)
			t0 := time.Now()
			out, err := exec.Exec(x)
			require.NoError(b, err)
			_ = tensors.MustCopyFlatData[float32](out[0])
			compile := time.Since(t0)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				out, err := exec.Exec(x)
				require.NoError(b, err)
				_ = tensors.MustCopyFlatData[float32](out[0]) // waits for the result
			}
			b.StopTimer()
			b.ReportMetric(float64(batch*b.N)/b.Elapsed().Seconds(), "img/s")
			b.ReportMetric(compile.Seconds(), "compile+first_s")
			b.ReportMetric(float64(batch), "batch")
		})
	}
}

// BenchmarkTextGrad times TPT's text path, forward + gradient w.r.t. the token embeddings, and reports prompts/s and
// the compile (+ first run) time. Default: a small tower (width 128, 4 layers, 4 heads), 64 prompts x 16 tokens.
// GOTTA_BENCH_TEXT="prompts,tokens,width,layers" changes the sizes (heads = width/64, at least 1; e.g. "200,20,512,12"
// is CLIP's text tower with TPT's 200 ImageNet-A prompts cut to 20 tokens); GOTTA_BENCH_IMPL=portable or native picks
// tta/nn's implementation (default: Model's defaults; native also sets NativeMatMulGradient); GOTTA_BENCH_BF16=1
// computes in bfloat16.
func BenchmarkTextGrad(b *testing.B) {
	prompts, l, width, layers := 64, 16, 128, 4
	if s := os.Getenv("GOTTA_BENCH_TEXT"); s != "" {
		var v [4]int
		for i, f := range strings.Split(s, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			require.NoError(b, err)
			v[i] = n
		}
		prompts, l, width, layers = v[0], v[1], v[2], v[3]
	}
	heads := max(1, width/64)
	if width == 128 {
		heads = 4
	}
	c := Config{Vision: ViT, EmbedDim: 64, ImageResolution: 32, VisionLayers: []int{1}, VisionWidth: 64,
		VisionPatchSize: 16, VisionHeads: 1, ContextLength: 77, VocabSize: 1000, TextWidth: width, TextHeads: heads,
		TextLayers: layers}
	opts := LoadOpts{}
	if os.Getenv("GOTTA_BENCH_BF16") == "1" {
		opts.DType = dtypes.BFloat16
	}
	m, err := NewRandom(context.New(), c, 1, opts)
	require.NoError(b, err)
	switch os.Getenv("GOTTA_BENCH_IMPL") {
	case "portable":
		m.Impl = nn.ImplPortable
	case "native":
		m.Impl, m.NativeMatMulGradient = nn.ImplNative, true
	}
	exec, err := context.NewExec(be(), m.Ctx, func(ctx *context.Context, tokens *Node) []*Node {
		emb := m.TokenEmbedding(ctx, tokens)
		eot := graph.ArgMax(tokens, -1, dtypes.Int32)
		loss := graph.ReduceAllSum(graph.Square(m.EncodeTextEmbeddings(ctx, emb, eot)))
		return []*Node{loss, graph.Gradient(loss, emb)[0]}
	})
	require.NoError(b, err)
	ids := make([]int32, prompts*l)
	for i := range ids {
		ids[i] = int32(1 + i%900)
	}
	tok := tensors.FromFlatDataAndDimensions(ids, prompts, l)
	t0 := time.Now()
	out, err := exec.Exec(tok)
	require.NoError(b, err)
	_ = tensors.MustCopyFlatData[float32](out[1])
	compile := time.Since(t0)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		out, err := exec.Exec(tok)
		require.NoError(b, err)
		_ = tensors.MustCopyFlatData[float32](out[1])
	}
	b.StopTimer()
	b.ReportMetric(float64(prompts*b.N)/b.Elapsed().Seconds(), "prompts/s")
	b.ReportMetric(compile.Seconds(), "compile+first_s")
}
