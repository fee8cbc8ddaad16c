package storage

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"gocloud.dev/blob"
)

// cachePaths returns where the copy of the object at l lives under dir, and its metadata file:
// dir/SCHEME/BUCKET/objects/KEY and dir/SCHEME/BUCKET/meta/KEY.json.
func cachePaths(dir string, l Location) (data, meta string) {
	bucket := l.Bucket
	if bucket == "" {
		bucket = "_"
	}
	root := filepath.Join(dir, l.Scheme, bucket)
	key := filepath.FromSlash(l.Key)
	return filepath.Join(root, "objects", key), filepath.Join(root, "meta", key+".json")
}

// cacheValid says whether the cached copy of l is of the object version info (its metadata matches and the file
// has the size), and returns its path.
func cacheValid(dir string, l Location, info objectInfo) (string, bool) {
	data, meta := cachePaths(dir, l)
	b, err := os.ReadFile(meta)
	if err != nil {
		return data, false
	}
	var have objectInfo
	if json.Unmarshal(b, &have) != nil || !have.same(info) {
		return data, false
	}
	st, err := os.Stat(data)
	return data, err == nil && st.Mode().IsRegular() && st.Size() == info.Size
}

// cacheRead returns the cached copy of l when it is of the object version info.
func cacheRead(dir string, l Location, info objectInfo) ([]byte, bool) {
	p, ok := cacheValid(dir, l, info)
	if !ok {
		return nil, false
	}
	data, err := os.ReadFile(p)
	return data, err == nil && int64(len(data)) == info.Size
}

// cacheWrite stores data as the copy of l, version info (the file first, then its metadata, each renamed into
// place: a crash leaves no metadata naming a partial file).
func cacheWrite(dir string, l Location, info objectInfo, data []byte) error {
	p, meta := cachePaths(dir, l)
	if err := writeAtomic(p, func(w io.Writer) error { _, err := w.Write(data); return err }); err != nil {
		return err
	}
	return writeMeta(meta, info)
}

func writeMeta(meta string, info objectInfo) error {
	b, err := json.Marshal(info)
	if err != nil {
		return err
	}
	return writeAtomic(meta, func(w io.Writer) error { _, err := w.Write(b); return err })
}

// writeAtomic writes a file through a temporary file in its folder, renamed into place once complete.
func writeAtomic(p string, write func(io.Writer) error) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(p), ".tmp-"+filepath.Base(p)+"-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), p)
}

// Fetch makes a local copy of the object at rawURL under the cache folder dir, and returns
// its path. A copy already there is used when the object's size and MD5/ETag are unchanged (one metadata
// request); otherwise the object is downloaded to a temporary file, checked to be complete, and renamed into
// place. A download that fails or ends early is retried with backoff; the error names the object.
func Fetch(ctx context.Context, rawURL, dir string, retry Retry) (string, error) {
	l, err := Parse(rawURL)
	if err != nil {
		return "", err
	}
	if l.Key == "" || l.Dir {
		return "", fmt.Errorf("storage: %s: want an object, not a folder", l)
	}
	if dir == "" {
		return "", fmt.Errorf("storage: fetching %s: no cache folder", l)
	}
	b, err := openBucket(ctx, l)
	if err != nil {
		return "", err
	}
	a, err := b.Attributes(ctx, l.Key)
	if err != nil {
		return "", describe(ctx, b, l, err)
	}
	info := attributesInfo(a)
	p, ok := cacheValid(dir, l, info)
	if ok {
		return p, nil
	}
	_, meta := cachePaths(dir, l)
	_ = os.Remove(meta)
	err = retry.do(ctx, l, func() error {
		return writeAtomic(p, func(w io.Writer) error {
			r, err := b.NewReader(ctx, l.Key, nil)
			if err != nil {
				return err
			}
			defer r.Close()
			n, err := io.Copy(w, r)
			if err != nil || n != info.Size {
				return &truncatedError{got: n, want: info.Size, cause: err}
			}
			return nil
		})
	}, func(err error) error { return describe(ctx, b, l, err) })
	if err != nil {
		return "", err
	}
	if err := writeMeta(meta, info); err != nil {
		return "", fmt.Errorf("storage: caching %s: %w", l, err)
	}
	return p, nil
}

