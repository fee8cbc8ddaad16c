package ensemble

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/gotta-ml/gotta/datasets/augment"
	"github.com/gotta-ml/gotta/tta"
	"github.com/gotta-ml/gotta/tta/method"
)

func init() { method.Register(Spec()) }

// SeedPrompt is the TPT / zero-shot members' prompt in the seed project's ensemble.
const SeedPrompt = "A bad photo of a [CLS]"

// Spec is the seed project's multi-model ensemble's method spec ("ensemble"): members built through the method
// registry ("memo" for a MEMO ResNet, "tpt" for TPT with its prompt context tuned, "zero-shot" for TPT's frozen
// prompt), combined jointly or simply, with the seed's four Ensemble/main.py configurations as presets.
func Spec() *method.Spec {
	seed := func(members, temps string) method.Values {
		return method.Values{"members": members, "temps": temps, "seed-compatible": true}
	}
	return &method.Spec{
		Name: "ensemble",
		Summary: "the seed project's multi-model ensemble of MEMO ResNets, TPT and zero-shot CLIP " +
			"(--preset for its four runs)",
		Paper:  "the seed project's ensembles (DavidC001/MEMO-TPT-DL2024, Ensemble/) of MEMO (Zhang et al. 2022) and TPT (Shu et al. 2022)",
		Models: []string{"clip", "resnet"},
		Params: []method.Param{
			method.String("members", "memo,memo", "comma-separated members: memo (the next ResNet: --model resnet, in "+
				"order), tpt (the CLIP, tuned prompt), zero-shot (the CLIP, frozen prompt)").Checked(checkMembers),
			method.String("temps", "", "comma-separated temperatures, one per member (empty: all 1)").Checked(checkTemps),
			method.String("mode", "joint", "joint (entropy minimisation of the combination, method name ensemble) or "+
				"simple (no gradient, simple-ensemble)").OneOf("joint", "simple"),
			method.Float("select", 0.1, "confidence selection of every member's views (the seed: 0.1)").Above(0).AtMost(1),
			method.Int("views", 64, "views per member, view 0 included (the seed: 64)").AtLeast(1).AtMost(4096),
			method.String("view-kind", "cut", "augmentation of views 1..N-1 for every member").
				OneOf("cut", "augmix", "crop+augmix", "identity"),
			method.Int("steps", 1, "joint steps (mode joint)").AtLeast(1).AtMost(1000),
			method.Bool("seed-compatible", false, "the seed's combination: raw-logit view averaging, no renormalisation"),
			method.Float("memo-lr", 5e-3, "MEMO members' SGD learning rate").Above(0).AtMost(10),
			method.Float("memo-weight-decay", 1e-4, "MEMO members' SGD weight decay").AtLeast(0).AtMost(10),
			method.Float("memo-prior", 1, "MEMO members' batch-norm prior in the ensemble (the seed: 1)").Above(0).AtMost(1),
			method.Float("tpt-lr", 5e-3, "TPT members' AdamW learning rate").Above(0).AtMost(10),
			method.String("prompt", SeedPrompt, "TPT / zero-shot members' prompt (the embedded CLIP uses \""+
				method.EmbeddedPrompt+"\" for the default)"),
		},
		Presets: []method.Preset{
			{Name: "seed-rn50-rnxt", Doc: "the seed's RN50 + RNXT ensemble (two --model resnet)", Set: seed("memo,memo", "1,1")},
			{Name: "seed-rn50-rnxt-v2", Doc: "the same on ImageNetV2 (--data imagenet-v2)", Set: seed("memo,memo", "1,1")},
			{Name: "seed-memo-tpt", Doc: "the seed's MEMO + TPT ensemble, temperatures 1.55 and 0.7",
				Set: seed("memo,tpt", "1.55,0.7")},
			{Name: "seed-memo-tpt-top02", Doc: "the seed notebook's copy of MEMO + TPT with top 0.2",
				Set: seed("memo,tpt", "1.55,0.7").With("select", 0.2)},
			{Name: "seed-rn50-rnxt-tpt", Doc: "the seed's RN50 + RNXT + TPT ensemble", Set: seed("memo,memo,tpt", "1,1,0.7")},
		},
		Build: build,
	}
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		out = append(out, strings.TrimSpace(p))
	}
	return out
}

