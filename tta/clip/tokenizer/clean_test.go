package tokenizer

import (
	"encoding/json"
	"os"
	"testing"
	"unicode"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestUnescapeHTML compares with Python's html.unescape on every HTML5 entity name (alone and followed by
// text) and on numeric references of every kind (testdata/html.jsonl).
func TestUnescapeHTML(t *testing.T) {
	cases := readJSONLines[[2]string](t, "testdata/html.jsonl")
	require.Greater(t, len(cases), 4000)
	bad := 0
	for i, c := range cases {
		if !assert.Equal(t, c[1], unescapeHTML(c[0]), "html.jsonl line %d: %q", i+1, c[0]) {
			if bad++; bad > 20 {
				t.Fatal("too many failures")
			}
		}
	}
}

// unicodeTables is testdata/unicode.json: Python's and the `regex` module's view of every code point.
type unicodeTables struct {
	PythonUnicode     string    `json:"python_unicode"`
	RegexSpace        [][2]rune `json:"regex_space"`
	RegexLetter       [][2]rune `json:"regex_letter"`
	RegexNumber       [][2]rune `json:"regex_number"`
	StrIsspace        [][2]rune `json:"str_isspace"`
	PythonUnassigned  [][2]rune `json:"python_unassigned"`
	Lower             [][2]any  `json:"lower"`
	SigmaFinalAfter   [][2]rune `json:"sigma_final_after"`
	SigmaFinalBefore  [][2]rune `json:"sigma_final_before"`
	SigmaFinalBetween [][2]rune `json:"sigma_final_between"`
}

func inRanges(ranges [][2]rune, r rune) bool {
	for _, rg := range ranges {
		if r >= rg[0] && r <= rg[1] {
			return true
		}
	}
	return false
}

// rangeTable turns [lo, hi] pairs into a lookup set.
func rangeSet(ranges [][2]rune) map[rune]bool {
	set := map[rune]bool{}
	for _, rg := range ranges {
		for r := rg[0]; r <= rg[1]; r++ {
			set[r] = true
		}
	}
	return set
}

// TestUnicodeClasses checks, for every code point, \s, \p{L}, \p{N} against the `regex` module, str.isspace,
// str.lower and the final-sigma rule against Python. Code points that Python's Unicode tables (older than Go's)
// leave unassigned are skipped for the str methods.
func TestUnicodeClasses(t *testing.T) {
	data, err := os.ReadFile("testdata/unicode.json")
	require.NoError(t, err)
	var u unicodeTables
	require.NoError(t, json.Unmarshal(data, &u))
	t.Logf("Python Unicode %s, Go Unicode %s", u.PythonUnicode, unicode.Version)
	unassigned := rangeSet(u.PythonUnassigned)
	space, letter, number, isspace := rangeSet(u.RegexSpace), rangeSet(u.RegexLetter), rangeSet(u.RegexNumber), rangeSet(u.StrIsspace)
	after, before, between := rangeSet(u.SigmaFinalAfter), rangeSet(u.SigmaFinalBefore), rangeSet(u.SigmaFinalBetween)
	lower := map[rune]string{}
	for _, l := range u.Lower {
		lower[rune(l[0].(float64))] = l[1].(string)
	}
	bad := map[string]int{}
	check := func(name string, ok bool, r rune) {
		if !ok {
			if bad[name]++; bad[name] <= 5 {
				t.Errorf("%s differs from Python at U+%04X %q", name, r, r)
			}
		}
	}
	for r := rune(0); r <= unicode.MaxRune; r++ {
		if r >= 0xd800 && r <= 0xdfff {
			continue
		}
		check(`regex \s`, space[r] == isRegexSpace(r), r)
		check(`regex \p{L}`, letter[r] == unicode.IsLetter(r), r)
		check(`regex \p{N}`, number[r] == unicode.IsNumber(r), r)
		if unassigned[r] {
			continue
		}
		check("str.isspace", isspace[r] == isPySpace(r), r)
		want, changed := lower[r]
		if !changed {
			want = string(r)
		}
		check("str.lower", want == pyLower(string(r)), r)
		s := string(r)
		check("final sigma after", after[r] == (lastRune(pyLower(s+"Σ")) == 'ς'), r)
		check("final sigma before", before[r] == ([]rune(pyLower("ΑΣ" + s))[1] == 'ς'), r)
		check("final sigma between", between[r] == (lastRune(pyLower("Α"+s+"Σ")) == 'ς'), r)
	}
	for name, n := range bad {
		t.Errorf("%s: %d code points differ", name, n)
	}
}

func lastRune(s string) rune {
	rs := []rune(s)
	return rs[len(rs)-1]
}
