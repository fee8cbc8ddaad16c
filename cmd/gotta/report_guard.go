package main

import (
	"fmt"
	"sort"
	"strings"

	"github.com/gotta-ml/gotta/tta/report"
)

// checkOnly refuses a --only list that names a row the suite does not have (a usage error).
func checkOnly(s *report.Suite, only string) error {
	if only == "" {
		return nil
	}
	known := map[string]bool{}
	var ids []string
	for _, e := range s.Rows {
		known[e.ID] = true
		ids = append(ids, e.ID)
	}
	var unknown []string
	for _, id := range strings.Split(only, ",") {
		if id = strings.TrimSpace(id); !known[id] {
			unknown = append(unknown, fmt.Sprintf("%q", id))
		}
	}
	if len(unknown) > 0 {
		return usageErrorf("--only: unknown row(s) %s (the rows of suite %s: %s; see --list)",
			strings.Join(unknown, ", "), s.Name, strings.Join(ids, ", "))
	}
	return nil
}

// reportFailures returns a failuresError (exit code 3) listing the report's cells that failed (not those whose
// method or model is merely not available in this build) and those with failed examples.
func reportFailures(res *report.Results) error {
	var failed []string
	total := 0
	for _, byDS := range res.Cells {
		for _, c := range byDS {
			total++
			switch {
			case c.Err != nil && !c.NotAvailable():
				failed = append(failed, fmt.Sprintf("%s on %s: %v", c.Experiment.ID, c.Dataset, c.Err))
			case c.Err == nil:
				n, first := 0, ""
				for _, r := range c.Records {
					if r.Error != "" {
						if n++; n == 1 {
							first = r.Error
						}
					}
				}
				if n > 0 {
					failed = append(failed, fmt.Sprintf("%s on %s: %d of %d examples failed (e.g. %s)",
						c.Experiment.ID, c.Dataset, n, len(c.Records), first))
				}
			}
		}
	}
	if len(failed) == 0 {
		return nil
	}
	sort.Strings(failed)
	return &failuresError{what: "report cells", total: total, failures: failed,
		where: "a rerun computes them again"}
}
