package clip

import (
	"fmt"
	"image"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gotta-ml/gotta/tta/weights"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// rewrite copies a testdata safetensors file to a temp dir, letting edit change the tensors and metadata.
func rewrite(t *testing.T, src string, edit func(ts []weights.Named, md map[string]string) ([]weights.Named, map[string]string)) string {
	t.Helper()
	f, err := weights.Open(td(src))
	require.NoError(t, err)
	defer func() { _ = f.Close() }()
	var ts []weights.Named
	for _, n := range f.Names() {
		tt, err := f.Tensor(n, dtypes.InvalidDType)
		require.NoError(t, err)
		ts = append(ts, weights.Named{Name: n, Tensor: tt})
	}
	ts, md := edit(ts, f.Metadata())
	path := filepath.Join(t.TempDir(), "edited.safetensors")
	require.NoError(t, weights.Write(path, ts, md))
	return path
}

func TestContextCut(t *testing.T) {
	for _, ref := range []string{"tiny_rn", "tiny_vit"} {
		t.Run(ref, func(t *testing.T) {
			m, err := Load(td(ref+".safetensors"), LoadOpts{})
			require.NoError(t, err)
			full := readTokens(t, ref+"_tokens.npy") // [3, 77], longest prompt has 9 tokens
			ids := tensors.MustCopyFlatData[int32](full)
			const cut = 9
			short := make([]int32, 3*cut)
			for r := 0; r < 3; r++ {
				copy(short[r*cut:(r+1)*cut], ids[r*77:r*77+cut])
			}
			run := func(tok *tensors.Tensor) []float32 {
				out, err := context.ExecOnce(be(), m.Ctx, func(ctx *context.Context, tokens *Node) *Node {
					return m.EncodeText(ctx, tokens)
				}, tok)
				require.NoError(t, err)
				return tensors.MustCopyFlatData[float32](out)
			}
			want := run(full)
			got := run(tensors.FromFlatDataAndDimensions(short, 3, cut))
			assertClose(t, "cut context text features", want, got, 1e-5, 1e-6)
			golden, _ := readNPY(t, ref+"_text_features.npy")
			assertClose(t, "cut context vs OpenAI", golden, got, goldenRTol, goldenATol)
		})
	}
}

// fakeTokenizer maps prompts to fixed token rows.
type fakeTokenizer struct {
	rows  map[string][]int
	calls int
}

func (f *fakeTokenizer) Encode(text string, contextLen int, truncate bool) ([]int, error) {
	f.calls++
	r, ok := f.rows[text]
	if !ok || len(r) != contextLen {
		return nil, fmt.Errorf("fake tokenizer: no row for %q at %d", text, contextLen)
	}
	return r, nil
}

func normalized(f []float32) []float64 {
	n := 0.0
	for _, v := range f {
		n += float64(v) * float64(v)
	}
	out := make([]float64, len(f))
	for i, v := range f {
		out[i] = float64(v) / math.Sqrt(n)
	}
	return out
}

func TestZeroShot(t *testing.T) {
	m, err := Load(td("tiny_vit.safetensors"), LoadOpts{})
	require.NoError(t, err)
	toks := tensors.MustCopyFlatData[int32](readTokens(t, "tiny_vit_tokens.npy"))
	row := func(i int) []int {
		r := make([]int, 77)
		for k := range r {
			r[k] = int(toks[i*77+k])
		}
		return r
	}
	tok := &fakeTokenizer{rows: map[string][]int{"cat": row(0), "a cat!": row(1), "dog": row(2), "a dog!": row(0)}}
	zs := NewZeroShot(be(), m, tok)
	zs.BatchSize = 3 // 4 prompts: the last batch is padded
	golden, _ := readNPY(t, "tiny_vit_text_features.npy")
	g := func(i int) []float64 { return normalized(golden[i*16 : (i+1)*16]) }

	t.Run("one template", func(t *testing.T) {
		feats, err := zs.TextFeatures([]string{"cat", "dog"}, []string{"{}"})
		require.NoError(t, err)
		for c, ref := range []int{0, 2} {
			want := g(ref)
			for k := range want {
				assert.InDelta(t, want[k], feats[c][k], 1e-4, "class %d dim %d", c, k)
			}
		}
	})
	t.Run("template ensemble", func(t *testing.T) {
		feats, err := zs.TextFeatures([]string{"cat", "dog"}, []string{"{}", "a {}!"})
		require.NoError(t, err)
		for c, pair := range [][2]int{{0, 1}, {2, 0}} {
			a, b := g(pair[0]), g(pair[1])
			mean := make([]float32, len(a))
			for k := range a {
				mean[k] = float32((a[k] + b[k]) / 2)
			}
			want := normalized(mean)
			for k := range want {
				assert.InDelta(t, want[k], feats[c][k], 1e-4, "class %d dim %d", c, k)
			}
		}
		calls := tok.calls
		again, err := zs.TextFeatures([]string{"cat", "dog"}, []string{"{}", "a {}!"})
		require.NoError(t, err)
		assert.Equal(t, calls, tok.calls, "cached: no new tokenizer calls")
		assert.Equal(t, feats, again)
	})
	t.Run("logits", func(t *testing.T) {
		img, _ := readNPY(t, "tiny_vit_image_features.npy")
		wantLogits, _ := readNPY(t, "tiny_vit_logits.npy")
		scale, err := m.LogitScaleValue()
		require.NoError(t, err)
		var imgs, txts [][]float32
		for i := 0; i < 2; i++ {
			imgs = append(imgs, img[i*16:(i+1)*16])
		}
		for i := 0; i < 3; i++ {
			n := g(i)
			r := make([]float32, 16)
			for k := range r {
				r[k] = float32(n[k])
			}
			txts = append(txts, r)
		}
		got := LogitsHost(imgs, txts, scale)
		assertClose(t, "host logits", wantLogits, slices.Concat(got...), goldenRTol, goldenATol)
	})
	t.Run("errors", func(t *testing.T) {
		_, err := zs.TextFeatures([]string{"cat"}, []string{"no placeholder"})
		require.ErrorContains(t, err, "no placeholder")
		_, err = zs.TextFeatures([]string{"horse"}, []string{"{}"})
		require.ErrorContains(t, err, `"horse"`)
	})
}

func TestStrictLoading(t *testing.T) {
	drop := func(name string) func([]weights.Named, map[string]string) ([]weights.Named, map[string]string) {
		return func(ts []weights.Named, md map[string]string) ([]weights.Named, map[string]string) {
			return slices.DeleteFunc(ts, func(n weights.Named) bool { return n.Name == name }), md
		}
	}
	t.Run("missing", func(t *testing.T) {
		_, err := Load(rewrite(t, "tiny_vit.safetensors", drop("visual.ln_post.bias")), LoadOpts{})
		require.ErrorContains(t, err, "visual.ln_post.bias")
		require.ErrorContains(t, err, "missing")
	})
	t.Run("missing HF", func(t *testing.T) {
		_, err := Load(rewrite(t, "tiny_vit_hf.safetensors", drop("text_model.encoder.layers.1.self_attn.k_proj.bias")), LoadOpts{})
		require.ErrorContains(t, err, "text_model.encoder.layers.1.self_attn.k_proj.bias")
	})
	t.Run("unused", func(t *testing.T) {
		path := rewrite(t, "tiny_vit.safetensors", func(ts []weights.Named, md map[string]string) ([]weights.Named, map[string]string) {
			return append(ts, weights.Named{Name: "visual.extra.weight", Tensor: tensors.FromValue([]float32{1, 2})}), md
		})
		_, err := Load(path, LoadOpts{})
		require.ErrorContains(t, err, "visual.extra.weight")
		require.ErrorContains(t, err, "not used")
	})
	t.Run("misshaped", func(t *testing.T) {
		path := rewrite(t, "tiny_vit.safetensors", func(ts []weights.Named, md map[string]string) ([]weights.Named, map[string]string) {
			for i, n := range ts {
				if n.Name == "transformer.resblocks.0.mlp.c_fc.bias" {
					ts[i].Tensor = tensors.FromValue(make([]float32, 100))
				}
			}
			return ts, md
		})
		_, err := Load(path, LoadOpts{})
		require.ErrorContains(t, err, "transformer.resblocks.0.mlp.c_fc.bias")
		require.ErrorContains(t, err, "[100]")
	})
	t.Run("known buffers are skipped", func(t *testing.T) {
		path := rewrite(t, "tiny_rn.safetensors", func(ts []weights.Named, md map[string]string) ([]weights.Named, map[string]string) {
			return append(ts,
				weights.Named{Name: "visual.bn1.num_batches_tracked", Tensor: tensors.FromScalar(int64(7))},
				weights.Named{Name: "input_resolution", Tensor: tensors.FromScalar(int64(64))}), md
		})
		_, err := Load(path, LoadOpts{})
		require.NoError(t, err)
		ids := make([]int64, 77)
		for i := range ids {
			ids[i] = int64(i)
		}
		path = rewrite(t, "tiny_vit_hf.safetensors", func(ts []weights.Named, md map[string]string) ([]weights.Named, map[string]string) {
			return append(ts, weights.Named{Name: "text_model.embeddings.position_ids",
				Tensor: tensors.FromFlatDataAndDimensions(ids, 1, 77)}), md
		})
		_, err = Load(path, LoadOpts{})
		require.NoError(t, err)
	})
	t.Run("heads from metadata", func(t *testing.T) {
		// Without vision_heads the RN attnpool gets OpenAI's default 256/64 = 4 heads: it loads, but its features
		// are not OpenAI's 2-head ones.
		path := rewrite(t, "tiny_rn.safetensors", func(ts []weights.Named, md map[string]string) ([]weights.Named, map[string]string) {
			delete(md, "vision_heads")
			return ts, md
		})
		m, err := Load(path, LoadOpts{})
		require.NoError(t, err)
		assert.Equal(t, 4, m.Config.VisionHeads)
		imgData, imgShape := readNPY(t, "tiny_rn_images_nchw.npy")
		out, err := context.ExecOnce(be(), m.Ctx, func(ctx *context.Context, x *Node) *Node {
			return m.EncodeImage(ctx, x)
		}, nchwToNHWC(imgData, imgShape))
		require.NoError(t, err)
		want, _ := readNPY(t, "tiny_rn_image_features.npy")
		got := tensors.MustCopyFlatData[float32](out)
		maxDiff := 0.0
		for i := range want {
			maxDiff = max(maxDiff, math.Abs(float64(want[i]-got[i])))
		}
		assert.Greater(t, maxDiff, 1e-3)
		// Without text_heads, width 16 / 64 = 0 heads: an error naming the key.
		path = rewrite(t, "tiny_rn.safetensors", func(ts []weights.Named, md map[string]string) ([]weights.Named, map[string]string) {
			delete(md, "text_heads")
			return ts, md
		})
		_, err = Load(path, LoadOpts{})
		require.ErrorContains(t, err, "text_heads")
		// A bad metadata value.
		path = rewrite(t, "tiny_rn.safetensors", func(ts []weights.Named, md map[string]string) ([]weights.Named, map[string]string) {
			md["vision_heads"] = "two"
			return ts, md
		})
		_, err = Load(path, LoadOpts{})
		require.ErrorContains(t, err, "vision_heads")
	})
	t.Run("not a file", func(t *testing.T) {
		_, err := Load(td("nope.safetensors"), LoadOpts{})
		require.ErrorContains(t, err, "nope.safetensors")
	})
}

// published are OpenAI's released CLIP configurations (clip/model.py build_model on the released state dicts).
var published = map[string]Config{
	"RN50":         {Vision: ResNet, EmbedDim: 1024, ImageResolution: 224, VisionLayers: []int{3, 4, 6, 3}, VisionWidth: 64, VisionHeads: 32, TextWidth: 512, TextHeads: 8},
	"RN101":        {Vision: ResNet, EmbedDim: 512, ImageResolution: 224, VisionLayers: []int{3, 4, 23, 3}, VisionWidth: 64, VisionHeads: 32, TextWidth: 512, TextHeads: 8},
	"RN50x4":       {Vision: ResNet, EmbedDim: 640, ImageResolution: 288, VisionLayers: []int{4, 6, 10, 6}, VisionWidth: 80, VisionHeads: 40, TextWidth: 640, TextHeads: 10},
	"RN50x16":      {Vision: ResNet, EmbedDim: 768, ImageResolution: 384, VisionLayers: []int{6, 8, 18, 8}, VisionWidth: 96, VisionHeads: 48, TextWidth: 768, TextHeads: 12},
	"RN50x64":      {Vision: ResNet, EmbedDim: 1024, ImageResolution: 448, VisionLayers: []int{3, 15, 36, 10}, VisionWidth: 128, VisionHeads: 64, TextWidth: 1024, TextHeads: 16},
	"ViT-B/32":     {Vision: ViT, EmbedDim: 512, ImageResolution: 224, VisionLayers: []int{12}, VisionWidth: 768, VisionPatchSize: 32, VisionHeads: 12, TextWidth: 512, TextHeads: 8},
	"ViT-B/16":     {Vision: ViT, EmbedDim: 512, ImageResolution: 224, VisionLayers: []int{12}, VisionWidth: 768, VisionPatchSize: 16, VisionHeads: 12, TextWidth: 512, TextHeads: 8},
	"ViT-L/14":     {Vision: ViT, EmbedDim: 768, ImageResolution: 224, VisionLayers: []int{24}, VisionWidth: 1024, VisionPatchSize: 14, VisionHeads: 16, TextWidth: 768, TextHeads: 12},
	"ViT-L/14@336": {Vision: ViT, EmbedDim: 768, ImageResolution: 336, VisionLayers: []int{24}, VisionWidth: 1024, VisionPatchSize: 14, VisionHeads: 16, TextWidth: 768, TextHeads: 12},
}

// shapesOf lists the tensor shapes a file of config c holds (from the loader's name table).
func shapesOf(c Config) map[string][]int {
	out := map[string][]int{}
	for _, e := range buildTable(c).entries {
		out[e.src] = e.srcShape
	}
	return out
}

func TestDeriveConfigPublished(t *testing.T) {
	for name, c := range published {
		c.Naming, c.ContextLength, c.VocabSize, c.TextLayers = NamingOpenAI, 77, 49408, 12
		t.Run(strings.ReplaceAll(name, "/", "_"), func(t *testing.T) {
			got, err := DeriveConfig(shapesOf(c), nil)
			require.NoError(t, err)
			assert.Equal(t, c, got)
			if c.Vision == ViT {
				hf := c
				hf.Naming = NamingHF
				got, err := DeriveConfig(shapesOf(hf), nil)
				require.NoError(t, err)
				assert.Equal(t, hf, got)
			}
		})
	}
	t.Run("RN50 tensor facts", func(t *testing.T) {
		s := shapesOf(published["RN50"])
		assert.Equal(t, []int{50, 2048}, s["visual.attnpool.positional_embedding"])
		assert.Equal(t, []int{1024, 2048}, s["visual.attnpool.c_proj.weight"])
		assert.Equal(t, []int{256, 64, 1, 1}, s["visual.layer1.0.downsample.0.weight"])
		assert.Equal(t, []int{1024, 512, 1, 1}, s["visual.layer3.0.downsample.0.weight"])
	})
	t.Run("ViT-B/16 tensor facts", func(t *testing.T) {
		c := published["ViT-B/16"]
		c.Naming, c.ContextLength, c.VocabSize, c.TextLayers = NamingOpenAI, 77, 49408, 12
		s := shapesOf(c)
		assert.Equal(t, []int{197, 768}, s["visual.positional_embedding"])
		assert.Equal(t, []int{2304, 768}, s["visual.transformer.resblocks.11.attn.in_proj_weight"])
		assert.Equal(t, []int{768, 512}, s["visual.proj"])
		assert.Equal(t, []int{512, 512}, s["text_projection"])
		c.Naming = NamingHF
		s = shapesOf(c)
		assert.Equal(t, []int{512, 768}, s["visual_projection.weight"])
		assert.Equal(t, []int{768, 3, 16, 16}, s["vision_model.embeddings.patch_embedding.weight"])
	})
}

func TestBFloat16(t *testing.T) {
	m, err := Load(td("tiny_vit.safetensors"), LoadOpts{DType: dtypes.BFloat16})
	require.NoError(t, err)
	imgData, imgShape := readNPY(t, "tiny_vit_images_nchw.npy")
	img, txt, _ := features(t, m, nchwToNHWC(imgData, imgShape), readTokens(t, "tiny_vit_tokens.npy"))
	for _, c := range []struct {
		what string
		got  []float32
	}{{"image", img}, {"text", txt}} {
		want, _ := readNPY(t, "tiny_vit_"+c.what+"_features.npy")
		for r := 0; r*16 < len(want); r++ {
			a, b := normalized(want[r*16:(r+1)*16]), normalized(c.got[r*16:(r+1)*16])
			cos := 0.0
			for k := range a {
				cos += a[k] * b[k]
			}
			assert.Greater(t, cos, 0.99, "%s row %d: cosine to the float32 reference", c.what, r)
		}
	}
}

func TestPreprocessFiles(t *testing.T) {
	m, err := Load(td("tiny_vit.safetensors"), LoadOpts{}) // R = 32
	require.NoError(t, err)
	img := image.NewNRGBA(image.Rect(0, 0, 50, 40))
	for i := 0; i < len(img.Pix); i += 4 {
		img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = 200, 100, 50, 255
	}
	path := filepath.Join(t.TempDir(), "flat.png")
	fh, err := os.Create(path)
	require.NoError(t, err)
	require.NoError(t, png.Encode(fh, img))
	require.NoError(t, fh.Close())
	batch, err := m.PreprocessFiles([]string{path, path})
	require.NoError(t, err)
	assert.Equal(t, []int{2, 32, 32, 3}, batch.Shape().Dimensions)
	data := tensors.MustCopyFlatData[float32](batch)
	// A flat image stays flat under resize and crop: each channel is (v/255 - mean) / std, CLIP's constants.
	mean := []float64{0.48145466, 0.4578275, 0.40821073}
	std := []float64{0.26862954, 0.26130258, 0.27577711}
	for c, v := range []float64{200, 100, 50} {
		want := (v/255 - mean[c]) / std[c]
		for _, i := range []int{c, 3*500 + c, len(data) - 3 + c} {
			assert.InDelta(t, want, data[i], 1e-5, "channel %d index %d", c, i)
		}
	}
	_, err = m.PreprocessFiles([]string{filepath.Join(t.TempDir(), "missing.png")})
	require.ErrorContains(t, err, "missing.png")
}

// TestBF16File loads a bfloat16 file and the float32 file of the same (bf16-rounded) values: same features.
func TestBF16File(t *testing.T) {
	f, err := weights.Open(td("tiny_vit.safetensors"))
	require.NoError(t, err)
	defer func() { _ = f.Close() }()
	var bf, rounded []weights.RawTensor
	for _, n := range f.Names() {
		data, shape, err := f.Float32s(n)
		require.NoError(t, err)
		r := make([]float32, len(data))
		for i, v := range data {
			r[i] = weights.BF16FromFloat32(v).Float32()
		}
		bf = append(bf, weights.RawTensor{Name: n, DType: dtypes.BFloat16, Shape: shape, Float32s: data})
		rounded = append(rounded, weights.RawTensor{Name: n, DType: dtypes.Float32, Shape: shape, Float32s: r})
	}
	dir := t.TempDir()
	pathBF, pathF32 := filepath.Join(dir, "bf16.safetensors"), filepath.Join(dir, "f32.safetensors")
	require.NoError(t, weights.WriteRaw(pathBF, bf, f.Metadata()))
	require.NoError(t, weights.WriteRaw(pathF32, rounded, f.Metadata()))
	imgData, imgShape := readNPY(t, "tiny_vit_images_nchw.npy")
	images, tokens := nchwToNHWC(imgData, imgShape), readTokens(t, "tiny_vit_tokens.npy")
	var outs [2][]float32
	for i, p := range []string{pathBF, pathF32} {
		m, err := Load(p, LoadOpts{})
		require.NoError(t, err)
		img, txt, _ := features(t, m, images, tokens)
		outs[i] = append(img, txt...)
	}
	assertClose(t, "bf16 file vs f32 file of the same values", outs[1], outs[0], 1e-6, 1e-7)
}

func TestLoadIntoAndNewRandom(t *testing.T) {
	ctx := context.New()
	m, err := LoadInto(ctx, td("tiny_vit.safetensors"), LoadOpts{Scope: "/models/vit"})
	require.NoError(t, err)
	require.NotNil(t, ctx.GetVariableByScopeAndName("/models/vit/visual/conv1", "weight"))
	assert.False(t, ctx.GetVariableByScopeAndName("/models/vit", "logit_scale").Trainable)
	_, err = LoadInto(ctx, td("tiny_vit.safetensors"), LoadOpts{Scope: "/models/vit"})
	require.ErrorContains(t, err, "already exists")
	_, err = LoadInto(ctx, td("tiny_vit.safetensors"), LoadOpts{Scope: "relative"})
	require.ErrorContains(t, err, "absolute")

	// A random model of the same config in the same context, other scope: same shapes, deterministic per seed.
	r1, err := NewRandom(ctx, m.Config, 7, LoadOpts{Scope: "/random1"})
	require.NoError(t, err)
	r2, err := NewRandom(ctx, m.Config, 7, LoadOpts{Scope: "/random2"})
	require.NoError(t, err)
	imgData, imgShape := readNPY(t, "tiny_vit_images_nchw.npy")
	images, tokens := nchwToNHWC(imgData, imgShape), readTokens(t, "tiny_vit_tokens.npy")
	i1, t1, _ := features(t, r1, images, tokens)
	i2, t2, _ := features(t, r2, images, tokens)
	assert.Equal(t, i1, i2)
	assert.Equal(t, t1, t2)
	assert.Len(t, i1, 2*16)
	bad := m.Config
	bad.TextHeads = 5
	_, err = NewRandom(ctx, bad, 7, LoadOpts{Scope: "/random3"})
	require.ErrorContains(t, err, "text_heads")
}
