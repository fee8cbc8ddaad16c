package main

import (
	"flag"
	"fmt"
	"strconv"
	"strings"

	"github.com/gotta-ml/gotta/datasets/augment"
	"github.com/gotta-ml/gotta/tta"
	"github.com/gotta-ml/gotta/tta/clip"
	"github.com/gotta-ml/gotta/tta/ensemble"
	"github.com/gotta-ml/gotta/tta/memo"
	"github.com/gotta-ml/gotta/tta/tpt"
)

func init() {
	registerMethod(&method{name: "ensemble",
		summary:  "the seed project's multi-model ensemble of MEMO ResNets, TPT and zero-shot CLIP (--preset for its four runs)",
		addFlags: addEnsembleFlags, build: buildEnsemble, adapt: adaptCLIP})
}

// ensemblePresets are the seed project's four Ensemble/main.py configurations (seed-project.md 4.6 / 5.4): the
// members (each memo member takes the next --model resnet, in order; tpt the --model clip), their temperatures. All
// use 64 cut views per member, rho 0.1, one step; MEMO members SGD lr 5e-3 wd 1e-4 with plain batch norm in the
// ensemble, TPT "A bad photo of a [CLS]" with AdamW lr 5e-3. The V2 pair is rn50-rnxt run on --data imagenet-v2.
var ensemblePresets = map[string]struct {
	members, temps string
}{
	"seed-rn50-rnxt":      {"memo,memo", "1,1"},
	"seed-memo-tpt":       {"memo,tpt", "1.55,0.7"},
	"seed-rn50-rnxt-tpt":  {"memo,memo,tpt", "1,1,0.7"},
	"seed-rn50-rnxt-v2":   {"memo,memo", "1,1"},
	"seed-memo-tpt-top02": {"memo,tpt", "1.55,0.7"}, // the notebook's copy of MEMO + TPT used top 0.2
}

// ensembleDefaultPrompt is the seed's ensemble prompt.
const ensembleDefaultPrompt = "A bad photo of a [CLS]"

type ensembleFlags struct {
	fs                                 *flag.FlagSet
	preset, members, temps, mode, kind string
	prompt, classes1k                  string
	views, steps                       int
	select_, memoLR, memoWD, tptLR     float64
	memoPrior                          float64
	seedCompatible                     bool
}

func addEnsembleFlags(fs *flag.FlagSet) any {
	f := &ensembleFlags{fs: fs}
	fs.StringVar(&f.preset, "preset", "", "one of the seed's configurations: seed-rn50-rnxt, seed-rn50-rnxt-v2, seed-memo-tpt, seed-memo-tpt-top02, seed-rn50-rnxt-tpt (sets --members, --temps, --select and --seed-compatible unless given)")
	fs.StringVar(&f.members, "members", "memo,memo", "comma-separated members: memo (the next --model resnet), tpt (--model clip, tuned prompt), zero-shot (--model clip, frozen prompt)")
	fs.StringVar(&f.temps, "temps", "", "comma-separated temperatures, one per member (default all 1)")
	fs.StringVar(&f.mode, "mode", "joint", "joint (entropy minimisation of the combination, method name ensemble) or simple (no gradient, simple-ensemble)")
	fs.Float64Var(&f.select_, "select", 0.1, "confidence selection of every member's views (the seed: 0.1)")
	fs.IntVar(&f.views, "views", 64, "views per member, view 0 included (the seed: 64)")
	fs.StringVar(&f.kind, "view-kind", "cut", "augmentation of views 1..N-1 for every member: cut, augmix, crop+augmix or identity")
	fs.IntVar(&f.steps, "steps", 1, "joint steps")
	fs.BoolVar(&f.seedCompatible, "seed-compatible", false, "the seed's combination: raw-logit view averaging, no renormalisation")
	fs.Float64Var(&f.memoLR, "memo-lr", 5e-3, "MEMO members' SGD learning rate")
	fs.Float64Var(&f.memoWD, "memo-wd", 1e-4, "MEMO members' SGD weight decay")
	fs.Float64Var(&f.memoPrior, "memo-prior", 1, "MEMO members' batch-norm prior in the ensemble (the seed: 1)")
	fs.Float64Var(&f.tptLR, "tpt-lr", 5e-3, "TPT members' AdamW learning rate")
	fs.StringVar(&f.prompt, "prompt", ensembleDefaultPrompt, "TPT / zero-shot members' prompt (the seed's ensemble: \"A bad photo of a [CLS]\"; the embedded CLIP: \""+embeddedPrompt+"\")")
	fs.StringVar(&f.classes1k, "classes-1k", "auto", "MEMO members' outputs for the dataset's classes: auto, a, r or all")
	return f
}

