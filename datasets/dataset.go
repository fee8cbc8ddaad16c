package datasets

import "image"

// Dataset is a finite, indexable set of labelled images. Implementations decode lazily: Len and Classes are
// cheap, Example(i) reads and decodes one file. Implementations are safe for concurrent calls to Example.
type Dataset interface {
	// Name identifies the dataset in records and messages, e.g. "imagenet-a" or "mnist-test".
	Name() string
	// Len is the number of examples.
	Len() int
	// Example returns example i (0 <= i < Len()), decoding its image; errors name the file.
	Example(i int) (Example, error)
	// Classes returns the human-readable class names, indexed by Example.Label.
	Classes() []string
}

// Example is one labelled image of a Dataset.
type Example struct {
	// Image is the decoded image; the file readers of this package give an opaque *image.RGBA.
	Image image.Image
	// Label is the class index into the Dataset's Classes().
	Label int
	// ID is stable across machines and runs: for file datasets the path relative to the dataset root, with
	// forward slashes (e.g. "n01498041/0.000116.jpg").
	ID string
	// Path is the file the image was read from (empty for in-memory datasets).
	Path string
}

// Lister is implemented by datasets that can name an example without decoding its image. The evaluation runner
// uses it to fingerprint the example list and to check, on resume, that every recorded index still holds the
// recorded example.
type Lister interface {
	// ExampleKey returns example i's ID and label (0 <= i < Len()).
	ExampleKey(i int) (id string, label int)
}

// Layouter is implemented by datasets read with a known layout (e.g. "imagenet-a", "folder"); records name it.
type Layouter interface {
	// Layout names the layout the dataset was read with.
	Layout() string
}

// ReadAheader is implemented by datasets whose files are slow to fetch (a bucket): the evaluation runner passes
// the order in which it will call Example, so the next files are fetched while the current example is adapted.
type ReadAheader interface {
	// ReadAhead says that Example will be called for the indices of order, in that order.
	ReadAhead(order []int)
}
