package report

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/gotta-ml/gotta/datasets/augment"
	"github.com/gotta-ml/gotta/datasets/imagenet"
	"github.com/gotta-ml/gotta/tta"
	"github.com/gotta-ml/gotta/tta/clip"
	"github.com/gotta-ml/gotta/tta/clip/tokenizer"
	"github.com/gotta-ml/gotta/tta/embedded"
	"github.com/gotta-ml/gotta/tta/resnet"
	"github.com/gotta-ml/gotta/tta/tpt"
)

// ErrNotAvailable marks a method or model that this build or this machine cannot provide (a package that has not
// landed, a missing weights file): the report shows the row as "not available" with the error's text.
var ErrNotAvailable = errors.New("not available")

// CLIPModel is a loaded CLIP with the tokenizer TPT's prompt learner needs.
type CLIPModel struct {
	Model     *clip.Model
	Tokenizer tpt.Tokenizer
}

// ResNetModel is a loaded classifier for MEMO and its ensembles: the model and the context holding its variables.
type ResNetModel struct {
	Ctx   *context.Context
	Model *resnet.Model
}

// Env is what the builders build on: the backend and the models, loaded once on first use.
type Env struct {
	// Backend runs every graph.
	Backend backends.Backend
	// BackendName and Device go into the records (e.g. "go", "xla:cuda", "NVIDIA H100").
	BackendName, Device string
	// ModelsID identifies the models for the record keys ("embedded", or the weight files' names and sizes).
	ModelsID string
	// Description says which models these are, for the report's header.
	Description string
	// CLIPPrompt is TPT's init prompt (and the zero-shot prompt) for these models; default "a photo of a".
	CLIPPrompt string
	// ResNetPreprocess is the ResNet's base transform (views are made from it); default resnet.Preprocessing().
	ResNetPreprocess augment.Preprocess
	// ClassSubset maps a dataset's class names to the ResNet's output indices (nil: the outputs are the dataset's
	// classes); default: ImageNet-A's 200 classes (imagenet.SubsetA) when there are 200 names, else nil.
	ClassSubset func(classes []string) ([]int, error)

	// LoadCLIP and LoadResNet load the models; nil or an error wrapping ErrNotAvailable means the rows that need
	// the model are "not available".
	LoadCLIP   func() (*CLIPModel, error)
	LoadResNet func() (*ResNetModel, error)

	mu        sync.Mutex
	clipOnce  onceValue[*CLIPModel]
	resOnce   onceValue[*ResNetModel]
	scopeSeq  int
	scopeUsed map[string]bool
}

type onceValue[T any] struct {
	done bool
	v    T
	err  error
}

func (o *onceValue[T]) get(f func() (T, error), what string) (T, error) {
	if !o.done {
		o.done = true
		if f == nil {
			o.err = fmt.Errorf("%w: no %s model is configured", ErrNotAvailable, what)
		} else {
			o.v, o.err = f()
		}
	}
	return o.v, o.err
}

// CLIP returns the CLIP model (loading it on the first call).
func (e *Env) CLIP() (*CLIPModel, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.clipOnce.get(e.LoadCLIP, "CLIP")
}

// ResNet returns the ResNet classifier (loading it on the first call).
func (e *Env) ResNet() (*ResNetModel, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.resOnce.get(e.LoadResNet, "ResNet")
}

// Scope returns a context scope not yet used by another adapter of this Env ("/report/<prefix>-<n>"), so several
// adapters can live on one model.
func (e *Env) Scope(prefix string) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.scopeSeq++
	return fmt.Sprintf("/report/%s-%d", prefix, e.scopeSeq)
}

