package clip

import (
	"math"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/layers/activations"
	"github.com/gotta-ml/gotta/tta/nn"
)

// batchNormEps is torch.nn.BatchNorm2d's default epsilon.
const batchNormEps = 1e-5

// root returns ctx moved to the model's scope.
func (m *Model) root(ctx *context.Context) *context.Context { return ctx.InAbsPath(m.Scope) }

// BatchNormMomentum is torch's BatchNorm2d momentum, with which EncodeImageTrain updates the running statistics:
// running = (1 - momentum) running + momentum batch.
const BatchNormMomentum = 0.1

// EncodeImage is CLIP's image encoder (`encode_image`): images [N, R, R, 3] preprocessed (NHWC, CLIP mean/std
// normalised, R = Config.ImageResolution) -> unnormalised image features [N, EmbedDim], float32.
func (m *Model) EncodeImage(ctx *context.Context, images *Node) *Node {
	return m.encodeImage("clip.EncodeImage", ctx, images, false)
}

// EncodeImageTrain is EncodeImage with the ModifiedResNet's BatchNorm in training mode, as torch's model.train():
// every BatchNorm normalises with the batch mean and biased variance over [N, H, W] and updates its running_mean
// and running_var (with the unbiased batch variance) by BatchNormMomentum; the updates are SetValueGraph of the
// context's variables, applied when the executable runs. The statistics are computed in float32. The ViT has no
// BatchNorm: for it this is EncodeImage. images [N, R, R, 3] -> [N, EmbedDim], float32. The seed project's TPT
// alignment (tta/tpt) trains the tower through it.
func (m *Model) EncodeImageTrain(ctx *context.Context, images *Node) *Node {
	return m.encodeImage("clip.EncodeImageTrain", ctx, images, true)
}

func (m *Model) encodeImage(fn string, ctx *context.Context, images *Node, train bool) *Node {
	r := m.Config.ImageResolution
	if images.Rank() != 4 || images.Shape().Dimensions[1] != r || images.Shape().Dimensions[2] != r ||
		images.Shape().Dimensions[3] != 3 {
		panicf("%s: images must be [N, %d, %d, 3], got %s", fn, r, r, images.Shape())
	}
	x := graph.ConvertDType(images, m.DType)
	c := m.root(ctx).In("visual")
	if m.Config.Vision == ResNet {
		x = m.modifiedResNet(c, x, train)
	} else {
		x = m.visionTransformer(c, x)
	}
	return graph.ConvertDType(x, f32)
}

// convBN is conv (no bias) then BatchNorm (inference form, or training form when train), with the variables of
// ctx's convName and bnName scopes. x: [N, H, W, Cin] -> [N, H', W', Cout].
func convBN(im ops, ctx *context.Context, convName, bnName string, x *Node, stride, padding int, train bool) *Node {
	g := x.Graph()
	x = im.Conv2D(x, param(ctx.In(convName), g, "weight"), nn.ConvOpts{Stride: stride, Padding: padding})
	b := ctx.In(bnName)
	if train {
		return batchNormTrain(b, x)
	}
	return nn.BatchNorm(x, param(b, g, "weight"), param(b, g, "bias"), param(b, g, "running_mean"),
		param(b, g, "running_var"), batchNormEps)
}

// batchNormTrain is torch's BatchNorm2d in training mode with the variables weight, bias, running_mean and
// running_var of ctx: x [N, H, W, C] is normalised with its batch mean and biased variance over [N, H, W]
// (computed in float32), and the running statistics are updated with the unbiased variance and BatchNormMomentum.
func batchNormTrain(ctx *context.Context, x *Node) *Node {
	g := x.Graph()
	dims := x.Shape().Dimensions
	c := dims[len(dims)-1]
	count := x.Shape().Size() / c
	if count < 2 {
		panicf("clip.batchNormTrain: training-mode BatchNorm needs more than one value per channel, got %s", x.Shape())
	}
	flat := graph.Reshape(graph.ConvertDType(x, f32), count, c)           // [count, C]
	mean := graph.ReduceAndKeep(flat, graph.ReduceMean, 0)                // [1, C]
	d := graph.Sub(flat, mean)                                            // [count, C]
	variance := graph.ReduceAndKeep(graph.Square(d), graph.ReduceMean, 0) // [1, C], biased
	// Div by Sqrt, not Rsqrt: Rsqrt has no gradient in GoMLX v0.26.0.
	y := graph.Div(d, graph.Sqrt(graph.AddScalar(variance, batchNormEps)))
	w := graph.ConvertDType(param(ctx, g, "weight"), f32)
	b := graph.ConvertDType(param(ctx, g, "bias"), f32)
	y = graph.Add(graph.Mul(y, graph.Reshape(w, 1, c)), graph.Reshape(b, 1, c)) // [count, C]
	batchMean := graph.StopGradient(graph.Reshape(mean, c))
	batchVar := graph.StopGradient(graph.MulScalar(graph.Reshape(variance, c), float64(count)/float64(count-1)))
	for _, u := range []struct {
		name  string
		batch *Node
	}{{"running_mean", batchMean}, {"running_var", batchVar}} {
		v := ctx.GetVariableByScopeAndName(ctx.Scope(), u.name)
		if v == nil {
			panicf("clip: variable %s/%s missing from the context (was the model loaded into it?)", ctx.Scope(), u.name)
		}
		old := v.ValueGraph(g)
		upd := graph.Add(graph.MulScalar(graph.ConvertDType(old, f32), 1-BatchNormMomentum),
			graph.MulScalar(u.batch, BatchNormMomentum))
		v.SetValueGraph(graph.ConvertDType(upd, old.DType()))
	}
	return graph.ConvertDType(graph.Reshape(y, dims...), x.DType()) // [N, H, W, C]
}

