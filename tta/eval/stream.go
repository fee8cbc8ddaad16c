package eval

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/gotta-ml/gotta/datasets"
	"github.com/gotta-ml/gotta/tta"
)

// StreamPart is one dataset of a continual stream (RunStream) and the file its records go to.
type StreamPart struct {
	// Dataset is the part's data; Out its records file (as Options.Out).
	Dataset datasets.Dataset
	Out     string
	// Limit, when > 0, streams only the first Limit examples of Dataset.
	Limit int
}

// RunStream evaluates an online adapter over several datasets as one continual stream: ResetStream once at the
// start, then every part's examples in Options.Order, the parts in the order given, each part's records in its own
// file. It returns each part's records (resumed ones included) sorted by index. Options.Out, Limit and Indices are
// not used (the parts say them), and neither are Workers and NumShards (a stream runs on one adapter; sharding is
// refused).
//
// The records are those of a stream per dataset (Run) but for two things: each record's StreamPos counts from the
// start of the whole stream, and its Stream lists the datasets before its own. A rerun resumes as Run does: a part
// whose records are complete is restored from its saved end state or replayed, and the stream goes on from the
// first missing record.
func RunStream(parts []StreamPart, adapter tta.Online, vm tta.ViewMaker, opts Options) ([][]*Record, error) {
	if len(parts) == 0 {
		return nil, fmt.Errorf("eval: RunStream needs at least one part")
	}
	if opts.Out != "" || opts.Limit != 0 || opts.Indices != nil {
		return nil, fmt.Errorf("eval: RunStream takes each part's records file and limit from its StreamPart, " +
			"not from Options.Out, Limit or Indices")
	}
	if err := refuseShards(adapter, opts); err != nil {
		return nil, err
	}
	var sps []*streamPart
	for _, p := range parts {
		o := opts
		o.Limit = p.Limit
		sps = append(sps, &streamPart{ds: p.Dataset, out: p.Out, indices: runIndices(p.Dataset, o),
			proto: newProto(p.Dataset, adapter, vm, opts.Seed)})
	}
	return runStream(sps, adapter, vm, opts)
}

// runOnline is Run for an online adapter: a stream over ds alone.
func runOnline(ds datasets.Dataset, adapter tta.Online, vm tta.ViewMaker, proto *Record, opts Options) ([]*Record,
	error) {
	if err := refuseShards(adapter, opts); err != nil {
		return nil, err
	}
	recs, err := runStream([]*streamPart{{ds: ds, out: opts.Out, indices: runIndices(ds, opts), proto: proto}},
		adapter, vm, opts)
	if len(recs) == 0 {
		return nil, err
	}
	return recs[0], err
}

func refuseShards(adapter tta.Adapter, opts Options) error {
	if opts.NumShards > 1 {
		return fmt.Errorf("eval: method %s is online (its state carries between examples): sharding (%d shards) is "+
			"refused; run it unsharded", adapter.Name(), opts.NumShards)
	}
	return nil
}

// newProto is the part of every record of adapter's run over ds that does not depend on the example.
func newProto(ds datasets.Dataset, adapter tta.Adapter, vm tta.ViewMaker, seed int64) *Record {
	// The configuration as it reads back from JSON, so in-memory and resumed records compare equal.
	cfg, _ := normalise(adapter.Config()).(map[string]any)
	data := Identify(ds)
	proto := &Record{Method: adapter.Name(), Config: cfg, Dataset: ds.Name(), Data: &data, Seed: seed}
	if vc, ok := vm.(tta.ViewConfigurer); ok {
		proto.Views, _ = normalise(vc.ViewConfig()).(map[string]any)
	}
	return proto
}

// streamPart is one dataset of a stream being run.
type streamPart struct {
	ds      datasets.Dataset
	out     string
	indices []int // the indices streamed, before ordering
	proto   *Record
	order   []int           // dataset indices in stream order
	start   int             // stream position of order[0]
	have    map[int]*Record // records found in out, by index
	f       *os.File        // out, opened for appending once a record is written
}

