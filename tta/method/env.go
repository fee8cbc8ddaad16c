package method

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/gotta-ml/gotta/datasets/augment"
	"github.com/gotta-ml/gotta/datasets/imagenet"
	"github.com/gotta-ml/gotta/tta/clip"
	"github.com/gotta-ml/gotta/tta/clip/tokenizer"
	"github.com/gotta-ml/gotta/tta/embedded"
	"github.com/gotta-ml/gotta/tta/resnet"
)

// EmbeddedPrompt is the embedded CLIP's prompt: its vocabulary holds only the words of its MNIST captions.
const EmbeddedPrompt = "a photo of the number"

// EnvEmbeddedDir names the environment variable EmbeddedEnv reads: a folder with the embedded models' weight files
// (the output of `gotta train-embedded`) to use instead of the committed ones.
const EnvEmbeddedDir = "GOTTA_EMBEDDED_DIR"

// Models says which models an Env loads.
type Models struct {
	// CLIP is a CLIP safetensors file (OpenAI or Hugging Face names); "" means the embedded CLIP when Embedded, else
	// no CLIP (methods that need one are not available).
	CLIP string
	// Vocab is the CLIP's BPE vocabulary (bpe_simple_vocab_16e6.txt.gz); required with a CLIP file.
	Vocab string
	// CLIPArch, when set, is the architecture the user named for CLIP (--model clip:ARCH=FILE, e.g. "RN50"); loading
	// a file that holds another one is an error.
	CLIPArch string
	// ResNetArchs, when set, are the architectures named for ResNets (e.g. "resnet50"), in ResNets' order ("" for
	// none named).
	ResNetArchs []string
	// ResNets are torchvision ResNet safetensors files, in order (ResNet(i) loads the i-th); none means the embedded
	// ResNet when Embedded, else no ResNet.
	ResNets []string
	// Embedded says that the models without a file are the embedded default's (tta/embedded: the MNIST CLIP and
	// ResNet), with their own tokenizer, prompt and preprocessing.
	Embedded bool
	// EmbeddedDir holds the embedded models' weight files (embedded.CLIPFile, embedded.ResNetFile); "" means the
	// files committed in tta/embedded.
	EmbeddedDir string
	// DType is the models' compute dtype, the CLIP's and the ResNets' (resnet.Model.DType): Float32 (the zero value
	// InvalidDType means Float32) or BFloat16.
	DType dtypes.DType
	// Classes1k maps a dataset's classes to a ResNet's outputs: "auto" (the zero value "" too: all outputs when the
	// counts match, else ImageNet-A's or -R's 200 classes found by name), "a", "r" or "all".
	Classes1k string
	// ResNetPreprocess is the ResNets' base transform (views are made from it); the zero value means the model's
	// own: the embedded 36x36 one, else torchvision's ImageNet transform (resnet.Preprocessing).
	ResNetPreprocess augment.Preprocess
}

// CLIPModel is a loaded CLIP with its tokenizer.
type CLIPModel struct {
	Model     *clip.Model
	Tokenizer Tokenizer
	// Embedded says that this is the embedded MNIST CLIP (its prompt is EmbeddedPrompt).
	Embedded bool
}

// Tokenizer is what the CLIP methods need of a tokenizer: token ids without SOT/EOT (TPT's prompt learner) and
// padded prompts (CLIP's zero-shot head). OpenAI's BPE (tokenizer.Tokenizer) and the embedded word tokenizer are one.
type Tokenizer interface {
	// EncodeTokens returns the ids of text without SOT, EOT or padding.
	EncodeTokens(text string) []int
	// SOT and EOT are the start and end token ids.
	SOT() int
	EOT() int
	clip.Tokenizer
}

// ResNetModel is a loaded classifier: the model and the context holding its variables.
type ResNetModel struct {
	Ctx   *context.Context
	Model *resnet.Model
}

// Env is the one model environment of the command line, the report and the notebooks: the backend and the models,
// each loaded once on first use. It is safe for concurrent use. Make it with NewEnv, EmbeddedEnv or FileEnv.
type Env struct {
	// Backend runs every graph.
	Backend backends.Backend
	// BackendName and Device go into the records (e.g. "go", "xla:cuda", "NVIDIA H100").
	BackendName, Device string
	// ModelsID identifies the models for record keys ("embedded:...", or the weight files' names and sizes).
	ModelsID string
	// Description says which models these are, for the report's header.
	Description string
	// Models say which models load.
	Models Models

	mu       sync.Mutex
	clip     *CLIPModel
	clipErr  error
	clipDone bool
	resnets  map[int]*ResNetModel
	scopeSeq int
}

