package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"image"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gotta-ml/gotta/datasets"
	"github.com/gotta-ml/gotta/tta"
	"github.com/gotta-ml/gotta/tta/backend"
	"github.com/gotta-ml/gotta/tta/embedded"
	"github.com/gotta-ml/gotta/tta/eval"
	"github.com/gotta-ml/gotta/tta/method"
	"github.com/gotta-ml/gotta/tta/weights"
)

func init() {
	register("adapt", "adapt on one example and write what happened (report.json, context and logits as .npy)", runAdapt)
}

const adaptDescription = `Adapts on the views of one example and writes, in --out:
  report.json              method, config, classes, per-view entropies, the selected views (ascending entropy),
                           the loss of each step (loss_before = the first), predictions before and after (class,
                           probability, top-5), entropies
  logits_view0_before.npy  view 0's logits with the initial prompt [C] (TPT)
  logits_view0_after.npy   view 0's logits after adaptation [C] (ensembles: log of the mean probability)
  ctx_before.npy, ctx_grad.npy (first step), ctx_after.npy   TPT's context [n_ctx, width] (or [C, n_ctx, width])
The views come from --image or from example --index of --data (made by the method's view maker, with --seed), or
from --views-npy, float32 NCHW [N, 3, R, R] already preprocessed, view 0 first. Without --weights the embedded
MNIST CLIP runs (its own tokenizer and prompt; classes zero..nine), e.g. gotta adapt --data mnist-c:fog --index 3
--out adapt_out.
This runs the methods built on the one CLIP model of --weights (tpt, zero-shot, and ensemble with CLIP members
only: --members tpt or zero-shot); gotta adapt --method memo --help shows MEMO's own.

Example:
  gotta adapt --method tpt --weights RN50.safetensors --vocab bpe_simple_vocab_16e6.txt.gz \
    --classes "goldfish,great white shark,tiger shark" --prompt "a photo of a" --views-npy V.npy \
    --select 0.25 --steps 1 --out adapt_out`

// adaptPrediction is a prediction in report.json.
type adaptPrediction struct {
	Index       int     `json:"index"`
	Class       string  `json:"class"`
	Probability float64 `json:"probability"`
	Top5        []int   `json:"top5"`
	Entropy     float64 `json:"entropy"`
}

// adaptReport is report.json.
type adaptReport struct {
	Method     string           `json:"method"`
	Config     map[string]any   `json:"config"`
	Classes    []string         `json:"classes"`
	Views      int              `json:"views"`
	Source     string           `json:"source"`
	Seed       int64            `json:"seed"`
	Entropies  []float64        `json:"entropies,omitempty"`
	Selected   []int            `json:"selected"`
	LossBefore *float64         `json:"loss_before"`
	Losses     []float64        `json:"losses"`
	Steps      []tta.StepReport `json:"steps,omitempty"`
	Before     *adaptPrediction `json:"prediction_before,omitempty"`
	After      adaptPrediction  `json:"prediction_after"`
	// MarginalEntropyBefore is the marginal entropy of the selected views with the initial prompt.
	MarginalEntropyBefore float64 `json:"marginal_entropy_before"`
	Backend               string  `json:"backend"`
	Device                string  `json:"device"`
}

func runAdapt(args []string) error { return adaptMain(args, os.Stdout, os.Stderr) }

// adaptHook is how gotta adapt runs a method: adaptCLIP for the methods on one CLIP model (tpt, zero-shot, the
// ensemble with CLIP members), adaptResNet for the methods on a ResNet alone (memo); nil when it cannot.
func adaptHook(s *method.Spec) func(s *method.Spec, args []string, stdout, stderr io.Writer) error {
	switch {
	case slices.Contains(s.Models, "clip"):
		return adaptCLIP
	case slices.Contains(s.Models, "resnet"):
		return adaptResNet
	}
	return nil
}

// adaptMethodNames lists the registered methods that gotta adapt can run, sorted.
func adaptMethodNames() []string {
	var names []string
	for _, s := range method.All() {
		if adaptHook(s) != nil {
			names = append(names, s.Name)
		}
	}
	return names
}

// adaptMethodList is the "Methods:" block of gotta adapt --help: the methods that it can run.
func adaptMethodList() string {
	var b strings.Builder
	b.WriteString("Methods that support gotta adapt (--method NAME, default tpt; gotta adapt --method NAME --help lists its flags):\n")
	for _, n := range adaptMethodNames() {
		s, _ := method.Lookup(n)
		fmt.Fprintf(&b, "  %-16s %s\n", n, s.Summary)
	}
	return b.String()
}

