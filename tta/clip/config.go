package clip

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/gotta-ml/gotta/tta/weights"
)

// Tower kinds of CLIP's image encoder.
const (
	// ResNet is OpenAI's ModifiedResNet image tower (RN50, RN101, RN50x4, RN50x16, RN50x64).
	ResNet = "RN"
	// ViT is OpenAI's VisionTransformer image tower (ViT-B/32, ViT-B/16, ViT-L/14, ViT-L/14@336px).
	ViT = "ViT"
)

// Naming conventions of weight files.
const (
	// NamingOpenAI is OpenAI's / open_clip's state-dict naming (visual.conv1.weight, transformer.resblocks.0...).
	NamingOpenAI = "openai"
	// NamingHF is Hugging Face transformers' CLIPModel naming (vision_model.embeddings..., text_model.encoder...).
	NamingHF = "hf"
)

// Config is the architecture of a CLIP model. It is derived from tensor shapes exactly as OpenAI's
// `clip/model.py:build_model` does, then any field present in the file's `__metadata__` overrides it (see
// MetadataKeys).
type Config struct {
	// Vision is the image tower kind: ResNet or ViT (ViT when the file has `visual.proj`, as build_model decides).
	Vision string
	// Naming is the weight naming convention of the file: NamingOpenAI or NamingHF.
	Naming string
	// EmbedDim is the joint embedding width E (text_projection's output).
	EmbedDim int
	// ImageResolution is the square input size R in pixels.
	ImageResolution int
	// VisionLayers: for ResNet the 4 stage block counts (e.g. 3,4,6,3), for ViT one entry, the block count.
	VisionLayers []int
	// VisionWidth: ResNet stem width (64 for RN50) or ViT width (768 for ViT-B).
	VisionWidth int
	// VisionPatchSize is the ViT patch size (0 for ResNet).
	VisionPatchSize int
	// VisionHeads: attention heads of the attnpool (ResNet: width*32/64) or of the ViT (width/64).
	VisionHeads int
	// ContextLength is the number of text positions (77).
	ContextLength int
	// VocabSize is the token vocabulary size (49408).
	VocabSize int
	// TextWidth, TextHeads, TextLayers describe the text transformer (heads default width/64).
	TextWidth, TextHeads, TextLayers int
}

// MetadataKeys are the `__metadata__` keys that override derived Config fields; values are decimal integers, and
// vision_layers is a comma-separated list ("3,4,6,3" or "12"). Values may also be written as JSON ("[3, 4, 6, 3]",
// "\"RN\"", "12.0"; see weights.MetadataInt), and "null" means the field does not apply: the derived value stays.
// Other metadata keys are ignored.
//
//	vision (RN|ViT), embed_dim, image_resolution, vision_layers, vision_width, vision_patch_size, vision_heads,
//	context_length, vocab_size, text_width, text_heads, text_layers
//
// (transformer_width, transformer_heads, transformer_layers are accepted as aliases of the text_* keys, as
// OpenAI's build_model names them.)
var MetadataKeys = []string{"vision", "embed_dim", "image_resolution", "vision_layers", "vision_width",
	"vision_patch_size", "vision_heads", "context_length", "vocab_size", "text_width", "text_heads", "text_layers"}

// String describes the config in one line.
func (c Config) String() string {
	layers := make([]string, len(c.VisionLayers))
	for i, l := range c.VisionLayers {
		layers[i] = strconv.Itoa(l)
	}
	v := fmt.Sprintf("%s layers=%s width=%d heads=%d", c.Vision, strings.Join(layers, ","), c.VisionWidth, c.VisionHeads)
	if c.Vision == ViT {
		v += fmt.Sprintf(" patch=%d", c.VisionPatchSize)
	}
	return fmt.Sprintf("CLIP[%s] %s res=%d embed=%d text(ctx=%d vocab=%d width=%d heads=%d layers=%d)", c.Naming, v,
		c.ImageResolution, c.EmbedDim, c.ContextLength, c.VocabSize, c.TextWidth, c.TextHeads, c.TextLayers)
}

// ImageFeatureWidth is the width of the tower's last stage before the projection: the attnpool width
// (VisionWidth*32) for ResNet, VisionWidth for ViT.
func (c Config) ImageFeatureWidth() int {
	if c.Vision == ResNet {
		return c.VisionWidth * 32
	}
	return c.VisionWidth
}