// modifiedResNet is OpenAI's ModifiedResNet: 3-conv stem, avgpool 2, 4 stages of Bottlenecks with anti-aliased
// (avgpool) strides, AttentionPool2d; BatchNorm in training form when train. x: [N, R, R, 3] -> [N, EmbedDim].
func (m *Model) modifiedResNet(ctx *context.Context, x *Node, train bool) *Node {
	cfg, im := m.Config, m.ops()
	x = activations.Relu(convBN(im, ctx, "conv1", "bn1", x, 2, 1, train)) // [N, R/2, R/2, width/2]
	x = activations.Relu(convBN(im, ctx, "conv2", "bn2", x, 1, 1, train))
	x = activations.Relu(convBN(im, ctx, "conv3", "bn3", x, 1, 1, train)) // [N, R/2, R/2, width]
	x = im.AvgPool2D(x, 2, 2, 0)                                          // [N, R/4, R/4, width]
	inplanes := cfg.VisionWidth
	for stage := 0; stage < 4; stage++ {
		planes := cfg.VisionWidth << stage
		stride := 1
		if stage > 0 {
			stride = 2
		}
		for b := 0; b < cfg.VisionLayers[stage]; b++ {
			s := 1
			if b == 0 {
				s = stride
			}
			down := b == 0 && (stride > 1 || inplanes != 4*planes)
			x = bottleneck(im, ctx.Inf("layer%d", stage+1).Inf("%d", b), x, s, down, train)
			inplanes = 4 * planes
		}
	} // [N, R/32, R/32, 32*width]
	return attentionPool(im, ctx.In("attnpool"), x, cfg.VisionHeads)
}

// bottleneck is OpenAI's Bottleneck (expansion 4): 1x1, 3x3, avgpool(stride), 1x1, with a downsample branch
// avgpool(stride) + 1x1 conv + BN; BatchNorm in training form when train.
// x: [N, H, W, Cin] -> [N, H/stride, W/stride, 4*planes].
func bottleneck(im ops, ctx *context.Context, x *Node, stride int, downsample, train bool) *Node {
	out := activations.Relu(convBN(im, ctx, "conv1", "bn1", x, 1, 0, train))
	out = activations.Relu(convBN(im, ctx, "conv2", "bn2", out, 1, 1, train))
	if stride > 1 {
		out = im.AvgPool2D(out, stride, stride, 0)
	}
	out = convBN(im, ctx, "conv3", "bn3", out, 1, 0, train)
	identity := x
	if downsample {
		if stride > 1 {
			identity = im.AvgPool2D(identity, stride, stride, 0)
		}
		identity = convBN(im, ctx.In("downsample"), "0", "1", identity, 1, 0, train)
	}
	return activations.Relu(graph.Add(out, identity))
}

// attentionPool is OpenAI's AttentionPool2d: tokens = [mean of the HW tokens, HW tokens] + positional embedding,
// multi-head attention with the mean token as the only query, then c_proj.
// x: [N, H, W, C] -> [N, outDim].
func attentionPool(im ops, ctx *context.Context, x *Node, heads int) *Node {
	g := x.Graph()
	n, h, w, c := x.Shape().Dimensions[0], x.Shape().Dimensions[1], x.Shape().Dimensions[2], x.Shape().Dimensions[3]
	pos := param(ctx, g, "positional_embedding") // [HW+1, C]
	if pos.Shape().Dimensions[0] != h*w+1 || pos.Shape().Dimensions[1] != c {
		panicf("clip.attentionPool: feature map %s does not fit positional_embedding %s", x.Shape(), pos.Shape())
	}
	tokens := graph.Reshape(x, n, h*w, c)                    // [N, HW, C]
	mean := graph.ReduceAndKeep(tokens, graph.ReduceMean, 1) // [N, 1, C]
	kv := graph.Concatenate([]*Node{mean, tokens}, 1)        // [N, HW+1, C]
	kv = graph.Add(kv, graph.Reshape(graph.ConvertDType(pos, kv.DType()), 1, h*w+1, c))
	pos0 := im.SliceAxis(graph.ConvertDType(pos, kv.DType()), 0, 0, 1, 1) // [1, C]
	query := graph.Add(mean, graph.Reshape(pos0, 1, 1, c))                // [N, 1, C]
	out := attention(im, ctx, query, kv, heads, nil)                      // [N, 1, outDim]
	return graph.Reshape(out, n, out.Shape().Dimensions[2])
}

