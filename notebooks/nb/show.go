package nb

import (
	"fmt"
	"os"
	"strings"

	"github.com/janpfeifer/gonb/gonbui"

	"github.com/gotta-ml/gotta/tta/report"
)

// display shows an HTML fragment under the running cell and waits until GoNB has it (a display sent just before
// the cell's program exits can otherwise be lost). Tests replace it.
var display = func(fragment string) {
	gonbui.DisplayHTML(fragment)
	gonbui.Sync()
}

// updateDisplay replaces the content of the display id (created on first use) under the running cell. Tests
// replace it.
var updateDisplay = gonbui.UpdateHTML

// isNotebook says whether displays reach a notebook; false prints tables as text instead. Tests replace it.
var isNotebook = func() bool { return gonbui.IsNotebook }

// hostCSS undoes what Jupyter's own style sheet does to tables (every cell right-aligned) where the report's style
// sheet relies on the browser's defaults.
func hostCSS() string {
	t := "." + scope + " table.gotta-report "
	return t + "th," + t + "td{text-align:left}\n" + t + "td.num{text-align:right}\n"
}

// HTML shows an HTML fragment inside a <div class="gotta-nb"> styled by the report's style sheet
// (report.FragmentCSS), which styles nothing outside it. Outside a notebook it does nothing.
func HTML(fragment string) {
	if !isNotebook() {
		return
	}
	display(fmt.Sprintf("<div class=%q><style>%s%s</style>%s</div>", scope, hostCSS(), report.FragmentCSS("."+scope),
		fragment))
}

// SVG shows an SVG image (the bytes of plots' charts) inline, so that it survives the notebook's HTML export.
func SVG(svg []byte) {
	HTML(report.Figure{SVG: svg}.HTML())
}

// Show shows a table as HTML (report.Table.HTML: accuracies with their intervals, the legend and the notes); outside
// a notebook it prints the table as text.
func Show(t report.Table) {
	if !isNotebook() {
		fmt.Fprint(os.Stdout, t.Text())
		return
	}
	HTML(t.HTML())
}

// ShowFigure shows a figure as the report's page does: the inline SVG, its caption and its note.
func ShowFigure(f report.Figure) {
	HTML(f.HTML())
}

// Table shows the main table (report.SubTable) of the rows of res (Run's rows), titled title ("": the main
// table's title).
func Table(res *report.Results, title string) {
	var ids []string
	for _, e := range res.Suite.Rows {
		ids = append(ids, e.ID)
	}
	Show(report.SubTable(res, title, ids))
}

// Bars shows the grouped bar chart of top-1 per dataset (report.BarsFigure) of the given rows (none: the suite's
// bar rows among res's rows, or every row of res).
func Bars(res *report.Results, rows ...string) {
	res = withSuite(res, func(s *report.Suite) { s.BarRows = rowsIn(s, rows, s.BarRows) })
	ShowFigure(must(report.BarsFigure(res)))
}

// ECE shows each row's expected calibration error per dataset with its bootstrap interval (report.ECETable).
func ECE(res *report.Results) {
	Show(report.ECETable(res))
}

// Stream shows the running accuracy along the test stream (report.StreamFigure) of the given rows (none: the
// suite's stream rows among res's rows).
func Stream(res *report.Results, rows ...string) {
	res = withSuite(res, func(s *report.Suite) { s.StreamRows = rowsIn(s, rows, s.StreamRows) })
	ShowFigure(must(report.StreamFigure(res)))
}

// Time shows accuracy against seconds per example (report.TimeFigure), one point per row of res.
func Time(res *report.Results) {
	ShowFigure(must(report.TimeFigure(res)))
}

// Reliability shows the reliability diagrams (report.ReliabilityFigures) of the given rows (none: the suite's
// reliability rows among res's rows), side by side, and names the rows without records.
func Reliability(res *report.Results, rows ...string) {
	res = withSuite(res, func(s *report.Suite) { s.Reliability = rowsIn(s, rows, s.Reliability) })
	figs, missing, err := report.ReliabilityFigures(res)
	if err != nil {
		panic(fmt.Errorf("nb: reliability diagrams: %w", err))
	}
	if len(figs) > 0 {
		var sb strings.Builder
		sb.WriteString(`<div class="figs">`) // side by side, as in the report page
		for _, f := range figs {
			sb.WriteString(f.HTML())
		}
		HTML(sb.String() + "</div>")
	}
	if len(missing) > 0 {
		fmt.Printf("no reliability diagram (no records: failed or not available): %v\n", missing)
	}
}

// Ablations shows each ablation of res's suite: its figure (report.AblationFigures) and its table
// (report.AblationTable).
func Ablations(res *report.Results) {
	figs := must(report.AblationFigures(res))
	for i, a := range res.Suite.Ablations {
		if i < len(figs) {
			ShowFigure(figs[i])
		}
		Show(report.AblationTable(res, a))
	}
}

// withSuite returns a view of res whose suite (a copy) is changed by edit; res and its suite are left as they are.
func withSuite(res *report.Results, edit func(*report.Suite)) *report.Results {
	view := *res
	s := *res.Suite
	edit(&s)
	view.Suite = &s
	return &view
}

// rowsIn returns rows when given, else the IDs of defaults that are rows of s (Run's results keep only its rows).
func rowsIn(s *report.Suite, rows, defaults []string) []string {
	if len(rows) > 0 {
		return rows
	}
	var in []string
	for _, id := range defaults {
		if _, ok := s.Row(id); ok {
			in = append(in, id)
		}
	}
	return in
}
