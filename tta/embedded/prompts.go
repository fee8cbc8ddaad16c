package embedded

import (
	"strings"

	"github.com/gotta-ml/gotta/datasets/mnist"
)

// ClassNames returns the class names of the embedded models, by label: "zero" .. "nine" (mnist.ClassNames).
func ClassNames() []string { return mnist.ClassNames() }

// digitNumerals are the digits as numerals, by label.
var digitNumerals = [10]string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}

// DefaultTemplate is the single prompt of zero-shot evaluation and TPT's initial prompt ("{}" is the class name).
const DefaultTemplate = "a photo of the number {}."

// EnsembleTemplates returns the small prompt ensemble for evaluation (CLIP's template ensembling); the first is
// DefaultTemplate. Each has one "{}" for the class name ("zero" .. "nine").
func EnsembleTemplates() []string {
	return []string{DefaultTemplate, "a handwritten {}.", "the digit {}.", "a drawing of the number {}.",
		"a blurry photo of the number {}.", "a photo of a {}."}
}

// CaptionTemplates returns the templates of the training captions. "{}" is filled with the class name ("seven")
// and "{#}" with the numeral ("7"), so the text tower learns both spellings.
func CaptionTemplates() []string {
	return []string{
		"a photo of the number {}.", "a handwritten {#}.", "the digit {}.", "a handwritten {}.",
		"a photo of the digit {#}.", "a picture of the number {}.", "an image of a handwritten {}.",
		"the number {#}.", "a drawing of the number {}.", "a blurry photo of the number {}.", "a photo of a {}.",
		"a scan of the digit {}.", "a handwritten digit {#}.", "{}.", "a photo of the number {#}.",
		"a bright photo of a {}.", "a dark photo of the digit {}.", "a sketch of a {}.",
	}
}

// Caption fills a caption template for a label 0..9 ("{}" the class name, "{#}" the numeral).
func Caption(template string, label int) string {
	s := strings.ReplaceAll(template, "{#}", digitNumerals[label])
	return strings.ReplaceAll(s, "{}", ClassNames()[label])
}

// VocabularyWords are the words of the embedded tokenizer: every word of the filled caption templates and of the
// evaluation templates, the numerals, and "x" (the placeholder TPT's prompt learner tokenizes, "X X X X {}.").
func VocabularyWords() []string {
	var words []string
	for l := range 10 {
		for _, t := range append(CaptionTemplates(), EnsembleTemplates()...) {
			words = append(words, Words(Caption(t, l))...)
		}
		words = append(words, digitNumerals[l])
	}
	return append(words, "x")
}
