package weights

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"sort"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
)

// MaxHeaderSize is the largest JSON header accepted, in bytes (the limit of the safetensors reference
// implementation).
const MaxHeaderSize = 100_000_000

// metadataKey is the header entry holding the file's string-to-string metadata.
const metadataKey = "__metadata__"

// stDTypes maps safetensors dtype names to GoMLX dtypes.
var stDTypes = map[string]dtypes.DType{
	"F64":  dtypes.Float64,
	"F32":  dtypes.Float32,
	"F16":  dtypes.Float16,
	"BF16": dtypes.BFloat16,
	"I64":  dtypes.Int64,
	"I32":  dtypes.Int32,
	"I16":  dtypes.Int16,
	"I8":   dtypes.Int8,
	"U64":  dtypes.Uint64,
	"U32":  dtypes.Uint32,
	"U16":  dtypes.Uint16,
	"U8":   dtypes.Uint8,
	"BOOL": dtypes.Bool,
}

// STName returns the safetensors name of a GoMLX dtype ("F32", "BF16", ...), or "" when the format has none.
func STName(dt dtypes.DType) string {
	for n, d := range stDTypes {
		if d == dt {
			return n
		}
	}
	return ""
}

// TensorInfo describes one tensor of a safetensors header.
type TensorInfo struct {
	// Name is the tensor's key in the header.
	Name string
	// DType is the stored dtype, as a GoMLX dtype.
	DType dtypes.DType
	// Shape is the stored shape (empty for a scalar).
	Shape []int
	// Begin and End are the header's data_offsets: the tensor's bytes are [Begin, End) of the data section.
	Begin, End int64
	// FileOffset is the absolute position of the tensor's first byte in the file (data section start + Begin).
	FileOffset int64
}

// NumBytes is the tensor's size in the file, End - Begin.
func (t TensorInfo) NumBytes() int64 { return t.End - t.Begin }

// Size is the number of elements, the product of Shape (1 for a scalar).
func (t TensorInfo) Size() int {
	n := 1
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// Header is a parsed and validated safetensors header.
type Header struct {
	// Tensors maps each name to its description.
	Tensors map[string]TensorInfo
	// Names lists the tensor names, sorted.
	Names []string
	// Metadata is the "__metadata__" map (empty, not nil, when the file has none).
	Metadata map[string]string
	// HeaderSize is N, the JSON header's length in bytes.
	HeaderSize int64
	// DataOffset is the file position of the data section, 8 + HeaderSize.
	DataOffset int64
	// DataSize is the data section's length, fileSize - DataOffset.
	DataSize int64
}

// rawEntry is one header entry as it is written in the JSON.
type rawEntry struct {
	DType       *string  `json:"dtype"`
	Shape       *[]int64 `json:"shape"`
	DataOffsets *[]int64 `json:"data_offsets"`
}

// ParseHeader parses and validates the header of a safetensors file whose total size is fileSize. data holds the
// file's first bytes: at least the 8-byte length and the JSON header (the whole file, e.g. a memory mapping, is
// fine; bytes past the header are not read). Errors name the tensor at fault but not the file; Open adds the path.
// ParseHeader never panics, whatever data holds.
func ParseHeader(data []byte, fileSize int64) (Header, error) {
	var h Header
	if fileSize < 8 || len(data) < 8 {
		return h, fmt.Errorf("file of %d bytes is shorter than the 8-byte header length", min(fileSize, int64(len(data))))
	}
	n64 := binary.LittleEndian.Uint64(data[:8])
	if n64 > uint64(fileSize-8) {
		return h, fmt.Errorf("header length %d is beyond the file size %d (truncated file, or not a safetensors file)",
			n64, fileSize)
	}
	if n64 > MaxHeaderSize {
		return h, fmt.Errorf("header length %d exceeds the maximum of %d bytes", n64, MaxHeaderSize)
	}
	n := int64(n64)
	if int64(len(data)-8) < n {
		return h, fmt.Errorf("header length %d but only %d header bytes given", n, len(data)-8)
	}
	h.HeaderSize = n
	h.DataOffset = 8 + n
	h.DataSize = fileSize - h.DataOffset
	js := data[8 : 8+n]
	if len(js) == 0 || js[0] != '{' {
		return h, errors.New("header does not start with '{'")
	}
	entries, order, err := decodeObject(js)
	if err != nil {
		return h, fmt.Errorf("header JSON: %w", err)
	}
	h.Tensors = make(map[string]TensorInfo, len(entries))
	h.Metadata = map[string]string{}
	for _, name := range order {
		raw := entries[name]
		if name == metadataKey {
			var md map[string]string
			if err := json.Unmarshal(raw, &md); err != nil {
				return h, fmt.Errorf("%s must map strings to strings: %w", metadataKey, err)
			}
			for k, v := range md {
				h.Metadata[k] = v
			}
			continue
		}
		info, err := parseEntry(name, raw, h.DataSize)
		if err != nil {
			return h, err
		}
		info.FileOffset = h.DataOffset + info.Begin
		h.Tensors[name] = info
		h.Names = append(h.Names, name)
	}
	sort.Strings(h.Names)
	if err := checkTiling(h); err != nil {
		return h, err
	}
	return h, nil
}

// decodeObject decodes a JSON object into raw values by key, keeping key order and rejecting duplicated keys and
// trailing content other than white space.
func decodeObject(js []byte) (map[string]json.RawMessage, []string, error) {
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, nil, err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, nil, errors.New("not a JSON object")
	}
	entries := map[string]json.RawMessage{}
	var order []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, nil, err
		}
		key, ok := tok.(string)
		if !ok {
			return nil, nil, fmt.Errorf("object key is %v, not a string", tok)
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", entryName(key), err)
		}
		if _, dup := entries[key]; dup {
			return nil, nil, fmt.Errorf("%s appears twice", entryName(key))
		}
		entries[key] = raw
		order = append(order, key)
	}
	if _, err := dec.Token(); err != nil { // the closing '}'
		return nil, nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, nil, errors.New("content after the header object")
	}
	return entries, order, nil
}

