package augment

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
)

// Kind is the augmentation that makes views 1..N-1.
type Kind int

const (
	// Identity repeats the base preprocessing (view 0) in every view (MC-dropout ensembles).
	Identity Kind = iota
	// RandomResizedCrop is torchvision's RandomResizedCrop(S) + RandomHorizontalFlip() on the raw image, the
	// views of TPT (azshue/TPT AugMixAugmenter with augmix=False, ImageNet sets) and of the seed project's "cut".
	RandomResizedCrop
	// AugMix is torchvision's AugMix() on the raw image, then Resize(S, AugMixFilter) and CenterCrop(S): the
	// order of the seed project's EasyAgumenter "augmix" (transforms.v2.AugMix, Resize(224, BICUBIC),
	// CenterCrop(224)).
	AugMix
	// CropAugMix is MEMO's order (zhangmarvin/memo, ImageNet): RandomResizedCrop(S) + flip on the raw image,
	// then AugMix on the S x S crop. The ops and mixing here are torchvision's AugMix (severity etc. from
	// Views.AugMix), not the AugMix paper's PIL ops that MEMO's code uses (see PaperAugMix).
	CropAugMix
	// PaperAugMix is MEMO's own views (zhangmarvin/memo imagenet-exps `_augmix_aug`; TPT's AugMixAugmenter with
	// augmix=True is the same with Views.PaperAugMix.TPTFill): RandomResizedCrop(S) + flip on the raw image
	// (preaugment), then the AugMix paper's augmentation of the S x S crop (PaperAugMixParams, Views.PaperAugMix):
	// three chains of 1-3 of the nine PIL ops at severity 1, mixed with Dirichlet(1, 1, 1) weights in the
	// normalised float space and blended with the normalised crop by m ~ Beta(1, 1). Its views are float mixes
	// (Generate writes them directly; View returns the crop before AugMix).
	//
	// Exact: the crop's resize (Pillow's bilinear), every op (Pillow 9.4's arithmetic, including MEMO's fill
	// colour (128, 0, 0)), and the float32 mixing, against the originals run with the same draws. Not exact: the
	// draws themselves. The originals draw from numpy's global RNG and torch's, this kind from ViewRNG(Seed,
	// example, view): the same distributions, different samples.
	PaperAugMix
)

