package tokenizer

import (
	"unicode"
	"unicode/utf8"
)

// Special tokens of CLIP's vocabulary.
const (
	startOfText = "<|startoftext|>"
	endOfText   = "<|endoftext|>"
)

// contractions are the pattern's alternatives after the special tokens, in the pattern's order.
var contractions = []string{"'s", "'t", "'re", "'ve", "'m", "'ll", "'d"}

// splitWords is re.findall of CLIP's pre-tokenisation pattern
//
//	<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+
//
// compiled with re.IGNORECASE by the `regex` module: at each position the first alternative that matches wins,
// literals compare under simple case folding (so "'ſ" matches 's), and characters that start no match (white space)
// are skipped. It appends the words of text to words and returns it.
func splitWords(words []string, text string) []string {
	for i := 0; i < len(text); {
		rest := text[i:]
		if n := matchFold(rest, startOfText); n > 0 {
			words = append(words, rest[:n])
			i += n
			continue
		}
		if n := matchFold(rest, endOfText); n > 0 {
			words = append(words, rest[:n])
			i += n
			continue
		}
		if rest[0] == '\'' {
			matched := false
			for _, c := range contractions {
				if n := matchFold(rest, c); n > 0 {
					words = append(words, rest[:n])
					i += n
					matched = true
					break
				}
			}
			if matched {
				continue
			}
		}
		r, size := utf8.DecodeRuneInString(rest)
		switch {
		case unicode.IsLetter(r): // [\p{L}]+
			n := size
			for n < len(rest) {
				r2, s2 := utf8.DecodeRuneInString(rest[n:])
				if !unicode.IsLetter(r2) {
					break
				}
				n += s2
			}
			words = append(words, rest[:n])
			i += n
		case unicode.IsNumber(r): // [\p{N}]
			words = append(words, rest[:size])
			i += size
		case !isRegexSpace(r): // [^\s\p{L}\p{N}]+
			n := size
			for n < len(rest) {
				r2, s2 := utf8.DecodeRuneInString(rest[n:])
				if isRegexSpace(r2) || unicode.IsLetter(r2) || unicode.IsNumber(r2) {
					break
				}
				n += s2
			}
			words = append(words, rest[:n])
			i += n
		default: // White space starts no match.
			i += size
		}
	}
	return words
}

// foldEqual reports whether r and lit are equal under simple case folding (lit's orbit of unicode.SimpleFold).
func foldEqual(r, lit rune) bool {
	if r == lit {
		return true
	}
	for f := unicode.SimpleFold(lit); f != lit; f = unicode.SimpleFold(f) {
		if r == f {
			return true
		}
	}
	return false
}

// matchFold returns the length in bytes of the prefix of s that equals lit under simple case folding, or 0.
func matchFold(s, lit string) int {
	n := 0
	for _, lr := range lit {
		if n >= len(s) {
			return 0
		}
		r, size := utf8.DecodeRuneInString(s[n:])
		if !foldEqual(r, lr) {
			return 0
		}
		n += size
	}
	return n
}
