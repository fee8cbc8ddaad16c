package main

import (
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gotta-ml/gotta/tta"
	"github.com/gotta-ml/gotta/tta/weights"
)

// EnvFetchBaseURL overrides the host of every download of `gotta fetch` (a mirror, or a local test server).
const EnvFetchBaseURL = "GOTTA_FETCH_BASE_URL"

func init() {
	register("fetch", "download published CLIP / ResNet weights into the weights directory, SHA-256 verified", runFetch)
}

func runFetch(args []string) error { return fetchMain(args, os.Stdout) }

// fetchMain parses the fetch subcommand's arguments and runs it, printing to out.
func fetchMain(args []string, out io.Writer) error {
	var models strings.Builder
	for _, s := range weights.Sources() {
		fmt.Fprintf(&models, "  %-7s %-13s %s\n", s.Family, s.Model, s.Note)
	}
	fs := newFlags("fetch", "[flags] clip RN50|RN101|ViT-B/32|ViT-B/16|ViT-L/14 ... | resnet resnet50|resnet50.tv2|resnext50 ...", `
Downloads published weight files (safetensors, with OpenAI / torchvision state-dict names) into the weights
directory ($GOTTA_HOME/weights, see gotta doctor), under <family>/<model>/. CLIP models also get the tokenizer's
vocabulary, clip/bpe_simple_vocab_16e6.txt.gz.

Each file is written to a temporary file and renamed into place once its SHA-256 is verified; a file already
present with the right hash is left alone. Some hashes could not be known when the table of sources was written
(the hub's weight files): those are shown as "unknown", the file is then accepted as downloaded (or as found) and
its SHA-256 is printed so that you can check it, once it is checked to be what its name says (a safetensors file
whose header parses, a gzip stream that decompresses, not an HTML page): otherwise it is deleted, with an error
saying so (and such a file found in place is downloaded again). A file whose hash differs from a known one is an
error and is not kept.

Offline (any network error), fetch prints which files to download by other means, their URLs, where to put them
and their SHA-256 when known, and exits with status 1. Nothing else in GoTTA touches the network.

Known models:
`+models.String())
	baseURL := fs.String("base-url", os.Getenv(EnvFetchBaseURL),
		"scheme://host[/prefix] replacing the host of every URL (a mirror); default $"+EnvFetchBaseURL)
	dir := fs.String("dir", "", "weights directory (default tta.WeightsDir(): $GOTTA_HOME/weights)")
	list := fs.Bool("list", false, "list the known models and their files, fetch nothing")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dir == "" {
		*dir = tta.WeightsDir()
	}
	if *list {
		for _, s := range weights.Sources() {
			fmt.Fprintf(out, "%s %s: %s\n", s.Family, s.Model, s.Note)
			for _, f := range s.Files {
				fmt.Fprintf(out, "  %s\n    -> %s\n    sha256 %s\n", f.URL(*baseURL), f.LocalPath(*dir), hashOrUnknown(f.SHA256))
			}
		}
		return nil
	}
	rest := fs.Args()
	if len(rest) < 2 {
		fs.Usage()
		return errors.New("need a family (clip or resnet) and at least one model")
	}
	family := rest[0]
	var files []weights.SourceFile
	seen := map[string]bool{}
	for _, m := range rest[1:] {
		s, err := weights.LookupSource(family, m)
		if err != nil {
			return err
		}
		for _, f := range s.Files {
			if !seen[f.Local] {
				seen[f.Local] = true
				files = append(files, f)
			}
		}
	}
	return fetchFiles(context.Background(), out, newFetchClient(), *baseURL, *dir, files)
}

// newFetchClient returns an HTTP client with connection timeouts but no overall deadline (files are GBs).
func newFetchClient() *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	tr.TLSHandshakeTimeout = 30 * time.Second
	tr.ResponseHeaderTimeout = 60 * time.Second
	return &http.Client{Transport: tr}
}

// networkError marks a failure to download (as opposed to a bad file).
type networkError struct{ err error }

func (e *networkError) Error() string { return e.err.Error() }
func (e *networkError) Unwrap() error { return e.err }

func hashOrUnknown(h string) string {
	if h == "" {
		return "unknown (any file accepted; its hash is printed)"
	}
	return h
}

// fetchFiles makes sure every file is present under dir with its hash, downloading what is missing. Network
// failures are gathered and reported together with manual instructions; a hash mismatch fails at once.
func fetchFiles(ctx context.Context, out io.Writer, client *http.Client, baseURL, dir string, files []weights.SourceFile) error {
	var offline []weights.SourceFile
	var offlineErrs []error
	for _, f := range files {
		dest := f.LocalPath(dir)
		if sum, err := fileSHA256(dest); err == nil {
			switch verr := validateWeightFile(dest); {
			case f.SHA256 == sum || (f.SHA256 == "" && verr == nil):
				fmt.Fprintf(out, "ok       %s (present, sha256 %s)\n", dest, sum)
				continue
			case f.SHA256 == "":
				fmt.Fprintf(out, "invalid  %s: %v; downloading again\n", dest, verr)
			default:
				fmt.Fprintf(out, "mismatch %s: sha256 %s, want %s; downloading again\n", dest, sum, f.SHA256)
			}
		}
		url := f.URL(baseURL)
		fmt.Fprintf(out, "download %s\n      -> %s\n", url, dest)
		start := time.Now()
		n, sum, err := download(ctx, client, url, dest, f.SHA256, out)
		var nerr *networkError
		if errors.As(err, &nerr) {
			fmt.Fprintf(out, "failed   %v\n", err)
			offline = append(offline, f)
			offlineErrs = append(offlineErrs, err)
			continue
		}
		if err != nil {
			return err
		}
		secs := time.Since(start).Seconds()
		fmt.Fprintf(out, "ok       %s (%.1f MB in %.1f s, sha256 %s", dest, float64(n)/1e6, secs, sum)
		if f.SHA256 == "" {
			fmt.Fprint(out, ", not checked: no known hash")
		}
		fmt.Fprintln(out, ")")
	}
	if len(offline) == 0 {
		return nil
	}
	fmt.Fprintf(out, "\nCould not download %d file(s) (offline?). Download them by other means and put them here:\n",
		len(offline))
	for _, f := range offline {
		fmt.Fprintf(out, "  URL:    %s\n  file:   %s\n  sha256: %s\n\n", f.URL(baseURL), f.LocalPath(dir),
			hashOrUnknown(f.SHA256))
	}
	fmt.Fprintf(out, "Then run the same gotta fetch command again to check them.\n")
	return fmt.Errorf("%d file(s) not downloaded: %w", len(offline), errors.Join(offlineErrs...))
}

