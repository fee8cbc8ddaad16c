// Package weights reads and writes model weights on the host: safetensors files (memory-mapped, fully validated,
// converted to the GoMLX dtype a model wants) and NumPy .npy arrays, plus a strict Loader that model packages use to
// take every tensor of a checkpoint exactly once, with its shape asserted.
//
// # safetensors
//
// The format (https://github.com/huggingface/safetensors) is an 8-byte little-endian header length N, N bytes of
// JSON header, then the data section. The header maps each tensor name to {"dtype", "shape", "data_offsets"},
// offsets being [begin, end) byte positions relative to the start of the data section; an optional
// "__metadata__" entry is a string-to-string map (MetadataInt, MetadataInts and MetadataString read a value written
// plainly, "3,4,6,3", or as JSON, "[3, 4, 6, 3]", with "null" for absent). Open memory-maps the file read-only, so
// a multi-GB checkpoint is never copied whole: each tensor is converted straight from the mapping into its
// destination tensor.
//
// Validation follows the safetensors reference implementation, strictly:
//   - the header length must fit in the file (and be at most 100,000,000 bytes), the header must be a JSON object
//     starting with '{' (trailing spaces, used as padding, are allowed);
//   - every entry needs exactly the fields dtype, shape and data_offsets (two integers); unknown dtypes, unknown
//     fields, negative dimensions, negative offsets, begin > end and duplicated names are errors;
//   - end - begin must equal the element count times the dtype size;
//   - holes are NOT allowed: sorted by offset, the tensors must tile the data section exactly, from 0 to the end
//     of the file, with no gap, no overlap and no trailing bytes (the spec requires the buffer to be "entirely
//     indexed", which prevents polyglot files). Zero-sized tensors (begin == end) are allowed where they do
//     not break that order (at a boundary between tensors, not inside one).
//
// Every error names the file (from Open) and, where one is at fault, the tensor.
//
// Supported dtypes: F64, F32, F16, BF16, I64, I32, I16, I8, U64, U32, U16, U8, BOOL. Conversions on load: any
// float, integer or BOOL dtype to any float dtype (F16/BF16 targets round to nearest even, as torch does; from F64
// they round through float32, which differs from a direct rounding by one unit in the last place in rare
// double-rounding cases); integers and BOOL to any integer dtype (plain Go conversion, no saturation); BOOL to BOOL.
// Floats never convert to integers.
//
// Where `gotta fetch` puts published weights is in the table of Sources (DefaultPath gives a model's file).
//
// Usage:
//
//	f, err := weights.Open(path)
//	if err != nil { return err }
//	defer f.Close()
//	l := weights.NewLoader(f)
//	w, err := l.Transposed("conv1.weight", []int{64, 3, 7, 7}, weights.OIHWToHWIO, dtypes.Float32) // [7, 7, 3, 64]
//	b, err := l.Take("fc.bias", []int{1000}, dtypes.Float32)                                          // [1000]
//	if err := l.Finish(); err != nil { return err } // names every tensor no one took
//
// # .npy
//
// ReadNPY / WriteNPY handle NumPy's .npy format (versions 1.0-3.0, little- or big-endian on read, C order on
// write; Fortran-order files are transposed on read), used by `gotta embed` and `gotta adapt` for image batches and
// logits.
package weights
