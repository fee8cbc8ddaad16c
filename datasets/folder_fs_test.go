package datasets

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// prefetchFS is an fs.FS that records the orders Prefetch is given.
type prefetchFS struct {
	fs.FS
	orders [][]string
}

func (p *prefetchFS) Prefetch(names []string) { p.orders = append(p.orders, names) }

// TestImageFolderFS: the same tree read through an fs.FS and from the disk gives the same classes, files (in the
// same order) and pixels; ReadAhead passes the files of the given example order to a Prefetcher.
func TestImageFolderFS(t *testing.T) {
	root := t.TempDir()
	writePNG(t, filepath.Join(root, "zebra", "b.png"), 10)
	writePNG(t, filepath.Join(root, "zebra", "sub", "a.PNG"), 20)
	writePNG(t, filepath.Join(root, "apple", "x.png"), 30)
	writePNG(t, filepath.Join(root, "apple", ".hidden.png"), 40)
	writeFile(t, filepath.Join(root, "apple", "notes.txt"), "skip")
	writeFile(t, filepath.Join(root, "README.txt"), "skip")
	writePNG(t, filepath.Join(root, ".cache", "y.png"), 50)
	mfs := fstest.MapFS{}
	require.NoError(t, filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		b, err := os.ReadFile(p)
		mfs[filepath.ToSlash(rel)] = &fstest.MapFile{Data: b}
		return err
	}))
	pfs := &prefetchFS{FS: mfs}

	want, err := ImageFolder(root, FolderOptions{})
	require.NoError(t, err)
	got, err := ImageFolderFS(pfs, "mem://trees/tiny/", FolderOptions{})
	require.NoError(t, err)
	assert.Equal(t, "tiny", got.Name())
	assert.Equal(t, "mem://trees/tiny/", got.Root())
	assert.Equal(t, []string{"apple", "zebra"}, got.Classes())
	require.Equal(t, 3, got.Len())
	for i := range want.Len() {
		assert.Equal(t, want.File(i), got.File(i))
		a, err := want.Example(i)
		require.NoError(t, err)
		b, err := got.Example(i)
		require.NoError(t, err)
		assert.Equal(t, a.Image, b.Image)
		assert.Equal(t, "mem://trees/tiny/"+a.ID, b.Path)
	}
	_, err = ImageFolderFS(pfs, "mem://trees/tiny/", FolderOptions{Classes: []string{"zebra", "kiwi"}})
	assert.ErrorContains(t, err, `1 class folder(s) missing: "kiwi"`)

	got.ReadAhead([]int{2, 0})
	assert.Equal(t, [][]string{{"zebra/sub/a.PNG", "apple/x.png"}}, pfs.orders)
	want.ReadAhead([]int{0}) // A local folder has nothing to prefetch.

	delete(mfs, "zebra/b.png")
	mfs["zebra/b.png"] = &fstest.MapFile{Data: []byte("not a png")}
	_, err = got.Example(1)
	assert.ErrorContains(t, err, "mem://trees/tiny/zebra/b.png")
}
