// Package tta is the GoTTA library root: what every test-time-adaptation method shares (the adapter protocol,
// marginal entropy, confidence selection, the episodic reset) and where GoTTA keeps its files (Home).
//
// Methods live in one small package each (tta/tpt, tta/memo, tta/ensemble, ...) and import this root, never
// each other. Models live in tta/clip and tta/resnet; the evaluation runner in tta/eval; the backend choice in
// tta/backend.
//
// Usage:
//
//	fmt.Println(tta.Home()) // $GOTTA_HOME, or ~/.cache/gotta
package tta