// NewEnv returns the environment of models m on backend b (nil for an Env that only names models, e.g. for Load).
func NewEnv(b backends.Backend, m Models) *Env {
	e := &Env{Backend: b, Models: m, resnets: map[int]*ResNetModel{}}
	if b != nil {
		e.BackendName, e.Device = b.Name(), b.Description()
	}
	var ids, desc []string
	clipPath, resPath := e.embeddedFiles()
	switch {
	case m.CLIP != "":
		ids = append(ids, fileID(m.CLIP))
		desc = append(desc, "CLIP "+m.CLIP)
	case m.Embedded && len(m.ResNets) == 0:
		// Both embedded: keyed by the files' contents, so the committed weights and a `gotta train-embedded`
		// output equal to them share records.
		ids = append(ids, "embedded:"+contentID(clipPath)+"+"+contentID(resPath))
		desc = append(desc, fmt.Sprintf("embedded CLIP (ViT on 32x32 MNIST, %s) and ResNet (%s), trained on MNIST "+
			"by gotta train-embedded", filepath.Base(clipPath), filepath.Base(resPath)))
	case m.Embedded:
		ids = append(ids, "embedded-clip:"+contentID(clipPath))
		desc = append(desc, "embedded CLIP ("+filepath.Base(clipPath)+")")
	}
	for _, r := range m.ResNets {
		ids = append(ids, fileID(r))
		desc = append(desc, "ResNet "+r)
	}
	if m.Embedded && len(m.ResNets) == 0 && m.CLIP != "" {
		ids = append(ids, "embedded-resnet:"+contentID(resPath))
		desc = append(desc, "embedded ResNet ("+filepath.Base(resPath)+")")
	}
	e.ModelsID = strings.Join(ids, "+")
	e.Description = strings.Join(desc, "; ")
	return e
}

// Copy returns an Env of the same backend and models with none loaded yet: a parallel worker's environment (each
// loads its own copy of the models it uses, so adapters of different copies may adapt their weights at once).
func (e *Env) Copy() *Env {
	c := NewEnv(e.Backend, e.Models)
	c.BackendName, c.Device, c.ModelsID, c.Description = e.BackendName, e.Device, e.ModelsID, e.Description
	return c
}

// EmbeddedEnv is the Env of the embedded default: the CLIP and ResNet the project trains on MNIST, committed in
// tta/embedded, or read from $GOTTA_EMBEDDED_DIR when set (EnvEmbeddedDir), with the prompt EmbeddedPrompt and the
// embedded preprocessing (CLIP 32x32, ResNet 36x36).
func EmbeddedEnv(b backends.Backend) *Env {
	return NewEnv(b, Models{Embedded: true, EmbeddedDir: os.Getenv(EnvEmbeddedDir)})
}

// EmbeddedEnvDir is EmbeddedEnv with the weight files (embedded.CLIPFile, embedded.ResNetFile) read from dir.
func EmbeddedEnvDir(b backends.Backend, dir string) *Env {
	return NewEnv(b, Models{Embedded: true, EmbeddedDir: dir})
}

// FileEnv is the Env of real weights: a CLIP safetensors file with its BPE vocabulary and torchvision ResNet
// safetensors files. Empty paths leave the model out (its rows are "not available").
func FileEnv(b backends.Backend, clipPath, vocabPath string, resnetPaths ...string) *Env {
	var rs []string
	for _, r := range resnetPaths {
		if r != "" {
			rs = append(rs, r)
		}
	}
	return NewEnv(b, Models{CLIP: clipPath, Vocab: vocabPath, ResNets: rs})
}

// embeddedFiles are the embedded models' weight files ("" when this build lacks them).
func (e *Env) embeddedFiles() (clipPath, resPath string) {
	if !e.Models.Embedded {
		return "", ""
	}
	if d := e.Models.EmbeddedDir; d != "" {
		return filepath.Join(d, embedded.CLIPFile), filepath.Join(d, embedded.ResNetFile)
	}
	clipPath, _ = embedded.CLIP()
	resPath, _ = embedded.ResNet()
	return clipPath, resPath
}

