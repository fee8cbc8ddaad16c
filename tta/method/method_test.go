package method

import (
	"encoding/binary"
	"flag"
	"io"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gotta-ml/gotta/tta"
	"github.com/gotta-ml/gotta/tta/embedded"
)

// fakeSpec is a registered spec with one parameter of each kind and two presets.
var fakeSpec = &Spec{
	Name: "fake",
	Params: []Param{
		Int("views", 64, "views").AtLeast(1).AtMost(4096),
		Float("select", 0.1, "rho").Above(0).AtMost(1),
		Bool("ensemble", false, "ensemble mode"),
		String("kind", "cut", "view kind").OneOf("cut", "augmix"),
		Float("wd", 0.01, "weight decay").AtLeast(0),
	},
	Presets: []Preset{{Name: "paper", Doc: "the paper"},
		{Name: "small", Doc: "8 views, all kept", Set: Values{"views": 8, "select": 1.0}}},
	DefaultPreset: "paper",
	Build:         func(*Env, []string, Values) (tta.Adapter, tta.ViewMaker, error) { return nil, nil, nil },
}

// otherSpec has a parameter fakeSpec lacks.
var otherSpec = &Spec{Name: "other", Params: []Param{String("prompt", "a photo of a", "prompt")},
	Build: func(*Env, []string, Values) (tta.Adapter, tta.ViewMaker, error) { return nil, nil, nil }}

func init() {
	Register(fakeSpec)
	Register(otherSpec)
}

func TestResolve(t *testing.T) {
	v, err := fakeSpec.Resolve("", nil)
	require.NoError(t, err)
	assert.Equal(t, Values{"views": 64, "select": 0.1, "ensemble": false, "kind": "cut", "wd": 0.01}, v)

	v, err = fakeSpec.Resolve("small", Values{"views": 16.0, "wd": 0})
	require.NoError(t, err)
	assert.Equal(t, 16, v.Int("views"), "an override wins over the preset, an integral float is an int")
	assert.Equal(t, 1.0, v.Float("select"), "the preset over the default")
	assert.Equal(t, 0.0, v.Float("wd"), "0 means 0")

	for _, c := range []struct {
		over Values
		want string
	}{
		{Values{"foo": 1}, `method fake: unknown parameter "foo" (known: views, select, ensemble, kind, wd)`},
		{Values{"select": 0}, "method fake: select 0: want 0 < select <= 1"},
		{Values{"select": 1.5}, "method fake: select 1.5: want 0 < select <= 1"},
		{Values{"views": 0}, "method fake: views 0: want 1 <= views <= 4096"},
		{Values{"views": 2.5}, "method fake: views 2.5: want an integer"},
		{Values{"wd": -1}, "method fake: wd -1: want wd >= 0"},
		{Values{"select": math.NaN()}, "method fake: select NaN: want a finite number"},
		{Values{"select": math.Inf(1)}, "method fake: select +Inf: want a finite number"},
		{Values{"ensemble": 1}, "method fake: ensemble 1: want true or false, got int"},
		{Values{"kind": "mixup"}, `method fake: kind "mixup": want one of cut, augmix`},
	} {
		_, err := fakeSpec.Resolve("", c.over)
		assert.EqualError(t, err, c.want, "%v", c.over)
	}
	_, err = fakeSpec.Resolve("nope", nil)
	assert.EqualError(t, err, `method fake: unknown preset "nope" (one of paper, small)`)

	assert.Panics(t, func() { v.Int("nope") })
	assert.Panics(t, func() { v.Float("views") })
	assert.Panics(t, func() { Register(&Spec{Name: "fake", Build: fakeSpec.Build}) }, "a duplicate name")
	assert.Panics(t, func() {
		Register(&Spec{Name: "bad-preset", Params: fakeSpec.Params, Build: fakeSpec.Build,
			Presets: []Preset{{Name: "p", Set: Values{"select": 2.0}}}})
	})
}

func TestLookup(t *testing.T) {
	s, err := Lookup("fake")
	require.NoError(t, err)
	assert.Same(t, fakeSpec, s)
	_, err = Lookup("x")
	assert.EqualError(t, err, `unknown method "x" (one of fake, other)`)
	assert.Equal(t, []string{"fake", "other"}, Names())
	_, _, _, err = Build(nil, "x", "", nil, nil)
	assert.ErrorIs(t, err, ErrNotAvailable)
}

