package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/gotta-ml/gotta/tta"
	"github.com/gotta-ml/gotta/tta/backend"
	"github.com/gotta-ml/gotta/tta/eval"
	"github.com/gotta-ml/gotta/tta/method"
)

func init() {
	register("eval", "run a test-time-adaptation method over a dataset: JSON-lines records, resumable, shardable", runEval)
}

// evalDescription is gotta eval's help text (the methods are appended).
const evalDescription = `Runs a method over a dataset and appends one JSON line per example to --out (method and its full
config, dataset, example id, label, prediction, top-5, confidence, entropies, selected views, seconds, backend,
device, seed, and what identifies the data). Rerunning the same command resumes where it stopped (an unfinished
last line is dropped) and evaluates the error records again (--no-retry-errors keeps them); records of another
run, or of other data (examples added, removed or renamed, another folder), in --out are an error. Exit code 0
when every example ran, 3 when some failed (listed at the end of stderr), 130 after Ctrl-C, 2 on a usage error. --shard i/n evaluates the examples with index % n == i; gotta merge joins the
shards. Prints a progress bar on stderr and the summary table (Markdown) at the end.

--data is ID=DIR: imagenet-a, imagenet-v2, imagenet-r, imagenet-sketch, imagenet-val (class folders under DIR), or
folder=DIR (any class-per-folder tree), where DIR may be a bucket's folder (s3://BUCKET/PREFIX, gs://, azblob://;
credentials from the environment; --cache keeps the images under $GOTTA_HOME/cache/storage); or the embedded default's data, which needs no files: mnist (the first
1000 MNIST test images) or mnist-c[:CORRUPTION[:SEVERITY]] (the same images under an MNIST-C corruption, default
glass_blur at severity 3; the images of gotta report). --data defaults to mnist-c:glass_blur.
Online methods (their state carries from one example to the next, e.g. TDA's caches, DMN's memory) run as a
stream: one example at a time (--workers is ignored), in --order index (dataset index order, the default) or
shuffle (a shuffle seeded with --order-seed), the state emptied at the start of each dataset; --shard is refused.
Each record holds its stream position. A rerun resumes exactly: the method's saved state (OUT.state, for methods
that save one) is restored and the recorded examples after it are replayed, checking each replayed prediction
against its record. Error records of an online run are not retried (the example has had its place in the stream).
--continual runs the datasets of --data (repeated, or a comma-separated list) as one stream, the state emptied
once; --out is then a folder (default results/eval/METHOD_continual_DATASETS) with one records file per dataset.
--model is FAMILY[:ARCH]=FILE, e.g. clip:RN50=RN50.safetensors; FILE (and --vocab) may be a storage URL, fetched
once into $GOTTA_HOME/cache/storage. --shard auto takes i from $JOB_COMPLETION_INDEX and n from $JOB_COMPLETIONS
(a Kubernetes Indexed Job, deploy/k8s); --upload URL copies the records to a bucket when the run stops. On the embedded data, methods without --model use
the embedded models (the MNIST CLIP and ResNet of gotta report) with their own prompt and preprocessing.
--out defaults to results/eval/METHOD_DATASET.jsonl. A method's flags come from its spec (tta/method): every
parameter with its paper default and range, and --preset NAME, a named configuration (e.g. memo's seed-memo-topk)
under the flags given; gotta eval --method NAME --help lists them.

Examples:
  gotta eval --method tpt --data mnist-c:fog --limit 100
  gotta eval --method tda --data folder=/data/pets --views 1 --order shuffle --order-seed 1
  gotta eval --method tpt --model clip:RN50=RN50.safetensors --vocab bpe_simple_vocab_16e6.txt.gz \
    --data imagenet-a=/data/imagenet-a --views 64 --select 0.1 --steps 1 --out results/tpt_rn50_a.jsonl`

// commonFlags are the flags gotta eval and gotta adapt share.
type commonFlags struct {
	method *string
	models modelFlag
	vocab  *string
	dtype  *string
	c1k    *string
}

func addCommonFlags(fs *flag.FlagSet) *commonFlags {
	c := &commonFlags{}
	c.method = fs.String("method", "", "the method (see Methods below)")
	fs.Var(&c.models, "model", "model FAMILY[:ARCH]=FILE, e.g. clip:RN50=RN50.safetensors (repeat for methods with several models)")
	c.vocab = fs.String("vocab", "", "CLIP's BPE vocabulary (bpe_simple_vocab_16e6.txt.gz) for CLIP methods")
	c.dtype = fs.String("dtype", "f32", "compute dtype of the models: f32 or bf16 (learned variables stay f32)")
	c.c1k = fs.String("classes-1k", "auto", "which of a ResNet's outputs are the dataset's classes: auto (all when the counts match, else ImageNet-A's or -R's 200 by name), a, r or all")
	return c
}

