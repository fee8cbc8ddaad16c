package report

import (
	"fmt"
	"math"
	"strings"

	"github.com/gotta-ml/gotta/plots"
	"github.com/gotta-ml/gotta/tta/eval"
)

// Figure is one rendered plot of the report.
type Figure struct {
	// ID is file-safe ("ablation-views", "reliability-tpt", "time", "bars").
	ID, Title string
	// SVG is the figure (plots' deterministic SVG bytes).
	SVG []byte
	// Caption says what its marks are (e.g. what the bands and error bars show).
	Caption string
	// Note says what is missing from it, if anything.
	Note string
}

// accuracyLabel is the y label of every accuracy axis.
const accuracyLabel = "top-1 accuracy (%)"

// RowStyles gives every row of the suite its plots.Style, the same in every figure: the ablations' series first,
// then the rows of the bar chart, then the other rows, take plots.StyleAt(0, 1, ...) in turn (so the figures with
// a legend get distinct colours first, and the lines the colours that read well as lines: the palette's yellow is
// its last).
func RowStyles(s *Suite) map[string]plots.Style {
	styles := map[string]plots.Style{}
	add := func(id string) {
		if _, ok := styles[id]; !ok {
			styles[id] = plots.StyleAt(len(styles))
		}
	}
	for _, a := range s.Ablations {
		for _, ser := range a.Series {
			add(ser.ID)
		}
	}
	for _, id := range s.BarRows {
		add(id)
	}
	for _, e := range s.Rows {
		add(e.ID)
	}
	return styles
}

// AblationFigures draws one line chart per ablation: mean top-1 over the ablation datasets against the swept value
// (a tick at each), one line per series in its row's style, with a band for the 95% Wilson interval; series
// without records are left out and named in the note.
func AblationFigures(res *Results) ([]Figure, error) {
	var figs []Figure
	styles := RowStyles(res.Suite)
	for _, a := range res.Suite.Ablations {
		l := plots.Line{Title: a.Title, XLabel: a.XLabel, LogX: a.LogX, XTicks: a.Values, YLabel: accuracyLabel}
		var missing []string
		for _, ser := range a.Series {
			ys, cis, _ := ablationPoints(res, a, ser)
			has := false
			lo, hi := make([]float64, len(ys)), make([]float64, len(ys))
			for i, y := range ys {
				has = has || !math.IsNaN(y)
				lo[i], hi[i] = cis[i].Lo, cis[i].Hi
			}
			if !has {
				missing = append(missing, ser.Name)
				continue
			}
			l.Series = append(l.Series, plots.Series{Name: ser.Name, X: a.Values, Y: ys, Lo: lo, Hi: hi,
				Style: styles[ser.ID]})
		}
		svg, err := l.SVG()
		if err != nil {
			return nil, fmt.Errorf("report: ablation %s: %w", a.ID, err)
		}
		f := Figure{ID: "ablation-" + a.ID, Title: a.Title, SVG: svg,
			Caption: "Top-1 accuracy: the mean over " + strings.Join(res.Suite.AblationDatasets, ", ") +
				"; bands: 95% Wilson intervals of their examples pooled."}
		if len(missing) > 0 {
			f.Note = "no results (failed or not available; see the table's notes) for: " + strings.Join(missing, ", ")
		}
		figs = append(figs, f)
	}
	return figs, nil
}

// pooledShifted returns row e's records over the shifted datasets (all datasets when none is shifted).
func pooledShifted(res *Results, e Experiment) []*eval.Record {
	var recs []*eval.Record
	for _, id := range meanOver(res.Suite) {
		if c := res.Cell(e, id); c != nil {
			recs = append(recs, c.Records...)
		}
	}
	return recs
}

