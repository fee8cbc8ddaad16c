// Package tokenizer is CLIP's text tokenizer: the byte-level BPE of OpenAI's `clip/simple_tokenizer.py`,
// reproduced id for id. OpenAI's vocabulary, `bpe_simple_vocab_16e6.txt.gz`, ships inside the package as openai/CLIP
// and open_clip ship it: OpenAI returns its tokenizer. Load reads another file in that format, LoadHF Hugging Face's
// `vocab.json` + `merges.txt`.
//
// CLIP: Radford et al., "Learning Transferable Visual Models From Natural Language Supervision", ICML 2021.
// Byte-level BPE: Sennrich et al., ACL 2016; Radford et al., GPT-2, 2019.
//
// Usage:
//
//	tok, err := tokenizer.OpenAI() // OpenAI's vocabulary, shipped with this package
//	if err != nil { ... }
//	ids, err := tok.Encode("a photo of a goldfish.", tokenizer.ContextLength, false) // [77]: SOT, ..., EOT, 0...
//	eot := tokenizer.EOTIndex(ids) // where CLIP's text tower reads the sentence feature
//
// Encoding follows `clip.tokenize`: the text is cleaned (Clean), split by CLIP's pattern, each word's UTF-8 bytes
// are mapped to printable characters (GPT-2's byte-to-unicode table), merged by BPE with "</w>" marking the word's
// end, and wrapped in <|startoftext|> (49406) and <|endoftext|> (49407), zero-padded to the context length.
//
// One step is not reproduced: OpenAI's cleaning calls ftfy.fix_text, which repairs mojibake, uncurls quotes,
// widens fullwidth letters, splits ligatures and removes control characters before its final NFC normalisation.
// Only the NFC step is done here, so texts with those defects may tokenize differently from OpenAI's; ordinary
// prompts (and everything in testdata/golden.jsonl) tokenize identically. Character classes come from Go's
// Unicode tables (unicode.Version), which may classify code points assigned after Python's tables differently.
//
// A Tokenizer is safe for concurrent use.
package tokenizer

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"unicode/utf8"
)

// ContextLength is the context length of every released CLIP model: 77 tokens, SOT and EOT included.
const ContextLength = 77

// OpenAI's file holds a header line and then more merges than CLIP uses: the first numMerges of them.
const numMerges = 49152 - 256 - 2

// maxCache bounds the number of words whose BPE is remembered; the cache is emptied when it is full.
const maxCache = 1 << 16

// Tokenizer maps text to CLIP token ids and back. Create it with OpenAI, Load or LoadHF.
type Tokenizer struct {
	encoder  map[string]int // token (byte-encoded characters, "</w>" at a word's end) -> id
	decoder  []string       // id -> token
	ranks    map[pair]int   // merge -> rank (lower merges first)
	specials map[string]int // <|startoftext|>, <|endoftext|>: never split
	sot, eot int

	mu      sync.RWMutex
	cache   map[string][]int // byte-encoded word -> ids
	noCache bool             // benchmarks only
}

type pair struct{ a, b string }

// Load reads OpenAI's BPE merges file (`bpe_simple_vocab_16e6.txt.gz`, gzip or plain text): a header line, then
// one merge "a b" per line, of which the first 48,894 are used. The vocabulary is, in this order: the 256 byte
// characters, the same followed by "</w>", the merges joined, "<|startoftext|>" (49406), "<|endoftext|>" (49407).
func Load(path string) (*Tokenizer, error) {
	data, err := readMaybeGzip(path)
	if err != nil {
		return nil, fmt.Errorf("tokenizer.Load: %w", err)
	}
	t, err := loadMerges(path, data)
	if err != nil {
		return nil, fmt.Errorf("tokenizer.Load: %w", err)
	}
	return t, nil
}

// OpenAIVocabSHA256 is the SHA-256 of the embedded `bpe_simple_vocab_16e6.txt.gz`, byte for byte the file of
// openai/CLIP (clip/bpe_simple_vocab_16e6.txt.gz) and open_clip.
const OpenAIVocabSHA256 = "924691ac288e54409236115652ad4aa250f48203de50a9e4722a6ecd48d6804a"

// openAIVocabName names the embedded vocabulary in errors.
const openAIVocabName = "bpe_simple_vocab_16e6.txt.gz (embedded)"

//go:embed bpe_simple_vocab_16e6.txt.gz
var openAIVocab []byte

