package clip

import (
	"fmt"
	"math"
	"strings"
	"sync"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes/bfloat16"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
)

// Tokenizer is what the zero-shot head needs from CLIP's tokenizer; tta/clip/tokenizer's *Tokenizer satisfies it.
type Tokenizer interface {
	// Encode returns exactly contextLen ids: SOT, the BPE tokens, EOT, zeros; too long a text is an error unless
	// truncate (then the last kept id is EOT).
	Encode(text string, contextLen int, truncate bool) ([]int, error)
}

// ZeroShot is CLIP's zero-shot classification head: class text features from prompt templates (cached) and
// logits exp(logit_scale) * norm(image) @ text^T. Its methods are safe for concurrent use (they serialise).
type ZeroShot struct {
	// Model is the CLIP model.
	Model *Model
	// Tokenizer encodes prompts.
	Tokenizer Tokenizer
	// Backend runs the text encoder.
	Backend backends.Backend
	// BatchSize is the number of prompts per text-encoder call; default 256 (the last batch is padded, so one
	// executable serves every call of a given context cut).
	BatchSize int

	mu    sync.Mutex
	cache map[string][][]float32
	text  *context.Exec
	image *context.Exec
}

// NewZeroShot returns a zero-shot head over m, encoding prompts with tok on backend b.
func NewZeroShot(b backends.Backend, m *Model, tok Tokenizer) *ZeroShot {
	return &ZeroShot{Model: m, Tokenizer: tok, Backend: b, BatchSize: 256, cache: map[string][][]float32{}}
}

// Prompt fills a CLIP template: "{}" is replaced by the class name ("a photo of a {}." -> "a photo of a dog.").
func Prompt(template, className string) string {
	return strings.ReplaceAll(template, "{}", className)
}

// TextFeatures returns L2-normalised text features [len(classNames)][EmbedDim], one row per class. With several
// templates, each class's feature is the mean of its normalised per-template features, renormalised (CLIP's
// ImageNet zero-shot notebook). Results are cached per (class list, templates). Templates contain "{}".
func (z *ZeroShot) TextFeatures(classNames, templates []string) ([][]float32, error) {
	if len(classNames) == 0 || len(templates) == 0 {
		return nil, fmt.Errorf("clip.TextFeatures: need at least one class and one template (got %d, %d)",
			len(classNames), len(templates))
	}
	for _, t := range templates {
		if !strings.Contains(t, "{}") {
			return nil, fmt.Errorf("clip.TextFeatures: template %q has no {} placeholder", t)
		}
	}
	key := strings.Join(classNames, "\x00") + "\x01" + strings.Join(templates, "\x00")
	z.mu.Lock()
	defer z.mu.Unlock()
	if z.cache == nil {
		z.cache = map[string][][]float32{}
	}
	if f, ok := z.cache[key]; ok {
		return f, nil
	}
	cfg := z.Model.Config
	ids := make([][]int, 0, len(classNames)*len(templates))
	for _, c := range classNames {
		for _, t := range templates {
			p := Prompt(t, c)
			tok, err := z.Tokenizer.Encode(p, cfg.ContextLength, true)
			if err != nil {
				return nil, fmt.Errorf("clip.TextFeatures: prompt %q: %w", p, err)
			}
			ids = append(ids, tok)
		}
	}
	feats, err := z.encodeTokenIDs(ids)
	if err != nil {
		return nil, err
	}
	out := make([][]float32, len(classNames))
	for i := range classNames {
		mean := make([]float64, cfg.EmbedDim)
		for j := range templates {
			f := feats[i*len(templates)+j]
			n := norm(f)
			for k, v := range f {
				mean[k] += float64(v) / n
			}
		}
		row := make([]float32, cfg.EmbedDim)
		n := 0.0
		for _, v := range mean {
			n += v * v
		}
		n = math.Sqrt(n)
		for k, v := range mean {
			row[k] = float32(v / n)
		}
		out[i] = row
	}
	z.cache[key] = out
	return out, nil
}

func norm(f []float32) float64 {
	s := 0.0
	for _, v := range f {
		s += float64(v) * float64(v)
	}
	return math.Sqrt(s)
}

// EncodeTokenIDs runs the text encoder over token id rows (each ContextLength long, EOT = the largest id) and
// returns the unnormalised features [len(ids)][EmbedDim]. The context is cut to the longest prompt (exact under
// the causal mask) and the prompts run in batches of BatchSize.
func (z *ZeroShot) EncodeTokenIDs(ids [][]int) ([][]float32, error) {
	z.mu.Lock()
	defer z.mu.Unlock()
	return z.encodeTokenIDs(ids)
}

