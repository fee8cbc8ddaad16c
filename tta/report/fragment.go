package report

import (
	"bytes"
	"strings"
)

// FragmentCSS is the report page's style sheet for tables and figures shown as HTML fragments inside another page
// (a notebook's output): every selector is prefixed with scope (a selector such as ".gotta-report-fragment"), so
// that only elements inside an element matching scope are styled, and the page-level rules (body, footer) are left
// out.
func FragmentCSS(scope string) string {
	var sb strings.Builder
	for _, rule := range strings.Split(pageCSS, "}") {
		selectors, decls, ok := strings.Cut(strings.TrimSpace(rule), "{")
		if !ok {
			continue
		}
		var scoped []string
		for _, sel := range strings.Split(selectors, ",") {
			sel = strings.TrimSpace(sel)
			if sel == "body" || sel == "footer" {
				continue
			}
			scoped = append(scoped, scope+" "+sel)
		}
		if len(scoped) > 0 {
			sb.WriteString(strings.Join(scoped, ",") + "{" + decls + "}\n")
		}
	}
	return sb.String()
}

// HTML renders the figure as the report's page does: a <div class="fig"> holding the inline SVG (or a note that
// there is no figure), the caption and the note.
func (f Figure) HTML() string {
	var b bytes.Buffer
	writeFigure(&b, f)
	return b.String()
}
