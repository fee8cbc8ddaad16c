// Package dmn is DMN-ZS, the zero-shot setting of the dual memory network, as a tta.Online adapter: CLIP's
// zero-shot probabilities of each test image are combined with those of a dynamic memory that holds, per class, the
// image features of earlier test examples pseudo-labelled with the class. The memory carries from one example to
// the next (an online method): results depend on the stream's order. No gradient; one batched forward of the image
// tower per example, the class text features cached, the memory kept and read on the host.
//
// Paper: Y. Zhang, W. Zhu, H. Tang, Z. Ma, K. Zhou, L. Zhang, "Dual Memory Networks: A Versatile Adaptation Approach
// for Vision-Language Models", CVPR 2024. Original code: github.com/YBZh/DMN (dmn_main.py's direct_inference and
// DualMem, clip/fix_clip.py, data/datautils.py, scripts/run.sh); this package was compared with it at commit c6c218c
// (testdata/). In the zero-shot setting (--n_shot 0) the static memory is empty and only the dynamic memory is used.
//
// The protocol, as the original runs it (scripts/run.sh, zero-shot):
//   - Views: 32 (-b 32; data/datautils.py AugMixAugmenter): view 0 is CLIP's base preprocessing (bicubic resize of
//     the shorter side, center crop); views 1..31 RandomResizedCrop(R, scale=(0.5, 1)) (not TPT's 0.08) with a
//     random horizontal flip, and on the fine-grained sets (augmix=len(set_id) > 1) TPT's AugMix ops at severity 1
//     on the crop. NewViewMaker makes them.
//   - Text (--text_prompt tip_cupl): on the ImageNet sets, Caltech101 and SUN397 the 7 Tip-Adapter templates, on the
//     other fine-grained sets one template of their own (data/imagnet_prompts.py ID_to_prompts: "a photo of a {},
//     a type of flower." ...), plus CuPL's GPT-3 descriptions of each class; each class's feature is the mean of its
//     normalised per-prompt features, renormalised. The presets set the templates.
//   - Image features f_i, L2-normalised. p_i = softmax(exp(logit_scale) f_i . t_c), the views' probabilities.
//   - Confidence selection: the int(N * 0.1) = 3 views of lowest -sum p log(p + 1e-6) (select_confident_samples);
//     the mean of their p is the vote, its argmax the pseudo-label y, its -sum p log(p + 1e-8) the entropy h.
//   - Memory write (update_memory_bank), before the prediction: view 0's feature f_0 with h goes to class y's first
//     free slot of 50 (--memory_size 50); when the class is full it replaces the stored feature of largest entropy
//     if h is below that entropy, else it is dropped.
//   - Memory read (get_image_pred, "similarity_weighted"), after the write: for each class c, the keys and values are
//     its stored features and its text feature t_c (L2-normalised; empty slots left out), weighted by
//     exp(-beta (1 - f_0 . k)), beta = 5.5 (--beta), summed and normalised to a_c; the memory's probabilities are
//     softmax(exp(logit_scale) a_c . f_0). The learnable biases of --position all are zeros in the zero-shot setting
//     (never trained) and change nothing.
//   - Output: p_text + w * p_mem with p_text view 0's probabilities (not the vote). The original picks w on each
//     labelled test set after the run, the best accuracy over {0.001, 0.003, ..., 300, 1000}; the presets carry the
//     values its camera-ready logs report (ImageNet 1, -A 3, -V2 1, -R 0.3, -Sketch 1, the fine-grained sets 0.3 to
//     10), and Options.Weight is fixed before the stream.
//
// Prediction: Logits are log((p_text + w p_mem) / (1 + w)), a distribution with the original's argmax; Selected are
// the kept views in ascending entropy; EntropyBefore is the entropy of the mean p of all N views. LastTrace has
// every intermediate, and Memory the memory.
//
// Online protocol (tta.Online): Reset does nothing (nothing is adapted per example); ResetStream empties the memory;
// SaveStream / RestoreStream write and read the memory as versioned bytes, refusing a state of another model, class
// list, template list, selection or memory size.
//
// Differences from the original that this package keeps:
//   - Text: CuPL's class descriptions (data/gpt3_prompts, ImageNet's and the fine-grained sets') are not carried;
//     the default text head is the 7 Tip-Adapter templates alone (--templates tip7).
//   - The weight w is a setting, not searched on the test labels.
//   - The softmaxes, entropies and the memory read are computed in float64 on the host (the original: float32 on
//     the GPU, float16 CLIP features). The memory stores the features L2-normalised once, at the write, in float32;
//     the original normalises the stored (already normalised) features again at every read. A full ImageNet memory
//     (1000 x 50 x 512) takes ~130 ms per read on 2 busy cores (BenchmarkReadImageNet), spread over GOMAXPROCS.
//   - Views of exactly equal entropy keep their index order (stable sort); the original's torch.argsort is not
//     stable. Of equal largest stored entropies, the highest slot is replaced (torch.sort's last index on CPU).
//   - int(N * select) = 0 kept views is an error; the original's vote is then NaN.
//   - Stream order: the original shuffles each test set with seed 0; here the runner's order is the stream.
//
// Usage:
//
//	a, err := dmn.New(backend.MustNew(), m, tok, classNames, imagenet.TipTemplates(), dmn.Options{})
//	err = a.ResetStream()
//	for each example in stream order { views := vm.MakeViews(...); pred, err := a.Adapt(views) }
package dmn
