package main

import (
	"fmt"
	"hash/fnv"
	"image"
	"image/color"
	"io"
	"math/rand"
	"os"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gotta-ml/gotta/datasets/imagenet"
	"github.com/gotta-ml/gotta/tta/backend"
	"github.com/gotta-ml/gotta/tta/clip"
	"github.com/gotta-ml/gotta/tta/clip/tokenizer"
	"github.com/gotta-ml/gotta/tta/tpt"
)

func init() {
	register("bench", "time a method per example on random weights (gotta bench tpt --arch RN50; gotta bench memo --arch resnet50)", runBench)
}

// benchArchs are the architectures gotta bench builds with random weights (OpenAI's configs).
var benchArchs = map[string]clip.Config{
	"RN50": {Vision: clip.ResNet, EmbedDim: 1024, ImageResolution: 224, VisionLayers: []int{3, 4, 6, 3}, VisionWidth: 64,
		VisionHeads: 32, ContextLength: 77, VocabSize: 49408, TextWidth: 512, TextHeads: 8, TextLayers: 12},
	"ViT-B/16": {Vision: clip.ViT, EmbedDim: 512, ImageResolution: 224, VisionLayers: []int{12}, VisionWidth: 768,
		VisionPatchSize: 16, VisionHeads: 12, ContextLength: 77, VocabSize: 49408, TextWidth: 512, TextHeads: 8, TextLayers: 12},
	"ViT-B/32": {Vision: clip.ViT, EmbedDim: 512, ImageResolution: 224, VisionLayers: []int{12}, VisionWidth: 768,
		VisionPatchSize: 32, VisionHeads: 12, ContextLength: 77, VocabSize: 49408, TextWidth: 512, TextHeads: 8, TextLayers: 12},
}

// tinyConfig shrinks an architecture so the pure-Go backend runs it in seconds (same tower kind).
func tinyConfig(c clip.Config) clip.Config {
	t := clip.Config{Vision: c.Vision, EmbedDim: 32, ContextLength: 77, VocabSize: 49408, TextWidth: 32, TextHeads: 2,
		TextLayers: 2}
	if c.Vision == clip.ResNet {
		t.ImageResolution, t.VisionLayers, t.VisionWidth, t.VisionHeads = 64, []int{1, 1, 1, 1}, 8, 2
	} else {
		t.ImageResolution, t.VisionLayers, t.VisionWidth, t.VisionPatchSize, t.VisionHeads = 32, []int{2}, 32, 8, 2
	}
	return t
}

func runBench(args []string) error { return benchMain(args, os.Stdout) }

// benchMain dispatches on the method: "memo" first (gotta bench memo [flags]) runs benchMemo, anything else the TPT
// benchmark (whose flags may come before or after "tpt").
func benchMain(args []string, w io.Writer) error {
	if len(args) > 0 && args[0] == "memo" {
		return benchMemo(args[1:], w)
	}
	return benchTPT(args, w)
}

