package method

import (
	"testing"

	"github.com/gotta-ml/gotta/tta/backend"
	"github.com/gotta-ml/gotta/tta/clip"
	"github.com/gotta-ml/gotta/tta/resnet"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestArchNames: the released configurations get OpenAI's and torchvision's names; a file whose architecture is not
// the one named on --model is refused, naming both.
func TestArchNames(t *testing.T) {
	rn50 := clip.Config{Vision: clip.ResNet, ImageResolution: 224, VisionLayers: []int{3, 4, 6, 3}, VisionWidth: 64}
	vitB16 := clip.Config{Vision: clip.ViT, ImageResolution: 224, VisionLayers: []int{12}, VisionWidth: 768,
		VisionPatchSize: 16}
	vitL14 := clip.Config{Vision: clip.ViT, ImageResolution: 336, VisionLayers: []int{24}, VisionWidth: 1024,
		VisionPatchSize: 14}
	assert.Equal(t, "RN50", CLIPArch(rn50))
	assert.Equal(t, "ViT-B/16", CLIPArch(vitB16))
	assert.Equal(t, "ViT-L/14@336px", CLIPArch(vitL14))
	assert.Equal(t, "", CLIPArch(clip.Config{Vision: clip.ViT, VisionLayers: []int{2}, VisionWidth: 32}))
	assert.Equal(t, "resnet50", ResNetArch(resnet.ResNet50()))
	assert.Equal(t, "resnext50_32x4d", ResNetArch(resnet.ResNeXt50x32x4d()))
	r18 := resnet.ResNet18()
	r18.NumClasses = 10
	assert.Equal(t, "resnet18", ResNetArch(r18))

	b := backend.MustNew()
	env := NewEnv(b, Models{CLIP: "../clip/testdata/tiny_vit.safetensors", CLIPArch: "RN50",
		Vocab: "../clip/tokenizer/bpe_simple_vocab_16e6.txt.gz"})
	_, err := env.CLIP()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "--model clip:RN50=../clip/testdata/tiny_vit.safetensors: the file holds an "+
		"architecture without a released name, not RN50")
	env = NewEnv(b, Models{CLIP: "../clip/testdata/tiny_vit.safetensors",
		Vocab: "../clip/tokenizer/bpe_simple_vocab_16e6.txt.gz"})
	_, err = env.CLIP()
	require.NoError(t, err, "no architecture named, no check")
	env = NewEnv(b, Models{CLIP: "../clip/testdata/tiny_vit.safetensors", CLIPArch: "tiny",
		Vocab: "../clip/tokenizer/bpe_simple_vocab_16e6.txt.gz"})
	_, err = env.CLIP()
	require.NoError(t, err, "a label that names no released architecture is not checked")
	env = NewEnv(b, Models{ResNets: []string{"../resnet/testdata/tiny_basic.safetensors"}, ResNetArchs: []string{"resnet50"}})
	_, err = env.ResNet(0)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "not resnet50")
}
