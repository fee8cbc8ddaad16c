package storage

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"gocloud.dev/blob"
)

// Options configures OpenFS.
type Options struct {
	// Cache, when not "", is the folder of the local copies of the objects read (CacheDir() is the usual one);
	// a copy is used again while the object's MD5/ETag and size are unchanged. Default: no cache.
	// The folder is shared with Fetch: SCHEME/BUCKET/objects/KEY and SCHEME/BUCKET/meta/KEY.json.
	Cache string
	// ReadAhead is the number of files fetched ahead of the reader once Prefetch gave the order of the reads.
	// Default (zero value): 8; negative: none.
	ReadAhead int
	// Retry says how a failed or cut-short read is retried.
	Retry Retry
}

// FS is a read-only io/fs file system over a bucket prefix: folders are the "/"-separated prefixes of the keys.
// It implements fs.ReadDirFS, fs.ReadFileFS and fs.StatFS; ReadDir lists sorted by name (every page of the
// listing: buckets return at most 1,000 keys a page). Errors name the object's URL and the cause (wrapping
// fs.ErrNotExist, ErrNotFound or ErrAccessDenied where that is the cause). FS is safe for concurrent use.
type FS struct {
	ctx    context.Context
	loc    Location
	bucket *blob.Bucket
	opts   Options

	mu     sync.Mutex
	listed map[string]objectInfo // by name (relative to loc), from the listings made so far
	ahead  *readAhead
}

// objectInfo is what identifies one version of an object: its size and, when the store gives them, MD5 and ETag.
type objectInfo struct {
	Size int64  `json:"size"`
	MD5  string `json:"md5,omitempty"`
	ETag string `json:"etag,omitempty"`
}

// same says whether two infos describe the same object version: same size, and same MD5 and ETag where both
// sides know them.
func (a objectInfo) same(b objectInfo) bool {
	return a.Size == b.Size && (a.MD5 == "" || b.MD5 == "" || a.MD5 == b.MD5) &&
		(a.ETag == "" || b.ETag == "" || a.ETag == b.ETag)
}

// OpenFS opens the folder (prefix) at a storage URL. It fails, naming the bucket, when the bucket does not exist
// or the credentials cannot see it; ctx bounds every later request.
func OpenFS(ctx context.Context, rawURL string, opts Options) (*FS, error) {
	l, err := Parse(rawURL)
	if err != nil {
		return nil, err
	}
	l.Dir = true
	b, err := openBucket(ctx, l)
	if err != nil {
		return nil, err
	}
	ok, err := b.IsAccessible(ctx)
	if err != nil {
		return nil, describe(ctx, b, l, err)
	}
	if !ok {
		return nil, bucketNotFound(l)
	}
	if opts.ReadAhead == 0 {
		opts.ReadAhead = 8
	}
	return &FS{ctx: ctx, loc: l, bucket: b, opts: opts, listed: map[string]objectInfo{}}, nil
}

// URL returns the folder's URL without query parameters (SCHEME://BUCKET/PREFIX/).
func (f *FS) URL() string { return f.loc.String() }

// key returns the bucket key of a file-system name.
func (f *FS) key(name string) string {
	if name == "." {
		return f.loc.Key
	}
	if f.loc.Key == "" {
		return name
	}
	return f.loc.Key + "/" + name
}

// pathError returns err (which names the object) for op on name, also matching fs.ErrNotExist when the cause
// is a missing object or bucket; an error that does not name the object yet is made to.
func (f *FS) pathError(op, name string, err error) error {
	if !strings.HasPrefix(err.Error(), "storage: ") {
		err = fmt.Errorf("storage: %s %s: %w", op, f.loc.Join(name), err)
	}
	if errors.Is(err, ErrNotFound) {
		return notExist{err}
	}
	return err
}

// notExist is an error of a missing object that also matches fs.ErrNotExist.
type notExist struct{ error }

func (e notExist) Unwrap() []error { return []error{e.error, fs.ErrNotExist} }

// ReadDir implements fs.ReadDirFS: the files and sub-folders of folder name, sorted by name. A folder with no key
// under it does not exist.
func (f *FS) ReadDir(name string) ([]fs.DirEntry, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: fs.ErrInvalid}
	}
	prefix := f.key(name)
	if prefix != "" {
		prefix += "/"
	}
	var entries []fs.DirEntry
	infos := map[string]objectInfo{}
	it := f.bucket.List(&blob.ListOptions{Prefix: prefix, Delimiter: "/"})
	for {
		o, err := it.Next(f.ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, f.pathError("readdir", name, describe(f.ctx, f.bucket, f.loc.Join(name), err))
		}
		base := strings.TrimSuffix(strings.TrimPrefix(o.Key, prefix), "/")
		if base == "" || strings.Contains(base, "/") || base == "." || base == ".." {
			continue // The folder's own marker object, or a key fs names cannot express ("a//b").
		}
		e := &entry{name: base, dir: o.IsDir, size: o.Size, mod: o.ModTime}
		entries = append(entries, e)
		if !o.IsDir {
			infos[path.Join(name, base)] = objectInfo{Size: o.Size, MD5: hex.EncodeToString(o.MD5)}
		}
	}
	if len(entries) == 0 {
		return nil, f.pathError("readdir", name, fmt.Errorf("no object under this prefix: %w", ErrObjectNotFound))
	}
	slices.SortFunc(entries, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	// A key may be both an object and a prefix ("a" and "a/b"): keep the folder, as a file system would have to.
	entries = slices.CompactFunc(entries, func(a, b fs.DirEntry) bool { return a.Name() == b.Name() })
	f.mu.Lock()
	for k, v := range infos {
		f.listed[k] = v
	}
	f.mu.Unlock()
	return entries, nil
}

