package eval

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gotta-ml/gotta/datasets"
	"github.com/gotta-ml/gotta/tta"
)

// memoryAdapter is a toy online method: a decaying memory of the classes it predicted, taken from each example's
// logits, so every prediction depends on all the examples before it in the stream. The memory is updated after the
// prediction.
type memoryAdapter struct {
	mem                     [6]float64
	adapts, resets, streams int
	// biased favours class 5 whatever the example: a stand-in for a method that is not deterministic.
	biased bool
	// onAdapt, when set, is called after each Adapt with the number of Adapt calls so far.
	onAdapt func(n int)
}

func (a *memoryAdapter) Name() string           { return "memory" }
func (a *memoryAdapter) Config() map[string]any { return map[string]any{"weight": 0.4} }
func (a *memoryAdapter) Reset() error           { a.resets++; return nil }
func (a *memoryAdapter) ResetStream() error     { a.mem = [6]float64{}; a.streams++; return nil }
func (a *memoryAdapter) Adapt(v *tta.Views) (*tta.Prediction, error) {
	a.adapts++
	var i int
	fmt.Sscanf(v.ExampleID, "ex%03d", &i)
	logits := make([]float32, 6)
	logits[i%6] += 1
	logits[(5*i+1)%6] += 0.95
	for c := range logits {
		logits[c] -= float32(0.4 * a.mem[c])
	}
	if a.biased {
		logits[5] += 100
	}
	pred := 0
	for c := range logits {
		if logits[c] > logits[pred] {
			pred = c
		}
	}
	for c := range a.mem {
		a.mem[c] *= 0.5
	}
	a.mem[pred]++
	if a.onAdapt != nil {
		a.onAdapt(a.adapts)
	}
	return &tta.Prediction{Logits: logits}, nil
}

// staterAdapter is memoryAdapter saving and restoring its memory (tta.StreamStater).
type staterAdapter struct {
	*memoryAdapter
	saves, restores int
}

func (s *staterAdapter) SaveStream() ([]byte, error) { s.saves++; return json.Marshal(s.mem) }
func (s *staterAdapter) RestoreStream(b []byte) error {
	s.restores++
	return json.Unmarshal(b, &s.mem)
}

// namedDataset is memDataset under another name.
type namedDataset struct {
	memDataset
	name string
}

func (d namedDataset) Name() string { return d.name }

func predictions(recs []*Record) []int {
	var p []int
	for _, r := range recs {
		p = append(p, r.Prediction)
	}
	return p
}

// interruptAt returns options whose Context is cancelled once k examples are done; hook, when set, sees every
// progress.
func interruptAt(k int, opts Options, hook func(Progress)) Options {
	ctx, cancel := context.WithCancel(context.Background())
	opts.Context = ctx
	opts.Progress = func(p Progress) {
		if hook != nil {
			hook(p)
		}
		if p.Done == k {
			cancel()
		}
	}
	return opts
}

