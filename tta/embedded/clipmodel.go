package embedded

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/gotta-ml/gotta/tta/clip"
	"github.com/gotta-ml/gotta/tta/weights"
)

// CLIPConfig is the embedded CLIP's architecture: a ViT image tower on 32x32 images with 8x8 patches (16 patches +
// the class token), width 64, 2 layers, 2 heads; a text tower of width 64, 2 layers, 2 heads, context 12, over the
// word vocabulary of Tokenizer (vocabSize tokens); a joint embedding of 64.
func CLIPConfig(vocabSize int) clip.Config {
	return clip.Config{Vision: clip.ViT, Naming: clip.NamingOpenAI, EmbedDim: 64, ImageResolution: InputSize,
		VisionLayers: []int{2}, VisionWidth: 64, VisionPatchSize: 8, VisionHeads: 2, ContextLength: 12,
		VocabSize: vocabSize, TextWidth: 64, TextHeads: 2, TextLayers: 2}
}

// Metadata keys of the embedded CLIP file besides clip.MetadataKeys.
const (
	// MetaVocabulary is the tokenizer's vocabulary in id order, joined by single spaces.
	MetaVocabulary = "gotta_vocabulary"
	// MetaTokenizer names the tokenizer kind: "word" (this package's Tokenizer).
	MetaTokenizer = "gotta_tokenizer"
)

// SaveCLIP writes m (a ViT CLIP, variables in m.Ctx under m.Scope) to a safetensors file with OpenAI's state-dict
// names (visual.conv1.weight, visual.transformer.resblocks.0.attn.in_proj_weight, ..., logit_scale) in torch
// layouts, and a `__metadata__` with the architecture (clip.MetadataKeys: heads and widths that the shapes alone
// would not give), the tokenizer's vocabulary (MetaVocabulary), the preprocessing and the class names, so that
// clip.Load reads it back and TokenizerFromFile rebuilds the tokenizer. extra metadata is added as is.
func SaveCLIP(path string, m *clip.Model, tok *WordTokenizer, extra map[string]string) error {
	c := m.Config
	if c.Vision != clip.ViT {
		return fmt.Errorf("embedded.SaveCLIP %s: only ViT towers are supported, got %s", path, c.Vision)
	}
	if tok.VocabSize() != c.VocabSize {
		return fmt.Errorf("embedded.SaveCLIP %s: tokenizer has %d tokens, model %d", path, tok.VocabSize(), c.VocabSize)
	}
	root := m.Ctx.InAbsPath(m.Scope)
	var out []weights.RawTensor
	var err error
	get := func(scope, name string) ([]float32, []int) {
		if err != nil {
			return nil, nil
		}
		s := root.Scope()
		if scope != "" {
			s += "/" + scope
		}
		v := m.Ctx.GetVariableByScopeAndName(s, name)
		if v == nil {
			err = fmt.Errorf("embedded.SaveCLIP %s: variable %s/%s missing", path, s, name)
			return nil, nil
		}
		t, verr := v.Value()
		if verr != nil {
			err = fmt.Errorf("embedded.SaveCLIP %s: variable %s/%s: %w", path, s, name, verr)
			return nil, nil
		}
		return tensors.MustCopyFlatData[float32](t), t.Shape().Dimensions
	}
	emit := func(name string, data []float32, shape []int) {
		out = append(out, weights.RawTensor{Name: name, DType: dtypes.Float32, Shape: shape, Float32s: data})
	}
	copyVar := func(dst, scope, name string) {
		d, s := get(scope, name)
		emit(dst, d, s)
	}
	linear := func(dst, scope string) { // [in, out] -> torch [out, in]
		d, s := get(scope, "weight")
		if d != nil {
			emit(dst+".weight", transpose(d, s[0], s[1]), []int{s[1], s[0]})
		}
		copyVar(dst+".bias", scope, "bias")
	}
	norm := func(dst, scope string) {
		copyVar(dst+".weight", scope, "weight")
		copyVar(dst+".bias", scope, "bias")
	}
	block := func(dst, scope string, w int) {
		norm(dst+".ln_1", scope+"/ln_1")
		var inW, inB []float32
		for _, p := range []string{"q", "k", "v"} {
			d, _ := get(scope+"/attn", p+"_weight")
			if d == nil {
				return
			}
			inW = append(inW, transpose(d, w, w)...)
			b, _ := get(scope+"/attn", p+"_bias")
			inB = append(inB, b...)
		}
		emit(dst+".attn.in_proj_weight", inW, []int{3 * w, w})
		emit(dst+".attn.in_proj_bias", inB, []int{3 * w})
		d, s := get(scope+"/attn", "out_weight")
		if d != nil {
			emit(dst+".attn.out_proj.weight", transpose(d, s[0], s[1]), []int{s[1], s[0]})
		}
		copyVar(dst+".attn.out_proj.bias", scope+"/attn", "out_bias")
		norm(dst+".ln_2", scope+"/ln_2")
		linear(dst+".mlp.c_fc", scope+"/mlp/c_fc")
		linear(dst+".mlp.c_proj", scope+"/mlp/c_proj")
	}
	// Image tower.
	if d, s := get("visual/conv1", "weight"); d != nil { // [kh, kw, in, out] -> [out, in, kh, kw]
		emit("visual.conv1.weight", hwioToOIHW(d, s), []int{s[3], s[2], s[0], s[1]})
	}
	copyVar("visual.class_embedding", "visual", "class_embedding")
	copyVar("visual.positional_embedding", "visual", "positional_embedding")
	norm("visual.ln_pre", "visual/ln_pre")
	for i := range c.VisionLayers[0] {
		block(fmt.Sprintf("visual.transformer.resblocks.%d", i), fmt.Sprintf("visual/transformer/resblocks/%d", i),
			c.VisionWidth)
	}
	norm("visual.ln_post", "visual/ln_post")
	copyVar("visual.proj", "visual", "proj")
	// Text tower.
	copyVar("token_embedding.weight", "token_embedding", "weight")
	copyVar("positional_embedding", "", "positional_embedding")
	for i := range c.TextLayers {
		block(fmt.Sprintf("transformer.resblocks.%d", i), fmt.Sprintf("transformer/resblocks/%d", i), c.TextWidth)
	}
	norm("ln_final", "ln_final")
	copyVar("text_projection", "", "text_projection")
	copyVar("logit_scale", "", "logit_scale")
	if err != nil {
		return err
	}
	md := CLIPMetadata(c, tok)
	for k, v := range extra {
		md[k] = v
	}
	if err := weights.WriteRaw(path, out, md); err != nil {
		return fmt.Errorf("embedded.SaveCLIP: %w", err)
	}
	return nil
}

