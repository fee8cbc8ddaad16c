package main

import (
	"fmt"
	"os"

	"github.com/gotta-ml/gotta/tta/eval"
)

func init() {
	register("merge", "join the shards of a gotta eval run into one records file", runMerge)
}

func runMerge(args []string) error {
	fs := newFlags("merge", "--out OUT SHARD.jsonl...", `Joins the JSON-lines shards of one gotta eval run (--shard i/n) into OUT, sorted by example index.
The shards must hold records of the same run (method, config, dataset, seed); an example present twice with
different results is an error. Prints the summary table of the merged records.`)
	out := fs.String("out", "", "the merged records file (required)")
	shards, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if *out == "" || len(shards) == 0 {
		return fmt.Errorf("need --out and at least one shard")
	}
	recs, err := eval.Merge(*out, shards...)
	if err != nil {
		return err
	}
	if len(recs) == 0 {
		return fmt.Errorf("the shards hold no records")
	}
	row := eval.Row{Name: recs[0].Method, Dataset: recs[0].Dataset, Metrics: eval.ComputeMetrics(recs)}
	fmt.Fprintf(os.Stdout, "%s\n%d records in %s\n", eval.Table([]eval.Row{row}).Markdown(), len(recs), *out)
	return nil
}