// Stat implements fs.StatFS.
func (f *FS) Stat(name string) (fs.FileInfo, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "stat", Path: name, Err: fs.ErrInvalid}
	}
	if name == "." {
		return &entry{name: ".", dir: true}, nil
	}
	a, err := f.bucket.Attributes(f.ctx, f.key(name))
	if err == nil {
		return &entry{name: path.Base(name), size: a.Size, mod: a.ModTime}, nil
	}
	derr := describe(f.ctx, f.bucket, f.loc.Join(name), err)
	if !errors.Is(derr, ErrObjectNotFound) {
		return nil, f.pathError("stat", name, derr)
	}
	objs, _, lerr := f.bucket.ListPage(f.ctx, blob.FirstPageToken, 1, &blob.ListOptions{Prefix: f.key(name) + "/"})
	if lerr != nil {
		return nil, f.pathError("stat", name, describe(f.ctx, f.bucket, f.loc.Join(name), lerr))
	}
	if len(objs) == 0 {
		return nil, f.pathError("stat", name, derr)
	}
	return &entry{name: path.Base(name), dir: true}, nil
}

// Open implements fs.FS: a file is read whole (with ReadFile's retries and cache), a folder lists itself.
func (f *FS) Open(name string) (fs.File, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrInvalid}
	}
	st, err := f.Stat(name)
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		entries, err := f.ReadDir(name)
		if err != nil {
			return nil, err
		}
		return &dirFile{entry: st.(*entry), entries: entries}, nil
	}
	data, err := f.ReadFile(name)
	if err != nil {
		return nil, err
	}
	return &memFile{entry: st.(*entry), Reader: bytes.NewReader(data)}, nil
}

// ReadFile implements fs.ReadFileFS: the whole object, from the read-ahead, the cache (when its copy is of the
// same object version) or the bucket. A read that fails or ends early is retried (Options.Retry), then the
// error names the object, the bytes read and the cause.
func (f *FS) ReadFile(name string) ([]byte, error) {
	if !fs.ValidPath(name) || name == "." {
		return nil, &fs.PathError{Op: "read", Path: name, Err: fs.ErrInvalid}
	}
	if data, err, ok := f.takeAhead(name); ok {
		return data, err
	}
	return f.readFile(name)
}

// readFile reads name through the cache when there is one.
func (f *FS) readFile(name string) ([]byte, error) {
	l := f.loc.Join(name)
	var info objectInfo
	known := false
	if f.opts.Cache != "" {
		f.mu.Lock()
		info, known = f.listed[name]
		f.mu.Unlock()
		if !known {
			a, err := f.bucket.Attributes(f.ctx, l.Key)
			if err != nil {
				return nil, f.pathError("read", name, describe(f.ctx, f.bucket, l, err))
			}
			info, known = attributesInfo(a), true
		}
		if data, ok := cacheRead(f.opts.Cache, l, info); ok {
			return data, nil
		}
	}
	var data []byte
	err := f.opts.Retry.do(f.ctx, l, func() error {
		var err error
		data, err = readObject(f.ctx, f.bucket, l)
		return err
	}, func(err error) error { return describe(f.ctx, f.bucket, l, err) })
	if err != nil {
		return nil, f.pathError("read", name, err)
	}
	if f.opts.Cache != "" && known {
		// The cache is only a cache: a copy that cannot be written is read from the bucket next time.
		_ = cacheWrite(f.opts.Cache, l, info, data)
	}
	return data, nil
}

// readObject reads the object at l whole; a read shorter than the object's size is a truncatedError.
func readObject(ctx context.Context, b *blob.Bucket, l Location) ([]byte, error) {
	r, err := b.NewReader(ctx, l.Key, nil)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	size := r.Size()
	buf := bytes.NewBuffer(make([]byte, 0, max(size, 0)))
	n, err := io.Copy(buf, r)
	if err != nil || (size >= 0 && n != size) {
		return nil, &truncatedError{got: n, want: size, cause: err}
	}
	return buf.Bytes(), nil
}

func attributesInfo(a *blob.Attributes) objectInfo {
	return objectInfo{Size: a.Size, MD5: hex.EncodeToString(a.MD5), ETag: strings.Trim(a.ETag, `"`)}
}

