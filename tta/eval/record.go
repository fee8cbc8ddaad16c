// Package eval runs a test-time-adaptation method over a dataset and turns every example into a record.
//
// Each evaluated example becomes one JSON line (Record): the method and its full configuration, the dataset, the
// example's index and id, label, prediction, top-5, confidence, entropies before and after adaptation, the
// selected views, the adaptation steps, seconds, backend, device and seed. A rerun of the same run resumes where it
// stopped (records already written are kept, none is written twice); a run can be split into shards
// (Options.Shard) and the shard files joined with Merge; within a run, Options.Workers evaluate several examples at
// once, each worker with its own adapter (Options.NewWorker), and the records are written in index order, the same
// for any number of workers. Online methods (tta.Online) run as a stream instead (Run, RunStream): one example at a
// time in a fixed order, each record holding its stream position, and a rerun resumes from a saved state or by
// replaying the recorded examples. Metrics (top-1, top-5, ECE, NLL, entropy, time) and summary
// tables (Markdown, HTML, CSV) are computed from records only.
//
// The package never names a method: it takes any tta.Adapter with a tta.ViewMaker.
//
// Usage:
//
//	recs, err := eval.Run(ds, adapter, viewMaker, eval.Options{Out: "results/tpt.jsonl", Seed: 1})
//	m := eval.ComputeMetrics(recs)
//	fmt.Println(eval.Table([]eval.Row{{Name: "TPT", Metrics: m}}).Markdown())
package eval

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"reflect"
	"sort"
	"strings"

	"github.com/gotta-ml/gotta/tta"
)

// Record is one evaluated example.
type Record struct {
	// Method is the adapter's name; Config its full effective configuration.
	Method string         `json:"method"`
	Config map[string]any `json:"config"`
	// Views describes the views (tta.ViewConfigurer, e.g. augment.Views.Config: number, kind, preprocessing,
	// augmentation parameters); absent when the view maker does not describe itself.
	Views map[string]any `json:"views,omitempty"`
	// Dataset is the dataset's name; Data what identifies its data (absent in records written before it was
	// recorded); Index the example's index in it; ExampleID its stable id.
	Dataset   string        `json:"dataset"`
	Data      *DataIdentity `json:"data,omitempty"`
	Index     int           `json:"index"`
	ExampleID string        `json:"example_id"`
	// StreamPos is the example's position in its stream, from 0, and Stream what identifies the stream, for the
	// records of online methods (tta.Online); both absent for episodic methods.
	StreamPos *int      `json:"stream_pos,omitempty"`
	Stream    *StreamID `json:"stream,omitempty"`
	// Label is the true class; Prediction the predicted class; Top5 the five highest-scoring classes.
	Label      int   `json:"label"`
	Prediction int   `json:"prediction"`
	Top5       []int `json:"top5"`
	Correct    bool  `json:"correct"`
	// Confidence is the softmax probability of the prediction; LabelLogProb the log-probability of the label.
	Confidence   float64 `json:"confidence"`
	LabelLogProb float64 `json:"label_log_prob"`
	// EntropyBefore is the marginal entropy of the views before adaptation; EntropyAfter the entropy of the final
	// prediction.
	EntropyBefore Float `json:"entropy_before"`
	EntropyAfter  Float `json:"entropy_after"`
	// Selected are the views used, in ascending-entropy order; Steps the adaptation steps.
	Selected []int            `json:"selected,omitempty"`
	Steps    []tta.StepReport `json:"steps,omitempty"`
	// Seconds is the wall time of views + adaptation + prediction for this example.
	Seconds float64 `json:"seconds"`
	// Backend and Device say where it ran; Seed is the run's seed (views derive from seed and ExampleID).
	Backend string `json:"backend"`
	Device  string `json:"device"`
	Seed    int64  `json:"seed"`
	// Error is set when the example could not be evaluated (e.g. an unreadable image); such records count in no
	// metric but the error count.
	Error string `json:"error,omitempty"`
}

