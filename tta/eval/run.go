package eval

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gotta-ml/gotta/datasets"
	"github.com/gotta-ml/gotta/tta"
)

// Options configure Run.
type Options struct {
	// Out is the JSON-lines file records are appended to (created with its folder). Required.
	Out string
	// Seed is the run's seed: the views of example i derive from (Seed, example id, view index).
	Seed int64
	// Shard and NumShards split the work: this run evaluates the indices i with i % NumShards == Shard.
	// NumShards 0 or 1 means no sharding.
	Shard, NumShards int
	// Limit, when > 0, evaluates only the first Limit indices of the dataset (before sharding).
	Limit int
	// Indices, when set, evaluates only these dataset indices (before sharding; overrides Limit).
	Indices []int
	// Backend and Device are written in every record (e.g. "xla", "NVIDIA H100").
	Backend, Device string
	// Progress, when set, is called after every example (a notebook can show it).
	Progress func(Progress)
	// Terminal, when set, gets a one-line progress bar with ETA and running accuracy (e.g. os.Stderr).
	Terminal io.Writer
	// NoRetryErrors keeps the error records already in Out as done. By default they are evaluated again and the new
	// record, appended, replaces the error one (ReadRecords reads the last record of an index).
	NoRetryErrors bool
	// Context, when set, stops the run between examples once it is done (e.g. on SIGINT): Run then returns the
	// records so far and an error wrapping ErrInterrupted.
	Context context.Context
}

// ErrInterrupted is returned (wrapped) by Run when Options.Context was cancelled before the last example.
var ErrInterrupted = errors.New("interrupted")

// Progress is the state of a run after an example.
type Progress struct {
	// Done counts the examples of this run's share evaluated so far, including resumed ones; Total is the share.
	Done, Total int
	// Resumed counts the records found in Out before this run started.
	Resumed int
	// Correct counts correct predictions among Done (records with errors excluded).
	Correct, Errors int
	// Elapsed is the wall time of this invocation; ETA the estimated remaining time.
	Elapsed, ETA time.Duration
	// Last is the record just written.
	Last *Record
}

// Accuracy is the running top-1 accuracy in percent.
func (p Progress) Accuracy() float64 {
	n := p.Done - p.Errors
	if n == 0 {
		return math.NaN()
	}
	return 100 * float64(p.Correct) / float64(n)
}

