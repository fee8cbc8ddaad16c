package main

import (
	"image"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/gotta-ml/gotta/tta/clip/tokenizer"
	"github.com/gotta-ml/gotta/tta/weights"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// clipTestdata is tta/clip's golden data: tiny CLIP models and OpenAI model.py outputs (see its README.md).
const clipTestdata = "../../tta/clip/testdata"

func readF32(t *testing.T, path string) ([]float32, []int) {
	t.Helper()
	d, s, err := weights.ReadNPYFloat32(path)
	require.NoError(t, err)
	return d, s
}

func requireClose(t *testing.T, what string, want, got []float32, rtol, atol float64) {
	t.Helper()
	require.Len(t, got, len(want), what)
	for i := range want {
		if d := math.Abs(float64(got[i] - want[i])); d > atol+rtol*math.Abs(float64(want[i])) {
			t.Fatalf("%s[%d]: got %g, want %g", what, i, got[i], want[i])
		}
	}
}

func TestEmbedGolden(t *testing.T) {
	for _, ref := range []string{"tiny_vit", "tiny_rn"} {
		t.Run(ref, func(t *testing.T) {
			out := t.TempDir()
			code := Main([]string{"embed", "--weights", filepath.Join(clipTestdata, ref+".safetensors"),
				"--images-npy", filepath.Join(clipTestdata, ref+"_images_nchw.npy"),
				"--text-ids-npy", filepath.Join(clipTestdata, ref+"_tokens.npy"), "--out", out, "--batch", "2"})
			require.Equal(t, 0, code)
			for _, name := range []string{"image_features", "text_features", "logits"} {
				want, wantShape := readF32(t, filepath.Join(clipTestdata, ref+"_"+name+".npy"))
				got, gotShape := readF32(t, filepath.Join(out, name+".npy"))
				assert.Equal(t, wantShape, gotShape, name)
				// rtol 1e-4, atol 1e-5 against OpenAI's model.py, as tta/clip's golden tests.
				requireClose(t, name, want, got, 1e-4, 1e-5)
			}
		})
	}
}

func TestEmbedFilesAndTexts(t *testing.T) {
	dir := t.TempDir()
	var files []string
	for i, c := range [][3]uint8{{200, 30, 30}, {20, 180, 40}, {10, 10, 220}} {
		img := image.NewNRGBA(image.Rect(0, 0, 70+10*i, 64))
		for p := 0; p < len(img.Pix); p += 4 {
			img.Pix[p], img.Pix[p+1], img.Pix[p+2], img.Pix[p+3] = c[0], c[1], c[2], 255
		}
		path := filepath.Join(dir, "img"+string(rune('a'+i))+".png")
		f, err := os.Create(path)
		require.NoError(t, err)
		require.NoError(t, png.Encode(f, img))
		require.NoError(t, f.Close())
		files = append(files, path)
	}
	texts := filepath.Join(dir, "texts.txt")
	lines := []string{"a photo of a red square.", "a photo of a green square.", "a photo of a blue square.", "a dog"}
	require.NoError(t, os.WriteFile(texts, []byte(lines[0]+"\n"+lines[1]+"\n"+lines[2]+"\n"+lines[3]+"\n"), 0o644))
	// The tiny RN model has CLIP's full vocabulary (49408), so real BPE ids fit.
	weightsFile := filepath.Join(clipTestdata, "tiny_rn.safetensors")
	out := filepath.Join(dir, "out")
	code := Main([]string{"embed", "--weights", weightsFile, "--images", files[0] + "," + files[1], "--texts", texts,
		"--vocab", openAIVocab, "--out", out, files[2]})
	require.Equal(t, 0, code)
	img, imgShape := readF32(t, filepath.Join(out, "image_features.npy"))
	assert.Equal(t, []int{3, 16}, imgShape)
	txt, txtShape := readF32(t, filepath.Join(out, "text_features.npy"))
	assert.Equal(t, []int{4, 16}, txtShape)
	_, logitsShape := readF32(t, filepath.Join(out, "logits.npy"))
	assert.Equal(t, []int{3, 4}, logitsShape)

	// The same texts given as ids (tokenized here) give the same features.
	tok, err := tokenizer.Load(openAIVocab)
	require.NoError(t, err)
	ids := make([]int64, 0, 4*77)
	for _, l := range lines {
		row, err := tok.Encode(l, 77, false)
		require.NoError(t, err)
		for _, v := range row {
			ids = append(ids, int64(v))
		}
	}
	idsPath := filepath.Join(dir, "ids.npy")
	require.NoError(t, weights.WriteNPY(idsPath, []int{4, 77}, ids))
	out2 := filepath.Join(dir, "out2")
	require.Equal(t, 0, Main([]string{"embed", "--weights", weightsFile, "--text-ids-npy", idsPath, "--out", out2}))
	txt2, _ := readF32(t, filepath.Join(out2, "text_features.npy"))
	requireClose(t, "text features from ids", txt, txt2, 1e-6, 1e-7)
	_, err = os.Stat(filepath.Join(out2, "logits.npy"))
	assert.True(t, os.IsNotExist(err), "no logits without images")
	for _, v := range img {
		require.False(t, math.IsNaN(float64(v)))
	}

	t.Run("usage errors", func(t *testing.T) {
		assert.NotEqual(t, 0, Main([]string{"embed", "--weights", weightsFile, "--out", out}))
		assert.NotEqual(t, 0, Main([]string{"embed", "--weights", weightsFile, "--texts", texts, "--out", out}))
		assert.NotEqual(t, 0, Main([]string{"embed", "--weights", filepath.Join(clipTestdata, "tiny_vit.safetensors"),
			"--images-npy", filepath.Join(clipTestdata, "tiny_rn_images_nchw.npy"), "--out", out}))
	})
}