// Prefetch gives the order in which the files names will be read: from then on, ReadFile of one of them starts
// the reads of the next Options.ReadAhead ones in the background. A later call replaces the order.
func (f *FS) Prefetch(names []string) {
	if f.opts.ReadAhead < 0 {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.ahead != nil {
		f.ahead.stop()
	}
	f.ahead = newReadAhead(f, names, f.opts.ReadAhead)
	f.ahead.fill(0)
}

// takeAhead returns name's bytes from the read-ahead when it holds or fetches them (ok), and moves the
// read-ahead's window past name.
func (f *FS) takeAhead(name string) (data []byte, err error, ok bool) {
	f.mu.Lock()
	ra := f.ahead
	f.mu.Unlock()
	if ra == nil {
		return nil, nil, false
	}
	return ra.take(name)
}

// readAhead fetches the files of a known read order ahead of the reader, at most window of them at a time.
type readAhead struct {
	f      *FS
	order  []string
	pos    map[string]int
	window int

	mu      sync.Mutex
	next    int // the next position of order to start fetching
	pending map[string]*fetch
	stopped bool
}

// fetch is one background read.
type fetch struct {
	done chan struct{}
	data []byte
	err  error
}

func newReadAhead(f *FS, order []string, window int) *readAhead {
	ra := &readAhead{f: f, order: slices.Clone(order), pos: make(map[string]int, len(order)), window: window,
		pending: map[string]*fetch{}}
	for i, n := range order {
		if _, dup := ra.pos[n]; !dup {
			ra.pos[n] = i
		}
	}
	return ra
}

// fill starts the fetches of positions from..from+window-1 not started yet.
func (ra *readAhead) fill(from int) {
	ra.mu.Lock()
	defer ra.mu.Unlock()
	if ra.stopped {
		return
	}
	ra.next = max(ra.next, from)
	for ; ra.next < len(ra.order) && ra.next < from+ra.window; ra.next++ {
		name := ra.order[ra.next]
		if _, ok := ra.pending[name]; ok {
			continue
		}
		ft := &fetch{done: make(chan struct{})}
		ra.pending[name] = ft
		go func() {
			ft.data, ft.err = ra.f.readFile(name)
			close(ft.done)
		}()
	}
}

// take returns name's fetched bytes (waiting for its fetch) and moves the window past it; ok is false for a name
// outside the order, or not fetched (then the caller reads it itself).
func (ra *readAhead) take(name string) (data []byte, err error, ok bool) {
	p, inOrder := ra.pos[name]
	if !inOrder {
		return nil, nil, false
	}
	ra.fill(p + 1)
	ra.mu.Lock()
	ft, fetched := ra.pending[name]
	delete(ra.pending, name)
	ra.mu.Unlock()
	if !fetched {
		return nil, nil, false
	}
	select {
	case <-ft.done:
	case <-ra.f.ctx.Done():
		return nil, ra.f.pathError("read", name, ra.f.ctx.Err()), true
	}
	return ft.data, ft.err, true
}

// stop starts no more fetches (those under way finish and are dropped).
func (ra *readAhead) stop() {
	ra.mu.Lock()
	ra.stopped = true
	ra.pending = map[string]*fetch{}
	ra.mu.Unlock()
}

// entry is a file or folder of an FS: both its fs.DirEntry and its fs.FileInfo.
type entry struct {
	name string
	dir  bool
	size int64
	mod  time.Time
}

func (e *entry) Name() string { return e.name }
func (e *entry) IsDir() bool  { return e.dir }
func (e *entry) Type() fs.FileMode {
	if e.dir {
		return fs.ModeDir
	}
	return 0
}
func (e *entry) Info() (fs.FileInfo, error) { return e, nil }
func (e *entry) Size() int64                { return e.size }
func (e *entry) Mode() fs.FileMode {
	if e.dir {
		return fs.ModeDir | 0o555
	}
	return 0o444
}
func (e *entry) ModTime() time.Time { return e.mod }
func (e *entry) Sys() any           { return nil }

// memFile is an open file of an FS: its bytes, read once.
type memFile struct {
	*entry
	*bytes.Reader
}

func (m *memFile) Stat() (fs.FileInfo, error) { return m.entry, nil }
func (m *memFile) Close() error               { return nil }

// dirFile is an open folder of an FS.
type dirFile struct {
	*entry
	entries []fs.DirEntry
}

func (d *dirFile) Stat() (fs.FileInfo, error) { return d.entry, nil }
func (d *dirFile) Close() error               { return nil }
func (d *dirFile) Read([]byte) (int, error) {
	return 0, &fs.PathError{Op: "read", Path: d.name, Err: errors.New("is a directory")}
}

// ReadDir implements fs.ReadDirFile.
func (d *dirFile) ReadDir(n int) ([]fs.DirEntry, error) {
	if n <= 0 {
		out := d.entries
		d.entries = nil
		return out, nil
	}
	if len(d.entries) == 0 {
		return nil, io.EOF
	}
	n = min(n, len(d.entries))
	out := d.entries[:n]
	d.entries = d.entries[n:]
	return out, nil
}
