package datasets

import (
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// writePNG writes a w x h PNG filled with one gray level (so tests can tell files apart by pixel value).
func writePNG(t *testing.T, path string, level uint8) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	img := image.NewGray(image.Rect(0, 0, 3, 2))
	for i := range img.Pix {
		img.Pix[i] = level
	}
	f, err := os.Create(path)
	require.NoError(t, err)
	require.NoError(t, png.Encode(f, img))
	require.NoError(t, f.Close())
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	require.NoError(t, os.WriteFile(path, []byte(content), 0o644))
}

func TestImageFolder(t *testing.T) {
	root := t.TempDir()
	// Created in an order that differs from the sorted one.
	writePNG(t, filepath.Join(root, "zebra", "b.png"), 10)
	writePNG(t, filepath.Join(root, "zebra", "a.PNG"), 20) // extensions match case-insensitively
	writePNG(t, filepath.Join(root, "apple", "x.png"), 30)
	writePNG(t, filepath.Join(root, "apple", "sub", "y.png"), 40) // nested folders are read
	writePNG(t, filepath.Join(root, "mango", ".hidden.png"), 50)  // hidden: skipped
	writePNG(t, filepath.Join(root, ".cache", "z.png"), 60)       // hidden class folder: skipped
	writeFile(t, filepath.Join(root, "mango", "notes.txt"), "not an image")
	writeFile(t, filepath.Join(root, "README.txt"), "a file at the root")
	writePNG(t, filepath.Join(root, "mango", "m.png"), 70)

	t.Run("sorted classes", func(t *testing.T) {
		ds, err := ImageFolder(root, FolderOptions{})
		require.NoError(t, err)
		var _ Dataset = ds
		assert.Equal(t, filepath.Base(root), ds.Name())
		assert.Equal(t, []string{"apple", "mango", "zebra"}, ds.Classes())
		assert.Equal(t, []int{2, 1, 2}, ds.Counts())
		require.Equal(t, 5, ds.Len())
		wantIDs := []string{"apple/sub/y.png", "apple/x.png", "mango/m.png", "zebra/a.PNG", "zebra/b.png"}
		wantLabels := []int{0, 0, 1, 2, 2}
		wantLevels := []uint8{40, 30, 70, 20, 10}
		for i := range ds.Len() {
			ex, err := ds.Example(i)
			require.NoError(t, err)
			assert.Equal(t, wantIDs[i], ex.ID)
			assert.Equal(t, wantLabels[i], ex.Label)
			assert.Equal(t, filepath.Join(root, filepath.FromSlash(wantIDs[i])), ex.Path)
			rgb, ok := ex.Image.(*image.RGBA)
			require.True(t, ok)
			assert.Equal(t, color.RGBA{wantLevels[i], wantLevels[i], wantLevels[i], 255}, rgb.RGBAAt(1, 1))
		}
		_, err = ds.Example(5)
		require.ErrorIs(t, err, ErrIndex)
	})
	t.Run("explicit classes and names", func(t *testing.T) {
		ds, err := ImageFolder(root, FolderOptions{Name: "fruit", Classes: []string{"zebra", "apple"},
			ClassNames: []string{"Zebra", "Apple"}})
		require.NoError(t, err)
		assert.Equal(t, "fruit", ds.Name())
		assert.Equal(t, []string{"Zebra", "Apple"}, ds.Classes())
		assert.Equal(t, []string{"zebra", "apple"}, ds.ClassFolders())
		assert.Equal(t, []int{2, 2}, ds.Counts())
		assert.Equal(t, File{ID: "zebra/a.PNG", Label: 0}, ds.File(0))
		assert.Equal(t, File{ID: "apple/sub/y.png", Label: 1}, ds.File(2))
	})
	t.Run("missing class folder", func(t *testing.T) {
		_, err := ImageFolder(root, FolderOptions{Classes: []string{"apple", "kiwi", "pear"}})
		require.Error(t, err)
		assert.Contains(t, err.Error(), `"kiwi"`)
		assert.Contains(t, err.Error(), `"pear"`)
	})
	t.Run("bad options", func(t *testing.T) {
		_, err := ImageFolder(root, FolderOptions{Classes: []string{"apple", "apple"}})
		assert.ErrorContains(t, err, "twice")
		_, err = ImageFolder(root, FolderOptions{Classes: []string{"../x"}})
		assert.ErrorContains(t, err, "invalid")
		_, err = ImageFolder(root, FolderOptions{ClassNames: []string{"one"}})
		assert.ErrorContains(t, err, "1 class names for 3 class folders")
		_, err = ImageFolder(filepath.Join(root, "README.txt"), FolderOptions{})
		assert.ErrorContains(t, err, "not a folder")
		_, err = ImageFolder(filepath.Join(root, "absent"), FolderOptions{})
		assert.ErrorContains(t, err, "absent")
	})
	t.Run("corrupt file names the file", func(t *testing.T) {
		r2 := t.TempDir()
		writeFile(t, filepath.Join(r2, "a", "bad.jpg"), "garbage")
		ds, err := ImageFolder(r2, FolderOptions{})
		require.NoError(t, err)
		_, err = ds.Example(0)
		require.Error(t, err)
		assert.Contains(t, err.Error(), filepath.Join(r2, "a", "bad.jpg"))
	})
	t.Run("ListImages", func(t *testing.T) {
		images, skipped, err := ListImages(filepath.Join(root, "mango"))
		require.NoError(t, err)
		assert.Equal(t, []string{"m.png"}, images)
		assert.Equal(t, []string{"notes.txt"}, skipped)
		assert.True(t, IsImageFile("a/B.JpEg"))
		assert.False(t, IsImageFile("README.txt"))
		assert.False(t, IsImageFile(".x.jpg"))
	})
}
