package eval

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
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
	// record, appended, replaces the error one (ReadRecords reads the last record of an index). Online adapters
	// never retry them (see Run).
	NoRetryErrors bool
	// Context, when set, stops the run between examples once it is done (e.g. on SIGINT): Run then returns the
	// records so far and an error wrapping ErrInterrupted. With several workers the examples already started finish
	// first (their records are written).
	Context context.Context
	// Workers is how many examples are evaluated at once; 0 or 1 means one, on Run's adapter. Worker 0 uses Run's
	// adapter and view maker, workers 1..Workers-1 those NewWorker builds. Records are written in index order and
	// are the same for any number of workers (but for their Seconds): each example's views derive from the seed and
	// the example, and the adapter is reset before each example. Online adapters run on one (see Run).
	Workers int
	// NewWorker builds the adapter and view maker of worker w (1 <= w < Workers), called once per worker before the
	// first example. Each must own the state it adapts: an adapter that writes model weights (MEMO, TPT alignment)
	// needs its own copy of the model (e.g. built on its own method.Env); models only read may be shared where the
	// backend allows concurrent executions (GoMLX's pure-Go and XLA backends do). Required when Workers > 1.
	NewWorker func(w int) (tta.Adapter, tta.ViewMaker, error)
	// Order is the order of an online adapter's stream (tta.Online): OrderIndex (dataset index order; the default,
	// "") or OrderShuffle (a shuffle seeded with OrderSeed). Episodic adapters ignore both.
	Order     string
	OrderSeed int64
	// StateEvery is how many examples an online adapter that saves its state (tta.StreamStater) evaluates between
	// two saves of the state file; 0 means DefaultStateEvery. The state is also saved when the run stops.
	StateEvery int
	// BatchExamples > 1 runs consecutive examples of each worker's share in batches of that many through the
	// adapter's batched path (tta.BatchOf: throughput mode, e.g. TPT's); Run fails, with an error wrapping
	// tta.ErrNoBatch, for adapters without one. The records are those of one example at a time (the batched path
	// keeps every example's state apart), but for their Seconds: the example's own reading and views plus its share
	// of the batch's adaptation. A batch that fails (an error or a panic) is evaluated again one example at a time
	// (Reset, Adapt), so an example that fails becomes its own error record and the others' records are as without
	// batches. An example that cannot be read or whose views cannot be made is an error record and leaves the
	// batch. 0 or 1 means one example at a time.
	BatchExamples int
	// Prefetch is how many examples the one-worker path reads and makes views of ahead, on another goroutine, while
	// the adapter works on the current one (or batch), and uploads them when the adapter is a tta.Preloader; 0 means
	// max(2, BatchExamples), a negative value none. The records do not depend on it. With several workers the
	// workers overlap one another's host work instead.
	Prefetch int
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

