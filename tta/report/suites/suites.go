// Package suites is GoTTA's catalogue of report experiments: the seed project's table rows (SeedRows: a method of
// the tta/method registry, a preset and overrides each), the TPT and MEMO papers' ablations (PaperAblations: a
// parameter swept over rows) and the suites that evaluate them (EmbeddedSuite on the embedded MNIST models,
// ImageNetSuite on real data), with Setup reading the notebooks' settings from environment variables. tta/report
// runs and renders them; the method packages must be linked in (import tta/method/all).
//
// Usage:
//
//	import _ "github.com/gotta-ml/gotta/tta/method/all"
//
//	env := method.EmbeddedEnv(backend.MustNew())
//	res, err := report.Run(suites.EmbeddedSuite(true), env, report.Options{Dir: "results", Log: os.Stdout})
package suites

import (
	"fmt"
	"strings"

	"github.com/gotta-ml/gotta/datasets"
	"github.com/gotta-ml/gotta/datasets/imagenet"
	"github.com/gotta-ml/gotta/tta/embedded"
	"github.com/gotta-ml/gotta/tta/report"
)

// Embedded suite sizes: the full report must finish in 6 minutes on a 2-core CPU with 2 workers, --quick in 1 (at
// EmbeddedN = 60 the full report took 5m25s there, of which the three 64-view MEMO rows on the ResNet are about
// two thirds; each example more per set costs about 5 s).
const (
	// EmbeddedSeverity is the MNIST-C severity of the shifted sets (1..5).
	EmbeddedSeverity = embedded.DefaultSeverity
	// EmbeddedN is the number of test examples per set in the full report; EmbeddedQuickN in --quick.
	EmbeddedN      = 60
	EmbeddedQuickN = 12
	// EmbeddedAblationN is the number of examples per ablation set in the full report; quick: EmbeddedQuickN/2.
	EmbeddedAblationN = 25
	// CorruptionSeed seeds the corruptions' randomness.
	CorruptionSeed = embedded.DefaultShiftSeed
)

// EmbeddedCorruptions are the MNIST-C corruptions of the full report: a blur, a rotation, a noise, fog and an
// occlusion, chosen among embedded.DefaultCorruptions where the embedded CLIP's zero-shot accuracy drops well below
// clean but stays above chance (measured on the first 200 test images at severity 3 with the interim weights:
// clean 93.5%, glass_blur 49.5, rotate 50.5, impulse_noise 83.5, fog 55.0, zigzag 37.0; shot_noise 92.5 barely
// shifts, stripe 7.5 and translate 20.0 leave little to adapt; the report's zero-shot row gives the current
// numbers). The quick report keeps the first two.
func EmbeddedCorruptions() []string {
	return []string{"glass_blur", "rotate", "impulse_noise", "fog", "zigzag"}
}

// OpenShiftedMNIST opens the first n MNIST test images under an MNIST-C corruption at a severity ("" for clean):
// embedded.ShiftedMNIST and embedded.Clean. It is a variable so that tests can swap in another source.
var OpenShiftedMNIST = func(corruption string, severity, n int, seed int64) (datasets.Dataset, error) {
	if corruption == "" {
		return embedded.Clean(n)
	}
	return embedded.ShiftedMNIST(corruption, severity, n, seed)
}

