// Package tda is TDA, the training-free dynamic adapter, as a tta.Online adapter: CLIP classifies each test
// example, and two caches of earlier test examples' features adjust its logits. The positive cache keeps, per
// predicted class, the few most confident examples and adds alpha * sum exp(-beta (1 - affinity)) to their classes;
// the negative cache keeps moderately uncertain examples and subtracts the same kind of term from the classes they
// found unlikely-but-possible. No gradient, no parameter changes: the caches are the state, carried from one example
// to the next (ResetStream empties them; Reset does nothing).
//
// Paper: A. Karmanov, D. Guan, S. Lu, A. El Saddik, E. Xing, "Efficient Test-Time Adaptation of Vision-Language
// Models", CVPR 2024. Original code: github.com/kdiAAA/TDA (tda_runner.py, utils.py, configs/*.yaml,
// datasets/utils.py, datasets/augmix_ops.py, datasets/imagenet*.py); this package was compared with it at commit
// e697fb0 (testdata/).
//
// The protocol, as the original runs it (run_test_tda, one example at a time):
//   - Views: on ImageNet one view, CLIP's preprocessing (bicubic resize of the shorter side, center crop). On
//     ImageNet-A, -V2, -R and -Sketch 64: that view and 63 of AugMixAugmenter(augmix=True) (TPT's: RandomResizedCrop
//   - flip of the raw image, then the AugMix paper's ops at severity 1 with PIL's black fill, mixed as
//     m * crop + (1 - m) * mix). NewViewMaker makes them; views = 1 gives view 0 only.
//   - Text: the class features are the mean of the normalised per-template features, renormalised (clip_classifier;
//     class names with "_" replaced by " "). Templates: the 7 Tip-Adapter ones on ImageNet, -A and -V2; CLIP's 80
//     ImageNet templates on -R and -Sketch (datasets/imagenet_r.py, imagenet_sketch.py). The presets say which.
//   - Logits: clip_logits = 100 * f @ W with f the normalised image features: the logit scale is fixed at 100
//     (LogitScale), not the model's exp(logit_scale).
//   - Selection (get_clip_logits, N > 1 views): each view's entropy of softmax(logits); the int(N * 0.1) views of
//     lowest entropy are kept (Python's int of the float64 product: 6 of 64; KeepCount). The example's feature is
//     the mean of the kept views' normalised features (not renormalised), its logits the mean of their logits, its
//     loss the entropy of their mean softmax (avg_entropy), its prob_map their mean softmax, its cache class the
//     argmax of the mean logits. With one view: that view's feature, logits and entropy.
//   - Normalised entropy: loss / log2(C) (get_entropy): an entropy in nats over the maximum entropy in bits, so it
//     lies in [0, ln 2], not [0, 1]; the thresholds 0.2 and 0.5 are on this scale.
//   - Updates, in this order: the positive cache takes every example (when enabled); the negative cache takes it
//     when EntropyLower < normalised entropy < EntropyUpper (strict). update_cache: a class seen for the first time
//     gets the entry; a class below shot_capacity appends it; a full class replaces its last (highest-loss) entry
//     when the new loss is strictly lower; then the class is sorted by loss (stable).
//   - Final logits: clip_logits + alpha_p * A_p - alpha_n * A_n, each term only when its cache is enabled and not
//     empty, computed after the updates (the example itself may be in a cache). compute_cache_logits: for the
//     entries in class order, affinity a = <f, key>, weight exp(-(beta - beta * a)), times the entry's value: the
//     one-hot of its class (positive) or the indicator MaskLower < prob_map < MaskUpper (negative, strict).
//   - The prediction is the argmax of the final logits (cls_acc's topk(1)).
//
// Defaults (DefaultOptions, the spec's "imagenet" preset) are configs/imagenet.yaml: positive on, 3 shots, alpha 2,
// beta 5; negative on, 2 shots, alpha 0.117, beta 1, entropy thresholds (0.2, 0.5), mask thresholds (0.03, 1). The
// other presets change only the views, the positive alpha/beta and the templates: imagenet-a 64 views (alpha 2,
// beta 5), imagenet-v2 64 views alpha 1 beta 8, imagenet-r 64 views alpha 1 beta 8 with CLIP's 80 templates,
// imagenet-sketch 64 views alpha 2.363 beta 7.45 with CLIP's 80 templates. The selection fraction 0.1 is a
// constant of the original's code (DefaultSelect, the "select" parameter here).
//
// Prediction: Logits are the final logits; Selected are the kept views in ascending entropy ([0] for one view);
// EntropyBefore is the entropy of the mean softmax of all N views at LogitScale; EntropyAfter that of the final
// logits. Trace (LastTrace) holds every intermediate, AdaptTrace adds the caches' sizes per class ("cache_sizes");
// Caches returns copies of the caches.
//
// Stream state (tta.StreamStater): SaveStream writes JSON (format StateFormat) with the adapter's Config and both
// caches (per class, entries with the example id, feature, loss and, negative cache, mean softmax; float32 values
// and float64 losses exactly); RestoreStream refuses another format or configuration, naming the keys that differ.
//
// Differences from the original that this package keeps:
//   - Precision: on a GPU the original's CLIP is float16 (clip.load keeps it so on CUDA) and compute_cache_logits
//     casts the cache values to float16; here features and logits are float32 (clip's EncodeImage returns float32
//     features also from a bfloat16 tower), entropies, means and cache terms are computed on the host in float64,
//     and the final logits are returned as float32. The reference in testdata is the original's computation in float32.
//   - Views of exactly equal entropy keep their index order (stable sort); torch.argsort is not stable.
//   - 2 to 9 views keep int(N * 0.1) = 0 views, and the original averages an empty selection (NaN features and
//     logits); here Adapt returns an error naming the example, and the spec refuses such views before building.
//   - shot_capacity 0 behaves as 1 in the original (a new class always gets its first entry); here Shots >= 1.
//   - The stream's order is the runner's; the original shuffles its loader (shuffle=True, seed 1).
//   - imagenet.TipTemplates lists the original's 7 templates in another order; the class features differ by
//     rounding only.
//   - The cross-domain configurations (caltech101, dtd, ...: one view, their own alpha/beta and templates) are not
//     presets; their values can be set with the parameters.
//
// Usage:
//
//	a, err := tda.New(backend.MustNew(), m, tok, classNames, imagenet.TipTemplates(), tda.DefaultOptions())
//	vm := tda.NewViewMaker(m, tda.DefaultViews) // tda.AugMixViews on ImageNet-A/V2/R/Sketch
//	for _, ex := range stream { // in stream order
//		views, err := vm.MakeViews(ex.Image, ex.ID, seed)
//		pred, err := a.Adapt(views)
//	}
//	state, err := a.SaveStream() // resume later with a.RestoreStream(state)
//
// or from the command line:
//
//	gotta eval --method tda --preset imagenet-a --data imagenet-a=DIR --model clip:ViT-B/16=FILE
package tda
