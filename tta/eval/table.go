package eval

import (
	"encoding/csv"
	"fmt"
	"html"
	"math"
	"strings"
)

// Row is one line of a summary table: a run's name and metrics, and optionally a baseline to diff against.
type Row struct {
	Name    string
	Dataset string
	Metrics Metrics
	// Baseline, when set, adds the difference of top-1 to the baseline's top-1.
	Baseline *Metrics
}

// SummaryTable is a table of runs.
type SummaryTable struct {
	Header []string
	Cells  [][]string
}

// Table builds the summary table: run, dataset, n, top-1, delta, top-5, ECE, NLL, entropy, s/example (median, p95).
func Table(rows []Row) SummaryTable {
	t := SummaryTable{Header: []string{"method", "dataset", "n", "top-1 (%)", "Δ top-1", "top-5 (%)", "ECE (%)",
		"NLL", "entropy", "s/example", "p95 s"}}
	for _, r := range rows {
		m := r.Metrics
		delta := ""
		if r.Baseline != nil {
			delta = fmt.Sprintf("%+.2f", m.Top1-r.Baseline.Top1)
		}
		n := fmt.Sprint(m.N)
		if m.Errors > 0 {
			n = fmt.Sprintf("%d (+%d errors)", m.N, m.Errors)
		}
		t.Cells = append(t.Cells, []string{r.Name, r.Dataset, n, f2(m.Top1), delta, f2(m.Top5), f2(m.ECE),
			f3(m.NLL), f3(m.Entropy), f3(m.SecondsMedian), f3(m.SecondsP95)})
	}
	return t
}

func f2(v float64) string { return fnum(v, 2) }
func f3(v float64) string { return fnum(v, 3) }
func fnum(v float64, prec int) string {
	if math.IsNaN(v) {
		return "–"
	}
	return fmt.Sprintf("%.*f", prec, v)
}

// Markdown renders the table as GitHub Markdown.
func (t SummaryTable) Markdown() string {
	var sb strings.Builder
	sb.WriteString("| " + strings.Join(t.Header, " | ") + " |\n|")
	for range t.Header {
		sb.WriteString("---|")
	}
	sb.WriteString("\n")
	for _, row := range t.Cells {
		sb.WriteString("| " + strings.Join(row, " | ") + " |\n")
	}
	return sb.String()
}

// HTML renders the table as an HTML <table> with class "gotta-summary".
func (t SummaryTable) HTML() string {
	var sb strings.Builder
	sb.WriteString(`<table class="gotta-summary"><thead><tr>`)
	for _, h := range t.Header {
		sb.WriteString("<th>" + html.EscapeString(h) + "</th>")
	}
	sb.WriteString("</tr></thead><tbody>")
	for _, row := range t.Cells {
		sb.WriteString("<tr>")
		for _, c := range row {
			sb.WriteString("<td>" + html.EscapeString(c) + "</td>")
		}
		sb.WriteString("</tr>")
	}
	sb.WriteString("</tbody></table>")
	return sb.String()
}

// CSV renders the table as CSV.
func (t SummaryTable) CSV() string {
	var sb strings.Builder
	w := csv.NewWriter(&sb)
	_ = w.Write(t.Header)
	_ = w.WriteAll(t.Cells)
	w.Flush()
	return sb.String()
}
