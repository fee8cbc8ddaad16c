package report

import (
	"fmt"
	"html"
	"math"
	"strings"
	"unicode/utf8"

	"github.com/gotta-ml/gotta/tta/eval"
)

// Table is a rendered table: a title, a header, rows of cells and notes (why rows are not available).
type Table struct {
	ID, Title string
	Header    []string
	Rows      [][]string
	Notes     []string
}

// Markdown renders the table as GitHub Markdown (title as bold text, notes as a list).
func (t Table) Markdown() string {
	var sb strings.Builder
	if t.Title != "" {
		sb.WriteString("**" + t.Title + "**\n\n")
	}
	sb.WriteString("| " + strings.Join(t.Header, " | ") + " |\n|")
	for i := range t.Header {
		if i == 0 {
			sb.WriteString("---|")
		} else {
			sb.WriteString("---:|")
		}
	}
	sb.WriteString("\n")
	for _, r := range t.Rows {
		sb.WriteString("| " + strings.Join(r, " | ") + " |\n")
	}
	for _, n := range t.Notes {
		sb.WriteString("\n- " + n)
	}
	if len(t.Notes) > 0 {
		sb.WriteString("\n")
	}
	return sb.String()
}

// HTML renders the table as an HTML fragment (<h3> title, <table id=ID>, notes as a list).
func (t Table) HTML() string {
	var sb strings.Builder
	if t.Title != "" {
		sb.WriteString("<h3>" + html.EscapeString(t.Title) + "</h3>\n")
	}
	fmt.Fprintf(&sb, "<table class=\"gotta-report\" id=%q><thead><tr>", t.ID)
	for _, h := range t.Header {
		sb.WriteString("<th>" + html.EscapeString(h) + "</th>")
	}
	sb.WriteString("</tr></thead><tbody>\n")
	for _, r := range t.Rows {
		sb.WriteString("<tr>")
		for i, c := range r {
			cls := ""
			if i > 0 && (c == "n/a" || strings.IndexAny(c[:min(1, len(c))], "0123456789+-") == 0) {
				cls = ` class="num"`
			}
			sb.WriteString("<td" + cls + ">" + html.EscapeString(c) + "</td>")
		}
		sb.WriteString("</tr>\n")
	}
	sb.WriteString("</tbody></table>\n")
	if len(t.Notes) > 0 {
		sb.WriteString("<ul class=\"notes\">")
		for _, n := range t.Notes {
			sb.WriteString("<li>" + html.EscapeString(n) + "</li>")
		}
		sb.WriteString("</ul>\n")
	}
	return sb.String()
}

// Text renders the table for a terminal: aligned columns, the title above, the notes below.
func (t Table) Text() string {
	w := make([]int, len(t.Header))
	for i, h := range t.Header {
		w[i] = utf8.RuneCountInString(h)
	}
	for _, r := range t.Rows {
		for i, c := range r {
			if i < len(w) {
				w[i] = max(w[i], utf8.RuneCountInString(c))
			}
		}
	}
	line := func(cells []string) string {
		var sb strings.Builder
		for i, c := range cells {
			pad := strings.Repeat(" ", w[i]-utf8.RuneCountInString(c))
			if i == 0 {
				sb.WriteString(c + pad)
			} else {
				sb.WriteString("  " + pad + c)
			}
		}
		return strings.TrimRight(sb.String(), " ") + "\n"
	}
	var sb strings.Builder
	if t.Title != "" {
		sb.WriteString(t.Title + "\n")
	}
	sb.WriteString(line(t.Header))
	total := 0
	for _, x := range w {
		total += x + 2
	}
	sb.WriteString(strings.Repeat("-", total-2) + "\n")
	for _, r := range t.Rows {
		sb.WriteString(line(r))
	}
	for _, n := range t.Notes {
		sb.WriteString("  " + n + "\n")
	}
	return sb.String()
}

