package report

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFragmentCSS(t *testing.T) {
	css := FragmentCSS(".frag")
	require.NotEmpty(t, css)
	assert.NotContains(t, css, "body{", "the page's body rule must not restyle the host page")
	assert.NotContains(t, css, "footer", "the page's footer rule is not a fragment's")
	assert.Contains(t, css, ".frag table.gotta-report th,.frag table.gotta-report td{")
	assert.Contains(t, css, ".frag span.ci{")
	for _, rule := range strings.Split(strings.TrimSpace(css), "\n") {
		sels, _, ok := strings.Cut(rule, "{")
		require.True(t, ok, "rule %q", rule)
		for _, s := range strings.Split(sels, ",") {
			assert.True(t, strings.HasPrefix(s, ".frag "), "selector %q of rule %q is not scoped", s, rule)
		}
	}
}

func TestFigureHTML(t *testing.T) {
	f := Figure{ID: "bars", Title: "Bars", Caption: "error bars: 95% Wilson", Note: "row x & y missing",
		SVG: []byte(`<?xml version="1.0"?>` + "\n" + `<svg xmlns="http://www.w3.org/2000/svg"><rect/></svg>`)}
	h := f.HTML()
	assert.True(t, strings.HasPrefix(h, `<div class="fig" id="fig-bars"><svg`), h)
	assert.NotContains(t, h, "<?xml")
	assert.Contains(t, h, `<p class="caption">error bars: 95% Wilson</p>`)
	assert.Contains(t, h, `<p class="note">row x &amp; y missing</p>`)
	empty := Figure{ID: "time", Title: "Time"}.HTML()
	assert.Contains(t, empty, "Time: no figure")
	assert.NotContains(t, empty, "<svg")
}
