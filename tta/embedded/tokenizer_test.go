package embedded

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gotta-ml/gotta/tta/clip"
)

var _ clip.Tokenizer = (*WordTokenizer)(nil)

func TestTokenizer(t *testing.T) {
	tok := NewTokenizer(VocabularyWords())
	n := tok.VocabSize()
	t.Run("specials", func(t *testing.T) {
		v := tok.Vocabulary()
		assert.Equal(t, PadToken, v[0])
		assert.Equal(t, UnknownToken, v[1])
		assert.Equal(t, n-2, tok.SOT())
		assert.Equal(t, n-1, tok.EOT())
		assert.Equal(t, SOTToken, v[tok.SOT()])
		assert.Equal(t, EOTToken, v[tok.EOT()])
	})
	t.Run("words", func(t *testing.T) {
		assert.Equal(t, []string{"a", "photo", "of", "the", "number", "seven", "."}, Words("A photo of the number seven."))
		assert.Equal(t, []string{"x", ",", "y", "!", "?"}, Words("  x, y!? "))
	})
	t.Run("encode", func(t *testing.T) {
		ids, err := tok.Encode("a handwritten 7.", 12, false)
		require.NoError(t, err)
		require.Len(t, ids, 12)
		assert.Equal(t, tok.SOT(), ids[0])
		assert.Equal(t, tok.EOT(), ids[5]) // SOT a handwritten 7 . EOT
		assert.Equal(t, []int{0, 0, 0, 0, 0, 0}, ids[6:])
		assert.Equal(t, "a handwritten 7 .", tok.Decode(ids))
		// The EOT feature is read at argmax(ids), as CLIP does.
		best := 0
		for i, id := range ids {
			if id > ids[best] {
				best = i
			}
		}
		assert.Equal(t, 5, best)
		unk, err := tok.Encode("a zebra", 6, false)
		require.NoError(t, err)
		assert.Equal(t, 1, unk[2], "unknown word")
	})
	t.Run("truncate", func(t *testing.T) {
		_, err := tok.Encode("a photo of the number seven.", 5, false)
		require.Error(t, err)
		ids, err := tok.Encode("a photo of the number seven.", 5, true)
		require.NoError(t, err)
		assert.Equal(t, tok.EOT(), ids[4])
	})
	t.Run("captions in vocabulary and context", func(t *testing.T) {
		for l := range 10 {
			for _, tpl := range append(CaptionTemplates(), EnsembleTemplates()...) {
				c := Caption(tpl, l)
				for _, id := range tok.Tokens(c) {
					assert.NotEqual(t, 1, id, "caption %q has an unknown word", c)
				}
				_, err := tok.Encode(c, CLIPConfig(n).ContextLength, false)
				assert.NoError(t, err, c)
			}
		}
		assert.Equal(t, "a photo of the number seven.", Caption(DefaultTemplate, 7))
		assert.Equal(t, "a handwritten 3.", Caption("a handwritten {#}.", 3))
	})
	t.Run("round trip", func(t *testing.T) {
		t2, err := TokenizerFromVocabulary(tok.Vocabulary())
		require.NoError(t, err)
		assert.Equal(t, tok.Vocabulary(), t2.Vocabulary())
		_, err = TokenizerFromVocabulary([]string{"a", "b"})
		require.Error(t, err)
	})
}
