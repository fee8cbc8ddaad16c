package method

import (
	"flag"
	"fmt"
	"strconv"
	"strings"
)

// Flags are a method's parameters as command-line flags (AddFlags).
type Flags struct {
	spec   *Spec
	fs     *flag.FlagSet
	preset *string
}

// AddFlags adds every parameter of s to fs as a flag (--KEY, with its doc, range and default) and, when s has
// presets, --preset (its help lists them; defaultPreset applies when --preset is not given, NoPreset for the
// parameters' own defaults). After fs is parsed (Flags.Parse), Flags.Values resolves the preset with only the flags
// the user gave as overrides, so the preset applies underneath.
func AddFlags(fs *flag.FlagSet, s *Spec, defaultPreset string) *Flags {
	f := &Flags{spec: s, fs: fs}
	if len(s.Presets) > 0 {
		var b strings.Builder
		b.WriteString("a configuration, applied under the flags given:")
		for _, p := range s.Presets {
			fmt.Fprintf(&b, "\n  %s: %s", p.Name, p.Doc)
		}
		fmt.Fprintf(&b, "\n  %s: the parameters' own defaults", NoPreset)
		f.preset = fs.String("preset", defaultPreset, b.String())
	}
	for _, p := range s.Params {
		usage := p.Doc
		if r := p.RangeString(); r != "" {
			usage += " (" + r + ")"
		}
		switch d := p.Default.(type) {
		case int:
			fs.Int(p.Key, d, usage)
		case float64:
			fs.Float64(p.Key, d, usage)
		case bool:
			fs.Bool(p.Key, d, usage)
		case string:
			fs.String(p.Key, d, usage)
		}
	}
	return f
}

// Parse parses args into the FlagSet. A flag that another registered method has but this one lacks is refused by
// name ("method memo has no flag --prompt"), before Go's generic "flag provided but not defined".
func (f *Flags) Parse(args []string) error {
	if err := f.checkForeign(args); err != nil {
		return err
	}
	return f.fs.Parse(args)
}

// checkForeign scans args as the flag package would and reports the first flag that the FlagSet lacks and another
// method's spec has.
func (f *Flags) checkForeign(args []string) error {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" || len(a) < 2 || a[0] != '-' {
			return nil // flags end at the first non-flag argument
		}
		name := strings.TrimLeft(a, "-")
		name, _, hasValue := strings.Cut(name, "=")
		if fl := f.fs.Lookup(name); fl != nil {
			if bf, ok := fl.Value.(interface{ IsBoolFlag() bool }); (!ok || !bf.IsBoolFlag()) && !hasValue {
				i++ // the next argument is the flag's value
			}
			continue
		}
		for _, s := range All() {
			if s != f.spec && s.Param(name) != nil {
				return fmt.Errorf("method %s has no flag --%s (method %s has)", f.spec.Name, name, s.Name)
			}
		}
		return nil // the flag package reports it
	}
	return nil
}

// Preset returns the --preset value ("" when the spec has no presets).
func (f *Flags) Preset() string {
	if f.preset == nil {
		return ""
	}
	return *f.preset
}

// Overrides returns the parameters given on the command line, typed.
func (f *Flags) Overrides() (Values, error) {
	out := Values{}
	var err error
	f.fs.Visit(func(fl *flag.Flag) {
		p := f.spec.Param(fl.Name)
		if p == nil || err != nil {
			return
		}
		s := fl.Value.String()
		switch p.Default.(type) {
		case int:
			out[p.Key], err = strconv.Atoi(s)
		case float64:
			out[p.Key], err = strconv.ParseFloat(s, 64)
		case bool:
			out[p.Key], err = strconv.ParseBool(s)
		case string:
			out[p.Key] = s
		}
	})
	return out, err
}

// Values resolves --preset with the given flags as overrides (Spec.Resolve).
func (f *Flags) Values() (Values, error) {
	o, err := f.Overrides()
	if err != nil {
		return nil, err
	}
	return f.spec.Resolve(f.Preset(), o)
}
