package eval

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/gotta-ml/gotta/tta"
)

// streamRun is a stream being run: its parts, adapter, and how far it is.
type streamRun struct {
	parts    []*streamPart
	adapter  tta.Online
	vm       tta.ViewMaker
	opts     Options
	runID    string
	recorded []*Record // the records found, in stream order
	total    int
	digests  []string // digests[t]: the recordsHash of the records of positions 0..t-1
	// saved is the position of the last state saved; seen is how many examples of the stream the adapter's state
	// has seen, all with their records written (-1 while an example is under way, or after it failed to be written).
	saved, seen int
}

// locate returns the part and dataset index of stream position t.
func (s *streamRun) locate(t int) (*streamPart, int) {
	for _, p := range s.parts {
		if t < p.start+len(p.order) {
			return p, p.order[t-p.start]
		}
	}
	panic(fmt.Sprintf("eval: stream position %d past the stream's %d examples", t, s.total))
}

func (s *streamRun) cancelled() bool { return s.opts.Context != nil && s.opts.Context.Err() != nil }

func (s *streamRun) say(format string, args ...any) {
	if s.opts.Terminal != nil {
		fmt.Fprintf(s.opts.Terminal, format+"\n", args...)
	}
}

// run restores or replays the recorded examples, then evaluates the others; the state is saved every StateEvery
// examples and when it stops.
func (s *streamRun) run() (err error) {
	name := s.adapter.Name()
	if s.opts.Workers > 1 {
		s.say("%s is online (its state carries between examples): one example at a time, not %d workers", name,
			s.opts.Workers)
	}
	h := newRecordsHash()
	s.digests = []string{h.sum()}
	for _, r := range s.recorded {
		h.add(r)
		s.digests = append(s.digests, h.sum())
	}
	from, err := s.restore()
	if err != nil {
		return err
	}
	s.saved, s.seen = from, from
	defer func() {
		if serr := s.saveState(); serr != nil {
			err = errors.Join(err, serr)
		}
	}()
	prog := Progress{Total: s.total, Resumed: len(s.recorded)}
	for t := from; t < len(s.recorded); t++ {
		if s.cancelled() {
			return fmt.Errorf("eval: %w while replaying the recorded stream (position %d of %d)", ErrInterrupted, t,
				len(s.recorded))
		}
		p, i := s.locate(t)
		s.seen = -1
		got, want := evalOne(p.ds, s.adapter, s.vm, i, p.proto, s.opts), s.recorded[t]
		if msg := diverged(want, got); msg != "" {
			return fmt.Errorf("eval: %s: replay diverged at stream position %d (example %d, %s of %s): %s; the "+
				"method is not deterministic, or the records in %s are not this stream's", name, t, i, want.ExampleID,
				p.ds.Name(), msg, p.out)
		}
		s.seen = t + 1
	}
	for _, r := range s.recorded {
		prog.Done++
		if r.Error != "" {
			prog.Errors++
		} else if r.Correct {
			prog.Correct++
		}
	}
	every := s.opts.StateEvery
	if every <= 0 {
		every = DefaultStateEvery
	}
	start, newDone := time.Now(), 0
	defer func() {
		if s.opts.Terminal != nil && newDone > 0 {
			fmt.Fprintln(s.opts.Terminal)
		}
	}()
	for t := len(s.recorded); t < s.total; t++ {
		if s.cancelled() {
			return fmt.Errorf("eval: %w after %d of %d examples", ErrInterrupted, prog.Done, prog.Total)
		}
		p, i := s.locate(t)
		s.seen = -1
		r := evalOne(p.ds, s.adapter, s.vm, i, p.proto, s.opts)
		pos := t
		r.StreamPos, r.Stream = &pos, p.proto.Stream
		if err := p.write(r); err != nil {
			return err
		}
		p.have[i] = r
		h.add(r)
		s.digests = append(s.digests, h.sum())
		s.seen = t + 1
		newDone++
		prog.add(r, newDone, start)
		if s.opts.Progress != nil {
			s.opts.Progress(prog)
		}
		if s.opts.Terminal != nil {
			fmt.Fprint(s.opts.Terminal, "\r"+ProgressBar(prog, 30))
		}
		if (t+1)%every == 0 {
			if err := s.saveState(); err != nil {
				return err
			}
		}
	}
	return nil
}

