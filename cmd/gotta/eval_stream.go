package main

import (
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"

	"github.com/gotta-ml/gotta/datasets"
	"github.com/gotta-ml/gotta/tta"
	"github.com/gotta-ml/gotta/tta/eval"
	"github.com/gotta-ml/gotta/tta/method"
)

// dataFlag is gotta eval's --data: one dataset, or several with --continual.
type dataFlag []string

func (d *dataFlag) String() string { return strings.Join(*d, ",") }

// Set implements flag.Value: each --data adds a dataset.
func (d *dataFlag) Set(v string) error {
	*d = append(*d, v)
	return nil
}

// streamFlags are gotta eval's flags of online methods.
type streamFlags struct {
	order     *string
	orderSeed *int64
	continual *bool
}

func addStreamFlags(fs *flag.FlagSet) *streamFlags {
	return &streamFlags{
		order: fs.String("order", eval.OrderIndex, "online methods: the stream's order, index (dataset index order) "+
			"or shuffle (seeded with --order-seed)"),
		orderSeed: fs.Int64("order-seed", 0, "online methods: the seed of --order shuffle"),
		continual: fs.Bool("continual", false, "online methods: run the datasets of --data (repeated, or a "+
			"comma-separated list) as one stream, the state emptied once; --out is then a folder"),
	}
}

// check refuses the stream flags where they do not apply, and --shard for an online method (before any model is
// loaded); with --continual it splits the --data values on commas. An empty data gets the default dataset.
func (sf *streamFlags) check(fs *flag.FlagSet, spec *method.Spec, shard string, data *dataFlag) error {
	if len(*data) == 0 {
		*data = dataFlag{defaultData}
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if spec.Online && shard != "" {
		return usageErrorf("method %s is online (its state carries between examples): --shard is refused; run it "+
			"unsharded", spec.Name)
	}
	if !spec.Online {
		for _, f := range []string{"order", "order-seed", "continual"} {
			if set[f] {
				return usageErrorf("--%s is for online methods (their state carries between examples); method %s "+
					"adapts each example afresh", f, spec.Name)
			}
		}
	}
	if *sf.order != eval.OrderIndex && *sf.order != eval.OrderShuffle {
		return usageErrorf("--order %q: want index or shuffle", *sf.order)
	}
	if set["order-seed"] && *sf.order != eval.OrderShuffle {
		return usageErrorf("--order-seed is the seed of --order shuffle")
	}
	if *sf.continual {
		var list dataFlag
		for _, d := range *data {
			for _, p := range strings.Split(d, ",") {
				if p = strings.TrimSpace(p); p != "" {
					list = append(list, p)
				}
			}
		}
		*data = list
		if len(list) < 2 {
			return usageErrorf("--continual runs several datasets as one stream: give --data twice or more, or a " +
				"comma-separated list")
		}
	} else if len(*data) > 1 {
		return usageErrorf("--data given %d times: several datasets run as one stream only with --continual (online "+
			"methods)", len(*data))
	}
	for _, d := range *data {
		if d == "" {
			return usageErrorf("--data is required")
		}
		if isEmbeddedData(d) != isEmbeddedData((*data)[0]) {
			return usageErrorf("--data %s and %s: a continual stream is on the embedded data or on files, not both",
				(*data)[0], d)
		}
	}
	return nil
}

// openStreamDatasets opens the datasets of --data; several (a continual stream) must have the same classes, as one
// classifier serves the whole stream.
func openStreamDatasets(list dataFlag, cache bool, stderr io.Writer) ([]datasets.Dataset, error) {
	var dss []datasets.Dataset
	for _, d := range list {
		ds, err := openDatasetCached(d, cache)
		if err != nil {
			return nil, err
		}
		warnFolderClasses(stderr, ds)
		if len(dss) > 0 && !slices.Equal(ds.Classes(), dss[0].Classes()) {
			return nil, usageErrorf("--continual: %s has other classes than %s (%d and %d classes); one classifier "+
				"serves the whole stream", ds.Name(), dss[0].Name(), len(ds.Classes()), len(dss[0].Classes()))
		}
		dss = append(dss, ds)
	}
	return dss, nil
}

// continualOut is the records folder of a continual run: out, else results/eval/METHOD_continual_DATASETS.
func continualOut(out, methodName string, dss []datasets.Dataset) (string, error) {
	if out != "" {
		return out, checkOutDir("--out", out)
	}
	var names []string
	for _, ds := range dss {
		names = append(names, fileSafe(ds.Name()))
	}
	return filepath.Join("results", "eval", methodName+"_continual_"+strings.Join(names, "+")), nil
}

// runContinual runs dss as one stream, the records of dataset j in opts.Out/J_NAME.jsonl, and prints a table with
// a row per dataset.
func runContinual(dss []datasets.Dataset, adapter tta.Adapter, vm tta.ViewMaker, opts eval.Options,
	stdout io.Writer) error {
	online, ok := adapter.(tta.Online)
	if !ok {
		return fmt.Errorf("method %s: its adapter does not carry a state between examples (tta.Online): "+
			"--continual needs one", adapter.Name())
	}
	dir := opts.Out
	var parts []eval.StreamPart
	for j, ds := range dss {
		parts = append(parts, eval.StreamPart{Dataset: ds, Limit: opts.Limit,
			Out: filepath.Join(dir, fmt.Sprintf("%d_%s.jsonl", j, fileSafe(ds.Name())))})
	}
	opts.Out, opts.Limit = "", 0
	res, err := eval.RunStream(parts, online, vm, opts)
	var all []*eval.Record
	var rows []eval.Row
	for j, recs := range res {
		all = append(all, recs...)
		rows = append(rows, eval.Row{Name: adapter.Name() + " (continual)", Dataset: dss[j].Name(),
			Metrics: eval.ComputeMetrics(recs)})
	}
	if err == nil {
		fmt.Fprintf(stdout, "%s\n%d records in %s\n", eval.Table(rows).Markdown(), len(all), dir)
	}
	return streamOutcome(all, err, dir)
}

// streamOutcome is runOutcome for an online run, whose error records are not retried.
func streamOutcome(recs []*eval.Record, err error, out string) error {
	err = runOutcome(recs, err, out)
	if fe, ok := err.(*failuresError); ok {
		fe.where = fmt.Sprintf("records in %s; an online run does not retry them: each example has had its "+
			"place in the stream", out)
	}
	return err
}