// Validate checks that the config is consistent (positive sizes, divisible heads, ResNet resolution a multiple of
// 32, ViT resolution a multiple of the patch).
func (c Config) Validate() error {
	pos := map[string]int{"embed_dim": c.EmbedDim, "image_resolution": c.ImageResolution, "vision_width": c.VisionWidth,
		"vision_heads": c.VisionHeads, "context_length": c.ContextLength, "vocab_size": c.VocabSize,
		"text_width": c.TextWidth, "text_heads": c.TextHeads, "text_layers": c.TextLayers}
	keys := make([]string, 0, len(pos))
	for k := range pos {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if pos[k] <= 0 {
			return fmt.Errorf("clip config: %s = %d must be positive (set it in the file's __metadata__ if the default "+
				"width/64 rule gives 0)", k, pos[k])
		}
	}
	if c.TextWidth%c.TextHeads != 0 {
		return fmt.Errorf("clip config: text_width %d not divisible by text_heads %d", c.TextWidth, c.TextHeads)
	}
	if c.ImageFeatureWidth()%c.VisionHeads != 0 {
		return fmt.Errorf("clip config: vision width %d not divisible by vision_heads %d", c.ImageFeatureWidth(), c.VisionHeads)
	}
	switch c.Vision {
	case ResNet:
		if len(c.VisionLayers) != 4 {
			return fmt.Errorf("clip config: ResNet needs 4 vision_layers, got %v", c.VisionLayers)
		}
		if c.ImageResolution%32 != 0 {
			return fmt.Errorf("clip config: ResNet image_resolution %d is not a multiple of 32", c.ImageResolution)
		}
	case ViT:
		if len(c.VisionLayers) != 1 {
			return fmt.Errorf("clip config: ViT needs 1 vision_layers entry, got %v", c.VisionLayers)
		}
		if c.VisionPatchSize <= 0 || c.ImageResolution%c.VisionPatchSize != 0 {
			return fmt.Errorf("clip config: ViT image_resolution %d is not a multiple of patch %d", c.ImageResolution,
				c.VisionPatchSize)
		}
	default:
		return fmt.Errorf("clip config: vision %q is neither %q nor %q", c.Vision, ResNet, ViT)
	}
	for i, l := range c.VisionLayers {
		if l <= 0 {
			return fmt.Errorf("clip config: vision_layers[%d] = %d must be positive", i, l)
		}
	}
	return nil
}

// DeriveConfig derives the architecture from tensor names and shapes as OpenAI's build_model does (OpenAI naming),
// or from the equivalent Hugging Face tensors, then applies the metadata overrides (MetadataKeys) and validates.
// Errors name the missing tensor or the bad metadata value.
func DeriveConfig(shapes map[string][]int, metadata map[string]string) (Config, error) {
	var c Config
	var err error
	if _, hf := shapes["text_model.embeddings.token_embedding.weight"]; hf {
		c, err = deriveHF(shapes)
	} else {
		c, err = deriveOpenAI(shapes)
	}
	if err != nil {
		return c, err
	}
	if err := c.applyMetadata(metadata); err != nil {
		return c, err
	}
	return c, c.Validate()
}

// shapeOf returns the shape of name, or an error naming it.
func shapeOf(shapes map[string][]int, name string, rank int) ([]int, error) {
	s, ok := shapes[name]
	if !ok {
		return nil, fmt.Errorf("clip config: tensor %q missing", name)
	}
	if rank >= 0 && len(s) != rank {
		return nil, fmt.Errorf("clip config: tensor %q has shape %v, want rank %d", name, s, rank)
	}
	return s, nil
}

// countIndices counts the distinct values of the dotted component `at` of names starting with prefix.
func countIndices(shapes map[string][]int, prefix string, at int) int {
	seen := map[string]bool{}
	for n := range shapes {
		if strings.HasPrefix(n, prefix) {
			parts := strings.Split(n, ".")
			if at < len(parts) {
				seen[parts[at]] = true
			}
		}
	}
	return len(seen)
}

// isqrt returns the integer square root of n when n is a perfect square.
func isqrt(n int) (int, bool) {
	r := 0
	for r*r < n {
		r++
	}
	return r, r*r == n
}