// Run evaluates adapter over ds and returns every record of this run's share (resumed ones included), sorted by
// index. For each example: decode, make the views, Reset, Adapt. An example whose image cannot be read or
// whose adaptation fails, or whose loss, logits or probabilities are not finite, becomes a record with Error set
// (naming the example and the stage) and the run goes on; results already written are never lost.
//
// Records already in Out for the same run are kept and their examples skipped; error records are evaluated again
// unless Options.NoRetryErrors (the new record replaces the error one; the file is rewritten without the replaced
// lines at the end). Records of another run in Out are an error, and so are records of other data: every record
// carries the dataset's DataIdentity (folder, layout, classes, a fingerprint of the example list) and its example's
// id, and a resume over a dataset whose identity changed, or whose example at a recorded index is another one, is
// refused with an error saying what changed. Records written before identities were recorded resume when every
// recorded example id is still at its index.
//
// Out must be a regular file or a new path (a device, folder or FIFO is refused). An advisory lock (OUT.lock,
// holding the process id) stops two runs from writing one file: the second fails, naming the holder.
//
// Run leaves the adapted variables as it found them: it calls adapter.Reset after the last example (also after a
// failure), because adapters may share a model (a report's rows share one ResNet and one CLIP) and an adapter built
// next snapshots the values it finds; without the reset the last example's update would leak into every later run
// of the process.
func Run(ds datasets.Dataset, adapter tta.Adapter, vm tta.ViewMaker, opts Options) (recs []*Record, err error) {
	if opts.Out == "" {
		return nil, fmt.Errorf("eval: Options.Out is required")
	}
	if opts.NumShards > 1 && (opts.Shard < 0 || opts.Shard >= opts.NumShards) {
		return nil, fmt.Errorf("eval: shard %d out of range for %d shards", opts.Shard, opts.NumShards)
	}
	// The configuration as it reads back from JSON, so in-memory and resumed records compare equal.
	cfg, _ := normalise(adapter.Config()).(map[string]any)
	data := Identify(ds)
	proto := &Record{Method: adapter.Name(), Config: cfg, Dataset: ds.Name(), Data: &data, Seed: opts.Seed}
	if vc, ok := vm.(tta.ViewConfigurer); ok {
		proto.Views, _ = normalise(vc.ViewConfig()).(map[string]any)
	}

	// The share of indices this run evaluates.
	indices := opts.Indices
	if indices == nil {
		n := ds.Len()
		if opts.Limit > 0 && opts.Limit < n {
			n = opts.Limit
		}
		for i := 0; i < n; i++ {
			indices = append(indices, i)
		}
	}
	var share []int
	for _, i := range indices {
		if opts.NumShards <= 1 || i%opts.NumShards == opts.Shard {
			share = append(share, i)
		}
	}

	// Resume.
	if err := checkOut(opts.Out); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(opts.Out), 0o755); err != nil {
		return nil, fmt.Errorf("eval: %w", err)
	}
	unlock, err := lockFile(opts.Out)
	if err != nil {
		return nil, err
	}
	defer unlock()
	done := map[int]*Record{}
	retry := map[int]bool{}
	if _, err := os.Stat(opts.Out); err == nil {
		recs, validEnd, err := ReadRecords(opts.Out)
		if err != nil {
			return nil, err
		}
		if err := os.Truncate(opts.Out, validEnd); err != nil {
			return nil, fmt.Errorf("eval: dropping the unfinished last line of %s: %w", opts.Out, err)
		}
		for _, r := range recs {
			if !r.sameRun(proto) {
				return nil, fmt.Errorf("eval: %s holds records of another run (%s on %s, seed %d, config %v, views %v); "+
					"this run is %s on %s, seed %d, config %v, views %v: use another --out", opts.Out, r.Method,
					r.Dataset, r.Seed, r.Config, r.Views, proto.Method, proto.Dataset, proto.Seed, proto.Config,
					proto.Views)
			}
			if err := checkResumable(opts.Out, r, ds, proto.Data); err != nil {
				return nil, err
			}
			if r.Error != "" && !opts.NoRetryErrors {
				retry[r.Index] = true
				continue
			}
			done[r.Index] = r
		}
	}
	f, err := os.OpenFile(opts.Out, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("eval: %w", err)
	}
	defer f.Close()
	defer func() {
		if rerr := adapter.Reset(); rerr != nil && err == nil {
			err = fmt.Errorf("eval: resetting %s after the run: %w", adapter.Name(), rerr)
		}
	}()

	var all []*Record
	prog := Progress{Total: len(share), Resumed: len(done)}
	for _, i := range share {
		if r, ok := done[i]; ok {
			all = append(all, r)
			prog.Done++
			if r.Error != "" {
				prog.Errors++
			} else if r.Correct {
				prog.Correct++
			}
		}
	}
	start := time.Now()
	newDone, retried := 0, 0
	for _, i := range share {
		if _, ok := done[i]; ok {
			continue
		}
		if opts.Context != nil && opts.Context.Err() != nil {
			sortRecords(all)
			if opts.Terminal != nil && newDone > 0 {
				fmt.Fprintln(opts.Terminal)
			}
			return all, fmt.Errorf("eval: %w after %d of %d examples", ErrInterrupted, prog.Done, prog.Total)
		}
		r := evalOne(ds, adapter, vm, i, proto, opts)
		line, err := encodeRecord(r)
		if err != nil {
			return all, fmt.Errorf("eval: encoding the record of %s example %d: %w", ds.Name(), i, err)
		}
		if _, err := f.Write(append(line, '\n')); err != nil {
			return all, fmt.Errorf("eval: writing %s: %w", opts.Out, err)
		}
		if retry[i] {
			retried++
		}
		all = append(all, r)
		newDone++
		prog.Done++
		if r.Error != "" {
			prog.Errors++
		} else if r.Correct {
			prog.Correct++
		}
		prog.Elapsed = time.Since(start)
		prog.ETA = time.Duration(float64(prog.Elapsed) / float64(newDone) * float64(prog.Total-prog.Done))
		prog.Last = r
		if opts.Progress != nil {
			opts.Progress(prog)
		}
		if opts.Terminal != nil {
			fmt.Fprint(opts.Terminal, "\r"+ProgressBar(prog, 30))
		}
	}
	if opts.Terminal != nil && newDone > 0 {
		fmt.Fprintln(opts.Terminal)
	}
	sortRecords(all)
	if retried > 0 {
		// Drop the replaced error lines: the file holds one record per index again.
		if err := f.Close(); err != nil {
			return all, fmt.Errorf("eval: writing %s: %w", opts.Out, err)
		}
		recs, _, err := ReadRecords(opts.Out)
		if err != nil {
			return all, err
		}
		if err := WriteRecords(opts.Out, recs); err != nil {
			return all, err
		}
	}
	return all, nil
}