// FileEnv is the Env of real weights: a CLIP safetensors file with its BPE vocabulary (bpe_simple_vocab_16e6.txt.gz)
// and a torchvision ResNet safetensors file. Empty paths leave the model out (its rows are "not available").
func FileEnv(b backends.Backend, clipPath, vocabPath, resnetPath string) *Env {
	e := &Env{Backend: b, BackendName: b.Name(), CLIPPrompt: "a photo of a", ResNetPreprocess: resnet.Preprocessing(),
		ClassSubset: imagenetSubset}
	var ids, desc []string
	if clipPath != "" {
		ids = append(ids, fileID(clipPath))
		desc = append(desc, "CLIP "+clipPath)
		e.LoadCLIP = func() (*CLIPModel, error) {
			m, err := clip.Load(clipPath, clip.LoadOpts{})
			if err != nil {
				return nil, err
			}
			if vocabPath == "" {
				return nil, fmt.Errorf("report: CLIP %s needs a BPE vocabulary file", clipPath)
			}
			tok, err := tokenizer.Load(vocabPath)
			if err != nil {
				return nil, err
			}
			return &CLIPModel{Model: m, Tokenizer: tok}, nil
		}
	}
	if resnetPath != "" {
		ids = append(ids, fileID(resnetPath))
		desc = append(desc, "ResNet "+resnetPath)
		e.LoadResNet = func() (*ResNetModel, error) {
			ctx := context.New()
			m, err := resnet.Load(ctx, resnetPath)
			if err != nil {
				return nil, err
			}
			return &ResNetModel{Ctx: ctx, Model: m}, nil
		}
	}
	e.ModelsID = strings.Join(ids, "+")
	e.Description = strings.Join(desc, "; ")
	return e
}

// imagenetSubset is ImageNet-A's 200 class indices for a 200-class dataset, nil (all 1000) otherwise.
func imagenetSubset(classes []string) ([]int, error) {
	switch len(classes) {
	case 200:
		return imagenet.SubsetA(), nil
	case 1000:
		return nil, nil
	}
	return nil, fmt.Errorf("report: no ResNet class subset for a dataset of %d classes", len(classes))
}

// fileID is a file's base name and size, enough to tell weight files apart in record keys.
func fileID(path string) string {
	st, err := os.Stat(path)
	if err != nil {
		return filepath.Base(path)
	}
	return fmt.Sprintf("%s:%d", filepath.Base(path), st.Size())
}

// Builder builds the adapter and view maker of one method configuration for a dataset's class names (in label
// order). Errors wrapping ErrNotAvailable mark the experiment "not available"; others mark it failed.
type Builder func(env *Env, classes []string, p Params) (tta.Adapter, tta.ViewMaker, error)

type method struct {
	keys  []string
	build Builder
	// missing says why the method is not available (the package that has not landed), when build is nil.
	missing string
}

var (
	methodsMu sync.Mutex
	methods   = map[string]*method{}
)

// RegisterMethod adds (or replaces) a method in the registry: its name, the Params keys it accepts (any other key
// is an error) and its builder. Method packages that land after this package can be registered by the command or
// a notebook.
func RegisterMethod(name string, keys []string, b Builder) {
	methodsMu.Lock()
	defer methodsMu.Unlock()
	methods[name] = &method{keys: slices.Clone(keys), build: b}
}

// declareMissing records a method this build cannot provide yet and why.
func declareMissing(name, why string) {
	methodsMu.Lock()
	defer methodsMu.Unlock()
	if _, ok := methods[name]; !ok {
		methods[name] = &method{missing: why}
	}
}

