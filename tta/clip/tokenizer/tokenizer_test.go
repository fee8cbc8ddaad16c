package tokenizer

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// vocabFile is the committed copy of OpenAI's merges file, the one the package embeds.
const vocabFile = "bpe_simple_vocab_16e6.txt.gz"

// loadOpenAI returns the tokenizer of the embedded OpenAI vocabulary.
func loadOpenAI(t testing.TB) *Tokenizer {
	t.Helper()
	tok, err := OpenAI()
	require.NoError(t, err)
	return tok
}

// TestOpenAIVocab checks the embedded vocabulary is OpenAI's file (its SHA-256, computed here, not taken from the
// package's check), that OpenAI loads it once, and that it tokenizes as Load of the committed file does.
func TestOpenAIVocab(t *testing.T) {
	sum := sha256.Sum256(OpenAIVocab())
	assert.Equal(t, "924691ac288e54409236115652ad4aa250f48203de50a9e4722a6ecd48d6804a", hex.EncodeToString(sum[:]))
	assert.Equal(t, OpenAIVocabSHA256, hex.EncodeToString(sum[:]))
	onDisk, err := os.ReadFile(vocabFile)
	require.NoError(t, err)
	assert.True(t, bytes.Equal(onDisk, OpenAIVocab()), "%s differs from the embedded vocabulary", vocabFile)

	tok := loadOpenAI(t)
	again, err := OpenAI()
	require.NoError(t, err)
	assert.Same(t, tok, again, "OpenAI must load the vocabulary once")
	assert.Equal(t, 49408, tok.VocabSize())
	assert.Equal(t, 49406, tok.SOT())
	assert.Equal(t, 49407, tok.EOT())

	fromFile, err := Load(vocabFile)
	require.NoError(t, err)
	assert.Equal(t, fromFile.decoder, tok.decoder)
	assert.Equal(t, fromFile.ranks, tok.ranks)
	// clip.tokenize("a photo of a goldfish.") with OpenAI's tokenizer (golden.jsonl).
	ids, err := tok.Encode("a photo of a goldfish.", 8, false)
	require.NoError(t, err)
	assert.Equal(t, []int{49406, 320, 1125, 539, 320, 40293, 269, 49407}, ids)
}

// goldenRecord is one line of testdata/golden.jsonl, written by testdata/make_golden.py from OpenAI's tokenizer.
type goldenRecord struct {
	Text        string `json:"text"`
	Context     int    `json:"context"`
	Clean       string `json:"clean"`
	Tokens      []int  `json:"tokens"`
	Decoded     string `json:"decoded"`
	IDs         []int  `json:"ids"` // nil when clip.tokenize raised: too long.
	Error       string `json:"error"`
	IDsTruncate []int  `json:"ids_truncate"`
}

func readJSONLines[T any](t testing.TB, path string) []T {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	var out []T
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for line := 1; sc.Scan(); line++ {
		var v T
		require.NoError(t, json.Unmarshal(sc.Bytes(), &v), "%s line %d", path, line)
		out = append(out, v)
	}
	require.NoError(t, sc.Err())
	return out
}

