package report

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/gotta-ml/gotta/plots"
	"github.com/gotta-ml/gotta/tta/eval"
)

// ECETable lists each row's expected calibration error (%, eval.ECEBins bins) per dataset and pooled over the
// shifted sets, each with its bootstrap 95% interval (eval.BootstrapECE), beside the pooled top-1: C-TPT's paper
// reports ECE beside accuracy.
func ECETable(res *Results) Table {
	s := res.Suite
	t := Table{ID: "ece-table", Title: "Expected calibration error (%) on " + s.Name}
	t.Header = []string{"method"}
	for _, d := range s.Datasets {
		t.Header = append(t.Header, d.ID)
	}
	over := meanOver(s)
	pooledLabel := "pooled"
	if len(over) < len(s.Datasets) {
		pooledLabel = "pooled (shifted)"
	}
	t.Header = append(t.Header, pooledLabel, "top-1, "+pooledLabel)
	for _, rs := range Summaries(res) {
		row := []string{rs.Experiment.Name}
		for _, d := range s.Datasets {
			c := res.Cell(rs.Experiment, d.ID)
			if c == nil || len(c.Records) == 0 {
				row = append(row, "n/a")
				continue
			}
			m := c.Metrics()
			row = append(row, withInterval(m.ECE, eval.BootstrapECE(c.Records, eval.BootstrapReps,
				eval.BootstrapSeed, 0.95)))
		}
		row = append(row, withInterval(rs.ECE, rs.ECECI), withInterval(rs.Mean, rs.MeanCI))
		t.Rows = append(t.Rows, row)
	}
	t.Legend = []string{fmt.Sprintf("ECE: expected calibration error %% (%d equal-width confidence bins) [95%% "+
		"bootstrap interval, %d resamples of the examples]; %s: the examples of %s pooled; top-1 with its 95%% "+
		"Wilson interval.", eval.ECEBins, eval.BootstrapReps, pooledLabel, strings.Join(over, ", "))}
	return t
}

// StreamOrder returns the records in the order their run saw them: by stream position for an online method's
// records, else by index (an episodic method's records, in the default stream order).
func StreamOrder(recs []*eval.Record) []*eval.Record {
	out := append([]*eval.Record(nil), recs...)
	sort.SliceStable(out, func(i, j int) bool { return streamPos(out[i]) < streamPos(out[j]) })
	return out
}

// streamPos is the record's position in its stream (its index when it has none).
func streamPos(r *eval.Record) int {
	if r.StreamPos != nil {
		return *r.StreamPos
	}
	return r.Index
}

// StreamFigure draws the running top-1 accuracy along the test stream for Suite.StreamRows: at position t, the
// accuracy on the first t examples of the stream, averaged over the shifted sets (the sets are cut to the
// shortest), with a band for the 95% Wilson interval of those examples pooled. Online methods improve along the
// stream as their memory fills; a method without state gives the baseline's flat-on-average curve.
func StreamFigure(res *Results) (Figure, error) {
	s := res.Suite
	l := plots.Line{Title: "Accuracy along the test stream", XLabel: "examples seen (stream position)",
		YLabel: "running " + accuracyLabel}
	styles := RowStyles(s)
	var missing []string
	for _, id := range s.StreamRows {
		e, ok := s.Row(id)
		if !ok {
			return Figure{}, fmt.Errorf("report: stream row %q is not in suite %s", id, s.Name)
		}
		xs, ys, lo, hi := streamCurve(res, e)
		if xs == nil {
			missing = append(missing, e.Name)
			continue
		}
		l.Series = append(l.Series, plots.Series{Name: e.Name, X: xs, Y: ys, Lo: lo, Hi: hi, Style: styles[e.ID]})
	}
	if len(l.Series) == 0 {
		return Figure{ID: "stream", Title: l.Title, Note: "no records yet for " + strings.Join(missing, ", ")}, nil
	}
	svg, err := l.SVG()
	if err != nil {
		return Figure{}, fmt.Errorf("report: stream figure: %w", err)
	}
	f := Figure{ID: "stream", Title: l.Title, SVG: svg,
		Caption: "Running top-1 accuracy on the first t examples of each stream (dataset index order), the mean " +
			"over " + strings.Join(meanOver(s), ", ") + "; bands: 95% Wilson intervals of those examples pooled."}
	if len(missing) > 0 {
		f.Note = "no results (failed or not available) for: " + strings.Join(missing, ", ")
	}
	return f, nil
}

// streamCurve is row e's running top-1 (%) at stream positions 1..n, the mean over the shifted sets cut to the
// shortest, with the 95% Wilson interval of those examples pooled; nil when no set has records.
func streamCurve(res *Results, e Experiment) (xs, ys, lo, hi []float64) {
	var streams [][]*eval.Record
	n := math.MaxInt
	for _, ds := range meanOver(res.Suite) {
		c := res.Cell(e, ds)
		if c == nil || len(c.Records) == 0 {
			continue
		}
		st := StreamOrder(c.Records)
		streams = append(streams, st)
		n = min(n, len(st))
	}
	if len(streams) == 0 {
		return nil, nil, nil, nil
	}
	xs, ys, lo, hi = make([]float64, n), make([]float64, n), make([]float64, n), make([]float64, n)
	correct := make([]int, len(streams))
	for t := 0; t < n; t++ {
		k, sum := 0, 0.0
		for j, st := range streams {
			if st[t].Error == "" && st[t].Correct {
				correct[j]++
			}
			k += correct[j]
			sum += float64(correct[j]) / float64(t+1)
		}
		iv := eval.Wilson(k, (t+1)*len(streams), eval.Z95).Scale(100)
		xs[t], ys[t], lo[t], hi[t] = float64(t+1), 100*sum/float64(len(streams)), iv.Lo, iv.Hi
	}
	return xs, ys, lo, hi
}
