package embedded

import (
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"time"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/gotta-ml/gotta/datasets"
	"github.com/gotta-ml/gotta/datasets/augment"
	"github.com/gotta-ml/gotta/datasets/mnist"
	"github.com/gotta-ml/gotta/tta"
	"github.com/gotta-ml/gotta/tta/clip"
	"github.com/gotta-ml/gotta/tta/resnet"
)

// initLogitScale is CLIP's initial logit_scale, ln(1/0.07); maxLogitScale is its clamp, ln(100).
var (
	initLogitScale = math.Log(1 / 0.07)
	maxLogitScale  = math.Log(100)
)

// Defaults of TrainOpts, as `gotta train-embedded` uses them to make the committed weights.
const (
	// DefaultSeed is the seed of the committed weights.
	DefaultSeed = 1
	// DefaultCLIPSteps and DefaultResNetSteps are the optimizer steps of the committed weights.
	DefaultCLIPSteps   = 800
	DefaultResNetSteps = 300
	// DefaultBatchSize is the number of images per step.
	DefaultBatchSize = 128
	// DefaultLR is AdamW's learning rate.
	DefaultLR = 2e-3
	// DefaultDecayFraction is the fraction of the steps, at the end, that run at DefaultLR/10.
	DefaultDecayFraction = 0.25
)

// TrainOpts configures TrainCLIP and TrainResNet. Zero fields take the documented defaults.
type TrainOpts struct {
	// Seed fixes the initialisation, the batch order and the captions (0 is a valid seed; the committed weights
	// used DefaultSeed).
	Seed int64
	// Steps is the number of optimizer steps (default DefaultCLIPSteps or DefaultResNetSteps).
	Steps int
	// BatchSize is the number of images per step (default DefaultBatchSize).
	BatchSize int
	// LR is AdamW's learning rate (default DefaultLR for both).
	LR float64
	// DecayFraction is the fraction of the steps, at the end, that run at LR/10 (a step decay; the optimizer state
	// carries over). Default (0) DefaultDecayFraction; -1: no decay.
	DecayFraction float64
	// WeightDecay is AdamW's decoupled weight decay (default 1e-4).
	WeightDecay float64
	// TrainSize is the number of MNIST training images sampled from (the first TrainSize, shuffled by Seed; default
	// 60000, all). Batches run through a fresh permutation of them every epoch.
	TrainSize int
	// EvalSize is the number of clean MNIST test images the final accuracy is measured on (default 1000; -1: none).
	EvalSize int
	// Log receives progress lines (loss every LogEvery steps, final accuracy); nil for none.
	Log io.Writer
	// LogEvery is the step interval of progress lines (default 50).
	LogEvery int
	// Backend runs the training graphs; nil: the backend tta/backend chooses (GOMLX_BACKEND, else a CUDA plugin,
	// else pure Go), with PureGoTrainingConfig when it is pure Go.
	Backend backends.Backend
}

func (o TrainOpts) withDefaults(steps int) TrainOpts {
	if o.Steps == 0 {
		o.Steps = steps
	}
	if o.BatchSize == 0 {
		o.BatchSize = DefaultBatchSize
	}
	if o.LR == 0 {
		o.LR = DefaultLR
	}
	if o.DecayFraction == 0 {
		o.DecayFraction = DefaultDecayFraction
	}
	if o.WeightDecay == 0 {
		o.WeightDecay = 1e-4
	}
	if o.TrainSize == 0 {
		o.TrainSize = 60000
	}
	if o.EvalSize == 0 {
		o.EvalSize = 1000
	}
	if o.LogEvery == 0 {
		o.LogEvery = 50
	}
	return o
}

// TrainResult is what a training run reports.
type TrainResult struct {
	// Losses is the training loss of every step.
	Losses []float64
	// Accuracy is the top-1 accuracy on the first EvalSize clean MNIST test images (CLIP: zero-shot with
	// DefaultTemplate); NaN when EvalSize is -1.
	Accuracy float64
	// TrainSeconds and EvalSeconds are the wall times of training (compilation included) and evaluation.
	TrainSeconds, EvalSeconds float64
}

// decayStart is the first step at LR/10 (Steps when there is no decay).
func (o TrainOpts) decayStart() int {
	if o.DecayFraction <= 0 {
		return o.Steps
	}
	return o.Steps - int(math.Round(o.DecayFraction*float64(o.Steps)))
}