// recordedPrefix returns how many of the part's first examples in stream order have records, checking that the
// records are a prefix of the stream at their recorded positions.
func (p *streamPart) recordedPrefix() (int, error) {
	n := len(p.order)
	for t, i := range p.order {
		r := p.have[i]
		switch {
		case r == nil:
			if n == len(p.order) {
				n = t
			}
		case n < len(p.order):
			return 0, fmt.Errorf("eval: %s holds the record of stream position %d (example %d, %s) but not that of "+
				"position %d: its records are not a prefix of the stream; delete it to start over", p.out, p.start+t,
				i, r.ExampleID, p.start+n)
		case r.StreamPos == nil || *r.StreamPos != p.start+t:
			was := "none"
			if r.StreamPos != nil {
				was = fmt.Sprint(*r.StreamPos)
			}
			return 0, fmt.Errorf("eval: %s: example %d (%s) was at stream position %s, it is now at %d (other "+
				"examples than before: another limit?): use another --out", p.out, i, r.ExampleID, was, p.start+t)
		}
	}
	return n, nil
}

// runStream runs the stream of parts on adapter (see Run, RunStream).
func runStream(parts []*streamPart, adapter tta.Online, vm tta.ViewMaker, opts Options) (res [][]*Record,
	err error) {
	order, seed := opts.Order, opts.OrderSeed
	switch order {
	case "", OrderIndex:
		order, seed = OrderIndex, 0
	case OrderShuffle:
	default:
		return nil, fmt.Errorf("eval: stream order %q: want %q or %q", order, OrderIndex, OrderShuffle)
	}
	// Each part's order and stream identity, then the records already written.
	var before []StreamBefore
	var protos []*Record
	total := 0
	for j, p := range parts {
		for _, q := range parts[:j] {
			if filepath.Clean(q.out) == filepath.Clean(p.out) {
				return nil, fmt.Errorf("eval: %s is the records file of two datasets of the stream", p.out)
			}
		}
		p.proto.Stream = &StreamID{Order: order, OrderSeed: seed, Before: slices.Clone(before)}
		p.order, p.start = streamOrder(p.indices, order, seed, j), total
		total += len(p.order)
		before = append(before, StreamBefore{Dataset: p.ds.Name(), Examples: len(p.order), Data: dataDigest(*p.proto.Data)})
		protos = append(protos, p.proto)
	}
	var recorded []*Record // the records of the stream's first positions
	for _, p := range parts {
		if p.out == "" {
			return nil, fmt.Errorf("eval: the records file of %s is not set", p.ds.Name())
		}
		recs, unlock, err := openRecords(p.out, p.proto, p.ds)
		if err != nil {
			return nil, err
		}
		defer unlock()
		p.have = map[int]*Record{}
		for _, r := range recs {
			p.have[r.Index] = r
		}
		n, err := p.recordedPrefix()
		if err != nil {
			return nil, err
		}
		if n > 0 && len(recorded) < p.start {
			return nil, fmt.Errorf("eval: %s holds records, but the stream's records before its dataset are not "+
				"complete (%d of %d): delete it to start over", p.out, len(recorded), p.start)
		}
		for _, i := range p.order[:n] {
			recorded = append(recorded, p.have[i])
		}
	}
	defer func() {
		for _, p := range parts {
			if p.f != nil {
				if cerr := p.f.Close(); cerr != nil && err == nil {
					err = fmt.Errorf("eval: writing %s: %w", p.out, cerr)
				}
			}
		}
		if rerr := adapter.Reset(); rerr != nil && err == nil {
			err = fmt.Errorf("eval: resetting %s after the run: %w", adapter.Name(), rerr)
		}
	}()
	s := &streamRun{parts: parts, adapter: adapter, vm: vm, opts: opts, runID: streamRunID(protos),
		recorded: recorded, total: total}
	err = s.run()
	for _, p := range parts {
		var recs []*Record
		for _, i := range p.order {
			if r := p.have[i]; r != nil {
				recs = append(recs, r)
			}
		}
		sortRecords(recs)
		res = append(res, recs)
	}
	return res, err
}

// write appends r to the part's records file.
func (p *streamPart) write(r *Record) error {
	if p.f == nil {
		f, err := os.OpenFile(p.out, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return fmt.Errorf("eval: %w", err)
		}
		p.f = f
	}
	line, err := encodeRecord(r)
	if err != nil {
		return fmt.Errorf("eval: encoding the record of %s example %d: %w", p.ds.Name(), r.Index, err)
	}
	if _, err := p.f.Write(append(line, '\n')); err != nil {
		return fmt.Errorf("eval: writing %s: %w", p.out, err)
	}
	return nil
}
