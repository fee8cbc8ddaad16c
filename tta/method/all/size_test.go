package all_test

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/gotta-ml/gotta/tta/method"
)

// maxMethodFileLines is the size the method-spec design keeps every method package's files under (tent, the
// model of a TTA method, is about 125 lines): a longer file is a sign that a method holds what belongs in tta.
const maxMethodFileLines = 350

// TestMethodFilesAreSmall checks that no non-test Go file of a registered method's package is longer than
// maxMethodFileLines lines. The package is found from the spec's Build function.
func TestMethodFilesAreSmall(t *testing.T) {
	const module = "github.com/gotta-ml/gotta/"
	seen := map[string]bool{}
	for _, s := range method.All() {
		name := s.Name
		fn := runtime.FuncForPC(reflect.ValueOf(s.Build).Pointer()).Name() // e.g. github.com/gotta-ml/gotta/tta/tda.build
		slash := strings.LastIndex(fn, "/")
		pkg := fn[:slash+strings.Index(fn[slash:], ".")]
		if !strings.HasPrefix(pkg, module) {
			t.Fatalf("method %q: Build %s is outside the module", name, fn)
		}
		dir := filepath.Join("..", "..", "..", strings.TrimPrefix(pkg, module))
		if seen[dir] {
			continue
		}
		seen[dir] = true
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil || len(files) == 0 {
			t.Fatalf("method %q: no Go files in %s (%v)", name, dir, err)
		}
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if n := bytes.Count(raw, []byte("\n")); n > maxMethodFileLines {
				t.Errorf("method %q: %s has %d lines (at most %d)", name, f, n, maxMethodFileLines)
			}
		}
	}
	if len(seen) < 5 {
		t.Fatalf("found only %d method packages: %v", len(seen), seen)
	}
	t.Logf("%d method packages checked", len(seen))
}
