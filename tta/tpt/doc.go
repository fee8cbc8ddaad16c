// Package tpt is test-time prompt tuning of CLIP (TPT): for every test image, the context words of the class
// prompts are tuned by one (or more) AdamW steps that minimise the marginal entropy of the most confident
// augmented views, then the image's base view is classified with the tuned prompts; prompts and optimizer are
// reset before the next image (episodic).
//
// Paper: M. Shu, W. Nie, D.-A. Huang, Z. Yu, T. Goldstein, A. Anandkumar, C. Xiao, "Test-Time Prompt Tuning for
// Zero-Shot Generalization in Vision-Language Models", NeurIPS 2022 (code: azshue/TPT).
//
// Protocol per example (defaults reproduce the paper): views = the base view + 63 random resized crops with
// flips (ViewMaker); image features once, under no gradient (the image tower is frozen); logits of every view with
// the initial prompts; confidence selection keeps the floor(N * 0.1) lowest-entropy views (computed at the first
// step and reused, or recomputed each step with Options.Reselect); loss = tta.MarginalEntropy of the selected
// views; AdamW (lr 5e-3, betas 0.9/0.999, eps 1e-8, weight decay 0.01) on the context only; the prediction is
// view 0's logits with the tuned context. Ensemble mode skips tuning: the mean softmax of the selected views.
// Options.AlignSteps adds the seed project's alignment before the TPT step (tta/align): AdamW (lr 1e-4) on the
// image tower except the attention pool towards equal features of the selected views, BatchNorm in training mode
// (clip.Model.EncodeImageTrain). The Adapter is also a tta.Member of tta/ensemble's multi-model ensemble
// (member.go): its prompt context tuned there by its AdamW, frozen with Options.Steps 0.
//
// Prompts: "a photo of a" gives "a photo of a {class}." with its 4 words learnable (layout
// [SOT][ctx][class words "."][EOT]); a "[CLS]" placeholder puts the class there and makes the words on both sides
// learnable (the seed project's split context, [SOT][prefix ctx][class words][suffix ctx][EOT]); Options.NCtx > 0
// starts from N(0, 0.02) random context; Options.CoOp loads a trained CoOp context; Options.ClassSpecific gives
// each class its own copy. The text context is cut to the longest prompt (exact under the causal mask).
//
// Usage:
//
//	m, _ := clip.Load("RN50.safetensors", clip.LoadOpts{})
//	tok, _ := tokenizer.OpenAI() // OpenAI's vocabulary, embedded in tta/clip/tokenizer
//	a, err := tpt.New(backend.MustNew(), m, tok, classNames, tpt.PaperOptions())
//	vm := tpt.NewViewMaker(m, 64)
//	recs, err := eval.Run(dataset, a, vm, eval.Options{Out: "tpt.jsonl"})
//
// Speed: each executable (image features for [N, R, R, 3], the step for k selected views, the text features) is
// compiled once per adapter and reused; the initial text features are computed once per class list. Load the
// model with clip.LoadOpts{DType: dtypes.BFloat16} for bf16 compute; the context and its optimizer stay float32.
// Throughput mode (batch.go, Adapter.Batched, eval.Options.BatchExamples): B examples' whole episodes (image
// tower, selection in the graph, the steps on B contexts with B AdamW states, the prediction) in one executable,
// with the records of one example at a time. MEMO has no such path (B copies of a ResNet-50's adapted weights).
package tpt