// encodeTokenIDs is EncodeTokenIDs with z.mu held.
func (z *ZeroShot) encodeTokenIDs(ids [][]int) ([][]float32, error) {
	cfg := z.Model.Config
	l := 1
	for i, row := range ids {
		if len(row) != cfg.ContextLength {
			return nil, fmt.Errorf("clip.EncodeTokenIDs: row %d has %d ids, want %d", i, len(row), cfg.ContextLength)
		}
		eot := argmax(row)
		if eot+1 > l {
			l = eot + 1
		}
		for _, v := range row {
			if v < 0 || v >= cfg.VocabSize {
				return nil, fmt.Errorf("clip.EncodeTokenIDs: row %d has id %d outside the vocabulary [0, %d)", i, v, cfg.VocabSize)
			}
		}
	}
	if z.text == nil {
		exec, err := context.NewExec(z.Backend, z.Model.Ctx, func(ctx *context.Context, tokens *Node) *Node {
			return z.Model.EncodeText(ctx, tokens)
		})
		if err != nil {
			return nil, fmt.Errorf("clip.EncodeTokenIDs: %w", err)
		}
		z.text = exec
	}
	bs := z.BatchSize
	if bs <= 0 {
		bs = 256
	}
	if bs > len(ids) {
		bs = len(ids)
	}
	out := make([][]float32, 0, len(ids))
	for start := 0; start < len(ids); start += bs {
		flat := make([]int32, bs*l)
		for r := 0; r < bs; r++ {
			src := ids[min(start+r, len(ids)-1)] // pad the last batch with copies of the last row
			for k := 0; k < l; k++ {
				flat[r*l+k] = int32(src[k])
			}
		}
		res, err := z.text.Exec(tensors.FromFlatDataAndDimensions(flat, bs, l))
		if err != nil {
			return nil, fmt.Errorf("clip.EncodeTokenIDs: %w", err)
		}
		data := tensors.MustCopyFlatData[float32](res[0])
		for r := 0; r < bs && start+r < len(ids); r++ {
			out = append(out, data[r*cfg.EmbedDim:(r+1)*cfg.EmbedDim])
		}
	}
	return out, nil
}

// ImageFeatures runs the image encoder over a preprocessed batch images [N, R, R, 3] (float32, NHWC) in batches
// of BatchSize (the last one padded, so one executable serves every batch) and returns the unnormalised features
// [N][EmbedDim].
func (z *ZeroShot) ImageFeatures(images *tensors.Tensor) ([][]float32, error) {
	cfg := z.Model.Config
	r := cfg.ImageResolution
	dims := images.Shape().Dimensions
	if len(dims) != 4 || dims[1] != r || dims[2] != r || dims[3] != 3 || images.DType() != f32 {
		return nil, fmt.Errorf("clip.ImageFeatures: images must be float32 [N, %d, %d, 3], got %s", r, r, images.Shape())
	}
	n := dims[0]
	data := tensors.MustCopyFlatData[float32](images)
	z.mu.Lock()
	defer z.mu.Unlock()
	if z.image == nil {
		exec, err := context.NewExec(z.Backend, z.Model.Ctx, func(ctx *context.Context, x *Node) *Node {
			return z.Model.EncodeImage(ctx, x)
		})
		if err != nil {
			return nil, fmt.Errorf("clip.ImageFeatures: %w", err)
		}
		z.image = exec
	}
	bs := z.BatchSize
	if bs <= 0 {
		bs = 256
	}
	bs = min(bs, n)
	per := r * r * 3
	out := make([][]float32, 0, n)
	for start := 0; start < n; start += bs {
		batch := make([]float32, bs*per)
		for i := 0; i < bs; i++ {
			src := min(start+i, n-1)
			copy(batch[i*per:(i+1)*per], data[src*per:(src+1)*per])
		}
		res, err := z.image.Exec(tensors.FromFlatDataAndDimensions(batch, bs, r, r, 3))
		if err != nil {
			return nil, fmt.Errorf("clip.ImageFeatures: %w", err)
		}
		f := tensors.MustCopyFlatData[float32](res[0])
		for i := 0; i < bs && start+i < n; i++ {
			out = append(out, f[i*cfg.EmbedDim:(i+1)*cfg.EmbedDim])
		}
	}
	return out, nil
}

func argmax(row []int) int {
	best := 0
	for i, v := range row {
		if v > row[best] {
			best = i
		}
	}
	return best
}

// LogitsHost is Model.Logits on the host: exp(logitScale) * norm(image) @ text^T: imageFeatures [N][E]
// (unnormalised), textFeatures [T][E] (normalised, from TextFeatures), logitScale the model's logit_scale (not
// exponentiated) -> [N][T].
func LogitsHost(imageFeatures, textFeatures [][]float32, logitScale float32) [][]float32 {
	scale := math.Exp(float64(logitScale))
	out := make([][]float32, len(imageFeatures))
	for i, f := range imageFeatures {
		n := norm(f)
		out[i] = make([]float32, len(textFeatures))
		for j, t := range textFeatures {
			s := 0.0
			for k := range f {
				s += float64(f[k]) * float64(t[k])
			}
			out[i][j] = float32(scale * s / n)
		}
	}
	return out
}

// LogitScaleValue returns the model's logit_scale variable (before exp) from its context.
func (m *Model) LogitScaleValue() (float32, error) {
	v := m.Ctx.GetVariableByScopeAndName(m.Scope, "logit_scale")
	if v == nil {
		return 0, fmt.Errorf("clip: logit_scale missing from %s", m.Scope)
	}
	t, err := v.Value()
	if err != nil {
		return 0, err
	}
	switch x := t.Value().(type) {
	case float32:
		return x, nil
	case bfloat16.BFloat16:
		return x.Float32(), nil
	}
	return 0, fmt.Errorf("clip: logit_scale has dtype %s", t.DType())
}