// sameRun says whether r and o belong to one run: method, configuration, dataset, seed, stream and views (compared
// when both records describe them: records written before views were recorded still resume).
func (r *Record) sameRun(o *Record) bool {
	return r.Method == o.Method && r.Dataset == o.Dataset && r.Seed == o.Seed && sameConfig(r.Config, o.Config) &&
		(r.Views == nil || o.Views == nil || sameConfig(r.Views, o.Views)) && reflect.DeepEqual(r.Stream, o.Stream)
}

// describeRun says in words what sameRun compares.
func (r *Record) describeRun() string {
	s := fmt.Sprintf("%s on %s, seed %d, config %v, views %v", r.Method, r.Dataset, r.Seed, r.Config, r.Views)
	if r.Stream != nil {
		s += ", stream " + r.Stream.String()
	}
	return s
}

// sameConfig compares configurations after a JSON round trip (numbers as float64).
func sameConfig(a, b map[string]any) bool {
	return reflect.DeepEqual(normalise(a), normalise(b))
}

// normalise is JSONSafe: m as it reads back from JSON (numbers as float64, non-finite numbers as strings).
func normalise(m map[string]any) any {
	if m == nil {
		return nil
	}
	return JSONSafe(m)
}

// FillPrediction sets Prediction, Top5, Correct, Confidence, LabelLogProb and EntropyAfter from logits.
func (r *Record) FillPrediction(logits []float32) {
	lp := tta.LogSoftmaxHost(logits)
	idx := make([]int, len(lp))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return lp[idx[a]] > lp[idx[b]] })
	r.Prediction = idx[0]
	r.Top5 = append([]int(nil), idx[:min(5, len(idx))]...)
	r.Correct = r.Prediction == r.Label
	r.Confidence = exp(lp[idx[0]])
	if r.Label >= 0 && r.Label < len(lp) {
		r.LabelLogProb = lp[r.Label]
	}
	h := 0.0
	for _, v := range lp {
		h -= exp(v) * v
	}
	r.EntropyAfter = Float(h)
}

// Float is a float64 that is written to JSON as null when it is NaN or infinite (JSON has no NaN), and read back
// from null as NaN.
type Float float64

// MarshalJSON implements json.Marshaler.
func (f Float) MarshalJSON() ([]byte, error) {
	if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
		return []byte("null"), nil
	}
	return json.Marshal(float64(f))
}

// UnmarshalJSON implements json.Unmarshaler.
func (f *Float) UnmarshalJSON(data []byte) error {
	if string(data) == "null" {
		*f = Float(math.NaN())
		return nil
	}
	var v float64
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	*f = Float(v)
	return nil
}

// ReadRecords reads a JSON-lines file of records. A last line cut short (a run killed while writing) is
// ignored and its byte offset returned as validEnd, so the caller can truncate it; any other bad line is an
// error naming the file and line. An index present more than once (an error record retried by a later run, whose
// record is appended) is read as its last record, at the place of its first: the last record of an index wins, so
// no reader counts an example twice.
func ReadRecords(path string) (recs []*Record, validEnd int64, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	data, err := io.ReadAll(f)
	if err != nil {
		return nil, 0, fmt.Errorf("eval: reading %s: %w", path, err)
	}
	line := 0
	at := map[int]int{} // index -> position in recs
	for off := 0; off < len(data); {
		nl := bytes.IndexByte(data[off:], '\n')
		if nl < 0 { // no newline: an unfinished last line.
			return recs, int64(off), nil
		}
		line++
		text := bytes.TrimSpace(data[off : off+nl])
		if len(text) > 0 {
			var r Record
			if err := json.Unmarshal(text, &r); err != nil {
				return nil, 0, fmt.Errorf("eval: %s line %d: %w", path, line, err)
			}
			if k, dup := at[r.Index]; dup {
				recs[k] = &r
			} else {
				at[r.Index] = len(recs)
				recs = append(recs, &r)
			}
		}
		off += nl + 1
		validEnd = int64(off)
	}
	return recs, validEnd, nil
}