// newMethodFlags makes a subcommand's FlagSet with the method's flags (from its spec, under defaultPreset: ""
// for the spec's own default preset) when args name a known method.
func newMethodFlags(name, usageLine, description string, args []string, preset func(*method.Spec) string) (
	*flag.FlagSet, *method.Spec, *method.Flags) {
	fs := newFlags(name, usageLine, description+"\n\n"+methodList())
	s, err := method.Lookup(scanFlag(args, "method"))
	if err != nil {
		return fs, nil, nil
	}
	return fs, s, method.AddFlags(fs, s, preset(s))
}

// parseMethodFlags parses args: through the method's flags when there is a method (they refuse another method's
// flags by name), else plainly.
func parseMethodFlags(fs *flag.FlagSet, mf *method.Flags, args []string) error {
	if mf != nil {
		return mf.Parse(args)
	}
	return fs.Parse(args)
}

func defaultPreset(s *method.Spec) string { return s.DefaultPreset }

func runEval(args []string) error { return evalMain(args, os.Stdout, os.Stderr) }

func evalMain(args []string, stdout, stderr io.Writer) error {
	fs, spec, mf := newMethodFlags("eval", "--method NAME --model FAMILY[:ARCH]=FILE --data ID=DIR --out FILE [flags]",
		evalDescription, args, defaultPreset)
	fs.SetOutput(stderr)
	common := addCommonFlags(fs)
	var dataList dataFlag
	fs.Var(&dataList, "data", "dataset ID=DIR (imagenet-a, imagenet-v2, imagenet-r, imagenet-sketch, imagenet-val, folder), or mnist / mnist-c[:CORRUPTION[:SEVERITY]] (embedded); default "+defaultData+"; repeated (or a comma-separated list) with --continual")
	out := fs.String("out", "", "JSON-lines output file (appended to; resumes); default results/eval/METHOD_DATASET.jsonl; with --continual a folder")
	shard := fs.String("shard", "", "i/n: evaluate the examples with index % n == i; auto: i from $"+EnvJobIndex+
		" and n from $"+EnvJobCompletions+" (a Kubernetes Indexed Job)")
	upload := fs.String("upload", "", "storage URL the records file is copied to when the run ends (a folder URL ending "+
		"with / keeps its name); a rerun with no local --out resumes from it")
	cache := fs.Bool("cache", false, "keep local copies of a bucket's images under $GOTTA_HOME/cache/storage "+
		"(used again while their ETag/MD5 and size are unchanged)")
	limit := fs.Int("limit", 0, "evaluate only the first N examples (0 = all)")
	seed := fs.Int64("seed", 0, "seed of the views (example i's view v derives from seed, example id and v)")
	quiet := fs.Bool("quiet", false, "no progress bar")
	noRetry := fs.Bool("no-retry-errors", false, "keep the error records already in --out (by default a rerun evaluates them again)")
	workers := fs.Int("workers", 0, workersHelp)
	sf := addStreamFlags(fs)
	batch := fs.Int("batch-examples", 1, batchHelp)
	if name := scanFlag(args, "method"); spec == nil && name != "" {
		_, err := lookupMethod(name) // Before parsing: the unknown method's flags would read as unknown flags.
		return &usageError{err}
	}
	if err := parseMethodFlags(fs, mf, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if spec == nil {
		_, err := lookupMethod(*common.method)
		return &usageError{err}
	}
	values, err := mf.Values()
	if err != nil {
		return &usageError{err}
	}
	if err := sf.check(fs, spec, *shard, &dataList); err != nil {
		return err
	}
	data := &dataList[0]
	if *limit < 0 {
		return usageErrorf("--limit %d: want 0 (all) or a positive number of examples", *limit)
	}
	if *batch < 1 {
		return usageErrorf("--batch-examples %d: want 1 (one example at a time) or more", *batch)
	}
	if *out != "" && !*sf.continual {
		if err := checkOutFile("--out", *out); err != nil {
			return err
		}
	}
	if _, err := parseDType(*common.dtype); err != nil {
		return &usageError{err}
	}
	if err := checkUploadURL(*upload); err != nil {
		return err
	}
	if *upload != "" && *sf.continual {
		return usageErrorf("--upload: not with --continual (upload the records folder's files with gotta merge --upload)")
	}
	var shardI, shardN int
	switch *shard {
	case "":
	case "auto":
		if shardI, shardN, err = autoShard(); err != nil {
			return &usageError{err}
		}
		fmt.Fprintf(stderr, "shard %d of %d ($%s, $%s)\n", shardI, shardN, EnvJobIndex, EnvJobCompletions)
	default:
		if shardI, shardN, err = parseShard(*shard); err != nil {
			return &usageError{err}
		}
	}
	dss, err := openStreamDatasets(dataList, *cache, stderr)
	if err != nil {
		return err
	}
	ds := dss[0]
	if *sf.continual {
		if *out, err = continualOut(*out, spec.Name, dss); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "records: %s\n", *out)
	} else if *out == "" {
		*out = filepath.Join("results", "eval", spec.Name+"_"+fileSafe(ds.Name())+".jsonl")
		fmt.Fprintf(stderr, "records: %s\n", *out)
	}
	opts := eval.Options{Out: *out, Seed: *seed, Limit: *limit, NoRetryErrors: *noRetry, Order: *sf.order,
		OrderSeed: *sf.orderSeed}
	opts.Shard, opts.NumShards = shardI, shardN
	for i, m := range common.models.specs {
		if common.models.specs[i].Path, err = localFile("--model "+m.String(), m.Path); err != nil {
			return err
		}
	}
	if *common.vocab, err = localFile("--vocab", *common.vocab); err != nil {
		return err
	}
	if err := resumeFromUpload(stderr, *out, *upload); err != nil {
		return err
	}
	models, err := modelsOf(common.models.specs, isEmbeddedData(*data))
	if err != nil {
		return err
	}
	if models.DType, err = parseDType(*common.dtype); err != nil {
		return err
	}
	models.Vocab, models.Classes1k = *common.vocab, *common.c1k
	b, _, err := backend.New()
	if err != nil {
		return err
	}
	if opts.Workers, err = resolveWorkers(*workers, b); err != nil {
		return err
	}
	env := method.NewEnv(b, models)
	adapter, vm, err := spec.Build(env, ds.Classes(), values)
	if err != nil {
		if !models.Embedded && len(common.models.specs) == 0 {
			return fmt.Errorf("method %s: %w (the embedded models need no --model: --data mnist or mnist-c:CORRUPTION)",
				spec.Name, err)
		}
		return fmt.Errorf("method %s: %w", spec.Name, err)
	}
	if *batch > 1 {
		if _, err := tta.BatchOf(adapter, *batch); err != nil {
			return usageErrorf("--batch-examples %d: %v", *batch, err)
		}
		opts.BatchExamples = *batch
	}
	opts.Backend, opts.Device = env.BackendName, env.Device
	opts.NewWorker = func(int) (tta.Adapter, tta.ViewMaker, error) {
		return spec.Build(env.Copy(), ds.Classes(), values)
	}
	if !*quiet {
		opts.Terminal = stderr
	}
	ctx, stop := interruptContext()
	defer stop()
	opts.Context = ctx
	if *sf.continual {
		return runContinual(dss, adapter, vm, opts, stdout)
	}
	outcome := runOutcome
	if spec.Online {
		outcome = streamOutcome
	}
	recs, err := eval.Run(ds, adapter, vm, opts)
	if *upload != "" && (err == nil || errors.Is(err, eval.ErrInterrupted)) {
		// Also after failed examples or an interruption (a pod's SIGTERM): what was computed is kept. Not after
		// an error such as records of another run in --out.
		if uerr := uploadRecords(stderr, *out, *upload); uerr != nil {
			if err == nil {
				return uerr
			}
			fmt.Fprintf(stderr, "gotta eval: %v\n", uerr)
		}
	}
	if err != nil {
		return outcome(recs, err, *out)
	}
	row := eval.Row{Name: adapter.Name(), Dataset: ds.Name(), Metrics: eval.ComputeMetrics(recs)}
	fmt.Fprintf(stdout, "%s\n%d records in %s\n", eval.Table([]eval.Row{row}).Markdown(), len(recs), *out)
	return outcome(recs, nil, *out)
}

// batchHelp is the --batch-examples flag's help.
const batchHelp = "throughput mode: adapt this many consecutive examples in one executable, each with its own " +
	"context, optimizer state and selection (tpt, c-tpt and tpt's ensemble presets; the records are those of 1, a " +
	"failed batch is rerun one example at a time)"

// parseShard parses "i/n".
func parseShard(s string) (int, int, error) {
	a, bs, ok := strings.Cut(s, "/")
	i, err1 := strconv.Atoi(a)
	n, err2 := strconv.Atoi(bs)
	if !ok || err1 != nil || err2 != nil || n < 1 || i < 0 || i >= n {
		return 0, 0, fmt.Errorf("--shard %q: want i/n with 0 <= i < n", s)
	}
	return i, n, nil
}

// fileSafe turns a dataset name such as "mnist-c/glass_blur/s3" into a file-name part ("mnist-c_glass_blur_s3").
func fileSafe(name string) string {
	return strings.Map(func(r rune) rune {
		if r == '/' || r == '\\' || r == ':' || r == ' ' || r == '=' {
			return '_'
		}
		return r
	}, name)
}