// visionTransformer is OpenAI's VisionTransformer: patch conv, class token, positional embedding, ln_pre,
// resblocks, ln_post of the class token, proj. x: [N, R, R, 3] -> [N, EmbedDim].
func (m *Model) visionTransformer(ctx *context.Context, x *Node) *Node {
	cfg, im := m.Config, m.ops()
	g := x.Graph()
	p, w := cfg.VisionPatchSize, cfg.VisionWidth
	x = patchEmbed(im, x, param(ctx.In("conv1"), g, "weight"), p) // [N, grid**2, width]
	n, grid := x.Shape().Dimensions[0], cfg.ImageResolution/p
	cls := graph.BroadcastToDims(graph.Reshape(param(ctx, g, "class_embedding"), 1, 1, w), n, 1, w)
	x = graph.Concatenate([]*Node{cls, x}, 1) // [N, grid**2 + 1, width]
	x = graph.Add(x, graph.Reshape(param(ctx, g, "positional_embedding"), 1, grid*grid+1, w))
	x = layerNorm(ctx.In("ln_pre"), x)
	x = transformer(im, ctx.In("transformer"), x, cfg.VisionLayers[0], cfg.VisionHeads, nil)
	x = graph.Reshape(im.SliceAxis(x, 1, 0, 1, 1), n, w) // class token [N, width]
	x = layerNorm(ctx.In("ln_post"), x)
	return im.MatMul(x, param(ctx, g, "proj")) // [N, EmbedDim]
}

// patchEmbed is the ViT's conv1 (kernel = stride = patch, no padding, no bias) computed exactly as a matmul over
// flattened patches: x [N, R, R, 3], kernel [p, p, 3, width] -> [N, (R/p)**2, width] in row-major patch order (as
// torch's conv output flattened). One DotGeneral instead of a convolution: fast on every backend, and its gradient
// is right everywhere (GoMLX v0.26.0's native Convolve gradient misplaces the input gradient of even-sized kernels,
// measured on XLA; see the package doc).
func patchEmbed(im ops, x, kernel *Node, p int) *Node {
	n, r, c := x.Shape().Dimensions[0], x.Shape().Dimensions[1], x.Shape().Dimensions[3]
	width := kernel.Shape().Dimensions[3]
	if r%p != 0 || kernel.Shape().Dimensions[0] != p || kernel.Shape().Dimensions[1] != p || kernel.Shape().Dimensions[2] != c {
		panicf("clip.patchEmbed: images %s do not fit patch kernel %s", x.Shape(), kernel.Shape())
	}
	grid := r / p
	x = graph.Reshape(x, n, grid, p, grid, p, c)               // [N, gy, py, gx, px, 3]
	x = graph.TransposeAllAxes(x, 0, 1, 3, 2, 4, 5)            // [N, gy, gx, py, px, 3]
	x = graph.Reshape(x, n*grid*grid, p*p*c)                   // [N*grid**2, p*p*3]
	k := graph.Reshape(kernel, p*p*c, width)                   // [p*p*3, width]
	return graph.Reshape(im.MatMul(x, k), n, grid*grid, width) // [N, grid**2, width]
}

// TokenEmbeddingTable returns CLIP's token embedding table [VocabSize, TextWidth] (TPT embeds its prompts with it).
func (m *Model) TokenEmbeddingTable(ctx *context.Context, g *graph.Graph) *Node {
	return param(m.root(ctx).In("token_embedding"), g, "weight")
}

// TokenEmbedding embeds token ids: tokens [T, L] (any integer dtype) -> [T, L, TextWidth].
func (m *Model) TokenEmbedding(ctx *context.Context, tokens *Node) *Node {
	if tokens.Rank() != 2 || !tokens.DType().IsInt() {
		panicf("clip.TokenEmbedding: tokens must be integer [T, L], got %s", tokens.Shape())
	}
	table := m.TokenEmbeddingTable(ctx, tokens.Graph())
	return graph.Gather(table, graph.InsertAxes(tokens, -1)) // [T, L, width]
}