// benchTPT is gotta bench tpt.
func benchTPT(args []string, w io.Writer) error {
	fs := newFlags("bench", "tpt --arch RN50|ViT-B/16|ViT-B/32 [--classes 200] [--views 64] [--iters 20] [--tiny] [--dtype bf16]",
		`Times TPT per example on a CLIP with random weights (built in Go from the architecture's config): 64 views
made from a random 500x375 image, 200 ImageNet-A class prompts, selection 0.1, one AdamW step. Prints the median
ms per example split into views (CPU), image forward, text forward+backward (the step), prediction (text forward
after tuning + view 0's logits), the first example's times (which include compiling each executable), and the
peak memory the process reached (host RSS; the GoMLX backends report no device peak). --tiny shrinks the model so
that the pure-Go backend finishes in seconds. --device-views makes the views on the device (bit-exact with the
host's; the views row is then the host part: padding and crop regions, and the device resampling is timed in the
image forward row; --device-views-f32 resamples in float32, faster, ~1% of values one level off). MEMO and its
ensembles: gotta bench memo --help.`)
	arch := fs.String("arch", "RN50", "architecture: RN50, ViT-B/16 or ViT-B/32")
	classes := fs.Int("classes", 200, "number of classes (200: ImageNet-A's; more: the first ImageNet classes)")
	views := fs.Int("views", 64, "views per example")
	sel := fs.Float64("select", 0.1, "confidence selection ratio")
	steps := fs.Int("steps", 1, "TPT steps")
	iters := fs.Int("iters", 20, "timed examples after the first")
	tiny := fs.Bool("tiny", false, "a tiny model of the same tower kind (for the pure-Go backend)")
	dtype := fs.String("dtype", "f32", "compute dtype: f32 or bf16")
	vocab := fs.String("vocab", "", "CLIP's BPE vocabulary (default: a stand-in tokenizer giving prompts of realistic length)")
	deviceViews := fs.Bool("device-views", false, "make the views on the device from the padded raw image (tpt.ViewMaker.OnDevice)")
	deviceF32 := fs.Bool("device-views-f32", false, "with --device-views: resample in float32 instead of float64")
	batch := fs.Int("batch-examples", 1, "throughput mode: also time batches of this many examples (tpt.Adapter.Batched) and report examples/s")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || pos[0] != "tpt" {
		return fmt.Errorf("usage: gotta bench tpt [flags] or gotta bench memo [flags] (memo first), got %q", pos)
	}
	cfg, ok := benchArchs[*arch]
	if !ok {
		return fmt.Errorf("--arch %q: want RN50, ViT-B/16 or ViT-B/32", *arch)
	}
	if *tiny {
		cfg = tinyConfig(cfg)
	}
	dt, err := parseDType(*dtype)
	if err != nil {
		return err
	}
	b, _, err := backend.New()
	if err != nil {
		return err
	}
	t0 := time.Now()
	m, err := clip.NewRandom(context.New(), cfg, 1, clip.LoadOpts{DType: dt})
	if err != nil {
		return err
	}
	var tok tpt.Tokenizer = standInTokenizer{}
	if *vocab != "" {
		if tok, err = tokenizer.Load(*vocab); err != nil {
			return err
		}
	}
	names := benchClassNames(*classes)
	tBuild := time.Now()
	a, err := tpt.New(b, m, tok, names, tpt.Options{Select: *sel, Steps: *steps, WeightDecay: tpt.PaperWeightDecay})
	if err != nil {
		return err
	}
	buildTime := time.Since(tBuild)
	vm := tpt.NewViewMaker(m, *views)
	vm.OnDevice = *deviceViews
	a.DeviceViews().Float32 = *deviceF32
	img := randomImage(500, 375)
	if *batch > 1 {
		return benchTPTBatch(w, b, a, vm, img, *batch, *iters, fmt.Sprintf("%s%s, %s, %d classes, %d views, select %g, %d step(s)",
			*arch, map[bool]string{true: " (tiny)", false: ""}[*tiny], dt, len(names), *views, *sel, *steps))
	}
	type sample struct{ views, image, step, predict, total time.Duration }
	one := func(i int) (sample, error) {
		var s sample
		start := time.Now()
		v, err := vm.MakeViews(img, fmt.Sprintf("bench%d", i), int64(i))
		if err != nil {
			return s, err
		}
		s.views = time.Since(start)
		if err := a.Reset(); err != nil {
			return s, err
		}
		if _, err := a.Adapt(v); err != nil {
			return s, err
		}
		tr := a.LastTrace()
		s.image, s.step, s.predict = tr.ImageTime, tr.StepTime, tr.PredictTime
		s.total = time.Since(start)
		return s, nil
	}
	first, err := one(0)
	if err != nil {
		return err
	}
	var runs []sample
	for i := 1; i <= *iters; i++ {
		s, err := one(i)
		if err != nil {
			return err
		}
		runs = append(runs, s)
	}
	ms := func(d time.Duration) float64 { return float64(d) / 1e6 }
	fmt.Fprintf(w, "TPT bench: %s%s, %s, %d classes, %d views, select %g (%d views), %d step(s); backend %s (%s)\n",
		*arch, map[bool]string{true: " (tiny)", false: ""}[*tiny], dt, len(names), *views, *sel,
		len(a.LastTrace().Selected), *steps, b.Name(), b.Description())
	fmt.Fprintf(w, "model: %s; prompts cut to %d tokens\n", cfg, a.Learner.Length)
	fmt.Fprintf(w, "random weights: %.0f ms; adapter (compile text exec + initial text features): %.0f ms\n",
		ms(tBuild.Sub(t0)), ms(buildTime))
	viewsRow := "views (CPU)"
	if *deviceViews {
		viewsRow = "views: host part (pad + regions)"
	}
	var phases []*benchPhase
	for _, p := range []struct {
		name   string
		images int
		get    func(sample) time.Duration
	}{
		{viewsRow, 0, func(s sample) time.Duration { return s.views }},
		{"image forward", *views, func(s sample) time.Duration { return s.image }},
		{"text forward+backward (step)", 0, func(s sample) time.Duration { return s.step }},
		{"prediction", 0, func(s sample) time.Duration { return s.predict }},
		{"total per example", 0, func(s sample) time.Duration { return s.total }},
		{"compute per example (total - views)", 0, func(s sample) time.Duration { return s.total - s.views }},
	} {
		ph := &benchPhase{name: p.name, images: p.images}
		ph.add(0, p.get(first))
		for i, r := range runs {
			ph.add(i+1, p.get(r))
		}
		phases = append(phases, ph)
	}
	writePhaseTable(w, phases)
	writePeakMemory(w, b)
	return nil
}