// Into returns the URL of the object name in the folder rawURL when rawURL is a folder (it ends with "/" or is a
// bucket's root), else rawURL; query parameters are kept.
func Into(rawURL, name string) (string, error) {
	l, err := Parse(rawURL)
	if err != nil {
		return "", err
	}
	if !l.Dir && l.Key != "" {
		return rawURL, nil
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return "", err
	}
	u.Path = "/" + l.Join(name).Key
	u.RawPath = ""
	return u.String(), nil
}

// Upload copies the local file src to rawURL; a URL ending with "/" is a folder, where the file keeps its base
// name. It returns the URL written (without query parameters). The local file is left as it is.
func Upload(ctx context.Context, src, rawURL string) (string, error) {
	rawURL, err := Into(rawURL, filepath.Base(src))
	if err != nil {
		return "", err
	}
	l, err := Parse(rawURL)
	if err != nil {
		return "", err
	}
	f, err := os.Open(src)
	if err != nil {
		return "", fmt.Errorf("storage: upload: %w", err)
	}
	defer f.Close()
	b, err := openBucket(ctx, l)
	if err != nil {
		return "", err
	}
	ct := mime.TypeByExtension(path.Ext(l.Key))
	switch {
	case strings.HasSuffix(l.Key, ".jsonl"):
		ct = "application/jsonl"
	case ct == "":
		ct = "application/octet-stream"
	}
	if err := b.Upload(ctx, l.Key, f, &blob.WriterOptions{ContentType: ct}); err != nil {
		return "", fmt.Errorf("storage: uploading %s to %s: %w", src, l, describe(ctx, b, l, err))
	}
	return l.String(), nil
}

// Exists says whether the object at rawURL exists (an error for a missing bucket or a refusal).
func Exists(ctx context.Context, rawURL string) (bool, error) {
	l, err := Parse(rawURL)
	if err != nil {
		return false, err
	}
	b, err := openBucket(ctx, l)
	if err != nil {
		return false, err
	}
	ok, err := b.Exists(ctx, l.Key)
	if err != nil {
		return false, describe(ctx, b, l, err)
	}
	if !ok {
		if acc, aerr := b.IsAccessible(ctx); aerr == nil && !acc {
			return false, bucketNotFound(l)
		}
	}
	return ok, nil
}

// List returns the URLs of the objects directly under the folder rawURL whose names end with suffix, sorted by
// key (every page of the listing). An empty folder is an error naming it.
func List(ctx context.Context, rawURL, suffix string) ([]string, error) {
	l, err := Parse(rawURL)
	if err != nil {
		return nil, err
	}
	b, err := openBucket(ctx, l)
	if err != nil {
		return nil, err
	}
	prefix := l.Key
	if prefix != "" {
		prefix += "/"
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, err
	}
	var urls []string
	it := b.List(&blob.ListOptions{Prefix: prefix, Delimiter: "/"})
	for {
		o, err := it.Next(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, describe(ctx, b, l, err)
		}
		if !o.IsDir && strings.HasSuffix(o.Key, suffix) && o.Key != prefix {
			ou := url.URL{Scheme: u.Scheme, Host: u.Host, Path: "/" + o.Key, RawQuery: u.RawQuery}
			urls = append(urls, ou.String())
		}
	}
	if len(urls) == 0 {
		if acc, aerr := b.IsAccessible(ctx); aerr == nil && !acc {
			return nil, bucketNotFound(l)
		}
		return nil, fmt.Errorf("storage: %s: no object ending with %q there: %w", l, suffix, ErrObjectNotFound)
	}
	slices.Sort(urls)
	return urls, nil
}