// adaptMain runs gotta adapt for --method (default tpt) through the method's adapt hook (adaptHook).
func adaptMain(args []string, stdout, stderr io.Writer) error {
	name := scanFlag(args, "method")
	if name == "" {
		name = "tpt" // the default method
		args = append([]string{"--method", name}, args...)
	}
	s, err := method.Lookup(name)
	if err == nil && adaptHook(s) != nil {
		return adaptHook(s)(s, args, stdout, stderr)
	}
	if slices.ContainsFunc(args, func(a string) bool { return a == "-h" || a == "--help" || a == "-help" }) {
		fmt.Fprintf(stderr, "Usage: gotta adapt --method NAME [flags]\n\n%s", adaptMethodList())
		return flag.ErrHelp
	}
	if err == nil {
		return fmt.Errorf("method %s does not support gotta adapt (one of %s)", name, strings.Join(adaptMethodNames(), ", "))
	}
	return fmt.Errorf("unknown method %q (gotta adapt supports %s)", name, strings.Join(adaptMethodNames(), ", "))
}

// adaptCLIP is the adapt hook of the methods built on one CLIP model (tpt, zero-shot, ensembles of CLIP members).
func adaptCLIP(spec *method.Spec, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("adapt", "[--method tpt] [--weights FILE --vocab FILE --classes A,B,...] (--views-npy V.npy | --image FILE | --data SPEC --index I) --out DIR [flags]",
		adaptDescription+"\n\n"+adaptMethodList())
	fs.SetOutput(stderr)
	mf := method.AddFlags(fs, spec, spec.DefaultPreset)
	fs.String("method", "tpt", "the method (see Methods above)")
	weightsFile := fs.String("weights", "", "CLIP weights (safetensors, OpenAI or Hugging Face names); default: the embedded MNIST CLIP")
	vocab := fs.String("vocab", "", "CLIP's BPE vocabulary (bpe_simple_vocab_16e6.txt.gz)")
	dtype := fs.String("dtype", "f32", "compute dtype of the model: f32 or bf16")
	classes := fs.String("classes", "", "comma-separated class names, in logit order (default: --data's classes, or the embedded CLIP's zero..nine)")
	files := addAdaptIOFlags(fs)
	if err := mf.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	values, err := mf.Values()
	if err != nil {
		return &usageError{err}
	}
	ds, embeddedCLIP, err := files.open(*weightsFile, "CLIP")
	if err != nil {
		return err
	}
	names := splitClasses(*classes)
	if len(names) == 0 && ds != nil {
		names = ds.Classes()
	}
	if len(names) == 0 && embeddedCLIP {
		names = embedded.ClassNames()
	}
	if len(names) == 0 {
		return fmt.Errorf("--classes is required (comma-separated class names in logit order)")
	}
	dt, err := parseDType(*dtype)
	if err != nil {
		return err
	}
	b, _, err := backend.New()
	if err != nil {
		return err
	}
	env := method.NewEnv(b, method.Models{CLIP: *weightsFile, Vocab: *vocab, Embedded: embeddedCLIP, DType: dt})
	adapter, vm, err := spec.Build(env, names, values)
	if err != nil {
		return fmt.Errorf("method %s: %w", spec.Name, err)
	}
	views, source, err := files.views(ds, func() (tta.ViewMaker, error) { return vm, nil })
	if err != nil {
		return err
	}
	if err := adapter.Reset(); err != nil {
		return err
	}
	pred, err := adapter.Adapt(views)
	if err != nil {
		return err
	}
	rep := adaptReport{Method: adapter.Name(), Config: adapter.Config(), Classes: names,
		Views: views.N(), Source: source, Seed: files.seed, Selected: pred.Selected,
		Steps: pred.Steps, After: predictionOf(pred.Logits, names), MarginalEntropyBefore: pred.EntropyBefore}
	rep.Backend, rep.Device = env.BackendName, env.Device
	for _, s := range pred.Steps {
		rep.Losses = append(rep.Losses, s.Loss)
	}
	if len(rep.Losses) > 0 {
		rep.LossBefore = &rep.Losses[0]
	}
	if err := os.MkdirAll(files.out, 0o755); err != nil {
		return err
	}
	write := func(name string, shape []int, data []float32) error {
		if data == nil {
			return nil
		}
		return weights.WriteNPY(filepath.Join(files.out, name), shape, data)
	}
	if err := write("logits_view0_after.npy", []int{len(pred.Logits)}, pred.Logits); err != nil {
		return err
	}
	if ta, ok := adapter.(tta.Tracer); ok && ta.AdaptTrace() != nil {
		tr := ta.AdaptTrace()
		rep.Entropies = tr.Entropies
		arrays := tr.Arrays
		if len(tr.LogitsBefore) > 0 {
			before := predictionOf(tr.LogitsBefore[0], names)
			rep.Before = &before
			arrays = append([]tta.TraceArray{{Name: "logits_view0_before", Shape: []int{len(names)},
				Data: tr.LogitsBefore[0]}}, arrays...)
		}
		for _, f := range arrays {
			if err := write(f.Name+".npy", f.Shape, f.Data); err != nil {
				return err
			}
		}
	}
	if err := writeAdaptReport(files.out, rep); err != nil {
		return err
	}
	if rep.Before != nil {
		fmt.Fprintf(stdout, "before: %s (%.3f)\n", rep.Before.Class, rep.Before.Probability)
	}
	fmt.Fprintf(stdout, "after:  %s (%.3f); selected views %v; wrote %s\n", rep.After.Class, rep.After.Probability,
		rep.Selected, files.out)
	return nil
}

