package report

import (
	"fmt"
	"html"
	"math"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gotta-ml/gotta/tta/eval"
)

// Table is a rendered table: a title, a header, rows of cells, a legend (what the marks and intervals mean) and
// notes (why rows are not available).
type Table struct {
	ID, Title string
	Header    []string
	Rows      [][]string
	Legend    []string
	Notes     []string
}

// mdCell escapes a cell for a Markdown table: "|" would end the cell, "*" could start emphasis.
func mdCell(c string) string {
	return strings.NewReplacer("|", `\|`, "*", `\*`).Replace(c)
}

// Markdown renders the table as GitHub Markdown (title as bold text, notes as a list).
func (t Table) Markdown() string {
	var sb strings.Builder
	if t.Title != "" {
		sb.WriteString("**" + t.Title + "**\n\n")
	}
	md := func(cells []string) string {
		out := make([]string, len(cells))
		for i, c := range cells {
			out[i] = mdCell(c)
		}
		return "| " + strings.Join(out, " | ") + " |\n"
	}
	sb.WriteString(md(t.Header) + "|")
	for i := range t.Header {
		if i == 0 {
			sb.WriteString("---|")
		} else {
			sb.WriteString("---:|")
		}
	}
	sb.WriteString("\n")
	for _, r := range t.Rows {
		sb.WriteString(md(r))
	}
	if len(t.Legend) > 0 {
		sb.WriteString("\n" + mdCell(strings.Join(t.Legend, " ")) + "\n")
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
			if i > 0 && (c == "n/a" || strings.IndexAny(c[:min(1, len(c))], "0123456789+-<") == 0) {
				cls = ` class="num"`
			}
			sb.WriteString("<td" + cls + ">" + htmlCell(c) + "</td>")
		}
		sb.WriteString("</tr>\n")
	}
	sb.WriteString("</tbody></table>\n")
	if len(t.Legend) > 0 {
		sb.WriteString("<p class=\"legend\">" + html.EscapeString(strings.Join(t.Legend, " ")) + "</p>\n")
	}
	if len(t.Notes) > 0 {
		sb.WriteString("<ul class=\"notes\">")
		for _, n := range t.Notes {
			sb.WriteString("<li>" + html.EscapeString(n) + "</li>")
		}
		sb.WriteString("</ul>\n")
	}
	return sb.String()
}

// intervalCell matches a cell "estimate [lo, hi]" with an optional significance mark.
var intervalCell = regexp.MustCompile(`^(\S+) (\[[^\]]*\])(\*?)$`)

