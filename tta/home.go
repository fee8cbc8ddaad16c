package tta

import (
	"os"
	"path/filepath"
)

// EnvHome overrides the root of every directory GoTTA uses (weights, datasets, caches).
const EnvHome = "GOTTA_HOME"

// Home returns GoTTA's root directory: $GOTTA_HOME when set, else "gotta" under the user's cache directory
// (~/.cache/gotta on Linux), else "./.gotta" when the machine has no cache directory.
func Home() string {
	if h := os.Getenv(EnvHome); h != "" {
		return h
	}
	if c, err := os.UserCacheDir(); err == nil {
		return filepath.Join(c, "gotta")
	}
	return ".gotta"
}

// WeightsDir is where `gotta fetch` puts model weights: Home()/weights.
func WeightsDir() string { return filepath.Join(Home(), "weights") }

// DatasetsDir is where datasets are looked for by default: Home()/datasets.
func DatasetsDir() string { return filepath.Join(Home(), "datasets") }

// CacheDir holds derived data (text features, compiled-kernel caches): Home()/cache.
func CacheDir() string { return filepath.Join(Home(), "cache") }
