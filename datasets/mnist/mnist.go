package mnist

import (
	"fmt"
	"image"
	"path/filepath"
	"slices"

	"github.com/gotta-ml/gotta/datasets"
)

// Split selects MNIST's training or test set.
type Split string

const (
	// Train is MNIST's 60,000-image training set (train-*-ubyte.gz).
	Train Split = "train"
	// Test is MNIST's 10,000-image test set (t10k-*-ubyte.gz).
	Test Split = "test"
)

const (
	// Rows and Cols are the image size.
	Rows, Cols = 28, 28
	// NumClasses is the number of digit classes.
	NumClasses = 10
)

// splitFiles are the file names (in the data folder) and the expected number of examples of each split.
var splitFiles = map[Split]struct {
	images, labels string
	n              int
}{
	Train: {"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", 60000},
	Test:  {"t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz", 10000},
}

// classNames are the names of the digits, by label.
var classNames = [NumClasses]string{"zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"}

// ClassNames returns "zero" .. "nine" (a fresh copy).
func ClassNames() []string { return slices.Clone(classNames[:]) }

// Set is one MNIST split held in memory: raw bytes for fast training, and a datasets.Dataset view.
type Set struct {
	// Split is Train or Test.
	Split Split
	// Images holds all images, [N, Rows, Cols] row-major, 0 = background, 255 = ink.
	Images []uint8
	// Labels holds the digit of each image, [N], values 0..9.
	Labels []uint8
	// N is the number of examples.
	N int
	// ImagesPath and LabelsPath are the files the set was read from.
	ImagesPath, LabelsPath string
}

// Load reads a split from the data folder that Dir finds.
func Load(split Split) (*Set, error) {
	dir, err := Dir()
	if err != nil {
		return nil, err
	}
	return LoadDir(dir, split)
}

// LoadDir reads a split from dir, which holds the four MNIST idx .gz files. The number of examples (60,000 or
// 10,000), the 28x28 size and the labels are verified; errors name the file.
func LoadDir(dir string, split Split) (*Set, error) {
	files, ok := splitFiles[split]
	if !ok {
		return nil, fmt.Errorf("mnist: unknown split %q (want %q or %q)", split, Train, Test)
	}
	s := &Set{Split: split, ImagesPath: filepath.Join(dir, files.images), LabelsPath: filepath.Join(dir, files.labels)}
	pix, n, rows, cols, err := ReadImages(s.ImagesPath)
	if err != nil {
		return nil, err
	}
	if n != files.n || rows != Rows || cols != Cols {
		return nil, fmt.Errorf("mnist: %s: %d images of %dx%d, want %d of %dx%d", s.ImagesPath, n, rows, cols,
			files.n, Rows, Cols)
	}
	labels, err := ReadLabels(s.LabelsPath)
	if err != nil {
		return nil, err
	}
	if len(labels) != files.n {
		return nil, fmt.Errorf("mnist: %s: %d labels, want %d", s.LabelsPath, len(labels), files.n)
	}
	s.Images, s.Labels, s.N = pix, labels, n
	return s, nil
}

// Image returns image i as a [Rows, Cols] row-major slice of Images (shared, not copied).
func (s *Set) Image(i int) []uint8 { return s.Images[i*Rows*Cols : (i+1)*Rows*Cols : (i+1)*Rows*Cols] }

// Name implements datasets.Dataset: "mnist-train" or "mnist-test".
func (s *Set) Name() string { return "mnist-" + string(s.Split) }

// Len implements datasets.Dataset.
func (s *Set) Len() int { return s.N }

// Classes implements datasets.Dataset: "zero" .. "nine".
func (s *Set) Classes() []string { return ClassNames() }

// Example implements datasets.Dataset: image i as a fresh 28x28 *image.Gray, its label, ID "<split>/<index>"
// (e.g. "test/00042") and Path the images file.
func (s *Set) Example(i int) (datasets.Example, error) {
	if i < 0 || i >= s.N {
		return datasets.Example{}, fmt.Errorf("mnist: %s: example %d of %d: %w", s.Name(), i, s.N, datasets.ErrIndex)
	}
	img := image.NewGray(image.Rect(0, 0, Cols, Rows))
	copy(img.Pix, s.Image(i))
	return datasets.Example{Image: img, Label: int(s.Labels[i]), ID: fmt.Sprintf("%s/%05d", s.Split, i),
		Path: s.ImagesPath}, nil
}

var _ datasets.Dataset = (*Set)(nil)

// ExampleKey implements datasets.Lister: example i's ID and label, as Example gives them.
func (s *Set) ExampleKey(i int) (string, int) {
	return fmt.Sprintf("%s/%05d", s.Split, i), int(s.Labels[i])
}