func TestFlags(t *testing.T) {
	parse := func(args ...string) (Values, error) {
		fs := flag.NewFlagSet("eval", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		f := AddFlags(fs, fakeSpec, fakeSpec.DefaultPreset)
		if err := f.Parse(args); err != nil {
			return nil, err
		}
		return f.Values()
	}
	v, err := parse("--preset", "small", "--select", "0.5", "--ensemble", "--kind=augmix")
	require.NoError(t, err)
	assert.Equal(t, Values{"views": 8, "select": 0.5, "ensemble": true, "kind": "augmix", "wd": 0.01}, v,
		"the preset under the flags given")
	v, err = parse("--views", "64")
	require.NoError(t, err)
	assert.Equal(t, 64, v.Int("views"))
	_, err = parse("--views", "3", "--prompt", "x")
	assert.EqualError(t, err, "method fake has no flag --prompt (method other has)")
	_, err = parse("--nothing")
	assert.ErrorContains(t, err, "flag provided but not defined")
	_, err = parse("--select", "0")
	assert.EqualError(t, err, "method fake: select 0: want 0 < select <= 1")
	_, err = parse("--preset", "nope")
	assert.ErrorContains(t, err, "one of paper, small")

	fs := flag.NewFlagSet("eval", flag.ContinueOnError)
	AddFlags(fs, fakeSpec, "paper")
	assert.Contains(t, fs.Lookup("preset").Usage, "small: 8 views, all kept")
	assert.Contains(t, fs.Lookup("select").Usage, "(0 < select <= 1)")
	assert.Equal(t, "0.1", fs.Lookup("select").DefValue)
}

func TestEnv(t *testing.T) {
	e := EmbeddedEnv(nil)
	assert.True(t, e.UsesEmbeddedCLIP())
	assert.True(t, e.UsesEmbeddedResNet())
	assert.Contains(t, e.ModelsID, "embedded:")
	assert.Equal(t, EmbeddedPrompt, e.Prompt("a photo of a", "a photo of a"))
	assert.Equal(t, "a photo of the number two", e.Prompt("a photo of the number two", "a photo of a"))
	assert.Equal(t, embedded.ResNetInputSize, e.ResNetPreprocess().Size)
	assert.NotEqual(t, e.Scope("tpt"), e.Scope("tpt"))

	f := FileEnv(nil, "", "")
	_, err := f.CLIP()
	assert.ErrorIs(t, err, ErrNotAvailable)
	_, err = f.ResNet(0)
	assert.ErrorIs(t, err, ErrNotAvailable)
	assert.Equal(t, "a photo of a", f.Prompt("a photo of a", "a photo of a"))
	assert.Equal(t, 224, f.ResNetPreprocess().Size)

	sub, err := f.ClassSubset([]string{"a", "b"}, 2)
	require.NoError(t, err)
	assert.Nil(t, sub, "all outputs when the counts match")
	_, err = f.ClassSubset([]string{"a", "b"}, 1000)
	assert.ErrorContains(t, err, "--classes-1k")
}

func TestContentIDIgnoresMetadata(t *testing.T) {
	dir := t.TempDir()
	write := func(name, meta string, data []byte) string {
		header := `{"__metadata__":{"note":"` + meta + `"},"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`
		buf := make([]byte, 8, 8+len(header)+len(data))
		binary.LittleEndian.PutUint64(buf, uint64(len(header)))
		buf = append(append(buf, header...), data...)
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, buf, 0o644))
		return p
	}
	a := write("a.safetensors", "trained at 9:00", []byte{0, 0, 128, 63})
	b := write("b.safetensors", "trained at 10:00, another note", []byte{0, 0, 128, 63})
	c := write("c.safetensors", "trained at 9:00", []byte{0, 0, 0, 64})
	assert.Equal(t, contentID(a), contentID(b), "same tensors, other metadata")
	assert.NotEqual(t, contentID(a), contentID(c), "other tensor values")
	assert.Equal(t, "missing", contentID(filepath.Join(dir, "none")))
}
