package tda

import (
	"fmt"
	"math"
)

// LogitScale is the original's fixed logit scale: clip_logits = 100 * features @ clip_weights (utils.py
// get_clip_logits), whatever the model's own logit_scale.
const LogitScale = 100

// The original's defaults: configs/imagenet.yaml (the published ImageNet configuration) and get_clip_logits' 10%.
const (
	// DefaultSelect is the fraction of views kept by confidence when there are several: int(N * 0.1).
	DefaultSelect = 0.1
	// DefaultViews is ImageNet's number of views (one: CLIP's preprocessing); AugMixViews for ImageNet-A/V2/R/S.
	DefaultViews = 1
	// AugMixViews is the original's number of views on ImageNet-A, -V2, -R and -Sketch: the image and 63 AugMix views.
	AugMixViews = 64
	// DefaultPosShots is the positive cache's shot_capacity.
	DefaultPosShots = 3
	// DefaultPosAlpha is the positive cache's alpha on ImageNet.
	DefaultPosAlpha = 2.0
	// DefaultPosBeta is the positive cache's beta on ImageNet.
	DefaultPosBeta = 5.0
	// DefaultNegShots is the negative cache's shot_capacity.
	DefaultNegShots = 2
	// DefaultNegAlpha is the negative cache's alpha.
	DefaultNegAlpha = 0.117
	// DefaultNegBeta is the negative cache's beta.
	DefaultNegBeta = 1.0
	// DefaultEntropyLower is the negative cache's entropy_threshold.lower.
	DefaultEntropyLower = 0.2
	// DefaultEntropyUpper is the negative cache's entropy_threshold.upper.
	DefaultEntropyUpper = 0.5
	// DefaultMaskLower is the negative cache's mask_threshold.lower.
	DefaultMaskLower = 0.03
	// DefaultMaskUpper is the negative cache's mask_threshold.upper.
	DefaultMaskUpper = 1.0
)

// CacheOptions configure one cache.
type CacheOptions struct {
	// Enabled turns the cache on.
	Enabled bool
	// Shots is the number of entries each class keeps (shot_capacity).
	Shots int
	// Alpha weighs the cache's logits.
	Alpha float64
	// Beta is the sharpness of the affinity weight exp(-beta (1 - affinity)).
	Beta float64
}

// Options are TDA's settings. Start from DefaultOptions (the zero value has both caches off and Select 0, which New
// refuses).
type Options struct {
	// Select is the fraction of views kept when there are several: the int(N * Select) of lowest entropy.
	Select float64
	// Positive is the positive cache.
	Positive CacheOptions
	// Negative is the negative cache.
	Negative CacheOptions
	// EntropyLower and EntropyUpper bound (strictly) the normalised entropy of the examples the negative cache takes.
	EntropyLower, EntropyUpper float64
	// MaskLower and MaskUpper bound (strictly) the probabilities a negative entry counts against.
	MaskLower, MaskUpper float64
	// Name is the method name in records; default "tda".
	Name string
}

// DefaultOptions are the published ImageNet configuration (configs/imagenet.yaml, both caches on).
func DefaultOptions() Options {
	return Options{Select: DefaultSelect,
		Positive:     CacheOptions{Enabled: true, Shots: DefaultPosShots, Alpha: DefaultPosAlpha, Beta: DefaultPosBeta},
		Negative:     CacheOptions{Enabled: true, Shots: DefaultNegShots, Alpha: DefaultNegAlpha, Beta: DefaultNegBeta},
		EntropyLower: DefaultEntropyLower, EntropyUpper: DefaultEntropyUpper,
		MaskLower: DefaultMaskLower, MaskUpper: DefaultMaskUpper}
}

// check validates the options.
func (o Options) check() error {
	if !(o.Select > 0 && o.Select <= 1) {
		return fmt.Errorf("tda: Select must be in (0, 1], got %g", o.Select)
	}
	for _, c := range []struct {
		name string
		o    CacheOptions
	}{{"positive", o.Positive}, {"negative", o.Negative}} {
		if c.o.Enabled && c.o.Shots < 1 {
			return fmt.Errorf("tda: the %s cache needs Shots >= 1, got %d", c.name, c.o.Shots)
		}
		if math.IsNaN(c.o.Alpha) || math.IsNaN(c.o.Beta) || math.IsInf(c.o.Alpha, 0) || math.IsInf(c.o.Beta, 0) {
			return fmt.Errorf("tda: the %s cache's alpha and beta must be finite, got %g, %g", c.name, c.o.Alpha, c.o.Beta)
		}
	}
	if math.IsNaN(o.EntropyLower + o.EntropyUpper + o.MaskLower + o.MaskUpper) {
		return fmt.Errorf("tda: NaN threshold")
	}
	return nil
}

// KeepCount is the number of views the selection keeps: int(n * sel) as the original computes it (float64 product,
// truncated) for n > 1; 1 for a single view (the original's one-view path).
func KeepCount(n int, sel float64) int {
	if n == 1 {
		return 1
	}
	return int(float64(n) * sel)
}
