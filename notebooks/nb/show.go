package nb

import (
	"fmt"
	"os"

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

// HTML shows an HTML fragment, styled by the report's style sheet (report.FragmentCSS) and nothing else.
func HTML(fragment string) {
	if !isNotebook() {
		return
	}
	display(fmt.Sprintf("<div class=%q><style>%s</style>%s</div>", scope, report.FragmentCSS("."+scope), fragment))
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
// bar rows, or every row of res).
func Bars(res *report.Results, rows ...string) {
	if len(rows) > 0 {
		res = withSuite(res, func(s *report.Suite) { s.BarRows = rows })
	}
	ShowFigure(must(report.BarsFigure(res)))
}

// Time shows accuracy against seconds per example (report.TimeFigure), one point per row of res.
func Time(res *report.Results) {
	ShowFigure(must(report.TimeFigure(res)))
}

// Reliability shows the reliability diagrams (report.ReliabilityFigures) of the given rows (none: the suite's
// reliability rows) and names the rows without records.
func Reliability(res *report.Results, rows ...string) {
	if len(rows) > 0 {
		res = withSuite(res, func(s *report.Suite) { s.Reliability = rows })
	}
	figs, missing, err := report.ReliabilityFigures(res)
	if err != nil {
		panic(fmt.Errorf("nb: reliability diagrams: %w", err))
	}
	for _, f := range figs {
		ShowFigure(f)
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
