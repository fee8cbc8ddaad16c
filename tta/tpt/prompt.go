package tpt

import (
	"fmt"
	"strings"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gotta-ml/gotta/tta/clip"
)

// ClassPlaceholder marks where the class name goes in a prompt; the words on both sides become learnable.
const ClassPlaceholder = "[CLS]"

// Tokenizer is what the prompt learner needs from CLIP's tokenizer (tta/clip/tokenizer's *Tokenizer has it).
type Tokenizer interface {
	// EncodeTokens returns the BPE ids of text without SOT, EOT or padding.
	EncodeTokens(text string) []int
	// SOT and EOT are the start and end token ids.
	SOT() int
	EOT() int
}

// PromptLearner lays out the class prompts and the learnable context: for class c, the token ids
// [SOT][prefix ctx][class words][suffix ctx][EOT][pad] cut to the longest prompt, and the positions of the NCtx
// context tokens (prefix then suffix). It is host data; Embeds builds the prompts' embeddings in a graph.
type PromptLearner struct {
	// Classes are the class names, in logit order.
	Classes []string
	// Prompt is the init prompt ("a photo of a", or one with ClassPlaceholder).
	Prompt string
	// NPrefix and NSuffix count the context tokens before and after the class words; NCtx = NPrefix + NSuffix.
	NPrefix, NSuffix, NCtx int
	// Length is the token length of the prompts (the longest prompt, or ContextLength when not cut).
	Length int
	// IDs are the token ids [C][Length] (placeholder words at random-init context positions).
	IDs [][]int
	// EOT is the EOT position of each class [C].
	EOT []int
	// CtxPos are the positions of the context tokens of each class [C][NCtx].
	CtxPos [][]int
	// FullPrompts runs every class's whole prompt through the text tower, instead of the shared prefix once (the
	// reference path for tests: both are exact); default false.
	FullPrompts bool
}

// NewPromptLearner lays out the prompts of classNames from prompt. Without ClassPlaceholder the class goes at the
// end followed by "." (TPT's "a photo of a {class}."); with it, the class replaces the placeholder and no period
// is added (the seed project's split context). nRandom > 0 replaces the prompt by nRandom placeholder words "X"
// before the class (TPT's random init; the values come from elsewhere). contextLength is the model's (77);
// cut = true cuts the prompts to the longest one.
func NewPromptLearner(tok Tokenizer, classNames []string, prompt string, nRandom, contextLength int, cut bool) (*PromptLearner, error) {
	if len(classNames) == 0 {
		return nil, fmt.Errorf("tpt: no class names")
	}
	if nRandom > 0 {
		prompt = strings.TrimSpace(strings.Repeat("X ", nRandom))
	}
	pre, suf, clsMid := prompt, "", false
	if strings.Contains(prompt, ClassPlaceholder) {
		if strings.Count(prompt, ClassPlaceholder) != 1 {
			return nil, fmt.Errorf("tpt: prompt %q has more than one %s", prompt, ClassPlaceholder)
		}
		parts := strings.SplitN(prompt, ClassPlaceholder, 2)
		pre, suf, clsMid = parts[0], parts[1], true
	}
	preIDs, sufIDs := tok.EncodeTokens(pre), tok.EncodeTokens(suf)
	if len(preIDs)+len(sufIDs) == 0 {
		return nil, fmt.Errorf("tpt: prompt %q has no context words to learn", prompt)
	}
	p := &PromptLearner{Classes: classNames, Prompt: prompt, NPrefix: len(preIDs), NSuffix: len(sufIDs),
		NCtx: len(preIDs) + len(sufIDs)}
	maxLen := 0
	for _, c := range classNames {
		text := c
		if !clsMid {
			text = c + "."
		}
		cls := tok.EncodeTokens(text)
		row := append([]int{tok.SOT()}, preIDs...)
		row = append(row, cls...)
		row = append(row, sufIDs...)
		row = append(row, tok.EOT())
		if len(row) > contextLength {
			return nil, fmt.Errorf("tpt: the prompt of class %q has %d tokens, more than the context length %d",
				c, len(row), contextLength)
		}
		pos := make([]int, 0, p.NCtx)
		for j := range preIDs {
			pos = append(pos, 1+j)
		}
		for j := range sufIDs {
			pos = append(pos, 1+len(preIDs)+len(cls)+j)
		}
		p.IDs = append(p.IDs, row)
		p.EOT = append(p.EOT, len(row)-1)
		p.CtxPos = append(p.CtxPos, pos)
		maxLen = max(maxLen, len(row))
	}
	p.Length = contextLength
	if cut {
		p.Length = maxLen
	}
	for i := range p.IDs {
		for len(p.IDs[i]) < p.Length {
			p.IDs[i] = append(p.IDs[i], 0)
		}
	}
	return p, nil
}

