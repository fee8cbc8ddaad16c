package main

import (
	"bytes"
	"image"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/gotta-ml/gotta/datasets/imagenet"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func writeTestImage(t *testing.T, path string) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	var buf bytes.Buffer
	img := image.NewGray(image.Rect(0, 0, 8, 8))
	if filepath.Ext(path) == ".png" {
		require.NoError(t, png.Encode(&buf, img))
	} else {
		require.NoError(t, jpeg.Encode(&buf, img, nil))
	}
	require.NoError(t, os.WriteFile(path, buf.Bytes(), 0o644))
}

func TestDataCheck(t *testing.T) {
	t.Run("good folder tree", func(t *testing.T) {
		root := t.TempDir()
		writeTestImage(t, filepath.Join(root, "cat", "1.jpg"))
		writeTestImage(t, filepath.Join(root, "cat", "2.png"))
		writeTestImage(t, filepath.Join(root, "dog", "1.jpeg"))
		require.NoError(t, os.WriteFile(filepath.Join(root, "README.txt"), []byte("hi"), 0o644))
		var out bytes.Buffer
		require.NoError(t, checkData(&out, root, "folder", 2, true))
		s := out.String()
		assert.Contains(t, s, "2 present, 0 missing, 0 extra")
		assert.Regexp(t, `cat\s+2`, s)
		assert.Regexp(t, `dog\s+1`, s)
		assert.Contains(t, s, "README.txt")
		assert.Contains(t, s, "OK: 3 images in 2 classes")
	})
	t.Run("imagenet-v2 with problems", func(t *testing.T) {
		root := t.TempDir()
		for i := range imagenet.NumClasses {
			if i == 5 || i == 500 {
				continue // missing
			}
			writeTestImage(t, filepath.Join(root, strconv.Itoa(i), "a.jpeg"))
		}
		writeTestImage(t, filepath.Join(root, "1000", "x.jpeg")) // extra
		require.NoError(t, os.MkdirAll(filepath.Join(root, "7", "sub"), 0o755))
		data, err := os.ReadFile(filepath.Join(root, "2", "a.jpeg"))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(root, "2", "truncated.jpeg"), data[:len(data)/2], 0o644))
		require.NoError(t, os.WriteFile(filepath.Join(root, "10", "random.jpeg"), []byte("not a jpeg at all"), 0o644))
		require.NoError(t, os.Remove(filepath.Join(root, "100", "a.jpeg"))) // empty class
		var out bytes.Buffer
		err = checkData(&out, root, "imagenet-v2", 3, true)
		require.Error(t, err)
		// 2 missing + 1 extra + 1 empty + 2 unreadable.
		assert.Contains(t, err.Error(), "6 problem(s)")
		s := out.String()
		assert.Contains(t, s, "999 present, 2 missing, 1 extra")
		assert.Contains(t, s, "MISSING class folders (2):\n  5\n  500\n")
		assert.Contains(t, s, "EXTRA class folders (not in the layout) (1):\n  1000\n")
		assert.Contains(t, s, "EMPTY class folders (1):\n  100\n")
		assert.Contains(t, s, "2/truncated.jpeg: ")
		assert.Contains(t, s, "10/random.jpeg: ")
		assert.Regexp(t, `\n\s+2\s+2\s+2  great white shark\n`, s) // label 2, folder "2", 2 files, CLIP name
		assert.Regexp(t, `\n\s+999\s+999\s+1  toilet paper\n`, s)
	})
	t.Run("imagenet-a layout", func(t *testing.T) {
		root := t.TempDir()
		l, err := imagenet.LayoutOf(imagenet.ImageNetA)
		require.NoError(t, err)
		for _, f := range l.Folders {
			writeTestImage(t, filepath.Join(root, f, "0.jpg"))
		}
		require.NoError(t, os.WriteFile(filepath.Join(root, "README.txt"), []byte("ImageNet-A"), 0o644))
		var out bytes.Buffer
		require.NoError(t, checkData(&out, root, "imagenet-a", 2, false))
		assert.Contains(t, out.String(), "OK: 200 images in 200 classes")
		// The whole command: exit codes through Main.
		assert.Equal(t, 0, Main([]string{"data", "check", root, "--layout", "imagenet-a", "--per-class=false"}))
		assert.Equal(t, 1, Main([]string{"data", "check", "--layout", "imagenet-v2", root, "--per-class=false"}))
	})
	t.Run("usage errors", func(t *testing.T) {
		var out bytes.Buffer
		err := checkData(&out, t.TempDir(), "imagenet-z", 1, true)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "imagenet-sketch")
		assert.Error(t, checkData(&out, filepath.Join(t.TempDir(), "absent"), "folder", 1, true))
		assert.Error(t, runData([]string{"verify", "x"}))
		assert.Error(t, runData([]string{"check"}))
		assert.Error(t, runData([]string{"check", "a", "b"}))
		err = checkData(&out, t.TempDir(), "folder", 1, true)
		assert.ErrorContains(t, err, "1 problem(s)") // no images at all
	})
}