func deriveOpenAI(shapes map[string][]int) (Config, error) {
	c := Config{Naming: NamingOpenAI}
	if _, vit := shapes["visual.proj"]; vit {
		c.Vision = ViT
		conv, err := shapeOf(shapes, "visual.conv1.weight", 4)
		if err != nil {
			return c, err
		}
		c.VisionWidth = conv[0]
		c.VisionPatchSize = conv[3]
		layers := 0
		for n := range shapes {
			if strings.HasPrefix(n, "visual.") && strings.HasSuffix(n, ".attn.in_proj_weight") {
				layers++
			}
		}
		c.VisionLayers = []int{layers}
		pe, err := shapeOf(shapes, "visual.positional_embedding", 2)
		if err != nil {
			return c, err
		}
		grid, ok := isqrt(pe[0] - 1)
		if !ok {
			return c, fmt.Errorf("clip config: visual.positional_embedding has %d rows, not grid^2+1", pe[0])
		}
		c.ImageResolution = c.VisionPatchSize * grid
		c.VisionHeads = c.VisionWidth / 64
	} else {
		c.Vision = ResNet
		c.VisionLayers = make([]int, 4)
		for b := 1; b <= 4; b++ {
			c.VisionLayers[b-1] = countIndices(shapes, fmt.Sprintf("visual.layer%d.", b), 2)
		}
		conv, err := shapeOf(shapes, "visual.layer1.0.conv1.weight", 4)
		if err != nil {
			return c, err
		}
		c.VisionWidth = conv[0]
		pe, err := shapeOf(shapes, "visual.attnpool.positional_embedding", 2)
		if err != nil {
			return c, err
		}
		out, ok := isqrt(pe[0] - 1)
		if !ok {
			return c, fmt.Errorf("clip config: visual.attnpool.positional_embedding has %d rows, not width^2+1", pe[0])
		}
		c.ImageResolution = out * 32
		c.VisionHeads = c.VisionWidth * 32 / 64
	}
	tp, err := shapeOf(shapes, "text_projection", 2)
	if err != nil {
		return c, err
	}
	c.EmbedDim = tp[1]
	pe, err := shapeOf(shapes, "positional_embedding", 2)
	if err != nil {
		return c, err
	}
	c.ContextLength = pe[0]
	te, err := shapeOf(shapes, "token_embedding.weight", 2)
	if err != nil {
		return c, err
	}
	c.VocabSize = te[0]
	lf, err := shapeOf(shapes, "ln_final.weight", 1)
	if err != nil {
		return c, err
	}
	c.TextWidth = lf[0]
	c.TextHeads = c.TextWidth / 64
	c.TextLayers = countIndices(shapes, "transformer.resblocks.", 2)
	return c, nil
}

func deriveHF(shapes map[string][]int) (Config, error) {
	c := Config{Naming: NamingHF, Vision: ViT}
	conv, err := shapeOf(shapes, "vision_model.embeddings.patch_embedding.weight", 4)
	if err != nil {
		return c, err
	}
	c.VisionWidth = conv[0]
	c.VisionPatchSize = conv[3]
	c.VisionLayers = []int{countIndices(shapes, "vision_model.encoder.layers.", 3)}
	pe, err := shapeOf(shapes, "vision_model.embeddings.position_embedding.weight", 2)
	if err != nil {
		return c, err
	}
	grid, ok := isqrt(pe[0] - 1)
	if !ok {
		return c, fmt.Errorf("clip config: vision_model.embeddings.position_embedding.weight has %d rows, not grid^2+1", pe[0])
	}
	c.ImageResolution = grid * c.VisionPatchSize
	c.VisionHeads = c.VisionWidth / 64
	tp, err := shapeOf(shapes, "text_projection.weight", 2)
	if err != nil {
		return c, err
	}
	c.EmbedDim = tp[0]
	tpe, err := shapeOf(shapes, "text_model.embeddings.position_embedding.weight", 2)
	if err != nil {
		return c, err
	}
	c.ContextLength = tpe[0]
	te, err := shapeOf(shapes, "text_model.embeddings.token_embedding.weight", 2)
	if err != nil {
		return c, err
	}
	c.VocabSize = te[0]
	lf, err := shapeOf(shapes, "text_model.final_layer_norm.weight", 1)
	if err != nil {
		return c, err
	}
	c.TextWidth = lf[0]
	c.TextHeads = c.TextWidth / 64
	c.TextLayers = countIndices(shapes, "text_model.encoder.layers.", 3)
	return c, nil
}

// applyMetadata overrides fields from `__metadata__` (MetadataKeys).
func (c *Config) applyMetadata(md map[string]string) error {
	ints := map[string]*int{
		"embed_dim": &c.EmbedDim, "image_resolution": &c.ImageResolution, "vision_width": &c.VisionWidth,
		"vision_patch_size": &c.VisionPatchSize, "vision_heads": &c.VisionHeads, "context_length": &c.ContextLength,
		"vocab_size": &c.VocabSize, "text_width": &c.TextWidth, "text_heads": &c.TextHeads,
		"text_layers": &c.TextLayers, "transformer_width": &c.TextWidth, "transformer_heads": &c.TextHeads,
		"transformer_layers": &c.TextLayers,
	}
	if v, ok, err := weights.MetadataString(md, "vision"); err != nil {
		return fmt.Errorf("clip config: %w", err)
	} else if ok {
		if v != ResNet && v != ViT {
			return fmt.Errorf("clip config: __metadata__ vision=%q, want %q or %q", md["vision"], ResNet, ViT)
		}
		c.Vision = v
	}
	if layers, ok, err := weights.MetadataInts(md, "vision_layers"); err != nil {
		return fmt.Errorf("clip config: %w", err)
	} else if ok {
		c.VisionLayers = layers
	}
	keys := make([]string, 0, len(ints))
	for k := range ints {
		keys = append(keys, k)
	}
	sort.Strings(keys) // a fixed order: a transformer_* alias is applied after (and wins over) its text_* key
	for _, k := range keys {
		n, ok, err := weights.MetadataInt(md, k)
		if err != nil {
			return fmt.Errorf("clip config: %w", err)
		}
		if ok {
			*ints[k] = n
		}
	}
	return nil
}
