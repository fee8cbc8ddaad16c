// Package memo is MEMO, test-time adaptation by marginal entropy minimisation over augmented views (Zhang, Levine,
// Finn, "MEMO: Test Time Robustness via Adaptation and Augmentation", NeurIPS 2022), on torchvision ResNets
// (tta/resnet), with the seed project's variants and its no-gradient ensembles.
//
// Protocol, per test example (episodic: the adapted variables and the optimizer state are restored before every
// example by a tta.Episode, on the device, never by copying the model):
//
//  1. the N views of the example (view 0 is the un-augmented image) go through the network with MEMO's batch-norm
//     prior p (resnet.ForwardOpts.BNPrior: mean = p running + (1-p) batch statistics of the N views);
//  2. optionally only the floor(N rho) views of lowest entropy are kept (the seed project's confidence selection,
//     recomputed at every step on the current weights);
//  3. the loss is the marginal entropy of the kept views (tta.MarginalEntropy); its gradient updates all trainable
//     variables (or only the batch-norm affine ones) with the optimizer; Steps times;
//  4. the prediction is the logits of view 0 alone, still with the prior (its batch statistics are those of the
//     one image).
//
// Defaults (PaperOptions) are the MEMO paper's for ResNet-50: a batch of 64 AugMix views (PaperViewMaker: 65
// views, view 0 clean, Options.AugmentedOnly), SGD lr 2.5e-4, one step, all parameters, p = 16/17 (N = 16
// pseudo-examples).
//
// The paper's views are MEMO's own augmentation (zhangmarvin/memo third_party.py `_augmix_aug`), augment.PaperAugMix:
// RandomResizedCrop(224) + flip of the raw image, then the AugMix paper's nine PIL ops (severity 1, MEMO's fill
// colour, which PIL makes (128, 0, 0)) in three chains of 1-3 ops, mixed with Dirichlet(1, 1, 1) weights in the
// normalised float space and blended as m x original + (1-m) x mix, m ~ Beta(1, 1). Exact, checked against the
// original code on Pillow 9.4 with the same draws: the crop's bilinear resize, every op (uint8-equal), and the float32
// mixing (equal within 1e-6). Not exact: the draws. MEMO draws from numpy's and torch's global RNGs; here every view
// draws from its own RNG (augment.ViewRNG of run seed, example id, view), so the distributions are the same but the
// samples differ, and no numpy seed reproduces MEMO's exact views. augment.CropAugMix (torchvision's AugMix ops:
// severity 3, 13 ops, uint8 mixing) remains available as --view-kind crop+augmix.
//
// The method's spec (spec.go, method "memo") has the MEMO paper's configuration and the seed project's seven rows
// as presets: the seed's configurations (random-resized-crop views, 8 or 64, rho 0.1, SGD lr 5e-3
// weight decay 1e-4, p = 0.94) and its no-gradient modes: the crop ensemble (mean softmax of the selected views)
// and MC-dropout (dropout on the last stage's output; the trunk runs once on view 0 since all identity views are
// equal, the dropout, pooling and head run Samples times, with masks drawn from (run seed, example id), so they do
// not depend on batching or workers).
//
// Each executable is compiled once per number of views (and hence per selected count k) and reused for every
// example.
//
// Usage:
//
//	ctx := context.New()
//	m, err := resnet.Load(ctx, "resnet50.tv_in1k.safetensors")
//	a, err := memo.New(backend.MustNew(), ctx, m, memo.PaperOptions())
//	vm := memo.PaperViewMaker(resnet.Preprocessing()) // 65 views: view 0 clean, 64 augment.PaperAugMix
//	recs, err := eval.Run(ds, a, vm, eval.Options{Out: "memo.jsonl"})
//
// The adapter also satisfies tta/ensemble's Member interface (Context, ViewLogits, Trainable, Optimizer, Reset),
// so a MEMO ResNet can join the multi-model ensemble.
package memo