func TestGolden(t *testing.T) {
	tok := loadOpenAI(t)
	records := readJSONLines[goldenRecord](t, "testdata/golden.jsonl")
	require.GreaterOrEqual(t, len(records), 300)
	assert.Equal(t, 49406, tok.SOT())
	assert.Equal(t, 49407, tok.EOT())
	assert.Equal(t, 49408, tok.VocabSize())

	t.Run("Clean", func(t *testing.T) {
		for i, r := range records {
			assert.Equal(t, r.Clean, Clean(r.Text), "golden.jsonl line %d: %q", i+1, r.Text)
		}
	})
	t.Run("EncodeTokens", func(t *testing.T) {
		for i, r := range records {
			assert.Equal(t, r.Tokens, orEmpty(tok.EncodeTokens(r.Text)), "golden.jsonl line %d: %q", i+1, r.Text)
		}
	})
	t.Run("Decode", func(t *testing.T) {
		for i, r := range records {
			assert.Equal(t, r.Decoded, tok.Decode(r.Tokens), "golden.jsonl line %d: %q", i+1, r.Text)
		}
	})
	t.Run("Encode", func(t *testing.T) {
		tooLong := 0
		for i, r := range records {
			ids, err := tok.Encode(r.Text, r.Context, false)
			if r.IDs == nil {
				tooLong++
				require.Error(t, err, "golden.jsonl line %d: Python raised %q", i+1, r.Error)
				assert.Contains(t, err.Error(), Quote(r.Text), "the error quotes the start of the text")
				assert.Contains(t, err.Error(), fmt.Sprintf("context length %d", r.Context))
				continue
			}
			require.NoError(t, err, "golden.jsonl line %d", i+1)
			assert.Equal(t, r.IDs, ids, "golden.jsonl line %d: %q", i+1, r.Text)
		}
		assert.Greater(t, tooLong, 10, "the corpus should hold texts too long for their context")
	})
	t.Run("EncodeTruncate", func(t *testing.T) {
		for i, r := range records {
			ids, err := tok.Encode(r.Text, r.Context, true)
			require.NoError(t, err, "golden.jsonl line %d", i+1)
			assert.Equal(t, r.IDsTruncate, ids, "golden.jsonl line %d: %q", i+1, r.Text)
		}
	})
	t.Run("EOTIndex", func(t *testing.T) {
		for i, r := range records {
			// CLIP reads the feature at the first EOT of the Python ids.
			assert.Equal(t, slices.Index(r.IDsTruncate, 49407), EOTIndex(r.IDsTruncate), "golden.jsonl line %d", i+1)
		}
		assert.Equal(t, -1, EOTIndex(nil))
		assert.Equal(t, 2, EOTIndex([]int{3, 1, 7, 7, 0}))
	})
}

func orEmpty(ids []int) []int {
	if ids == nil {
		return []int{}
	}
	return ids
}

func TestDecodeIllFormed(t *testing.T) {
	tok := loadOpenAI(t)
	cases := readJSONLines[[2]json.RawMessage](t, "testdata/decode.jsonl")
	require.NotEmpty(t, cases)
	for i, c := range cases {
		var ids []int
		var want string
		require.NoError(t, json.Unmarshal(c[0], &ids))
		require.NoError(t, json.Unmarshal(c[1], &want))
		assert.Equal(t, want, tok.Decode(ids), "decode.jsonl line %d: %v", i+1, ids)
	}
	assert.Equal(t, "\uFFFD", tok.Decode([]int{-1}))
	assert.Equal(t, "\uFFFD", tok.Decode([]int{49408}))
}

func TestLoadHF(t *testing.T) {
	tok := loadOpenAI(t)
	records := readJSONLines[goldenRecord](t, "testdata/golden.jsonl")
	// Plain copies of the gzipped files.
	dir := t.TempDir()
	plain := map[string]string{}
	for _, name := range []string{"vocab.json", "merges.txt"} {
		f, err := os.Open(filepath.Join("testdata", "hf", name+".gz"))
		require.NoError(t, err)
		zr, err := gzip.NewReader(f)
		require.NoError(t, err)
		data, err := io.ReadAll(zr)
		require.NoError(t, err)
		require.NoError(t, f.Close())
		plain[name] = filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(plain[name], data, 0o644))
	}
	for name, paths := range map[string][2]string{
		"gzip":  {"testdata/hf/vocab.json.gz", "testdata/hf/merges.txt.gz"},
		"plain": {plain["vocab.json"], plain["merges.txt"]},
	} {
		t.Run(name, func(t *testing.T) {
			hf, err := LoadHF(paths[0], paths[1])
			require.NoError(t, err)
			assert.Equal(t, tok.SOT(), hf.SOT())
			assert.Equal(t, tok.EOT(), hf.EOT())
			assert.Equal(t, tok.VocabSize(), hf.VocabSize())
			assert.Equal(t, tok.decoder, hf.decoder)
			for i, r := range records {
				ids, err := hf.Encode(r.Text, r.Context, true)
				require.NoError(t, err)
				assert.Equal(t, r.IDsTruncate, ids, "golden.jsonl line %d: %q", i+1, r.Text)
			}
		})
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	t.Run("missing", func(t *testing.T) {
		_, err := Load(filepath.Join(dir, "nope.txt.gz"))
		require.ErrorContains(t, err, "nope.txt.gz")
		_, err = LoadHF(filepath.Join(dir, "vocab.json"), filepath.Join(dir, "merges.txt"))
		require.ErrorContains(t, err, "vocab.json")
	})
	t.Run("short", func(t *testing.T) {
		p := filepath.Join(dir, "short.txt")
		require.NoError(t, os.WriteFile(p, []byte("#version\ni n\n"), 0o644))
		_, err := Load(p)
		require.ErrorContains(t, err, "short.txt")
	})
	t.Run("hf-missing-special", func(t *testing.T) {
		vocab := map[string]int{}
		for i, r := range byteOrder() {
			vocab[string(r)] = i
			vocab[string(r)+"</w>"] = 256 + i
		}
		vocab["<|startoftext|>"] = 512
		data, err := json.Marshal(vocab)
		require.NoError(t, err)
		vp, mp := filepath.Join(dir, "v.json"), filepath.Join(dir, "m.txt")
		require.NoError(t, os.WriteFile(vp, data, 0o644))
		require.NoError(t, os.WriteFile(mp, []byte("#version: 0.2\n"), 0o644))
		_, err = LoadHF(vp, mp)
		require.ErrorContains(t, err, "<|endoftext|>")
		// With it, a merge whose result is not in the vocabulary is an error naming the merge.
		vocab["<|endoftext|>"] = 513
		data, err = json.Marshal(vocab)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(vp, data, 0o644))
		require.NoError(t, os.WriteFile(mp, []byte("#version: 0.2\ni n\n"), 0o644))
		_, err = LoadHF(vp, mp)
		require.ErrorContains(t, err, `"in"`)
		require.NoError(t, os.WriteFile(mp, []byte("#version: 0.2\n"), 0o644))
		hf, err := LoadHF(vp, mp)
		require.NoError(t, err)
		// Without merges every byte is its own token: "hi" -> "h", "i</w>".
		assert.Equal(t, []int{vocab["h"], vocab["i</w>"]}, hf.EncodeTokens("Hi"))
	})
}

