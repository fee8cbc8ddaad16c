package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gotta-ml/gotta/datasets"
	"github.com/gotta-ml/gotta/datasets/imagenet"
	"github.com/gotta-ml/gotta/storage"
	"github.com/gotta-ml/gotta/tta"
	"github.com/gotta-ml/gotta/tta/embedded"
	"github.com/gotta-ml/gotta/tta/method"
	"github.com/gotta-ml/gotta/tta/report/suites"
	"github.com/gotta-ml/gotta/tta/weights"
)

// methodList is the "Methods:" block of --help: every registered method (tta/method) and its summary.
func methodList() string {
	var b strings.Builder
	b.WriteString("Methods (--method NAME; gotta eval --method NAME --help lists its flags and presets):\n")
	for _, s := range method.All() {
		fmt.Fprintf(&b, "  %-16s %s\n", s.Name, s.Summary)
	}
	return b.String()
}

// lookupMethod returns the spec of the method named name, or an error listing the methods.
func lookupMethod(name string) (*method.Spec, error) {
	if name == "" {
		return nil, usageErrorf("--method is required (one of %s)", strings.Join(method.Names(), ", "))
	}
	s, err := method.Lookup(name)
	if err != nil {
		return nil, &usageError{err}
	}
	return s, nil
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

// modelsOf turns --model values into the environment's models: at most one CLIP, the ResNets in order; embedded
// says that the models not given are the embedded default's.
func modelsOf(specs []modelSpec, embedded bool) (method.Models, error) {
	m := method.Models{Embedded: embedded}
	for _, s := range specs {
		switch s.Family {
		case "clip":
			if m.CLIP != "" {
				return m, fmt.Errorf("--model %s: one CLIP only (already %s)", s, m.CLIP)
			}
			m.CLIP, m.CLIPArch = s.Path, s.Arch
		case "resnet":
			m.ResNets = append(m.ResNets, s.Path)
			m.ResNetArchs = append(m.ResNetArchs, s.Arch)
		default:
			return m, fmt.Errorf("--model %s: unknown family %q (clip or resnet)", s, s.Family)
		}
	}
	return m, nil
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
func openDataset(spec string) (datasets.Dataset, error) { return openDatasetCached(spec, false) }

// openDatasetCached is openDataset where DIR may also be a storage URL (s3://BUCKET/PREFIX, gs://, azblob://,
// file://); cache keeps local copies of a bucket's images under $GOTTA_HOME/cache/storage.
func openDatasetCached(spec string, cache bool) (datasets.Dataset, error) {
	if isEmbeddedData(spec) {
		return openEmbeddedData(spec)
	}
	id, dir, hasDir := strings.Cut(spec, "=")
	if hasDir && storage.IsURL(dir) {
		if _, err := imagenet.LayoutOf(imagenet.ID(id)); err != nil && id != "folder" {
			return nil, fmt.Errorf("--data %q: unknown dataset id %q for a bucket (folder or an ImageNet set)", spec, id)
		}
		return openBucketDataset(id, dir, cache)
	}
	if id == "folder" {
		if !hasDir || dir == "" {
			return nil, fmt.Errorf("--data folder=DIR needs the folder")
		}
		classes, err := datasets.ClassFolders(dir)
		if err != nil {
			return nil, err
		}
		return datasets.ImageFolder(dir, datasets.FolderOptions{Name: filepath.Base(filepath.Clean(dir)),
			Classes: classes, ClassNames: folderClassNames(classes)})
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

// folderClassNames are the class names of --data folder=DIR: the folder names with "_" as spaces.
func folderClassNames(folders []string) []string {
	names := make([]string, len(folders))
	for i, c := range folders {
		names[i] = strings.ReplaceAll(c, "_", " ")
	}
	return names
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
// embedded.DefaultSeverity, corruption seed suites.CorruptionSeed: the images of gotta report's rows).
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
	ds, err := embedded.ShiftedMNIST(corruption, severity, embedded.DefaultSize, suites.CorruptionSeed)
	if err != nil {
		return nil, fmt.Errorf("--data %q: %w (corruptions: %s)", spec, err, strings.Join(embedded.DefaultCorruptions(), ", "))
	}
	return ds, nil
}