// htmlCell escapes a cell for HTML, the interval of "58.3 [52.1, 65.2]" in a <span class="ci"> (smaller, grey).
func htmlCell(c string) string {
	m := intervalCell.FindStringSubmatch(c)
	if m == nil {
		return html.EscapeString(c)
	}
	return html.EscapeString(m[1]) + ` <span class="ci">` + html.EscapeString(m[2]) + "</span>" + html.EscapeString(m[3])
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
	for _, l := range t.Legend {
		sb.WriteString("  " + l + "\n")
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
	// Top1CI by dataset ID: the 95% Wilson interval of Top1 (percent; NaN without records).
	Top1CI map[string]eval.Interval
	// N by dataset ID: records without error.
	N map[string]int
	// Mean is the mean top-1 over the shifted datasets (all datasets when none is shifted); NaN when one is missing.
	Mean float64
	// MeanCI is the 95% Wilson interval of the accuracy of the records pooled over those datasets (percent; its Est
	// equals Mean when the datasets have as many records each).
	MeanCI eval.Interval
	// Delta is Mean minus the baseline row's Mean (NaN without a baseline).
	Delta float64
	// DeltaP is the exact McNemar p-value of the row against its baseline on the examples both have, pooled over
	// the mean's datasets and paired by dataset and example index (NaN without a baseline or when Delta is NaN).
	DeltaP float64
	// DeltaCI is the paired bootstrap 95% interval of the accuracy difference on those pairs (percent;
	// eval.BootstrapReps resamples, seed eval.BootstrapSeed).
	DeltaCI eval.Interval
	// Pairs is the number of examples paired with the baseline.
	Pairs int
	// SecondsPerExample is the mean wall time per record over the row's cells.
	SecondsPerExample float64
	// ECE is the expected calibration error (%) of the records pooled over the shifted datasets.
	ECE float64
	// ECECI is the bootstrap 95% interval of ECE (records resampled; eval.BootstrapReps, seed eval.BootstrapSeed).
	ECECI eval.Interval
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
		rs := RowSummary{Experiment: e, Top1: map[string]float64{}, Top1CI: map[string]eval.Interval{},
			N: map[string]int{}, Delta: math.NaN(), DeltaP: math.NaN(), DeltaCI: nanInterval()}
		var secs float64
		var nsecs int
		var pooled []*eval.Record
		var status, failedOn []string
		failed, firstErr := 0, ""
		for _, d := range s.Datasets {
			c := res.Cell(e, d.ID)
			if c == nil {
				rs.Top1[d.ID], rs.Top1CI[d.ID] = math.NaN(), nanInterval()
				continue
			}
			m := c.Metrics()
			rs.Top1[d.ID], rs.N[d.ID] = m.Top1, m.N
			rs.Top1CI[d.ID] = eval.AccuracyInterval(c.Records)
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
		rs.MeanCI = eval.AccuracyInterval(pooled)
		rs.ECECI = eval.BootstrapECE(pooled, eval.BootstrapReps, eval.BootstrapSeed, 0.95)
		if math.IsNaN(rs.Mean) {
			rs.MeanCI = nanInterval()
		}
		rs.Status = strings.Join(dedupe(status), "; ")
		out = append(out, rs)
		byID[e.ID] = &out[len(out)-1]
	}
	for i := range out {
		b, ok := byID[out[i].Experiment.Baseline]
		if !ok {
			continue
		}
		out[i].Delta = out[i].Mean - b.Mean
		if math.IsNaN(out[i].Delta) {
			continue
		}
		p := pairWith(res, b.Experiment, out[i].Experiment, over)
		out[i].Pairs = p.N()
		if p.N() > 0 {
			out[i].DeltaP = p.McNemar()
			out[i].DeltaCI = p.BootstrapDiff(eval.BootstrapReps, eval.BootstrapSeed, 0.95)
		}
	}
	return out
}

// pairWith pairs row e's outcomes (B) with its baseline's (A) on the given datasets, example by example.
func pairWith(res *Results, baseline, e Experiment, datasets []string) eval.Paired {
	var p eval.Paired
	for _, id := range datasets {
		cb, ce := res.Cell(baseline, id), res.Cell(e, id)
		if cb == nil || ce == nil {
			continue
		}
		p.Append(eval.PairByIndex(cb.Records, ce.Records))
	}
	return p
}

func nanInterval() eval.Interval {
	return eval.Interval{Est: math.NaN(), Lo: math.NaN(), Hi: math.NaN()}
}

// Significance is the p-value below which a Δ is marked significant.
const Significance = 0.05

// significanceMark is appended to a Δ whose p-value is below Significance.
const significanceMark = "*"

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
// per dataset, the mean over the shifted sets, Δ against the row's baseline with its exact McNemar p-value, ECE (%)
// pooled over the shifted sets and seconds per example. Accuracies carry their 95% Wilson interval, Δ its paired
// bootstrap interval and a mark when p < Significance, ECE its bootstrap interval; a legend under the table says
// so. Rows without records read "n/a" and a note says why.
func MainTable(res *Results) Table {
	s := res.Suite
	t := Table{ID: "main-table", Title: "Top-1 accuracy (%) on " + s.Name}
	t.Header = []string{"method", "model"}
	for _, d := range s.Datasets {
		t.Header = append(t.Header, d.ID)
	}
	over := meanOver(s)
	meanLabel := "mean"
	if len(over) < len(s.Datasets) {
		meanLabel = "mean (shifted)"
	}
	t.Header = append(t.Header, meanLabel, "Δ", "p", "ECE", "s/example")
	minN, maxN := math.MaxInt, 0
	for _, rs := range Summaries(res) {
		row := []string{rs.Experiment.Name, rs.Experiment.Group}
		for _, d := range s.Datasets {
			row = append(row, withInterval(rs.Top1[d.ID], rs.Top1CI[d.ID]))
			if n, ok := rs.N[d.ID]; ok && n > 0 {
				minN, maxN = min(minN, n), max(maxN, n)
			}
		}
		delta, p := "", ""
		if rs.Experiment.Baseline != "" {
			delta, p = signedWithInterval(rs.Delta, rs.DeltaCI), pValue(rs.DeltaP)
			if rs.DeltaP < Significance {
				delta += significanceMark
			}
		}
		row = append(row, withInterval(rs.Mean, rs.MeanCI), delta, p, withInterval(rs.ECE, rs.ECECI),
			secs(rs.SecondsPerExample))
		if rs.Status != "" {
			row[0] += " †"
			t.Notes = append(t.Notes, fmt.Sprintf("† %s: %s", rs.Experiment.Name, rs.Status))
		}
		t.Rows = append(t.Rows, row)
	}
	n := "n examples"
	switch {
	case maxN == 0:
	case minN == maxN:
		n = fmt.Sprintf("n = %d examples", maxN)
	default:
		n = fmt.Sprintf("n = %d to %d examples", minN, maxN)
	}
	t.Legend = []string{
		fmt.Sprintf("Accuracies: top-1 %% [95%% Wilson interval] on %s per dataset; %s: the mean over %s, its "+
			"interval on their examples pooled.", n, meanLabel, strings.Join(over, ", ")),
		fmt.Sprintf("Δ: %s minus the baseline row's [95%% paired bootstrap interval, %d resamples]; p: two-sided "+
			"exact McNemar test on the same examples (paired by dataset and index); %s: p < %g.", meanLabel,
			eval.BootstrapReps, significanceMark, Significance),
		fmt.Sprintf("ECE: expected calibration error %% (%d bins) of the pooled examples [95%% bootstrap interval].",
			eval.ECEBins),
	}
	return t
}

// AblationTable lists an ablation's numbers: one row per series, one column per value (mean top-1 over the
// ablation datasets, with the 95% Wilson interval of their examples pooled).
func AblationTable(res *Results, a Ablation) Table {
	t := Table{ID: "ablation-" + a.ID, Title: a.Title + " (top-1 %, mean over " +
		strings.Join(res.Suite.AblationDatasets, ", ") + ")"}
	t.Header = []string{"series"}
	for _, v := range a.Values {
		t.Header = append(t.Header, fmt.Sprintf("%s=%g", a.Param, v))
	}
	minN, maxN := math.MaxInt, 0
	for _, ser := range a.Series {
		row := []string{ser.Name}
		ys, cis, ns := ablationPoints(res, a, ser)
		for i, y := range ys {
			row = append(row, withInterval(y, cis[i]))
			if ns[i] > 0 {
				minN, maxN = min(minN, ns[i]), max(maxN, ns[i])
			}
		}
		t.Rows = append(t.Rows, row)
		if why := seriesStatus(res, a, ser); why != "" {
			t.Notes = append(t.Notes, ser.Name+": "+why)
		}
	}
	n := "their examples"
	switch {
	case maxN == 0:
	case minN == maxN:
		n = fmt.Sprintf("their %d examples", maxN)
	default:
		n = fmt.Sprintf("their %d to %d examples", minN, maxN)
	}
	t.Legend = []string{fmt.Sprintf("Top-1 %% [95%% Wilson interval on %s pooled].", n)}
	return t
}

// ablationY is the mean top-1 over the ablation datasets at each value of a (NaN where a cell has no records).
func ablationY(res *Results, a Ablation, ser Experiment) []float64 {
	ys, _, _ := ablationPoints(res, a, ser)
	return ys
}

// ablationPoints are, at each value of a, the mean top-1 over the ablation datasets (NaN where no cell has
// records), the 95% Wilson interval of the records pooled over them and the number of those records.
func ablationPoints(res *Results, a Ablation, ser Experiment) (ys []float64, cis []eval.Interval, ns []int) {
	pts := a.Points(ser)
	ys, cis, ns = make([]float64, len(pts)), make([]eval.Interval, len(pts)), make([]int, len(pts))
	for i, pt := range pts {
		sum, n := 0.0, 0
		var pooled []*eval.Record
		for _, id := range res.Suite.AblationDatasets {
			c := res.Cell(pt, id)
			if c == nil {
				continue
			}
			m := c.Metrics()
			if m.N == 0 {
				continue
			}
			sum += m.Top1
			n++
			pooled = append(pooled, c.Records...)
			ns[i] += m.N
		}
		ys[i], cis[i] = math.NaN(), nanInterval()
		if n > 0 {
			ys[i] = sum / float64(n)
			cis[i] = eval.AccuracyInterval(pooled)
		}
	}
	return ys, cis, ns
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

// withInterval is "58.3 [52.1, 65.2]": v and its interval with one decimal ("n/a" when v is NaN, v alone when the
// interval is).
func withInterval(v float64, iv eval.Interval) string {
	if math.IsNaN(v) {
		return "n/a"
	}
	if math.IsNaN(iv.Lo) || math.IsNaN(iv.Hi) {
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.1f [%.1f, %.1f]", v, iv.Lo, iv.Hi)
}

// signedWithInterval is withInterval with a sign: "+2.8 [-4.1, 9.6]".
func signedWithInterval(v float64, iv eval.Interval) string {
	if math.IsNaN(v) {
		return "n/a"
	}
	if math.IsNaN(iv.Lo) || math.IsNaN(iv.Hi) {
		return fmt.Sprintf("%+.1f", v)
	}
	return fmt.Sprintf("%+.1f [%+.1f, %+.1f]", v, iv.Lo, iv.Hi)
}

// pValue is a p-value with two significant digits ("0.031", "<0.001", "1").
func pValue(p float64) string {
	switch {
	case math.IsNaN(p):
		return "n/a"
	case p < 0.001:
		return "<0.001"
	case p >= 0.995:
		return "1"
	}
	return strconv.FormatFloat(p, 'g', 2, 64)
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