// OpenAIVocab returns the embedded `bpe_simple_vocab_16e6.txt.gz`, gzip-compressed as OpenAI ships it, for callers
// that need the file itself (to write it out or hand it to another tool). The caller must not modify it.
func OpenAIVocab() []byte { return openAIVocab }

// openAIOnce loads the embedded vocabulary once; every OpenAI call shares the result.
var openAIOnce = sync.OnceValues(func() (*Tokenizer, error) {
	if sum := sha256.Sum256(openAIVocab); hex.EncodeToString(sum[:]) != OpenAIVocabSHA256 {
		return nil, fmt.Errorf("tokenizer.OpenAI: %s has SHA-256 %x, want %s", openAIVocabName, sum,
			OpenAIVocabSHA256)
	}
	data, err := gunzipIfGzip(openAIVocabName, openAIVocab)
	if err != nil {
		return nil, fmt.Errorf("tokenizer.OpenAI: %w", err)
	}
	t, err := loadMerges(openAIVocabName, data)
	if err != nil {
		return nil, fmt.Errorf("tokenizer.OpenAI: %w", err)
	}
	return t, nil
})

// OpenAI returns the tokenizer of OpenAI's CLIP vocabulary (`bpe_simple_vocab_16e6.txt.gz`, SHA-256
// OpenAIVocabSHA256), which is embedded in the package: the tokenizer of every released OpenAI and open_clip CLIP
// model. The vocabulary is parsed on the first call; later calls return the same Tokenizer.
func OpenAI() (*Tokenizer, error) { return openAIOnce() }

// loadMerges parses OpenAI's merges file (Load), data already gunzipped; path names it in errors.
func loadMerges(path string, data []byte) (*Tokenizer, error) {
	if !utf8.Valid(data) {
		return nil, fmt.Errorf("%s is not UTF-8 text", path)
	}
	lines := strings.Split(string(data), "\n")
	if len(lines) < numMerges+1 {
		return nil, fmt.Errorf("%s has %d lines, want a header and at least %d merges",
			path, len(lines), numMerges)
	}
	merges := make([]pair, numMerges)
	for i, line := range lines[1 : numMerges+1] {
		f := strings.Fields(line)
		if len(f) != 2 {
			return nil, fmt.Errorf("%s line %d: want a merge \"a b\", got %s", path, i+2, Quote(line))
		}
		merges[i] = pair{f[0], f[1]}
	}
	vocab := make([]string, 0, 2*256+numMerges+2)
	for _, r := range byteOrder() {
		vocab = append(vocab, string(r))
	}
	for _, r := range byteOrder() {
		vocab = append(vocab, string(r)+"</w>")
	}
	for _, m := range merges {
		vocab = append(vocab, m.a+m.b)
	}
	vocab = append(vocab, startOfText, endOfText)
	encoder := make(map[string]int, len(vocab))
	for id, tok := range vocab {
		encoder[tok] = id // A later duplicate wins, as in Python's dict(zip(vocab, range(...))).
	}
	return newTokenizer(path, encoder, merges)
}

// LoadHF reads Hugging Face's `vocab.json` (token -> id, dense ids from 0) and `merges.txt` (an optional
// "#version" header line, then one merge "a b" per line, all used) of a CLIP tokenizer. Either file may be
// gzip-compressed. The vocabulary must hold <|startoftext|>, <|endoftext|>, the 512 byte characters (with and
// without "</w>") and every merge's result.
func LoadHF(vocabJSON, mergesTXT string) (*Tokenizer, error) {
	data, err := readMaybeGzip(vocabJSON)
	if err != nil {
		return nil, fmt.Errorf("tokenizer.LoadHF: %w", err)
	}
	var encoder map[string]int
	if err := json.Unmarshal(data, &encoder); err != nil {
		return nil, fmt.Errorf("tokenizer.LoadHF: %s: %w", vocabJSON, err)
	}
	data, err = readMaybeGzip(mergesTXT)
	if err != nil {
		return nil, fmt.Errorf("tokenizer.LoadHF: %w", err)
	}
	var merges []pair
	for i, line := range strings.Split(string(data), "\n") {
		if (i == 0 && strings.HasPrefix(line, "#version")) || strings.TrimSpace(line) == "" {
			continue
		}
		f := strings.Fields(line)
		if len(f) != 2 {
			return nil, fmt.Errorf("tokenizer.LoadHF: %s line %d: want a merge \"a b\", got %s", mergesTXT, i+1, Quote(line))
		}
		merges = append(merges, pair{f[0], f[1]})
	}
	t, err := newTokenizer(vocabJSON, encoder, merges)
	if err != nil {
		return nil, fmt.Errorf("tokenizer.LoadHF(%s, %s): %w", vocabJSON, mergesTXT, err)
	}
	return t, nil
}