func checkMembers(v any) error {
	for _, k := range splitList(v.(string)) {
		if k != "memo" && k != "tpt" && k != "zero-shot" {
			return fmt.Errorf("unknown member %q (memo, tpt or zero-shot)", k)
		}
	}
	return nil
}

// temps parses the temperatures, nil for "".
func temps(s string) ([]float64, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var out []float64
	for _, p := range splitList(s) {
		t, err := strconv.ParseFloat(p, 64)
		if err != nil || !(t > 0) || t > 1e6 {
			return nil, fmt.Errorf("bad temperature %q (want a number > 0)", p)
		}
		out = append(out, t)
	}
	return out, nil
}

func checkTemps(v any) error { _, err := temps(v.(string)); return err }

// build makes the members through the method registry and the ensemble over them. Members are named by their kind
// ("memo", "tpt"), with their position appended when a kind repeats ("memo0", "memo1"): a member's name keys its
// views and seeds their draws.
func build(env *method.Env, classes []string, v method.Values) (tta.Adapter, tta.ViewMaker, error) {
	kinds := splitList(v.String("members"))
	ts, err := temps(v.String("temps"))
	if err != nil {
		return nil, nil, err
	}
	if ts != nil && len(ts) != len(kinds) {
		return nil, nil, fmt.Errorf("temps %q: %d values for %d members", v.String("temps"), len(ts), len(kinds))
	}
	count := map[string]int{}
	for _, k := range kinds {
		count[k]++
	}
	viewKind, err := augment.ParseKind(v.String("view-kind"))
	if err != nil {
		return nil, nil, err
	}
	prompt := env.Prompt(v.String("prompt"), SeedPrompt)
	var entries []Entry
	var vm ViewMaker
	nMemo, nCLIP := 0, 0
	for i, k := range kinds {
		name := k
		if count[k] > 1 {
			name = fmt.Sprintf("%s%d", k, i)
		}
		var a tta.Adapter
		var pre augment.Preprocess
		switch k {
		case "memo":
			a, err = buildMember(env, classes, "memo", "seed-memo", method.Values{"select": v.Float("select"),
				"views": v.Int("views"), "member-prior": v.Float("memo-prior"), "lr": v.Float("memo-lr"),
				"weight-decay": v.Float("memo-weight-decay"), "resnet": nMemo})
			nMemo++
			pre = env.ResNetPreprocess()
		case "tpt", "zero-shot":
			if nCLIP > 0 {
				return nil, nil, fmt.Errorf("member %s: only one CLIP member is supported (one --model clip)", name)
			}
			nCLIP++
			steps := 1
			if k == "zero-shot" {
				steps = 0
			}
			a, err = buildMember(env, classes, "tpt", "paper", method.Values{"select": v.Float("select"),
				"views": v.Int("views"), "prompt": prompt, "lr": v.Float("tpt-lr"), "steps": steps})
			if err == nil {
				cm, cerr := env.CLIP()
				if cerr != nil {
					return nil, nil, cerr
				}
				pre = cm.Model.Preprocess()
			}
		}
		if err != nil {
			return nil, nil, fmt.Errorf("member %s: %w", name, err)
		}
		m, ok := a.(Member)
		if !ok {
			return nil, nil, fmt.Errorf("%w: member %s: the %s adapter is not an ensemble member", method.ErrNotAvailable,
				name, k)
		}
		e := Entry{Name: name, Member: m}
		if ts != nil {
			e.Temperature = ts[i]
		}
		entries = append(entries, e)
		vm.Members = append(vm.Members, MemberViews{Name: name,
			Views: augment.Views{N: v.Int("views"), Kind: viewKind, Preprocess: pre}})
	}
	opts := Options{Select: v.Float("select"), Steps: v.Int("steps"), SeedCompatible: v.Bool("seed-compatible")}
	if v.String("mode") == "simple" {
		opts.Mode = Simple
	}
	a, err := New(env.Backend, entries, opts)
	if err != nil {
		return nil, nil, err
	}
	return a, vm, nil
}

// buildMember builds member method name through the registry (methods never import each other).
func buildMember(env *method.Env, classes []string, name, preset string, over method.Values) (tta.Adapter, error) {
	s, err := method.Lookup(name)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", method.ErrNotAvailable, err)
	}
	v, err := s.Resolve(preset, over)
	if err != nil {
		return nil, err
	}
	a, _, err := s.Build(env, classes, v)
	return a, err
}
