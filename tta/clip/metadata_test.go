package clip

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/gotta-ml/gotta/tta/weights"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// withMetadata rewrites a testdata file with md as its whole `__metadata__`.
func withMetadata(t *testing.T, src string, md map[string]string) string {
	t.Helper()
	return rewrite(t, src, func(ts []weights.Named, _ map[string]string) ([]weights.Named, map[string]string) {
		return ts, md
	})
}

// plainMetadata is every MetadataKeys field of c in the plain form ("RN", "1,1,1,1", "16"); a ResNet has no patch
// size, so it is left out.
func plainMetadata(c Config) map[string]string {
	layers := make([]string, len(c.VisionLayers))
	for i, l := range c.VisionLayers {
		layers[i] = strconv.Itoa(l)
	}
	md := map[string]string{"vision": c.Vision, "vision_layers": strings.Join(layers, ",")}
	for k, v := range configInts(c) {
		md[k] = strconv.Itoa(v)
	}
	if c.Vision == ResNet {
		delete(md, "vision_patch_size")
	}
	return md
}

// jsonMetadata is every MetadataKeys field of c as Python's json.dumps writes it: "\"RN\"", "[1, 1, 1, 1]", "16",
// and "null" for a ResNet's patch size; plus keys the config does not use (a boolean, a float, a list of text).
func jsonMetadata(c Config) map[string]string {
	layers := make([]string, len(c.VisionLayers))
	for i, l := range c.VisionLayers {
		layers[i] = strconv.Itoa(l)
	}
	md := map[string]string{"vision": strconv.Quote(c.Vision), "vision_layers": "[" + strings.Join(layers, ", ") + "]",
		"quick_gelu": "false", "init_logit_scale": "2.995732273553991", "tags": `["tiny", "test"]`}
	for k, v := range configInts(c) {
		md[k] = strconv.Itoa(v)
	}
	md["image_resolution"] = fmt.Sprintf("%d.0", c.ImageResolution) // json.dumps of a float
	if c.Vision == ResNet {
		md["vision_patch_size"] = "null"
	}
	return md
}

func configInts(c Config) map[string]int {
	return map[string]int{"embed_dim": c.EmbedDim, "image_resolution": c.ImageResolution,
		"vision_width": c.VisionWidth, "vision_patch_size": c.VisionPatchSize, "vision_heads": c.VisionHeads,
		"context_length": c.ContextLength, "vocab_size": c.VocabSize, "text_width": c.TextWidth,
		"text_heads": c.TextHeads, "text_layers": c.TextLayers}
}

// TestJSONMetadata: a checkpoint whose `__metadata__` values are written as JSON loads to the same config as one
// with the plain forms (and as the committed file), and a malformed value is an error naming the key and the file.
func TestJSONMetadata(t *testing.T) {
	for _, name := range []string{"tiny_rn.safetensors", "tiny_vit.safetensors"} {
		t.Run(name, func(t *testing.T) {
			ref, err := Load(td(name), LoadOpts{})
			require.NoError(t, err)
			want := ref.Config
			plain, err := Load(withMetadata(t, name, plainMetadata(want)), LoadOpts{})
			require.NoError(t, err)
			assert.Equal(t, want, plain.Config)
			md := jsonMetadata(want)
			asJSON, err := Load(withMetadata(t, name, md), LoadOpts{})
			require.NoError(t, err)
			assert.Equal(t, want, asJSON.Config)
			// The heads come only from the metadata (the width/64 rule gives other values), so the JSON forms were
			// read, not ignored.
			assert.Equal(t, 2, asJSON.Config.VisionHeads)

			for key, bad := range map[string]string{"vision_layers": "[1, x]", "vision_heads": "true",
				"text_heads": "[2]", "vision": `"RN`, "embed_dim": "16.5", "text_layers": `{"n": 2}`} {
				md := jsonMetadata(want)
				md[key] = bad
				path := withMetadata(t, name, md)
				_, err := Load(path, LoadOpts{})
				require.Error(t, err, "%s=%s", key, bad)
				assert.ErrorContains(t, err, key+"=")
				assert.ErrorContains(t, err, path)
			}
		})
	}
	t.Run("null keeps the derived value", func(t *testing.T) {
		c := published["ViT-B/16"]
		c.Naming, c.ContextLength, c.VocabSize, c.TextLayers = NamingOpenAI, 77, 49408, 12
		md := jsonMetadata(c)
		for _, k := range []string{"vision", "vision_layers", "vision_patch_size", "embed_dim"} {
			md[k] = "null"
		}
		got, err := DeriveConfig(shapesOf(c), md)
		require.NoError(t, err)
		assert.Equal(t, c, got)
	})
}
