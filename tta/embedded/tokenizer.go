package embedded

import (
	"fmt"
	"sort"
	"strings"
)

// Special tokens of the word-level vocabulary. Pad is id 0 (CLIP pads with zeros); Unknown is id 1; SOT and EOT
// are the two largest ids, so CLIP's rule "the EOT feature is at argmax(token id)" holds.
const (
	PadToken     = "<pad>"
	UnknownToken = "<unk>"
	SOTToken     = "<|startoftext|>"
	EOTToken     = "<|endoftext|>"
)

// WordTokenizer is the word-level tokenizer of the embedded CLIP: lower-cased words and the punctuation marks . , ! ?
// are tokens; a word outside the vocabulary becomes UnknownToken. It satisfies clip.Tokenizer.
type WordTokenizer struct {
	words []string       // id -> token
	ids   map[string]int // token -> id
}

// NewTokenizer builds a tokenizer whose vocabulary is PadToken (id 0), UnknownToken (1), the given words sorted and
// de-duplicated (lower-cased; ids 2..), then SOTToken and EOTToken (the two largest ids).
func NewTokenizer(words []string) *WordTokenizer {
	set := map[string]bool{}
	for _, w := range words {
		w = strings.ToLower(strings.TrimSpace(w))
		if w != "" && w != PadToken && w != UnknownToken && w != SOTToken && w != EOTToken {
			set[w] = true
		}
	}
	sorted := make([]string, 0, len(set))
	for w := range set {
		sorted = append(sorted, w)
	}
	sort.Strings(sorted)
	vocab := append([]string{PadToken, UnknownToken}, sorted...)
	vocab = append(vocab, SOTToken, EOTToken)
	t, _ := TokenizerFromVocabulary(vocab)
	return t
}

// TokenizerFromVocabulary rebuilds a tokenizer from its vocabulary in id order (Vocabulary's output, as stored in
// the weights file's metadata): it must start with PadToken, UnknownToken and end with SOTToken, EOTToken, without
// duplicates.
func TokenizerFromVocabulary(vocab []string) (*WordTokenizer, error) {
	n := len(vocab)
	if n < 4 || vocab[0] != PadToken || vocab[1] != UnknownToken || vocab[n-2] != SOTToken || vocab[n-1] != EOTToken {
		return nil, fmt.Errorf("embedded: vocabulary of %d tokens must be %s, %s, words..., %s, %s", n, PadToken,
			UnknownToken, SOTToken, EOTToken)
	}
	t := &WordTokenizer{words: append([]string(nil), vocab...), ids: make(map[string]int, n)}
	for i, w := range vocab {
		if _, dup := t.ids[w]; dup {
			return nil, fmt.Errorf("embedded: vocabulary token %q appears twice", w)
		}
		t.ids[w] = i
	}
	return t, nil
}

// Vocabulary returns the tokens in id order (a copy).
func (t *WordTokenizer) Vocabulary() []string { return append([]string(nil), t.words...) }

// VocabSize is the number of tokens (the text tower's token-embedding rows).
func (t *WordTokenizer) VocabSize() int { return len(t.words) }

// SOT and EOT return the ids of the start and end tokens (VocabSize-2 and VocabSize-1).
func (t *WordTokenizer) SOT() int { return len(t.words) - 2 }

// EOT returns the id of the end-of-text token, the largest id.
func (t *WordTokenizer) EOT() int { return len(t.words) - 1 }

// Words splits text into tokens: lower-cased, split on white space, with each of . , ! ? its own token.
func Words(text string) []string {
	var out []string
	for _, f := range strings.Fields(strings.ToLower(text)) {
		start := 0
		for i, r := range f {
			if strings.ContainsRune(".,!?", r) {
				if i > start {
					out = append(out, f[start:i])
				}
				out = append(out, string(r))
				start = i + 1
			}
		}
		if start < len(f) {
			out = append(out, f[start:])
		}
	}
	return out
}

// Tokens returns the ids of text's words (Words), without SOT/EOT; unknown words map to UnknownToken's id.
func (t *WordTokenizer) Tokens(text string) []int {
	ws := Words(text)
	ids := make([]int, len(ws))
	for i, w := range ws {
		id, ok := t.ids[w]
		if !ok {
			id = t.ids[UnknownToken]
		}
		ids[i] = id
	}
	return ids
}

// Encode implements clip.Tokenizer: exactly contextLen ids, SOT, the word ids, EOT, then zeros. A text too long
// for contextLen is an error unless truncate, in which case it is cut and the last id is EOT (as clip.tokenize).
func (t *WordTokenizer) Encode(text string, contextLen int, truncate bool) ([]int, error) {
	if contextLen < 2 {
		return nil, fmt.Errorf("embedded.Tokenizer: context length %d < 2", contextLen)
	}
	ids := append([]int{t.SOT()}, t.Tokens(text)...)
	ids = append(ids, t.EOT())
	if len(ids) > contextLen {
		if !truncate {
			return nil, fmt.Errorf("embedded.Tokenizer: input %q is too long for context length %d (%d tokens)",
				text, contextLen, len(ids))
		}
		ids = ids[:contextLen]
		ids[contextLen-1] = t.EOT()
	}
	out := make([]int, contextLen)
	copy(out, ids)
	return out, nil
}

// Decode turns ids back into text: the tokens between SOT and EOT joined by spaces (padding and specials dropped).
func (t *WordTokenizer) Decode(ids []int) string {
	var ws []string
	for _, id := range ids {
		if id <= 0 || id >= len(t.words) || id == t.SOT() {
			continue
		}
		if id == t.EOT() {
			break
		}
		ws = append(ws, t.words[id])
	}
	return strings.Join(ws, " ")
}
