// Package resnet is torchvision's ResNet / ResNeXt (He et al., "Deep Residual Learning for Image Recognition",
// CVPR 2016; Xie et al., "Aggregated Residual Transformations for Deep Neural Networks", CVPR 2017) as a GoMLX
// graph on NHWC images, loading torchvision state dicts strictly. It is the backbone MEMO adapts (Zhang, Levine,
// Finn, "MEMO: Test Time Robustness via Adaptation and Augmentation", NeurIPS 2022): ForwardOpts carries MEMO's
// batch-norm prior, the seed project's MC-dropout and the ImageNet-A class subset.
//
// Architecture: BasicBlock (ResNet-18/34) or Bottleneck (ResNet-50/101/152, ResNeXt) as torchvision v1.5 builds them:
// the stride on the 3x3 convolution, grouped 3x3 convolutions of width int(planes*width_per_group/64)*groups, a
// 1x1 conv + BN downsample shortcut where the stride or channel count changes, 7x7/2 stem + 3x3/2 max pool, global
// average pooling and a linear classifier. The Config is derived from the tensor shapes of a torchvision-named
// state dict (conv1.weight, bn1.*, layerX.Y.convZ.weight, layerX.Y.downsample.{0,1}.*, fc.weight/bias), as OpenAI's
// build_model does for CLIP; presets (ResNet50, ResNeXt50x32x4d, ...) give torchvision's architectures.
//
// Variables live in the context under scopes named after the torchvision modules, relative to the context passed to
// Load: "conv1"/weight [7, 7, 3, 64], "bn1"/{weight, bias, running_mean, running_var}, "layer1/0/conv1"/weight,
// "layer1/0/downsample/0"/weight, "fc"/weight [features, classes], "fc"/bias. Conv kernels are [kh, kw, in/groups,
// out] (torch OIHW transposed on load); the running statistics are not trainable, every other variable is.
//
// Loading is strict: a missing tensor, one no module uses, or one of the wrong shape is an error
// naming the file and the tensor; BN num_batches_tracked tensors are accepted and ignored. F32, F16 and BF16 files
// load; the graph computes in float32.
//
// Usage:
//
//	ctx := context.New()
//	m, err := resnet.Load(ctx, "resnet50.tv_in1k.safetensors") // or resnext50_32x4d
//	if err != nil { return err }
//	exec := context.MustNewExec(backend.MustNew(), ctx, func(ctx *context.Context, x *graph.Node) *graph.Node {
//		return m.Logits(ctx, x, resnet.ForwardOpts{BNPrior: 0.94}) // x: [N, 224, 224, 3] -> [N, 1000]
//	})
//	x, err := resnet.Preprocess(img) // *augment.RGB -> [224, 224, 3]: Resize(256), CenterCrop(224), ImageNet mean/std
//	logits := exec.MustExec1(tensors.FromFlatDataAndDimensions(x, 1, 224, 224, 3))
package resnet
