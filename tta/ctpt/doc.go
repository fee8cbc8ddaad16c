// Package ctpt is C-TPT, calibrated test-time prompt tuning (H. S. Yoon et al., "C-TPT: Calibrated Test-Time Prompt
// Tuning for Vision-Language Models via Text Feature Dispersion", ICLR 2024), registered as the method "c-tpt".
//
// Protocol: TPT's (tta/tpt: 64 views, confidence selection of the top 10%, one AdamW step on the class-shared prompt
// context, the prediction on view 0 with the tuned prompt, reset before every example), with the loss
//
//	loss = avg_entropy(selected views) - lambda * ATFD,  ATFD = mean_c || t_c - mean_c' t_c' ||_2
//
// over the L2-normalised text features t_c of the current prompts (tta.TextFeatureDispersion), computed in the
// step's own forward. The original's defaults (hee-suk-yoon/C-TPT, scripts/test_tpt_ctpt_ds.sh and _fg.sh):
// lambda 20 on the natural-shift sets (ImageNet-A, -V2, -R, -Sketch), run with --I_augmix (AugMix views for those
// sets too); lambda 50 on the fine-grained sets and ImageNet, ImageNet without AugMix. The presets say which.
// C-TPT's point is calibration: report ECE beside accuracy (every record carries the confidences).
//
// The method is TPT with one more loss term, so this package holds only its spec: it builds tta/tpt through the
// method registry (tpt's atfd-lambda parameter), as the multi-model ensemble builds its members, and never imports
// tta/tpt. Tests compare with the original code run on tiny random CLIPs (testdata/README.md).
//
// Differences from the original kept here: the text tower runs on the prompts cut to the longest one and the shared
// prefix once (exact); confidence selection keeps at least one view where int(N * 0.1) would be 0; the original's
// unused two_step variant (two optimizer steps per TPT step) is not provided.
//
//	gotta eval --method c-tpt --data imagenet-a=DIR --model clip:ViT-B/16=FILE       # lambda 20, AugMix views
//	gotta eval --method c-tpt --preset imagenet --data imagenet-val=DIR ...          # lambda 50, crops
package ctpt
