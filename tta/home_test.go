package tta

import (
	"path/filepath"
	"testing"

	"github.com/gotta-ml/gotta/tta/backend"
	"github.com/stretchr/testify/assert"
)

// TestXLACacheUnderHome: the backend's XLA cache (which cannot import this package) lies under CacheDir.
func TestXLACacheUnderHome(t *testing.T) {
	t.Setenv(backend.EnvXLACache, "")
	for _, home := range []string{"", t.TempDir()} {
		t.Setenv(EnvHome, home)
		assert.Equal(t, filepath.Join(CacheDir(), "xla"), backend.XLACacheDir(), "GOTTA_HOME=%q", home)
	}
}
