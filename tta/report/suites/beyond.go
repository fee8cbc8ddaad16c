package suites

import (
	"fmt"
	"strings"

	"github.com/gotta-ml/gotta/tta/report"
)

// Suite names: SuiteSeed is the seed project's tables and the papers' ablations (EmbeddedSuite, ImageNetSuite),
// SuiteBeyond the methods that came after TPT on the same views, prompts and seeds (BeyondSuite,
// BeyondImageNetSuite).
const (
	SuiteSeed   = "seed"
	SuiteBeyond = "beyond"
)

// SuiteNames are the suites `gotta report --suite` and GOTTA_SUITE take.
var SuiteNames = []string{SuiteSeed, SuiteBeyond}

// BeyondRows are the rows of the "beyond TPT" suite, each against CLIP zero-shot with one prompt: the two text heads
// without adaptation (one prompt: the seed suite's zero-shot row, whose records it shares; the 7 Tip-Adapter
// templates), the episodic methods on TPT's views (TPT and C-TPT with gradient; ZERO, ZERO+Ensemble and MTA
// without), and the online methods TDA and DMN-ZS, each with its paper's defaults.
func BeyondRows() []report.Experiment {
	const noAdapt, episodic, online = "CLIP, no adaptation", "CLIP, episodic", "CLIP, online"
	seed := SeedRows()
	row := func(id string) report.Experiment {
		for _, r := range seed {
			if r.ID == id {
				return r
			}
		}
		panic("suites: no seed row " + id)
	}
	zs, tpt := row("zero-shot"), row("tpt")
	zs.Group, tpt.Group = noAdapt, episodic
	const base = "zero-shot"
	return []report.Experiment{
		zs,
		{ID: "clip-tip7", Name: "CLIP zero-shot, 7 templates", Method: "zero-shot", Group: noAdapt, Baseline: base,
			Params: report.Params{"templates": "tip7"}},
		tpt,
		{ID: "c-tpt", Name: "C-TPT", Method: "c-tpt", Preset: "natural", Group: episodic, Baseline: base},
		{ID: "zero", Name: "ZERO", Method: "zero", Preset: "paper", Group: episodic, Baseline: base},
		{ID: "zero-ens", Name: "ZERO + Ensemble", Method: "zero", Preset: "ensemble", Group: episodic, Baseline: base},
		{ID: "mta", Name: "MTA", Method: "mta", Preset: "paper", Group: episodic, Baseline: base},
		{ID: "tda", Name: "TDA", Method: "tda", Group: online, Baseline: base},
		{ID: "dmn", Name: "DMN-ZS", Method: "dmn", Group: online, Baseline: base},
	}
}

// beyondStreamRows are the rows of the accuracy-along-the-stream figure: the online methods and the baseline.
var beyondStreamRows = []string{"zero-shot", "tda", "dmn"}

// BeyondSuite is the "beyond TPT" suite on the embedded models: the datasets of EmbeddedSuite (clean MNIST and the
// MNIST-C corruptions, EmbeddedN examples each; quick: two corruptions, EmbeddedQuickN), every row of BeyondRows,
// accuracy and ECE per set, accuracy against seconds per example, and accuracy along the stream for the online
// rows. It shares the seed suite's records folder (rows equal to seed rows share their records).
func BeyondSuite(quick bool) *report.Suite {
	s := EmbeddedSuite(quick)
	s.Name = "beyond TPT, embedded"
	if quick {
		s.Name += " (quick)"
	}
	return beyond(s)
}

// BeyondImageNetSuite is the "beyond TPT" suite on real data (ImageNetSuite's datasets and sizes, no ablations).
func BeyondImageNetSuite(dirs map[string]string, order []string, n int) (*report.Suite, error) {
	s, err := ImageNetSuite(dirs, order, n, 0)
	if err != nil {
		return nil, err
	}
	s.Name = "beyond TPT, imagenet"
	var ids []string
	for _, d := range s.Datasets {
		ids = append(ids, d.ID)
	}
	s.Description = fmt.Sprintf("%s; %d examples per set (0 = all)", strings.Join(ids, ", "), n)
	return beyond(s), nil
}

// beyond turns a seed suite into the beyond-TPT suite over the same datasets.
func beyond(s *report.Suite) *report.Suite {
	s.Heading = "Beyond TPT: the newer methods on the same views, prompts and seeds"
	s.Rows = BeyondRows()
	s.Ablations, s.AblationDatasets, s.AblationN = nil, nil, 0
	s.Reliability = []string{"zero-shot", "tpt", "c-tpt", "zero", "mta", "tda", "dmn"}
	// Eight bar rows take the palette's eight colours (RowStyles gives bar rows theirs first); ZERO + Ensemble,
	// the ninth row, shares a colour but not a marker, and shows in the marker figures only.
	s.BarRows = []string{"zero-shot", "clip-tip7", "tpt", "c-tpt", "zero", "mta", "tda", "dmn"}
	s.ECEPerDataset = true
	s.StreamRows = beyondStreamRows
	if i := strings.Index(s.Description, "; ablations"); i >= 0 {
		s.Description = s.Description[:i]
	}
	return s
}

// Named returns the suite called name (SuiteNames; "" is SuiteSeed) on the embedded models.
func Named(name string, quick bool) (*report.Suite, error) {
	switch name {
	case "", SuiteSeed:
		return EmbeddedSuite(quick), nil
	case SuiteBeyond:
		return BeyondSuite(quick), nil
	}
	return nil, fmt.Errorf("suites: unknown suite %q (one of %s)", name, strings.Join(SuiteNames, ", "))
}
