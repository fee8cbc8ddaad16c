package clip

import "fmt"

// op is how a file tensor becomes a context variable.
type op int

const (
	opCopy   op = iota // as stored
	opT                // 2-D transpose: torch Linear [out, in] -> [in, out]
	opConv             // torch OIHW -> HWIO
	opRowsT            // rows [part*n, (part+1)*n) of a packed [3n, n] in_proj weight, then transposed
	opSeg              // elements [part*n, (part+1)*n) of a packed [3n] in_proj bias
	opIgnore           // a known buffer with no role in inference (num_batches_tracked, position_ids): read, checked, dropped
)

// entry maps one context variable (scope under the model's root scope, name) to its source tensor in the file.
type entry struct {
	scope    string // e.g. "visual/layer1/0/conv1" ("" for the root)
	name     string // variable name, e.g. "weight"
	src      string // file tensor name
	srcShape []int  // shape in the file
	op       op
	part     int // for opRowsT / opSeg: 0=q, 1=k, 2=v
}

// varShape returns the shape of the context variable made from e.
func (e entry) varShape() []int {
	s := e.srcShape
	switch e.op {
	case opT:
		return []int{s[1], s[0]}
	case opConv:
		return []int{s[2], s[3], s[1], s[0]}
	case opRowsT:
		return []int{s[1], s[1]}
	case opSeg:
		return []int{s[0] / 3}
	}
	return s
}

// table lists the entries of every tensor a file of config c must hold, in a stable order.
type table struct{ entries []entry }

func (t *table) add(scope, name, src string, shape []int, o op) {
	t.entries = append(t.entries, entry{scope: scope, name: name, src: src, srcShape: shape, op: o})
}

// norm adds weight and bias [w] (LayerNorm, or BatchNorm's affine part).
func (t *table) norm(scope, src string, w int) {
	t.add(scope, "weight", src+".weight", []int{w}, opCopy)
	t.add(scope, "bias", src+".bias", []int{w}, opCopy)
}

// bn adds a BatchNorm2d: weight, bias, running_mean, running_var [w].
func (t *table) bn(scope, src string, w int) {
	t.norm(scope, src, w)
	t.add(scope, "running_mean", src+".running_mean", []int{w}, opCopy)
	t.add(scope, "running_var", src+".running_var", []int{w}, opCopy)
}

// linear adds a torch Linear [out, in] (+ bias [out]) as weight [in, out].
func (t *table) linear(scope, src string, in, out int, bias bool) {
	t.add(scope, "weight", src+".weight", []int{out, in}, opT)
	if bias {
		t.add(scope, "bias", src+".bias", []int{out}, opCopy)
	}
}

// conv adds a bias-free torch Conv2d weight [out, in, k, k] as [k, k, in, out].
func (t *table) conv(scope, src string, in, out, k int) {
	t.add(scope, "weight", src+".weight", []int{out, in, k, k}, opConv)
}

// packedAttn adds torch nn.MultiheadAttention (in_proj_weight [3w, w], in_proj_bias [3w], out_proj) as the
// variables q/k/v_weight [w, w], q/k/v_bias [w], out_weight [w, w], out_bias [w].
func (t *table) packedAttn(scope, src string, w int) {
	for part, n := range []string{"q", "k", "v"} {
		t.entries = append(t.entries,
			entry{scope: scope, name: n + "_weight", src: src + ".in_proj_weight", srcShape: []int{3 * w, w}, op: opRowsT, part: part},
			entry{scope: scope, name: n + "_bias", src: src + ".in_proj_bias", srcShape: []int{3 * w}, op: opSeg, part: part})
	}
	t.add(scope, "out_weight", src+".out_proj.weight", []int{w, w}, opT)
	t.add(scope, "out_bias", src+".out_proj.bias", []int{w}, opCopy)
}

// splitAttn adds separate q/k/v/out Linear layers (HF self_attn, OpenAI attnpool) under the variable names of
// packedAttn; names maps "q","k","v","out" to the source prefixes; outDim is the output width of "out".
func (t *table) splitAttn(scope string, names map[string]string, w, outDim int) {
	for _, n := range []string{"q", "k", "v"} {
		t.add(scope, n+"_weight", names[n]+".weight", []int{w, w}, opT)
		t.add(scope, n+"_bias", names[n]+".bias", []int{w}, opCopy)
	}
	t.add(scope, "out_weight", names["out"]+".weight", []int{outDim, w}, opT)
	t.add(scope, "out_bias", names["out"]+".bias", []int{outDim}, opCopy)
}