// checkOut refuses an output path that exists and is not a regular file (a device such as /dev/stdout, a folder, a
// FIFO, a socket).
func checkOut(out string) error {
	st, err := os.Stat(out)
	if err != nil {
		return nil
	}
	kind := ""
	switch m := st.Mode(); {
	case m.IsRegular():
		return nil
	case m.IsDir():
		kind = "a folder"
	case m&os.ModeNamedPipe != 0:
		kind = "a FIFO"
	case m&os.ModeSocket != 0:
		kind = "a socket"
	case m&os.ModeDevice != 0:
		kind = "a device"
	default:
		kind = "not a regular file"
	}
	return fmt.Errorf("eval: records file %s is %s: want a regular file or a new path", out, kind)
}

// checkResumable says whether record r of file out describes ds as it is now (data, the identity of this run's
// data): same data identity (when r has one), an index in range, and the same example at r's index.
func checkResumable(out string, r *Record, ds datasets.Dataset, data *DataIdentity) error {
	refuse := func(what string) error {
		return fmt.Errorf("eval: %s holds records of other data than %s now is: %s. Its records would no longer "+
			"describe the examples at their indices; use another --out, or delete %s to start over", out,
			ds.Name(), what, out)
	}
	if r.Data != nil && data != nil && *r.Data != *data {
		return refuse(r.Data.Diff(*data))
	}
	if r.Index < 0 || r.Index >= ds.Len() {
		return refuse(fmt.Sprintf("index %d (%s) is past the dataset's %d examples", r.Index, r.ExampleID, ds.Len()))
	}
	if r.ExampleID != "" {
		if id := exampleKey(ds, r.Index); id != r.ExampleID {
			return refuse(fmt.Sprintf("index %d was example %q, it is now %q", r.Index, r.ExampleID, id))
		}
	}
	return nil
}