// Methods lists the registered method names that can be built, sorted.
func Methods() []string {
	methodsMu.Lock()
	defer methodsMu.Unlock()
	var out []string
	for n, m := range methods {
		if m.build != nil {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

// Build builds experiment e for classes through the registry, checking its Params keys.
func Build(env *Env, e Experiment, classes []string) (tta.Adapter, tta.ViewMaker, error) {
	methodsMu.Lock()
	m, ok := methods[e.Method]
	methodsMu.Unlock()
	if !ok {
		return nil, nil, fmt.Errorf("%w: method %q is not in this build", ErrNotAvailable, e.Method)
	}
	if m.build == nil {
		return nil, nil, fmt.Errorf("%w: %s", ErrNotAvailable, m.missing)
	}
	for k := range e.Params {
		if !slices.Contains(m.keys, k) {
			return nil, nil, fmt.Errorf("report: %s: method %s has no option %q (known: %s)", e.ID, e.Method, k,
				strings.Join(m.keys, ", "))
		}
	}
	a, vm, err := m.build(env, classes, e.Params)
	if errors.Is(err, ErrNotAvailable) {
		return nil, nil, err // the same reason for every experiment of the method
	}
	if err != nil {
		return nil, nil, fmt.Errorf("%s (%s): %w", e.ID, e.Method, err)
	}
	return a, vm, nil
}

// EmbeddedEnv is the Env of the embedded default: the CLIP and ResNet the project trains on MNIST, committed in
// tta/embedded (embedded.CLIP, embedded.ResNet), or read from $GOTTA_EMBEDDED_DIR when set (the output folder of
// `gotta train-embedded`), with the prompt "a photo of the number" and the embedded preprocessing (CLIP 32x32,
// ResNet 48x48: embedded.InputSize, embedded.ResNetInputSize).
func EmbeddedEnv(b backends.Backend) *Env {
	if d := os.Getenv("GOTTA_EMBEDDED_DIR"); d != "" {
		return EmbeddedEnvDir(b, d)
	}
	clipPath, cerr := embedded.CLIP()
	resPath, rerr := embedded.ResNet()
	return embeddedEnv(b, clipPath, resPath, cerr, rerr)
}

// EmbeddedEnvDir is EmbeddedEnv with the weight files (embedded.CLIPFile, embedded.ResNetFile) read from dir.
func EmbeddedEnvDir(b backends.Backend, dir string) *Env {
	clipPath, resPath := filepath.Join(dir, embedded.CLIPFile), filepath.Join(dir, embedded.ResNetFile)
	_, cerr := os.Stat(clipPath)
	_, rerr := os.Stat(resPath)
	return embeddedEnv(b, clipPath, resPath, cerr, rerr)
}

// embeddedEnv builds the embedded Env on two weight files; cerr / rerr say why a file is missing. Records are keyed
// by the files' contents (SHA-256), so the committed weights and a `gotta train-embedded` output that equals them
// share records.
func embeddedEnv(b backends.Backend, clipPath, resPath string, cerr, rerr error) *Env {
	e := &Env{Backend: b, BackendName: b.Name(), ModelsID: "embedded:" + contentID(clipPath) + "+" + contentID(resPath),
		CLIPPrompt: "a photo of the number", ResNetPreprocess: embedded.ResNetPreprocess(),
		Description: fmt.Sprintf("embedded CLIP (ViT on 32x32 MNIST, %s) and ResNet (%s), trained on MNIST by gotta "+
			"train-embedded", filepath.Base(clipPath), filepath.Base(resPath))}
	e.LoadCLIP = func() (*CLIPModel, error) {
		if cerr != nil {
			return nil, fmt.Errorf("%w: the embedded CLIP weights are not in this build (%v)", ErrNotAvailable, cerr)
		}
		m, err := clip.Load(clipPath, clip.LoadOpts{})
		if err != nil {
			return nil, err
		}
		tok, err := embedded.TokenizerFromFile(clipPath)
		if err != nil {
			return nil, err
		}
		return &CLIPModel{Model: m, Tokenizer: wordTokenizer{tok}}, nil
	}
	e.LoadResNet = func() (*ResNetModel, error) {
		if rerr != nil {
			return nil, fmt.Errorf("%w: the embedded ResNet weights are not in this build (%v)", ErrNotAvailable, rerr)
		}
		ctx := context.New()
		m, err := resnet.Load(ctx, resPath)
		if err != nil {
			return nil, err
		}
		return &ResNetModel{Ctx: ctx, Model: m}, nil
	}
	return e
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

// EncodeTokens implements tpt.Tokenizer: the word ids without SOT/EOT.
func (w wordTokenizer) EncodeTokens(text string) []int { return w.Tokens(text) }
