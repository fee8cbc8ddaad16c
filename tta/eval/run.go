package eval

import (
	"encoding/json"
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
}

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
// whose adaptation fails becomes a record with Error set (named in the message) and the run goes on; results
// already written are never lost. Records already in Out for the same run are kept and their examples skipped;
// records of another run in Out are an error.
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
	proto := &Record{Method: adapter.Name(), Config: cfg, Dataset: ds.Name(), Seed: opts.Seed}
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
	if err := os.MkdirAll(filepath.Dir(opts.Out), 0o755); err != nil {
		return nil, fmt.Errorf("eval: %w", err)
	}
	done := map[int]*Record{}
	var all []*Record
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
			if _, dup := done[r.Index]; !dup {
				done[r.Index] = r
				all = append(all, r)
			}
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

	prog := Progress{Total: len(share), Resumed: len(done)}
	for _, i := range share {
		if r, ok := done[i]; ok {
			prog.Done++
			if r.Error != "" {
				prog.Errors++
			} else if r.Correct {
				prog.Correct++
			}
		}
	}
	start := time.Now()
	newDone := 0
	for _, i := range share {
		if _, ok := done[i]; ok {
			continue
		}
		r := evalOne(ds, adapter, vm, i, proto, opts)
		line, err := json.Marshal(r)
		if err != nil {
			return all, fmt.Errorf("eval: encoding the record of %s example %d: %w", ds.Name(), i, err)
		}
		if _, err := f.Write(append(line, '\n')); err != nil {
			return all, fmt.Errorf("eval: writing %s: %w", opts.Out, err)
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
	return all, nil
}

// evalOne evaluates example i; failures become a record with Error.
func evalOne(ds datasets.Dataset, adapter tta.Adapter, vm tta.ViewMaker, i int, proto *Record, opts Options) *Record {
	r := &Record{Method: proto.Method, Config: proto.Config, Views: proto.Views, Dataset: proto.Dataset, Seed: proto.Seed, Index: i,
		Label: -1, Backend: opts.Backend, Device: opts.Device, EntropyBefore: Float(math.NaN()),
		EntropyAfter: Float(math.NaN())}
	start := time.Now()
	defer func() { r.Seconds = time.Since(start).Seconds() }()
	ex, err := ds.Example(i)
	if err != nil {
		r.Error = err.Error()
		return r
	}
	r.ExampleID, r.Label = ex.ID, ex.Label
	pred, err := adaptOne(adapter, vm, ex, opts.Seed)
	if err != nil {
		r.Error = fmt.Sprintf("%s example %d (%s): %v", ds.Name(), i, ex.ID, err)
		return r
	}
	r.EntropyBefore, r.Selected, r.Steps = Float(pred.EntropyBefore), pred.Selected, pred.Steps
	for j, v := range pred.Logits {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			r.Error = fmt.Sprintf("%s example %d (%s): logit %d is %v", ds.Name(), i, ex.ID, j, v)
			return r
		}
	}
	if len(pred.Logits) == 0 {
		r.Error = fmt.Sprintf("%s example %d (%s): the adapter returned no logits", ds.Name(), i, ex.ID)
		return r
	}
	r.FillPrediction(pred.Logits)
	return r
}

// adaptOne makes the views, resets and adapts, turning panics from graph code into errors.
func adaptOne(adapter tta.Adapter, vm tta.ViewMaker, ex datasets.Example, seed int64) (pred *tta.Prediction, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	views, err := vm.MakeViews(ex.Image, ex.ID, seed)
	if err != nil {
		return nil, fmt.Errorf("making views: %w", err)
	}
	if err := adapter.Reset(); err != nil {
		return nil, fmt.Errorf("reset: %w", err)
	}
	return adapter.Adapt(views)
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
