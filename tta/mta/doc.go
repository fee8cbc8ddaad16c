// Package mta is MTA, MeanShift for test-time augmentation, as a tta.Adapter: CLIP embeds N views of an image (the
// original and N-1 random crops with flips), and a MeanShift over the views' image embeddings, weighted by
// per-view inlierness scores, finds the mode that is classified. No gradient, no state: one batched forward of the
// image tower per example, the class text features cached.
//
// Paper: M. Zanella, I. Ben Ayed, "On the Test-Time Zero-Shot Generalization of Vision-Language Models: Do We Really
// Need Prompt Learning?", CVPR 2024. Original code: github.com/MaxZanella/MTA (mta.py solve_mta, main.py); this
// package was compared with it at commit cafafdf (testdata/).
//
// The protocol, as the original runs it (main.py --mta, mta.py):
//   - Views: 64 (main.py's batch size; AugMixAugmenter without AugMix): view 0 is CLIP's base preprocessing, views
//     1..63 RandomResizedCrop (scale 0.08-1, ratio 3/4-4/3, bilinear) with a random horizontal flip; CLIP's
//     mean/std normalisation. NewViewMaker makes them.
//   - Text: "a photo of a {}." (ctx_init "a_photo_of_a", not learned); several templates give the mean of the
//     normalised per-template features, renormalised.
//   - x_i the normalised image features, logits_i = exp(logit_scale) x_i . t_c.
//   - Bandwidth per view: k = int(0.3 (N - 1)) (18 of 63 for N = 64); h_i = sqrt(0.5 mean_{j in the k nearest
//     other views} |x_i - x_j|^2) (the row of sorted distances without its first entry, the view itself).
//   - Affinity A = softmax(logits) softmax(logits)^T [N, N]; inlierness y = 1/N; mode m = x_0 (the original view).
//   - MaxIter (5) outer iterations, each: the kernel K_i = exp(-|x_i - m|^2 / (2 h_i^2)); up to MaxIter inlierness
//     updates y = softmax((K + LambdaQ A y) / LambdaY), stopping when |y - y_old| < 1e-6; then up to MaxIter mode
//     updates m = normalise(sum_i K_i y_i x_i / sum_i K_i y_i) with K recomputed at the current mode, stopping when
//     |m - m_old| < 1e-6.
//   - Output: exp(logit_scale) m . t_c, the logits of the mode.
//
// Prediction: Logits are the mode's logits; Selected is nil (MTA weighs views, it does not select them);
// EntropyBefore is the marginal entropy of all N views. LastTrace has the bandwidths, every mode and inlierness
// vector, and the final mode.
//
// Differences from the original that this package keeps:
//   - The MeanShift runs in float64 on the host (the original: float32 on CPU). The distances are exact Euclidean
//     ones; torch.cdist computes them as sqrt(|a|^2 + |b|^2 - 2 a.b) for more than 25 views (differences ~1e-7).
//   - Precision: on a GPU the original's CLIP weights are float16 (clip.load keeps them so on CUDA) and solve_mta runs
//     outside autocast on the float16 features it gets, so its whole MeanShift is float16 there. Here the features
//     are float32 (also with a bfloat16 tower), the computation the reference in testdata was made with.
//   - N < 5 views leaves k = 0 neighbours and a NaN bandwidth in the original; Adapt returns an error.
//
// Usage:
//
//	a, err := mta.New(backend.MustNew(), m, tok, classNames, nil, mta.Options{})
//	recs, err := eval.Run(dataset, a, mta.NewViewMaker(m, 64), eval.Options{Out: "mta.jsonl"})
package mta