// EmbeddedSuite is the report on the embedded models: clean MNIST test and MNIST-C corruptions at
// EmbeddedSeverity (EmbeddedCorruptions; the first EmbeddedN test images each), every row of SeedRows, and the
// ablations (views 8-64, rho, TPT steps 1-4, learning rate) on two corruptions with EmbeddedAblationN examples.
// quick keeps two corruptions, EmbeddedQuickN examples, views 8/16/64 and EmbeddedQuickN/2 ablation examples on
// one corruption.
func EmbeddedSuite(quick bool) *report.Suite {
	corrs := EmbeddedCorruptions()
	n, abN, views := EmbeddedN, EmbeddedAblationN, []float64{8, 16, 32, 64}
	name := "embedded"
	if quick {
		corrs, n, abN, views, name = corrs[:2], EmbeddedQuickN, EmbeddedQuickN/2, []float64{8, 16, 64}, "embedded (quick)"
	}
	s := &report.Suite{Name: name, RecordsKey: "embedded", Rows: SeedRows(), Ablations: PaperAblations(views), AblationN: abN,
		Reliability: []string{"zero-shot", "tpt", "tpt-ens-sel", "resnet", "memo-topk", "crop-ens-topk",
			"memo-tpt-simple"},
		BarRows: []string{"zero-shot", "tpt", "tpt-ens-sel", "resnet", "memo", "crop-ens-topk", "memo-tpt-simple"}}
	// A dataset holds at least the full report's EmbeddedN examples, so that quick and full runs share record files
	// (example i is the same image whatever the size), and more when its N was raised after the suite was made
	// (SetN: gotta report -n, GOTTA_N).
	open := func(i int, c string) func() (datasets.Dataset, error) {
		return func() (datasets.Dataset, error) {
			return OpenShiftedMNIST(c, EmbeddedSeverity, max(EmbeddedN, s.Datasets[i].N), CorruptionSeed)
		}
	}
	s.Datasets = append(s.Datasets, report.DatasetSpec{ID: "clean", N: n, Open: open(0, "")})
	var short []string
	for _, c := range corrs {
		id := c
		short = append(short, id)
		s.Datasets = append(s.Datasets, report.DatasetSpec{ID: id, N: n, Open: open(len(s.Datasets), c), Shifted: true})
	}
	s.AblationDatasets = short[:2]
	if quick {
		s.AblationDatasets = short[:1]
	}
	s.Description = fmt.Sprintf("embedded CLIP (ViT, %[1]dx%[1]d) and ResNet (%[2]dx%[2]d) trained on MNIST; MNIST test, "+
		"clean and under MNIST-C %[3]s at severity %[4]d, %[5]s; ablations on %[6]s with %[7]d "+
		"images each (views %[8]v)", embedded.InputSize, embedded.ResNetInputSize,
		strings.Join(short, ", "), EmbeddedSeverity, firstImages(n), strings.Join(s.AblationDatasets, ", "), abN, views)
	return s
}

// firstImages is the embedded suites' description of their datasets' size (SetN rewrites it).
func firstImages(n int) string { return fmt.Sprintf("the first %d images each", n) }

// SetN sets the examples per dataset of a suite made by Named, EmbeddedSuite or BeyondSuite (gotta report -n,
// GOTTA_N; n > 0). The embedded datasets then open max(n, EmbeddedN) images, and the description says n.
func SetN(s *report.Suite, n int) {
	if n <= 0 || len(s.Datasets) == 0 {
		return
	}
	s.Description = strings.Replace(s.Description, firstImages(s.Datasets[0].N), firstImages(n), 1)
	for i := range s.Datasets {
		s.Datasets[i].N = n
	}
}

// ImageNetSuite is the seed project's report on real data: the datasets in dirs (ID "imagenet-a" and/or
// "imagenet-v2" to their root folders), n examples each (0: all), every row of SeedRows, and the ablations on
// the first dataset with abN examples (views 8-64).
func ImageNetSuite(dirs map[string]string, order []string, n, abN int) (*report.Suite, error) {
	rows := SeedRows()
	for i, r := range rows {
		if r.Method == "ensemble" {
			// The TPT member's prompt is TPT's own, as in the TPT rows (the ensemble's default is the seed's
			// "A bad photo of a [CLS]").
			rows[i] = r.With("prompt", "a photo of a")
		}
	}
	s := &report.Suite{Name: "imagenet", RecordsKey: "imagenet", Rows: rows,
		Ablations: PaperAblations([]float64{8, 16, 32, 64}), AblationN: abN,
		Reliability: []string{"zero-shot", "tpt", "tpt-ens-sel", "resnet", "memo-topk", "crop-ens-topk",
			"memo-tpt-simple"}}
	for _, id := range order {
		dir := dirs[id]
		var did imagenet.ID
		switch id {
		case "imagenet-a", "a":
			did, id = imagenet.ImageNetA, "imagenet-a"
		case "imagenet-v2", "v2":
			did, id = imagenet.ImageNetV2, "imagenet-v2"
		default:
			did = imagenet.ID(id)
		}
		s.Datasets = append(s.Datasets, report.DatasetSpec{ID: id, N: n, Shifted: true,
			Open: func() (datasets.Dataset, error) { return imagenet.Open(did, dir) }})
	}
	if len(s.Datasets) == 0 {
		return nil, fmt.Errorf("suites: no dataset given (want imagenet-a=DIR and/or imagenet-v2=DIR)")
	}
	s.AblationDatasets = []string{s.Datasets[0].ID}
	s.Description = fmt.Sprintf("%d examples per set (0 = all); ablations on %s with %d examples", n,
		s.Datasets[0].ID, abN)
	return s, nil
}