// RowSummary is one row of the main table as numbers.
type RowSummary struct {
	Experiment Experiment
	// Top1 by dataset ID (NaN when the cell has no records).
	Top1 map[string]float64
	// N by dataset ID: records without error.
	N map[string]int
	// Mean is the mean top-1 over the shifted datasets (all datasets when none is shifted); NaN when one is missing.
	Mean float64
	// Delta is Mean minus the baseline row's Mean (NaN without a baseline).
	Delta float64
	// SecondsPerExample is the mean wall time per record over the row's cells.
	SecondsPerExample float64
	// ECE is the expected calibration error (%) of the records pooled over the shifted datasets.
	ECE float64
	// Status is "" when every cell has all its records, else why not ("not available: ...", "failed: ...",
	// "partial").
	Status string
}

// meanOver are the datasets the mean averages.
func meanOver(s *Suite) []string {
	var ids, all []string
	for _, d := range s.Datasets {
		all = append(all, d.ID)
		if d.Shifted {
			ids = append(ids, d.ID)
		}
	}
	if len(ids) == 0 {
		return all
	}
	return ids
}

// Summaries computes the main table's numbers from the records, one per suite row.
func Summaries(res *Results) []RowSummary {
	s := res.Suite
	over := meanOver(s)
	out := make([]RowSummary, 0, len(s.Rows))
	byID := map[string]*RowSummary{}
	for _, e := range s.Rows {
		rs := RowSummary{Experiment: e, Top1: map[string]float64{}, N: map[string]int{}, Delta: math.NaN()}
		var secs float64
		var nsecs int
		var pooled []*eval.Record
		var status, failedOn []string
		failed, firstErr := 0, ""
		for _, d := range s.Datasets {
			c := res.Cell(e, d.ID)
			if c == nil {
				rs.Top1[d.ID] = math.NaN()
				continue
			}
			m := c.Metrics()
			rs.Top1[d.ID], rs.N[d.ID] = m.Top1, m.N
			for _, r := range c.Records {
				if r.Error == "" {
					secs += r.Seconds
					nsecs++
				}
			}
			if d.Shifted || len(over) == len(s.Datasets) {
				pooled = append(pooled, c.Records...)
			}
			switch {
			case c.Err != nil:
				status = append(status, describeErr(c.Err))
			case m.Errors > 0:
				failed += m.Errors
				failedOn = append(failedOn, d.ID)
				if firstErr == "" {
					firstErr = firstError(c.Records)
				}
			case c.N > 0 && len(c.Records) < c.N:
				status = append(status, fmt.Sprintf("partial: %d of %d examples on %s", len(c.Records), c.N, d.ID))
			}
		}
		if failed > 0 {
			status = append(status, fmt.Sprintf("failed: %d examples on %s (e.g. %s)", failed,
				strings.Join(failedOn, ", "), firstErr))
		}
		rs.Mean = 0
		for _, id := range over {
			rs.Mean += rs.Top1[id]
		}
		rs.Mean /= float64(len(over))
		rs.SecondsPerExample = math.NaN()
		if nsecs > 0 {
			rs.SecondsPerExample = secs / float64(nsecs)
		}
		rs.ECE = eval.ComputeMetrics(pooled).ECE
		rs.Status = strings.Join(dedupe(status), "; ")
		out = append(out, rs)
		byID[e.ID] = &out[len(out)-1]
	}
	for i := range out {
		if b, ok := byID[out[i].Experiment.Baseline]; ok {
			out[i].Delta = out[i].Mean - b.Mean
		}
	}
	return out
}

func firstError(recs []*eval.Record) string {
	for _, r := range recs {
		if r.Error != "" {
			return r.Error
		}
	}
	return ""
}

