package tta

// Online is an Adapter whose state carries from one example to the next (TDA's positive and negative caches, DMN's
// dynamic memory). The evaluation runner evaluates it as a stream: one example at a time, in a fixed order, never
// sharded, and the record of the example at stream position t depends only on the examples at positions 0..t.
//
// The runner calls ResetStream at the start of each stream (each dataset by default; once for a continual run over
// several datasets), then, for each example in stream order: MakeViews, Reset, Adapt. Reset restores only what the
// method adapts per example (nothing for TDA and DMN); it leaves the stream state alone. Adapt predicts the example and
// updates the stream state with it, in the order of the method's original code (TDA and DMN insert the example into
// their memory before computing its final logits, as their code does).
type Online interface {
	Adapter
	// ResetStream empties the state carried between examples, as at the start of a stream.
	ResetStream() error
}

// StreamStater is an Online adapter that can save and restore its stream state, so that a resumed run continues
// from a saved state instead of replaying the stream. The bytes are the method's own format; RestoreStream refuses
// bytes it did not write (another method, configuration or class count) with an error saying what differs.
type StreamStater interface {
	Online
	// SaveStream returns the stream state as bytes.
	SaveStream() ([]byte, error)
	// RestoreStream replaces the stream state with one SaveStream returned.
	RestoreStream(state []byte) error
}