// UsesEmbeddedCLIP says whether CLIP() gives the embedded MNIST CLIP.
func (e *Env) UsesEmbeddedCLIP() bool { return e.Models.Embedded && e.Models.CLIP == "" }

// UsesEmbeddedResNet says whether ResNet() gives the embedded MNIST ResNet.
func (e *Env) UsesEmbeddedResNet() bool { return e.Models.Embedded && len(e.Models.ResNets) == 0 }

// Prompt returns a CLIP method's prompt: EmbeddedPrompt when the CLIP is the embedded one and value is the method's
// default (methodDefault, an OpenAI-vocabulary prompt the embedded tokenizer cannot encode), else value.
func (e *Env) Prompt(value, methodDefault string) string {
	if value == methodDefault && e.UsesEmbeddedCLIP() {
		return EmbeddedPrompt
	}
	return value
}

// CLIP returns the CLIP model and its tokenizer, loading them on the first call. Without a CLIP it returns an error
// wrapping ErrNotAvailable.
func (e *Env) CLIP() (*CLIPModel, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.clipDone {
		e.clipDone = true
		e.clip, e.clipErr = e.loadCLIP()
	}
	return e.clip, e.clipErr
}

func (e *Env) loadCLIP() (*CLIPModel, error) {
	opts := clip.LoadOpts{DType: e.Models.DType}
	if opts.DType == dtypes.InvalidDType {
		opts.DType = dtypes.Float32
	}
	if e.UsesEmbeddedCLIP() {
		p, _ := e.embeddedFiles()
		if _, err := os.Stat(p); p == "" || err != nil {
			return nil, fmt.Errorf("%w: the embedded CLIP weights are not in this build (%s)", ErrNotAvailable, p)
		}
		m, err := clip.Load(p, opts)
		if err != nil {
			return nil, fmt.Errorf("the embedded CLIP: %w", err)
		}
		tok, err := embedded.TokenizerFromFile(p)
		if err != nil {
			return nil, fmt.Errorf("the embedded CLIP: %w", err)
		}
		return &CLIPModel{Model: m, Tokenizer: wordTokenizer{tok}, Embedded: true}, nil
	}
	if e.Models.CLIP == "" {
		return nil, fmt.Errorf("%w: no CLIP model is configured (--model clip[:ARCH]=FILE)", ErrNotAvailable)
	}
	if e.Models.Vocab == "" {
		return nil, fmt.Errorf("CLIP %s needs its BPE vocabulary (--vocab bpe_simple_vocab_16e6.txt.gz)",
			e.Models.CLIP)
	}
	m, err := clip.Load(e.Models.CLIP, opts)
	if err != nil {
		return nil, err
	}
	if err := checkArch("clip", e.Models.CLIPArch, CLIPArch(m.Config), e.Models.CLIP); err != nil {
		return nil, err
	}
	tok, err := tokenizer.Load(e.Models.Vocab)
	if err != nil {
		return nil, err
	}
	return &CLIPModel{Model: m, Tokenizer: tok}, nil
}

// ResNet returns the i-th ResNet (0-based; Models.ResNets[i]), loading it into its own context on the first call
// for i. With the embedded ResNet every i is its own copy of the embedded weights (an ensemble of two embedded
// members adapts two models). Without a ResNet it returns an error wrapping ErrNotAvailable.
func (e *Env) ResNet(i int) (*ResNetModel, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if r, ok := e.resnets[i]; ok {
		return r, nil
	}
	var path string
	switch {
	case e.UsesEmbeddedResNet():
		_, path = e.embeddedFiles()
		if _, err := os.Stat(path); path == "" || err != nil {
			return nil, fmt.Errorf("%w: the embedded ResNet weights are not in this build (%s)", ErrNotAvailable, path)
		}
	case len(e.Models.ResNets) == 0:
		return nil, fmt.Errorf("%w: no ResNet model is configured (--model resnet[:ARCH]=FILE)", ErrNotAvailable)
	case i < 0 || i >= len(e.Models.ResNets):
		return nil, fmt.Errorf("ResNet %d asked for, %d given (--model resnet[:ARCH]=FILE, in order)", i,
			len(e.Models.ResNets))
	default:
		path = e.Models.ResNets[i]
	}
	ctx := context.New()
	m, err := resnet.Load(ctx, path)
	if err != nil {
		return nil, err
	}
	m.DType = e.Models.DType
	if i >= 0 && i < len(e.Models.ResNetArchs) && !e.UsesEmbeddedResNet() {
		if err := checkArch("resnet", e.Models.ResNetArchs[i], ResNetArch(m.Config), path); err != nil {
			return nil, err
		}
	}
	r := &ResNetModel{Ctx: ctx, Model: m}
	if e.resnets == nil {
		e.resnets = map[int]*ResNetModel{}
	}
	e.resnets[i] = r
	return r, nil
}

