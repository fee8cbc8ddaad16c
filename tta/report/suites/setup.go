package suites

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/gomlx/gomlx/backends"

	"github.com/gotta-ml/gotta/tta/method"
	"github.com/gotta-ml/gotta/tta/report"
)

// Environment variables read by Setup (the notebooks' settings).
const (
	// EnvCLIP, EnvVocab and EnvResNet point to real weights (CLIP safetensors, its BPE vocabulary, a torchvision
	// ResNet); unset means the embedded models.
	EnvCLIP   = "GOTTA_CLIP"
	EnvVocab  = "GOTTA_VOCAB"
	EnvResNet = "GOTTA_RESNET"
	// EnvData lists real datasets as "imagenet-a=DIR,imagenet-v2=DIR"; unset means embedded MNIST / MNIST-C.
	EnvData = "GOTTA_DATA"
	// EnvQuick = "1" selects the quick suite.
	EnvQuick = "GOTTA_QUICK"
	// EnvResults is the records folder; default "results" relative to the working directory.
	EnvResults = "GOTTA_RESULTS"
	// EnvN overrides the number of examples per dataset.
	EnvN = "GOTTA_N"
	// EnvSuite names the suite (SuiteNames): "seed" (default) or "beyond".
	EnvSuite = "GOTTA_SUITE"
	// EnvWorkers is the number of examples evaluated at once (report.Options.Workers); unset or 0 means
	// report.DefaultWorkers of the backend.
	EnvWorkers = "GOTTA_WORKERS"
)

// Setup returns the suite, the environment and the run options the environment variables describe (getenv is
// usually os.Getenv): the embedded suite and models by default, the ImageNet suite on real weights when EnvData and
// EnvCLIP / EnvResNet are set, the quick suite when EnvQuick is "1". defaultResults is the records folder when
// EnvResults is unset (notebooks pass "../results" to share the records of `gotta report` run at the repo root).
func Setup(b backends.Backend, getenv func(string) string, defaultResults string) (*report.Suite, *method.Env,
	report.Options, error) {
	quick := getenv(EnvQuick) == "1" || strings.EqualFold(getenv(EnvQuick), "true")
	n := 0
	if v := getenv(EnvN); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil {
			return nil, nil, report.Options{}, fmt.Errorf("suites: %s=%q: %w", EnvN, v, err)
		}
	}
	opts := report.Options{Dir: getenv(EnvResults), Workers: report.DefaultWorkers(b)}
	if v := getenv(EnvWorkers); v != "" && v != "0" {
		w, err := strconv.Atoi(v)
		if err != nil || w < 0 {
			return nil, nil, report.Options{}, fmt.Errorf("suites: %s=%q: want a number of workers", EnvWorkers, v)
		}
		opts.Workers = w
	}
	if opts.Dir == "" {
		opts.Dir = defaultResults
	}
	var s *report.Suite
	var env *method.Env
	if data := getenv(EnvData); data != "" {
		dirs, order, err := ParseData(data)
		if err != nil {
			return nil, nil, report.Options{}, err
		}
		abN := 1000
		if quick {
			abN = 100
			if n == 0 {
				n = 200
			}
		}
		switch getenv(EnvSuite) {
		case "", SuiteSeed:
			s, err = ImageNetSuite(dirs, order, n, abN)
		case SuiteBeyond:
			s, err = BeyondImageNetSuite(dirs, order, n)
		default:
			_, err = Named(getenv(EnvSuite), quick)
		}
		if err != nil {
			return nil, nil, report.Options{}, err
		}
		env = method.FileEnv(b, getenv(EnvCLIP), getenv(EnvVocab), getenv(EnvResNet))
	} else {
		var err error
		if s, err = Named(getenv(EnvSuite), quick); err != nil {
			return nil, nil, report.Options{}, err
		}
		SetN(s, n)
		env = method.EmbeddedEnv(b)
	}
	return s, env, opts, nil
}

// ParseData parses "imagenet-a=DIR,imagenet-v2=DIR" into folders by ID and the IDs in order.
func ParseData(data string) (map[string]string, []string, error) {
	dirs := map[string]string{}
	var order []string
	for _, kv := range strings.Split(data, ",") {
		id, dir, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if !ok || id == "" || dir == "" {
			return nil, nil, fmt.Errorf("suites: datasets %q: want ID=DIR,... (imagenet-a=DIR, imagenet-v2=DIR)", data)
		}
		dirs[id] = dir
		order = append(order, id)
	}
	return dirs, order, nil
}
