package report

import (
	"bytes"
	"fmt"
	"html"
	"runtime"
	"sort"
	"strings"
	"time"
)

// Report is everything a run shows: the main table, the ablations (tables and figures), the reliability
// diagrams, accuracy against time and the per-dataset bars, all computed from Results' records.
type Report struct {
	Results   *Results
	Main      Table
	Ablations []Table
	// AblationFigures are in the order of Suite.Ablations.
	AblationFigures    []Figure
	ReliabilityFigures []Figure
	// ReliabilityMissing names the reliability rows without records.
	ReliabilityMissing []string
	Time, Bars         Figure
	// ECE is ECETable when the suite asks for it (Suite.ECEPerDataset), else nil.
	ECE *Table
	// Stream is StreamFigure when the suite has StreamRows (zero Figure otherwise).
	Stream Figure
}

// Make computes the report from the results.
func Make(res *Results) (*Report, error) {
	r := &Report{Results: res, Main: MainTable(res)}
	for _, a := range res.Suite.Ablations {
		r.Ablations = append(r.Ablations, AblationTable(res, a))
	}
	var err error
	if r.AblationFigures, err = AblationFigures(res); err != nil {
		return nil, err
	}
	if r.ReliabilityFigures, r.ReliabilityMissing, err = ReliabilityFigures(res); err != nil {
		return nil, err
	}
	if r.Time, err = TimeFigure(res); err != nil {
		return nil, err
	}
	if r.Bars, err = BarsFigure(res); err != nil {
		return nil, err
	}
	if res.Suite.ECEPerDataset {
		t := ECETable(res)
		r.ECE = &t
	}
	if len(res.Suite.StreamRows) > 0 {
		if r.Stream, err = StreamFigure(res); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// Text is the report for a terminal: the main table and the ablation tables.
func (r *Report) Text() string {
	var sb strings.Builder
	sb.WriteString(r.Main.Text())
	for _, t := range r.Ablations {
		sb.WriteString("\n" + t.Text())
	}
	return sb.String()
}

// Markdown is the main table and the ablation tables as Markdown (the README's headline section uses the first).
func (r *Report) Markdown() string {
	var sb strings.Builder
	sb.WriteString(r.Main.Markdown())
	for _, t := range r.Ablations {
		sb.WriteString("\n" + t.Markdown())
	}
	return sb.String()
}

// PageInfo is the page's header.
type PageInfo struct {
	// Title of the page; default "GoTTA report".
	Title string
	// Command that regenerates it (shown verbatim).
	Command string
	// Generated is the time shown as the generation time (zero: not shown, which keeps the page deterministic).
	Generated time.Time
}

const pageCSS = `body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:2em auto;max-width:1320px;color:#222;padding:0 1em}
h1{font-size:1.6em}h2{margin-top:2em;border-bottom:1px solid #ddd}h3{font-size:1.05em}
table.gotta-report{border-collapse:collapse;margin:.5em 0;font-size:.9em}
table.gotta-report th,table.gotta-report td{border:1px solid #ccc;padding:.25em .6em}
table.gotta-report th{background:#f3f3f3}td.num{text-align:right;font-variant-numeric:tabular-nums}
.figs{display:flex;flex-wrap:wrap;gap:1em}.fig{margin:.5em 0}.note{color:#a33;font-size:.9em}
ul.notes{font-size:.85em;color:#555}code,pre{background:#f6f6f6;padding:.1em .3em}
p.legend,p.caption{font-size:.85em;color:#444;margin:.2em 0 1em;max-width:70em}td.num{white-space:nowrap}
span.ci{font-size:.85em;color:#666}table.gotta-report td:first-child{min-width:13em}
footer{margin-top:3em;border-top:1px solid #ddd;padding-top:.5em;font-size:.85em;color:#555}`

// HTML renders the report as one self-contained HTML page: tables as HTML, figures as inline SVG, no external
// resource.
func (r *Report) HTML(info PageInfo) []byte {
	res := r.Results
	s := res.Suite
	if info.Title == "" {
		info.Title = "GoTTA report"
	}
	var b bytes.Buffer
	esc := html.EscapeString
	fmt.Fprintf(&b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>%s</title>\n<style>%s</style></head><body>\n",
		esc(info.Title), pageCSS)
	fmt.Fprintf(&b, "<h1>%s</h1>\n<p>Suite <b>%s</b>: %s</p>\n", esc(info.Title), esc(s.Name), esc(s.Description))
	b.WriteString("<ul>")
	if res.EnvDescription != "" {
		fmt.Fprintf(&b, "<li>Models: %s</li>", esc(res.EnvDescription))
	}
	if res.Backend != "" {
		dev := ""
		if res.Device != "" {
			dev = ", " + res.Device
		}
		fmt.Fprintf(&b, "<li>Backend: %s%s</li>", esc(res.Backend), esc(dev))
	}
	if res.Elapsed > 0 {
		fmt.Fprintf(&b, "<li>This run: %s wall time, %d examples evaluated (the rest read from the records)</li>",
			esc(res.Elapsed.Round(time.Second).String()), res.Computed)
	}
	if info.Command != "" {
		fmt.Fprintf(&b, "<li>Regenerate: <code>%s</code></li>", esc(info.Command))
	}
	if !info.Generated.IsZero() {
		fmt.Fprintf(&b, "<li>Generated %s</li>", esc(info.Generated.UTC().Format(time.RFC3339)))
	}
	b.WriteString("</ul>\n<p>Every number below is computed from the per-example records (JSON lines) under results/; " +
		"Δ is the mean minus the row's baseline (CLIP rows: CLIP zero-shot; ResNet rows: the ResNet without adaptation; " +
		"the MEMO + TPT ensembles: CLIP zero-shot). s/example is the mean wall time per example.</p>\n")

	heading := s.Heading
	if heading == "" {
		heading = "The seed project's table"
	}
	fmt.Fprintf(&b, "<h2 id=\"table\">%s</h2>\n", esc(heading))
	b.WriteString(r.Main.HTML())
	writeFigure(&b, r.Bars)
	if r.ECE != nil {
		b.WriteString("<h2 id=\"ece\">Calibration per dataset</h2>\n")
		b.WriteString(r.ECE.HTML())
	}
	if len(s.StreamRows) > 0 {
		b.WriteString("<h2 id=\"stream\">Accuracy along the stream</h2>\n")
		writeFigure(&b, r.Stream)
	}

	if len(r.Ablations) > 0 {
		b.WriteString("<h2 id=\"ablations\">Ablations</h2>\n")
	}
	for i, t := range r.Ablations {
		if i < len(r.AblationFigures) {
			writeFigure(&b, r.AblationFigures[i])
		}
		b.WriteString(t.HTML())
	}

	b.WriteString("<h2 id=\"reliability\">Reliability diagrams</h2>\n<p>Records pooled over the shifted sets; " +
		"15 equal confidence bins; ECE in the title.</p>\n<div class=\"figs\">")
	for _, f := range r.ReliabilityFigures {
		writeFigure(&b, f)
	}
	b.WriteString("</div>\n")
	if len(r.ReliabilityMissing) > 0 {
		fmt.Fprintf(&b, "<p class=\"note\">No results (failed or not available): %s</p>\n",
			esc(strings.Join(r.ReliabilityMissing, ", ")))
	}

	b.WriteString("<h2 id=\"time\">Accuracy vs time per example</h2>\n")
	writeFigure(&b, r.Time)

	b.WriteString("<h2 id=\"configs\">Configurations</h2>\n<table class=\"gotta-report\" id=\"configs-table\"><thead><tr><th>row</th><th>method</th><th>params</th><th>records</th></tr></thead><tbody>\n")
	for _, e := range s.Rows {
		path := ""
		if len(s.Datasets) > 0 {
			if c := res.Cell(e, s.Datasets[0].ID); c != nil {
				path = c.Path
			}
		}
		fmt.Fprintf(&b, "<tr><td>%s</td><td>%s</td><td><code>%s</code></td><td><code>%s</code></td></tr>\n",
			esc(e.Name), esc(e.Method), esc(paramsString(e.Params)), esc(path))
	}
	b.WriteString("</tbody></table>\n")
	fmt.Fprintf(&b, "<footer id=\"run-info\">%s</footer>\n", esc(runInfo(res)))
	b.WriteString("</body></html>\n")
	return b.Bytes()
}

// runInfo is the footer's line: the run's wall time, the examples it evaluated, the machine's cores and the
// runner's workers.
func runInfo(res *Results) string {
	took := "Nothing evaluated (every number read from the records)"
	if res.Elapsed > 0 || res.Computed > 0 {
		round := time.Second
		if res.Elapsed < 10*time.Second {
			round = time.Millisecond
		}
		took = fmt.Sprintf("This run took %s and evaluated %d examples (the rest were read from the records)",
			res.Elapsed.Round(round), res.Computed)
	}
	workers := "not run (records loaded)"
	if res.Workers > 0 {
		workers = fmt.Sprint(res.Workers)
	}
	return fmt.Sprintf("%s; %d CPU cores (runtime.NumCPU); workers: %s.", took, runtime.NumCPU(), workers)
}

func writeFigure(b *bytes.Buffer, f Figure) {
	fmt.Fprintf(b, "<div class=\"fig\" id=\"fig-%s\">", html.EscapeString(f.ID))
	if len(f.SVG) > 0 {
		b.Write(inlineSVG(f.SVG))
	} else {
		fmt.Fprintf(b, "<p class=\"note\">%s: no figure</p>", html.EscapeString(f.Title))
	}
	if f.Caption != "" {
		fmt.Fprintf(b, "<p class=\"caption\">%s</p>", html.EscapeString(f.Caption))
	}
	if f.Note != "" {
		fmt.Fprintf(b, "<p class=\"note\">%s</p>", html.EscapeString(f.Note))
	}
	b.WriteString("</div>\n")
}

// inlineSVG strips the XML declaration and doctype of an SVG document so it can sit inside HTML.
func inlineSVG(svg []byte) []byte {
	i := bytes.Index(svg, []byte("<svg"))
	if i < 0 {
		return svg
	}
	return svg[i:]
}

// paramsString is "k=v, ..." in key order.
func paramsString(p Params) string {
	keys := make([]string, 0, len(p))
	for k := range p {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%v", k, p[k])
	}
	return strings.Join(parts, ", ")
}
