package storage_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gotta-ml/gotta/datasets"
	"github.com/gotta-ml/gotta/datasets/imagenet"
	"github.com/gotta-ml/gotta/storage"
	"github.com/gotta-ml/gotta/storage/fakes3"
	"github.com/gotta-ml/gotta/tta/eval"
)

// pngBytes encodes a small image whose pixels depend on seed.
func pngBytes(t testing.TB, seed int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 3+seed%5, 4))
	for i := range img.Pix {
		img.Pix[i] = uint8(seed*31 + i*7)
	}
	img.Set(0, 0, color.RGBA{uint8(seed), 0, 0, 255})
	var b bytes.Buffer
	require.NoError(t, png.Encode(&b, img))
	return b.Bytes()
}

// writeTree writes files (slash-separated relative path -> bytes) under a temp folder and returns it.
func writeTree(t testing.TB, files map[string][]byte) string {
	t.Helper()
	dir := t.TempDir()
	for rel, data := range files {
		p := filepath.Join(dir, filepath.FromSlash(rel))
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, data, 0o644))
	}
	return dir
}

func fastRetry() storage.Retry { return storage.Retry{Attempts: 3, Backoff: time.Millisecond} }

// TestFolderUnicodeKeys: a class-folder tree whose names hold spaces, accents and upper-case extensions reads
// from a bucket as from a local copy: same classes, same files in the same order, same skipped files, same pixels.
func TestFolderUnicodeKeys(t *testing.T) {
	files := map[string][]byte{
		"README.txt":               []byte("not a class"),
		"café au lait/ü 1.png":     pngBytes(t, 1),
		"café au lait/a b.PNG":     pngBytes(t, 2),
		"café au lait/.hidden.png": pngBytes(t, 3),
		"café au lait/notes.txt":   []byte("skipped"),
		"Ärger/sub dir/x y.png":    pngBytes(t, 4),
		"Ärger/z.png":              pngBytes(t, 5),
		"zebra crossing/10.png":    pngBytes(t, 6),
		"zebra crossing/9.png":     pngBytes(t, 7),
		"zebra crossing/日本 語.png":  pngBytes(t, 8),
		".git/config":              []byte("hidden folder"),
		"b/+plus&amp%20.png":       pngBytes(t, 9),
	}
	local := writeTree(t, files)
	srv := fakes3.Start(t, "data")
	srv.PutTree(t, "data", "trees/unicode", local)

	ctx := context.Background()
	fsys, err := storage.OpenFS(ctx, srv.URL("data", "trees/unicode"), storage.Options{Retry: fastRetry()})
	require.NoError(t, err)
	assert.Equal(t, "s3://data/trees/unicode/", fsys.URL())
	remote, err := datasets.ImageFolderFS(fsys, fsys.URL(), datasets.FolderOptions{})
	require.NoError(t, err)
	want, err := datasets.ImageFolder(local, datasets.FolderOptions{})
	require.NoError(t, err)

	assert.Equal(t, "unicode", remote.Name())
	assert.Equal(t, want.Classes(), remote.Classes())
	require.Equal(t, want.Len(), remote.Len())
	require.Equal(t, 8, remote.Len())
	for i := range want.Len() {
		assert.Equal(t, want.File(i), remote.File(i))
		a, err := want.Example(i)
		require.NoError(t, err)
		b, err := remote.Example(i)
		require.NoError(t, err)
		assert.Equal(t, a.Image, b.Image, "example %d (%s)", i, a.ID)
		assert.Equal(t, "s3://data/trees/unicode/"+a.ID, b.Path)
	}
	imgs, skipped, err := datasets.ListImages(filepath.Join(local, "café au lait"))
	require.NoError(t, err)
	rimgs, rskipped, err := datasets.ListImagesFS(fsys, "café au lait")
	require.NoError(t, err)
	assert.Equal(t, imgs, rimgs)
	assert.Equal(t, skipped, rskipped)
	assert.Equal(t, []string{"notes.txt"}, rskipped)

	a, b := eval.Identify(want), eval.Identify(remote)
	assert.NotEqual(t, a.Root, b.Root)
	assert.Equal(t, "s3://data/trees/unicode/", b.Root)
	b.Root = a.Root
	assert.Equal(t, a, b, "the identities differ only in the root")
}

