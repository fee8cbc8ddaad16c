// Package tta is the GoTTA library root: what every test-time-adaptation method shares (the adapter protocol,
// marginal entropy, confidence selection, the episodic reset) and where GoTTA keeps its files (Home).
//
// Methods live in one small package each (tta/tpt, tta/memo, tta/ensemble, tta/zeroshot, tta/zero, tta/mta) and import
// this root, never each other; pieces several methods share have small packages of their own: tta/viewens (the
// no-gradient view ensemble), tta/mcdropout (MC-dropout's samples), tta/align (the seed project's image alignment
// before TPT). A function X that builds graph nodes has its host twin, computed in float64 on plain slices, named XHost
// (ViewEntropies / ViewEntropiesHost, MeanLogProbs / MeanLogProbsHost, ConfidenceSelect / ConfidenceSelectHost,
// LogSoftmaxHost for GoMLX's LogSoftmax). Models live in tta/clip and tta/resnet; the evaluation runner in tta/eval;
// the backend choice in tta/backend.
//
// Usage:
//
//	fmt.Println(tta.Home()) // $GOTTA_HOME, or ~/.cache/gotta
package tta
