package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/gotta-ml/gotta/tta"
	"github.com/gotta-ml/gotta/tta/backend"
	"github.com/gotta-ml/gotta/tta/memo"
	"github.com/gotta-ml/gotta/tta/method"
	"github.com/gotta-ml/gotta/tta/weights"
)

// adaptMemoDescription is the help of gotta adapt --method memo.
const adaptMemoDescription = `Adapts a torchvision ResNet with MEMO on the views of one example and writes, in --out:
  report.json                  config, per-view entropies and the selected views (ascending entropy) of each step,
                               the loss of each step (loss_before = the first), predictions of view 0 before and
                               after adaptation (with the prior) and after adaptation with p = 1
  logits_view0_before.npy      view 0 alone, with the prior, before adaptation [C]
  logits_view0_after.npy       view 0 alone, with the prior, after adaptation [C]
  logits_view0_after_plain.npy view 0 alone, plain batch norm (p = 1), after adaptation [C]
over the model's full output classes (or --classes-1k a / r). The views come from --views-npy (float32 NCHW
[N, 3, R, R], preprocessed, view 0 first), --image or example --index of --data (the method's view maker, with
--seed). Without --weights the embedded MNIST ResNet runs (36x36 preprocessing), e.g.
gotta adapt --method memo --data mnist-c:fog --index 3 --view-kind cut --out adapt_out.

Example:
  gotta adapt --method memo --weights resnet50.safetensors --views-npy V.npy --prior 0.9411764705882353 \
    --lr 0.005 --weight-decay 1e-4 --steps 1 --select 1 --out adapt_out`

// memoAdaptReport is report.json of gotta adapt --method memo.
type memoAdaptReport struct {
	Method      string           `json:"method"`
	Config      map[string]any   `json:"config"`
	Classes     []string         `json:"classes,omitempty"`
	Views       int              `json:"views"`
	Source      string           `json:"source"`
	Seed        int64            `json:"seed"`
	Entropies   []float64        `json:"entropies"`
	Selected    []int            `json:"selected"`
	LossBefore  float64          `json:"loss_before"`
	Losses      []float64        `json:"losses"`
	Steps       []tta.StepReport `json:"steps"`
	Before      adaptPrediction  `json:"prediction_before"`
	After       adaptPrediction  `json:"prediction_after"`
	AfterPlain  adaptPrediction  `json:"prediction_after_plain"`
	EntropyAll  float64          `json:"marginal_entropy_all_views_before"`
	Backend     string           `json:"backend"`
	Device      string           `json:"device"`
	ClassSubset []int            `json:"class_subset,omitempty"`
}

// adaptResNet is the adapt hook of the methods on a ResNet alone (memo, mode memo): the generic one (adaptCLIP) is
// CLIP-centric (--vocab, --classes, TPT's trace). Its flags default to the method's parameters' own defaults (no
// preset: the views given say it all, e.g. a reference's configuration).
func adaptResNet(spec *method.Spec, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("adapt", "--method memo [--weights FILE] (--views-npy V.npy | --image FILE | --data SPEC --index I) --out DIR [flags]",
		adaptMemoDescription+"\n\n"+adaptMethodList())
	fs.SetOutput(stderr)
	mf := method.AddFlags(fs, spec, method.NoPreset)
	fs.String("method", spec.Name, "the method")
	weightsFile := fs.String("weights", "", "torchvision ResNet weights (safetensors); default: the embedded MNIST ResNet")
	classes := fs.String("classes", "", "comma-separated class names in logit order, for the report (optional)")
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
	ds, embeddedResNet, err := files.open(*weightsFile, "ResNet")
	if err != nil {
		return err
	}
	if m, ok := values["mode"]; ok && m != "memo" {
		return fmt.Errorf("gotta adapt --method %s runs --mode memo only (got %q)", spec.Name, m)
	}
	names := splitClasses(*classes)
	if len(names) == 0 && ds != nil {
		names = ds.Classes()
	}
	b, _, err := backend.New()
	if err != nil {
		return err
	}
	models := method.Models{Embedded: embeddedResNet}
	if !embeddedResNet {
		models.ResNets = []string{*weightsFile}
	}
	env := method.NewEnv(b, models)
	adapter, vm, err := spec.Build(env, names, values)
	if err != nil {
		return fmt.Errorf("method %s: %w", spec.Name, err)
	}
	a, ok := adapter.(*memo.Adapter)
	if !ok {
		return fmt.Errorf("gotta adapt --method %s: the adapter is a %T, not MEMO's", spec.Name, adapter)
	}
	views, source, err := files.views(ds, func() (tta.ViewMaker, error) { return vm, nil })
	if err != nil {
		return err
	}
	opts := a.Options()
	x0, err := memo.View(views.Images, 0)
	if err != nil {
		return err
	}
	if err := a.Reset(); err != nil {
		return err
	}
	before, err := a.Logits(x0, opts.Prior)
	if err != nil {
		return err
	}
	all, err := a.Logits(views.Images, opts.Prior)
	if err != nil {
		return err
	}
	pred, err := a.Adapt(views)
	if err != nil {
		return err
	}
	plain, err := a.Logits(x0, 1)
	if err != nil {
		return err
	}
	rep := memoAdaptReport{Method: a.Name(), Config: a.Config(), Classes: names, Views: len(all), Source: source,
		Seed: files.seed, Entropies: tta.ViewEntropiesHost(all), Selected: pred.Selected, Steps: pred.Steps,
		Before: predictionOf(before[0], names), After: predictionOf(pred.Logits, names),
		AfterPlain: predictionOf(plain[0], names), EntropyAll: pred.EntropyBefore, ClassSubset: opts.ClassSubset}
	rep.Backend, rep.Device = env.BackendName, env.Device
	for _, s := range pred.Steps {
		rep.Losses = append(rep.Losses, s.Loss)
	}
	rep.LossBefore = rep.Losses[0]
	if err := os.MkdirAll(files.out, 0o755); err != nil {
		return err
	}
	for _, w := range []struct {
		name string
		data []float32
	}{{"logits_view0_before.npy", before[0]}, {"logits_view0_after.npy", pred.Logits},
		{"logits_view0_after_plain.npy", plain[0]}} {
		if err := weights.WriteNPY(filepath.Join(files.out, w.name), []int{len(w.data)}, w.data); err != nil {
			return err
		}
	}
	if err := writeAdaptReport(files.out, rep); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "before: %d (%.3f); after: %d (%.3f); loss before %.6f; selected views %v; wrote %s\n",
		rep.Before.Index, rep.Before.Probability, rep.After.Index, rep.After.Probability, rep.LossBefore,
		rep.Selected, files.out)
	return nil
}
