package report

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/gomlx/gomlx/backends"

	"github.com/gotta-ml/gotta/datasets"
	"github.com/gotta-ml/gotta/tta"
	"github.com/gotta-ml/gotta/tta/eval"
	"github.com/gotta-ml/gotta/tta/method"
)

// Options configure Run.
type Options struct {
	// Dir is the records folder; default "results".
	Dir string
	// Seed of the views (eval.Options.Seed); default 0.
	Seed int64
	// Log receives one line per cell (started, resumed, done with accuracy and time); nil prints nothing.
	Log io.Writer
	// Terminal receives eval's in-place progress bar (a terminal); nil draws none.
	Terminal io.Writer
	// Progress is called after every evaluated example with the cell and eval's progress (notebooks update a
	// line with it); nil for none.
	Progress func(c *Cell, p eval.Progress)
	// Only, when non-empty, restricts the run to these row IDs (and the ablations to series among them); records of
	// other rows already in Dir are still read and shown.
	Only []string
	// SkipAblations leaves the ablations out.
	SkipAblations bool
	// Workers is how many examples of a cell are evaluated at once (eval.Options.Workers); 0 or 1 means one. The
	// cells run one after the other; worker 0 uses the Env given to Run, each other worker its own copy
	// (method.Env.Copy: its own models, loaded on first use). The records are the same for any number of workers.
	Workers int
	// Context, when set, stops the run once it is done (e.g. on SIGINT): the examples started finish and are
	// written, and Run returns an error wrapping eval.ErrInterrupted; a rerun resumes.
	Context context.Context
	// Job is called after every evaluated example with the progress of the whole run (all cells); nil for none.
	// Terminal gets the same as one line (JobProgress.String).
	Job func(JobProgress)
}

// DefaultWorkers is the number of workers for backend b: runtime.NumCPU() on GoMLX's pure-Go backend (an example
// keeps about one core busy), 1 on XLA (one accelerator; nil b too).
func DefaultWorkers(b backends.Backend) int {
	if b != nil && b.String() == "go" {
		return runtime.NumCPU()
	}
	return 1
}

// Cell is one (experiment, dataset) evaluation.
type Cell struct {
	Experiment Experiment
	Dataset    string
	// N is the number of examples asked for.
	N int
	// Path is the records file.
	Path string
	// Records are the cell's records (first N indices), nil when it could not run.
	Records []*eval.Record
	// Err says why the cell has no records: wraps ErrNotAvailable for a method or model this build or machine lacks.
	Err error
	// Computed counts the examples evaluated by this run (the rest were read from Path).
	Computed int
	// Seconds is this run's wall time on the cell, building the adapter included.
	Seconds float64
}

// Metrics are the cell's eval metrics (NaN accuracies when it has no records).
func (c *Cell) Metrics() eval.Metrics { return eval.ComputeMetrics(c.Records) }

// NotAvailable says whether the cell's method or model is unavailable (as opposed to failed).
func (c *Cell) NotAvailable() bool { return c.Err != nil && errors.Is(c.Err, ErrNotAvailable) }

// Results are a suite's cells after Run (or Load).
type Results struct {
	Suite *Suite
	// Env describes the models and backend.
	EnvDescription, Backend, Device string
	// Cells by experiment key (Experiment.Key) and dataset ID.
	Cells map[string]map[string]*Cell
	// Elapsed is Run's wall time.
	Elapsed time.Duration
	// Computed is the number of examples evaluated by this run (not read from records).
	Computed int
	// Reused is the number of examples of the cells Run ran that were read from their records.
	Reused int
	// Workers is the number of examples Run evaluated at once (0: not run, read by Load).
	Workers  int
	modelsID string
}

// Cell returns the cell of experiment e on dataset ds (nil when the suite has none).
func (r *Results) Cell(e Experiment, ds string) *Cell {
	return r.Cells[e.Key(r.modelsID)][ds]
}

