package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gotta-ml/gotta/datasets"
	"github.com/gotta-ml/gotta/datasets/augment"
	"github.com/gotta-ml/gotta/datasets/imagenet"
	"github.com/gotta-ml/gotta/tta"
	"github.com/gotta-ml/gotta/tta/clip"
	"github.com/gotta-ml/gotta/tta/clip/tokenizer"
	"github.com/gotta-ml/gotta/tta/embedded"
	"github.com/gotta-ml/gotta/tta/report"
	"github.com/gotta-ml/gotta/tta/resnet"
	"github.com/gotta-ml/gotta/tta/tpt"
	"github.com/gotta-ml/gotta/tta/weights"
)

// method is one test-time-adaptation method that gotta eval and gotta adapt can run. Each method lives in its own
// file (method_<name>.go) and registers itself from an init function with registerMethod.
type method struct {
	// name is the --method value; summary one line for --help.
	name, summary string
	// addFlags adds the method's options to fs (every option a flag, documented) and returns the value they fill,
	// which build gets back after parsing.
	addFlags func(fs *flag.FlagSet) any
	// build makes the adapter and its view maker from the parsed flags and the environment (backend, models,
	// vocabulary, the dataset's class names).
	build func(env *methodEnv, flags any) (tta.Adapter, tta.ViewMaker, error)
	// adapt, when set, runs `gotta adapt --method <name>`: it gets the adapt command's arguments (--method
	// included) and returns flag.ErrHelp after printing help. Methods without it do not support gotta adapt.
	adapt func(args []string, stdout, stderr io.Writer) error
}

var methods = map[string]*method{}

// registerMethod adds a method; called from init functions.
func registerMethod(m *method) {
	if _, dup := methods[m.name]; dup {
		panic("gotta: method registered twice: " + m.name)
	}
	methods[m.name] = m
}