// newTokenizer checks the vocabulary (dense ids, special tokens, byte characters and merge results present) and
// builds the tables.
func newTokenizer(source string, encoder map[string]int, merges []pair) (*Tokenizer, error) {
	maxID := -1
	for _, id := range encoder {
		maxID = max(maxID, id)
	}
	decoder := make([]string, maxID+1)
	filled := make([]bool, maxID+1)
	for tok, id := range encoder {
		if id < 0 {
			return nil, fmt.Errorf("%s: token %q has negative id %d", source, tok, id)
		}
		if filled[id] {
			return nil, fmt.Errorf("%s: id %d is given to both %q and %q", source, id, decoder[id], tok)
		}
		decoder[id], filled[id] = tok, true
	}
	for id, ok := range filled {
		if !ok {
			return nil, fmt.Errorf("%s: no token has id %d (ids must be 0..%d)", source, id, maxID)
		}
	}
	t := &Tokenizer{
		encoder:  encoder,
		decoder:  decoder,
		ranks:    make(map[pair]int, len(merges)),
		specials: map[string]int{},
		cache:    map[string][]int{},
	}
	for _, special := range []string{startOfText, endOfText} {
		id, ok := encoder[special]
		if !ok {
			return nil, fmt.Errorf("%s: vocabulary has no %s", source, special)
		}
		t.specials[special] = id
	}
	t.sot, t.eot = t.specials[startOfText], t.specials[endOfText]
	for _, r := range byteOrder() {
		for _, tok := range []string{string(r), string(r) + "</w>"} {
			if _, ok := encoder[tok]; !ok {
				return nil, fmt.Errorf("%s: vocabulary lacks the byte token %q", source, tok)
			}
		}
	}
	for rank, m := range merges {
		if _, ok := encoder[m.a+m.b]; !ok {
			return nil, fmt.Errorf("%s: merge %d %q %q: vocabulary lacks %q", source, rank+1, m.a, m.b, m.a+m.b)
		}
		t.ranks[m] = rank // A later duplicate wins, as in Python's dict(zip(merges, range(...))).
	}
	return t, nil
}

// readMaybeGzip reads a file, gunzipping it when it starts with gzip's magic bytes.
func readMaybeGzip(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return gunzipIfGzip(path, data)
}

// gunzipIfGzip returns data gunzipped when it starts with gzip's magic bytes, else data; path names it in errors.
func gunzipIfGzip(path string, data []byte) ([]byte, error) {
	if len(data) >= 2 && data[0] == 0x1f && data[1] == 0x8b {
		zr, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if data, err = io.ReadAll(zr); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	}
	return data, nil
}

// SOT returns the id of <|startoftext|> (49406 in CLIP's vocabulary).
func (t *Tokenizer) SOT() int { return t.sot }

// EOT returns the id of <|endoftext|> (49407 in CLIP's vocabulary).
func (t *Tokenizer) EOT() int { return t.eot }

// VocabSize returns the number of tokens (49408 in CLIP's vocabulary).
func (t *Tokenizer) VocabSize() int { return len(t.decoder) }

// Encode returns clip.tokenize(text, contextLen, truncate) for one text: exactly contextLen ids, SOT, the text's
// tokens, EOT, then zeros. When SOT + tokens + EOT is longer than contextLen it returns an error naming the text,
// unless truncate, which keeps the first contextLen ids and replaces the last by EOT.
func (t *Tokenizer) Encode(text string, contextLen int, truncate bool) ([]int, error) {
	if contextLen < 1 {
		return nil, fmt.Errorf("tokenizer.Encode(%s): context length %d, want >= 1", Quote(text), contextLen)
	}
	ids := make([]int, 1, contextLen)
	ids[0] = t.sot
	ids = t.appendTokens(ids, text)
	ids = append(ids, t.eot)
	if len(ids) > contextLen {
		if !truncate {
			return nil, fmt.Errorf("tokenizer.Encode: input %s is too long for context length %d (%d tokens)",
				Quote(text), contextLen, len(ids))
		}
		ids = ids[:contextLen]
		ids[contextLen-1] = t.eot
	}
	for len(ids) < contextLen {
		ids = append(ids, 0)
	}
	return ids, nil
}