// cellsToRun lists the suite's cells: the rows on every dataset, then the ablation points on the ablation datasets
// (a point equal to a row shares its cell).
func cellsToRun(s *Suite, modelsID, dir string, only []string, skipAbl bool) (map[string]map[string]*Cell, []*Cell) {
	cells := map[string]map[string]*Cell{}
	var order []*Cell
	want := func(id string) bool {
		if len(only) == 0 {
			return true
		}
		for _, o := range only {
			if o == id {
				return true
			}
		}
		return false
	}
	add := func(e Experiment, d DatasetSpec, n int, run bool) {
		key := e.Key(modelsID)
		if cells[key] == nil {
			cells[key] = map[string]*Cell{}
		}
		if c, ok := cells[key][d.ID]; ok {
			if n > c.N {
				c.N = n
			}
			return
		}
		c := &Cell{Experiment: e, Dataset: d.ID, N: n,
			Path: filepath.Join(dir, s.RecordsKey, key, d.ID+".jsonl")}
		cells[key][d.ID] = c
		if run {
			order = append(order, c)
		}
	}
	for _, e := range s.Rows {
		for _, d := range s.Datasets {
			add(e, d, d.N, want(e.ID))
		}
	}
	if !skipAbl {
		for _, a := range s.Ablations {
			for _, ser := range a.Series {
				for _, pt := range a.Points(ser) {
					for _, id := range s.AblationDatasets {
						d, ok := s.Dataset(id)
						if !ok {
							continue
						}
						n := s.AblationN
						if n == 0 || (d.N > 0 && n > d.N) {
							n = d.N
						}
						add(pt, d, n, want(ser.ID))
					}
				}
			}
		}
	}
	return cells, order
}