// EncodeText is CLIP's text encoder (`encode_text`): tokens [T, L] (integer ids, SOT ... EOT then zeros; L <=
// ContextLength) -> unnormalised text features [T, EmbedDim], float32, taken at the EOT position (the argmax of
// the ids, as OpenAI does). L may be shorter than ContextLength (cut to the longest prompt): under the causal mask
// the result is the same as with the full context.
func (m *Model) EncodeText(ctx *context.Context, tokens *Node) *Node {
	x := m.TokenEmbedding(ctx, tokens)
	eot := graph.ArgMax(tokens, -1, dtypes.Int32) // [T]
	return m.EncodeTextEmbeddings(ctx, x, eot)
}

// EncodeTextEmbeddings runs the text transformer from token embeddings: embeds [T, L, TextWidth] (L <=
// ContextLength; the first L positional embeddings are added), eotIndex [T] integer positions of the EOT token ->
// text features [T, EmbedDim], float32. TPT feeds learned context embeddings here.
func (m *Model) EncodeTextEmbeddings(ctx *context.Context, embeds, eotIndex *Node) *Node {
	cfg, im := m.Config, m.ops()
	if embeds.Rank() != 3 || embeds.Shape().Dimensions[2] != cfg.TextWidth || embeds.Shape().Dimensions[1] > cfg.ContextLength {
		panicf("clip.EncodeTextEmbeddings: embeds must be [T, L<=%d, %d], got %s", cfg.ContextLength,
			cfg.TextWidth, embeds.Shape())
	}
	t, l := embeds.Shape().Dimensions[0], embeds.Shape().Dimensions[1]
	if eotIndex.Rank() != 1 || eotIndex.Shape().Dimensions[0] != t || !eotIndex.DType().IsInt() {
		panicf("clip.EncodeTextEmbeddings: eotIndex must be integer [%d], got %s", t, eotIndex.Shape())
	}
	c := m.root(ctx)
	g := embeds.Graph()
	x := graph.ConvertDType(embeds, m.DType)
	pos := param(c, g, "positional_embedding") // [ContextLength, width]
	if l < cfg.ContextLength {
		pos = im.SliceAxis(pos, 0, 0, l, 1) // [L, width]
	}
	x = graph.Add(x, graph.Reshape(graph.ConvertDType(pos, m.DType), 1, l, cfg.TextWidth))
	x = transformer(im, c.In("transformer"), x, cfg.TextLayers, cfg.TextHeads, causalMask(g, l, m.DType))
	x = layerNorm(c.In("ln_final"), x)                                // [T, L, width]
	sel := graph.OneHot(eotIndex, l, x.DType())                       // [T, L]
	x = im.DotGeneral(sel, []int{1}, []int{0}, x, []int{1}, []int{0}) // [T, width]
	x = im.MatMul(x, param(c, g, "text_projection"))                  // [T, EmbedDim]
	return graph.ConvertDType(x, f32)
}

// causalMask is the precomputed additive mask [L, L]: 0 on and below the diagonal, -inf above (OpenAI's
// build_attention_mask).
func causalMask(g *graph.Graph, l int, dt dtypes.DType) *Node {
	mask := make([][]float32, l)
	for i := range mask {
		mask[i] = make([]float32, l)
		for j := i + 1; j < l; j++ {
			mask[i][j] = float32(math.Inf(-1))
		}
	}
	return graph.ConvertDType(graph.Const(g, mask), dt)
}

// LogitScale returns exp(logit_scale), a float32 scalar (100 for the released models).
func (m *Model) LogitScale(ctx *context.Context, g *graph.Graph) *Node {
	return graph.Exp(graph.ConvertDType(param(m.root(ctx), g, "logit_scale"), f32))
}

// Normalize divides each row of features [N, E] by its L2 norm.
func Normalize(features *Node) *Node {
	return graph.Div(features, graph.Sqrt(graph.ReduceAndKeep(graph.Square(features), graph.ReduceSum, -1)))
}

// Logits are CLIP's zero-shot logits exp(logit_scale) * norm(imageFeatures) @ norm(textFeatures)^T:
// imageFeatures [N, E], textFeatures [T, E] -> [N, T], float32.
func (m *Model) Logits(ctx *context.Context, imageFeatures, textFeatures *Node) *Node {
	img := Normalize(graph.ConvertDType(imageFeatures, f32))
	txt := Normalize(graph.ConvertDType(textFeatures, f32))
	return graph.Mul(m.LogitScale(ctx, imageFeatures.Graph()), m.ops().DotGeneral(img, []int{1}, nil, txt, []int{1}, nil))
}
