// Package imagenet holds the ImageNet-1k class table as Go facts (1000 WordNet ids in class-index order, CLIP's
// curated class names, the 200-class ImageNet-A and ImageNet-R subsets), CLIP's 80 prompt templates and the 7 of
// Tip-Adapter, and readers for the test sets used by TPT and MEMO: ImageNet-A, ImageNetV2 matched-frequency,
// ImageNet-R, ImageNet-Sketch and the ImageNet validation set in wnid folders.
//
// References: ImageNet-A: Hendrycks et al., "Natural Adversarial Examples", CVPR 2021. ImageNetV2: Recht et al.,
// "Do ImageNet Classifiers Generalize to ImageNet?", ICML 2019. ImageNet-R: Hendrycks et al., "The Many Faces of
// Robustness", ICCV 2021. ImageNet-Sketch: Wang et al., "Learning Robust Global Representations by Penalizing
// Local Predictive Power", NeurIPS 2019. Class names and templates: Radford et al., "Learning Transferable Visual
// Models From Natural Language Supervision" (CLIP), ICML 2021; Tip-Adapter: Zhang et al., ECCV 2022.
//
// Usage:
//
//	ds, err := imagenet.Open(imagenet.ImageNetA, "/data/imagenet-a")
//	if err != nil { ... }
//	prompts := imagenet.Prompts(imagenet.Templates()[:1], ds.Classes()) // one text prompt per class, label order
//	ex, err := ds.Example(0)              // ex.Label: 0..199 (index into ds.Classes())
//	k := ds.Index1k(ex.Label)              // the same class as an ImageNet-1k index (ResNet output index)
//
// Labels never depend on directory listing order: the 200-class subsets are in wnid order (= ascending class
// index), and ImageNetV2's folders "0".."999" are read in numeric order, so label = the folder's number.
//
// table.go is generated from testdata/ (classes.tsv, templates.txt, templates_tip.txt; testdata/README.md says where
// the facts come from) by internal/gentable; table_test.go checks it against those files.
package imagenet

//go:generate go run ./internal/gentable -facts testdata -out table.go