// CLIPMetadata is the `__metadata__` SaveCLIP writes: the clip.MetadataKeys of c, the vocabulary, the
// preprocessing (image_size, image_mean, image_std, resize) and the class names.
func CLIPMetadata(c clip.Config, tok *WordTokenizer) map[string]string {
	return map[string]string{
		"vision": c.Vision, "embed_dim": strconv.Itoa(c.EmbedDim), "image_resolution": strconv.Itoa(c.ImageResolution),
		"vision_layers": strconv.Itoa(c.VisionLayers[0]), "vision_width": strconv.Itoa(c.VisionWidth),
		"vision_patch_size": strconv.Itoa(c.VisionPatchSize), "vision_heads": strconv.Itoa(c.VisionHeads),
		"context_length": strconv.Itoa(c.ContextLength), "vocab_size": strconv.Itoa(c.VocabSize),
		"text_width": strconv.Itoa(c.TextWidth), "text_heads": strconv.Itoa(c.TextHeads),
		"text_layers": strconv.Itoa(c.TextLayers),
		MetaTokenizer: "word", MetaVocabulary: strings.Join(tok.Vocabulary(), " "),
		"image_mean": floats(CLIPMean), "image_std": floats(CLIPStd), "resize": "bicubic",
		"class_names": strings.Join(ClassNames(), ","), "default_template": DefaultTemplate,
	}
}

// TokenizerFromFile rebuilds the word tokenizer from a weights file written by SaveCLIP (MetaVocabulary).
func TokenizerFromFile(path string) (*WordTokenizer, error) {
	f, err := weights.Open(path)
	if err != nil {
		return nil, fmt.Errorf("embedded.TokenizerFromFile: %w", err)
	}
	defer func() { _ = f.Close() }()
	v, ok := f.Metadata()[MetaVocabulary]
	if !ok {
		return nil, fmt.Errorf("embedded.TokenizerFromFile %s: no %q in __metadata__", path, MetaVocabulary)
	}
	t, err := TokenizerFromVocabulary(strings.Split(v, " "))
	if err != nil {
		return nil, fmt.Errorf("embedded.TokenizerFromFile %s: %w", path, err)
	}
	return t, nil
}

func floats(v [3]float32) string {
	s := make([]string, 3)
	for i, x := range v {
		s[i] = strconv.FormatFloat(float64(x), 'g', -1, 32)
	}
	return strings.Join(s, ",")
}

// transpose transposes a row-major [rows, cols] matrix.
func transpose(src []float32, rows, cols int) []float32 {
	dst := make([]float32, len(src))
	for r := range rows {
		for c := range cols {
			dst[c*rows+r] = src[r*cols+c]
		}
	}
	return dst
}

// hwioToOIHW turns a GoMLX kernel [kh, kw, in, out] into torch's [out, in, kh, kw].
func hwioToOIHW(src []float32, s []int) []float32 {
	kh, kw, in, out := s[0], s[1], s[2], s[3]
	dst := make([]float32, len(src))
	for y := range kh {
		for x := range kw {
			for i := range in {
				for o := range out {
					dst[((o*in+i)*kh+y)*kw+x] = src[((y*kw+x)*in+i)*out+o]
				}
			}
		}
	}
	return dst
}

// newCLIPContext returns a fresh context holding a randomly initialised, trainable embedded CLIP for tok's
// vocabulary, with CLIP's initial temperature: logit_scale = ln(1/0.07).
func newCLIP(tok *WordTokenizer, seed int64) (*clip.Model, error) {
	ctx := context.New()
	m, err := clip.NewRandom(ctx, CLIPConfig(tok.VocabSize()), seed, clip.LoadOpts{Trainable: true})
	if err != nil {
		return nil, fmt.Errorf("embedded: new CLIP: %w", err)
	}
	v := ctx.GetVariableByScopeAndName(m.Scope, "logit_scale")
	if v == nil {
		return nil, fmt.Errorf("embedded: new CLIP: no logit_scale variable")
	}
	if err := v.SetValue(tensors.FromScalar(float32(initLogitScale))); err != nil {
		return nil, fmt.Errorf("embedded: new CLIP: %w", err)
	}
	return m, nil
}