func TestStreamOrder(t *testing.T) {
	dir := t.TempDir()
	ds := memDataset{n: 20, bad: 7}
	a := &memoryAdapter{}
	recs, err := Run(ds, a, fakeViews{}, Options{Out: filepath.Join(dir, "index.jsonl"), Workers: 4})
	require.NoError(t, err)
	require.Len(t, recs, 20)
	assert.Equal(t, 1, a.streams)
	assert.Equal(t, 19, a.adapts, "one adapter, every readable example once")
	for i, r := range recs {
		require.NotNil(t, r.StreamPos)
		assert.Equal(t, i, *r.StreamPos, "index order")
		assert.Equal(t, &StreamID{Order: OrderIndex}, r.Stream)
	}
	assert.Contains(t, recs[7].Error, "bad.jpg")

	shuffled := func(seed int64) []*Record {
		out := filepath.Join(dir, fmt.Sprintf("shuffle%d.jsonl", seed))
		recs, err := Run(ds, &memoryAdapter{}, fakeViews{}, Options{Out: out, Order: OrderShuffle, OrderSeed: seed})
		require.NoError(t, err)
		return recs
	}
	s1, s2 := shuffled(1), shuffled(2)
	pos := func(recs []*Record) []int {
		var p []int
		for i, r := range recs {
			require.Equal(t, i, r.Index, "records sorted by index")
			p = append(p, *r.StreamPos)
		}
		return p
	}
	p1, p2 := pos(s1), pos(s2)
	assert.ElementsMatch(t, pos(recs), p1, "a shuffle is a permutation of the positions")
	assert.NotEqual(t, pos(recs), p1)
	assert.NotEqual(t, p1, p2, "another order seed, another order")
	assert.Equal(t, p1, pos(shuffled(1)), "the same seed, the same order")
	assert.Equal(t, int64(1), s1[0].Stream.OrderSeed)
	assert.NotEqual(t, predictions(recs), predictions(s1), "the predictions depend on the order")

	// A stream file resumed in another order is another run.
	_, err = Run(ds, &memoryAdapter{}, fakeViews{}, Options{Out: filepath.Join(dir, "index.jsonl"),
		Order: OrderShuffle, OrderSeed: 1})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "another run")
	_, err = Run(ds, &memoryAdapter{}, fakeViews{}, Options{Out: filepath.Join(dir, "x.jsonl"), Order: "random"})
	require.ErrorContains(t, err, `stream order "random"`)

	// Episodic records carry no stream fields.
	plain := filepath.Join(dir, "plain.jsonl")
	_, err = Run(ds, &fakeAdapter{}, fakeViews{}, Options{Out: plain, Limit: 2})
	require.NoError(t, err)
	data, err := os.ReadFile(plain)
	require.NoError(t, err)
	assert.NotContains(t, string(data), "stream")
}

// TestStreamResume: a run interrupted halfway and rerun ends with the records of an uninterrupted run, with and
// without a saved state, from a state saved before the interruption, and from a state past a truncated records file.
func TestStreamResume(t *testing.T) {
	ds := memDataset{n: 20, bad: 7}
	for _, order := range []string{OrderIndex, OrderShuffle} {
		dir := t.TempDir()
		base := Options{Order: order, OrderSeed: 4, StateEvery: 3}
		full := base
		full.Out = filepath.Join(dir, "full.jsonl")
		want, err := Run(ds, &memoryAdapter{}, fakeViews{}, full)
		require.NoError(t, err)

		var at6 []byte
		resume := func(name string, stater bool, between func(out string)) (*memoryAdapter, *staterAdapter, string) {
			t.Helper()
			opts := base
			opts.Out = filepath.Join(dir, name+".jsonl")
			mk := func() (tta.Online, *memoryAdapter, *staterAdapter) {
				m := &memoryAdapter{}
				if stater {
					s := &staterAdapter{memoryAdapter: m}
					return s, m, s
				}
				return m, m, nil
			}
			a, _, _ := mk()
			_, err := Run(ds, a, fakeViews{}, interruptAt(8, opts, func(p Progress) {
				if p.Done == 7 && stater { // The state saved after 6 examples.
					var err error
					at6, err = os.ReadFile(opts.Out + ".state")
					require.NoError(t, err)
				}
			}))
			require.ErrorIs(t, err, ErrInterrupted)
			if between != nil {
				between(opts.Out)
			}
			a, m, s := mk()
			var term bytes.Buffer
			opts.Terminal = &term
			got, err := Run(ds, a, fakeViews{}, opts)
			require.NoError(t, err, name)
			assert.Equal(t, stripSeconds(want), stripSeconds(got), "%s (%s order)", name, order)
			onDisk, _, err := ReadRecords(opts.Out)
			require.NoError(t, err)
			slices.SortFunc(onDisk, func(a, b *Record) int { return a.Index - b.Index })
			assert.Equal(t, stripSeconds(want), stripSeconds(onDisk), "%s: none lost, none twice", name)
			return m, s, term.String()
		}
		readable := func(from, to int) int { // readable examples at positions from..to-1 (example 7 is not)
			n := 0
			for _, r := range want {
				if *r.StreamPos >= from && *r.StreamPos < to && r.Error == "" {
					n++
				}
			}
			return n
		}

		m, _, term := resume("replay", false, nil)
		assert.Equal(t, readable(0, 20), m.adapts, "without a saved state the 8 recorded examples are replayed")
		assert.Contains(t, term, "replaying the 8 recorded examples")

		m, s, term := resume("state", true, nil)
		assert.Equal(t, 1, s.restores)
		assert.Equal(t, readable(8, 20), m.adapts, "the state saved when the run stopped is restored")
		assert.Contains(t, term, "restored the stream state at position 8")

		m, _, _ = resume("older", true, func(out string) {
			hd, _, err := readState(out + ".state")
			require.NoError(t, err)
			assert.Equal(t, 8, hd.Pos)
			require.NoError(t, os.WriteFile(out+".state", at6, 0o644))
		})
		assert.Equal(t, readable(6, 20), m.adapts, "a state saved at 6 is restored, 6 and 7 replayed")

		m, _, term = resume("truncated", true, func(out string) {
			data, err := os.ReadFile(out)
			require.NoError(t, err)
			lines := strings.SplitAfter(string(data), "\n")
			require.NoError(t, os.WriteFile(out, []byte(strings.Join(lines[:5], "")), 0o644))
		})
		assert.Equal(t, readable(0, 20), m.adapts, "a state past the records is not used: 5 examples replayed")
		assert.Contains(t, term, "past the 5 records")
	}
}