func TestEncodeErrors(t *testing.T) {
	tok := loadOpenAI(t)
	_, err := tok.Encode("a dog", 0, true)
	require.ErrorContains(t, err, "context length 0")
	long := strings.Repeat("dog ", 80)
	_, err = tok.Encode(long, ContextLength, false)
	require.ErrorContains(t, err, "dog dog dog")
	ids, err := tok.Encode(long, ContextLength, true)
	require.NoError(t, err)
	require.Len(t, ids, ContextLength)
	assert.Equal(t, tok.EOT(), ids[ContextLength-1])
}

// TestConcurrent encodes from several goroutines sharing one cache.
func TestConcurrent(t *testing.T) {
	tok := loadOpenAI(t)
	records := readJSONLines[goldenRecord](t, "testdata/golden.jsonl")
	var wg sync.WaitGroup
	errs := make(chan string, 4)
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := g; i < len(records); i += 4 {
				if ids, _ := tok.Encode(records[i].Text, records[i].Context, true); !slices.Equal(ids, records[i].IDsTruncate) {
					errs <- fmt.Sprintf("golden.jsonl line %d", i+1)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

// BenchmarkEncode encodes the 1000 "a photo of a {class}." prompts of the golden corpus; it reports prompts/s
// with a warm cache (the steady state) and without a cache.
func BenchmarkEncode(b *testing.B) {
	tok := loadOpenAI(b)
	records := readJSONLines[goldenRecord](b, "testdata/golden.jsonl")
	var prompts []string
	for _, r := range records {
		if strings.HasPrefix(r.Text, "a photo of a ") && len(prompts) < 1000 {
			prompts = append(prompts, r.Text)
		}
	}
	require.Len(b, prompts, 1000)
	for _, cached := range []bool{true, false} {
		b.Run(fmt.Sprintf("cache=%v", cached), func(b *testing.B) {
			tok.noCache = !cached
			defer func() { tok.noCache = false }()
			b.ResetTimer()
			n := 0
			for b.Loop() {
				n++
				for _, p := range prompts {
					if _, err := tok.Encode(p, ContextLength, false); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(n*len(prompts))/b.Elapsed().Seconds(), "prompts/s")
		})
	}
}

func TestQuoteIsShort(t *testing.T) {
	long := strings.Repeat("é", 10<<20)
	q := Quote(long)
	if len(q) > 200 || !strings.Contains(q, fmt.Sprintf("(+%d bytes)", len(long)-160)) {
		t.Fatalf("Quote of a 20 MB input is %d bytes: %.120s", len(q), q)
	}
	if got := Quote("a photo"); got != `"a photo"` {
		t.Fatalf("Quote(short) = %s", got)
	}
}