// add counts record r, the newDone-th evaluated by a run started at start, and updates the times and Last.
func (p *Progress) add(r *Record, newDone int, start time.Time) {
	p.Done++
	if r.Error != "" {
		p.Errors++
	} else if r.Correct {
		p.Correct++
	}
	p.Elapsed = time.Since(start)
	p.ETA = time.Duration(float64(p.Elapsed) / float64(newDone) * float64(p.Total-p.Done))
	p.Last = r
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
// index. For each example: decode, make the views, Reset, Adapt (with Options.BatchExamples, AdaptBatch on
// consecutive examples; with one worker the next examples are decoded and their views made while the adapter works,
// see Options.Prefetch). An example whose image cannot be read or whose adaptation fails, or whose loss, logits or
// probabilities are not finite, becomes a record with Error set (naming the example and the stage) and the run goes
// on; results already written are never lost.
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
//
// An online adapter (tta.Online) is evaluated as a stream instead: ResetStream, then one example at a time on Run's
// adapter (Workers is ignored) in Options.Order; NumShards > 1 is an error. Each record holds its StreamPos and its
// Stream. A rerun resumes exactly: an adapter that saves its state (tta.StreamStater) has it saved beside the records
// (OUT.state, written atomically, with the stream position and a digest of the records it follows) every
// StateEvery examples and when the run stops, and restored from there; the recorded examples after the saved state
// (all of them without one) are replayed, Reset and Adapt without writing, before the first new example. A replayed
// prediction that differs from its record is an error naming the stream position and the example, never a silent
// restart. Error records of a stream are never evaluated again (NoRetryErrors is implied): the example has had its
// place in the stream, and evaluating it later would change what every later example saw; a replay evaluates it
// again at its place, where it must fail again.
func Run(ds datasets.Dataset, adapter tta.Adapter, vm tta.ViewMaker, opts Options) (recs []*Record, err error) {
	if opts.Out == "" {
		return nil, fmt.Errorf("eval: Options.Out is required")
	}
	if opts.NumShards > 1 && (opts.Shard < 0 || opts.Shard >= opts.NumShards) {
		return nil, fmt.Errorf("eval: shard %d out of range for %d shards", opts.Shard, opts.NumShards)
	}
	proto := newProto(ds, adapter, vm, opts.Seed)
	if o, ok := adapter.(tta.Online); ok {
		if opts.BatchExamples > 1 {
			return nil, fmt.Errorf("eval: method %s is online (its state carries between examples): batches of %d "+
				"examples: %w", adapter.Name(), opts.BatchExamples, tta.ErrNoBatch)
		}
		return runOnline(ds, o, vm, proto, opts)
	}
	var share []int
	for _, i := range runIndices(ds, opts) {
		if opts.NumShards <= 1 || i%opts.NumShards == opts.Shard {
			share = append(share, i)
		}
	}

	// Resume.
	prev, unlock, err := openRecords(opts.Out, proto, ds)
	if err != nil {
		return nil, err
	}
	defer unlock()
	done := map[int]*Record{}
	retry := map[int]bool{}
	for _, r := range prev {
		if r.Error != "" && !opts.NoRetryErrors {
			retry[r.Index] = true
			continue
		}
		done[r.Index] = r
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
		prog.add(r, newDone, start)
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

// worker is one of Run's evaluators: an adapter, its view maker and, with Options.BatchExamples > 1, the adapter's
// batched path.
type worker struct {
	id      int
	adapter tta.Adapter
	vm      tta.ViewMaker
	batch   tta.BatchAdapter
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
	if opts.BatchExamples > 1 {
		for i := range ws {
			b, err := tta.BatchOf(ws[i].adapter, opts.BatchExamples)
			if err != nil {
				for _, w := range ws[1:] {
					_ = w.adapter.Reset()
				}
				return nil, fmt.Errorf("eval: batches of %d examples: %w", opts.BatchExamples, err)
			}
			ws[i].batch = b
		}
	}
	return ws, nil
}

// evalAll evaluates the examples todo on the workers and sends their records in todo's order. Work goes out in
// groups of consecutive examples of todo (one example, or Options.BatchExamples); with one worker the next examples
// are read and their views made on another goroutine (Options.Prefetch) while the adapter works; with several, each
// group goes to the first free worker and a reorder buffer holds the records that finish early. Once opts.Context
// is done no group starts; the records of those started are still sent, then the channel is closed early. stop ends
// the evaluation early (the caller stopped reading) and waits for the workers.
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
	group := max(opts.BatchExamples, 1)
	var wg sync.WaitGroup
	stopAndWait := func() func() {
		var once sync.Once
		return func() {
			once.Do(func() { close(quit) })
			for range out { // Wait for the workers: their adapters are reset next.
			}
			wg.Wait()
		}
	}
	if len(ws) == 1 {
		w := ws[0]
		depth := opts.Prefetch
		if depth == 0 {
			depth = max(2, group)
		}
		// next returns the next prepared example, in todo's order; ok is false at the end or on cancellation.
		var next func() (j *job, ok bool)
		if depth < 0 {
			seq := 0
			next = func() (*job, bool) {
				if seq == len(todo) || cancelled() {
					return nil, false
				}
				seq++
				return prepare(ds, w.vm, todo[seq-1], proto, opts), true
			}
		} else {
			prepared := make(chan *job, depth-1)
			wg.Add(1)
			go func() { // The prefetch stage: reading and views, ahead of the adapter.
				defer wg.Done()
				defer close(prepared)
				for _, i := range todo {
					if cancelled() {
						return
					}
					j := prepare(ds, w.vm, i, proto, opts)
					j.preload(w.adapter, ds.Name())
					select {
					case prepared <- j:
					case <-quit:
						return
					}
				}
			}()
			next = func() (*job, bool) {
				j, ok := <-prepared
				return j, ok
			}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(out)
			for {
				var jobs []*job
				for len(jobs) < group {
					j, ok := next()
					if !ok {
						break
					}
					jobs = append(jobs, j)
				}
				if len(jobs) == 0 || cancelled() {
					return
				}
				for _, r := range evalJobs(w, jobs, ds.Name()) {
					select {
					case out <- r:
					case <-quit:
						return
					}
				}
			}
		}()
		return out, stopAndWait()
	}

	type result struct {
		seq int
		r   *Record
	}
	groups := make(chan int) // the first position in todo of a group of consecutive examples
	finished := make(chan result, len(ws)*group)
	for _, w := range ws {
		wg.Add(1)
		go func(w worker) {
			defer wg.Done()
			for first := range groups {
				last := min(first+group, len(todo))
				jobs := make([]*job, 0, last-first)
				for seq := first; seq < last; seq++ {
					jobs = append(jobs, prepare(ds, w.vm, todo[seq], proto, opts))
				}
				for k, r := range evalJobs(w, jobs, ds.Name()) {
					finished <- result{first + k, r}
				}
			}
		}(w)
	}
	// Dispatcher: one group per free worker, in order, until the end, a cancellation or stop.
	go func() {
		defer close(groups)
		for first := 0; first < len(todo); first += group {
			if cancelled() {
				return
			}
			select {
			case groups <- first:
			case <-quit:
				return
			}
		}
	}()
	go func() {
		wg.Wait()
		close(finished)
	}()
	// Reorder buffer: records go out in todo's order. The dispatcher hands out groups in order, so when it stops
	// the finished examples are a prefix of todo and all of them are sent.
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
					for range finished { // Let the workers finish their examples.
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

// evalOne evaluates example i alone (prepare, then Reset and Adapt); failures become a record with Error naming
// the example and the stage.
func evalOne(ds datasets.Dataset, adapter tta.Adapter, vm tta.ViewMaker, i int, proto *Record, opts Options) *Record {
	j := prepare(ds, vm, i, proto, opts)
	if j.done {
		return j.rec
	}
	return adaptJob(adapter, j, ds.Name())
}

// job is one example on its way through Run: read and its views made (prepare), then adapted.
type job struct {
	rec   *Record    // the example's record; final when done
	views *tta.Views // nil when done
	done  bool       // the example failed before adaptation: rec holds the error
	prep  time.Duration
}

// prepare reads example i and makes its views; a failure makes the job done with an error record naming the
// example and the stage.
func prepare(ds datasets.Dataset, vm tta.ViewMaker, i int, proto *Record, opts Options) *job {
	r := &Record{Method: proto.Method, Config: proto.Config, Views: proto.Views, Dataset: proto.Dataset,
		Data: proto.Data, Seed: proto.Seed, Index: i, Label: -1, Backend: opts.Backend, Device: opts.Device,
		EntropyBefore: Float(math.NaN()), EntropyAfter: Float(math.NaN())}
	if l, ok := ds.(datasets.Lister); ok {
		r.ExampleID, r.Label = l.ExampleKey(i)
	}
	j := &job{rec: r}
	start := time.Now()
	defer func() {
		j.prep = time.Since(start)
		if j.done {
			r.Seconds = j.prep.Seconds()
		}
	}()
	ex, err := ds.Example(i)
	if err != nil {
		j.fail(ds.Name(), "reading the image", err)
		return j
	}
	r.ExampleID, r.Label = ex.ID, ex.Label
	err = recovered(func() error {
		var err error
		j.views, err = vm.MakeViews(ex.Image, ex.ID, opts.Seed)
		return err
	})
	if err != nil {
		j.views = nil
		j.fail(ds.Name(), "making views", err)
	}
	return j
}

// preload uploads j's views ahead of adaptation when adapter is a tta.Preloader; a failure makes j an error record.
func (j *job) preload(adapter tta.Adapter, dataset string) {
	p, ok := adapter.(tta.Preloader)
	if !ok || j.done {
		return
	}
	start := time.Now()
	err := recovered(func() error { return p.Preload(j.views) })
	j.prep += time.Since(start)
	if err != nil {
		j.views = nil
		j.fail(dataset, "uploading views", err)
		j.rec.Seconds = j.prep.Seconds()
	}
}

// fail makes j's record an error record naming the example and the stage ("" when the error names it).
func (j *job) fail(dataset, stage string, err error) *Record {
	r := j.rec
	if stage == "" {
		r.Error = fmt.Sprintf("%s example %d (%s): %v", dataset, r.Index, r.ExampleID, err)
	} else {
		r.Error = fmt.Sprintf("%s example %d (%s): %s: %v", dataset, r.Index, r.ExampleID, stage, err)
	}
	j.done = true
	return r
}

// evalJobs adapts the prepared examples jobs (consecutive ones of w's share) and returns their records in order:
// one at a time (Reset, Adapt), or through w's batched path, each example that failed while being prepared
// keeping its error record. A batch that fails is evaluated again one example at a time.
func evalJobs(w worker, jobs []*job, dataset string) []*Record {
	out := make([]*Record, len(jobs))
	var ready []int
	for k, j := range jobs {
		if j.done {
			out[k] = j.rec
		} else {
			ready = append(ready, k)
		}
	}
	if w.batch != nil && len(ready) > 0 {
		views := make([]*tta.Views, len(ready))
		for n, k := range ready {
			views[n] = jobs[k].views
		}
		start := time.Now()
		var preds []*tta.Prediction
		err := recovered(func() error {
			var err error
			preds, err = w.batch.AdaptBatch(views)
			return err
		})
		if err == nil && len(preds) == len(ready) {
			share := time.Since(start) / time.Duration(len(ready))
			for n, k := range ready {
				out[k] = jobs[k].finish(dataset, preds[n], share)
			}
			return out
		}
		// The batch failed: every example alone, so that the one at fault gets the error record.
	}
	for _, k := range ready {
		out[k] = adaptJob(w.adapter, jobs[k], dataset)
	}
	return out
}

// adaptJob resets the adapter and adapts on a prepared example: its record.
func adaptJob(adapter tta.Adapter, j *job, dataset string) *Record {
	start := time.Now()
	var pred *tta.Prediction
	stage := "reset"
	err := recovered(func() error {
		if err := adapter.Reset(); err != nil {
			return err
		}
		stage = "" // Adapt's errors name their own stage.
		var err error
		pred, err = adapter.Adapt(j.views)
		return err
	})
	if err != nil {
		r := j.fail(dataset, stage, err)
		r.Seconds = (j.prep + time.Since(start)).Seconds()
		return r
	}
	return j.finish(dataset, pred, time.Since(start))
}

// finish fills j's record from the adapter's prediction, adapting having taken adapt; a prediction without finite
// losses, logits and probabilities makes it an error record.
func (j *job) finish(dataset string, pred *tta.Prediction, adapt time.Duration) *Record {
	r := j.rec
	r.Seconds = (j.prep + adapt).Seconds()
	j.views = nil
	if pred == nil {
		return j.fail(dataset, "adaptation", fmt.Errorf("the adapter returned no prediction"))
	}
	for _, st := range pred.Steps {
		if !finite(st.Loss) {
			return j.fail(dataset, fmt.Sprintf("adaptation step %d", st.Step), fmt.Errorf("the loss is %v", st.Loss))
		}
	}
	r.EntropyBefore, r.Selected, r.Steps = Float(pred.EntropyBefore), pred.Selected, pred.Steps
	if len(pred.Logits) == 0 {
		return j.fail(dataset, "prediction", fmt.Errorf("the adapter returned no logits"))
	}
	for k, v := range pred.Logits {
		if !finite(float64(v)) {
			return j.fail(dataset, "prediction", fmt.Errorf("logit %d is %v", k, v))
		}
	}
	r.FillPrediction(pred.Logits)
	if !finite(r.Confidence) || !finite(r.LabelLogProb) || !finite(float64(r.EntropyAfter)) {
		return j.fail(dataset, "prediction", fmt.Errorf("the probabilities are not finite (confidence %v, label "+
			"log-probability %v)", r.Confidence, r.LabelLogProb))
	}
	return r
}

// recovered runs f, turning a panic from graph code into an error (its first line: the cause, not a stack trace
// appended to it).
func recovered(f func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			msg := fmt.Sprint(p)
			if k := strings.IndexByte(msg, '\n'); k >= 0 {
				msg = msg[:k]
			}
			err = fmt.Errorf("panic: %s", msg)
		}
	}()
	return f()
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