// NumClasses is C.
func (p *PromptLearner) NumClasses() int { return len(p.Classes) }

// Embeds builds the prompt embeddings [C, Length, TextWidth] (float32): the token embeddings of IDs with the
// context positions replaced by ctx, which is [NCtx, TextWidth] (shared) or [C, NCtx, TextWidth] (class-specific).
// The gradient flows to ctx only.
func (p *PromptLearner) Embeds(m *clip.Model, ctx *context.Context, ctxNode *Node) *Node {
	return p.embedsRange(m, ctx, ctxNode, p.NumClasses(), 0, p.Length)
}

// embedsRange is Embeds for the first c classes and the positions from..to-1: [c, to-from, TextWidth].
func (p *PromptLearner) embedsRange(m *clip.Model, ctx *context.Context, ctxNode *Node, c, from, to int) *Node {
	g := ctxNode.Graph()
	w := m.Config.TextWidth
	shared := ctxNode.Rank() == 2
	if !(shared && ctxNode.Shape().Dimensions[0] == p.NCtx && ctxNode.Shape().Dimensions[1] == w) &&
		!(ctxNode.Rank() == 3 && ctxNode.Shape().Dimensions[0] == p.NumClasses() &&
			ctxNode.Shape().Dimensions[1] == p.NCtx && ctxNode.Shape().Dimensions[2] == w) {
		panic(fmt.Errorf("tpt.PromptLearner.Embeds: ctx must be [%d, %d] or [%d, %d, %d], got %s", p.NCtx, w,
			p.NumClasses(), p.NCtx, w, ctxNode.Shape()))
	}
	if !shared && c != p.NumClasses() {
		panic(fmt.Errorf("tpt.PromptLearner.Embeds: a class-specific context needs all %d classes, got %d",
			p.NumClasses(), c))
	}
	base, selN := p.embedParts(m, ctx, g, c, from, to)
	var ctxPart *Node
	if shared {
		ctxPart = Einsum("clj,jw->clw", selN, ConvertDType(ctxNode, dtypes.Float32)) // [c, l, W]
	} else {
		ctxPart = Einsum("clj,cjw->clw", selN, ConvertDType(ctxNode, dtypes.Float32)) // [c, l, W]
	}
	return Add(base, ctxPart)
}

// embedParts are what embedsRange combines with the context: the token embeddings of the first c classes'
// positions from..to-1 with the context positions zeroed, base [c, l, W] float32, and the one-hot placement of the
// context tokens, sel [c, l, NCtx] (1 where position from+k of class i takes context token j).
func (p *PromptLearner) embedParts(m *clip.Model, ctx *context.Context, g *Graph, c, from, to int) (base, sel *Node) {
	l := to - from
	ids := make([]int32, c*l)
	keep := make([]float32, c*l)
	place := make([]float32, c*l*p.NCtx) // [c, l, NCtx]
	for i := 0; i < c; i++ {
		for k := 0; k < l; k++ {
			ids[i*l+k] = int32(p.IDs[i][from+k])
			keep[i*l+k] = 1
		}
		for j, pos := range p.CtxPos[i] {
			if pos < from || pos >= to {
				continue
			}
			keep[i*l+pos-from] = 0
			place[(i*l+pos-from)*p.NCtx+j] = 1
		}
	}
	table := m.TokenEmbeddingTable(ctx, g)                                          // [V, W]
	base = Gather(table, Const(g, tensors.FromFlatDataAndDimensions(ids, c, l, 1))) // [c, l, W]
	base = Mul(ConvertDType(base, dtypes.Float32), Const(g, tensors.FromFlatDataAndDimensions(keep, c, l, 1)))
	return base, Const(g, tensors.FromFlatDataAndDimensions(place, c, l, p.NCtx))
}

// embedsBatch is embedsRange for a batch of contexts, ctxNode [B, NCtx, W] (shared) or [B, C, NCtx, W]
// (class-specific): [B, c, to-from, W].
func (p *PromptLearner) embedsBatch(m *clip.Model, ctx *context.Context, ctxNode *Node, c, from, to int) *Node {
	g := ctxNode.Graph()
	w := m.Config.TextWidth
	d := ctxNode.Shape().Dimensions
	shared := ctxNode.Rank() == 3 && d[1] == p.NCtx && d[2] == w
	if !shared && !(ctxNode.Rank() == 4 && d[1] == p.NumClasses() && d[2] == p.NCtx && d[3] == w && c == d[1]) {
		panic(fmt.Errorf("tpt.PromptLearner: a batch of contexts must be [B, %d, %d] or [B, %d, %d, %d] (all "+
			"classes), got %s for %d classes", p.NCtx, w, p.NumClasses(), p.NCtx, w, ctxNode.Shape(), c))
	}
	b, l := d[0], to-from
	base, selN := p.embedParts(m, ctx, g, c, from, to)
	var ctxPart *Node
	if shared {
		ctxPart = Einsum("clj,bjw->bclw", selN, ConvertDType(ctxNode, dtypes.Float32)) // [B, c, l, W]
	} else {
		ctxPart = Einsum("clj,bcjw->bclw", selN, ConvertDType(ctxNode, dtypes.Float32)) // [B, c, l, W]
	}
	return Add(BroadcastToDims(Reshape(base, 1, c, l, w), b, c, l, w), ctxPart)
}

