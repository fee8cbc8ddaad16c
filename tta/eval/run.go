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
	"sync"
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
	// records so far and an error wrapping ErrInterrupted. With several workers the examples already started finish
	// first (their records are written).
	Context context.Context
	// Workers is how many examples are evaluated at once; 0 or 1 means one, on Run's adapter. Worker 0 uses Run's
	// adapter and view maker, workers 1..Workers-1 those NewWorker builds. Records are written in index order and
	// are the same for any number of workers (but for their Seconds): each example's views derive from the seed and
	// the example, and the adapter is reset before each example.
	Workers int
	// NewWorker builds the adapter and view maker of worker w (1 <= w < Workers), called once per worker before the
	// first example. Each must own the state it adapts: an adapter that writes model weights (MEMO, TPT alignment)
	// needs its own copy of the model (e.g. built on its own method.Env); models only read may be shared where the
	// backend allows concurrent executions (GoMLX's pure-Go and XLA backends do). Required when Workers > 1.
	NewWorker func(w int) (tta.Adapter, tta.ViewMaker, error)
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
	var todo []int
	for _, i := range share {
		if r, ok := done[i]; ok {
			all = append(all, r)
			prog.Done++
			if r.Error != "" {
				prog.Errors++
			} else if r.Correct {
				prog.Correct++
			}
		} else {
			todo = append(todo, i)
		}
	}
	workers, err := startWorkers(adapter, vm, opts, len(todo))
	if err != nil {
		return all, err
	}
	defer func() {
		for _, w := range workers[1:] {
			if rerr := w.adapter.Reset(); rerr != nil && err == nil {
				err = fmt.Errorf("eval: resetting %s (worker %d) after the run: %w", w.adapter.Name(), w.id, rerr)
			}
		}
	}()
	if ra, ok := ds.(datasets.ReadAheader); ok {
		ra.ReadAhead(todo)
	}
	if len(workers) > 1 {
		ds = &lockedDataset{Dataset: ds}
	}
	results, stop := evalAll(ds, workers, todo, proto, opts)
	defer stop()
	start := time.Now()
	newDone, retried := 0, 0
	for _, i := range todo {
		r, ok := <-results
		if !ok {
			sortRecords(all)
			if opts.Terminal != nil && newDone > 0 {
				fmt.Fprintln(opts.Terminal)
			}
			return all, fmt.Errorf("eval: %w after %d of %d examples", ErrInterrupted, prog.Done, prog.Total)
		}
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

// worker is one of Run's evaluators: an adapter and its view maker.
type worker struct {
	id      int
	adapter tta.Adapter
	vm      tta.ViewMaker
}

// startWorkers returns Run's workers: worker 0 on adapter and vm, the others from opts.NewWorker; no more workers
// than examples to evaluate (n).
func startWorkers(adapter tta.Adapter, vm tta.ViewMaker, opts Options, n int) ([]worker, error) {
	ws := []worker{{id: 0, adapter: adapter, vm: vm}}
	want := min(opts.Workers, n)
	if want > 1 && opts.NewWorker == nil {
		return nil, fmt.Errorf("eval: Options.Workers is %d and Options.NewWorker is not set", opts.Workers)
	}
	for w := 1; w < want; w++ {
		a, v, err := opts.NewWorker(w)
		if err == nil && (a == nil || v == nil) {
			err = fmt.Errorf("no adapter or view maker")
		}
		if err != nil {
			for _, b := range ws[1:] {
				_ = b.adapter.Reset()
			}
			return nil, fmt.Errorf("eval: building worker %d of %d: %w", w, opts.Workers, err)
		}
		ws = append(ws, worker{id: w, adapter: a, vm: v})
	}
	return ws, nil
}

// evalAll evaluates the examples todo on the workers, each example on the first free worker, and sends their
// records in todo's order (a reorder buffer holds those that finish early). Once opts.Context is done no example
// starts; the records of those started are still sent, then the channel is closed early. stop ends the
// evaluation early (the caller stopped reading) and waits for the workers.
func evalAll(ds datasets.Dataset, ws []worker, todo []int, proto *Record, opts Options) (results <-chan *Record,
	stop func()) {
	out := make(chan *Record)
	quit := make(chan struct{})
	cancelled := func() bool {
		select {
		case <-quit:
			return true
		default:
		}
		return opts.Context != nil && opts.Context.Err() != nil
	}
	if len(ws) == 1 {
		go func() {
			defer close(out)
			for _, i := range todo {
				if cancelled() {
					return
				}
				select {
				case out <- evalOne(ds, ws[0].adapter, ws[0].vm, i, proto, opts):
				case <-quit:
					return
				}
			}
		}()
		var once sync.Once
		return out, func() { once.Do(func() { close(quit) }) }
	}

	type result struct {
		seq int
		r   *Record
	}
	jobs := make(chan int) // positions in todo
	finished := make(chan result, len(ws))
	var wg sync.WaitGroup
	for _, w := range ws {
		wg.Add(1)
		go func(w worker) {
			defer wg.Done()
			for seq := range jobs {
				finished <- result{seq, evalOne(ds, w.adapter, w.vm, todo[seq], proto, opts)}
			}
		}(w)
	}
	// Dispatcher: one job per free worker, in order, until the end, a cancellation or stop.
	go func() {
		defer close(jobs)
		for seq := range todo {
			if cancelled() {
				return
			}
			select {
			case jobs <- seq:
			case <-quit:
				return
			}
		}
	}()
	go func() {
		wg.Wait()
		close(finished)
	}()
	// Reorder buffer: records go out in todo's order. The dispatcher hands out jobs in order, so when it stops the
	// finished jobs are a prefix of todo and all of them are sent.
	go func() {
		defer close(out)
		pending := map[int]*Record{}
		next := 0
		for res := range finished {
			pending[res.seq] = res.r
			for r, ok := pending[next]; ok; r, ok = pending[next] {
				delete(pending, next)
				next++
				select {
				case out <- r:
				case <-quit:
					for range finished { // Let the workers finish their example.
					}
					return
				}
			}
		}
	}()
	var once sync.Once
	return out, func() {
		once.Do(func() { close(quit) })
		for range out { // Wait for the workers: their adapters are reset next.
		}
	}
}

// lockedDataset serialises a dataset's reads for Run's workers (datasets need not be safe for concurrent use).
type lockedDataset struct {
	datasets.Dataset
	mu sync.Mutex
}

// Example implements datasets.Dataset.
func (d *lockedDataset) Example(i int) (datasets.Example, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.Dataset.Example(i)
}

// ExampleKey implements datasets.Lister when the dataset does.
func (d *lockedDataset) ExampleKey(i int) (string, int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if l, ok := d.Dataset.(datasets.Lister); ok {
		return l.ExampleKey(i)
	}
	return "", -1
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
