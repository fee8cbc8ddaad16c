// Package nb is the helper of GoTTA's report notebooks (notebooks/*.ipynb, run by the GoNB kernel): it runs a
// suite's rows with the settings the environment variables describe (suites.Setup: GOTTA_QUICK=1 is the quick
// mode, GOTTA_CLIP / GOTTA_RESNET / GOTTA_DATA switch to real weights and data, GOTTA_RESULTS the records folder),
// shows one progress line per cell being evaluated, and displays tta/report's tables (HTML, with their intervals)
// and figures (inline SVG). Every number comes from the records in the results folder, so a cell that runs again
// computes only the missing examples.
//
// It is the only package of the repository that imports gonbui: the library and the command never depend on the
// notebook UI. Its functions are one-line notebook cells, so they panic on an error (GoNB shows the panic under the
// cell); outside a notebook (gonbui.IsNotebook false) they print tables as text and progress as lines, and skip
// figures.
//
// Usage, in GoNB cells (a cell that starts with %% runs its lines):
//
//	import "github.com/gotta-ml/gotta/notebooks/nb"
//
//	%%
//	nb.Smoke()                               // the backend, suite, models and records folder; evaluates nothing
//	res := nb.Run("zero-shot", "tpt")        // evaluate the missing examples of these rows, read the rest
//	nb.Table(res, "CLIP zero-shot and TPT")  // report.SubTable of those rows, as HTML
//	nb.Reliability(res, "zero-shot", "tpt")  // report.ReliabilityFigures, as inline SVG
package nb

import (
	"fmt"
	"html"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/janpfeifer/gonb/gonbui"

	"github.com/gotta-ml/gotta/tta/backend"
	"github.com/gotta-ml/gotta/tta/eval"
	"github.com/gotta-ml/gotta/tta/method"
	_ "github.com/gotta-ml/gotta/tta/method/all" // the methods the suites' rows name
	"github.com/gotta-ml/gotta/tta/report"
	"github.com/gotta-ml/gotta/tta/report/suites"
)

// DefaultResults is the records folder when GOTTA_RESULTS is unset: the repository's results/ seen from notebooks/
// (GoNB runs a cell in the notebook's folder), shared with `gotta report` run at the repository root.
const DefaultResults = "../results"

// scope is the class of the <div> around every displayed fragment; report.FragmentCSS styles only inside it.
const scope = "gotta-nb"

// progressEvery is the least time between two updates of the progress display (the last example always shows).
const progressEvery = 500 * time.Millisecond

// Session is what the environment variables describe: the suite, the models and the run options.
type Session struct {
	// Suite is the embedded suite (quick or full) or the ImageNet suite (suites.Setup).
	Suite *report.Suite
	// Env holds the backend and the models, loaded on first use.
	Env *method.Env
	// Options are report.Run's: the records folder (GOTTA_RESULTS, else DefaultResults).
	Options report.Options
	// Choice says which backend runs the graphs and why.
	Choice backend.Choice
}

// Setup returns the session of the environment variables (suites.Setup with os.Getenv and DefaultResults) on the
// backend that tta/backend chooses.
func Setup() (*Session, error) {
	return setup(os.Getenv)
}

func setup(getenv func(string) string) (*Session, error) {
	getenv = withSuiteName(getenv)
	b, choice, err := backend.New()
	if err != nil {
		return nil, fmt.Errorf("nb: backend: %w", err)
	}
	s, env, opts, err := suites.Setup(b, getenv, DefaultResults)
	if err != nil {
		return nil, fmt.Errorf("nb: settings: %w", err)
	}
	env.BackendName = choice.Config
	return &Session{Suite: s, Env: env, Options: opts, Choice: choice}, nil
}

// Smoke prints what the notebook will run, without evaluating anything: the backend and why, the suite and its
// sizes, the models, the records folder, the methods this build has, and the rows or ablation points whose method
// or parameters do not resolve (the tables will show them as failed or not available). It panics when the settings
// are invalid.
func Smoke() {
	must(Setup()).smoke(os.Stdout)
}