// entryName describes a header key in errors: `tensor "name"`, or "__metadata__".
func entryName(key string) string {
	if key == metadataKey {
		return metadataKey
	}
	return fmt.Sprintf("tensor %q", key)
}

// parseEntry validates one tensor entry against the data section's size.
func parseEntry(name string, raw json.RawMessage, dataSize int64) (TensorInfo, error) {
	info := TensorInfo{Name: name}
	var e rawEntry
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		return info, fmt.Errorf("tensor %q: bad entry: %w", name, err)
	}
	if e.DType == nil || e.Shape == nil || e.DataOffsets == nil {
		return info, fmt.Errorf("tensor %q: entry needs dtype, shape and data_offsets", name)
	}
	dt, ok := stDTypes[*e.DType]
	if !ok {
		return info, fmt.Errorf("tensor %q: unknown or unsupported dtype %q", name, *e.DType)
	}
	info.DType = dt
	count := uint64(1)
	overflow := false
	info.Shape = make([]int, len(*e.Shape))
	for i, d := range *e.Shape {
		if d < 0 {
			return info, fmt.Errorf("tensor %q: negative dimension %d in shape %v", name, d, *e.Shape)
		}
		if d > math.MaxInt32*int64(1<<16) {
			overflow = true
		}
		info.Shape[i] = int(d)
		hi, lo := bits.Mul64(count, uint64(d))
		if hi != 0 {
			overflow = true
		}
		count = lo
	}
	hi, byteCount := bits.Mul64(count, uint64(dt.Size()))
	if hi != 0 || byteCount > math.MaxInt64 {
		overflow = true
	}
	offs := *e.DataOffsets
	if len(offs) != 2 {
		return info, fmt.Errorf("tensor %q: data_offsets must have 2 entries, got %d", name, len(offs))
	}
	info.Begin, info.End = offs[0], offs[1]
	if info.Begin < 0 || info.End < info.Begin {
		return info, fmt.Errorf("tensor %q: invalid data_offsets [%d, %d]", name, info.Begin, info.End)
	}
	if info.End > dataSize {
		return info, fmt.Errorf("tensor %q: data_offsets [%d, %d] out of range: the data section has %d bytes",
			name, info.Begin, info.End, dataSize)
	}
	if overflow || int64(byteCount) != info.NumBytes() {
		return info, fmt.Errorf("tensor %q: %s shape %v needs %d bytes but data_offsets [%d, %d] hold %d",
			name, *e.DType, *e.Shape, byteCount, info.Begin, info.End, info.NumBytes())
	}
	return info, nil
}

// checkTiling checks that the tensors cover the data section exactly: no overlap, no hole, no trailing bytes.
func checkTiling(h Header) error {
	infos := make([]TensorInfo, 0, len(h.Tensors))
	for _, name := range h.Names {
		infos = append(infos, h.Tensors[name])
	}
	sort.SliceStable(infos, func(i, j int) bool {
		if infos[i].Begin != infos[j].Begin {
			return infos[i].Begin < infos[j].Begin
		}
		return infos[i].End < infos[j].End
	})
	var pos int64
	prev := ""
	for _, t := range infos {
		switch {
		case t.Begin < pos:
			return fmt.Errorf("tensor %q: data_offsets [%d, %d] overlap tensor %q, which ends at %d",
				t.Name, t.Begin, t.End, prev, pos)
		case t.Begin > pos:
			return fmt.Errorf("tensor %q: data_offsets [%d, %d] leave a hole of %d bytes at %d (after %s)",
				t.Name, t.Begin, t.End, t.Begin-pos, pos, describePrev(prev))
		}
		if t.End > pos {
			pos = t.End
			prev = t.Name
		}
	}
	if pos != h.DataSize {
		return fmt.Errorf("tensors cover %d bytes but the data section has %d: %d unindexed trailing bytes (after %s)",
			pos, h.DataSize, h.DataSize-pos, describePrev(prev))
	}
	return nil
}

func describePrev(prev string) string {
	if prev == "" {
		return "the start of the data section"
	}
	return fmt.Sprintf("tensor %q", prev)
}
