package imagenet

import (
	"slices"
	"strings"
	"sync"
)

const (
	// NumClasses is the number of ImageNet-1k classes.
	NumClasses = 1000
	// NumSubsetClasses is the number of classes of ImageNet-A and of ImageNet-R.
	NumSubsetClasses = 200
)

// WNIDs returns the 1000 WordNet ids ("n01440764", ...) in ImageNet-1k class-index order (a fresh copy).
func WNIDs() []string { return slices.Clone(wnids[:]) }

// ClassNames returns CLIP's curated names of the 1000 classes ("tench", "goldfish", ...) in class-index order
// (a fresh copy).
func ClassNames() []string { return slices.Clone(clipNames[:]) }

// WNID returns the WordNet id of class index i (0 <= i < NumClasses).
func WNID(i int) string { return wnids[i] }

// ClassName returns CLIP's curated name of class index i (0 <= i < NumClasses).
func ClassName(i int) string { return clipNames[i] }

var wnidIndex = sync.OnceValue(func() map[string]int {
	m := make(map[string]int, NumClasses)
	for i, w := range wnids {
		m[w] = i
	}
	return m
})

// IndexOf returns the class index of a WordNet id, and false when the id is not an ImageNet-1k class.
func IndexOf(wnid string) (int, bool) {
	i, ok := wnidIndex()[wnid]
	return i, ok
}

// SubsetA returns the class indices of ImageNet-A's 200 classes in label order (ascending, which is wnid order and
// the order in which its folders sort): ImageNet-A label k is ImageNet-1k class SubsetA()[k]. A fresh copy.
func SubsetA() []int { return slices.Clone(subsetA[:]) }

// SubsetR returns the class indices of ImageNet-R's 200 classes in label order (ascending = wnid order). A fresh
// copy.
func SubsetR() []int { return slices.Clone(subsetR[:]) }

// Templates returns CLIP's 80 ImageNet prompt templates ("a bad photo of a {}.", ...), where "{}" stands for the
// class name (a fresh copy). Use Prompt to fill one in.
func Templates() []string { return slices.Clone(templates[:]) }

// TipTemplates returns the 7 templates used by Tip-Adapter, TDA and ZERO (a fresh copy).
func TipTemplates() []string { return slices.Clone(tipTemplates[:]) }

// SimpleTemplate is the single template TPT and CoOp's zero-shot baseline use: "a photo of a {}.".
const SimpleTemplate = "a photo of a {}."

// Prompt fills a template's "{}" with a class name: Prompt("a photo of a {}.", "tench") = "a photo of a tench.".
func Prompt(template, class string) string { return strings.Replace(template, "{}", class, 1) }

// Prompts returns one prompt per (template, class) pair, template-major: Prompts(t, c)[i*len(c)+j] =
// Prompt(t[i], c[j]) -- shape [templates, classes] flattened.
func Prompts(templates, classes []string) []string {
	out := make([]string, 0, len(templates)*len(classes))
	for _, t := range templates {
		for _, c := range classes {
			out = append(out, Prompt(t, c))
		}
	}
	return out
}
