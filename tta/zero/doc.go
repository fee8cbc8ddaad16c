// Package zero is ZERO, test-time adaptation with zero temperature, as a tta.Adapter: CLIP classifies N views of
// an image (the original and N-1 random crops with flips), the int(N * Gamma) views of lowest entropy are kept, and
// their predictions at temperature zero (one-hot argmax votes) are summed; the class with the most votes wins. No
// gradient, no state: one batched forward of the image tower per example, the class text features cached.
//
// Paper: M. Farina, G. Franchi, G. Iacca, M. Mancini, E. Ricci, "Frustratingly Easy Test-Time Adaptation of
// Vision-Language Models", NeurIPS 2024. Original code: github.com/FarinaMatteo/zero (ttas/zero.py, ttas/base.py,
// utils/tools.py, data/augs.py, scripts/zero.sh); this package was compared with it at commit c609f7c (testdata/).
//
// The protocol, as the original runs it:
//   - Views: 64 (data/augs.py MultiViewCropAndFlip): view 0 is CLIP's base preprocessing (bicubic resize of the
//     shorter side, center crop), views 1..63 RandomResizedCrop(R) (scale 0.08-1, ratio 3/4-4/3, bilinear) with a
//     random horizontal flip; CLIP's mean/std normalisation. NewViewMaker makes them.
//   - Text: "a photo of a {}." (scripts/zero.sh's ctx_init "a_photo_of_a"), or, for "+Ensemble", the 7 Tip-Adapter
//     templates, each class's feature the mean of its normalised per-template features, renormalised.
//   - l = cosines of the normalised image features with the class features [N, C]; each view's entropy is that of
//     softmax(exp(logit_scale) * l); the int(N * Gamma) views of lowest entropy are kept (confidence_filter:
//     Python's int of the float64 product, so 64 * 0.3 keeps 19 and 50 * 0.58 keeps 28; it may keep 0).
//   - Votes: the sum over kept views of softmax(l / eps), eps = float32's machine epsilon 2^-23: a one-hot vote per
//     view, except that cosines within a few float32 ulps of the view's maximum share its vote (an exact two-way
//     tie gives 0.5 + 0.5).
//   - Ties: the classes whose votes equal the maximum (exact float comparison). If there are several, the
//     discarded views are scanned in ascending-entropy order and the first whose argmax cosine is a tied class
//     gives the answer (utils/tools.py greedy_break). If none is, break_sample_tie runs on the first discarded
//     view: it sets the cosines of the classes C-1-t (the original's `logit[~ties]`, a bitwise NOT of the tied
//     indices, not a mask) to -inf and answers that view's argmax over all classes, which may be a class that is not
//     tied. The answer's vote gets +1.
//   - Output: the votes with that +1 (the original's `p_bar`); its argmax is the prediction.
//
// Prediction: Logits are the original's output vector (votes, fractional where a vote was split, +1 on the
// tie-break's class; always finite, never log 0), so the record's argmax is ZERO's prediction; softmax of these
// counts is not a calibrated probability. Selected are the kept views in ascending entropy; EntropyBefore is the
// marginal entropy of all N views at CLIP's temperature.
//
// Differences from the original that this package keeps:
//   - Entropies are computed in float64 from log-softmax; the original's -(p * log p) in float32 is NaN when a
//     probability underflows to 0 (a cosine spread above ~0.87 at logit scale 100; not seen with real CLIP).
//   - Views of exactly equal entropy keep their index order (stable sort); the original's torch.argsort is not
//     stable.
//   - When the break_sample_tie fallback's +1 does not break the tie, the prediction is the lowest tied index
//     (torch.max's rule); the original scores with topk, whose pick among equal values is unspecified (torch 1.13's
//     CPU topk picked another tied class in testdata's tie_fallback case).
//   - Gamma = 1 with a vote tie: every view is kept, no discarded view is left, and the original fails with an
//     IndexError; Adapt returns an error naming the example.
//   - Precision: on a GPU the original's CLIP weights are float16 (clip.load keeps them so on CUDA), so its cosines
//     are float16 and its "zero" temperature is float16's epsilon 2^-10: votes there are split between classes whose
//     cosines are within a few float16 ulps (~1e-3). Here the cosines are float32 (also with a bfloat16 tower: the
//     features are converted to float32) and eps is float32's, the computation the reference in testdata was made
//     with.
//   - The original breaks ties with the torch 2.1 semantics of an int32 index tensor; torch 1.13 raises there.
//
// Usage:
//
//	templates := imagenet.TipTemplates() // +Ensemble; nil for "a photo of a {}."
//	a, err := zero.New(backend.MustNew(), m, tok, classNames, templates, zero.Options{})
//	recs, err := eval.Run(dataset, a, zero.NewViewMaker(m, 64), eval.Options{Out: "zero.jsonl"})
package zero