// ResNetPreprocess is the ResNets' base transform: Models.ResNetPreprocess, else the embedded ResNet's (36x36) or
// torchvision's ImageNet one.
func (e *Env) ResNetPreprocess() augment.Preprocess {
	switch {
	case e.Models.ResNetPreprocess.Size != 0:
		return e.Models.ResNetPreprocess
	case e.UsesEmbeddedResNet():
		return embedded.ResNetPreprocess()
	}
	return resnet.Preprocessing()
}

// ClassSubset maps a dataset's classes (names, in label order) to a ResNet's outputs (numOutputs of them) by
// Models.Classes1k: nil when they are all of them in order; ImageNet-A's or -R's 200 classes when the names are
// theirs.
func (e *Env) ClassSubset(classes []string, numOutputs int) ([]int, error) {
	names := func(idx []int) []string {
		out := make([]string, len(idx))
		for i, c := range idx {
			out[i] = imagenet.ClassName(c)
		}
		return out
	}
	switch e.Models.Classes1k {
	case "all":
		return nil, nil
	case "a":
		return imagenet.SubsetA(), nil
	case "r":
		return imagenet.SubsetR(), nil
	case "auto", "":
	default:
		return nil, fmt.Errorf("classes-1k %q: want auto, a, r or all", e.Models.Classes1k)
	}
	if len(classes) == 0 || len(classes) == numOutputs {
		return nil, nil
	}
	if numOutputs == imagenet.NumClasses {
		for _, idx := range [][]int{imagenet.SubsetA(), imagenet.SubsetR()} {
			if slices.Equal(names(idx), classes) {
				return idx, nil
			}
		}
	}
	return nil, fmt.Errorf("the dataset has %d classes (%s, ...) and the model %d outputs: give --classes-1k a, r or all",
		len(classes), strings.Join(classes[:min(3, len(classes))], ", "), numOutputs)
}

// Scope returns a context scope not yet used by another adapter of this Env ("/method/<prefix>-<n>"), so several
// adapters can live on one model.
func (e *Env) Scope(prefix string) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.scopeSeq++
	return fmt.Sprintf("/method/%s-%d", prefix, e.scopeSeq)
}

// fileID is a file's base name and size, enough to tell weight files apart in record keys.
func fileID(path string) string {
	st, err := os.Stat(path)
	if err != nil {
		return filepath.Base(path)
	}
	return fmt.Sprintf("%s:%d", filepath.Base(path), st.Size())
}

// contentID identifies a weights file by its tensors: the first 12 hex digits of the SHA-256 of its safetensors
// header without "__metadata__" (names, dtypes, shapes, offsets) and of its data, so that a retrained file with
// identical tensors but other metadata (times, notes) keeps its records. Files that are not safetensors are hashed
// whole. "missing" when the file cannot be read.
func contentID(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return "missing"
	}
	h := sha256.New()
	if n := safetensorsHeaderLen(data); n > 0 {
		var header map[string]json.RawMessage
		if json.Unmarshal(data[8:8+n], &header) == nil {
			delete(header, "__metadata__")
			canon, _ := json.Marshal(header) // map keys sorted
			h.Write(canon)
			h.Write(data[8+n:])
			return hex.EncodeToString(h.Sum(nil))[:12]
		}
	}
	h.Write(data)
	return hex.EncodeToString(h.Sum(nil))[:12]
}

// safetensorsHeaderLen is the header length of a safetensors file's bytes, 0 when they are not one.
func safetensorsHeaderLen(data []byte) int {
	if len(data) < 8 {
		return 0
	}
	n := binary.LittleEndian.Uint64(data[:8])
	if n == 0 || n > uint64(len(data)-8) || data[8] != '{' {
		return 0
	}
	return int(n)
}

// wordTokenizer gives the embedded word tokenizer the method TPT's prompt learner uses.
type wordTokenizer struct{ *embedded.WordTokenizer }

// EncodeTokens implements Tokenizer: the word ids without SOT/EOT.
func (w wordTokenizer) EncodeTokens(text string) []int { return w.Tokens(text) }