func (o TrainOpts) logf(format string, args ...any) {
	if o.Log != nil {
		_, _ = fmt.Fprintf(o.Log, format, args...)
	}
}

// sampler yields the training indices batch by batch: a seeded permutation of [0, TrainSize), renewed each epoch.
type sampler struct {
	rng  *rand.Rand
	n    int
	perm []int
	pos  int
}

func (s *sampler) next(batch int) []int {
	out := make([]int, batch)
	for i := range out {
		if s.pos == len(s.perm) {
			s.perm = s.rng.Perm(s.n)
			s.pos = 0
		}
		out[i] = s.perm[s.pos]
		s.pos++
	}
	return out
}

// trainingData loads MNIST train and checks o.TrainSize.
func trainingData(o TrainOpts) (*mnist.Set, error) {
	set, err := mnist.Load(mnist.Train)
	if err != nil {
		return nil, fmt.Errorf("embedded: loading MNIST train: %w", err)
	}
	if o.TrainSize < o.BatchSize || o.TrainSize > set.N {
		return nil, fmt.Errorf("embedded: TrainSize %d outside [BatchSize %d, %d]", o.TrainSize, o.BatchSize, set.N)
	}
	return set, nil
}

// imageBatch preprocesses the given examples of ds with p into [len(idx), p.Size, p.Size, 3] and their labels
// [len(idx)].
func imageBatch(ds datasets.Dataset, idx []int, p augment.Preprocess) (*tensors.Tensor, []int32, error) {
	per := p.Size * p.Size * 3
	x := make([]float32, 0, len(idx)*per)
	labels := make([]int32, len(idx))
	for i, j := range idx {
		ex, err := ds.Example(j)
		if err != nil {
			return nil, nil, err
		}
		v, err := PreprocessImage(ex.Image, p)
		if err != nil {
			return nil, nil, fmt.Errorf("embedded: %s example %d: %w", ds.Name(), j, err)
		}
		x = append(x, v...)
		labels[i] = int32(ex.Label)
	}
	return tensors.FromFlatDataAndDimensions(x, len(idx), p.Size, p.Size, 3), labels, nil
}

// trainableVars lists ctx's trainable variables in a stable order.
func trainableVars(ctx *context.Context) []*context.Variable {
	var vs []*context.Variable
	for v := range ctx.IterVariables() {
		if v.Trainable {
			vs = append(vs, v)
		}
	}
	return vs
}

// CLIPLoss is CLIP's symmetric contrastive loss with a learned temperature over a batch of B (image, caption) pairs:
// logits = exp(logit_scale) * norm(image) @ norm(text)^T [B, B], and the mean of the image->text and text->image
// cross-entropies. Because the captions of one class are interchangeable, the target of row i is uniform over the
// pairs j whose label equals label i (labels [B] int32); with distinct labels this is exactly CLIP's
// diagonal target. images [B, 32, 32, 3], tokens [B, L] int32 -> scalar loss.
func CLIPLoss(ctx *context.Context, m *clip.Model, images, tokens, labels *graph.Node) *graph.Node {
	g := images.Graph()
	b := images.Shape().Dimensions[0]
	img := clip.Normalize(m.EncodeImage(ctx, images))                              // [B, E]
	txt := clip.Normalize(m.EncodeText(ctx, tokens))                               // [B, E]
	logits := graph.Mul(m.LogitScale(ctx, g), graph.Einsum("ne,te->nt", img, txt)) // [B, B]
	same := graph.ConvertDType(graph.Equal(graph.Reshape(labels, b, 1), graph.Reshape(labels, 1, b)), dtypes.Float32)
	target := graph.Div(same, graph.ReduceAndKeep(same, graph.ReduceSum, 1)) // [B, B], rows sum to 1, symmetric pattern
	li := graph.ReduceAllMean(graph.Neg(graph.ReduceSum(graph.Mul(target, graph.LogSoftmax(logits, 1)), 1)))
	lt := graph.ReduceAllMean(graph.Neg(graph.ReduceSum(graph.Mul(target, graph.LogSoftmax(graph.Transpose(logits, 0, 1), 1)), 1)))
	return graph.DivScalar(graph.Add(li, lt), 2)
}