// EncodeTokens returns the BPE ids of text without SOT, EOT or padding (OpenAI's SimpleTokenizer.encode).
func (t *Tokenizer) EncodeTokens(text string) []int {
	return t.appendTokens(nil, text)
}

func (t *Tokenizer) appendTokens(ids []int, text string) []int {
	var buf []byte
	for _, word := range splitWords(nil, Clean(text)) {
		buf = buf[:0]
		for i := 0; i < len(word); i++ {
			buf = utf8.AppendRune(buf, byteEncoder[word[i]])
		}
		ids = append(ids, t.bpe(string(buf))...)
	}
	return ids
}

// Decode is OpenAI's SimpleTokenizer.decode: the tokens' byte characters back to bytes, decoded as UTF-8 with
// Python's errors="replace" (one U+FFFD per maximal invalid subsequence), then every "</w>" replaced by a space.
// SOT, EOT and padding zeros ("!") are decoded like any token; cut ids at EOTIndex first to drop them.
// Ids outside the vocabulary decode to U+FFFD.
func (t *Tokenizer) Decode(ids []int) string {
	var raw []byte
	for _, id := range ids {
		if id < 0 || id >= len(t.decoder) {
			raw = append(raw, "\uFFFD"...)
			continue
		}
		for _, r := range t.decoder[id] {
			if b, ok := byteDecoder(r); ok {
				raw = append(raw, b)
			} else {
				raw = utf8.AppendRune(raw, r) // Not a byte character: only possible with a foreign vocab.json.
			}
		}
	}
	return strings.ReplaceAll(decodeUTF8Replace(raw), "</w>", " ")
}

// EOTIndex returns the position CLIP's text tower reads the sentence feature from: `text.argmax(dim=-1)`, the
// first position of the largest id, which is the first EOT (the largest id of CLIP's vocabulary) when ids holds
// one. It returns -1 for empty ids.
func EOTIndex(ids []int) int {
	best := -1
	for i, id := range ids {
		if best < 0 || id > ids[best] {
			best = i
		}
	}
	return best
}

// decodeUTF8Replace decodes UTF-8 like Python's bytes.decode("utf-8", errors="replace"): each maximal subpart of
// an ill-formed sequence becomes one U+FFFD.
func decodeUTF8Replace(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	var sb strings.Builder
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if r != utf8.RuneError || size > 1 {
			sb.WriteRune(r)
			i += size
			continue
		}
		sb.WriteRune(utf8.RuneError)
		i += maximalSubpart(b[i:])
	}
	return sb.String()
}

// maximalSubpart returns the length of the maximal subpart of the ill-formed UTF-8 sequence at the start of b:
// the lead byte plus the continuation bytes that are valid after it (at least 1).
func maximalSubpart(b []byte) int {
	lo, hi, need := byte(0x80), byte(0xbf), 0
	switch c := b[0]; {
	case c >= 0xc2 && c <= 0xdf:
		need = 1
	case c == 0xe0:
		lo, need = 0xa0, 2
	case c == 0xed:
		hi, need = 0x9f, 2
	case c >= 0xe1 && c <= 0xef:
		need = 2
	case c == 0xf0:
		lo, need = 0x90, 3
	case c == 0xf4:
		hi, need = 0x8f, 3
	case c >= 0xf1 && c <= 0xf3:
		need = 3
	default:
		return 1
	}
	n := 1
	for k := 0; k < need && n < len(b); k++ {
		if b[n] < lo || b[n] > hi {
			break
		}
		lo, hi = 0x80, 0xbf
		n++
	}
	return n
}

// quoteMax is the most characters of an input that Quote shows.
const quoteMax = 80

// Quote returns s quoted (%q) for an error message, cut to its first quoteMax characters with the number of bytes
// left out ("..." (+N bytes)), so that a long input is never echoed whole.
func Quote(s string) string {
	n := 0
	for i := range s {
		if n == quoteMax {
			return fmt.Sprintf("%q... (+%d bytes)", s[:i], len(s)-i)
		}
		n++
	}
	return fmt.Sprintf("%q", s)
}
