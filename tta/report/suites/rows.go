package suites

import (
	"github.com/gotta-ml/gotta/tta/report"
)

// SeedRows are the rows of the seed project's tables (DavidC001/MEMO-TPT-DL2024: its TPT, MEMO and ensemble tables),
// each a method and one of its presets: CLIP zero-shot = TPT's ensemble mode with 1 view and no selection; TPT = 64
// views, top 10%, 1 AdamW step; TPT ensemble = 8 views, no selection; + confidence selection = 64 views, top 10%;
// alignment = 1 alignment step before the TPT step; ResNet baseline = the model's prediction on the base view; MEMO = 8
// crop views, 1 SGD step (lr 5e-3, wd 1e-4, BN prior 0.94); MEMO top-k = 64 views, top 10%; MEMO (paper) = the MEMO
// paper's own configuration beside the seed's (64 MEMO AugMix copies + view 0); dropout = 8 dropout (p 0.5) samples of
// the identity view, softmax average; crop ensemble = 8 crop views, softmax average; top-k variants 64 views, top 10%;
// MEMO + TPT = the seed's multi-model ensemble (64 views each, top 10%, temperatures 1.55 and 0.7), joint entropy
// minimisation and the simple (no-gradient) ensemble.
func SeedRows() []report.Experiment {
	const clipG, resG, jointG = "CLIP", "ResNet", "CLIP + ResNet"
	joint := report.Params{"members": "memo,tpt", "temps": "1.55,0.7", "views": 64, "select": 0.1, "steps": 1}
	return []report.Experiment{
		{ID: "zero-shot", Name: "CLIP zero-shot", Method: "tpt", Preset: "zero-shot", Group: clipG},
		{ID: "tpt", Name: "TPT", Method: "tpt", Preset: "paper", Group: clipG, Baseline: "zero-shot"},
		{ID: "tpt-ens", Name: "TPT ensemble", Method: "tpt", Preset: "ensemble", Group: clipG, Baseline: "zero-shot"},
		{ID: "tpt-ens-sel", Name: "TPT ensemble + confidence selection", Method: "tpt", Preset: "ensemble-select",
			Group: clipG, Baseline: "zero-shot"},
		{ID: "tpt-align", Name: "TPT + alignment", Method: "tpt", Preset: "seed-align", Group: clipG,
			Baseline: "zero-shot"},
		{ID: "resnet", Name: "ResNet (no adaptation)", Method: "memo", Preset: "seed-baseline", Group: resG},
		{ID: "memo", Name: "MEMO", Method: "memo", Preset: "seed-memo", Group: resG, Baseline: "resnet"},
		{ID: "memo-topk", Name: "MEMO top-k", Method: "memo", Preset: "seed-memo-topk", Group: resG, Baseline: "resnet"},
		{ID: "memo-paper", Name: "MEMO (paper: 64 AugMix copies, SGD 2.5e-4)", Method: "memo", Preset: "paper",
			Group: resG, Baseline: "resnet"},
		{ID: "dropout", Name: "Dropout", Method: "memo", Preset: "seed-dropout", Group: resG, Baseline: "resnet"},
		{ID: "dropout-topk", Name: "Dropout top-k", Method: "memo", Preset: "seed-dropout-topk", Group: resG,
			Baseline: "resnet"},
		{ID: "crop-ens", Name: "Crop ensemble", Method: "memo", Preset: "seed-cut-ensemble", Group: resG,
			Baseline: "resnet"},
		{ID: "crop-ens-topk", Name: "Crop ensemble top-k", Method: "memo", Preset: "seed-cut-ensemble-topk",
			Group: resG, Baseline: "resnet"},
		{ID: "memo-tpt-joint", Name: "MEMO + TPT ensemble (joint)", Method: "ensemble", Group: jointG,
			Baseline: "zero-shot", Params: joint.With("mode", "joint")},
		{ID: "memo-tpt-simple", Name: "MEMO + TPT ensemble (simple)", Method: "ensemble", Group: jointG,
			Baseline: "zero-shot", Params: joint.With("mode", "simple")},
	}
}

// PaperAblations are the TPT and MEMO papers' ablations over rows of SeedRows, each sweeping one parameter of the
// methods' specs: number of views (TPT, TPT ensemble + selection, MEMO top-k), selection ratio rho (TPT, TPT
// ensemble), TPT steps, and the learning rate (TPT, MEMO). views are the given values (the papers: 8..64), the
// others are fixed.
func PaperAblations(views []float64) []report.Ablation {
	rows := SeedRows()
	get := func(id string) report.Experiment {
		for _, r := range rows {
			if r.ID == id {
				return r
			}
		}
		panic("suites: no seed row " + id)
	}
	return []report.Ablation{
		{ID: "views", Title: "Accuracy vs number of views", XLabel: "views N", YLabel: "top-1 (%)", Param: "views",
			Values: views, Series: []report.Experiment{get("tpt"), get("tpt-ens-sel"), get("memo-topk")}, LogX: true},
		{ID: "rho", Title: "Accuracy vs selection ratio ρ", XLabel: "ρ (fraction of views kept)",
			YLabel: "top-1 (%)", Param: "select", Values: []float64{0.05, 0.1, 0.2, 0.5, 1},
			Series: []report.Experiment{get("tpt"), get("tpt-ens-sel")}, LogX: true},
		{ID: "steps", Title: "Accuracy vs TPT steps", XLabel: "steps", YLabel: "top-1 (%)", Param: "steps",
			Values: []float64{1, 2, 3, 4}, Series: []report.Experiment{get("tpt")}},
		{ID: "lr", Title: "Accuracy vs learning rate", XLabel: "learning rate", YLabel: "top-1 (%)", Param: "lr",
			Values: []float64{5e-4, 5e-3, 5e-2}, Series: []report.Experiment{get("tpt"), get("memo")},
			LogX: true},
	}
}
