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
	"github.com/gotta-ml/gotta/tta/memo"
)

// Params are the options of one method configuration, by key (e.g. "views": 64, "select": 0.1, "steps": 1). Each
// method's builder declares the keys it knows; any other key is an error. Values are numbers, bools or strings.
type Params map[string]any

// Float returns p[key] as a float64, or def when absent.
func (p Params) Float(key string, def float64) float64 {
	switch v := p[key].(type) {
	case float64:
		return v
	case float32:
		return float64(v)
	case int:
		return float64(v)
	case int64:
		return float64(v)
	case json.Number:
		f, _ := v.Float64()
		return f
	}
	return def
}

// Int returns p[key] as an int, or def when absent.
func (p Params) Int(key string, def int) int {
	if _, ok := p[key]; !ok {
		return def
	}
	return int(p.Float(key, float64(def)))
}

// Bool returns p[key] as a bool, or def when absent.
func (p Params) Bool(key string, def bool) bool {
	if v, ok := p[key].(bool); ok {
		return v
	}
	return def
}

// String returns p[key] as a string, or def when absent.
func (p Params) String(key string, def string) string {
	if v, ok := p[key].(string); ok {
		return v
	}
	return def
}

// With returns a copy of p with key set to v.
func (p Params) With(key string, v any) Params {
	q := maps.Clone(p)
	if q == nil {
		q = Params{}
	}
	q[key] = v
	return q
}

// Experiment is one method configuration: a row of a table or a point of an ablation.
type Experiment struct {
	// ID is a short file-safe id ("tpt-ens-sel").
	ID string
	// Name is the row label in the paper's words ("TPT ensemble + confidence selection").
	Name string
	// Method is the builder's name in the registry ("tpt", "memo", "memo-ensemble", "ensemble").
	Method string
	// Params are the method's options.
	Params Params
	// Group is the model family the row belongs to ("CLIP", "ResNet", "CLIP + ResNet"), a block of the table.
	Group string
	// Baseline is the ID of the row the Δ column is computed against ("" for none, e.g. the baselines).
	Baseline string
}

// Key is the experiment's identity for records: the method and a hash of its params and of the models (modelsID),
// e.g. "tpt-1a2b3c4d". Two experiments with the same method and params share records whatever their ID.
func (e Experiment) Key(modelsID string) string {
	keys := slices.Sorted(maps.Keys(e.Params))
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00", recordsVersion, e.Method, modelsID)
	for _, k := range keys {
		v, _ := json.Marshal(e.Params[k])
		fmt.Fprintf(h, "%s=%s\x00", k, v)
	}
	return e.Method + "-" + hex.EncodeToString(h.Sum(nil))[:8]
}

// recordsVersion is part of every Experiment.Key: records written before a change of the evaluation's results are
// not reused. v2: eval.Run resets the adapter after each run (before it, a row could start from the weights the
// previous row's last example had adapted).
const recordsVersion = "records-v2"

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
	// Param is the swept key of Params ("views", "select", "steps", "lr").
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

