package clip

import (
	"fmt"
	"math"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/gotta-ml/gotta/tta"
)

// ViewHead scores a batch of views against a zero-shot class head, the shared first stage of the no-gradient CLIP
// methods (ZERO, MTA, TDA, DMN): the class text features are computed once (ZeroShot.TextFeatures: one unit vector
// per class, the mean over the templates), and one executable gives the views' unit image features and their
// scores against the classes. It compiles once per number of views, at the first Score.
type ViewHead struct {
	// Text are the class features [C][E], in the order of the class names; TextTensor holds them as [C, E].
	Text       [][]float32
	TextTensor *tensors.Tensor
	// LogitScale is exp of the model's learned logit scale (CLIP's 100 for the released models).
	LogitScale float64
	// InGraphScale, when > 0, multiplies the image features before the product (scores = (s f) w^T, TDA's order of
	// operations); 0 gives the plain cosines f w^T.
	InGraphScale float64
	// Resolution is the side of the views the image tower takes.
	Resolution int
	exec       *context.Exec
}

// NewViewHead builds the head of model m for classNames, each class's prompts made from templates ("{}" is the
// class name) and tokenized by tok. inGraphScale is ViewHead.InGraphScale.
func NewViewHead(b backends.Backend, m *Model, tok Tokenizer, classNames, templates []string,
	inGraphScale float64) (*ViewHead, error) {
	feats, err := NewZeroShot(b, m, tok).TextFeatures(classNames, templates)
	if err != nil {
		return nil, err
	}
	e := m.Config.EmbedDim
	flat := make([]float32, 0, len(feats)*e)
	for _, f := range feats {
		flat = append(flat, f...)
	}
	ls, err := m.LogitScaleValue()
	if err != nil {
		return nil, err
	}
	h := &ViewHead{Text: feats, TextTensor: tensors.FromFlatDataAndDimensions(flat, len(feats), e),
		LogitScale: math.Exp(float64(ls)), InGraphScale: inGraphScale, Resolution: m.Config.ImageResolution}
	h.exec, err = context.NewExec(b, m.Ctx, func(ctx *context.Context, images, text *Node) (*Node, *Node) {
		f := Normalize(m.EncodeImage(ctx, images)) // [N, E]
		if inGraphScale > 0 {
			return f, graph.Einsum("ne,ce->nc", graph.MulScalar(f, inGraphScale), text)
		}
		return f, graph.Einsum("ne,ce->nc", f, text) // [N, C]
	})
	if err != nil {
		return nil, err
	}
	return h, nil
}

// Score runs the views images [N, R, R, 3] (preprocessed for the model): their unit image features [N][E] and
// scores [N][C] (cosines, times InGraphScale when set), each row its own slice of a fresh array.
func (h *ViewHead) Score(images *tensors.Tensor) (feats, scores [][]float32, err error) {
	if images == nil || images.Rank() != 4 {
		return nil, nil, fmt.Errorf("clip: view head: want views [N, R, R, 3], got %v", images)
	}
	res, err := h.exec.Exec(images, h.TextTensor)
	if err != nil {
		return nil, nil, err
	}
	n, c, e := images.Shape().Dimensions[0], len(h.Text), h.TextTensor.Shape().Dimensions[1]
	return splitRows(tensors.MustCopyFlatData[float32](res[0]), n, e),
		splitRows(tensors.MustCopyFlatData[float32](res[1]), n, c), nil
}

// Check says whether v holds host-made views the head can score: [N >= 1, R, R, 3] with R the model's resolution;
// the error names the example.
func (h *ViewHead) Check(v *tta.Views) error {
	r := h.Resolution
	if v == nil || v.Images == nil || v.Images.Rank() != 4 || v.N() < 1 || v.Images.Shape().Dimensions[1] != r {
		id := ""
		if v != nil {
			id = v.ExampleID
		}
		return fmt.Errorf("example %q: need views [N >= 1, %d, %d, 3] made on the host", id, r, r)
	}
	return nil
}

// Logits returns the rows of cosines times LogitScale, as new float32 rows (CLIP's logits).
func (h *ViewHead) Logits(cosines [][]float32) [][]float32 {
	out := make([][]float32, len(cosines))
	for i, row := range cosines {
		out[i] = make([]float32, len(row))
		for j, x := range row {
			out[i][j] = float32(h.LogitScale * float64(x))
		}
	}
	return out
}

// splitRows splits flat [n*w] into n rows.
func splitRows(flat []float32, n, w int) [][]float32 {
	out := make([][]float32, n)
	for i := range out {
		out[i] = flat[i*w : (i+1)*w : (i+1)*w]
	}
	return out
}