// TrainCLIP trains the embedded CLIP (CLIPConfig, vocabulary from VocabularyWords) from scratch on MNIST train:
// each image is paired with a caption drawn from CaptionTemplates, and AdamW minimises CLIPLoss; logit_scale starts
// at ln(1/0.07) and is clamped to ln(100) as in CLIP. Deterministic for o.Seed on a given backend.
func TrainCLIP(o TrainOpts) (*clip.Model, *WordTokenizer, *TrainResult, error) {
	o = o.withDefaults(DefaultCLIPSteps)
	b, err := trainingBackend(o.Backend)
	if err != nil {
		return nil, nil, nil, err
	}
	set, err := trainingData(o)
	if err != nil {
		return nil, nil, nil, err
	}
	tok := NewTokenizer(VocabularyWords())
	m, err := newCLIP(tok, o.Seed)
	if err != nil {
		return nil, nil, nil, err
	}
	ctx := m.Ctx
	vars := trainableVars(ctx)
	newStep := func(lr float64) (*context.Exec, error) {
		opt := tta.NewAdamW(lr)
		opt.WeightDecay = o.WeightDecay
		return context.NewExec(b, ctx, func(ctx *context.Context, images, tokens, labels *graph.Node) *graph.Node {
			loss := CLIPLoss(ctx, m, images, tokens, labels)
			params := make([]*graph.Node, len(vars))
			for i, v := range vars {
				params[i] = v.ValueGraph(images.Graph())
			}
			grads := graph.Gradient(loss, params...)
			opt.Step(ctx, vars, grads)
			ls := ctx.GetVariableByScopeAndName(m.Scope, "logit_scale")
			ls.SetValueGraph(graph.MinScalar(ls.ValueGraph(images.Graph()), maxLogitScale))
			return loss
		})
	}
	exec, err := newStep(o.LR)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("embedded.TrainCLIP: %w", err)
	}
	rng := rand.New(rand.NewPCG(uint64(o.Seed), 0xc11b))
	smp := &sampler{rng: rng, n: o.TrainSize}
	templates := CaptionTemplates()
	res := &TrainResult{}
	start := time.Now()
	p := CLIPPreprocess()
	for step := range o.Steps {
		if step == o.decayStart() {
			if exec, err = newStep(o.LR / 10); err != nil {
				return nil, nil, nil, fmt.Errorf("embedded.TrainCLIP: %w", err)
			}
		}
		idx := smp.next(o.BatchSize)
		x, labels, err := imageBatch(set, idx, p)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("embedded.TrainCLIP: %w", err)
		}
		toks := make([]int32, 0, o.BatchSize*m.Config.ContextLength)
		for _, l := range labels {
			ids, err := tok.Encode(Caption(templates[rng.IntN(len(templates))], int(l)), m.Config.ContextLength, false)
			if err != nil {
				return nil, nil, nil, fmt.Errorf("embedded.TrainCLIP: %w", err)
			}
			for _, id := range ids {
				toks = append(toks, int32(id))
			}
		}
		var loss float64
		err = tryExec(func() {
			out := exec.MustExec(x, tensors.FromFlatDataAndDimensions(toks, o.BatchSize, m.Config.ContextLength),
				tensors.FromFlatDataAndDimensions(labels, o.BatchSize))
			loss = float64(tensors.ToScalar[float32](out[0]))
		})
		if err != nil {
			return nil, nil, nil, fmt.Errorf("embedded.TrainCLIP step %d: %w", step, err)
		}
		res.Losses = append(res.Losses, loss)
		if (step+1)%o.LogEvery == 0 || step == o.Steps-1 {
			o.logf("clip   step %4d/%d  loss %.4f  (%.0fs)\n", step+1, o.Steps, loss, time.Since(start).Seconds())
		}
	}
	res.TrainSeconds = time.Since(start).Seconds()
	res.Accuracy = math.NaN()
	if o.EvalSize > 0 {
		start = time.Now()
		test, err := mnist.Load(mnist.Test)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("embedded.TrainCLIP: %w", err)
		}
		acc, err := CLIPAccuracy(b, m, tok, test, o.EvalSize, []string{DefaultTemplate})
		if err != nil {
			return nil, nil, nil, err
		}
		res.Accuracy, res.EvalSeconds = acc, time.Since(start).Seconds()
		o.logf("clip   zero-shot accuracy on %d clean MNIST test images: %.2f%% (%.0fs)\n", o.EvalSize, 100*acc,
			res.EvalSeconds)
	}
	return m, tok, res, nil
}

