package embedded

import (
	"fmt"
	"strings"
	"sync"

	"github.com/gotta-ml/gotta/datasets"
	"github.com/gotta-ml/gotta/datasets/corrupt"
	"github.com/gotta-ml/gotta/datasets/mnist"
)

// Defaults of the shifted test set.
const (
	// DefaultSeverity is the corruption severity of the shifted test set (1..5).
	DefaultSeverity = 3
	// DefaultSize is the number of MNIST test images of the shifted test set (the first DefaultSize).
	DefaultSize = 1000
	// DefaultShiftSeed is the seed of the corruptions' randomness.
	DefaultShiftSeed = 0
)

// DefaultCorruptions are the MNIST-C corruptions the report evaluates on by default (corrupt.MNISTC names).
func DefaultCorruptions() []string {
	return []string{"shot_noise", "impulse_noise", "glass_blur", "motion_blur", "shear", "scale", "rotate",
		"brightness", "translate", "stripe", "fog", "spatter", "dotted_line", "zigzag", "canny_edges"}
}

var (
	testOnce sync.Once
	testSet  *mnist.Set
	testErr  error
)

// mnistTest loads MNIST test once per process.
func mnistTest() (*mnist.Set, error) {
	testOnce.Do(func() { testSet, testErr = mnist.Load(mnist.Test) })
	return testSet, testErr
}

// Shifted is the first N MNIST test images under one MNIST-C style corruption (datasets/corrupt), decoded lazily
// and deterministically: example i is corrupt.Apply(Corruption, test image i, Severity, Seed, i). It implements
// datasets.Dataset; images are 28x28 *image.Gray (preprocess them with CLIPPreprocess or ResNetPreprocess).
type Shifted struct {
	// Corruption is the corrupt.MNISTC name ("fog", "shot_noise", ...), or "" for clean images.
	Corruption string
	// Severity is the corruption level 1..5 (DefaultSeverity).
	Severity int
	// N is the number of examples.
	N int
	// Seed seeds the corruptions' randomness.
	Seed int64
	set  *mnist.Set
	id   string
}

// ShiftedMNIST returns the shifted test set: the first n MNIST test images under the MNIST-C style corruption
// (a corrupt.MNISTC name, e.g. "fog", or its ID "mnistc/fog") at severity 1..5, randomness seeded by seed.
// Defaults (0 values): severity DefaultSeverity, n DefaultSize. Its Name is "mnist-c/<corruption>/s<severity>".
func ShiftedMNIST(corruption string, severity, n int, seed int64) (datasets.Dataset, error) {
	if severity == 0 {
		severity = DefaultSeverity
	}
	if severity < corrupt.MinSeverity || severity > corrupt.MaxSeverity {
		return nil, fmt.Errorf("embedded.ShiftedMNIST: severity %d outside %d..%d", severity, corrupt.MinSeverity,
			corrupt.MaxSeverity)
	}
	id := corruption
	if !strings.Contains(id, "/") {
		id = corrupt.SetMNISTC + "/" + id
	}
	c, err := corrupt.ByName(id)
	if err == nil && c.Set != corrupt.SetMNISTC {
		err = fmt.Errorf("%s is not an MNIST-C corruption", corruption)
	}
	if err != nil {
		return nil, fmt.Errorf("embedded.ShiftedMNIST: %w", err)
	}
	s, err := newShifted(c.Name, n)
	if err != nil {
		return nil, err
	}
	s.Severity, s.Seed, s.id = severity, seed, c.ID()
	return s, nil
}

// Clean returns the first n clean MNIST test images (default DefaultSize when n is 0), named "mnist-test".
func Clean(n int) (datasets.Dataset, error) {
	return newShifted("", n)
}

func newShifted(corruption string, n int) (*Shifted, error) {
	if n == 0 {
		n = DefaultSize
	}
	set, err := mnistTest()
	if err != nil {
		return nil, fmt.Errorf("embedded: %w", err)
	}
	if n < 0 || n > set.N {
		return nil, fmt.Errorf("embedded: test set size %d outside 1..%d", n, set.N)
	}
	return &Shifted{Corruption: corruption, N: n, set: set}, nil
}

// Name implements datasets.Dataset: "mnist-c/<corruption>/s<severity>", or "mnist-test" for clean images.
func (s *Shifted) Name() string {
	if s.Corruption == "" {
		return "mnist-test"
	}
	return fmt.Sprintf("mnist-c/%s/s%d", s.Corruption, s.Severity)
}

// Len implements datasets.Dataset.
func (s *Shifted) Len() int { return s.N }

// Classes implements datasets.Dataset: ClassNames.
func (s *Shifted) Classes() []string { return ClassNames() }

// Example implements datasets.Dataset: test image i, corrupted; ID "<Name>/<i>".
func (s *Shifted) Example(i int) (datasets.Example, error) {
	if i < 0 || i >= s.N {
		return datasets.Example{}, fmt.Errorf("embedded: %s: example %d of %d: %w", s.Name(), i, s.N, datasets.ErrIndex)
	}
	ex, err := s.set.Example(i)
	if err != nil {
		return ex, err
	}
	ex.ID = fmt.Sprintf("%s/%05d", s.Name(), i)
	if s.Corruption == "" {
		return ex, nil
	}
	img, err := corrupt.Apply(s.id, ex.Image, s.Severity, s.Seed, i)
	if err != nil {
		return ex, fmt.Errorf("embedded: %s example %d: %w", s.Name(), i, err)
	}
	ex.Image = img
	return ex, nil
}

var _ datasets.Dataset = (*Shifted)(nil)

// ExampleKey implements datasets.Lister: example i's ID and label, as Example gives them, without corrupting it.
func (s *Shifted) ExampleKey(i int) (string, int) {
	return fmt.Sprintf("%s/%05d", s.Name(), i), int(s.set.Labels[i])
}