// TestImageNetV2Paginated: an ImageNetV2 tree (numeric class folders 0..999, sorted as the layout says, not as
// strings) read from a bucket whose listings take more than one page (1,000 keys a page) gives the examples of
// the local copy, in the same order, with the same fingerprint.
func TestImageNetV2Paginated(t *testing.T) {
	files := map[string][]byte{"README.txt": []byte("ImageNetV2 matched-frequency")}
	img := pngBytes(t, 1)
	for c := range 1000 {
		files[fmt.Sprintf("%d/%x.jpeg", c, c*7919)] = img
	}
	for i := range 1005 {
		files[fmt.Sprintf("7/extra-%04d.jpeg", i)] = img
	}
	local := writeTree(t, files)
	srv := fakes3.Start(t, "v2")
	srv.PutTree(t, "v2", "imagenetv2-matched-frequency-format-val", local)

	fsys, err := storage.OpenFS(context.Background(), srv.URL("v2", "imagenetv2-matched-frequency-format-val"),
		storage.Options{})
	require.NoError(t, err)
	lists := srv.Lists()
	root, err := fs.ReadDir(fsys, ".")
	require.NoError(t, err)
	assert.Len(t, root, 1001) // 1,000 folders and README.txt: two pages.
	assert.GreaterOrEqual(t, srv.Lists()-lists, 2, "the root listing took one request: not paginated")
	seven, err := fs.ReadDir(fsys, "7")
	require.NoError(t, err)
	assert.Len(t, seven, 1006)

	remote, err := imagenet.OpenFS(imagenet.ImageNetV2, fsys, fsys.URL())
	require.NoError(t, err)
	want, err := imagenet.Open(imagenet.ImageNetV2, local)
	require.NoError(t, err)
	require.Equal(t, 2005, remote.Len())
	require.Equal(t, want.Len(), remote.Len())
	for i := range want.Len() {
		require.Equal(t, want.File(i), remote.File(i), "example %d", i)
	}
	assert.Equal(t, "2/"+fmt.Sprintf("%x", 2*7919)+".jpeg", remote.File(2).ID, "folder 2 before folder 10")
	a, b := eval.Identify(want), eval.Identify(remote)
	assert.Equal(t, a.Fingerprint, b.Fingerprint)
	assert.Equal(t, "imagenet-v2", b.Layout)
}

// TestInterruptedRead: a download cut short is retried; one cut short every time ends in an error naming the
// object, the bytes read and the number of tries.
func TestInterruptedRead(t *testing.T) {
	srv := fakes3.Start(t, "data")
	data := bytes.Repeat([]byte("0123456789"), 10_000)
	srv.Put(t, "data", "set/a/x.png", data)
	fsys, err := storage.OpenFS(context.Background(), srv.URL("data", "set"), storage.Options{Retry: fastRetry()})
	require.NoError(t, err)

	srv.CutDownloads("data", "set/a/x.png", 2)
	got, err := fs.ReadFile(fsys, "a/x.png")
	require.NoError(t, err)
	assert.Equal(t, data, got)
	assert.Equal(t, 3, srv.Downloads("data", "set/a/x.png"))

	srv.CutDownloads("data", "set/a/x.png", 100)
	_, err = fs.ReadFile(fsys, "a/x.png")
	require.Error(t, err)
	msg := err.Error()
	assert.Contains(t, msg, "s3://data/set/a/x.png")
	assert.Contains(t, msg, "read failed 3 times")
	assert.Contains(t, msg, "read cut short")
	assert.Contains(t, msg, "of 100000 bytes")
	assert.Equal(t, 6, srv.Downloads("data", "set/a/x.png"))

	// Fetch retries the same way.
	srv.CutDownloads("data", "set/a/x.png", 1)
	p, err := storage.Fetch(context.Background(), srv.URL("data", "set/a/x.png"), t.TempDir(), fastRetry())
	require.NoError(t, err)
	got, err = os.ReadFile(p)
	require.NoError(t, err)
	assert.Equal(t, data, got)
}