// splitClasses splits a comma-separated --classes value, trimming spaces and dropping empty names.
func splitClasses(s string) []string {
	var names []string
	for _, c := range strings.Split(s, ",") {
		if c = strings.TrimSpace(c); c != "" {
			names = append(names, c)
		}
	}
	return names
}

// adaptIO are the flags of every adapt hook that say where the views come from and where the results go.
type adaptIO struct {
	viewsNPY, image, data, out string
	index                      int
	seed                       int64
}

// addAdaptIOFlags adds --views-npy, --image, --seed and --out to fs.
func addAdaptIOFlags(fs *flag.FlagSet) *adaptIO {
	a := &adaptIO{}
	fs.StringVar(&a.viewsNPY, "views-npy", "", "preprocessed views, float32 NCHW [N, 3, R, R], view 0 first")
	fs.StringVar(&a.image, "image", "", "an image file; the method's view maker makes the views")
	fs.StringVar(&a.data, "data", "", "take example --index of this dataset (gotta eval's --data: e.g. mnist-c:fog, imagenet-a=DIR); the method's view maker makes the views")
	fs.IntVar(&a.index, "index", 0, "the example of --data (0-based)")
	fs.Int64Var(&a.seed, "seed", 0, "seed of the views made from --image")
	fs.StringVar(&a.out, "out", "", "output folder (created)")
	return a
}

// open checks --out and the view source and opens --data (nil when not given). It says whether the model is the
// embedded one (what: "CLIP" or "ResNet"): no --weights, with the embedded data or no --data at all.
func (a *adaptIO) open(weights, what string) (ds datasets.Dataset, embedded bool, err error) {
	if a.out == "" {
		return nil, false, usageErrorf("--out is required")
	}
	if err := checkOutDir("--out", a.out); err != nil {
		return nil, false, err
	}
	if err := a.checkSource(); err != nil {
		return nil, false, err
	}
	embedded = weights == "" && a.embeddedDefault()
	if weights == "" && !embedded {
		return nil, false, fmt.Errorf("--weights is required (the embedded %s runs without it on --data mnist or mnist-c:...)", what)
	}
	ds, err = a.dataset()
	return ds, embedded, err
}

// checkSource says whether exactly one of --views-npy, --image and --data is given.
func (a *adaptIO) checkSource() error {
	n := 0
	for _, s := range []string{a.viewsNPY, a.image, a.data} {
		if s != "" {
			n++
		}
	}
	if n != 1 {
		return fmt.Errorf("give exactly one of --views-npy, --image and --data")
	}
	return nil
}

// embeddedDefault says whether a gotta adapt without --weights runs on the embedded models: with --data on the
// embedded data, or with no --data at all.
func (a *adaptIO) embeddedDefault() bool { return a.data == "" || isEmbeddedData(a.data) }

// dataset opens --data (nil when not given).
func (a *adaptIO) dataset() (datasets.Dataset, error) {
	if a.data == "" {
		return nil, nil
	}
	return openDataset(a.data)
}

