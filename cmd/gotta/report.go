package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/gotta-ml/gotta/tta"
	"github.com/gotta-ml/gotta/tta/backend"
	"github.com/gotta-ml/gotta/tta/eval"
	"github.com/gotta-ml/gotta/tta/method"
	"github.com/gotta-ml/gotta/tta/report"
	"github.com/gotta-ml/gotta/tta/report/suites"
)

func init() {
	register("report", "the main job: the seed project's tables and the papers' ablations, as records, tables and report.html", runReport)
}

// reportFlags are gotta report's options.
type reportFlags struct {
	quick               bool
	suite               string
	out, results, md    string
	clip, vocab, resnet string
	data, embeddedDir   string
	n, ablationN        int
	only                string
	noAblations, list   bool
	seed                int64
	workers             int
	cpuProfile          string
}

func runReport(args []string) error {
	fs := newFlags("report", "[--quick] [--clip FILE --vocab FILE --resnet FILE --data imagenet-a=DIR,imagenet-v2=DIR]",
		fmt.Sprintf(`The main job. On the embedded default (no flags) it evaluates the seed project's table on MNIST test,
clean and under the MNIST-C corruptions
  %s at severity %d, the first %d images each:
CLIP zero-shot; TPT; TPT ensemble; TPT ensemble + confidence selection; TPT + alignment; the ResNet; MEMO; MEMO
top-k; dropout; dropout top-k; crop ensemble; crop ensemble top-k; MEMO + TPT ensembles (joint and simple).
Then the ablations on %s (%d images each): number of views 8-64, selection ratio rho, TPT steps 1-4,
learning rate. About 5.5 minutes on a 2-core CPU with 2 workers (--workers).
Every example becomes a record under --results, reused (not recomputed) by later runs with the same configuration
and models; the tables are printed, and written with inline SVG plots (per-dataset bars, ablation curves,
reliability diagrams with ECE, accuracy vs time) to the self-contained --out page. Rows whose method or model is
not available in this build say so instead of showing numbers.

--quick is the CI size: clean, %s, %d images each; ablations on %s with %d images and
views 8, 16, 64 (about 1 minute; its records are a subset of the full run's and are reused by it).
With --clip/--vocab/--resnet/--data it runs the same suite on ImageNet-A / ImageNetV2 with real weights (GPU).

--suite beyond is the "beyond TPT" suite on the same datasets, views, prompts and seeds: CLIP zero-shot (one
prompt, the 7 Tip-Adapter templates), TPT, C-TPT, ZERO, ZERO + Ensemble, MTA, and the online TDA and DMN-ZS (run as
streams in index order); accuracy and ECE per set, accuracy vs time, and accuracy along the stream.`,
			strings.Join(suites.EmbeddedCorruptions(), ", "), suites.EmbeddedSeverity, suites.EmbeddedN,
			strings.Join(suites.EmbeddedCorruptions()[:2], " and "), suites.EmbeddedAblationN,
			strings.Join(suites.EmbeddedCorruptions()[:2], ", "), suites.EmbeddedQuickN, suites.EmbeddedCorruptions()[0],
			suites.EmbeddedQuickN/2))
	var f reportFlags
	fs.StringVar(&f.suite, "suite", suites.SuiteSeed, "the suite: "+strings.Join(suites.SuiteNames, " or ")+
		" (the seed project's tables and the papers' ablations, or the methods after TPT)")
	fs.BoolVar(&f.quick, "quick", false, "the quick suite (CI): fewer corruptions, examples and ablation points")
	fs.StringVar(&f.out, "out", "report.html", "the HTML report to write (self-contained)")
	fs.StringVar(&f.results, "results", "results", "the records folder (reused across runs)")
	fs.StringVar(&f.md, "markdown", "", "also write the main table as Markdown to this file (the README's headline table)")
	fs.StringVar(&f.clip, "clip", "", "CLIP weights (safetensors, OpenAI or HF names); default: the embedded CLIP")
	fs.StringVar(&f.vocab, "vocab", "", "CLIP BPE vocabulary (bpe_simple_vocab_16e6.txt.gz); default: beside --clip, else in the weights dir")
	fs.StringVar(&f.resnet, "resnet", "", "ResNet weights (torchvision names) for MEMO; default: the embedded ResNet")
	fs.StringVar(&f.embeddedDir, "embedded", "", "folder of the embedded models' weight files, e.g. the output of gotta train-embedded (default: $GOTTA_EMBEDDED_DIR, else the weights committed in tta/embedded)")
	fs.StringVar(&f.data, "data", "", "real datasets as ID=DIR,... (imagenet-a, imagenet-v2); default: embedded MNIST / MNIST-C")
	fs.IntVar(&f.n, "n", 0, "examples per dataset (0: the suite's default; all of a real dataset)")
	fs.IntVar(&f.ablationN, "ablation-n", 0, "examples per ablation dataset (0: the suite's default)")
	fs.StringVar(&f.only, "only", "", "comma-separated row IDs to compute (others are shown from their records); see --list")
	fs.BoolVar(&f.noAblations, "no-ablations", false, "skip the ablations")
	fs.BoolVar(&f.list, "list", false, "list the suite's rows, datasets and ablations and exit")
	fs.Int64Var(&f.seed, "seed", 0, "seed of the views")
	fs.IntVar(&f.workers, "workers", 0, workersHelp)
	fs.StringVar(&f.cpuProfile, "cpuprofile", "", "write a CPU profile of the run to this file (go tool pprof)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	return reportMain(os.Stdout, f, strings.Join(append([]string{"gotta", "report"}, args...), " "))
}

func reportMain(w io.Writer, f reportFlags, command string) error {
	start := time.Now()
	suite, err := reportSuite(f)
	if err != nil {
		return err
	}
	if f.list {
		listSuite(w, suite)
		return nil
	}
	if err := checkOnly(suite, f.only); err != nil {
		return err
	}
	if err := checkOutFile("--out", f.out); err != nil {
		return err
	}
	b, choice, err := backend.New()
	if err != nil {
		return err
	}
	workers, err := resolveWorkers(f.workers, b)
	if err != nil {
		return err
	}
	var env *method.Env
	if f.data == "" && f.clip == "" && f.resnet == "" {
		env = method.EmbeddedEnv(b)
		if f.embeddedDir != "" {
			env = method.EmbeddedEnvDir(b, f.embeddedDir)
		}
	} else {
		vocab := f.vocab
		if vocab == "" && f.clip != "" {
			vocab = findVocab(f.clip)
		}
		env = method.FileEnv(b, f.clip, vocab, f.resnet)
	}
	env.BackendName = choice.Config
	fmt.Fprintf(w, "gotta report: suite %s (%s)\nbackend %s, %d workers on %d CPU cores; models: %s; records in %s\n",
		suite.Name, suite.Description, choice.Config, workers, runtime.NumCPU(), env.Description, f.results)
	opts := report.Options{Dir: f.results, Seed: f.seed, Log: w, SkipAblations: f.noAblations, Workers: workers}
	if isTerminal(os.Stderr) {
		opts.Terminal = os.Stderr
	}
	if f.only != "" {
		opts.Only = strings.Split(f.only, ",")
	}
	stopProfile, err := startCPUProfile(f.cpuProfile)
	if err != nil {
		return err
	}
	ctx, stop := interruptContext()
	defer stop()
	opts.Context = ctx
	res, err := report.Run(suite, env, opts)
	stopProfile()
	if errors.Is(err, eval.ErrInterrupted) {
		return &interruptedError{what: "the report's records", file: f.results}
	}
	if err != nil {
		return err
	}
	rep, err := report.Make(res)
	if err != nil {
		return err
	}
	fmt.Fprintln(w)
	fmt.Fprint(w, rep.Text())
	page := rep.HTML(report.PageInfo{Title: "GoTTA report: " + suite.Name, Command: command})
	if dir := filepath.Dir(f.out); dir != "." {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	if err := os.WriteFile(f.out, page, 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", f.out, err)
	}
	if f.md != "" {
		if err := os.WriteFile(f.md, []byte(rep.Main.Markdown()), 0o644); err != nil {
			return fmt.Errorf("writing %s: %w", f.md, err)
		}
	}
	fmt.Fprintf(w, "\nwrote %s; %d examples evaluated now, %d read from %s; took %s with %d workers on %d CPU cores\n",
		f.out, res.Computed, res.Reused, f.results, time.Since(start).Round(time.Second), workers, runtime.NumCPU())
	return reportFailures(res)
}

// reportSuite is the embedded suite, or the ImageNet suite for --data.
func reportSuite(f reportFlags) (*report.Suite, error) {
	var s *report.Suite
	if f.data == "" {
		var err error
		if s, err = suites.Named(f.suite, f.quick); err != nil {
			return nil, &usageError{err}
		}
		suites.SetN(s, f.n)
	} else {
		dirs, order, err := suites.ParseData(f.data)
		if err != nil {
			return nil, err
		}
		n, abN := f.n, f.ablationN
		if f.quick {
			if n == 0 {
				n = 200
			}
			if abN == 0 {
				abN = 100
			}
		} else if abN == 0 {
			abN = 1000
		}
		switch f.suite {
		case suites.SuiteBeyond:
			s, err = suites.BeyondImageNetSuite(dirs, order, n)
		case "", suites.SuiteSeed:
			s, err = suites.ImageNetSuite(dirs, order, n, abN)
		default:
			_, err = suites.Named(f.suite, f.quick)
			err = &usageError{err}
		}
		if err != nil {
			return nil, err
		}
	}
	if f.ablationN > 0 {
		s.AblationN = f.ablationN
	}
	return s, nil
}

func listSuite(w io.Writer, s *report.Suite) {
	fmt.Fprintf(w, "suite %s: %s\n\nrows (ID, method, preset, params):\n", s.Name, s.Description)
	for _, e := range s.Rows {
		fmt.Fprintf(w, "  %-16s %-10s %-22s %s\n", e.ID, e.Method, e.Preset, e.Params.Format())
	}
	fmt.Fprintf(w, "\ndatasets:")
	for _, d := range s.Datasets {
		fmt.Fprintf(w, " %s(n=%d)", d.ID, d.N)
	}
	fmt.Fprintf(w, "\n\nablations (on %s, n=%d):\n", strings.Join(s.AblationDatasets, ","), s.AblationN)
	for _, a := range s.Ablations {
		var ser []string
		for _, e := range a.Series {
			ser = append(ser, e.ID)
		}
		fmt.Fprintf(w, "  %-6s %s over %v for %s\n", a.ID, a.Param, a.Values, strings.Join(ser, ", "))
	}
	fmt.Fprintf(w, "\nmethods in this build: %s\n", strings.Join(method.Names(), ", "))
}

// findVocab looks for CLIP's BPE vocabulary beside the weights, then in GoTTA's weights folder.
func findVocab(clipPath string) string {
	const name = "bpe_simple_vocab_16e6.txt.gz"
	for _, p := range []string{filepath.Join(filepath.Dir(clipPath), name), filepath.Join(tta.WeightsDir(), name)} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