// download gets url into dest through a temporary file in dest's directory, renamed into place when the SHA-256
// matches want (any hash when want is ""). It returns the byte count and the hex SHA-256.
// Progress is printed to progress every few seconds.
func download(ctx context.Context, client *http.Client, url, dest, want string, progress io.Writer) (n int64, sum string, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, "", err
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", &networkError{err}
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, "", &networkError{fmt.Errorf("GET %s: %s", url, resp.Status)}
	}
	if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
		return 0, "", err
	}
	tmp, err := os.CreateTemp(filepath.Dir(dest), "."+filepath.Base(dest)+".part*")
	if err != nil {
		return 0, "", err
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	h := sha256.New()
	pw := &progressWriter{out: progress, total: resp.ContentLength, last: time.Now()}
	n, err = io.Copy(io.MultiWriter(tmp, h, pw), resp.Body)
	if err != nil {
		return n, "", &networkError{fmt.Errorf("GET %s: after %d bytes: %w", url, n, err)}
	}
	if resp.ContentLength >= 0 && n != resp.ContentLength {
		return n, "", &networkError{fmt.Errorf("GET %s: got %d of %d bytes", url, n, resp.ContentLength)}
	}
	sum = hex.EncodeToString(h.Sum(nil))
	if want != "" && sum != want {
		return n, sum, fmt.Errorf("%s: SHA-256 mismatch: got %s, want %s (file not kept)", url, sum, want)
	}
	if err = tmp.Sync(); err != nil {
		return n, sum, err
	}
	if verr := validateWeightFile(tmp.Name()); want == "" && verr != nil { // A known hash says more than this.
		err = fmt.Errorf("%s: the download is not a %s file (%v); deleted, not saved as %s", url,
			filepath.Ext(dest), verr, dest)
		return n, sum, err
	}
	if err = tmp.Chmod(0o644); err != nil {
		return n, sum, err
	}
	if err = tmp.Close(); err != nil {
		return n, sum, err
	}
	if err = os.Rename(tmp.Name(), dest); err != nil {
		return n, sum, err
	}
	return n, sum, nil
}

// validateWeightFile checks that a file is what its name says: a safetensors file whose header parses
// (.safetensors), a gzip stream that decompresses to its end (.gz); any other file must not be an HTML page (the
// error page of a proxy or a hub).
func validateWeightFile(path string) error {
	switch {
	case strings.HasSuffix(path, ".safetensors") || strings.Contains(filepath.Base(path), ".safetensors.part"):
		f, err := weights.Open(path)
		if err != nil {
			return fmt.Errorf("safetensors header: %w", stripPrefix(err, path))
		}
		return f.Close()
	case strings.HasSuffix(path, ".gz") || strings.Contains(filepath.Base(path), ".gz.part"):
		fh, err := os.Open(path)
		if err != nil {
			return err
		}
		defer fh.Close()
		zr, err := gzip.NewReader(fh)
		if err != nil {
			return fmt.Errorf("gzip: %w", err)
		}
		if _, err := io.Copy(io.Discard, zr); err != nil {
			return fmt.Errorf("gzip: %w", err)
		}
		return nil
	}
	fh, err := os.Open(path)
	if err != nil {
		return err
	}
	defer fh.Close()
	head := make([]byte, 512)
	k, _ := io.ReadFull(fh, head)
	t := strings.ToLower(strings.TrimSpace(string(head[:k])))
	if strings.HasPrefix(t, "<!doctype html") || strings.HasPrefix(t, "<html") {
		return errors.New("an HTML page")
	}
	return nil
}

// stripPrefix drops "weights: PATH: " from an error of weights.Open, which the caller names otherwise.
func stripPrefix(err error, path string) error {
	msg := strings.TrimPrefix(strings.TrimPrefix(err.Error(), "weights: "), path+": ")
	return errors.New(msg)
}

// fileSHA256 hashes a file; it fails when the file does not exist.
func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// progressWriter counts bytes and prints the count every progressEvery.
type progressWriter struct {
	out   io.Writer
	total int64 // -1 when unknown
	n     int64
	last  time.Time
}

const progressEvery = 5 * time.Second

func (p *progressWriter) Write(b []byte) (int, error) {
	p.n += int64(len(b))
	if now := time.Now(); now.Sub(p.last) >= progressEvery {
		p.last = now
		if p.total > 0 {
			fmt.Fprintf(p.out, "         %.1f / %.1f MB\n", float64(p.n)/1e6, float64(p.total)/1e6)
		} else {
			fmt.Fprintf(p.out, "         %.1f MB\n", float64(p.n)/1e6)
		}
	}
	return len(b), nil
}
