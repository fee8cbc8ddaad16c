// Package augment makes model inputs from images: PIL-exact resizing, the model preprocessing of CLIP and
// torchvision ResNets, and the test-time-augmentation views of TPT and MEMO (random resized crop + flip,
// AugMix, identity), on the host (a worker pool over CPU cores) or, for crops, inside a GoMLX graph.
//
// Everything on the host works on [RGB], an 8-bit HWC image, because PIL does: its resampling rounds to uint8
// after each pass, and torchvision's AugMix rounds after each op. [Resize] reproduces Pillow's
// `Image.resize` (separable convolution with the filter support scaled by the downscale factor, 22-bit
// fixed-point coefficients, horizontal pass then vertical), [ResizeShorter] and [CenterCrop] reproduce
// torchvision's `Resize(int)` and `CenterCrop`, and [Preprocess] adds `ToTensor` + `Normalize` to give
// float32 [S, S, 3] (HWC; a batch of views is NHWC).
//
// Views (TPT: Shu et al., "Test-Time Prompt Tuning for Zero-Shot Generalization in Vision-Language Models",
// NeurIPS 2022; MEMO: Zhang, Levine, Finn, "MEMO: Test Time Robustness via Adaptation and Augmentation",
// NeurIPS 2022): view 0 is the base preprocessing of the image; views 1..N-1 are random views drawn from an
// RNG derived from (seed, example id, view index), so results do not depend on worker count or sharding.
//
// Usage:
//
//	img := augment.FromImage(decoded)                        // any image.Image
//	v := augment.Views{N: 64, Kind: augment.RandomResizedCrop, Seed: 0, Preprocess: augment.CLIP(224)}
//	batch, err := v.Generate(img, "imagenet-a/val/123.jpg")  // float32 [64, 224, 224, 3]
//
// For a GPU, [SampleCropBoxes] draws the same crops on the host and [Views.CropRegions] turns the views of
// Kind RandomResizedCrop or Identity into N x 8 floats; [CropResizeRegionsGraph] builds PIL's antialiased
// weight matrices [N, S, W] and [N, S, H] from them in the graph and [CropResizeGraph] applies them as two
// batched matmuls (horizontal pass, clip, vertical pass, clip): one image upload, all views out, within about
// 1 level of the host path (which rounds to uint8 after each pass as PIL does). [Views.CropResizeWeights]
// builds the same matrices on the host instead.
//
//	regions, _ := v.CropRegions(img.W, img.H, id)                  // [N, 2, 4]
//	base, view := v.GraphFilters()
//	// in the graph: img [H, W, 3] float 0..255, regions [N, 2, 4]
//	views := augment.NormalizeGraph(augment.CropResizeRegionsGraph(img, regions, 224, base, view),
//		v.Preprocess.Mean, v.Preprocess.Std)                       // [N, 224, 224, 3]
//
// The tests compare against Pillow 9.4 / torchvision 0.14 outputs in testdata/ (gen_golden.py): Resize and
// Preprocess are bit-exact, AugMix ops within 1 level.
package augment
