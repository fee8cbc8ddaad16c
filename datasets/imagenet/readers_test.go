package imagenet

import (
	"image"
	"image/color"
	"image/jpeg"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// writeJPEG writes a small JPEG of one gray level.
func writeJPEG(t *testing.T, path string, level uint8) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	img := image.NewGray(image.Rect(0, 0, 8, 8))
	for i := range img.Pix {
		img.Pix[i] = level
	}
	f, err := os.Create(path)
	require.NoError(t, err)
	require.NoError(t, jpeg.Encode(f, img, &jpeg.Options{Quality: 95}))
	require.NoError(t, f.Close())
}

// makeTree creates every class folder of a layout, and images in the folders listed in files (folder -> count).
func makeTree(t *testing.T, folders []string, files map[string]int, ext string) string {
	t.Helper()
	root := t.TempDir()
	for _, f := range folders {
		require.NoError(t, os.MkdirAll(filepath.Join(root, f), 0o755))
	}
	for f, n := range files {
		for j := range n {
			writeJPEG(t, filepath.Join(root, f, "img"+strconv.Itoa(j)+ext), 100)
		}
	}
	return root
}

func TestOpen(t *testing.T) {
	t.Run("imagenet-a", func(t *testing.T) {
		l, err := LayoutOf(ImageNetA)
		require.NoError(t, err)
		require.Len(t, l.Folders, 200)
		assert.Equal(t, "n01498041", l.Folders[0])
		// Images in three classes; README.txt at the root.
		root := makeTree(t, l.Folders, map[string]int{"n01498041": 2, "n04146614": 1, l.Folders[199]: 1}, ".jpg")
		require.NoError(t, os.WriteFile(filepath.Join(root, "README.txt"), []byte("ImageNet-A"), 0o644))
		ds, err := Open(ImageNetA, root)
		require.NoError(t, err)
		assert.Equal(t, "imagenet-a", ds.Name())
		assert.Equal(t, ImageNetA, ds.ID())
		require.Equal(t, 4, ds.Len())
		classes := ds.Classes()
		require.Len(t, classes, 200)
		assert.Equal(t, "stingray", classes[0])
		schoolBus, ok := IndexOf("n04146614")
		require.True(t, ok)
		k := -1
		for i, f := range l.Folders {
			if f == "n04146614" {
				k = i
			}
		}
		require.GreaterOrEqual(t, k, 0)
		var labels, idx []int
		for i := range ds.Len() {
			ex, err := ds.Example(i)
			require.NoError(t, err)
			labels = append(labels, ex.Label)
			idx = append(idx, ds.Index1k(ex.Label))
			assert.Equal(t, ClassName(ds.Index1k(ex.Label)), classes[ex.Label])
			assert.Equal(t, color.RGBA{100, 100, 100, 255}, ex.Image.(*image.RGBA).RGBAAt(4, 4))
		}
		assert.Equal(t, []int{0, 0, k, 199}, labels)
		assert.Equal(t, []int{6, 6, schoolBus, SubsetA()[199]}, idx)
		assert.Equal(t, "school bus", ClassName(schoolBus))
		assert.Equal(t, SubsetA(), ds.Indices1k())
		assert.Equal(t, "n01498041/img0.jpg", ds.File(0).ID)
	})
	t.Run("imagenet-v2 numeric order", func(t *testing.T) {
		l, err := LayoutOf(ImageNetV2)
		require.NoError(t, err)
		// As strings, "10" < "100" < "2" < "999"; labels must be the numbers.
		root := makeTree(t, l.Folders, map[string]int{"2": 1, "10": 1, "100": 2, "999": 1}, ".jpeg")
		ds, err := Open(ImageNetV2, root)
		require.NoError(t, err)
		require.Equal(t, 5, ds.Len())
		wantLabels := []int{2, 10, 100, 100, 999}
		wantIDs := []string{"2/img0.jpeg", "10/img0.jpeg", "100/img0.jpeg", "100/img1.jpeg", "999/img0.jpeg"}
		for i := range ds.Len() {
			ex, err := ds.Example(i)
			require.NoError(t, err)
			assert.Equal(t, wantLabels[i], ex.Label)
			assert.Equal(t, wantIDs[i], ex.ID)
			assert.Equal(t, wantLabels[i], ds.Index1k(ex.Label))
		}
		assert.Equal(t, ClassNames(), ds.Classes())
		assert.Equal(t, "toilet paper", ds.Classes()[999])
	})
	t.Run("imagenet-r", func(t *testing.T) {
		l, err := LayoutOf(ImageNetR)
		require.NoError(t, err)
		root := makeTree(t, l.Folders, map[string]int{l.Folders[5]: 3}, ".jpg")
		ds, err := Open(ImageNetR, root)
		require.NoError(t, err)
		require.Equal(t, 3, ds.Len())
		assert.Equal(t, []int{0, 0, 0, 0, 0, 3}, ds.Counts()[:6])
		ex, err := ds.Example(2)
		require.NoError(t, err)
		assert.Equal(t, 5, ex.Label)
		assert.Equal(t, SubsetR()[5], ds.Index1k(5))
		assert.Equal(t, ClassName(SubsetR()[5]), ds.Classes()[5])
	})
	for _, id := range []ID{ImageNetSketch, ImageNetVal} {
		t.Run(string(id), func(t *testing.T) {
			l, err := LayoutOf(id)
			require.NoError(t, err)
			require.Equal(t, WNIDs(), l.Folders)
			root := makeTree(t, l.Folders, map[string]int{"n01440764": 1, "n15075141": 1}, ".JPEG")
			ds, err := Open(id, root)
			require.NoError(t, err)
			require.Equal(t, 2, ds.Len())
			for i, want := range []int{0, 999} {
				ex, err := ds.Example(i)
				require.NoError(t, err)
				assert.Equal(t, want, ex.Label)
			}
			assert.Equal(t, ClassNames(), ds.Classes())
		})
	}
	t.Run("missing folders and unknown id", func(t *testing.T) {
		l, err := LayoutOf(ImageNetA)
		require.NoError(t, err)
		root := makeTree(t, l.Folders[1:], nil, "")
		_, err = Open(ImageNetA, root)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "n01498041")
		_, err = Open("imagenet-z", root)
		require.Error(t, err)
		for _, id := range IDs() {
			assert.Contains(t, err.Error(), string(id))
		}
		assert.Len(t, IDs(), 5)
	})
	t.Run("corrupt file", func(t *testing.T) {
		l, err := LayoutOf(ImageNetA)
		require.NoError(t, err)
		root := makeTree(t, l.Folders, nil, "")
		bad := filepath.Join(root, "n01498041", "bad.jpg")
		require.NoError(t, os.WriteFile(bad, []byte("\xff\xd8\xff\xe0 truncated"), 0o644))
		ds, err := Open(ImageNetA, root)
		require.NoError(t, err)
		_, err = ds.Example(0)
		require.Error(t, err)
		assert.Contains(t, err.Error(), bad)
	})
}
