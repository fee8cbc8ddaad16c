package report

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/gotta-ml/gotta/datasets/augment"
	"github.com/gotta-ml/gotta/tta"
	"github.com/gotta-ml/gotta/tta/ensemble"
	"github.com/gotta-ml/gotta/tta/memo"
	"github.com/gotta-ml/gotta/tta/tpt"
)

func init() {
	RegisterMethod("ensemble", []string{"views", "select", "steps", "temps", "members", "simple", "seed_compatible"},
		buildEnsemble)
}

// buildEnsemble builds the seed project's multi-model ensemble (tta/ensemble) of a MEMO ResNet and a TPT CLIP.
// Params: members ("memo,tpt"), temps (one per member, "1.55,0.7"), views (each member's, 64), select (rho, 0.1),
// steps (joint steps, 1), simple (no gradient, false), seed_compatible (the seed's raw-logit combination, false).
// The MEMO member is the seed's (SGD lr 5e-3, wd 1e-4, BN prior 0.94 for its step, 1 in the ensemble); the TPT
// member is TPT with env.CLIPPrompt.
func buildEnsemble(env *Env, classes []string, p Params) (tta.Adapter, tta.ViewMaker, error) {
	names := strings.Split(p.String("members", "memo,tpt"), ",")
	var temps []float64
	for _, t := range strings.Split(p.String("temps", ""), ",") {
		if t = strings.TrimSpace(t); t == "" {
			continue
		}
		v, err := strconv.ParseFloat(t, 64)
		if err != nil {
			return nil, nil, fmt.Errorf("report: ensemble temps %q: %w", p.String("temps", ""), err)
		}
		temps = append(temps, v)
	}
	if len(temps) != 0 && len(temps) != len(names) {
		return nil, nil, fmt.Errorf("report: ensemble has %d members and %d temperatures", len(names), len(temps))
	}
	views := p.Int("views", 64)
	var entries []ensemble.Entry
	var vm ensemble.ViewMaker
	for i, name := range names {
		var member any
		var v augment.Views
		switch name = strings.TrimSpace(name); name {
		case "memo":
			rm, err := env.ResNet()
			if err != nil {
				return nil, nil, err
			}
			opts := memo.Options{Mode: memo.Adapt, Select: p.Float("select", 0.1), Prior: memo.SeedPrior,
				MemberPrior: 1, Optimizer: memo.SeedOptimizer()}
			if env.ClassSubset != nil {
				if opts.ClassSubset, err = env.ClassSubset(classes); err != nil {
					return nil, nil, err
				}
			}
			a, err := memo.New(env.Backend, rm.Ctx, rm.Model, opts)
			if err != nil {
				return nil, nil, err
			}
			member = a
			v = augment.Views{N: views, Kind: augment.RandomResizedCrop, Preprocess: env.ResNetPreprocess}
		case "tpt":
			cm, err := env.CLIP()
			if err != nil {
				return nil, nil, err
			}
			a, err := tpt.New(env.Backend, cm.Model, cm.Tokenizer, classes, tpt.Options{Prompt: env.CLIPPrompt,
				Select: p.Float("select", 0.1), Scope: env.Scope("ensemble-tpt")})
			if err != nil {
				return nil, nil, err
			}
			member = a
			v = tpt.NewViewMaker(cm.Model, views).Views
		default:
			return nil, nil, fmt.Errorf("report: unknown ensemble member %q (memo or tpt)", name)
		}
		m, ok := member.(ensemble.Member)
		if !ok {
			return nil, nil, fmt.Errorf("%w: the %s adapter does not implement ensemble.Member in this build",
				ErrNotAvailable, name)
		}
		e := ensemble.Entry{Name: name, Member: m}
		if len(temps) > 0 {
			e.Temperature = temps[i]
		}
		entries = append(entries, e)
		vm.Members = append(vm.Members, ensemble.MemberViews{Name: name, Views: v})
	}
	opts := ensemble.Options{Select: p.Float("select", 0.1), Steps: p.Int("steps", 1),
		SeedCompatible: p.Bool("seed_compatible", false)}
	if p.Bool("simple", false) {
		opts.Mode = ensemble.Simple
	}
	a, err := ensemble.New(env.Backend, entries, opts)
	if err != nil {
		return nil, nil, err
	}
	return a, vm, nil
}