func (sess *Session) smoke(w io.Writer) {
	s := sess.Suite
	fmt.Fprintf(w, "backend: %s (%s)\nsuite:   %s: %s\nmodels:  %s\nrecords: %s\nmethods: %s\n", sess.Choice.Config,
		sess.Choice.Reason, s.Name, s.Description, sess.Env.Description, sess.Options.Dir,
		strings.Join(method.Names(), ", "))
	points := 0
	var bad []string
	check := func(e report.Experiment) {
		if _, err := e.Resolve(); err != nil {
			bad = append(bad, fmt.Sprintf("%s: %v", e.ID, err))
		}
	}
	for _, e := range s.Rows {
		check(e)
	}
	for _, a := range s.Ablations {
		for _, series := range a.Series {
			for _, p := range a.Points(series) {
				check(p)
				points++
			}
		}
	}
	fmt.Fprintf(w, "rows:    %d, %d datasets, %d ablations (%d points)\n", len(s.Rows), len(s.Datasets),
		len(s.Ablations), points)
	if len(bad) > 0 {
		fmt.Fprintf(w, "not resolved: %s\n", strings.Join(bad, "; "))
	}
}

// Run evaluates the examples of the given rows (suite row IDs; none: every row) that the records folder lacks,
// reads the rest, shows progress while it computes, and returns the results restricted to those rows. It panics
// on an unknown row ID or a broken records file or dataset; a row whose method or model is not available is shown
// as such by the tables.
func Run(rows ...string) *report.Results {
	return must(runRows(os.Getenv, rows, false))
}

// RunAblations is Run with the suite's ablations whose series are among rows (none: every ablation): the points of
// the ablation figures and tables, on the suite's ablation datasets.
func RunAblations(rows ...string) *report.Results {
	return must(runRows(os.Getenv, rows, true))
}

// suiteName is the suite UseSuite chose ("" for GOTTA_SUITE, else the seed suite).
var suiteName string

// UseSuite makes the later Run, RunAblations and Smoke calls use the suite called name (suites.SuiteNames: "seed",
// "beyond") unless GOTTA_SUITE says otherwise. It panics on an unknown name.
func UseSuite(name string) {
	if _, err := suites.Named(name, false); err != nil {
		panic(fmt.Errorf("nb: %w", err))
	}
	suiteName = name
}

// withSuiteName is getenv with GOTTA_SUITE defaulting to UseSuite's choice.
func withSuiteName(getenv func(string) string) func(string) string {
	return func(key string) string {
		if v := getenv(key); v != "" || key != suites.EnvSuite {
			return v
		}
		return suiteName
	}
}

func runRows(getenv func(string) string, rows []string, ablations bool) (*report.Results, error) {
	sess, err := setup(getenv)
	if err != nil {
		return nil, err
	}
	for _, id := range rows {
		if _, ok := sess.Suite.Row(id); !ok {
			return nil, fmt.Errorf("nb: suite %s has no row %q", sess.Suite.Name, id)
		}
	}
	opts := sess.Options
	opts.Only, opts.SkipAblations = rows, !ablations
	prog := newProgress()
	opts.Progress = prog.update
	res, err := report.Run(sess.Suite, sess.Env, opts)
	prog.flush()
	if err != nil {
		return nil, fmt.Errorf("nb: %w", err)
	}
	fmt.Printf("suite %s: %d examples evaluated now, the rest read from %s; %s\n", sess.Suite.Name, res.Computed,
		opts.Dir, res.Elapsed.Round(time.Millisecond))
	if len(rows) > 0 {
		res = res.WithRows(rows...)
	}
	return res, nil
}

// progress shows one line per cell being evaluated (eval.ProgressBar), updated in place in a notebook.
type progress struct {
	mu    sync.Mutex
	id    string
	order []string
	lines map[string]string
	last  time.Time
}

func newProgress() *progress {
	return &progress{id: "gotta-progress-" + gonbui.UniqueId(), lines: map[string]string{}}
}

// update records a cell's progress (report.Options.Progress; cells may run concurrently) and shows it.
func (p *progress) update(c *report.Cell, ep eval.Progress) {
	p.mu.Lock()
	defer p.mu.Unlock()
	key := c.Experiment.Name + " on " + c.Dataset
	if _, ok := p.lines[key]; !ok {
		p.order = append(p.order, key)
	}
	p.lines[key] = key + ": " + eval.ProgressBar(ep, 20)
	if !isNotebook() {
		if ep.Done == ep.Total || ep.Done%10 == 0 {
			fmt.Println(p.lines[key])
		}
		return
	}
	if ep.Done == ep.Total || time.Since(p.last) >= progressEvery {
		p.showLocked()
	}
}

// flush shows the last state of every line.
func (p *progress) flush() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if isNotebook() && len(p.order) > 0 {
		p.showLocked()
	}
}

func (p *progress) showLocked() {
	var sb strings.Builder
	sb.WriteString("<pre class=\"gotta-progress\">")
	for _, k := range p.order {
		sb.WriteString(html.EscapeString(p.lines[k]) + "\n")
	}
	sb.WriteString("</pre>")
	updateDisplay(p.id, sb.String())
	p.last = time.Now()
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