// applyPreset fills the flags the user did not set from --preset.
func (f *ensembleFlags) applyPreset() error {
	if f.preset == "" {
		return nil
	}
	p, ok := ensemblePresets[f.preset]
	if !ok {
		return fmt.Errorf("--preset %q: unknown", f.preset)
	}
	set := map[string]bool{}
	f.fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	if !set["members"] {
		f.members = p.members
	}
	if !set["temps"] {
		f.temps = p.temps
	}
	if !set["select"] && f.preset == "seed-memo-tpt-top02" {
		f.select_ = 0.2
	}
	if !set["seed-compatible"] {
		f.seedCompatible = true
	}
	return nil
}

func buildEnsemble(env *methodEnv, flags any) (tta.Adapter, tta.ViewMaker, error) {
	f := flags.(*ensembleFlags)
	if err := f.applyPreset(); err != nil {
		return nil, nil, err
	}
	kinds := strings.Split(f.members, ",")
	temps := make([]float64, len(kinds))
	for i := range temps {
		temps[i] = 1
	}
	if f.temps != "" {
		ts := strings.Split(f.temps, ",")
		if len(ts) != len(kinds) {
			return nil, nil, fmt.Errorf("--temps %q: %d values for %d members", f.temps, len(ts), len(kinds))
		}
		for i, s := range ts {
			v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
			if err != nil || v <= 0 {
				return nil, nil, fmt.Errorf("--temps %q: bad temperature %q", f.temps, s)
			}
			temps[i] = v
		}
	}
	viewKind, err := augment.ParseKind(f.kind)
	if err != nil {
		return nil, nil, fmt.Errorf("--view-kind: %w", err)
	}
	var entries []ensemble.Entry
	var vm ensemble.ViewMaker
	nMemo, nCLIP := 0, 0
	for i, k := range kinds {
		k = strings.TrimSpace(k)
		name := fmt.Sprintf("%s%d", k, i)
		var member ensemble.Member
		var pre augment.Preprocess
		switch k {
		case "memo":
			mf := &memoFlags{mode: "memo", optimizer: "sgd", params: "all", classes1k: f.classes1k, views: f.views,
				steps: 1, select_: f.select_, prior: memo.SeedPrior, memberPrior: f.memoPrior, lr: f.memoLR,
				wd: f.memoWD, dropout: 0.5}
			a, err := buildMemoAdapter(env, mf, nMemo)
			if err != nil {
				return nil, nil, fmt.Errorf("member %s: %w", name, err)
			}
			nMemo++
			member, pre = a, env.resnetPreprocess()
		case "tpt", "zero-shot":
			if nCLIP > 0 {
				return nil, nil, fmt.Errorf("member %s: only one CLIP member is supported (one --model clip)", name)
			}
			nCLIP++
			m, err := env.CLIP()
			if err != nil {
				return nil, nil, fmt.Errorf("member %s: %w", name, err)
			}
			tm, err := newTPTMember(env, m, env.prompt(f.prompt, ensembleDefaultPrompt), f.tptLR, k == "tpt")
			if err != nil {
				return nil, nil, fmt.Errorf("member %s: %w", name, err)
			}
			member, pre = tm, m.Preprocess()
		default:
			return nil, nil, fmt.Errorf("--members: unknown member %q (memo, tpt or zero-shot)", k)
		}
		entries = append(entries, ensemble.Entry{Name: name, Member: member, Temperature: temps[i]})
		vm.Members = append(vm.Members, ensemble.MemberViews{Name: name,
			Views: augment.Views{N: f.views, Kind: viewKind, Preprocess: pre}})
	}
	opts := ensemble.Options{Select: f.select_, Steps: f.steps, SeedCompatible: f.seedCompatible}
	switch f.mode {
	case "joint":
	case "simple":
		opts.Mode = ensemble.Simple
	default:
		return nil, nil, fmt.Errorf("--mode %q: want joint or simple", f.mode)
	}
	a, err := ensemble.New(env.Backend, entries, opts)
	if err != nil {
		return nil, nil, err
	}
	return a, vm, nil
}

// newTPTMember is a TPT adapter over m as an ensemble member (tpt.Adapter implements tta.Member): its prompt
// context tuned by AdamW with learning rate lr when train, else frozen (a zero-shot member: no steps).
func newTPTMember(env *methodEnv, m *clip.Model, prompt string, lr float64, train bool) (*tpt.Adapter, error) {
	tok, err := env.Tokenizer()
	if err != nil {
		return nil, err
	}
	opts := tpt.Options{Prompt: prompt, LR: lr}
	if !train {
		opts.Steps = -1
	}
	return tpt.New(env.Backend, m, tok, env.Classes, opts)
}
