package weights

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
)

// HubHost is the default host of the published weight files (the Hugging Face hub).
const HubHost = "https://huggingface.co"

// GitHubHost serves files of public GitHub repositories (the CLIP tokenizer's vocabulary).
const GitHubHost = "https://github.com"

// SourceFile is one published file of a model: where it is downloaded from and where it lives locally.
type SourceFile struct {
	// Host is the scheme and host serving the file (HubHost, GitHubHost); `gotta fetch --base-url` replaces it.
	Host string
	// Path is the file's URL path on Host, without the leading slash.
	Path string
	// Local is the file's path relative to the weights directory (tta.WeightsDir()).
	Local string
	// SHA256 is the lowercase hex SHA-256 of the file, or "" where it could not be known when this table was
	// written: such files are accepted as downloaded, and `gotta fetch` prints their hash.
	SHA256 string
}

// URL is the file's download URL; a non-empty baseURL replaces Host.
func (s SourceFile) URL(baseURL string) string {
	host := s.Host
	if baseURL != "" {
		host = baseURL
	}
	return strings.TrimRight(host, "/") + "/" + s.Path
}

// LocalPath is the file's path under weightsDir.
func (s SourceFile) LocalPath(weightsDir string) string {
	return filepath.Join(weightsDir, filepath.FromSlash(s.Local))
}

// Source is a model's published weights: a family ("clip", "resnet"), a model name and its files. The first file
// is the weights (a .safetensors file); others are companions (the CLIP tokenizer vocabulary).
type Source struct {
	// Family is "clip" or "resnet".
	Family string
	// Model is the name users type: "RN50", "ViT-B/16", "resnet50", ...
	Model string
	// Files are the files to fetch, weights first.
	Files []SourceFile
	// Note says what the weights are.
	Note string
}

// Weights is the source's weights file (the first of Files).
func (s Source) Weights() SourceFile { return s.Files[0] }

// clipVocab is the CLIP byte-level BPE vocabulary (merges) shipped with openai/CLIP.
var clipVocab = SourceFile{
	Host:   GitHubHost,
	Path:   "openai/CLIP/raw/main/clip/bpe_simple_vocab_16e6.txt.gz",
	Local:  "clip/bpe_simple_vocab_16e6.txt.gz",
	SHA256: "924691ac288e54409236115652ad4aa250f48203de50a9e4722a6ecd48d6804a",
}

// clipSource is an OpenAI CLIP model as open_clip stores it in timm's hub repos (OpenAI state-dict names).
func clipSource(model, repo string) Source {
	dir := strings.ReplaceAll(model, "/", "-")
	return Source{
		Family: "clip", Model: model,
		Note: "OpenAI CLIP " + model + " (image and text towers), open_clip state-dict names, hub repo " + repo,
		Files: []SourceFile{{
			Host:  HubHost,
			Path:  repo + "/resolve/main/open_clip_model.safetensors",
			Local: "clip/" + dir + "/open_clip_model.safetensors",
		}, clipVocab},
	}
}

// resnetSource is a torchvision ImageNet classifier as timm's hub repos store it (torchvision state-dict names).
func resnetSource(model, repo, note string) Source {
	return Source{
		Family: "resnet", Model: model, Note: note + ", hub repo " + repo,
		Files: []SourceFile{{
			Host:  HubHost,
			Path:  repo + "/resolve/main/model.safetensors",
			Local: "resnet/" + model + "/model.safetensors",
		}},
	}
}

// sources is the table of published weights that `gotta fetch` knows.
var sources = []Source{
	clipSource("RN50", "timm/resnet50_clip.openai"),
	clipSource("RN101", "timm/resnet101_clip.openai"),
	clipSource("ViT-B/32", "timm/vit_base_patch32_clip_224.openai"),
	clipSource("ViT-B/16", "timm/vit_base_patch16_clip_224.openai"),
	clipSource("ViT-L/14", "timm/vit_large_patch14_clip_224.openai"),
	resnetSource("resnet50", "timm/resnet50.tv_in1k", "torchvision ResNet-50 IMAGENET1K_V1 (76.1% top-1)"),
	resnetSource("resnet50.tv2", "timm/resnet50.tv2_in1k", "torchvision ResNet-50 IMAGENET1K_V2 (80.9% top-1)"),
	resnetSource("resnext50", "timm/resnext50_32x4d.tv2_in1k", "torchvision ResNeXt-50 32x4d IMAGENET1K_V2"),
}

// Sources returns the table of known published weights (a copy).
func Sources() []Source {
	out := make([]Source, len(sources))
	for i, s := range sources {
		s.Files = slices.Clone(s.Files)
		out[i] = s
	}
	return out
}

// LookupSource finds a model of a family in the table (model names are matched exactly, then ignoring case).
func LookupSource(family, model string) (Source, error) {
	var names []string
	for _, exact := range []bool{true, false} {
		for _, s := range Sources() {
			if s.Family != family {
				continue
			}
			if exact {
				names = append(names, s.Model)
			}
			if s.Model == model || (!exact && strings.EqualFold(s.Model, model)) {
				return s, nil
			}
		}
	}
	if len(names) == 0 {
		return Source{}, fmt.Errorf("weights: unknown model family %q (known: clip, resnet)", family)
	}
	return Source{}, fmt.Errorf("weights: unknown %s model %q (known: %s)", family, model, strings.Join(names, ", "))
}

// DefaultPath is where `gotta fetch` puts a model's weights file under weightsDir (pass tta.WeightsDir()).
func DefaultPath(weightsDir, family, model string) (string, error) {
	s, err := LookupSource(family, model)
	if err != nil {
		return "", err
	}
	return s.Weights().LocalPath(weightsDir), nil
}