// Run evaluates every cell of the suite that Dir does not already hold complete, in order (rows first, then the
// ablations), and returns all cells. A cell whose method or model is not available, or whose adapter fails to
// build, keeps its error and the run goes on; an error is returned only for a broken records file or dataset.
func Run(s *Suite, env *method.Env, opts Options) (*Results, error) {
	start := time.Now()
	// Every row of a run reads the environment's models, so a no-gradient forward at their initial weights that
	// several rows compute (on the same views of the same example) is computed once; see tta.ForwardCache.
	defer tta.EnableForwardCache(0)()
	if opts.Dir == "" {
		opts.Dir = "results"
	}
	workers := max(1, opts.Workers)
	cells, order := cellsToRun(s, env.ModelsID, opts.Dir, opts.Only, opts.SkipAblations)
	res := &Results{Suite: s, Cells: cells, EnvDescription: env.Description, Backend: env.BackendName,
		Device: env.Device, Workers: workers, modelsID: env.ModelsID}
	opened := map[string]datasets.Dataset{}
	openDS := func(id string) (datasets.Dataset, error) {
		if ds, ok := opened[id]; ok {
			return ds, nil
		}
		spec, _ := s.Dataset(id)
		ds, err := spec.Open()
		if err != nil {
			return nil, fmt.Errorf("report: dataset %s: %w", id, err)
		}
		opened[id] = ds
		return ds, nil
	}

	// The job: every cell's examples, those already in its records counted as reused.
	job := JobProgress{Cells: len(order)}
	have, totals := make([]int, len(order)), make([]int, len(order))
	for i, c := range order {
		n := c.N
		if recs, _, err := eval.ReadRecords(c.Path); err == nil {
			have[i] = len(firstN(recs, c.N))
		}
		if n == 0 && have[i] == 0 {
			ds, err := openDS(c.Dataset)
			if err != nil {
				return nil, err
			}
			n = ds.Len()
		}
		totals[i] = max(n, have[i])
		job.Total += totals[i]
	}
	rates := &rates{perKey: map[string]time.Duration{}, keys: make([]string, len(order))}
	for i, c := range order {
		rates.keys[i] = c.Experiment.Key(env.ModelsID)
	}
	drawn := false
	showJob := func() {
		job.Elapsed = time.Since(start)
		job.ETA = rates.eta(job.Index, totals, have)
		if opts.Job != nil {
			opts.Job(job)
		}
		if opts.Terminal != nil {
			fmt.Fprint(opts.Terminal, "\r\x1b[K"+job.String())
			drawn = true
		}
	}
	logf := func(format string, args ...any) {
		if opts.Log == nil {
			return
		}
		if drawn {
			fmt.Fprint(opts.Terminal, "\r\x1b[K")
			drawn = false
		}
		fmt.Fprintf(opts.Log, format+"\n", args...)
	}

	type built struct {
		a   tta.Adapter
		vm  tta.ViewMaker
		err error
	}
	// Adapters by worker, experiment key and class list; worker w > 0 builds on its own copy of env.
	adapters := make([]map[string]*built, workers)
	envs := make([]*method.Env, workers)
	envs[0] = env
	adapter := func(w int, e Experiment, classes []string) *built {
		if adapters[w] == nil {
			adapters[w] = map[string]*built{}
		}
		if envs[w] == nil {
			envs[w] = env.Copy()
		}
		bkey := e.Key(env.ModelsID) + "\x00" + strings.Join(classes, "\x00")
		b, ok := adapters[w][bkey]
		if !ok {
			a, vm, err := build(envs[w], e, classes)
			b = &built{a: a, vm: vm, err: err}
			adapters[w][bkey] = b
		}
		return b
	}
	// progress is eval's progress callback for the cells from order[i] on, which had done examples before.
	progress := func(i int, c *Cell, cellDone int) func(p eval.Progress) {
		return func(p eval.Progress) {
			if p.Resumed > 0 && job.Done == cellDone { // The cell's records from an earlier run.
				job.Done += p.Resumed
				job.Reused += p.Resumed
			}
			job.Done++
			job.Computed++
			rates.observe(rates.keys[i], p.Elapsed, p.Done-p.Resumed, p.Total-p.Done)
			if opts.Progress != nil {
				opts.Progress(c, p)
			}
			showJob()
		}
	}
	// finish records and logs what the run of cell c (order[i]) computed: it had before records.
	finish := func(i int, c *Cell, before, cellDone int, cellStart time.Time) {
		prefix := fmt.Sprintf("[%d/%d] %s on %s", i+1, len(order), c.Experiment.Name, c.Dataset)
		if c.Err != nil {
			logf("%s: %s", prefix, describeErr(c.Err))
			return
		}
		c.Computed = len(c.Records) - before
		res.Computed += c.Computed
		res.Reused += before
		if job.Done == cellDone { // Nothing computed: every record was there (n = 0 cells).
			job.Done += len(c.Records)
			job.Reused += len(c.Records)
		}
		c.Seconds = time.Since(cellStart).Seconds()
		m := c.Metrics()
		errs := ""
		if m.Errors > 0 {
			errs = fmt.Sprintf(", %d FAILED (e.g. %s)", m.Errors, firstError(c.Records))
		}
		logf("%s: %d examples (%d computed) top-1 %s%% in %.1f s%s", prefix, len(c.Records), c.Computed, pct(m.Top1),
			c.Seconds, errs)
	}
	handled := map[*Cell]bool{} // the cells of continual streams run
	for i, c := range order {
		if handled[c] {
			continue
		}
		cellStart := time.Now()
		job.Index, job.Cell = i, c
		prefix := fmt.Sprintf("[%d/%d] %s on %s", i+1, len(order), c.Experiment.Name, c.Dataset)
		if group := continualGroup(order, c, env.ModelsID); group != nil {
			for _, g := range group {
				handled[g] = true
			}
			before := make([]int, len(group))
			for j, g := range group {
				if recs, _, rerr := eval.ReadRecords(g.Path); rerr == nil {
					before[j] = len(firstN(recs, g.N))
				}
			}
			eo := eval.Options{Seed: opts.Seed, Backend: env.BackendName, Device: env.Device, Context: opts.Context,
				Progress: progress(i, c, job.Done)}
			cellDone := job.Done
			err := runContinual(group, openDS, func(classes []string) (tta.Adapter, tta.ViewMaker, error) {
				b := adapter(0, c.Experiment, classes)
				return b.a, b.vm, b.err
			}, eo)
			rates.finish(rates.keys[i])
			if errors.Is(err, eval.ErrInterrupted) {
				logf("%s: %v", prefix, err)
				return nil, fmt.Errorf("report: %s (continual) on %s: %w", c.Experiment.ID, c.Dataset, err)
			}
			if err != nil {
				return nil, err
			}
			for j, g := range group {
				at := slices.Index(order, g)
				finish(at, g, before[j], cellDone, cellStart)
				cellDone = -1 // Only the first cell counts the examples a run found done in the stream.
			}
			continue
		}
		complete, err := readComplete(c.Path, c.N)
		if err != nil {
			return nil, err
		}
		if complete != nil {
			c.Records = complete
			job.Done += len(complete)
			job.Reused += len(complete)
			res.Reused += len(complete)
			m := c.Metrics()
			logf("%s: %d records reused from %s (top-1 %s%%)", prefix, len(complete), c.Path, pct(m.Top1))
			continue
		}
		ds, err := openDS(c.Dataset)
		if err != nil {
			return nil, err
		}
		classes := ds.Classes()
		b := adapter(0, c.Experiment, classes)
		if b.err != nil {
			c.Err = b.err
			// Records of an earlier run with this method (partial) are still shown.
			if recs, _, rerr := eval.ReadRecords(c.Path); rerr == nil && len(recs) > 0 {
				c.Records = firstN(recs, c.N)
			}
			job.Total -= totals[i] - len(c.Records)
			job.Done += len(c.Records)
			job.Reused += len(c.Records)
			res.Reused += len(c.Records)
			logf("%s: %s", prefix, describeErr(c.Err))
			continue
		}
		eo := eval.Options{Out: c.Path, Seed: opts.Seed, Limit: c.N, Backend: env.BackendName, Device: env.Device,
			Workers: workers, Context: opts.Context}
		eo.NewWorker = func(w int) (tta.Adapter, tta.ViewMaker, error) {
			b := adapter(w, c.Experiment, classes)
			return b.a, b.vm, b.err
		}
		cellDone := job.Done
		eo.Progress = progress(i, c, cellDone)
		before := 0
		if recs, _, rerr := eval.ReadRecords(c.Path); rerr == nil {
			before = len(firstN(recs, c.N))
		}
		if err := writeExperimentFile(c); err != nil {
			return nil, err
		}
		recs, err := eval.Run(ds, b.a, b.vm, eo)
		rates.finish(rates.keys[i])
		if errors.Is(err, eval.ErrInterrupted) {
			logf("%s: %v", prefix, err)
			return nil, fmt.Errorf("report: %s on %s: %w", c.Experiment.ID, c.Dataset, err)
		}
		if err != nil {
			c.Err = err
		} else {
			c.Records = firstN(recs, c.N)
		}
		finish(i, c, before, cellDone, cellStart)
	}
	// Cells not run (other rows with --only) show whatever records they have.
	for _, byDS := range cells {
		for _, c := range byDS {
			if c.Records == nil && c.Err == nil {
				if recs, _, err := eval.ReadRecords(c.Path); err == nil {
					c.Records = firstN(recs, c.N)
				}
			}
		}
	}
	res.Elapsed = time.Since(start)
	if job.Computed > 0 { // The final state: every cell done.
		job.Index, job.Cell = len(order)-1, nil
		showJob()
		if drawn {
			fmt.Fprintln(opts.Terminal)
			drawn = false
		}
	}
	logf("%d examples computed and %d reused from the records in %s, %d at once (%d CPU cores)", res.Computed,
		res.Reused, res.Elapsed.Round(time.Second), workers, runtime.NumCPU())
	return res, nil
}