// openAIBlock adds one ResidualAttentionBlock of width w.
func (t *table) openAIBlock(scope, src string, w int) {
	t.norm(scope+"/ln_1", src+".ln_1", w)
	t.packedAttn(scope+"/attn", src+".attn", w)
	t.norm(scope+"/ln_2", src+".ln_2", w)
	t.linear(scope+"/mlp/c_fc", src+".mlp.c_fc", w, 4*w, true)
	t.linear(scope+"/mlp/c_proj", src+".mlp.c_proj", 4*w, w, true)
}

// hfBlock adds one HF CLIPEncoderLayer of width w into the same variables as openAIBlock.
func (t *table) hfBlock(scope, src string, w int) {
	t.norm(scope+"/ln_1", src+".layer_norm1", w)
	t.splitAttn(scope+"/attn", map[string]string{"q": src + ".self_attn.q_proj", "k": src + ".self_attn.k_proj",
		"v": src + ".self_attn.v_proj", "out": src + ".self_attn.out_proj"}, w, w)
	t.norm(scope+"/ln_2", src+".layer_norm2", w)
	t.linear(scope+"/mlp/c_fc", src+".mlp.fc1", w, 4*w, true)
	t.linear(scope+"/mlp/c_proj", src+".mlp.fc2", 4*w, w, true)
}

// buildTable returns every tensor that a file of config c must hold and the variable each becomes. Variables
// follow OpenAI's module structure whatever the naming (HF files are mapped onto it).
func buildTable(c Config) *table {
	t := &table{}
	if c.Naming == NamingHF {
		buildHF(t, c)
	} else {
		buildOpenAI(t, c)
	}
	return t
}

func buildOpenAI(t *table, c Config) {
	tw, e := c.TextWidth, c.EmbedDim
	if c.Vision == ResNet {
		w := c.VisionWidth
		t.conv("visual/conv1", "visual.conv1", 3, w/2, 3)
		t.bn("visual/bn1", "visual.bn1", w/2)
		t.conv("visual/conv2", "visual.conv2", w/2, w/2, 3)
		t.bn("visual/bn2", "visual.bn2", w/2)
		t.conv("visual/conv3", "visual.conv3", w/2, w, 3)
		t.bn("visual/bn3", "visual.bn3", w)
		inplanes := w
		for stage := 0; stage < 4; stage++ {
			planes := w << stage
			stride := 1
			if stage > 0 {
				stride = 2
			}
			for b := 0; b < c.VisionLayers[stage]; b++ {
				scope := fmt.Sprintf("visual/layer%d/%d", stage+1, b)
				src := fmt.Sprintf("visual.layer%d.%d", stage+1, b)
				t.conv(scope+"/conv1", src+".conv1", inplanes, planes, 1)
				t.bn(scope+"/bn1", src+".bn1", planes)
				t.conv(scope+"/conv2", src+".conv2", planes, planes, 3)
				t.bn(scope+"/bn2", src+".bn2", planes)
				t.conv(scope+"/conv3", src+".conv3", planes, 4*planes, 1)
				t.bn(scope+"/bn3", src+".bn3", 4*planes)
				if b == 0 && (stride > 1 || inplanes != 4*planes) {
					t.conv(scope+"/downsample/0", src+".downsample.0", inplanes, 4*planes, 1)
					t.bn(scope+"/downsample/1", src+".downsample.1", 4*planes)
				}
				inplanes = 4 * planes
			}
		}
		d := 32 * w
		spatial := c.ImageResolution / 32
		t.add("visual/attnpool", "positional_embedding", "visual.attnpool.positional_embedding",
			[]int{spatial*spatial + 1, d}, opCopy)
		t.splitAttn("visual/attnpool", map[string]string{"q": "visual.attnpool.q_proj", "k": "visual.attnpool.k_proj",
			"v": "visual.attnpool.v_proj", "out": "visual.attnpool.c_proj"}, d, e)
	} else {
		w, p := c.VisionWidth, c.VisionPatchSize
		grid := c.ImageResolution / p
		t.conv("visual/conv1", "visual.conv1", 3, w, p)
		t.add("visual", "class_embedding", "visual.class_embedding", []int{w}, opCopy)
		t.add("visual", "positional_embedding", "visual.positional_embedding", []int{grid*grid + 1, w}, opCopy)
		t.norm("visual/ln_pre", "visual.ln_pre", w)
		for i := 0; i < c.VisionLayers[0]; i++ {
			t.openAIBlock(fmt.Sprintf("visual/transformer/resblocks/%d", i), fmt.Sprintf("visual.transformer.resblocks.%d", i), w)
		}
		t.norm("visual/ln_post", "visual.ln_post", w)
		t.add("visual", "proj", "visual.proj", []int{w, e}, opCopy)
	}
	t.add("token_embedding", "weight", "token_embedding.weight", []int{c.VocabSize, tw}, opCopy)
	t.add("", "positional_embedding", "positional_embedding", []int{c.ContextLength, tw}, opCopy)
	for i := 0; i < c.TextLayers; i++ {
		t.openAIBlock(fmt.Sprintf("transformer/resblocks/%d", i), fmt.Sprintf("transformer.resblocks.%d", i), tw)
	}
	t.norm("ln_final", "ln_final", tw)
	t.add("", "text_projection", "text_projection", []int{tw, e}, opCopy)
	t.add("", "logit_scale", "logit_scale", []int{}, opCopy)
}

