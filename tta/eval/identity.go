package eval

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/gotta-ml/gotta/datasets"
)

// DataIdentity identifies the data a record was computed on. Every record of a run carries it; a resume over data
// with another identity is refused (the records would no longer describe the examples at their indices).
type DataIdentity struct {
	// Root is the absolute folder the dataset was read from, or its storage URL without query parameters (e.g.
	// "s3://bucket/imagenet-a/"); "" for in-memory datasets such as embedded MNIST.
	Root string `json:"root,omitempty"`
	// Layout is how it was read (datasets.Layouter, e.g. "imagenet-a" or "folder"; "" when not said).
	Layout string `json:"layout,omitempty"`
	// Classes is the number of classes; ClassesSHA256 the SHA-256 of their names, one a line, in label order.
	Classes       int    `json:"classes"`
	ClassesSHA256 string `json:"classes_sha256"`
	// Examples is the number of examples.
	Examples int `json:"examples"`
	// Fingerprint is the SHA-256 of the example list ("ID<TAB>label" a line, in index order) for datasets that list
	// their examples without decoding them (datasets.Lister); "" for others.
	Fingerprint string `json:"fingerprint,omitempty"`
}

// Identify computes the identity of ds (cheap: no image is decoded).
func Identify(ds datasets.Dataset) DataIdentity {
	id := DataIdentity{Examples: ds.Len()}
	if r, ok := ds.(interface{ Root() string }); ok && r.Root() != "" {
		id.Root = r.Root()
		if !strings.Contains(id.Root, "://") { // A storage URL is kept as it is.
			if abs, err := filepath.Abs(id.Root); err == nil {
				id.Root = abs
			}
		}
	}
	if l, ok := ds.(datasets.Layouter); ok {
		id.Layout = l.Layout()
	}
	classes := ds.Classes()
	id.Classes = len(classes)
	h := sha256.Sum256([]byte(strings.Join(classes, "\n")))
	id.ClassesSHA256 = hex.EncodeToString(h[:])
	if l, ok := ds.(datasets.Lister); ok {
		hh := sha256.New()
		for i := range ds.Len() {
			key, label := l.ExampleKey(i)
			fmt.Fprintf(hh, "%s\t%d\n", key, label)
		}
		id.Fingerprint = hex.EncodeToString(hh.Sum(nil))
	}
	return id
}

// Diff lists, in words, how o differs from id ("" when they are the same).
func (id DataIdentity) Diff(o DataIdentity) string {
	var d []string
	if id.Root != o.Root {
		d = append(d, fmt.Sprintf("folder %q, now %q", id.Root, o.Root))
	}
	if id.Layout != o.Layout {
		d = append(d, fmt.Sprintf("layout %q, now %q", id.Layout, o.Layout))
	}
	if id.Classes != o.Classes || id.ClassesSHA256 != o.ClassesSHA256 {
		d = append(d, fmt.Sprintf("%d classes (sha256 %.12s), now %d (sha256 %.12s)", id.Classes, id.ClassesSHA256,
			o.Classes, o.ClassesSHA256))
	}
	if id.Examples != o.Examples {
		d = append(d, fmt.Sprintf("%d examples, now %d", id.Examples, o.Examples))
	}
	if id.Fingerprint != o.Fingerprint {
		d = append(d, fmt.Sprintf("example list fingerprint %.12s, now %.12s", id.Fingerprint, o.Fingerprint))
	}
	return strings.Join(d, "; ")
}

// exampleKey returns example i's ID without decoding it when ds is a datasets.Lister, else by reading it ("" when
// it cannot be read).
func exampleKey(ds datasets.Dataset, i int) string {
	if l, ok := ds.(datasets.Lister); ok {
		id, _ := l.ExampleKey(i)
		return id
	}
	ex, err := ds.Example(i)
	if err != nil {
		return ""
	}
	return ex.ID
}