func TestStreamReplayDiverged(t *testing.T) {
	dir := t.TempDir()
	ds := memDataset{n: 12, bad: -1}
	out := filepath.Join(dir, "d.jsonl")
	_, err := Run(ds, &memoryAdapter{}, fakeViews{}, interruptAt(5, Options{Out: out}, nil))
	require.ErrorIs(t, err, ErrInterrupted)
	before, err := os.ReadFile(out)
	require.NoError(t, err)
	recs, _, err := ReadRecords(out)
	require.NoError(t, err)
	_, err = Run(ds, &memoryAdapter{biased: true}, fakeViews{}, Options{Out: out})
	require.Error(t, err)
	assert.Contains(t, err.Error(), fmt.Sprintf("replay diverged at stream position 0 (example 0, ex000 of mem): "+
		"recorded class %d, now 5", recs[0].Prediction))
	after, err := os.ReadFile(out)
	require.NoError(t, err)
	assert.Equal(t, before, after, "nothing written after a divergence")
}

func TestStreamShardsRefused(t *testing.T) {
	_, err := Run(memDataset{n: 4, bad: -1}, &memoryAdapter{}, fakeViews{},
		Options{Out: filepath.Join(t.TempDir(), "s.jsonl"), Shard: 1, NumShards: 2})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "method memory is online (its state carries between examples)")
	assert.Contains(t, err.Error(), "run it unsharded")
}

// concatDataset is its parts one after the other.
type concatDataset []datasets.Dataset

func (c concatDataset) Name() string      { return "concat" }
func (c concatDataset) Classes() []string { return c[0].Classes() }
func (c concatDataset) Len() int {
	n := 0
	for _, d := range c {
		n += d.Len()
	}
	return n
}
func (c concatDataset) Example(i int) (datasets.Example, error) {
	for _, d := range c {
		if i < d.Len() {
			return d.Example(i)
		}
		i -= d.Len()
	}
	return datasets.Example{}, fmt.Errorf("index past the end")
}