// methodNames lists the registered methods, sorted.
func methodNames() []string {
	names := make([]string, 0, len(methods))
	for n := range methods {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// methodList is the "Methods:" block of --help.
func methodList() string {
	return listMethods("Methods (--method NAME; gotta eval --method NAME --help lists its flags):", methodNames())
}

// listMethods is a header line, then one line per method: its name and summary.
func listMethods(header string, names []string) string {
	var b strings.Builder
	b.WriteString(header + "\n")
	for _, n := range names {
		fmt.Fprintf(&b, "  %-16s %s\n", n, methods[n].summary)
	}
	return b.String()
}

// adaptMethodNames lists the registered methods that support gotta adapt, sorted.
func adaptMethodNames() []string {
	var names []string
	for _, n := range methodNames() {
		if methods[n].adapt != nil {
			names = append(names, n)
		}
	}
	return names
}

// adaptMethodList is the "Methods:" block of gotta adapt --help: the methods that support it.
func adaptMethodList() string {
	return listMethods("Methods that support gotta adapt (--method NAME, default tpt; gotta adapt --method NAME --help lists its flags):",
		adaptMethodNames())
}

// lookupMethod returns the method named name, or an error listing the methods.
func lookupMethod(name string) (*method, error) {
	if name == "" {
		return nil, fmt.Errorf("--method is required (one of %s)", strings.Join(methodNames(), ", "))
	}
	m, ok := methods[name]
	if !ok {
		return nil, fmt.Errorf("unknown --method %q (one of %s)", name, strings.Join(methodNames(), ", "))
	}
	return m, nil
}

// scanFlag returns the value of flag name in args ("--name v", "--name=v", "-name v", "-name=v") before flags
// are parsed (the method decides which flags exist), or "".
func scanFlag(args []string, name string) string {
	for i, a := range args {
		if a == "--" {
			break
		}
		for _, p := range []string{"--" + name, "-" + name} {
			if a == p && i+1 < len(args) {
				return args[i+1]
			}
			if strings.HasPrefix(a, p+"=") {
				return a[len(p)+1:]
			}
		}
	}
	return ""
}

// modelSpec is one --model value: FAMILY[:ARCH]=FILE, e.g. clip:RN50=weights/RN50.safetensors. Without =FILE the
// file is the default path of FAMILY/ARCH under the weights directory (gotta fetch puts it there).
type modelSpec struct {
	Family, Arch, Path string
}

func (s modelSpec) String() string {
	name := s.Family
	if s.Arch != "" {
		name += ":" + s.Arch
	}
	return name + "=" + s.Path
}

func parseModelSpec(v string) (modelSpec, error) {
	var s modelSpec
	name, path, hasPath := strings.Cut(v, "=")
	s.Family, s.Arch, _ = strings.Cut(name, ":")
	if s.Family == "" {
		return s, fmt.Errorf("--model %q: want FAMILY[:ARCH]=FILE, e.g. clip:RN50=RN50.safetensors", v)
	}
	if hasPath {
		if path == "" {
			return s, fmt.Errorf("--model %q: empty file", v)
		}
		s.Path = path
		return s, nil
	}
	if s.Arch == "" {
		return s, fmt.Errorf("--model %q: give the file (FAMILY[:ARCH]=FILE) or an ARCH to find under %s", v,
			tta.WeightsDir())
	}
	p, err := weights.DefaultPath(tta.WeightsDir(), s.Family, s.Arch)
	if err != nil {
		return s, fmt.Errorf("--model %q: %w", v, err)
	}
	s.Path = p
	return s, nil
}

// modelFlag is a repeatable --model flag.
type modelFlag struct{ specs []modelSpec }

func (f *modelFlag) String() string {
	if f == nil {
		return ""
	}
	parts := make([]string, len(f.specs))
	for i, s := range f.specs {
		parts[i] = s.String()
	}
	return strings.Join(parts, ",")
}

func (f *modelFlag) Set(v string) error {
	s, err := parseModelSpec(v)
	if err != nil {
		return err
	}
	f.specs = append(f.specs, s)
	return nil
}

// methodEnv is what a method's build function gets besides its flags.
type methodEnv struct {
	// Backend runs the graphs.
	Backend backends.Backend
	// Models are the --model values, in order.
	Models []modelSpec
	// DType is the compute dtype of the models (--dtype): Float32 or BFloat16.
	DType dtypes.DType
	// Vocab is CLIP's BPE vocabulary file (--vocab).
	Vocab string
	// Classes are the class names of the dataset, in label order (the logits' order).
	Classes []string
	// Embedded says that the models missing from Models are the embedded default's (tta/embedded: the MNIST
	// CLIP and ResNet), with their own tokenizer, prompt and preprocessing. Set when the data is embedded MNIST
	// (--data mnist or mnist-c:...) and for gotta adapt without --weights.
	Embedded bool

	clipModel *clip.Model
	tok       clipTokenizer
}

// clipTokenizer is what the CLIP methods need of a tokenizer: TPT's token ids and the zero-shot head's padded
// prompts. OpenAI's BPE (tokenizer.Tokenizer) and the embedded word tokenizer both are one.
type clipTokenizer interface {
	tpt.Tokenizer
	clip.Tokenizer
}

// embeddedTokenizer adapts the embedded word tokenizer to clipTokenizer.
type embeddedTokenizer struct{ *embedded.WordTokenizer }

// EncodeTokens implements tpt.Tokenizer: the word ids without SOT/EOT.
func (w embeddedTokenizer) EncodeTokens(text string) []int { return w.Tokens(text) }

// embeddedPrompt is the embedded CLIP's prompt (the one tta/report uses): its vocabulary is MNIST captions.
const embeddedPrompt = "a photo of the number"

// usesEmbedded says whether the model of family ("clip" or "resnet") is the embedded one: Embedded and no --model
// of that family.
func (e *methodEnv) usesEmbedded(family string) bool {
	if !e.Embedded {
		return false
	}
	for _, s := range e.Models {
		if s.Family == family {
			return false
		}
	}
	return true
}

// usesEmbeddedResNet says whether loadResNet gives the embedded model.
func (e *methodEnv) usesEmbeddedResNet() bool { return e.usesEmbedded("resnet") }

// resnetPreprocess is the base preprocessing of the ResNet members: the embedded ResNet's (48x48) or
// torchvision's ImageNet one.
func (e *methodEnv) resnetPreprocess() augment.Preprocess {
	if e.usesEmbeddedResNet() {
		return embedded.ResNetPreprocess()
	}
	return resnet.Preprocessing()
}

// prompt returns a CLIP method's prompt: the embedded CLIP's own prompt instead of the flag's default value
// (flagDefault) when CLIP() is the embedded model, whose vocabulary has only MNIST captions' words.
func (e *methodEnv) prompt(value, flagDefault string) string {
	if value == flagDefault && e.usesEmbeddedCLIP() {
		return embeddedPrompt
	}
	return value
}

// usesEmbeddedCLIP says whether CLIP() gives the embedded model.
func (e *methodEnv) usesEmbeddedCLIP() bool { return e.usesEmbedded("clip") }

// CLIP loads the one CLIP model of --model (family "clip"), once.
func (e *methodEnv) CLIP() (*clip.Model, error) {
	if e.clipModel != nil {
		return e.clipModel, nil
	}
	if e.usesEmbeddedCLIP() {
		m, tok, err := embedded.LoadCLIP(clip.LoadOpts{DType: e.DType})
		if err != nil {
			return nil, fmt.Errorf("the embedded CLIP: %w", err)
		}
		e.clipModel, e.tok = m, embeddedTokenizer{tok}
		return m, nil
	}
	var specs []modelSpec
	for _, s := range e.Models {
		if s.Family == "clip" {
			specs = append(specs, s)
		}
	}
	if len(specs) != 1 {
		return nil, fmt.Errorf("this method needs exactly one --model clip[:ARCH]=FILE, got %d", len(specs))
	}
	m, err := clip.Load(specs[0].Path, clip.LoadOpts{DType: e.DType})
	if err != nil {
		return nil, err
	}
	e.clipModel = m
	return m, nil
}

// Tokenizer loads --vocab, once; the embedded CLIP's own tokenizer when CLIP() is the embedded model.
func (e *methodEnv) Tokenizer() (clipTokenizer, error) {
	if e.tok != nil {
		return e.tok, nil
	}
	if e.usesEmbeddedCLIP() {
		if _, err := e.CLIP(); err != nil {
			return nil, err
		}
		return e.tok, nil
	}
	if e.Vocab == "" {
		return nil, fmt.Errorf("--vocab is required (OpenAI's bpe_simple_vocab_16e6.txt.gz)")
	}
	t, err := tokenizer.Load(e.Vocab)
	if err != nil {
		return nil, err
	}
	e.tok = t
	return t, nil
}

// parseDType maps --dtype to a GoMLX dtype.
func parseDType(s string) (dtypes.DType, error) {
	switch strings.ToLower(s) {
	case "f32", "float32", "":
		return dtypes.Float32, nil
	case "bf16", "bfloat16":
		return dtypes.BFloat16, nil
	}
	return dtypes.InvalidDType, fmt.Errorf("--dtype %q: want f32 or bf16", s)
}

// openDataset opens a --data value: ID=DIR with ID one of the ImageNet test sets (imagenet-a, imagenet-v2, ...)
// or "folder" (any class-per-folder image tree; class names are the folder names with "_" as spaces). Without
// =DIR an ImageNet set is looked up under the datasets directory.
func openDataset(spec string) (datasets.Dataset, error) {
	if isEmbeddedData(spec) {
		return openEmbeddedData(spec)
	}
	id, dir, hasDir := strings.Cut(spec, "=")
	if id == "folder" {
		if !hasDir || dir == "" {
			return nil, fmt.Errorf("--data folder=DIR needs the folder")
		}
		classes, err := datasets.ClassFolders(dir)
		if err != nil {
			return nil, err
		}
		names := make([]string, len(classes))
		for i, c := range classes {
			names[i] = strings.ReplaceAll(c, "_", " ")
		}
		return datasets.ImageFolder(dir, datasets.FolderOptions{Name: filepath.Base(filepath.Clean(dir)),
			Classes: classes, ClassNames: names})
	}
	l, err := imagenet.LayoutOf(imagenet.ID(id))
	if err != nil {
		ids := []string{"mnist", "mnist-c:CORRUPTION[:SEVERITY]", "folder"}
		for _, i := range imagenet.IDs() {
			ids = append(ids, string(i))
		}
		return nil, fmt.Errorf("--data %q: unknown dataset id %q (one of %s)", spec, id, strings.Join(ids, ", "))
	}
	if !hasDir || dir == "" {
		dir = filepath.Join(tta.DatasetsDir(), l.DirName)
		if _, err := os.Stat(dir); err != nil {
			return nil, fmt.Errorf("--data %s: no directory given and %s is missing: %w", id, dir, err)
		}
	}
	return imagenet.Open(imagenet.ID(id), dir)
}

// isEmbeddedData says whether a --data value names the embedded default's data: "mnist" (clean MNIST test) or
// "mnist-c[:CORRUPTION[:SEVERITY]]".
func isEmbeddedData(spec string) bool {
	return spec == "mnist" || spec == "mnist-c" || strings.HasPrefix(spec, "mnist-c:")
}

// defaultData is --data's default: the embedded shifted MNIST (MNIST-C glass blur at the default severity).
const defaultData = "mnist-c:glass_blur"

// openEmbeddedData opens "mnist" (the first embedded.DefaultSize clean MNIST test images) or
// "mnist-c[:CORRUPTION[:SEVERITY]]" (the same images under an MNIST-C corruption, default glass_blur at
// embedded.DefaultSeverity, corruption seed report.CorruptionSeed: the images of gotta report's rows).
func openEmbeddedData(spec string) (datasets.Dataset, error) {
	if spec == "mnist" {
		return embedded.Clean(embedded.DefaultSize)
	}
	parts := strings.Split(spec, ":")
	corruption, severity := "glass_blur", embedded.DefaultSeverity
	if len(parts) > 3 {
		return nil, fmt.Errorf("--data %q: want mnist-c[:CORRUPTION[:SEVERITY]]", spec)
	}
	if len(parts) > 1 && parts[1] != "" {
		corruption = parts[1]
	}
	if len(parts) == 3 {
		v, err := strconv.Atoi(parts[2])
		if err != nil || v < 1 || v > 5 {
			return nil, fmt.Errorf("--data %q: severity %q: want 1..5", spec, parts[2])
		}
		severity = v
	}
	ds, err := embedded.ShiftedMNIST(corruption, severity, embedded.DefaultSize, report.CorruptionSeed)
	if err != nil {
		return nil, fmt.Errorf("--data %q: %w (corruptions: %s)", spec, err, strings.Join(embedded.DefaultCorruptions(), ", "))
	}
	return ds, nil
}