func buildHF(t *table, c Config) {
	tw, e := c.TextWidth, c.EmbedDim
	w, p := c.VisionWidth, c.VisionPatchSize
	grid := c.ImageResolution / p
	t.conv("visual/conv1", "vision_model.embeddings.patch_embedding", 3, w, p)
	t.add("visual", "class_embedding", "vision_model.embeddings.class_embedding", []int{w}, opCopy)
	t.add("visual", "positional_embedding", "vision_model.embeddings.position_embedding.weight", []int{grid*grid + 1, w}, opCopy)
	t.norm("visual/ln_pre", "vision_model.pre_layrnorm", w)
	for i := 0; i < c.VisionLayers[0]; i++ {
		t.hfBlock(fmt.Sprintf("visual/transformer/resblocks/%d", i), fmt.Sprintf("vision_model.encoder.layers.%d", i), w)
	}
	t.norm("visual/ln_post", "vision_model.post_layernorm", w)
	t.add("visual", "proj", "visual_projection.weight", []int{e, w}, opT)
	t.add("token_embedding", "weight", "text_model.embeddings.token_embedding.weight", []int{c.VocabSize, tw}, opCopy)
	t.add("", "positional_embedding", "text_model.embeddings.position_embedding.weight", []int{c.ContextLength, tw}, opCopy)
	for i := 0; i < c.TextLayers; i++ {
		t.hfBlock(fmt.Sprintf("transformer/resblocks/%d", i), fmt.Sprintf("text_model.encoder.layers.%d", i), tw)
	}
	t.norm("ln_final", "text_model.final_layer_norm", tw)
	t.add("", "text_projection", "text_projection.weight", []int{e, tw}, opT)
	t.add("", "logit_scale", "logit_scale", []int{}, opCopy)
}

// ignorable returns the known inference-irrelevant buffers that a file may carry, with their expected shapes:
// BatchNorm's num_batches_tracked (scalar), the scalars input_resolution, context_length, vocab_size of OpenAI's
// JIT archives, and HF's embeddings.position_ids [1, n]. Any other extra tensor is an error.
func ignorable(name string, shape []int) bool {
	switch {
	case len(shape) == 0 && (hasSuffix(name, ".num_batches_tracked") || name == "input_resolution" ||
		name == "context_length" || name == "vocab_size"):
		return true
	case (name == "text_model.embeddings.position_ids" || name == "vision_model.embeddings.position_ids") &&
		len(shape) == 2 && shape[0] == 1:
		return true
	}
	return false
}

func hasSuffix(s, suffix string) bool {
	return len(s) >= len(suffix) && s[len(s)-len(suffix):] == suffix
}
