// Package nn provides portable graph helpers for image models: 2-D convolution (strided, padded, dilated,
// grouped), max and average pooling, global average pooling, batch normalisation in inference form, MEMO's
// batch-norm prior, and axis slicing, all with PyTorch semantics on NHWC images.
//
// Why it exists: GoMLX v0.26.0's pure-Go backend ("go") computes the forward pass of these operations but has no
// gradient for Convolve (its VJP needs op Reverse), Slice and MeanPool (op Pad) or MaxPool (SelectAndScatterMax),
// and its built-in batch-norm ops fail. Test-time adaptation (TPT, MEMO) needs those gradients, and every method must
// run on pure Go. So each helper has two implementations:
//
//   - Native: GoMLX's own ops (graph.Convolve, graph.MaxPool, graph.Slice, ...), used on XLA (CPU or GPU), where
//     they are fast and differentiable.
//   - Portable: a composition of ops whose forward and gradient the pure-Go backend supports: im2col by strided
//     Slices + Concatenate (a custom gradient: the padded sums of the window gradients for stride 1, a ScatterSum
//     otherwise) + DotGeneral for convolution, the same windows + ReduceSum for average pooling, + ReduceMax for
//     max pooling (gradient to the first maximal element, as PyTorch's CPU kernel), row Gather for slicing.
//     Padding is a Concatenate of zeros (or -inf), so no Pad op is needed.
//
// DotGeneral and MatMul are here for the same reason: GoMLX v0.26.0's gradient of DotGeneral (and so of MatMul,
// Einsum and dense layers) materialises a broadcast product of size batch x lhsFree x rhsFree x contracted, which
// XLA fuses away but the pure-Go backend computes; the portable DotGeneral's gradient is two DotGenerals (attached
// with graph.IdentityWithCustomGradient, see withVJP2 in dot.go). Models that train or adapt on pure Go should use
// nn.MatMul / nn.DotGeneral for their dense layers and attention products.
//
// Which one runs is decided per graph, from the capabilities of the graph's backend (see Portable and Impl):
// ImplAuto (used by the package-level functions) takes the portable path exactly when the backend lacks one of
// the ops Reverse, Pad or SelectAndScatterMax (GoMLX's pure-Go backend), the native path otherwise (XLA, CPU or
// GPU). ImplNative and ImplPortable force one implementation: nn.ImplPortable.Conv2D(x, k, opts).
//
// On the pure-Go backend (2-core CPU) a CIFAR-style ResNet-18 forward + backward on [8, 32, 32, 3] takes ~6 s
// (BenchmarkResNet18ish); the portable convolution's forward + backward takes less time than the native
// forward alone (BenchmarkConv2D).
//
// Speed on the pure-Go backend, with the same bits: that backend runs the ops one after the other in the order
// they were created, each over whole tensors with per-element loops, and its matrix kernels are about half of a
// MEMO step. The rest is data movement, which the portable path keeps down: an Identity, Reshape or StopGradient
// copies its input unless it is that input's last reader, so the custom gradients are wired to read each operand
// once (withVJP2); operands of the plain matrix kernel are transposed by a Transpose, about twice as fast as the
// kernel's own per-element relayout (plainDot); im2col uses Slices, about twice as fast as an element-by-element
// Gather. On the embedded ResNet's MEMO step (64 views, BenchmarkEmbeddedSeedMEMOTopK in tta/memo, one core) these
// took the step from about 650 ms to about 500 ms; the kernels (about 5 GFLOPS) are the floor. Every change is
// checked to give the same bits (TestWindowsSameBits, TestProductSameBits, the report's records).
//
// Layouts: images are [batch, height, width, channels]; convolution kernels are
// [kernelHeight, kernelWidth, inChannels/groups, outChannels] (a PyTorch OIHW weight w maps to
// w.permute(2, 3, 1, 0)).
//
// Usage:
//
//	// x: [N, 224, 224, 3]; k: [7, 7, 3, 64]
//	y := nn.Conv2D(x, k, nn.ConvOpts{Stride: 2, Padding: 3}) // [N, 112, 112, 64]
//	y = nn.BatchNorm(y, gamma, beta, runMean, runVar, 1e-5)
//	y = nn.MaxPool2D(activations.Relu(y), 3, 2, 1) // [N, 56, 56, 64]
//	f := nn.GlobalAvgPool(y)                 // [N, 64]
//
// MEMO's batch-norm prior (Zhang, Levine, Finn, "MEMO: Test Time Robustness via Adaptation and Augmentation",
// NeurIPS 2022, and Schneider et al., "Improving robustness against common corruptions by covariate shift
// adaptation", NeurIPS 2020) is BatchNormPrior.
package nn