// TestErrors: a missing bucket, a missing object and a refused bucket give errors naming them and the cause.
func TestErrors(t *testing.T) {
	srv := fakes3.Start(t, "data", "secret")
	srv.Put(t, "data", "set/a/x.png", pngBytes(t, 1))
	srv.Put(t, "secret", "set/a/x.png", pngBytes(t, 1))
	ctx := context.Background()

	_, err := storage.OpenFS(ctx, srv.URL("nosuchbucket", "set"), storage.Options{})
	require.Error(t, err)
	assert.ErrorIs(t, err, storage.ErrBucketNotFound)
	assert.Contains(t, err.Error(), `s3://nosuchbucket/set/: bucket not found: "nosuchbucket" does not exist`)

	_, err = storage.Fetch(ctx, srv.URL("nosuchbucket", "w.safetensors"), t.TempDir(), fastRetry())
	assert.ErrorIs(t, err, storage.ErrBucketNotFound)

	fsys, err := storage.OpenFS(ctx, srv.URL("data", "set"), storage.Options{Retry: fastRetry()})
	require.NoError(t, err)
	_, err = fs.ReadFile(fsys, "a/missing.png")
	require.Error(t, err)
	assert.ErrorIs(t, err, storage.ErrObjectNotFound)
	assert.ErrorIs(t, err, fs.ErrNotExist)
	assert.Contains(t, err.Error(), "s3://data/set/a/missing.png: object not found")
	_, err = fs.ReadDir(fsys, "nofolder")
	assert.ErrorIs(t, err, fs.ErrNotExist)
	assert.Contains(t, err.Error(), "s3://data/set/nofolder")
	_, err = datasets.ImageFolderFS(fsys, fsys.URL(), datasets.FolderOptions{Classes: []string{"a", "b"}})
	assert.ErrorContains(t, err, `1 class folder(s) missing: "b"`)

	_, err = storage.Fetch(ctx, srv.URL("data", "missing.safetensors"), t.TempDir(), fastRetry())
	assert.ErrorIs(t, err, storage.ErrObjectNotFound)
	assert.Contains(t, err.Error(), "s3://data/missing.safetensors: object not found")

	srv.Deny("secret")
	_, err = storage.OpenFS(ctx, srv.URL("secret", "set"), storage.Options{})
	require.Error(t, err)
	assert.ErrorIs(t, err, storage.ErrAccessDenied)
	assert.Contains(t, err.Error(), "s3://secret/set/: access denied")
	_, err = storage.Fetch(ctx, srv.URL("secret", "set/a/x.png"), t.TempDir(), fastRetry())
	assert.ErrorIs(t, err, storage.ErrAccessDenied)
	_, err = storage.Upload(ctx, writeTree(t, map[string][]byte{"r.jsonl": nil})+"/r.jsonl", srv.URL("secret", "r/"))
	assert.True(t, errors.Is(err, storage.ErrAccessDenied), "%v", err)

	for _, bad := range []string{"s3://", "s3:///key", "file://host/x", "s3://b/a/../c", "/local/path"} {
		_, err := storage.Parse(bad)
		assert.Error(t, err, bad)
	}
}

// TestCache: files read through the cache are downloaded once while they are unchanged, and again when the
// object changes (same size, another MD5); Fetch likewise.
func TestCache(t *testing.T) {
	srv := fakes3.Start(t, "data")
	srv.Put(t, "data", "set/a/x.png", []byte("version one"))
	ctx := context.Background()
	cache := t.TempDir()
	read := func() string {
		fsys, err := storage.OpenFS(ctx, srv.URL("data", "set"), storage.Options{Cache: cache})
		require.NoError(t, err)
		_, err = fs.ReadDir(fsys, "a")
		require.NoError(t, err)
		b, err := fs.ReadFile(fsys, "a/x.png")
		require.NoError(t, err)
		return string(b)
	}
	assert.Equal(t, "version one", read())
	assert.Equal(t, "version one", read())
	assert.Equal(t, 1, srv.Downloads("data", "set/a/x.png"))
	cached, err := os.ReadFile(filepath.Join(cache, "s3", "data", "objects", "set", "a", "x.png"))
	require.NoError(t, err)
	assert.Equal(t, "version one", string(cached))
	srv.Put(t, "data", "set/a/x.png", []byte("version two"))
	assert.Equal(t, "version two", read())
	assert.Equal(t, 2, srv.Downloads("data", "set/a/x.png"))

	srv.Put(t, "data", "w/RN50.safetensors", []byte("weights v1"))
	url := srv.URL("data", "w/RN50.safetensors")
	p1, err := storage.Fetch(ctx, url, cache, storage.Retry{})
	require.NoError(t, err)
	p2, err := storage.Fetch(ctx, url, cache, storage.Retry{})
	require.NoError(t, err)
	assert.Equal(t, p1, p2)
	assert.Equal(t, filepath.Join(cache, "s3", "data", "objects", "w", "RN50.safetensors"), p1)
	assert.Equal(t, 1, srv.Downloads("data", "w/RN50.safetensors"))
	srv.Put(t, "data", "w/RN50.safetensors", []byte("weights v2"))
	p3, err := storage.Fetch(ctx, url, cache, storage.Retry{})
	require.NoError(t, err)
	b, err := os.ReadFile(p3)
	require.NoError(t, err)
	assert.Equal(t, "weights v2", string(b))
	assert.Equal(t, 2, srv.Downloads("data", "w/RN50.safetensors"))
}