// CLIPAccuracy is CLIP's zero-shot top-1 accuracy over the first n examples of ds (images preprocessed with
// CLIPPreprocess) with the given templates (class names ClassNames).
func CLIPAccuracy(b backends.Backend, m *clip.Model, tok clip.Tokenizer, ds datasets.Dataset, n int,
	templates []string) (float64, error) {
	zs := clip.NewZeroShot(b, m, tok)
	text, err := zs.TextFeatures(ClassNames(), templates)
	if err != nil {
		return 0, err
	}
	scale, err := m.LogitScaleValue()
	if err != nil {
		return 0, err
	}
	correct := 0
	const chunk = 256
	for from := 0; from < n; from += chunk {
		to := min(from+chunk, n)
		idx := make([]int, to-from)
		for i := range idx {
			idx[i] = from + i
		}
		x, labels, err := imageBatch(ds, idx, CLIPPreprocess())
		if err != nil {
			return 0, fmt.Errorf("embedded.CLIPAccuracy: %w", err)
		}
		feats, err := zs.ImageFeatures(x)
		if err != nil {
			return 0, fmt.Errorf("embedded.CLIPAccuracy: %w", err)
		}
		for i, row := range clip.LogitsHost(feats, text, scale) {
			if argmaxF(row) == int(labels[i]) {
				correct++
			}
		}
	}
	return float64(correct) / float64(n), nil
}

// TrainResNet trains the embedded ResNet (ResNetConfig) from scratch on MNIST train with cross-entropy and AdamW,
// batch norm in training mode (batch statistics, running statistics updated with BNMomentum). The variables are
// created in a fresh context with resnet.Model's scopes. Deterministic for o.Seed on a given backend.
func TrainResNet(o TrainOpts) (*context.Context, *resnet.Model, *TrainResult, error) {
	o = o.withDefaults(DefaultResNetSteps)
	b, err := trainingBackend(o.Backend)
	if err != nil {
		return nil, nil, nil, err
	}
	set, err := trainingData(o)
	if err != nil {
		return nil, nil, nil, err
	}
	model, err := resnet.New(ResNetConfig())
	if err != nil {
		return nil, nil, nil, err
	}
	ctx := context.New()
	if err := model.Init(ctx, uint64(o.Seed)); err != nil {
		return nil, nil, nil, fmt.Errorf("embedded.TrainResNet: %w", err)
	}
	vars := trainableVars(ctx)
	classes := model.Config.NumClasses
	newStep := func(lr float64) (*context.Exec, error) {
		opt := tta.NewAdamW(lr)
		opt.WeightDecay = o.WeightDecay
		return context.NewExec(b, ctx, func(ctx *context.Context, images, labels *graph.Node) *graph.Node {
			logits := resnetTrainLogits(ctx, model.Config, images) // [B, classes]
			onehot := graph.OneHot(labels, classes, dtypes.Float32)
			loss := graph.ReduceAllMean(graph.Neg(graph.ReduceSum(graph.Mul(onehot, graph.LogSoftmax(logits, 1)), 1)))
			params := make([]*graph.Node, len(vars))
			for i, v := range vars {
				params[i] = v.ValueGraph(images.Graph())
			}
			opt.Step(ctx, vars, graph.Gradient(loss, params...))
			return loss
		})
	}
	exec, err := newStep(o.LR)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("embedded.TrainResNet: %w", err)
	}
	rng := rand.New(rand.NewPCG(uint64(o.Seed), 0x2e5))
	smp := &sampler{rng: rng, n: o.TrainSize}
	res := &TrainResult{}
	start := time.Now()
	for step := range o.Steps {
		if step == o.decayStart() {
			if exec, err = newStep(o.LR / 10); err != nil {
				return nil, nil, nil, fmt.Errorf("embedded.TrainResNet: %w", err)
			}
		}
		x, labels, err := imageBatch(set, smp.next(o.BatchSize), ResNetPreprocess())
		if err != nil {
			return nil, nil, nil, fmt.Errorf("embedded.TrainResNet: %w", err)
		}
		var loss float64
		err = tryExec(func() {
			out := exec.MustExec(x, tensors.FromFlatDataAndDimensions(labels, o.BatchSize))
			loss = float64(tensors.ToScalar[float32](out[0]))
		})
		if err != nil {
			return nil, nil, nil, fmt.Errorf("embedded.TrainResNet step %d: %w", step, err)
		}
		res.Losses = append(res.Losses, loss)
		if (step+1)%o.LogEvery == 0 || step == o.Steps-1 {
			o.logf("resnet step %4d/%d  loss %.4f  (%.0fs)\n", step+1, o.Steps, loss, time.Since(start).Seconds())
		}
	}
	res.TrainSeconds = time.Since(start).Seconds()
	res.Accuracy = math.NaN()
	if o.EvalSize > 0 {
		start = time.Now()
		test, err := mnist.Load(mnist.Test)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("embedded.TrainResNet: %w", err)
		}
		acc, err := ResNetAccuracy(b, ctx, model, test, o.EvalSize)
		if err != nil {
			return nil, nil, nil, err
		}
		res.Accuracy, res.EvalSeconds = acc, time.Since(start).Seconds()
		o.logf("resnet accuracy on %d clean MNIST test images: %.2f%% (%.0fs)\n", o.EvalSize, 100*acc, res.EvalSeconds)
	}
	return ctx, model, res, nil
}

