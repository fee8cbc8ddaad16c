package imagenet

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// readFacts reads a file of testdata/ (see testdata/README.md), the facts table.go is generated from, as lines.
func readFacts(t *testing.T, name string) []string {
	t.Helper()
	p := filepath.Join("testdata", name)
	data, err := os.ReadFile(p)
	require.NoError(t, err, "reading %s", p)
	return strings.Split(strings.TrimRight(string(data), "\n"), "\n")
}

// TestTableMatchesFacts checks the committed table against testdata/, parsed independently of the generator.
func TestTableMatchesFacts(t *testing.T) {
	t.Run("classes.tsv", func(t *testing.T) {
		lines := readFacts(t, "classes.tsv")
		require.Len(t, lines, NumClasses+1)
		header := strings.Split(lines[0], "\t")
		col := map[string]int{}
		for i, h := range header {
			col[h] = i
		}
		var a, r []int
		for i, line := range lines[1:] {
			f := strings.Split(line, "\t")
			require.Len(t, f, len(header), "line %d", i+2)
			assert.Equal(t, f[col["wnid"]], WNID(i), "class %d", i)
			assert.Equal(t, f[col["clip_name"]], ClassName(i), "class %d", i)
			if f[col["in_imagenet_a"]] == "1" {
				a = append(a, i)
			}
			if f[col["in_imagenet_r"]] == "1" {
				r = append(r, i)
			}
		}
		assert.Equal(t, a, SubsetA())
		assert.Equal(t, r, SubsetR())
	})
	t.Run("templates.txt", func(t *testing.T) {
		assert.Equal(t, readFacts(t, "templates.txt"), Templates())
	})
	t.Run("templates_tip.txt", func(t *testing.T) {
		assert.Equal(t, readFacts(t, "templates_tip.txt"), TipTemplates())
	})
}

// TestTableFacts checks properties of the table that hold whatever the fact files say.
func TestTableFacts(t *testing.T) {
	w := WNIDs()
	require.Len(t, w, NumClasses)
	assert.True(t, slices.IsSorted(w), "ImageNet-1k class indices follow wnid order")
	assert.Equal(t, "n01440764", w[0])
	assert.Equal(t, "n15075141", w[999])
	assert.Equal(t, "tench", ClassName(0))
	assert.Equal(t, "toilet paper", ClassName(999))
	names := ClassNames()
	require.Len(t, names, NumClasses)
	i, ok := IndexOf("n01498041") // stingray, the first ImageNet-A folder
	assert.True(t, ok)
	assert.Equal(t, 6, i)
	_, ok = IndexOf("n00000000")
	assert.False(t, ok)
	for name, s := range map[string][]int{"A": SubsetA(), "R": SubsetR()} {
		require.Len(t, s, NumSubsetClasses, name)
		assert.True(t, slices.IsSorted(s), name)
		assert.Len(t, slices.Compact(slices.Clone(s)), NumSubsetClasses, name)
	}
	// The first entries of the standard ImageNet-A mask (thousand_k_to_200 of the ImageNet-A repository).
	assert.Equal(t, []int{6, 11, 13, 15, 17, 22, 23, 27, 30, 37}, SubsetA()[:10])
	assert.Len(t, Templates(), 80)
	assert.Len(t, TipTemplates(), 7)
	assert.Contains(t, Templates(), SimpleTemplate)
	assert.Equal(t, "a photo of a tench.", Prompt(SimpleTemplate, ClassName(0)))
	assert.Equal(t, []string{"a x.", "a y.", "b x.", "b y."}, Prompts([]string{"a {}.", "b {}."}, []string{"x", "y"}))
	// Mutating a returned slice does not change the table.
	w[0] = "changed"
	assert.Equal(t, "n01440764", WNID(0))
}