// evalOne evaluates example i; failures become a record with Error naming the example and the stage.
func evalOne(ds datasets.Dataset, adapter tta.Adapter, vm tta.ViewMaker, i int, proto *Record, opts Options) *Record {
	r := &Record{Method: proto.Method, Config: proto.Config, Views: proto.Views, Dataset: proto.Dataset,
		Data: proto.Data, Seed: proto.Seed, Index: i, Label: -1, Backend: opts.Backend, Device: opts.Device,
		EntropyBefore: Float(math.NaN()), EntropyAfter: Float(math.NaN())}
	if l, ok := ds.(datasets.Lister); ok {
		r.ExampleID, r.Label = l.ExampleKey(i)
	}
	start := time.Now()
	defer func() { r.Seconds = time.Since(start).Seconds() }()
	fail := func(stage string, err error) *Record {
		if stage == "" { // The adapter's own error names what failed.
			r.Error = fmt.Sprintf("%s example %d (%s): %v", ds.Name(), i, r.ExampleID, err)
		} else {
			r.Error = fmt.Sprintf("%s example %d (%s): %s: %v", ds.Name(), i, r.ExampleID, stage, err)
		}
		return r
	}
	ex, err := ds.Example(i)
	if err != nil {
		return fail("reading the image", err)
	}
	r.ExampleID, r.Label = ex.ID, ex.Label
	pred, stage, err := adaptOne(adapter, vm, ex, opts.Seed)
	if err != nil {
		return fail(stage, err)
	}
	if pred == nil {
		return fail("adaptation", fmt.Errorf("the adapter returned no prediction"))
	}
	for _, st := range pred.Steps {
		if !finite(st.Loss) {
			return fail(fmt.Sprintf("adaptation step %d", st.Step), fmt.Errorf("the loss is %v", st.Loss))
		}
	}
	r.EntropyBefore, r.Selected, r.Steps = Float(pred.EntropyBefore), pred.Selected, pred.Steps
	if len(pred.Logits) == 0 {
		return fail("prediction", fmt.Errorf("the adapter returned no logits"))
	}
	for j, v := range pred.Logits {
		if !finite(float64(v)) {
			return fail("prediction", fmt.Errorf("logit %d is %v", j, v))
		}
	}
	r.FillPrediction(pred.Logits)
	if !finite(r.Confidence) || !finite(r.LabelLogProb) || !finite(float64(r.EntropyAfter)) {
		return fail("prediction", fmt.Errorf("the probabilities are not finite (confidence %v, label log-probability %v)",
			r.Confidence, r.LabelLogProb))
	}
	return r
}

// adaptOne makes the views, resets and adapts, turning panics from graph code into errors; stage names the step
// that failed ("making views", "reset"; "" for Adapt, whose errors name their own stage).
func adaptOne(adapter tta.Adapter, vm tta.ViewMaker, ex datasets.Example, seed int64) (pred *tta.Prediction,
	stage string, err error) {
	defer func() {
		if p := recover(); p != nil {
			msg := fmt.Sprint(p)
			if k := strings.IndexByte(msg, '\n'); k >= 0 { // The cause, not a stack trace appended to it.
				msg = msg[:k]
			}
			err = fmt.Errorf("panic: %s", msg)
		}
	}()
	stage = "making views"
	views, err := vm.MakeViews(ex.Image, ex.ID, seed)
	if err != nil {
		return nil, stage, err
	}
	stage = "reset"
	if err := adapter.Reset(); err != nil {
		return nil, stage, err
	}
	stage = ""
	pred, err = adapter.Adapt(views)
	return pred, stage, err
}

// ProgressBar renders p as one line: bar, count, running accuracy, elapsed and ETA.
func ProgressBar(p Progress, width int) string {
	frac := 0.0
	if p.Total > 0 {
		frac = float64(p.Done) / float64(p.Total)
	}
	n := int(frac * float64(width))
	bar := strings.Repeat("#", n) + strings.Repeat(".", width-n)
	acc := "  n/a"
	if a := p.Accuracy(); !math.IsNaN(a) {
		acc = fmt.Sprintf("%5.1f%%", a)
	}
	errs := ""
	if p.Errors > 0 {
		errs = fmt.Sprintf(" errors %d", p.Errors)
	}
	return fmt.Sprintf("[%s] %d/%d acc %s%s elapsed %s ETA %s", bar, p.Done, p.Total, acc, errs,
		p.Elapsed.Round(time.Second), p.ETA.Round(time.Second))
}
