package nb

import (
	"encoding/json"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// maxCodeLines is the most lines of code a report notebook may have over all its code cells: the notebooks are
// thin drivers, everything else lives in this package and tta/report.
const maxCodeLines = 40

// reportNotebooks are the report notebooks, relative to this package's folder.
var reportNotebooks = []string{"../01_zero_shot_tpt.ipynb", "../02_memo.ipynb", "../03_ensembles.ipynb",
	"../04_ablations.ipynb", "../05_beyond_tpt.ipynb"}

// gonbPath is the import path prefix of GoNB's packages (gonbui and its sub-packages).
const gonbPath = "github.com/janpfeifer/gonb/"

type notebookCell struct {
	Type   string `json:"cell_type"`
	Source any    `json:"source"` // a string, or a list of lines
}

// readCells returns the cells of an .ipynb file with their sources joined.
func readCells(t *testing.T, path string) (types, sources []string) {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	var nb struct {
		Cells []notebookCell `json:"cells"`
	}
	require.NoError(t, json.Unmarshal(data, &nb), "%s", path)
	for i, c := range nb.Cells {
		var src string
		switch s := c.Source.(type) {
		case string:
			src = s
		case []any:
			for _, line := range s {
				l, ok := line.(string)
				require.True(t, ok, "%s: cell %d: a source line is not a string", path, i)
				src += l
			}
		default:
			t.Fatalf("%s: cell %d: source is %T", path, i, c.Source)
		}
		types, sources = append(types, c.Type), append(sources, src)
	}
	return types, sources
}

// codeLines counts the lines of a code cell that are neither blank nor only a // comment.
func codeLines(src string) int {
	n := 0
	for _, l := range strings.Split(src, "\n") {
		l = strings.TrimSpace(l)
		if l != "" && !strings.HasPrefix(l, "//") {
			n++
		}
	}
	return n
}

func TestCodeLines(t *testing.T) {
	assert.Equal(t, 0, codeLines("\n  // a comment\n\t\n"))
	assert.Equal(t, 3, codeLines("%%\nx := 1 // set x\n\n// why\nfmt.Println(x)\n"))
}

func TestReportNotebooksAreThin(t *testing.T) {
	funcDecl := regexp.MustCompile(`(?m)^\s*func\s`)
	for _, path := range reportNotebooks {
		t.Run(filepath.Base(path), func(t *testing.T) {
			types, sources := readCells(t, path)
			require.NotEmpty(t, types)
			assert.Equal(t, "markdown", types[0], "the first cell says what the notebook reproduces")
			assert.Contains(t, sources[0], "Reproduces", "the first cell says what the notebook reproduces")
			total, cells := 0, 0
			for i, src := range sources {
				if types[i] != "code" {
					continue
				}
				cells++
				total += codeLines(src)
				assert.False(t, funcDecl.MatchString(src), "code cell %d declares a function: helpers belong in "+
					"notebooks/nb", i)
				assert.NotContains(t, src, gonbPath, "code cell %d imports GoNB's packages: use notebooks/nb", i)
			}
			t.Logf("%s: %d lines of code in %d code cells", path, total, cells)
			assert.LessOrEqual(t, total, maxCodeLines, "lines of code over all code cells")
			assert.GreaterOrEqual(t, cells, 4, "a setup cell, a settings cell and an experiment cell each")
		})
	}
}

func TestGonbuiOnlyInThisPackage(t *testing.T) {
	root, err := filepath.Abs("../..")
	require.NoError(t, err)
	_, err = os.Stat(filepath.Join(root, "go.mod"))
	require.NoError(t, err, "the repository root")
	here, err := filepath.Abs(".")
	require.NoError(t, err)
	var goFiles, notebooks int
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != root && (strings.HasPrefix(name, ".") || name == "results") {
				return filepath.SkipDir
			}
			return nil
		}
		rel, _ := filepath.Rel(root, path)
		switch {
		case strings.HasSuffix(path, ".go"):
			goFiles++
			f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
			if err != nil {
				return err
			}
			for _, imp := range f.Imports {
				p, _ := strconv.Unquote(imp.Path.Value)
				if strings.HasPrefix(p, gonbPath) && filepath.Dir(path) != here {
					t.Errorf("%s imports %s: only notebooks/nb may import GoNB's packages", rel, p)
				}
			}
		case strings.HasSuffix(path, ".ipynb"):
			notebooks++
			types, sources := readCells(t, path)
			for i, src := range sources {
				if types[i] == "code" && strings.Contains(src, gonbPath) {
					t.Errorf("%s: code cell %d imports GoNB's packages: use notebooks/nb", rel, i)
				}
			}
		}
		return nil
	})
	require.NoError(t, err)
	assert.Greater(t, goFiles, 50, "the walk saw the repository's Go files")
	assert.GreaterOrEqual(t, notebooks, 5, "the walk saw the notebooks")
}
