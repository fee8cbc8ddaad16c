package main

import (
	"context"
	"fmt"
	"os"

	"github.com/gotta-ml/gotta/storage"
	"github.com/gotta-ml/gotta/tta/eval"
)

func init() {
	register("merge", "join the shards of a gotta eval run into one records file", runMerge)
}

func runMerge(args []string) error {
	fs := newFlags("merge", "--out OUT [--upload URL] SHARD.jsonl|URL...", `Joins the JSON-lines shards of one gotta eval run (--shard i/n or auto) into OUT, sorted by example index.
The shards must hold records of the same run (method, config, dataset, seed); an example present twice with
different results is an error. Prints the summary table of the merged records.

A shard may be a storage URL (s3://BUCKET/KEY.jsonl, gs://..., azblob://...); a URL ending with "/" stands for
every .jsonl object directly under it (e.g. the --upload folder of the shards). Remote shards are copied to
$GOTTA_HOME/cache/storage first. --upload URL copies OUT there once it is written.`)
	out := fs.String("out", "", "the merged records file (required)")
	upload := fs.String("upload", "", "storage URL OUT is copied to (a folder URL ending with / keeps its name)")
	shards, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if *out == "" || len(shards) == 0 {
		return fmt.Errorf("need --out and at least one shard")
	}
	if err := checkUploadURL(*upload); err != nil {
		return err
	}
	var local []string
	for _, s := range shards {
		if !storage.IsURL(s) {
			local = append(local, s)
			continue
		}
		urls := []string{s}
		if l, err := storage.Parse(s); err == nil && (l.Dir || l.Key == "") {
			if urls, err = storage.List(context.Background(), s, ".jsonl"); err != nil {
				return err
			}
		}
		for _, u := range urls {
			p, err := localFile("shard", u)
			if err != nil {
				return err
			}
			local = append(local, p)
		}
	}
	recs, err := eval.Merge(*out, local...)
	if err != nil {
		return err
	}
	if len(recs) == 0 {
		return fmt.Errorf("the shards hold no records")
	}
	row := eval.Row{Name: recs[0].Method, Dataset: recs[0].Dataset, Metrics: eval.ComputeMetrics(recs)}
	fmt.Fprintf(os.Stdout, "%s\n%d records in %s\n", eval.Table([]eval.Row{row}).Markdown(), len(recs), *out)
	if *upload != "" {
		return uploadRecords(os.Stdout, *out, *upload)
	}
	return nil
}
