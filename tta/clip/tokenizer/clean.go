package tokenizer

import (
	"html"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Clean returns text as CLIP's tokenizer sees it before splitting it into words: OpenAI's
// `whitespace_clean(basic_clean(text)).lower()`, that is
//
//  1. invalid UTF-8 bytes become U+FFFD (Python strings cannot hold them);
//  2. ftfy.fix_text, of which only its last step, Unicode NFC, is reproduced (see the package doc);
//  3. Python's html.unescape, twice. Go's html.UnescapeString differs from it: for numeric references Python drops
//     control and non-character code points (&#1; -> ""), turns numbers beyond U+10FFFF into U+FFFD where Go's
//     int32 wraps around, and decodes a one-digit reference at the end of the text ("&#9"), which Go leaves; and
//     Go lacks the named references &nGt; and &nLt;. So only named references are delegated to Go;
//  4. Python's str.strip(), which also strips U+001C..U+001F;
//  5. runs of white space (the `regex` module's \s: Unicode White_Space) become one space, then strip again;
//  6. Python's str.lower(): U+0130 becomes "i̇" (two code points) and Σ becomes ς at the end of a word.
func Clean(text string) string {
	text = strings.ToValidUTF8(text, "\uFFFD")
	text = norm.NFC.String(text)
	text = unescapeHTML(unescapeHTML(text))
	text = pyStrip(text)
	text = collapseSpace(text)
	text = pyStrip(text)
	return pyLower(text)
}

// isRegexSpace is \s of Python's `regex` module on str patterns: the Unicode White_Space property.
func isRegexSpace(r rune) bool { return unicode.IsSpace(r) }

// isPySpace is Python's str.isspace(): White_Space plus the separators U+001C..U+001F.
func isPySpace(r rune) bool { return unicode.IsSpace(r) || (r >= 0x1c && r <= 0x1f) }

// pyStrip is Python's str.strip() without arguments.
func pyStrip(s string) string { return strings.TrimFunc(s, isPySpace) }

// collapseSpace replaces each run of white space (\s+) by one ASCII space.
func collapseSpace(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	inSpace := false
	for _, r := range s {
		if isRegexSpace(r) {
			if !inSpace {
				b.WriteByte(' ')
			}
			inSpace = true
			continue
		}
		inSpace = false
		b.WriteRune(r)
	}
	return b.String()
}

// pyLower is Python's str.lower(): the full lower-case mapping (U+0130 -> "i\u0307") and the Final_Sigma rule.
func pyLower(s string) string {
	var rs []rune
	var b strings.Builder
	b.Grow(len(s))
	for i, r := range s {
		switch r {
		case 0x130:
			b.WriteString("i\u0307")
		case 0x3a3:
			if rs == nil {
				rs = []rune(s)
			}
			if finalSigma(rs, utf8.RuneCountInString(s[:i])) {
				b.WriteRune('ς')
			} else {
				b.WriteRune('σ')
			}
		default:
			b.WriteRune(unicode.ToLower(r))
		}
	}
	return b.String()
}

// finalSigma reports whether the capital sigma rs[i] is in the Final_Sigma context:
// \p{cased} \p{case-ignorable}* Σ !(\p{case-ignorable}* \p{cased}), as CPython implements it.
func finalSigma(rs []rune, i int) bool {
	j := i - 1
	for j >= 0 && isCaseIgnorable(rs[j]) {
		j--
	}
	if j < 0 || !isCased(rs[j]) {
		return false
	}
	j = i + 1
	for j < len(rs) && isCaseIgnorable(rs[j]) {
		j++
	}
	return j == len(rs) || !isCased(rs[j])
}

// isCased is the Unicode Cased property: Lowercase, Uppercase or Lt.
func isCased(r rune) bool {
	return unicode.IsLower(r) || unicode.IsUpper(r) || unicode.IsTitle(r) ||
		unicode.Is(unicode.Other_Lowercase, r) || unicode.Is(unicode.Other_Uppercase, r)
}

// isCaseIgnorable is the Unicode Case_Ignorable property: Mn, Me, Cf, Lm, Sk and Word_Break MidLetter,
// MidNumLet or Single_Quote.
func isCaseIgnorable(r rune) bool {
	switch r {
	case '\'', '.', ':', 0xb7, 0x387, 0x55f, 0x5f4, 0x2018, 0x2019, 0x2024, 0x2027, 0xfe13, 0xfe52, 0xfe55,
		0xff07, 0xff0e, 0xff1a:
		return true
	}
	return unicode.In(r, unicode.Mn, unicode.Me, unicode.Cf, unicode.Lm, unicode.Sk)
}

// cp1252 maps the numeric references &#128; .. &#159; as HTML5 (and Python's html.unescape) does.
var cp1252 = [32]rune{
	0x20ac, 0x81, 0x201a, 0x192, 0x201e, 0x2026, 0x2020, 0x2021, 0x2c6, 0x2030, 0x160, 0x2039, 0x152, 0x8d, 0x17d, 0x8f,
	0x90, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022, 0x2013, 0x2014, 0x2dc, 0x2122, 0x161, 0x203a, 0x153, 0x9d, 0x17e, 0x178,
}

// unescapeHTML is Python's html.unescape: it replaces every match of
// &(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?) by its character reference.
// Named references (longest legacy prefix without ';' included) are resolved by Go's html package, whose HTML5
// table and prefix rule agree with Python's for a name isolated this way; numeric ones follow Python here.
func unescapeHTML(s string) string {
	amp := strings.IndexByte(s, '&')
	if amp < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for amp >= 0 {
		b.WriteString(s[:amp])
		s = s[amp:] // s[0] == '&'
		n, repl := charRef(s)
		if n == 0 {
			b.WriteByte('&')
			s = s[1:]
		} else {
			b.WriteString(repl)
			s = s[n:]
		}
		amp = strings.IndexByte(s, '&')
	}
	b.WriteString(s)
	return b.String()
}

// charRef matches a character reference at the start of s (s[0] == '&') and returns its length in bytes (0 when
// there is none) and its replacement.
func charRef(s string) (int, string) {
	if len(s) > 1 && s[1] == '#' {
		i, base := 2, 10
		if len(s) > 2 && (s[2] == 'x' || s[2] == 'X') {
			i, base = 3, 16
		}
		start := i
		num := 0 // Saturates above 0x10FFFF.
		for i < len(s) {
			d := digitValue(s[i], base)
			if d < 0 {
				break
			}
			if num <= 0x10ffff {
				num = num*base + d
			}
			i++
		}
		if i == start {
			return 0, ""
		}
		if i < len(s) && s[i] == ';' {
			i++
		}
		return i, numericRef(num)
	}
	// Named: up to 32 characters other than \t \n \f space < & # ;, then an optional ';'.
	i, count := 1, 0
	for i < len(s) && count < 32 {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == '\t' || r == '\n' || r == '\f' || r == ' ' || r == '<' || r == '&' || r == '#' || r == ';' {
			break
		}
		i += size
		count++
	}
	if count == 0 {
		return 0, ""
	}
	if i < len(s) && s[i] == ';' {
		i++
	}
	if repl, ok := missingEntities[s[1:i]]; ok {
		return i, repl
	}
	return i, html.UnescapeString(s[:i])
}

// missingEntities are the HTML5 named references that Go's html package lacks (it omits the two whose value
// is two code points with a combining mark); found by TestUnescapeHTML against Python's html.entities.html5.
var missingEntities = map[string]string{"nGt;": "\u226b\u20d2", "nLt;": "\u226a\u20d2"}

func digitValue(c byte, base int) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case base == 16 && c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case base == 16 && c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// numericRef is the replacement of &#num; in Python's html.unescape.
func numericRef(num int) string {
	switch {
	case num == 0:
		return "\uFFFD"
	case num == 0x0d:
		return "\r"
	case num >= 0x80 && num <= 0x9f:
		return string(cp1252[num-0x80])
	case (num >= 0xd800 && num <= 0xdfff) || num > 0x10ffff:
		return "\uFFFD"
	case (num >= 0x1 && num <= 0x8) || num == 0xb || (num >= 0xe && num <= 0x1f) || num == 0x7f ||
		(num >= 0xfdd0 && num <= 0xfdef) || num&0xfffe == 0xfffe:
		return "" // Python's _invalid_codepoints.
	}
	return string(rune(num))
}
