package eval

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/gotta-ml/gotta/datasets"
)

// runIndices are the dataset indices a run evaluates before sharding: Options.Indices, else the first Limit (all
// when Limit is 0).
func runIndices(ds datasets.Dataset, opts Options) []int {
	if opts.Indices != nil {
		return opts.Indices
	}
	n := ds.Len()
	if opts.Limit > 0 && opts.Limit < n {
		n = opts.Limit
	}
	indices := make([]int, n)
	for i := range indices {
		indices[i] = i
	}
	return indices
}

// openRecords prepares out for a run of proto over ds: it refuses a path that is not a regular file, makes its
// folder, takes its lock, drops an unfinished last line and returns the records already there. Records of another
// run than proto, or of other data than ds now is, are an error. unlock releases the lock.
func openRecords(out string, proto *Record, ds datasets.Dataset) (recs []*Record, unlock func(), err error) {
	if err := checkOut(out); err != nil {
		return nil, nil, err
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return nil, nil, fmt.Errorf("eval: %w", err)
	}
	unlock, err = lockFile(out)
	if err != nil {
		return nil, nil, err
	}
	if _, err := os.Stat(out); err != nil {
		return nil, unlock, nil
	}
	recs, validEnd, err := ReadRecords(out)
	if err == nil {
		if err = os.Truncate(out, validEnd); err != nil {
			err = fmt.Errorf("eval: dropping the unfinished last line of %s: %w", out, err)
		}
	}
	for _, r := range recs {
		if err != nil {
			break
		}
		if !r.sameRun(proto) {
			err = fmt.Errorf("eval: %s holds records of another run (%s); this run is %s: use another --out", out,
				r.describeRun(), proto.describeRun())
		} else {
			err = checkResumable(out, r, ds, proto.Data)
		}
	}
	if err != nil {
		unlock()
		return nil, nil, err
	}
	return recs, unlock, nil
}

// checkOut refuses an output path that exists and is not a regular file (a device such as /dev/stdout, a folder, a
// FIFO, a socket).
func checkOut(out string) error {
	st, err := os.Stat(out)
	if err != nil {
		return nil
	}
	kind := ""
	switch m := st.Mode(); {
	case m.IsRegular():
		return nil
	case m.IsDir():
		kind = "a folder"
	case m&os.ModeNamedPipe != 0:
		kind = "a FIFO"
	case m&os.ModeSocket != 0:
		kind = "a socket"
	case m&os.ModeDevice != 0:
		kind = "a device"
	default:
		kind = "not a regular file"
	}
	return fmt.Errorf("eval: records file %s is %s: want a regular file or a new path", out, kind)
}

// checkResumable says whether record r of file out describes ds as it is now (data, the identity of this run's
// data): same data identity (when r has one), an index in range, and the same example at r's index.
func checkResumable(out string, r *Record, ds datasets.Dataset, data *DataIdentity) error {
	refuse := func(what string) error {
		return fmt.Errorf("eval: %s holds records of other data than %s now is: %s. Its records would no longer "+
			"describe the examples at their indices; use another --out, or delete %s to start over", out,
			ds.Name(), what, out)
	}
	if r.Data != nil && data != nil && *r.Data != *data {
		return refuse(r.Data.Diff(*data))
	}
	if r.Index < 0 || r.Index >= ds.Len() {
		return refuse(fmt.Sprintf("index %d (%s) is past the dataset's %d examples", r.Index, r.ExampleID, ds.Len()))
	}
	if r.ExampleID != "" {
		if id := exampleKey(ds, r.Index); id != r.ExampleID {
			return refuse(fmt.Sprintf("index %d was example %q, it is now %q", r.Index, r.ExampleID, id))
		}
	}
	return nil
}
