// Package embedded is GoTTA's embedded default: a small CLIP and a small ResNet that the project trains itself on
// MNIST, whose weights are committed (weights/, about 2 MB) and used whenever no other weights are given, and the
// shifted test set they are evaluated on (MNIST test under MNIST-C style corruptions, Mu & Gilmer 2019).
//
// The CLIP (Radford et al., "Learning Transferable Visual Models From Natural Language Supervision", ICML 2021) is
// a ViT on 32x32 images with 8x8 patches, width 64, 2 layers, and a text transformer of width 64, 2 layers,
// context 12, over a word vocabulary built from its captions (WordTokenizer; SOT and EOT are the two largest ids,
// so CLIP's argmax-EOT rule holds). It is trained with CLIP's symmetric contrastive loss and learned temperature
// (CLIPLoss) on MNIST train paired with varied captions ("a photo of the number seven.", "a handwritten 7.", ...;
// CaptionTemplates). It is stored with OpenAI's state-dict names and a `__metadata__` (heads, vocabulary,
// preprocessing) that clip.Load reads, so the zero-shot head and TPT use it unchanged; evaluate it with
// ClassNames, DefaultTemplate or EnsembleTemplates.
//
// The ResNet (He et al., CVPR 2016) is torchvision's architecture with BasicBlocks [1,1,1,1], width 16 and 10
// classes, trained with cross-entropy and batch norm in training mode (non-trivial running statistics), stored with
// torchvision names for resnet.Load: it is the classifier MEMO (Zhang, Levine, Finn, NeurIPS 2022) adapts.
//
// Both take RGB images of MNIST's 28x28 digits resized (bicubic), gray repeated on the channels: the CLIP 32x32
// (InputSize) normalised with CLIP's mean/std (CLIPPreprocess, equal to clip.Model.Preprocess of the loaded model), the
// ResNet 36x36 (ResNetInputSize, so that a single image still leaves layer4 a 2x2 map for MEMO's batch statistics)
// normalised with ImageNet's (ResNetPreprocess; the file's metadata states image_size 36). `gotta train-embedded`
// reproduces both files from scratch with fixed seeds (TrainCLIP, TrainResNet, SaveCLIP, SaveResNet).
//
// Usage:
//
//	m, tok, err := embedded.LoadCLIP(clip.LoadOpts{})            // or path, _ := embedded.CLIP(); clip.Load(path, ...)
//	zs := clip.NewZeroShot(backend.MustNew(), m, tok)
//	text, err := zs.TextFeatures(embedded.ClassNames(), []string{embedded.DefaultTemplate})
//	ds, err := embedded.ShiftedMNIST("fog", embedded.DefaultSeverity, embedded.DefaultSize, embedded.DefaultShiftSeed)
//	ex, _ := ds.Example(0)
//	x, _ := embedded.PreprocessImage(ex.Image, embedded.CLIPPreprocess()) // [32, 32, 3]
//
//	ctx := context.New()
//	rn, err := embedded.LoadResNet(ctx)                           // logits: rn.Logits(ctx, x, resnet.ForwardOpts{})
//	xr, _ := embedded.PreprocessImage(ex.Image, embedded.ResNetPreprocess()) // [36, 36, 3]
package embedded
