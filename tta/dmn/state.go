package dmn

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"slices"
	"sort"
	"strings"

	"github.com/gotta-ml/gotta/tta"
)

// stateMagic starts the bytes of SaveStream; stateVersion is their layout's version.
const (
	stateMagic   = "GOTTADMN"
	stateVersion = 1
)

// stateHeader is what the memory's contents depend on: a state is restored only into an adapter with the same
// header (Weight and Beta only change the read, not what is written, and are not part of it).
func (a *Adapter) stateHeader() map[string]any {
	return map[string]any{"model": a.model.Config.String(), "dtype": a.model.DType.String(),
		"classes": a.classes, "templates": a.templates, "select": a.opts.Select,
		"memory_size": a.opts.MemorySize, "dim": a.model.Config.EmbedDim}
}

// SaveStream implements tta.StreamStater. Layout (little endian): "GOTTADMN", uint32 version 1, uint32 n and n
// bytes of JSON header (model, dtype, classes, templates, select, memory_size, dim), uint32 count per class, then
// for each class its filled slots in order: float64 entropy, dim float32 feature.
func (a *Adapter) SaveStream() ([]byte, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	hdr, err := json.Marshal(a.stateHeader())
	if err != nil {
		return nil, fmt.Errorf("dmn: SaveStream: %w", err)
	}
	m := a.mem
	var buf bytes.Buffer
	buf.WriteString(stateMagic)
	le := binary.LittleEndian
	buf.Write(le.AppendUint32(nil, stateVersion))
	buf.Write(le.AppendUint32(nil, uint32(len(hdr))))
	buf.Write(hdr)
	for c := range m.classes {
		buf.Write(le.AppendUint32(nil, uint32(m.count[c])))
	}
	for c := range m.classes {
		for s := range m.count[c] {
			buf.Write(le.AppendUint64(nil, math.Float64bits(m.Entropy(c, s))))
			for _, x := range m.Feature(c, s) {
				buf.Write(le.AppendUint32(nil, math.Float32bits(x)))
			}
		}
	}
	return buf.Bytes(), nil
}

// RestoreStream implements tta.StreamStater: it replaces the memory with one SaveStream wrote, refusing bytes of
// another format or version, or of an adapter whose header differs (naming the fields that differ).
func (a *Adapter) RestoreStream(state []byte) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	le := binary.LittleEndian
	r := state
	take := func(n int) ([]byte, error) {
		if len(r) < n {
			return nil, fmt.Errorf("dmn: RestoreStream: state truncated (%d bytes)", len(state))
		}
		b := r[:n]
		r = r[n:]
		return b, nil
	}
	if !bytes.HasPrefix(state, []byte(stateMagic)) {
		return fmt.Errorf("dmn: RestoreStream: not a DMN stream state")
	}
	b, err := take(len(stateMagic) + 8)
	if err != nil {
		return err
	}
	if v := le.Uint32(b[len(stateMagic):]); v != stateVersion {
		return fmt.Errorf("dmn: RestoreStream: state version %d, this build reads version %d", v, stateVersion)
	}
	hdr, err := take(int(le.Uint32(b[len(stateMagic)+4:])))
	if err != nil {
		return err
	}
	var got map[string]any
	if err := json.Unmarshal(hdr, &got); err != nil {
		return fmt.Errorf("dmn: RestoreStream: header: %w", err)
	}
	wantJSON, err := json.Marshal(a.stateHeader())
	if err != nil {
		return fmt.Errorf("dmn: RestoreStream: %w", err)
	}
	var want map[string]any
	if err := json.Unmarshal(wantJSON, &want); err != nil {
		return fmt.Errorf("dmn: RestoreStream: %w", err)
	}
	if diff := headerDiff(got, want); diff != "" {
		return fmt.Errorf("dmn: RestoreStream: state of another configuration: %s", diff)
	}
	m := NewMemory(a.mem.classes, a.mem.size, a.mem.dim)
	for c := range m.classes {
		b, err := take(4)
		if err != nil {
			return err
		}
		if m.count[c] = int(le.Uint32(b)); m.count[c] > m.size {
			return fmt.Errorf("dmn: RestoreStream: class %d has %d slots filled, memory size %d", c, m.count[c], m.size)
		}
	}
	for c := range m.classes {
		for s := range m.count[c] {
			b, err := take(8 + 4*m.dim)
			if err != nil {
				return err
			}
			m.ent[c*m.size+s] = math.Float64frombits(le.Uint64(b))
			f := m.Feature(c, s)
			for i := range f {
				f[i] = math.Float32frombits(le.Uint32(b[8+4*i:]))
			}
		}
	}
	if len(r) != 0 {
		return fmt.Errorf("dmn: RestoreStream: %d bytes after the memory", len(r))
	}
	a.mem, a.last = m, nil
	return nil
}

// headerDiff lists the fields where a saved header differs from this adapter's ("" when equal).
func headerDiff(got, want map[string]any) string {
	keys := make([]string, 0, len(want))
	for k := range want {
		keys = append(keys, k)
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	keys = slices.Compact(keys)
	var diffs []string
	for _, k := range keys {
		g, w := got[k], want[k]
		if reflect.DeepEqual(g, w) {
			continue
		}
		if gl, ok := g.([]any); ok && k == "classes" {
			if wl, ok := w.([]any); ok && len(gl) != len(wl) {
				diffs = append(diffs, fmt.Sprintf("%d classes (this adapter: %d)", len(gl), len(wl)))
				continue
			}
		}
		diffs = append(diffs, fmt.Sprintf("%s %v (this adapter: %v)", k, g, w))
	}
	return strings.Join(diffs, "; ")
}

var _ tta.StreamStater = (*Adapter)(nil)