// diverged says how a replayed record differs from the recorded one ("" when they agree): another prediction, or
// an error on one side only. Two errors agree whatever their text.
func diverged(want, got *Record) string {
	switch {
	case want.Error != "" && got.Error != "":
		return ""
	case want.Error != "":
		return fmt.Sprintf("recorded an error (%s), now class %d", want.Error, got.Prediction)
	case got.Error != "":
		return fmt.Sprintf("recorded class %d, now an error (%s)", want.Prediction, got.Error)
	case want.Prediction != got.Prediction:
		return fmt.Sprintf("recorded class %d, now %d", want.Prediction, got.Prediction)
	}
	return ""
}

// statePath is the state file of the stream after position t: beside the records of the part holding position
// t-1 (the first part's for t = 0).
func (s *streamRun) statePath(t int) string {
	p, _ := s.locate(max(0, t-1))
	return p.out + ".state"
}

// saveState saves the adapter's state, when it saves one (tta.StreamStater) and it has seen exactly the examples
// whose records are written, and it has not been saved at this position yet.
func (s *streamRun) saveState() error {
	st, ok := s.adapter.(tta.StreamStater)
	pos := s.seen
	if !ok || pos < 0 || pos == s.saved || s.total == 0 {
		return nil
	}
	s.saved = pos // Tried once: a failure is not tried again when the run stops.
	state, err := st.SaveStream()
	if err != nil {
		return fmt.Errorf("eval: %s: saving the stream state at position %d: %w", s.adapter.Name(), pos, err)
	}
	hd := stateHeader{Method: s.adapter.Name(), Run: s.runID, Pos: pos, Records: s.digests[pos]}
	return writeState(s.statePath(pos), hd, state)
}

// restore starts the stream: ResetStream, then, for an adapter that saves its state, the newest saved state that
// follows the recorded records. It returns the position the state is at (0 without one); the recorded examples
// from there on are to be replayed.
func (s *streamRun) restore() (int, error) {
	if err := s.adapter.ResetStream(); err != nil {
		return 0, fmt.Errorf("eval: %s: starting the stream: %w", s.adapter.Name(), err)
	}
	n := len(s.recorded)
	st, ok := s.adapter.(tta.StreamStater)
	if !ok {
		if n > 0 {
			s.say("%s saves no stream state: replaying the %d recorded examples", s.adapter.Name(), n)
		}
		return 0, nil
	}
	best, bestPath, bestState := -1, "", []byte(nil)
	var why []string
	for _, p := range s.parts {
		path := p.out + ".state"
		hd, state, err := readState(path)
		switch {
		case errors.Is(err, os.ErrNotExist):
		case err != nil:
			why = append(why, err.Error())
		case hd.Run != s.runID:
			why = append(why, path+" is the state of another run")
		case hd.Pos > n:
			why = append(why, fmt.Sprintf("%s is at stream position %d, past the %d records", path, hd.Pos, n))
		case hd.Records != s.digests[hd.Pos]:
			why = append(why, fmt.Sprintf("%s follows other records than the %d recorded first", path, hd.Pos))
		case hd.Pos > best:
			best, bestPath, bestState = hd.Pos, path, state
		}
	}
	if best >= 0 {
		if err := st.RestoreStream(bestState); err != nil {
			why = append(why, fmt.Sprintf("%s: %v", bestPath, err))
			best = -1
			if err := s.adapter.ResetStream(); err != nil {
				return 0, fmt.Errorf("eval: %s: starting the stream: %w", s.adapter.Name(), err)
			}
		}
	}
	if best < 0 {
		if n > 0 || len(why) > 0 {
			s.say("no usable stream state (%s): replaying the %d recorded examples", orNone(why), n)
		}
		return 0, nil
	}
	s.say("restored the stream state at position %d from %s; replaying %d recorded examples", best, bestPath, n-best)
	return best, nil
}

func orNone(why []string) string {
	if len(why) == 0 {
		return "none saved"
	}
	return strings.Join(why, "; ")
}
