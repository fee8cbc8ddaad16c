// Package report is GoTTA's main job as a library: the experiment definitions of the seed project's tables (TPT,
// its ensembles and alignment; MEMO, MC-dropout and crop ensembles; the MEMO + TPT ensembles) and of the TPT and
// MEMO papers' ablations, run through tta/eval with every record cached in results/, and the tables, plots and the
// self-contained HTML page computed from those records (never typed).
//
// Papers: M. Shu et al., "Test-Time Prompt Tuning for Zero-Shot Generalization in Vision-Language Models",
// NeurIPS 2022 (TPT: Table 1 / Figure 3-4 ablations of views, rho, steps); M. Zhang, S. Levine, C. Finn, "MEMO: Test
// Time Robustness via Adaptation and Augmentation", NeurIPS 2022; and the tables of a student reproduction that
// combined both on ImageNet-A and ImageNetV2 with CLIP RN50 and ResNet-50 (the "seed project").
//
// A Suite names datasets (DatasetSpec), table rows (Experiment: a method name from the builder registry and its
// Params) and ablations (Ablation: one parameter swept over values). Run evaluates every (experiment, dataset) cell
// that is not already complete in Options.Dir, marking rows whose method is not available with the reason, and
// returns Results; MainTable, AblationFigures, ReliabilityFigures, TimeFigure and HTML turn Results into tables and
// figures.
//
// Usage:
//
//	env := report.EmbeddedEnv(backend.MustNew())
//	suite := report.EmbeddedSuite(false) // report.EmbeddedSuite(true) is --quick
//	res, err := report.Run(suite, env, report.Options{Dir: "results", Log: os.Stdout})
//	rep, err := report.Make(res)
//	fmt.Print(rep.Text())                                  // the tables
//	page := rep.HTML(report.PageInfo{Title: "GoTTA report"}) // self-contained HTML, inline SVG
//
// Methods are built by name through a registry (RegisterMethod): "tpt" (tta/tpt: TPT, its ensemble mode and
// alignment; CLIP zero-shot is its ensemble mode on one view), "memo" and "memo-ensemble" (tta/memo: MEMO, crop
// ensemble, MC-dropout) and "ensemble" (tta/ensemble: MEMO + TPT, joint and simple).
//
// Records live in Dir/<suite.RecordsKey>/<method>-<hash of params and models>/<dataset>.jsonl, so a quick run's
// records are reused by a full run, an ablation point equal to a table row shares its records, and changing a
// parameter or a model file starts new records.
package report
