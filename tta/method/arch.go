package method

import (
	"fmt"
	"slices"
	"strings"

	"github.com/gotta-ml/gotta/tta/clip"
	"github.com/gotta-ml/gotta/tta/resnet"
)

// CLIPArch is the OpenAI name of a CLIP configuration ("RN50", "ViT-B/16", ...), from the tower's shape as OpenAI's
// build_model reads it, or "" for a configuration without a released name (a tiny test model).
func CLIPArch(c clip.Config) string {
	if c.Vision == clip.ViT && len(c.VisionLayers) == 1 {
		size := map[[2]int]string{{768, 12}: "B", {1024, 24}: "L"}[[2]int{c.VisionWidth, c.VisionLayers[0]}]
		if size == "" {
			return ""
		}
		name := fmt.Sprintf("ViT-%s/%d", size, c.VisionPatchSize)
		if c.ImageResolution == 336 {
			name += "@336px"
		}
		return name
	}
	if len(c.VisionLayers) != 4 {
		return ""
	}
	for name, v := range map[string]struct {
		layers [4]int
		width  int
	}{
		"RN50": {[4]int{3, 4, 6, 3}, 64}, "RN101": {[4]int{3, 4, 23, 3}, 64}, "RN50x4": {[4]int{4, 6, 10, 6}, 80},
		"RN50x16": {[4]int{6, 8, 18, 8}, 96}, "RN50x64": {[4]int{3, 15, 36, 10}, 128},
	} {
		if slices.Equal(c.VisionLayers, v.layers[:]) && c.VisionWidth == v.width {
			return name
		}
	}
	return ""
}

// ResNetArch is the torchvision name of a ResNet configuration ("resnet50", "resnext50_32x4d", ...), or "" for one
// without a torchvision name. The number of classes is not part of the name.
func ResNetArch(c resnet.Config) string {
	for name, k := range map[string]resnet.Config{"resnet18": resnet.ResNet18(), "resnet34": resnet.ResNet34(),
		"resnet50": resnet.ResNet50(), "resnet101": resnet.ResNet101(), "resnet152": resnet.ResNet152(),
		"resnext50_32x4d": resnet.ResNeXt50x32x4d()} {
		k.NumClasses = c.NumClasses
		if k.String() == c.String() {
			return name
		}
	}
	return ""
}

// releasedArchs are the names CLIPArch and ResNetArch give; another ARCH on --model is a free label, not checked.
var releasedArchs = []string{"rn50", "rn101", "rn50x4", "rn50x16", "rn50x64", "vit-b/32", "vit-b/16", "vit-l/14",
	"vit-l/14@336px", "resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "resnext50_32x4d"}

// checkArch compares the architecture a user named (--model FAMILY:ARCH=FILE) with the one the file holds, when
// ARCH is a released architecture's name.
func checkArch(family, want, got, path string) error {
	if want == "" || strings.EqualFold(want, got) || !slices.Contains(releasedArchs, strings.ToLower(want)) {
		return nil
	}
	if got == "" {
		got = "an architecture without a released name"
	}
	return fmt.Errorf("--model %s:%s=%s: the file holds %s, not %s", family, want, path, got, want)
}
