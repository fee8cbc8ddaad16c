package tta

import (
	"fmt"

	. "github.com/gomlx/gomlx/pkg/core/graph"
)

// TextFeatureDispersion is C-TPT's average text feature dispersion (ATFD): the mean over the classes of the L2
// distance of each class's text feature to their centroid, text [C, E] -> scalar, or per example [batch, C, E] ->
// [batch]. C-TPT computes it on the
// L2-normalised text features of the current prompts and subtracts lambda times it from TPT's loss, so that tuning
// spreads the class features apart (better calibration).
func TextFeatureDispersion(text *Node) *Node {
	if text.Rank() != 2 && text.Rank() != 3 {
		panic(fmt.Errorf("tta.TextFeatureDispersion: text features must be [classes, dim] or [batch, classes, dim], "+
			"got %s", text.Shape()))
	}
	centred := Sub(text, ReduceAndKeep(text, ReduceMean, -2))   // [..., C, E]
	return ReduceMean(Sqrt(ReduceSum(Square(centred), -1)), -1) // [...]
}