// String names the kind as the seed project's aug_type does ("identity", "cut", "augmix"), "crop+augmix" or
// "memo-augmix" (PaperAugMix).
func (k Kind) String() string {
	switch k {
	case Identity:
		return "identity"
	case RandomResizedCrop:
		return "cut"
	case AugMix:
		return "augmix"
	case CropAugMix:
		return "crop+augmix"
	case PaperAugMix:
		return "memo-augmix"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// ParseKind maps "identity", "cut" (or "rrc"), "augmix", "crop+augmix", "memo-augmix" to a Kind.
func ParseKind(s string) (Kind, error) {
	if s == "rrc" {
		return RandomResizedCrop, nil
	}
	for k := Identity; k <= PaperAugMix; k++ {
		if k.String() == s {
			return k, nil
		}
	}
	return 0, fmt.Errorf("augment: unknown view kind %q (want identity, cut, augmix, crop+augmix or memo-augmix)", s)
}

// Views makes the N test-time views of an image, float32 [N, S, S, 3] (NHWC, S = Preprocess.Size).
// View 0 is Preprocess applied to the image; view v >= 1 is Kind's random view drawn from
// ViewRNG(Seed, exampleID, v), then normalised with Preprocess's mean and std.
type Views struct {
	// N is the number of views including view 0; 0 means 64 (TPT's -b 64: the original plus 63).
	N int
	// Kind is the augmentation of views 1..N-1; the zero value is Identity.
	Kind Kind
	// Seed is combined with the example id and view index into each view's RNG.
	Seed int64
	// Preprocess is the base transform (view 0) and gives S and the normalisation of every view. Required.
	Preprocess Preprocess
	// Crop configures the random resized crop; the zero value is torchvision's defaults.
	Crop CropParams
	// CropFilter resizes crops to S x S; 0 means Bilinear, torchvision RandomResizedCrop's default, which TPT
	// and the seed project use (also for CLIP).
	CropFilter Filter
	// AugMix configures AugMix; the zero value is torchvision's defaults (severity 3, width 3, depth 1-3,
	// alpha 1, all ops).
	AugMix AugMixParams
	// PaperAugMix configures Kind PaperAugMix; the zero value is MEMO's (severity 1, width 3, depth 1-3, alpha 1,
	// the nine ops, fill (128, 0, 0), m weighting the original). Its ImageSize must be 0 or S.
	PaperAugMix PaperAugMixParams
	// AugMixFilter is the resize after AugMix (Kind AugMix); 0 means Bicubic (the seed project's
	// Resize(224, BICUBIC)).
	AugMixFilter Filter
	// Workers is the number of goroutines making views; 0 means runtime.GOMAXPROCS(0).
	Workers int
}

func (v Views) withDefaults() Views {
	if v.N == 0 {
		v.N = 64
	}
	if v.CropFilter == 0 {
		v.CropFilter = Bilinear
	}
	if v.AugMixFilter == 0 {
		v.AugMixFilter = Bicubic
	}
	if v.Workers <= 0 {
		v.Workers = runtime.GOMAXPROCS(0)
	}
	return v
}

// Validate reports a configuration that cannot run.
func (v Views) Validate() error {
	if v.N < 0 {
		return fmt.Errorf("augment: Views.N must be >= 0, got %d", v.N)
	}
	if v.Kind < Identity || v.Kind > PaperAugMix {
		return fmt.Errorf("augment: unknown Views.Kind %d", int(v.Kind))
	}
	if v.Kind == PaperAugMix {
		if err := v.PaperAugMix.Validate(); err != nil {
			return err
		}
		if s := v.PaperAugMix.ImageSize; s != 0 && s != v.Preprocess.Size {
			return fmt.Errorf("augment: Views.PaperAugMix.ImageSize %d differs from the view size %d", s,
				v.Preprocess.Size)
		}
	}
	return v.Preprocess.Validate()
}

// View returns view i of img as uint8 S x S pixels, before normalisation. For PaperAugMix, whose views are float
// mixes, it returns view i's crop before AugMix.
func (v Views) View(img *RGB, exampleID string, i int) *RGB {
	return v.withDefaults().view(img, exampleID, i, nil)
}

// view is View for v with defaults set; crop views reuse s's buffers when s != nil.
func (v Views) view(img *RGB, exampleID string, i int, s *scratch) *RGB {
	S := v.Preprocess.Size
	if i == 0 || v.Kind == Identity {
		return v.Preprocess.Base(img)
	}
	r := ViewRNG(v.Seed, exampleID, i)
	switch v.Kind {
	case RandomResizedCrop:
		b := v.Crop.SampleCrop(r, img.W, img.H)
		out := resizeBoxScratch(img, b, S, S, v.CropFilter, s)
		if b.Flip {
			FlipH(out)
		}
		return out
	case AugMix:
		mixed := v.AugMix.AugMix(r, img)
		return CenterCrop(ResizeShorter(mixed, S, v.AugMixFilter), S)
	case CropAugMix:
		crop := ResizeCrop(img, v.Crop.SampleCrop(r, img.W, img.H), S, S, v.CropFilter)
		return v.AugMix.AugMix(r, crop)
	case PaperAugMix:
		return ResizeCrop(img, v.Crop.SampleCrop(r, img.W, img.H), S, S, v.CropFilter)
	}
	panic(fmt.Sprintf("augment.Views.View: unknown kind %d", int(v.Kind)))
}

// Generate returns the N views of img, float32 [N, S, S, 3]. exampleID names the example (e.g. its path in the
// dataset); with Seed it fixes every view.
func (v Views) Generate(img *RGB, exampleID string) ([]float32, error) {
	v = v.withDefaults()
	S := v.Preprocess.Size
	dst := make([]float32, v.N*S*S*3)
	if err := v.GenerateInto(dst, img, exampleID); err != nil {
		return nil, err
	}
	return dst, nil
}

// GenerateInto writes the N views of img into dst (float32 [N, S, S, 3], len N*S*S*3), making them on
// Workers goroutines.
func (v Views) GenerateInto(dst []float32, img *RGB, exampleID string) error {
	v = v.withDefaults()
	if err := v.Validate(); err != nil {
		return fmt.Errorf("%w (example %q)", err, exampleID)
	}
	if err := img.check(); err != nil {
		return fmt.Errorf("%w (example %q)", err, exampleID)
	}
	S := v.Preprocess.Size
	per := S * S * 3
	if len(dst) != v.N*per {
		return fmt.Errorf("augment: Views.GenerateInto: dst has %d floats, want N*S*S*3 = %d (example %q)",
			len(dst), v.N*per, exampleID)
	}
	if v.N == 0 {
		return nil
	}
	// View 0 (and every view of Identity) is the base preprocessing.
	ToTensor(dst[:per], v.Preprocess.Base(img), v.Preprocess.Mean, v.Preprocess.Std)
	if v.Kind == Identity {
		for i := 1; i < v.N; i++ {
			copy(dst[i*per:(i+1)*per], dst[:per])
		}
		return nil
	}
	var next atomic.Int64
	next.Store(1)
	var wg sync.WaitGroup
	for range min(v.Workers, v.N-1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := &scratch{}
			for {
				i := int(next.Add(1) - 1)
				if i >= v.N {
					return
				}
				if v.Kind == PaperAugMix {
					v.paperView(dst[i*per:(i+1)*per], img, exampleID, i)
					continue
				}
				ToTensor(dst[i*per:(i+1)*per], v.view(img, exampleID, i, s), v.Preprocess.Mean, v.Preprocess.Std)
			}
		}()
	}
	wg.Wait()
	return nil
}

// paperView writes view i >= 1 of Kind PaperAugMix into dst (float32 [S, S, 3]): the crop, then the plan, both
// drawn from ViewRNG(Seed, exampleID, i).
func (v Views) paperView(dst []float32, img *RGB, exampleID string, i int) {
	r := ViewRNG(v.Seed, exampleID, i)
	S := v.Preprocess.Size
	crop := ResizeCrop(img, v.Crop.SampleCrop(r, img.W, img.H), S, S, v.CropFilter)
	if err := v.PaperAugMix.Mix(dst, crop, v.PaperAugMix.SamplePlan(r), v.Preprocess.Mean, v.Preprocess.Std); err != nil {
		// Validate checked ImageSize against S, and the crop is S x S: Mix cannot fail.
		panic(fmt.Sprintf("augment.Views.GenerateInto: example %q view %d: %v", exampleID, i, err))
	}
}

// Config describes the views as plain values for records (every default filled in): the number of views, the
// kind, the base preprocessing, and the parameters of the kind's augmentation. Two Views with equal Configs make
// the same views of every image for the same Seed and example id (Seed and Workers are not part of it).
func (v Views) Config() map[string]any {
	v = v.withDefaults()
	p := v.Preprocess.withDefaults()
	c := map[string]any{"n": v.N, "kind": v.Kind.String(), "size": p.Size, "resize": p.Resize,
		"filter": p.Filter.String(), "mean": p.Mean[:], "std": p.Std[:]}
	crop := func() {
		cp := v.Crop.withDefaults()
		c["crop_scale"], c["crop_ratio"], c["crop_flip"] = cp.Scale[:], cp.Ratio[:], cp.FlipProb
		c["crop_filter"] = v.CropFilter.String()
	}
	augmix := func() {
		a := v.AugMix.withDefaults()
		c["augmix"] = map[string]any{"severity": a.Severity, "width": a.Width, "depth": depthConfig(a.Depth),
			"alpha": a.Alpha}
	}
	switch v.Kind {
	case RandomResizedCrop:
		crop()
	case AugMix:
		augmix()
		c["augmix_filter"] = v.AugMixFilter.String()
	case CropAugMix:
		crop()
		augmix()
	case PaperAugMix:
		crop()
		a := v.PaperAugMix.withDefaults()
		ops := make([]string, len(a.Ops))
		for i, op := range a.Ops {
			ops[i] = op.String()
		}
		c["paper_augmix"] = map[string]any{"severity": a.Severity, "width": a.Width, "depth": depthConfig(a.Depth),
			"alpha": a.Alpha, "image_size": a.ImageSize, "ops": ops, "tpt_fill": a.TPTFill,
			"m_weights_mix": a.MWeightsMix}
	}
	return c
}

// depthConfig is an AugMix chain depth for Config: "1-3" for the random depth (0 or negative).
func depthConfig(d int) any {
	if d <= 0 {
		return "1-3"
	}
	return d
}