// WriteRecords writes records as JSON lines, sorted by index.
func WriteRecords(path string, recs []*Record) error {
	sorted := append([]*Record(nil), recs...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Index < sorted[j].Index })
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("eval: %w", err)
	}
	w := bufio.NewWriter(f)
	for _, r := range sorted {
		line, err := encodeRecord(r)
		if err == nil {
			_, err = w.Write(append(line, '\n'))
		}
		if err != nil {
			f.Close()
			return fmt.Errorf("eval: writing %s: %w", path, err)
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("eval: writing %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("eval: writing %s: %w", path, err)
	}
	return os.Rename(tmp, path)
}

// encodeRecord is json.Marshal(r), never failing on a non-finite number: when r holds one outside its Float
// fields (a step's loss, a configuration value), the record written is an error record naming the value, with the
// configuration made JSON-safe (JSONSafe) and the steps dropped.
func encodeRecord(r *Record) ([]byte, error) {
	line, err := json.Marshal(r)
	if err == nil {
		return line, nil
	}
	c := *r
	c.Config, _ = JSONSafe(r.Config).(map[string]any)
	c.Views, _ = JSONSafe(r.Views).(map[string]any)
	var bad []string
	for _, s := range r.Steps {
		if !finite(s.Loss) {
			bad = append(bad, fmt.Sprintf("step %d loss is %v", s.Step, s.Loss))
		}
	}
	c.Steps = nil
	for _, f := range []struct {
		name string
		v    *float64
	}{{"confidence", &c.Confidence}, {"label log-probability", &c.LabelLogProb}} {
		if !finite(*f.v) {
			bad = append(bad, fmt.Sprintf("%s is %v", f.name, *f.v))
			*f.v = 0
		}
	}
	if len(bad) > 0 && c.Error == "" {
		c.Error = fmt.Sprintf("%s example %d (%s): %s", c.Dataset, c.Index, c.ExampleID, strings.Join(bad, "; "))
		c.Correct = false
	}
	return json.Marshal(&c)
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

// Merge joins shard files of one run into out, sorted by index. Records must all belong to the same run
// (method, config, dataset, seed); an index present twice with different predictions is an error, the same
// record twice is kept once.
func Merge(out string, shards ...string) ([]*Record, error) {
	byIndex := map[int]*Record{}
	var first *Record
	for _, path := range shards {
		recs, _, err := ReadRecords(path)
		if err != nil {
			return nil, err
		}
		for _, r := range recs {
			if first == nil {
				first = r
			} else if !r.sameRun(first) {
				return nil, fmt.Errorf("eval: merge: %s index %d belongs to another run (%s on %s, seed %d) than %s on %s, seed %d",
					path, r.Index, r.Method, r.Dataset, r.Seed, first.Method, first.Dataset, first.Seed)
			} else if r.Data != nil && first.Data != nil && *r.Data != *first.Data {
				return nil, fmt.Errorf("eval: merge: %s index %d was computed on other data than the first shard's: %s",
					path, r.Index, first.Data.Diff(*r.Data))
			}
			if first.Data == nil && r.Data != nil {
				first = r
			}
			if old, dup := byIndex[r.Index]; dup {
				if old.Prediction != r.Prediction || old.ExampleID != r.ExampleID || old.Error != r.Error {
					return nil, fmt.Errorf("eval: merge: index %d (%s) appears twice with different results (in %s)",
						r.Index, r.ExampleID, path)
				}
				continue
			}
			byIndex[r.Index] = r
		}
	}
	recs := make([]*Record, 0, len(byIndex))
	for _, r := range byIndex {
		recs = append(recs, r)
	}
	sort.Slice(recs, func(i, j int) bool { return recs[i].Index < recs[j].Index })
	if out != "" {
		if err := WriteRecords(out, recs); err != nil {
			return nil, err
		}
	}
	return recs, nil
}
