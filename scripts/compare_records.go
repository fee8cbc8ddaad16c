//go:build ignore

// compare_records compares two records folders (gotta report --results) record by record: every record of the
// first folder, matched by its cell file (row key and dataset) and index, must be in the second with every field
// equal, except the timing ("seconds"). Floats are compared exactly; the largest difference of each field is
// printed. It exits 1 when a record is missing or differs, 0 otherwise.
//
// Usage: go run scripts/compare_records.go BASE_DIR NEW_DIR
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
)

// ignored are the fields that legitimately differ between two runs of the same computation.
var ignored = map[string]bool{"seconds": true}

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: go run scripts/compare_records.go BASE_DIR NEW_DIR")
		os.Exit(2)
	}
	base, cur := os.Args[1], os.Args[2]
	var files []string
	err := filepath.WalkDir(base, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(p, ".jsonl") {
			rel, _ := filepath.Rel(base, p)
			files = append(files, rel)
		}
		return nil
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "compare_records:", err)
		os.Exit(2)
	}
	sort.Strings(files)
	records, missing, differing := 0, 0, 0
	maxDiff := map[string]float64{}
	predChanged := 0
	for _, rel := range files {
		a, err := read(filepath.Join(base, rel))
		if err != nil {
			fmt.Fprintln(os.Stderr, "compare_records:", err)
			os.Exit(2)
		}
		b, err := read(filepath.Join(cur, rel))
		if err != nil {
			fmt.Printf("%s: missing in %s (%v)\n", rel, cur, err)
			missing += len(a)
			continue
		}
		for idx, ra := range a {
			records++
			rb, ok := b[idx]
			if !ok {
				fmt.Printf("%s index %v: missing in %s\n", rel, idx, cur)
				missing++
				continue
			}
			var diffs []string
			for _, k := range keys(ra, rb) {
				if ignored[k] {
					continue
				}
				if !reflect.DeepEqual(ra[k], rb[k]) {
					d := numDiff(ra[k], rb[k])
					maxDiff[k] = math.Max(maxDiff[k], d)
					diffs = append(diffs, fmt.Sprintf("%s (max |diff| %.3g)", k, d))
				}
			}
			if len(diffs) > 0 {
				differing++
				if !reflect.DeepEqual(ra["prediction"], rb["prediction"]) {
					predChanged++
				}
				fmt.Printf("%s index %v differs: %s\n", rel, idx, strings.Join(diffs, ", "))
			}
		}
	}
	fmt.Printf("compared %d records of %d cell files: %d missing, %d differing (%d with another prediction)\n",
		records, len(files), missing, differing, predChanged)
	for k, d := range maxDiff {
		fmt.Printf("  field %s: largest difference %.3g\n", k, d)
	}
	if missing > 0 || differing > 0 {
		os.Exit(1)
	}
}

// read returns the records of a cell file by index.
func read(path string) (map[float64]map[string]any, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[float64]map[string]any{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<26)
	for line := 1; sc.Scan(); line++ {
		var r map[string]any
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return nil, fmt.Errorf("%s line %d: %w", path, line, err)
		}
		idx, ok := r["index"].(float64)
		if !ok {
			return nil, fmt.Errorf("%s line %d: no index", path, line)
		}
		out[idx] = r
	}
	return out, sc.Err()
}

func keys(a, b map[string]any) []string {
	set := map[string]bool{}
	for k := range a {
		set[k] = true
	}
	for k := range b {
		set[k] = true
	}
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// numDiff is the largest absolute difference between the numbers of a and b (walking arrays and objects), +Inf
// when their structure or a non-number differs.
func numDiff(a, b any) float64 {
	switch x := a.(type) {
	case float64:
		y, ok := b.(float64)
		if !ok {
			return math.Inf(1)
		}
		return math.Abs(x - y)
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return math.Inf(1)
		}
		d := 0.0
		for i := range x {
			d = math.Max(d, numDiff(x[i], y[i]))
		}
		return d
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok {
			return math.Inf(1)
		}
		d := 0.0
		for _, k := range keys(x, y) {
			d = math.Max(d, numDiff(x[k], y[k]))
		}
		return d
	}
	if reflect.DeepEqual(a, b) {
		return 0
	}
	return math.Inf(1)
}