// TestReadAhead: once the order of reads is known, reading one file fetches the next ones in the background.
func TestReadAhead(t *testing.T) {
	srv := fakes3.Start(t, "data")
	var names []string
	for i := range 12 {
		name := fmt.Sprintf("c/%02d.png", i)
		names = append(names, name)
		srv.Put(t, "data", "set/"+name, []byte(name))
	}
	fsys, err := storage.OpenFS(context.Background(), srv.URL("data", "set"), storage.Options{ReadAhead: 4})
	require.NoError(t, err)
	order := []string{names[3], names[0], names[7], names[1], names[2], names[9], names[11]}
	fsys.Prefetch(order)
	b, err := fsys.ReadFile(order[0])
	require.NoError(t, err)
	assert.Equal(t, order[0], string(b))
	deadline := time.Now().Add(10 * time.Second)
	for srv.Downloads("data", "set/"+order[4]) == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	assert.Equal(t, 1, srv.Downloads("data", "set/"+order[4]), "not read ahead")
	assert.Equal(t, 0, srv.Downloads("data", "set/"+order[6]), "read too far ahead")
	for _, n := range order[1:] {
		b, err := fsys.ReadFile(n)
		require.NoError(t, err)
		assert.Equal(t, n, string(b))
		assert.Equal(t, 1, srv.Downloads("data", "set/"+n), n)
	}
	assert.Equal(t, 0, srv.Downloads("data", "set/"+names[4]))
}

// TestUploadListExists: records uploaded to a folder URL keep their name; List finds them in key order.
func TestUploadListExists(t *testing.T) {
	srv := fakes3.Start(t, "out")
	ctx := context.Background()
	dir := writeTree(t, map[string][]byte{"shard-1.jsonl": []byte("one\n"), "shard-0.jsonl": []byte("zero\n"),
		"notes.txt": []byte("x")})
	for _, n := range []string{"shard-1.jsonl", "shard-0.jsonl", "notes.txt"} {
		u, err := storage.Upload(ctx, filepath.Join(dir, n), srv.URL("out", "run 1/"))
		require.NoError(t, err)
		assert.Equal(t, "s3://out/run 1/"+n, u)
	}
	assert.Equal(t, "zero\n", string(srv.Get(t, "out", "run 1/shard-0.jsonl")))
	u, err := storage.Upload(ctx, filepath.Join(dir, "shard-0.jsonl"), srv.URL("out", "merged/all.jsonl"))
	require.NoError(t, err)
	assert.Equal(t, "s3://out/merged/all.jsonl", u)

	urls, err := storage.List(ctx, srv.URL("out", "run 1/"), ".jsonl")
	require.NoError(t, err)
	require.Len(t, urls, 2)
	assert.True(t, strings.HasPrefix(urls[0], "s3://out/run%201/shard-0.jsonl?"), urls[0])
	assert.True(t, strings.HasPrefix(urls[1], "s3://out/run%201/shard-1.jsonl?"), urls[1])
	p, err := storage.Fetch(ctx, urls[1], t.TempDir(), storage.Retry{})
	require.NoError(t, err)
	b, err := os.ReadFile(p)
	require.NoError(t, err)
	assert.Equal(t, "one\n", string(b))
	_, err = storage.List(ctx, srv.URL("out", "empty/"), ".jsonl")
	assert.ErrorIs(t, err, storage.ErrObjectNotFound)

	ok, err := storage.Exists(ctx, srv.URL("out", "merged/all.jsonl"))
	require.NoError(t, err)
	assert.True(t, ok)
	ok, err = storage.Exists(ctx, srv.URL("out", "merged/none.jsonl"))
	require.NoError(t, err)
	assert.False(t, ok)
	_, err = storage.Exists(ctx, srv.URL("nobucket", "x"))
	assert.True(t, errors.Is(err, storage.ErrBucketNotFound), "%v", err)
}

// TestFileAndMem: the same FS reads file:// and mem:// URLs.
func TestFileAndMem(t *testing.T) {
	local := writeTree(t, map[string][]byte{"a/1.png": pngBytes(t, 1), "b/2.png": pngBytes(t, 2)})
	fsys, err := storage.OpenFS(context.Background(), "file://"+filepath.ToSlash(local), storage.Options{})
	require.NoError(t, err)
	ds, err := datasets.ImageFolderFS(fsys, fsys.URL(), datasets.FolderOptions{})
	require.NoError(t, err)
	assert.Equal(t, []string{"a", "b"}, ds.Classes())
	assert.Equal(t, 2, ds.Len())

	ctx := context.Background()
	_, err = storage.Upload(ctx, filepath.Join(local, "a", "1.png"), "mem://m/t/a/")
	require.NoError(t, err)
	mfs, err := storage.OpenFS(ctx, "mem://m/t", storage.Options{})
	require.NoError(t, err)
	b, err := fs.ReadFile(mfs, "a/1.png")
	require.NoError(t, err)
	assert.Equal(t, pngBytes(t, 1), b)
}