// Load returns the suite's cells from the records in dir without computing anything (cells without records are
// empty, with an error saying so).
func Load(s *Suite, modelsID, dir string) (*Results, error) {
	if dir == "" {
		dir = "results"
	}
	cells, _ := cellsToRun(s, modelsID, dir, nil, false)
	for _, byDS := range cells {
		for _, c := range byDS {
			recs, _, err := eval.ReadRecords(c.Path)
			switch {
			case errors.Is(err, os.ErrNotExist):
				c.Err = fmt.Errorf("%w: no records in %s", ErrNotAvailable, c.Path)
			case err != nil:
				return nil, err
			default:
				c.Records = firstN(recs, c.N)
			}
		}
	}
	return &Results{Suite: s, Cells: cells, modelsID: modelsID}, nil
}

// readComplete returns the first n records of path when it has all of indices 0..n-1 (n = 0: any records), nil
// when the file is missing or incomplete.
func readComplete(path string, n int) ([]*eval.Record, error) {
	recs, _, err := eval.ReadRecords(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	first := firstN(recs, n)
	if n == 0 || len(first) < n {
		return nil, nil
	}
	return first, nil
}

// firstN keeps one record per index < n (n = 0: all), sorted by index.
func firstN(recs []*eval.Record, n int) []*eval.Record {
	seen := map[int]bool{}
	var out []*eval.Record
	for _, r := range recs {
		if (n > 0 && r.Index >= n) || seen[r.Index] {
			continue
		}
		seen[r.Index] = true
		out = append(out, r)
	}
	sortByIndex(out)
	return out
}

func sortByIndex(recs []*eval.Record) {
	sort.Slice(recs, func(i, j int) bool { return recs[i].Index < recs[j].Index })
}

// build builds experiment e for classes through the method registry. Errors wrapping ErrNotAvailable (a method not
// in this build, a model not configured) keep their text, the same for every experiment of the method; others name
// the experiment.
func build(env *method.Env, e Experiment, classes []string) (tta.Adapter, tta.ViewMaker, error) {
	a, vm, _, err := method.Build(env, e.Method, e.Preset, e.Params, classes)
	if errors.Is(err, ErrNotAvailable) {
		return nil, nil, err
	}
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", e.ID, err)
	}
	return a, vm, nil
}

// writeExperimentFile writes experiment.json beside the cell's records: the method, preset, overrides and resolved
// values that made them.
func writeExperimentFile(c *Cell) error {
	dir := filepath.Dir(c.Path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	path := filepath.Join(dir, "experiment.json")
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	values, _ := c.Experiment.Resolve()
	m := map[string]any{"method": c.Experiment.Method, "preset": c.Experiment.Preset,
		"params": c.Experiment.Params, "values": values, "name": c.Experiment.Name}
	if c.Experiment.Continual {
		m["continual"] = true
	}
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	return os.WriteFile(path, append(data, '\n'), 0o644)
}

func describeErr(err error) string {
	if errors.Is(err, ErrNotAvailable) {
		return "not available (" + strings.Replace(err.Error(), ErrNotAvailable.Error()+": ", "", 1) + ")"
	}
	return "failed: " + err.Error()
}