// TestStreamContinual: two datasets run as one stream predict what one stream over both does; their records hold
// positions counted from the stream's start and name the dataset before; interrupted in either dataset and rerun,
// the records equal an uninterrupted run's.
func TestStreamContinual(t *testing.T) {
	a, b := namedDataset{memDataset{n: 9, bad: 4}, "a"}, namedDataset{memDataset{n: 11, bad: -1}, "b"}
	dir := t.TempDir()
	one, err := Run(concatDataset{a, b}, &memoryAdapter{}, fakeViews{}, Options{Out: filepath.Join(dir, "one.jsonl")})
	require.NoError(t, err)
	parts := func(name string) []StreamPart {
		return []StreamPart{{Dataset: a, Out: filepath.Join(dir, name, "a.jsonl")},
			{Dataset: b, Out: filepath.Join(dir, name, "b.jsonl")}}
	}
	m := &memoryAdapter{}
	want, err := RunStream(parts("full"), m, fakeViews{}, Options{})
	require.NoError(t, err)
	assert.Equal(t, 1, m.streams, "one ResetStream for the whole stream")
	require.Len(t, want, 2)
	assert.Equal(t, predictions(one), append(predictions(want[0]), predictions(want[1])...))
	assert.Equal(t, 9, *want[1][0].StreamPos)
	assert.Nil(t, want[0][0].Stream.Before)
	require.Len(t, want[1][0].Stream.Before, 1)
	assert.Equal(t, StreamBefore{Dataset: "a", Examples: 9, Data: dataDigest(Identify(a))}, want[1][0].Stream.Before[0])
	alone, err := Run(b, &memoryAdapter{}, fakeViews{}, Options{Out: filepath.Join(dir, "b-alone.jsonl")})
	require.NoError(t, err)
	assert.NotEqual(t, predictions(alone), predictions(want[1]), "a stream per dataset starts afresh")

	for _, k := range []int{5, 9, 14} {
		for _, stater := range []bool{false, true} {
			name := fmt.Sprintf("k%d-%t", k, stater)
			mk := func() tta.Online {
				if stater {
					return &staterAdapter{memoryAdapter: &memoryAdapter{}}
				}
				return &memoryAdapter{}
			}
			_, err := RunStream(parts(name), mk(), fakeViews{}, interruptAt(k, Options{StateEvery: 4}, nil))
			require.ErrorIs(t, err, ErrInterrupted)
			got, err := RunStream(parts(name), mk(), fakeViews{}, Options{StateEvery: 4})
			require.NoError(t, err, name)
			require.Len(t, got, 2)
			for j := range got {
				assert.Equal(t, stripSeconds(want[j]), stripSeconds(got[j]), "%s part %d", name, j)
			}
		}
	}

	// The second part's records without the first's are refused.
	require.NoError(t, os.Remove(filepath.Join(dir, "full", "a.jsonl")))
	_, err = RunStream(parts("full"), &memoryAdapter{}, fakeViews{}, Options{})
	require.ErrorContains(t, err, "records before its dataset are not complete")
	_, err = RunStream(parts("full"), &memoryAdapter{}, fakeViews{}, Options{Out: "x.jsonl"})
	require.ErrorContains(t, err, "not from Options.Out")
}

// TestStreamReplayInterrupted: a rerun interrupted while it replays the recorded examples saves the state it
// reached, at the position it reached; the next rerun restores it and ends with an uninterrupted run's records.
func TestStreamReplayInterrupted(t *testing.T) {
	dir := t.TempDir()
	ds := memDataset{n: 15, bad: -1}
	want, err := Run(ds, &memoryAdapter{}, fakeViews{}, Options{Out: filepath.Join(dir, "full.jsonl")})
	require.NoError(t, err)
	out := filepath.Join(dir, "r.jsonl")
	stater := func() *staterAdapter { return &staterAdapter{memoryAdapter: &memoryAdapter{}} }
	_, err = Run(ds, stater(), fakeViews{}, interruptAt(8, Options{Out: out}, nil))
	require.ErrorIs(t, err, ErrInterrupted)
	require.NoError(t, os.Remove(out+".state")) // As after a kill before any save: 8 examples to replay.

	ctx, cancel := context.WithCancel(context.Background())
	a := stater()
	a.onAdapt = func(n int) {
		if n == 3 {
			cancel()
		}
	}
	_, err = Run(ds, a, fakeViews{}, Options{Out: out, Context: ctx})
	require.ErrorIs(t, err, ErrInterrupted)
	assert.Contains(t, err.Error(), "while replaying")
	hd, _, err := readState(out + ".state")
	require.NoError(t, err)
	assert.Equal(t, 3, hd.Pos, "the state is saved at the position the replay reached")

	a = stater()
	got, err := Run(ds, a, fakeViews{}, Options{Out: out})
	require.NoError(t, err)
	assert.Equal(t, 1, a.restores)
	assert.Equal(t, 15-3, a.adapts, "5 replayed, 7 new")
	assert.Equal(t, stripSeconds(want), stripSeconds(got))
}
