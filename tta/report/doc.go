// Package report is GoTTA's main job as a library: it runs suites of experiments (table rows and ablations) through
// tta/eval with every record cached in results/, and computes the tables, plots and the self-contained HTML page
// from those records (never typed). The catalogue of experiments (the seed project's rows, the papers' ablations,
// the embedded and ImageNet suites) is tta/report/suites.
//
// Papers: M. Shu et al., "Test-Time Prompt Tuning for Zero-Shot Generalization in Vision-Language Models",
// NeurIPS 2022 (TPT: Table 1 / Figure 3-4 ablations of views, rho, steps); M. Zhang, S. Levine, C. Finn, "MEMO: Test
// Time Robustness via Adaptation and Augmentation", NeurIPS 2022; and the tables of a student reproduction that
// combined both on ImageNet-A and ImageNetV2 with CLIP RN50 and ResNet-50 (the "seed project").
//
// A Suite names datasets (DatasetSpec), table rows (Experiment: a method of the tta/method registry, one of its
// presets and parameter overrides) and ablations (Ablation: one parameter swept over values). Run builds each
// experiment with method.Build on a method.Env and evaluates every (experiment, dataset) cell that is not already
// complete in Options.Dir, marking rows whose method or model is not available with the reason, and returns
// Results. Options.Workers evaluate several examples of a cell at once (one method.Env copy per extra worker; the
// cells run one after the other), with the same records as one worker; Options.Terminal and Options.Job get one
// progress line for the whole run (examples done / total over every cell, rate, ETA). MainTable, AblationFigures, ReliabilityFigures, TimeFigure and HTML turn Results into tables and figures.
// This package never names a method package: the caller links them in (import tta/method/all).
//
// Usage:
//
//	import _ "github.com/gotta-ml/gotta/tta/method/all"
//
//	env := method.EmbeddedEnv(backend.MustNew())
//	suite := suites.EmbeddedSuite(false) // suites.EmbeddedSuite(true) is --quick
//	res, err := report.Run(suite, env, report.Options{Dir: "results", Log: os.Stdout,
//		Workers: report.DefaultWorkers(env.Backend)})
//	rep, err := report.Make(res)
//	fmt.Print(rep.Text())                                  // the tables
//	page := rep.HTML(report.PageInfo{Title: "GoTTA report"}) // self-contained HTML, inline SVG
//
// Speed on the pure-Go backend (2-core CPU, the embedded suite): the time is the embedded ResNet's matrix products
// (im2col convolutions, forward and MEMO's backward) and the data movement around them; the rows MEMO top-k, MEMO
// (paper), the joint MEMO + TPT ensemble and the crop ensemble top-k (64 views each) take about two thirds of it.
// Four changes keep every record bit for bit: Run turns on tta.ForwardCache, so the simple ensemble reads the member
// logits that the joint ensemble's first forward computed at the same initial weights on the same views, and every
// TPT-family row (TPT, its ensemble, alignment, the ablations) reads the image tower's output on the same views
// once; the joint update of a member whose views are independent (the ResNet with plain batch norm) backpropagates
// through the 8-view blocks that hold a selected view only (see ensemble.ViewBlock for why 8); tta/nn runs the
// products with 16 output channels (the stem and layer1 convolutions) on the backend's plain kernel in row blocks
// instead of its blocked kernel, which pads them to 32; and tta/nn moves less data (see its package documentation:
// no copies for custom gradients, im2col by slices, operands transposed for the kernel). Measured on the quick
// report (2 workers): 61 s -> 45 s, the full one 9m -> 6m17s; MEMO top-k step 650 -> 480 ms (one core). Compilation
// is negligible (under 1 s per run). Then the embedded ResNet was made smaller (36x36 input, planes 16-64, retrained;
// new records): the full report from scratch took 4m19s at 50 examples per set instead of 6m42s on the same
// machine that day, and 5m25s at the 60 it now has; the quick one 31 s.
// What is left is MEMO's forward and backward at 64 views with batch statistics, whose sums over the batch cannot
// be regrouped without changing the records, on the backend's scalar kernels (about 5 GFLOPS on one core).
//
// Records live in Dir/<suite.RecordsKey>/<method>-<hash of the resolved values and models>/<dataset>.jsonl, so a
// quick run's records are reused by a full run, an ablation point equal to a table row shares its records whatever
// preset and overrides say it, and changing a parameter or a model file starts new records.
package report