// ReliabilityFigures draws the reliability diagram of each row in Suite.Reliability, records pooled over the
// shifted datasets, with its ECE in the title; rows without records are skipped and named in the last return.
func ReliabilityFigures(res *Results) ([]Figure, []string, error) {
	var figs []Figure
	var missing []string
	for _, id := range res.Suite.Reliability {
		e, ok := res.Suite.Row(id)
		if !ok {
			return nil, nil, fmt.Errorf("report: reliability row %q is not in suite %s", id, res.Suite.Name)
		}
		recs := pooledShifted(res, e)
		m := eval.ComputeMetrics(recs)
		if m.N == 0 {
			missing = append(missing, e.Name)
			continue
		}
		r := plots.Reliability{Title: e.Name, BinAccuracy: m.Reliability.BinAccuracy,
			BinConfidence: m.Reliability.BinConfidence, BinCount: m.Reliability.BinCount, ECE: m.ECE,
			Width: plots.DefaultWidth * 2 / 3, Height: plots.DefaultHeight * 3 / 4}
		svg, err := r.SVG()
		if err != nil {
			return nil, nil, fmt.Errorf("report: reliability of %s: %w", id, err)
		}
		ci := eval.BootstrapECE(recs, eval.BootstrapReps, eval.BootstrapSeed, 0.95)
		figs = append(figs, Figure{ID: "reliability-" + id, Title: r.FullTitle(), SVG: svg,
			Caption: fmt.Sprintf("ECE %.1f%% [95%% bootstrap interval %.1f, %.1f] on %d examples.", m.ECE, ci.Lo,
				ci.Hi, m.N)})
	}
	return figs, missing, nil
}

// TimeFigure is accuracy (mean over the shifted sets, with its 95% Wilson interval) against seconds per example,
// one labelled point per row in its row's style.
func TimeFigure(res *Results) (Figure, error) {
	s := plots.Scatter{Title: "Accuracy vs time per example", XLabel: "seconds per example (s, log scale)",
		YLabel: accuracyLabel + ", mean", LogX: true, Legend: true}
	styles := RowStyles(res.Suite)
	var missing []string
	for _, rs := range Summaries(res) {
		if math.IsNaN(rs.Mean) || math.IsNaN(rs.SecondsPerExample) || rs.SecondsPerExample <= 0 {
			missing = append(missing, rs.Experiment.Name)
			continue
		}
		s.Points = append(s.Points, plots.Point{Label: rs.Experiment.Name, X: rs.SecondsPerExample, Y: rs.Mean,
			Lo: rs.MeanCI.Lo, Hi: rs.MeanCI.Hi, Style: styles[rs.Experiment.ID]})
	}
	svg, err := s.SVG()
	if err != nil {
		return Figure{}, fmt.Errorf("report: time figure: %w", err)
	}
	f := Figure{ID: "time", Title: s.Title, SVG: svg,
		Caption: "Top-1 accuracy: the mean over " + strings.Join(meanOver(res.Suite), ", ") +
			"; error bars: 95% Wilson intervals of their examples pooled."}
	if len(missing) > 0 {
		f.Note = "not shown (no results: failed or not available): " + strings.Join(missing, ", ")
	}
	return f, nil
}

// BarsFigure is the grouped bar chart of top-1 per dataset for Suite.BarRows (every row with records when empty),
// each row in its style, with 95% Wilson error bars.
func BarsFigure(res *Results) (Figure, error) {
	s := res.Suite
	styles := RowStyles(s)
	b := plots.Bars{Title: "Top-1 accuracy per dataset", XLabel: "dataset", YLabel: accuracyLabel, YMin: 0,
		YMax: 100, Width: plots.DefaultWidth * 5 / 4, Height: plots.DefaultHeight}
	for _, d := range s.Datasets {
		b.Groups = append(b.Groups, d.ID)
	}
	want := map[string]bool{}
	for _, id := range s.BarRows {
		want[id] = true
	}
	for _, rs := range Summaries(res) {
		if len(want) > 0 && !want[rs.Experiment.ID] {
			continue
		}
		vals := make([]float64, len(s.Datasets))
		lo, hi := make([]float64, len(s.Datasets)), make([]float64, len(s.Datasets))
		has := false
		for i, d := range s.Datasets {
			vals[i] = rs.Top1[d.ID]
			lo[i], hi[i] = rs.Top1CI[d.ID].Lo, rs.Top1CI[d.ID].Hi
			has = has || !math.IsNaN(vals[i])
		}
		if has {
			b.Series = append(b.Series, plots.BarSeries{Name: rs.Experiment.Name, Values: vals, Lo: lo, Hi: hi,
				Style: styles[rs.Experiment.ID]})
		}
	}
	if len(b.Series) == 0 {
		return Figure{ID: "bars", Title: b.Title, Note: "no records yet"}, nil
	}
	svg, err := b.SVG()
	if err != nil {
		return Figure{}, fmt.Errorf("report: bar chart: %w", err)
	}
	return Figure{ID: "bars", Title: b.Title, SVG: svg, Caption: "Error bars: 95% Wilson intervals."}, nil
}