func dedupe(s []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, x := range s {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}

// MainTable is the seed project's table on the suite: one row per experiment (grouped by model family), top-1 (%)
// per dataset, the mean over the shifted sets, Δ against the row's baseline, ECE (%) pooled over the shifted
// sets and seconds per example; rows without records read "n/a" and a note says why.
func MainTable(res *Results) Table {
	s := res.Suite
	t := Table{ID: "main-table", Title: "Top-1 accuracy (%) on " + s.Name}
	t.Header = []string{"method", "model"}
	for _, d := range s.Datasets {
		t.Header = append(t.Header, d.ID)
	}
	meanLabel := "mean"
	if over := meanOver(s); len(over) < len(s.Datasets) {
		meanLabel = "mean (shifted)"
	}
	t.Header = append(t.Header, meanLabel, "Δ", "ECE", "s/example")
	for _, rs := range Summaries(res) {
		row := []string{rs.Experiment.Name, rs.Experiment.Group}
		for _, d := range s.Datasets {
			row = append(row, pct(rs.Top1[d.ID]))
		}
		delta := ""
		if rs.Experiment.Baseline != "" {
			delta = signed(rs.Delta)
		}
		row = append(row, pct(rs.Mean), delta, pct(rs.ECE), secs(rs.SecondsPerExample))
		if rs.Status != "" {
			row[0] += " †"
			t.Notes = append(t.Notes, fmt.Sprintf("† %s: %s", rs.Experiment.Name, rs.Status))
		}
		t.Rows = append(t.Rows, row)
	}
	return t
}

// AblationTable lists an ablation's numbers: one row per series, one column per value (mean top-1 over the
// ablation datasets).
func AblationTable(res *Results, a Ablation) Table {
	t := Table{ID: "ablation-" + a.ID, Title: a.Title + " (top-1 %, mean over " +
		strings.Join(res.Suite.AblationDatasets, ", ") + ")"}
	t.Header = []string{"series"}
	for _, v := range a.Values {
		t.Header = append(t.Header, fmt.Sprintf("%s=%g", a.Param, v))
	}
	for _, ser := range a.Series {
		row := []string{ser.Name}
		for _, y := range ablationY(res, a, ser) {
			row = append(row, pct(y))
		}
		t.Rows = append(t.Rows, row)
		if why := seriesStatus(res, a, ser); why != "" {
			t.Notes = append(t.Notes, ser.Name+": "+why)
		}
	}
	return t
}

// ablationY is the mean top-1 over the ablation datasets at each value of a (NaN where a cell has no records).
func ablationY(res *Results, a Ablation, ser Experiment) []float64 {
	pts := a.Points(ser)
	ys := make([]float64, len(pts))
	for i, pt := range pts {
		sum, n := 0.0, 0
		for _, id := range res.Suite.AblationDatasets {
			c := res.Cell(pt, id)
			if c == nil {
				continue
			}
			m := c.Metrics()
			sum += m.Top1
			n++
		}
		ys[i] = math.NaN()
		if n > 0 {
			ys[i] = sum / float64(n)
		}
	}
	return ys
}

func seriesStatus(res *Results, a Ablation, ser Experiment) string {
	var status []string
	failed, firstErr := 0, ""
	for _, pt := range a.Points(ser) {
		for _, id := range res.Suite.AblationDatasets {
			c := res.Cell(pt, id)
			switch {
			case c == nil:
			case c.Err != nil:
				status = append(status, describeErr(c.Err))
			default:
				for _, r := range c.Records {
					if r.Error != "" {
						failed++
						if firstErr == "" {
							firstErr = r.Error
						}
					}
				}
			}
		}
	}
	if failed > 0 {
		status = append(status, fmt.Sprintf("failed: %d examples (e.g. %s)", failed, firstErr))
	}
	return strings.Join(dedupe(status), "; ")
}

func pct(v float64) string {
	if math.IsNaN(v) {
		return "n/a"
	}
	return fmt.Sprintf("%.2f", v)
}

func signed(v float64) string {
	if math.IsNaN(v) {
		return "n/a"
	}
	return fmt.Sprintf("%+.2f", v)
}

func secs(v float64) string {
	if math.IsNaN(v) {
		return "n/a"
	}
	if v < 0.1 {
		return fmt.Sprintf("%.4f", v)
	}
	return fmt.Sprintf("%.3f", v)
}
