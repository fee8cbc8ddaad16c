package eval

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"math/rand/v2"
	"os"
	"strings"
)

// Stream orders (Options.Order).
const (
	// OrderIndex streams the examples in dataset index order.
	OrderIndex = "index"
	// OrderShuffle streams them in a seeded shuffle (Options.OrderSeed): a Fisher-Yates shuffle of the indices
	// drawing j = x mod (i+1) from PCG(OrderSeed, part), part being the dataset's place in a continual stream (0
	// for a stream per dataset).
	OrderShuffle = "shuffle"
)

// DefaultStateEvery is how many examples an online run evaluates between two saves of its state file.
const DefaultStateEvery = 100

// StreamID identifies the stream a record of an online method belongs to.
type StreamID struct {
	// Order is OrderIndex or OrderShuffle; OrderSeed the shuffle's seed (absent in index order).
	Order     string `json:"order"`
	OrderSeed int64  `json:"order_seed,omitempty"`
	// Before are the datasets streamed before the record's dataset in a continual run, in stream order (absent for
	// a stream per dataset).
	Before []StreamBefore `json:"before,omitempty"`
}

// StreamBefore is one dataset streamed before a record's dataset in a continual run.
type StreamBefore struct {
	// Dataset is its name; Examples how many of its examples the stream holds; Data the first 12 hex digits of the
	// SHA-256 of its DataIdentity as JSON.
	Dataset  string `json:"dataset"`
	Examples int    `json:"examples"`
	Data     string `json:"data"`
}

// String describes the stream in words.
func (s *StreamID) String() string {
	if s == nil {
		return "none"
	}
	w := s.Order
	if s.Order == OrderShuffle {
		w += fmt.Sprintf(" (order seed %d)", s.OrderSeed)
	}
	if len(s.Before) > 0 {
		var names []string
		for _, b := range s.Before {
			names = append(names, fmt.Sprintf("%s (%d examples)", b.Dataset, b.Examples))
		}
		w += ", continual after " + strings.Join(names, ", ")
	}
	return w
}

// streamOrder returns indices in the stream's order: as given in index order, else shuffled (see OrderShuffle).
func streamOrder(indices []int, order string, seed int64, part int) []int {
	out := append([]int(nil), indices...)
	if order == OrderShuffle {
		r := rand.NewPCG(uint64(seed), uint64(part))
		for i := len(out) - 1; i > 0; i-- {
			j := int(r.Uint64() % uint64(i+1))
			out[i], out[j] = out[j], out[i]
		}
	}
	return out
}

// dataDigest is the first 12 hex digits of the SHA-256 of id as JSON.
func dataDigest(id DataIdentity) string {
	b, _ := json.Marshal(id)
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])[:12]
}

// recordsHash digests records in stream order: each one's dataset, index, example id, prediction and whether it
// failed. A saved state names the digest of the records it follows.
type recordsHash struct{ h hash.Hash }

func newRecordsHash() recordsHash { return recordsHash{sha256.New()} }

func (d recordsHash) add(r *Record) {
	fmt.Fprintf(d.h, "%s\t%d\t%s\t%d\t%t\n", r.Dataset, r.Index, r.ExampleID, r.Prediction, r.Error != "")
}

func (d recordsHash) sum() string { return hex.EncodeToString(d.h.Sum(nil)) }

// stateHeader is the first line of a state file (JSON); the method's state bytes follow it.
type stateHeader struct {
	// Format is stateFormat.
	Format string `json:"format"`
	// Method names the method; Run digests what identifies the stream (see streamRunID).
	Method string `json:"method"`
	Run    string `json:"run"`
	// Pos is how many examples of the stream the state has seen; Records the digest (recordsHash) of their records.
	Pos     int    `json:"pos"`
	Records string `json:"records_sha256"`
	// Bytes and SHA256 describe the state bytes.
	Bytes  int    `json:"bytes"`
	SHA256 string `json:"state_sha256"`
}

const stateFormat = "gotta-stream-state-v1"

// streamRunID digests what identifies an online run: every part's method, configuration, views, seed, dataset,
// data identity and stream identity.
func streamRunID(protos []*Record) string {
	h := sha256.New()
	for _, p := range protos {
		b, _ := json.Marshal(p)
		h.Write(b)
		h.Write([]byte{'\n'})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// writeState writes the state file path atomically (a temporary file renamed over it).
func writeState(path string, hd stateHeader, state []byte) error {
	sum := sha256.Sum256(state)
	hd.Format, hd.Bytes, hd.SHA256 = stateFormat, len(state), hex.EncodeToString(sum[:])
	head, err := json.Marshal(hd)
	if err != nil {
		return fmt.Errorf("eval: writing the stream state %s: %w", path, err)
	}
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("eval: writing the stream state: %w", err)
	}
	_, err = f.Write(append(append(head, '\n'), state...))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("eval: writing the stream state %s: %w", path, err)
	}
	return nil
}

// readState reads a state file; an error says why it cannot be used (os.ErrNotExist when there is none).
func readState(path string) (stateHeader, []byte, error) {
	var hd stateHeader
	data, err := os.ReadFile(path)
	if err != nil {
		return hd, nil, err
	}
	nl := bytes.IndexByte(data, '\n')
	if nl < 0 {
		return hd, nil, fmt.Errorf("%s has no header line", path)
	}
	if err := json.Unmarshal(data[:nl], &hd); err != nil || hd.Format != stateFormat {
		return hd, nil, fmt.Errorf("%s is not a stream state file (%s)", path, stateFormat)
	}
	state := data[nl+1:]
	sum := sha256.Sum256(state)
	if len(state) != hd.Bytes || hex.EncodeToString(sum[:]) != hd.SHA256 {
		return hd, nil, fmt.Errorf("%s is damaged: %d state bytes (want %d) or their SHA-256 differs", path,
			len(state), hd.Bytes)
	}
	return hd, state, nil
}