// SharedPrefix is the number of leading prompt positions that are the same for every class when the context is
// class-shared: the start token and the context words before the class (1 + NPrefix).
func (p *PromptLearner) SharedPrefix() int { return 1 + p.NPrefix }

// TextFeatures are the L2-normalised text features of the prompts with context ctxNode: [C, EmbedDim] float32.
// With a class-shared context (ctxNode [NCtx, TextWidth]) the shared prefix goes through the text tower once
// (clip.Model.EncodeTextSharedPrefix, exact under the causal mask) unless FullPrompts is set.
func (p *PromptLearner) TextFeatures(m *clip.Model, ctx *context.Context, ctxNode *Node) *Node {
	g := ctxNode.Graph()
	eot := make([]int32, len(p.EOT))
	for i, e := range p.EOT {
		eot[i] = int32(e)
	}
	var f *Node
	if np := p.SharedPrefix(); ctxNode.Rank() == 2 && !p.FullPrompts && np < p.Length {
		prefix := p.embedsRange(m, ctx, ctxNode, 1, 0, np)                   // [1, P, W]
		rest := p.embedsRange(m, ctx, ctxNode, p.NumClasses(), np, p.Length) // [C, Length-P, W]
		f = m.EncodeTextSharedPrefix(ctx, prefix, rest, Const(g, eot))       // [C, E]
	} else {
		f = m.EncodeTextEmbeddings(ctx, p.Embeds(m, ctx, ctxNode), Const(g, eot)) // [C, E]
	}
	return clip.Normalize(f)
}

// TextFeaturesBatch is TextFeatures for a batch of contexts, one per example: ctxNode [B, NCtx, TextWidth]
// (class-shared) or [B, C, NCtx, TextWidth] (class-specific) -> [B, C, EmbedDim] float32. With class-shared contexts
// the B prefixes go through the text tower once each (clip.Model.EncodeTextSharedPrefix's groups).
func (p *PromptLearner) TextFeaturesBatch(m *clip.Model, ctx *context.Context, ctxNode *Node) *Node {
	g := ctxNode.Graph()
	if ctxNode.Rank() != 3 && ctxNode.Rank() != 4 {
		panic(fmt.Errorf("tpt.PromptLearner.TextFeaturesBatch: ctx must be [B, %d, W] or [B, %d, %d, W], got %s",
			p.NCtx, p.NumClasses(), p.NCtx, ctxNode.Shape()))
	}
	b, c, w := ctxNode.Shape().Dimensions[0], p.NumClasses(), m.Config.TextWidth
	eot := make([]int32, 0, b*c)
	for range b {
		for _, e := range p.EOT {
			eot = append(eot, int32(e))
		}
	}
	var f *Node
	if np := p.SharedPrefix(); ctxNode.Rank() == 3 && !p.FullPrompts && np < p.Length {
		prefix := Reshape(p.embedsBatch(m, ctx, ctxNode, 1, 0, np), b, np, w)                 // [B, P, W]
		rest := Reshape(p.embedsBatch(m, ctx, ctxNode, c, np, p.Length), b*c, p.Length-np, w) // [B*C, Length-P, W]
		f = m.EncodeTextSharedPrefix(ctx, prefix, rest, Const(g, eot))                        // [B*C, E]
	} else {
		embeds := Reshape(p.embedsBatch(m, ctx, ctxNode, c, 0, p.Length), b*c, p.Length, w) // [B*C, Length, W]
		f = m.EncodeTextEmbeddings(ctx, embeds, Const(g, eot))                              // [B*C, E]
	}
	return Reshape(clip.Normalize(f), b, c, m.Config.EmbedDim)
}

// InitEmbeddings returns the token embeddings of the context words of class 0's prompt, [NCtx, TextWidth]
// float32, the context's init from the prompt words (same for every class).
func (p *PromptLearner) InitEmbeddings(m *clip.Model, ctx *context.Context, g *Graph) *Node {
	ids := make([]int32, p.NCtx)
	for j, pos := range p.CtxPos[0] {
		ids[j] = int32(p.IDs[0][pos])
	}
	table := m.TokenEmbeddingTable(ctx, g)
	return ConvertDType(Gather(table, Const(g, tensors.FromFlatDataAndDimensions(ids, p.NCtx, 1))), dtypes.Float32)
}
