package report

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"

	"github.com/gotta-ml/gotta/datasets"
	"github.com/gotta-ml/gotta/tta/method"
)

// Params are a row's parameter overrides (method.Values): keys are the method spec's parameters, the command
// line's flag names ("views", "select", "weight-decay").
type Params = method.Values

// Experiment is one method configuration: a row of a table or a point of an ablation.
type Experiment struct {
	// ID is a short file-safe id ("tpt-ens-sel").
	ID string
	// Name is the row label in the paper's words ("TPT ensemble + confidence selection").
	Name string
	// Method is the method's name in the registry (tta/method: "tpt", "memo", "ensemble").
	Method string
	// Preset is one of the method's presets ("" for its default preset).
	Preset string
	// Params override the preset's values.
	Params Params
	// Group is the model family the row belongs to ("CLIP", "ResNet", "CLIP + ResNet"), a block of the table.
	Group string
	// Baseline is the ID of the row the Δ column is computed against ("" for none, e.g. the baselines).
	Baseline string
	// Continual runs an online method's cells (one per dataset, in the suite's order) as one stream, its state
	// emptied once (eval.RunStream); an online method's cells are otherwise a stream per dataset. Episodic methods
	// refuse it.
	Continual bool
}

// Key is the experiment's identity for records: the method and a hash of its resolved values (the preset and the
// overrides applied to the defaults) and of the models (modelsID), e.g. "tpt-1a2b3c4d". Two experiments with the
// same method and resolved values share records whatever their ID, preset or overrides; a continual experiment has
// its own. An experiment whose method is not registered, or whose values do not resolve, is keyed by its preset and
// overrides.
func (e Experiment) Key(modelsID string) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00", recordsVersion, e.Method, modelsID)
	values := e.Params
	if v, err := e.Resolve(); err == nil {
		values = v
	} else {
		fmt.Fprintf(h, "unresolved\x00%s\x00", e.Preset)
	}
	for _, k := range slices.Sorted(maps.Keys(values)) {
		v, _ := json.Marshal(values[k])
		fmt.Fprintf(h, "%s=%s\x00", k, v)
	}
	if e.Continual {
		fmt.Fprintf(h, "continual\x00")
	}
	return e.Method + "-" + hex.EncodeToString(h.Sum(nil))[:8]
}

// Resolve returns every parameter's value: the method's defaults, its preset and the overrides (method.Spec.Resolve).
func (e Experiment) Resolve() (method.Values, error) {
	s, err := method.Lookup(e.Method)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotAvailable, err)
	}
	return s.Resolve(e.Preset, e.Params)
}

// recordsVersion is part of every Experiment.Key: records written before a change of the evaluation's results are
// not reused. v2: eval.Run resets the adapter after each run (before it, a row could start from the weights the
// previous row's last example had adapted). v3: keys hash the resolved values of the method's spec.
const recordsVersion = "records-v3"

// DatasetSpec is one evaluation set of a suite.
type DatasetSpec struct {
	// ID is the column name and file name ("clean", "fog", "imagenet-a").
	ID string
	// N is how many examples (the first N) are evaluated; 0 means all.
	N int
	// Open opens the dataset (called once per run, only when some cell needs computing).
	Open func() (datasets.Dataset, error)
	// Shifted says the set is under distribution shift: the mean column averages the shifted sets.
	Shifted bool
}

// Ablation sweeps one parameter of one or more base experiments, a figure of the papers' ablations.
type Ablation struct {
	// ID is a short file-safe id ("views").
	ID string
	// Title, XLabel and YLabel of the figure.
	Title, XLabel, YLabel string
	// Param is the swept parameter ("views", "select", "steps", "lr").
	Param string
	// Values are the swept values.
	Values []float64
	// Series are the base experiments, one curve each (their Params[Param] is replaced by each value).
	Series []Experiment
	// LogX draws the x axis on a log scale.
	LogX bool
}

// Points returns the experiments of series s: one per value, ID "<ablation>-<series>-<value>".
func (a Ablation) Points(s Experiment) []Experiment {
	out := make([]Experiment, len(a.Values))
	for i, v := range a.Values {
		e := s
		e.ID = fmt.Sprintf("%s-%s-%s", a.ID, s.ID, strconv.FormatFloat(v, 'g', -1, 64))
		e.Name = fmt.Sprintf("%s, %s = %s", s.Name, a.Param, strconv.FormatFloat(v, 'g', -1, 64))
		if v == float64(int(v)) && (a.Param == "views" || a.Param == "steps") {
			e.Params = s.Params.With(a.Param, int(v))
		} else {
			e.Params = s.Params.With(a.Param, v)
		}
		out[i] = e
	}
	return out
}

// Suite is everything one report computes.
type Suite struct {
	// Name is shown in the report ("embedded", "embedded (quick)", "imagenet").
	Name string
	// RecordsKey is the folder under Options.Dir for this suite's records; suites that evaluate the same models on
	// the same datasets share it (the quick suite shares the full one's, so its records are reused).
	RecordsKey string
	// Description states the sizes (datasets, severity, examples, ablation points) for the report's header.
	Description string
	// Datasets are the table's columns, in order.
	Datasets []DatasetSpec
	// Rows are the main table's rows, in order.
	Rows []Experiment
	// Ablations are the sweeps, each evaluated on AblationDatasets with AblationN examples each.
	Ablations []Ablation
	// AblationDatasets are IDs of Datasets the ablations run on.
	AblationDatasets []string
	// AblationN is the number of examples per ablation dataset (0: the dataset's N).
	AblationN int
	// Reliability are the row IDs whose reliability diagrams (records pooled over the shifted sets) are drawn.
	Reliability []string
	// BarRows are the row IDs of the per-dataset grouped bar chart (every row when empty).
	BarRows []string
	// Heading is the main table's section heading in the report page; "" means "The seed project's table".
	Heading string
	// ECEPerDataset adds a table of each row's ECE per dataset (ECETable).
	ECEPerDataset bool
	// StreamRows are the row IDs of the accuracy-along-the-stream figure (StreamFigure; none when empty).
	StreamRows []string
}

// Row returns the row with the given ID.
func (s *Suite) Row(id string) (Experiment, bool) {
	for _, e := range s.Rows {
		if e.ID == id {
			return e, true
		}
	}
	return Experiment{}, false
}

// Dataset returns the dataset spec with the given ID.
func (s *Suite) Dataset(id string) (DatasetSpec, bool) {
	for _, d := range s.Datasets {
		if d.ID == id {
			return d, true
		}
	}
	return DatasetSpec{}, false
}

// With returns a copy of e whose Params[key] is v (the ID and name are kept).
func (e Experiment) With(key string, v any) Experiment {
	e.Params = e.Params.With(key, v)
	return e
}
