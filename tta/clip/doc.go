// Package clip is OpenAI's CLIP in GoMLX: both image towers (ModifiedResNet: RN50, RN101, RN50x4/x16/x64;
// VisionTransformer: ViT-B/32, ViT-B/16, ViT-L/14, ViT-L/14@336px), the text transformer, and the zero-shot head,
// loaded strictly from safetensors files with OpenAI/open_clip or Hugging Face CLIPModel tensor names.
//
// Paper: A. Radford et al., "Learning Transferable Visual Models From Natural Language Supervision", ICML 2021.
// The graphs follow openai/CLIP `clip/model.py` layer by layer and are checked against it (testdata/README.md).
//
// Usage:
//
//	m, err := clip.Load("open_clip_model.safetensors", clip.LoadOpts{}) // config derived from tensor shapes
//	if err != nil { return err }
//	tok, err := tokenizer.OpenAI()                                         // tta/clip/tokenizer, embedded
//	zs := clip.NewZeroShot(backend.MustNew(), m, tok)
//	text, err := zs.TextFeatures(classNames, []string{"a photo of a {}."}) // [C][EmbedDim], L2-normalised
//	images, err := m.PreprocessFiles([]string{"cat.jpg", "dog.jpg"})     // [N, R, R, 3] float32, NHWC
//	feats, err := zs.ImageFeatures(images)                                 // [N][EmbedDim]
//	scale, err := m.LogitScaleValue()
//	logits := clip.LogitsHost(feats, text, scale)                          // [N][C]
//
// In a graph (an adapter's step), the towers are methods taking the context that holds the variables:
//
//	exec, err := context.NewExec(b, m.Ctx, func(ctx *context.Context, images, tokens *graph.Node) *graph.Node {
//		return m.Logits(ctx, m.EncodeImage(ctx, images), m.EncodeText(ctx, tokens)) // [N, T]
//	})
//
// Architecture: Config is derived from tensor shapes exactly as OpenAI's build_model does (ViT when `visual.proj`
// is present; heads = width/64, for the ResNet attnpool width*32/64), and a file's `__metadata__` may override any
// field (MetadataKeys; e.g. "vision_heads": "2", "text_heads": "2" for tiny test models).
//
// Variables live in a GoMLX context under LoadOpts.Scope ("/clip"), following OpenAI's module tree
// (visual/layer1/0/conv1/weight, transformer/resblocks/3/attn/q_weight, ...), in GoMLX layouts: conv kernels
// [kh, kw, in, out], Linear weights [in, out], attention q/k/v projections split. They are frozen (not trainable)
// unless LoadOpts.Trainable.
//
// Text: EncodeText takes token ids [T, L] with L <= ContextLength: tokens after EOT cannot influence the EOT
// feature under the causal mask, so the context may be cut to the longest prompt (exact; ZeroShot does it).
// EncodeTextEmbeddings takes token embeddings directly (TPT's learned context) with the EOT positions.
//
// Numerics: LayerNorm eps 1e-5 (statistics in float32), BatchNorm in inference form (running statistics, eps 1e-5;
// EncodeImageTrain: torch's training form, batch statistics and momentum-0.1 running updates), attention scale
// 1/sqrt(head_dim), QuickGELU, additive causal mask precomputed per context length. Compute is float32 by default;
// LoadOpts.DType = BFloat16 is an option. On XLA GPUs float32 dots use TF32 by default (about 1e-3 relative error);
// NVIDIA_TF32_OVERRIDE=0 with XLA_FLAGS=--xla_gpu_enable_triton_gemm=false gave float32 results within the golden
// tolerances on an H100.
//
// Matrix products go through tta/nn's portable DotGeneral on every backend (Model.NativeMatMulGradient to change
// it): GoMLX v0.26.0's own DotGeneral gradient is a broadcast product, slow on pure Go and, on an H100, the cause
// of minutes-long XLA compiles of the text tower's gradient (>65 s vs 5.3 s measured, 200 prompts x 20 tokens).
//
// The ViT patch embedding (conv1, kernel = stride = patch) is computed as a matmul over flattened patches, which is
// exact; GoMLX v0.26.0's native Convolve gradient misplaces the input gradient for even kernel sizes (its reverse
// padding assumes a centred kernel), which gave wrong d/d(images) on XLA with a native 8x8 stride-8 convolution.
package clip