// SeedRows are the rows of the seed project's tables (seed-project.md sections 3.4, 5.2, 5.4, 6), in its
// configurations: CLIP zero-shot = TPT ensemble mode with 1 view and no selection; TPT = 64 views, top 10%, 1
// AdamW step; TPT ensemble = 8 views, no selection; + confidence selection = 64 views, top 10%; alignment = 1
// alignment step before the TPT step; ResNet baseline = the model's prediction on the base view; MEMO = 8 crop
// views, 1 SGD step (lr 5e-3, wd 1e-4, BN prior 0.94); MEMO top-k = 64 views, top 10%; MEMO (paper) = the MEMO
// paper's own configuration beside the seed's (memo.PaperOptions, 64 MEMO AugMix copies + view 0); dropout = 8
// identity views with dropout 0.5 before pooling, softmax average; crop ensemble = 8 crop views, softmax average; top-k variants
// 64 views, top 10%; MEMO + TPT = the seed's multi-model ensemble (64 views each, top 10%, temperatures 1.55 and
// 0.7), joint entropy minimisation and the simple (no-gradient) ensemble.
func SeedRows() []Experiment {
	const clipG, resG, jointG = "CLIP", "ResNet", "CLIP + ResNet"
	seedMEMO := Params{"views": 8, "select": 1.0, "steps": 1, "lr": 0.005, "weight_decay": 1e-4, "prior": 0.94}
	ens := func(views int, sel float64, mode string) Params {
		return Params{"views": views, "select": sel, "mode": mode}
	}
	joint := Params{"views": 64, "select": 0.1, "steps": 1, "temps": "1.55,0.7", "members": "memo,tpt"}
	return []Experiment{
		{ID: "zero-shot", Name: "CLIP zero-shot", Method: "tpt", Group: clipG,
			Params: Params{"views": 1, "select": 1.0, "ensemble": true}},
		{ID: "tpt", Name: "TPT", Method: "tpt", Group: clipG, Baseline: "zero-shot",
			Params: Params{"views": 64, "select": 0.1, "steps": 1, "lr": 0.005}},
		{ID: "tpt-ens", Name: "TPT ensemble", Method: "tpt", Group: clipG, Baseline: "zero-shot",
			Params: Params{"views": 8, "select": 1.0, "ensemble": true}},
		{ID: "tpt-ens-sel", Name: "TPT ensemble + confidence selection", Method: "tpt", Group: clipG,
			Baseline: "zero-shot", Params: Params{"views": 64, "select": 0.1, "ensemble": true}},
		{ID: "tpt-align", Name: "TPT + alignment", Method: "tpt", Group: clipG, Baseline: "zero-shot",
			Params: Params{"views": 64, "select": 0.1, "steps": 1, "lr": 0.005, "align_steps": 1}},
		{ID: "resnet", Name: "ResNet (no adaptation)", Method: "memo-ensemble", Group: resG,
			Params: ens(1, 1, "crop")},
		{ID: "memo", Name: "MEMO", Method: "memo", Group: resG, Baseline: "resnet", Params: seedMEMO},
		{ID: "memo-topk", Name: "MEMO top-k", Method: "memo", Group: resG, Baseline: "resnet",
			Params: seedMEMO.With("views", 64).With("select", 0.1)},
		{ID: "memo-paper", Name: "MEMO (paper: 64 AugMix copies, SGD 2.5e-4)", Method: "memo-paper", Group: resG,
			Baseline: "resnet", Params: Params{"views": memo.PaperViews}},
		{ID: "dropout", Name: "Dropout", Method: "memo-ensemble", Group: resG, Baseline: "resnet",
			Params: ens(8, 1, "dropout").With("dropout", 0.5)},
		{ID: "dropout-topk", Name: "Dropout top-k", Method: "memo-ensemble", Group: resG, Baseline: "resnet",
			Params: ens(64, 0.1, "dropout").With("dropout", 0.5)},
		{ID: "crop-ens", Name: "Crop ensemble", Method: "memo-ensemble", Group: resG, Baseline: "resnet",
			Params: ens(8, 1, "crop")},
		{ID: "crop-ens-topk", Name: "Crop ensemble top-k", Method: "memo-ensemble", Group: resG, Baseline: "resnet",
			Params: ens(64, 0.1, "crop")},
		{ID: "memo-tpt-joint", Name: "MEMO + TPT ensemble (joint)", Method: "ensemble", Group: jointG,
			Baseline: "zero-shot", Params: joint.With("simple", false)},
		{ID: "memo-tpt-simple", Name: "MEMO + TPT ensemble (simple)", Method: "ensemble", Group: jointG,
			Baseline: "zero-shot", Params: joint.With("simple", true)},
	}
}

// PaperAblations are the TPT and MEMO papers' ablations over rows of SeedRows: number of views (TPT, TPT ensemble
// + selection, MEMO top-k), selection ratio rho (TPT, TPT ensemble), TPT steps, and the learning rate (TPT,
// MEMO). views are the given values (the papers: 8..64), the others are fixed.
func PaperAblations(views []float64) []Ablation {
	rows := SeedRows()
	get := func(id string) Experiment {
		for _, r := range rows {
			if r.ID == id {
				return r
			}
		}
		panic("report: no seed row " + id)
	}
	return []Ablation{
		{ID: "views", Title: "Accuracy vs number of views", XLabel: "views N", YLabel: "top-1 (%)", Param: "views",
			Values: views, Series: []Experiment{get("tpt"), get("tpt-ens-sel"), get("memo-topk")}, LogX: true},
		{ID: "rho", Title: "Accuracy vs selection ratio ρ", XLabel: "ρ (fraction of views kept)",
			YLabel: "top-1 (%)", Param: "select", Values: []float64{0.05, 0.1, 0.2, 0.5, 1},
			Series: []Experiment{get("tpt"), get("tpt-ens-sel")}, LogX: true},
		{ID: "steps", Title: "Accuracy vs TPT steps", XLabel: "steps", YLabel: "top-1 (%)", Param: "steps",
			Values: []float64{1, 2, 3, 4}, Series: []Experiment{get("tpt")}},
		{ID: "lr", Title: "Accuracy vs learning rate", XLabel: "learning rate", YLabel: "top-1 (%)", Param: "lr",
			Values: []float64{5e-4, 5e-3, 5e-2}, Series: []Experiment{get("tpt"), get("memo")},
			LogX: true},
	}
}

// With returns a copy of e whose Params[key] is v (the ID and name are kept).
func (e Experiment) With(key string, v any) Experiment {
	e.Params = e.Params.With(key, v)
	return e
}