// benchClassNames are ImageNet-A's 200 CLIP class names (or the first n ImageNet names when n != 200).
func benchClassNames(n int) []string {
	all := imagenet.ClassNames()
	if n == imagenet.NumSubsetClasses {
		var out []string
		for _, i := range imagenet.SubsetA() {
			out = append(out, all[i])
		}
		return out
	}
	if n > len(all) {
		n = len(all)
	}
	return all[:max(n, 1)]
}

// standInTokenizer maps each word to one id (a hash), plus one for trailing punctuation: prompts of about the
// real length for benchmarks without the vocabulary file.
type standInTokenizer struct{}

func (standInTokenizer) SOT() int { return 49406 }
func (standInTokenizer) EOT() int { return 49407 }
func (standInTokenizer) EncodeTokens(text string) []int {
	var ids []int
	for _, word := range strings.Fields(strings.ToLower(text)) {
		h := fnv.New32a()
		h.Write([]byte(word))
		ids = append(ids, 1+int(h.Sum32()%49000))
		if strings.HasSuffix(word, ".") {
			ids = append(ids, 269)
		}
	}
	return ids
}

// benchPhase is one row of a benchmark table: a phase's time in the first example (which includes compiling its
// executables) and in each timed example after it.
type benchPhase struct {
	name string
	// images is the number of images the phase puts through the model per example, for the images/s column (0:
	// not meaningful, "-").
	images int
	first  time.Duration
	runs   []time.Duration
}

// add records the phase's time d in example i (0: the first).
func (p *benchPhase) add(i int, d time.Duration) {
	if i == 0 {
		p.first = d
		return
	}
	p.runs = append(p.runs, d)
}

// medianMS is the median of the timed examples in ms (0 when there are none).
func (p *benchPhase) medianMS() float64 {
	if len(p.runs) == 0 {
		return 0
	}
	x := make([]float64, len(p.runs))
	for i, r := range p.runs {
		x[i] = float64(r) / 1e6
	}
	sort.Float64s(x)
	return x[len(x)/2]
}

// writePhaseTable prints the phases as a Markdown table: first example, median of the timed ones, their difference
// (about the compile time) and images/s at the median.
func writePhaseTable(w io.Writer, phases []*benchPhase) {
	n := 0
	if len(phases) > 0 {
		n = len(phases[0].runs)
	}
	fmt.Fprintf(w, "| phase | first example (ms, includes compile) | median of %d (ms) | compile ~ first - median (ms) | images/s (median) |\n|---|---|---|---|---|\n", n)
	for _, p := range phases {
		first, med := float64(p.first)/1e6, p.medianMS()
		rate := "-"
		if r := float64(p.images) / (med / 1e3); p.images > 0 && med > 0 {
			rate = fmt.Sprintf("%.1f", r)
			if r < 10 {
				rate = fmt.Sprintf("%.3g", r)
			}
		}
		fmt.Fprintf(w, "| %s | %.1f | %.1f | %.1f | %s |\n", p.name, first, med, first-med, rate)
	}
}

// writePeakMemory prints the process's peak host memory and b's device memory as PJRT reports it
// (backend.DeviceMemoryString: "n/a" on pure Go).
func writePeakMemory(w io.Writer, b backends.Backend) {
	var ru syscall.Rusage
	host := "unknown"
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		host = fmt.Sprintf("%.0f MiB", float64(ru.Maxrss)/1024)
	}
	fmt.Fprintf(w, "peak host memory (max RSS): %s; device memory (PJRT): %s\n", host, backend.DeviceMemoryString(b))
}

// randomImage is a w x h image of uniform random pixels (fixed seed): the benchmarks' test example.
func randomImage(w, h int) image.Image {
	r := rand.New(rand.NewSource(1))
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.Set(x, y, color.RGBA{uint8(r.Intn(256)), uint8(r.Intn(256)), uint8(r.Intn(256)), 255})
		}
	}
	return img
}
