package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// openAIVocab is OpenAI's vocabulary as committed in the repository: the file tta/clip/tokenizer embeds.
const openAIVocab = "../../tta/clip/tokenizer/bpe_simple_vocab_16e6.txt.gz"

// tokenizeGolden is the tokenizer's golden corpus: OpenAI's clip.tokenize outputs (see its README.md).
const tokenizeGolden = "../../tta/clip/tokenizer/testdata/golden.jsonl"

type tokenizeRecord struct {
	Text        string `json:"text"`
	Context     int    `json:"context"`
	IDs         []int  `json:"ids"`
	IDsTruncate []int  `json:"ids_truncate"`
}

// tokenizeRecords returns the golden records of context 77 whose text is one line.
func tokenizeRecords(t *testing.T) []tokenizeRecord {
	t.Helper()
	f, err := os.Open(tokenizeGolden)
	require.NoError(t, err)
	defer f.Close()
	var recs []tokenizeRecord
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var r tokenizeRecord
		require.NoError(t, json.Unmarshal(sc.Bytes(), &r))
		if r.Context == 77 && !strings.ContainsAny(r.Text, "\n\r") {
			recs = append(recs, r)
		}
	}
	require.NoError(t, sc.Err())
	return recs
}

func runTokenizeLines(t *testing.T, args []string, input string) (stdout []string, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err = tokenizeCmd(args, strings.NewReader(input), &out, &errOut)
	s := strings.TrimSuffix(out.String(), "\n")
	if s != "" {
		stdout = strings.Split(s, "\n")
	}
	return stdout, errOut.String(), err
}

func idsJSON(ids []int) string {
	b, _ := json.Marshal(ids)
	return string(b)
}

func TestTokenize(t *testing.T) {
	recs := tokenizeRecords(t)
	var texts []string
	for _, r := range recs {
		texts = append(texts, r.Text)
	}
	input := strings.Join(texts, "\n") + "\n"

	t.Run("truncate", func(t *testing.T) {
		out, stderr, err := runTokenizeLines(t, []string{"--vocab", openAIVocab, "--truncate"}, input)
		require.NoError(t, err, stderr)
		require.Len(t, out, len(recs))
		for i, r := range recs {
			assert.Equal(t, idsJSON(r.IDsTruncate), out[i], "line %d: %q", i+1, r.Text)
		}
	})

	t.Run("too-long", func(t *testing.T) {
		out, stderr, err := runTokenizeLines(t, []string{"--vocab", openAIVocab}, input)
		require.Error(t, err)
		require.Len(t, out, len(recs))
		failed := 0
		for i, r := range recs {
			if r.IDs == nil {
				failed++
				assert.Equal(t, "null", out[i])
				assert.Contains(t, stderr, fmt.Sprintf("line %d: ", i+1))
				continue
			}
			assert.Equal(t, idsJSON(r.IDs), out[i], "line %d: %q", i+1, r.Text)
		}
		require.Greater(t, failed, 0)
		assert.Contains(t, err.Error(), fmt.Sprintf("%d of %d lines", failed, len(recs)))
		assert.Equal(t, failed, strings.Count(stderr, "\n"))
	})

	t.Run("hf-crlf-no-final-newline", func(t *testing.T) {
		args := []string{"--vocab", "../../tta/clip/tokenizer/testdata/hf/vocab.json.gz",
			"--merges", "../../tta/clip/tokenizer/testdata/hf/merges.txt.gz", "--truncate"}
		out, stderr, err := runTokenizeLines(t, args, strings.Join(texts[:20], "\r\n"))
		require.NoError(t, err, stderr)
		require.Len(t, out, 20)
		for i, r := range recs[:20] {
			assert.Equal(t, idsJSON(r.IDsTruncate), out[i], "line %d: %q", i+1, r.Text)
		}
	})

	t.Run("context", func(t *testing.T) {
		out, _, err := runTokenizeLines(t, []string{"--vocab", openAIVocab, "--context", "4", "--truncate"}, "a photo of a dog.\n\n")
		require.NoError(t, err)
		// Python: clip.tokenize(["a photo of a dog.", ""], context_length=4, truncate=True).
		assert.Equal(t, []string{"[49406,320,1125,49407]", "[49406,49407,0,0]"}, out)
	})

	t.Run("errors", func(t *testing.T) {
		_, _, err := runTokenizeLines(t, []string{"--help"}, "")
		require.ErrorIs(t, err, flag.ErrHelp)
		_, _, err = runTokenizeLines(t, nil, "")
		require.ErrorContains(t, err, "--vocab is required")
		_, _, err = runTokenizeLines(t, []string{"--vocab", "no/such/file.gz"}, "")
		require.ErrorContains(t, err, "no/such/file.gz")
		_, _, err = runTokenizeLines(t, []string{"--vocab", openAIVocab, "--context", "0"}, "")
		require.ErrorContains(t, err, "--context 0")
	})
}