// ResNetAccuracy is the inference-mode top-1 accuracy of model (variables in ctx) over the first n examples of ds,
// preprocessed with ResNetPreprocess.
func ResNetAccuracy(b backends.Backend, ctx *context.Context, model *resnet.Model, ds datasets.Dataset, n int) (float64, error) {
	exec, err := context.NewExec(b, ctx, func(ctx *context.Context, x *graph.Node) *graph.Node {
		return graph.ArgMax(model.Logits(ctx, x, resnet.ForwardOpts{}), 1, dtypes.Int32)
	})
	if err != nil {
		return 0, fmt.Errorf("embedded.ResNetAccuracy: %w", err)
	}
	correct := 0
	const chunk = 250
	for from := 0; from < n; from += chunk {
		idx := make([]int, chunk) // fixed batch shape: the last chunk repeats its last example
		for i := range idx {
			idx[i] = min(from+i, n-1)
		}
		x, labels, err := imageBatch(ds, idx, ResNetPreprocess())
		if err != nil {
			return 0, fmt.Errorf("embedded.ResNetAccuracy: %w", err)
		}
		var pred []int32
		if err := tryExec(func() { pred = tensors.MustCopyFlatData[int32](exec.MustExec(x)[0]) }); err != nil {
			return 0, fmt.Errorf("embedded.ResNetAccuracy: %w", err)
		}
		for i := range idx {
			if from+i < n && pred[i] == labels[i] {
				correct++
			}
		}
	}
	return float64(correct) / float64(n), nil
}

func argmaxF(row []float32) int {
	best := 0
	for i, v := range row {
		if v > row[best] {
			best = i
		}
	}
	return best
}

// tryExec runs f, turning a panic (GoMLX executables panic on errors) into an error.
func tryExec(f func()) (err error) {
	defer func() {
		if r := recover(); r != nil {
			if e, ok := r.(error); ok {
				err = e
			} else {
				err = fmt.Errorf("%v", r)
			}
		}
	}()
	f()
	return nil
}

// TrainMetadata describes a training run for a weights file's `__metadata__`: the effective options, the final
// loss, the accuracy and the times (keys prefixed "train_").
func TrainMetadata(o TrainOpts, res *TrainResult) map[string]string {
	o = o.withDefaults(len(res.Losses))
	md := map[string]string{
		"train_seed": fmt.Sprint(o.Seed), "train_steps": fmt.Sprint(len(res.Losses)),
		"train_batch_size": fmt.Sprint(o.BatchSize), "train_lr": fmt.Sprint(o.LR),
		"train_decay_fraction": fmt.Sprint(o.DecayFraction), "train_weight_decay": fmt.Sprint(o.WeightDecay),
		"train_size": fmt.Sprint(o.TrainSize), "train_data": "MNIST train (GoMNIST module)",
		"train_seconds": fmt.Sprintf("%.0f", res.TrainSeconds), "trained_by": "gotta train-embedded",
	}
	if len(res.Losses) > 0 {
		md["train_final_loss"] = fmt.Sprintf("%.4f", res.Losses[len(res.Losses)-1])
	}
	if !math.IsNaN(res.Accuracy) {
		md["eval_clean_mnist_test_accuracy"] = fmt.Sprintf("%.4f", res.Accuracy)
	}
	return md
}