// views returns the views and their source: --views-npy (float32 NCHW, preprocessed), or --image or example
// --index of --data (ds) made into views by the method's view maker (asked for only then) with --seed.
func (a *adaptIO) views(ds datasets.Dataset, viewMaker func() (tta.ViewMaker, error)) (*tta.Views, string, error) {
	if a.viewsNPY != "" {
		views, err := readViewsNPY(a.viewsNPY)
		return views, a.viewsNPY, err
	}
	var img image.Image
	id, source := filepath.Base(a.image), a.image
	if ds != nil {
		ex, err := ds.Example(a.index)
		if err != nil {
			return nil, "", fmt.Errorf("--data %s --index %d: %w", a.data, a.index, err)
		}
		img, id = ex.Image, ex.ID
		source = fmt.Sprintf("%s#%d (%s, label %d)", a.data, a.index, ex.ID, ex.Label)
	} else {
		var err error
		if img, err = datasets.Decode(a.image); err != nil {
			return nil, "", err
		}
	}
	vm, err := viewMaker()
	if err != nil {
		return nil, "", err
	}
	views, err := vm.MakeViews(img, id, a.seed)
	return views, source, err
}

// writeAdaptReport writes rep, indented JSON, to dir/report.json. A NaN or infinite value (a diverged loss, a NaN
// learning rate) is written as the string "NaN", "+Inf" or "-Inf" (eval.JSONSafe): the report is written, and the
// error returned names the values (exit code 3).
func writeAdaptReport(dir string, rep any) error {
	js, err := json.MarshalIndent(rep, "", "  ")
	var bad []string
	if err != nil {
		safe := eval.JSONSafe(rep)
		bad = nonFinitePaths(safe, "")
		if js, err = json.MarshalIndent(safe, "", "  "); err != nil {
			return err
		}
	}
	path := filepath.Join(dir, "report.json")
	if err := os.WriteFile(path, append(js, '\n'), 0o644); err != nil {
		return err
	}
	if len(bad) > 0 {
		return &failuresError{what: "values", total: len(bad), failures: bad,
			headline: fmt.Sprintf("%s holds %d value(s) that are not finite (written as strings)", path, len(bad))}
	}
	return nil
}

// nonFinitePaths lists the JSON paths of v (eval.JSONSafe's output) that hold a non-finite number's string.
func nonFinitePaths(v any, path string) []string {
	var out []string
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			out = append(out, nonFinitePaths(x[k], path+"."+k)...)
		}
	case []any:
		for i, e := range x {
			out = append(out, nonFinitePaths(e, fmt.Sprintf("%s[%d]", path, i))...)
		}
	case string:
		if x == "NaN" || x == "+Inf" || x == "-Inf" {
			out = append(out, strings.TrimPrefix(path, ".")+" is "+x)
		}
	}
	return out
}

// predictionOf summarises logits [C].
func predictionOf(logits []float32, names []string) adaptPrediction {
	lp := tta.LogSoftmaxHost(logits)
	idx := make([]int, len(lp))
	for i := range idx {
		idx[i] = i
	}
	for i := 1; i < len(idx); i++ { // insertion sort by descending log-probability, stable
		for j := i; j > 0 && lp[idx[j]] > lp[idx[j-1]]; j-- {
			idx[j], idx[j-1] = idx[j-1], idx[j]
		}
	}
	p := adaptPrediction{Index: idx[0], Top5: idx[:min(5, len(idx))], Entropy: tta.EntropyOfLogits(logits)}
	p.Probability = expf(lp[idx[0]])
	if idx[0] < len(names) {
		p.Class = names[idx[0]]
	}
	return p
}

// readViewsNPY reads float32 NCHW views and returns them NHWC.
func readViewsNPY(path string) (*tta.Views, error) {
	data, shape, err := weights.ReadNPYFloat32(path)
	if err != nil {
		return nil, err
	}
	if len(shape) != 4 || shape[1] != 3 || shape[0] < 1 {
		return nil, fmt.Errorf("%s: views must be float32 [N, 3, R, R] (NCHW), got %v", path, shape)
	}
	n, c, h, w := shape[0], shape[1], shape[2], shape[3]
	out := make([]float32, len(data))
	for i := 0; i < n; i++ {
		for ch := 0; ch < c; ch++ {
			for y := 0; y < h; y++ {
				for x := 0; x < w; x++ {
					out[((i*h+y)*w+x)*c+ch] = data[((i*c+ch)*h+y)*w+x]
				}
			}
		}
	}
	return &tta.Views{ExampleID: filepath.Base(path), Images: tensors.FromFlatDataAndDimensions(out, n, h, w, c)}, nil
}

func expf(x float64) float64 { return math.Exp(x) }
