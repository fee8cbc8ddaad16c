package resnet

import (
	"fmt"
	"sort"
	"strings"
)

// BlockType is the residual block of a ResNet: torchvision's BasicBlock or Bottleneck.
type BlockType int

const (
	// Basic is torchvision's BasicBlock: two 3x3 convolutions (ResNet-18/34); expansion 1.
	Basic BlockType = iota
	// Bottleneck is torchvision's (v1.5) Bottleneck: 1x1 reduce, 3x3 (grouped, carrying the stride), 1x1 expand
	// (ResNet-50/101/152, ResNeXt); expansion 4.
	Bottleneck
)

// String returns "basic" or "bottleneck".
func (b BlockType) String() string {
	switch b {
	case Basic:
		return "basic"
	case Bottleneck:
		return "bottleneck"
	}
	return fmt.Sprintf("BlockType(%d)", int(b))
}

// Expansion is the ratio of a block's output channels to its planes: 1 for Basic, 4 for Bottleneck.
func (b BlockType) Expansion() int {
	if b == Bottleneck {
		return 4
	}
	return 1
}

// NumStages is the number of residual stages (torchvision's layer1..layer4).
const NumStages = 4

// BNEpsilon is the batch-norm epsilon of torchvision's nn.BatchNorm2d default.
const BNEpsilon = 1e-5

// Config is a ResNet's architecture. It is derived from a checkpoint's tensor shapes (LoadConfig) or taken from a
// preset (ResNet50, ResNeXt50x32x4d, ...). Stage s has Layers[s] blocks; its first block carries the stride (1 for
// stage 0, 2 after), on the 3x3 convolution as torchvision v1.5 does, and a 1x1 conv + BN "downsample" shortcut when
// the stride or the channel count changes.
type Config struct {
	// Block is the residual block type.
	Block BlockType
	// Layers is the number of blocks per stage: [2,2,2,2] ResNet-18, [3,4,6,3] ResNet-34/50, [3,4,23,3] ResNet-101,
	// [3,8,36,3] ResNet-152.
	Layers [NumStages]int
	// Groups is the number of groups of the 3x3 convolutions of Bottleneck blocks (32 for ResNeXt-50 32x4d; 1 else).
	Groups int
	// WidthPerGroup is torchvision's width_per_group (base width): a Bottleneck's inner width is
	// int(planes * WidthPerGroup / 64) * Groups. 64 for ResNets, 4 for ResNeXt-50 32x4d. Informative: the graph uses
	// Widths.
	WidthPerGroup int
	// NumClasses is the classifier's output size (1000 for ImageNet).
	NumClasses int
	// StemWidth is the output channels of the 7x7 stem convolution (64 in torchvision).
	StemWidth int
	// Planes is each stage's planes (torchvision: 64, 128, 256, 512); a block outputs Planes*Expansion channels.
	Planes [NumStages]int
	// Widths is each stage's inner width: the channels of a Bottleneck's 3x3 convolution, or Planes for Basic.
	Widths [NumStages]int
}

// String is a one-line description, e.g. "bottleneck [3 4 6 3] groups 32 width/group 4 classes 1000 stem 64".
func (c Config) String() string {
	return fmt.Sprintf("%s %v groups %d width/group %d classes %d stem %d planes %v widths %v",
		c.Block, c.Layers, c.Groups, c.WidthPerGroup, c.NumClasses, c.StemWidth, c.Planes, c.Widths)
}

// FeatureDim is the width of the pooled features fed to the classifier: Planes[3]*Expansion (2048 for ResNet-50).
func (c Config) FeatureDim() int { return c.Planes[NumStages-1] * c.Block.Expansion() }

// torchvision builds planes 64*2^s and width = int(planes*widthPerGroup/64)*groups.
func torchvisionConfig(block BlockType, layers [NumStages]int, groups, widthPerGroup, numClasses int) Config {
	c := Config{Block: block, Layers: layers, Groups: groups, WidthPerGroup: widthPerGroup,
		NumClasses: numClasses, StemWidth: 64}
	for s := range NumStages {
		c.Planes[s] = 64 << s
		c.Widths[s] = c.Planes[s]
		if block == Bottleneck {
			c.Widths[s] = c.Planes[s] * widthPerGroup / 64 * groups
		}
	}
	return c
}

// ResNet18 is torchvision's resnet18 architecture with 1000 classes.
func ResNet18() Config { return torchvisionConfig(Basic, [4]int{2, 2, 2, 2}, 1, 64, 1000) }

// ResNet34 is torchvision's resnet34 architecture with 1000 classes.
func ResNet34() Config { return torchvisionConfig(Basic, [4]int{3, 4, 6, 3}, 1, 64, 1000) }

// ResNet50 is torchvision's resnet50 (v1.5) architecture with 1000 classes.
func ResNet50() Config { return torchvisionConfig(Bottleneck, [4]int{3, 4, 6, 3}, 1, 64, 1000) }

// ResNet101 is torchvision's resnet101 architecture with 1000 classes.
func ResNet101() Config { return torchvisionConfig(Bottleneck, [4]int{3, 4, 23, 3}, 1, 64, 1000) }

// ResNet152 is torchvision's resnet152 architecture with 1000 classes.
func ResNet152() Config { return torchvisionConfig(Bottleneck, [4]int{3, 8, 36, 3}, 1, 64, 1000) }

// ResNeXt50x32x4d is torchvision's resnext50_32x4d architecture with 1000 classes.
func ResNeXt50x32x4d() Config { return torchvisionConfig(Bottleneck, [4]int{3, 4, 6, 3}, 32, 4, 1000) }

// Validate checks that the configuration describes a buildable network.
func (c Config) Validate() error {
	if c.Block != Basic && c.Block != Bottleneck {
		return fmt.Errorf("resnet: unknown block type %d", int(c.Block))
	}
	if c.StemWidth <= 0 || c.NumClasses <= 0 || c.Groups <= 0 {
		return fmt.Errorf("resnet: config %s: stem width, classes and groups must be positive", c)
	}
	for s := range NumStages {
		if c.Layers[s] <= 0 || c.Planes[s] <= 0 || c.Widths[s] <= 0 {
			return fmt.Errorf("resnet: config %s: stage %d needs positive layers, planes and width", c, s+1)
		}
		if c.Widths[s]%c.Groups != 0 {
			return fmt.Errorf("resnet: config %s: stage %d width %d is not divisible by %d groups", c, s+1, c.Widths[s],
				c.Groups)
		}
		if c.Block == Basic && (c.Widths[s] != c.Planes[s] || c.Groups != 1) {
			return fmt.Errorf("resnet: config %s: basic blocks need groups 1 and widths equal to planes", c)
		}
	}
	return nil
}

// TensorSpec is one tensor of a torchvision ResNet state dict.
type TensorSpec struct {
	// Name is the torchvision state-dict name, e.g. "layer1.0.conv1.weight".
	Name string
	// Shape is the shape in the checkpoint (PyTorch layout: conv OIHW, linear [out, in]).
	Shape []int
	// Scope is the GoMLX context scope of the variable, relative to the model's context: the torchvision module
	// path with "/" separators, e.g. "layer1/0/conv1".
	Scope string
	// Var is the variable name inside Scope: "weight", "bias", "running_mean" or "running_var".
	Var string
	// Kind says how the checkpoint tensor maps to the variable.
	Kind TensorKind
}

// TensorKind says how a checkpoint tensor becomes a GoMLX variable.
type TensorKind int

const (
	// ConvKernel is a conv weight, OIHW in the checkpoint, [kh, kw, in/groups, out] in the context.
	ConvKernel TensorKind = iota
	// LinearWeight is fc.weight, [out, in] in the checkpoint, [in, out] in the context.
	LinearWeight
	// Vector is a 1-D parameter (BN scale/offset, fc bias), copied as is; trainable.
	Vector
	// RunningStat is a BN running mean or variance, copied as is; not trainable.
	RunningStat
)

// VarShape is the variable's shape in the context (kernels HWIO, fc weight [in, out]).
func (t TensorSpec) VarShape() []int {
	switch t.Kind {
	case ConvKernel: // OIHW -> HWIO
		return []int{t.Shape[2], t.Shape[3], t.Shape[1], t.Shape[0]}
	case LinearWeight:
		return []int{t.Shape[1], t.Shape[0]}
	}
	return append([]int(nil), t.Shape...)
}

// Tensors lists every tensor of the configuration's torchvision state dict (num_batches_tracked excluded), in
// module order, with its checkpoint shape and its variable's scope.
func (c Config) Tensors() []TensorSpec {
	var ts []TensorSpec
	conv := func(module string, out, in, k int) {
		ts = append(ts, TensorSpec{Name: module + ".weight", Shape: []int{out, in, k, k}, Kind: ConvKernel,
			Scope: scopeOf(module), Var: "weight"})
	}
	bn := func(module string, ch int) {
		for _, v := range []string{"weight", "bias", "running_mean", "running_var"} {
			kind := Vector
			if strings.HasPrefix(v, "running_") {
				kind = RunningStat
			}
			ts = append(ts, TensorSpec{Name: module + "." + v, Shape: []int{ch}, Kind: kind, Scope: scopeOf(module),
				Var: v})
		}
	}
	conv("conv1", c.StemWidth, 3, 7)
	bn("bn1", c.StemWidth)
	in := c.StemWidth
	exp := c.Block.Expansion()
	for s := range NumStages {
		out := c.Planes[s] * exp
		for b := range c.Layers[s] {
			p := fmt.Sprintf("layer%d.%d.", s+1, b)
			w := c.Widths[s]
			switch c.Block {
			case Basic:
				conv(p+"conv1", w, in, 3)
				bn(p+"bn1", w)
				conv(p+"conv2", out, w, 3)
				bn(p+"bn2", out)
			case Bottleneck:
				conv(p+"conv1", w, in, 1)
				bn(p+"bn1", w)
				conv(p+"conv2", w, w/c.Groups, 3)
				bn(p+"bn2", w)
				conv(p+"conv3", out, w, 1)
				bn(p+"bn3", out)
			}
			if b == 0 && (s > 0 || in != out) {
				conv(p+"downsample.0", out, in, 1)
				bn(p+"downsample.1", out)
			}
			in = out
		}
	}
	ts = append(ts,
		TensorSpec{Name: "fc.weight", Shape: []int{c.NumClasses, in}, Kind: LinearWeight, Scope: "fc", Var: "weight"},
		TensorSpec{Name: "fc.bias", Shape: []int{c.NumClasses}, Kind: Vector, Scope: "fc", Var: "bias"})
	return ts
}

// hasDownsample reports whether block b of stage s has a downsample shortcut (torchvision: stride != 1 or the
// channel count changes).
func (c Config) hasDownsample(s, b int) bool {
	if b != 0 {
		return false
	}
	in := c.StemWidth
	if s > 0 {
		in = c.Planes[s-1] * c.Block.Expansion()
	}
	return s > 0 || in != c.Planes[s]*c.Block.Expansion()
}

// scopeOf turns a torchvision module path ("layer1.0.downsample.0") into a context scope ("layer1/0/downsample/0").
func scopeOf(module string) string { return strings.ReplaceAll(module, ".", "/") }

// ConfigFromShapes derives the architecture from a torchvision-named state dict given as name -> shape, as
// OpenAI's build_model does for CLIP: the stem width from conv1.weight, the block type from the presence of
// layer1.0.conv3.weight, the blocks per stage from the layerX.Y indices, planes, widths and groups from the conv
// shapes, the classes from fc.weight. It checks only what it reads; Load checks every tensor. source names the
// checkpoint in errors.
func ConfigFromShapes(source string, shapes map[string][]int) (Config, error) {
	get := func(name string, rank int) ([]int, error) {
		s, ok := shapes[name]
		if !ok {
			return nil, fmt.Errorf("resnet: %s: missing tensor %q", source, name)
		}
		if len(s) != rank {
			return nil, fmt.Errorf("resnet: %s: tensor %q has shape %v, want rank %d", source, name, s, rank)
		}
		return s, nil
	}
	var c Config
	stem, err := get("conv1.weight", 4)
	if err != nil {
		return c, err
	}
	if stem[1] != 3 || stem[2] != 7 || stem[3] != 7 {
		return c, fmt.Errorf("resnet: %s: tensor \"conv1.weight\" has shape %v, want [stem, 3, 7, 7]", source, stem)
	}
	c.StemWidth = stem[0]
	c.Block = Basic
	if _, ok := shapes["layer1.0.conv3.weight"]; ok {
		c.Block = Bottleneck
	}
	exp := c.Block.Expansion()
	c.Groups = 1
	for s := range NumStages {
		for b := 0; ; b++ {
			if _, ok := shapes[fmt.Sprintf("layer%d.%d.conv1.weight", s+1, b)]; !ok {
				break
			}
			c.Layers[s]++
		}
		p := fmt.Sprintf("layer%d.0.", s+1)
		if c.Layers[s] == 0 {
			return c, fmt.Errorf("resnet: %s: missing tensor %q (stage %d has no blocks)", source, p+"conv1.weight", s+1)
		}
		conv1, err := get(p+"conv1.weight", 4)
		if err != nil {
			return c, err
		}
		c.Widths[s] = conv1[0]
		last := "conv2.weight"
		if c.Block == Bottleneck {
			last = "conv3.weight"
		}
		out, err := get(p+last, 4)
		if err != nil {
			return c, err
		}
		if out[0]%exp != 0 {
			return c, fmt.Errorf("resnet: %s: tensor %q has %d output channels, not a multiple of the expansion %d",
				source, p+last, out[0], exp)
		}
		c.Planes[s] = out[0] / exp
		if c.Block == Bottleneck {
			conv2, err := get(p+"conv2.weight", 4)
			if err != nil {
				return c, err
			}
			if conv2[1] <= 0 || c.Widths[s]%conv2[1] != 0 {
				return c, fmt.Errorf("resnet: %s: tensor %q has shape %v: width %d is not a multiple of its input "+
					"channels", source, p+"conv2.weight", conv2, c.Widths[s])
			}
			g := c.Widths[s] / conv2[1]
			if s > 0 && g != c.Groups {
				return c, fmt.Errorf("resnet: %s: tensor %q implies %d groups, stage 1 has %d", source,
					p+"conv2.weight", g, c.Groups)
			}
			c.Groups = g
		}
	}
	c.WidthPerGroup = 64
	if c.Block == Bottleneck {
		c.WidthPerGroup = c.Widths[0] / c.Groups * 64 / c.Planes[0]
	}
	fc, err := get("fc.weight", 2)
	if err != nil {
		return c, err
	}
	c.NumClasses = fc[0]
	if err := c.Validate(); err != nil {
		return c, fmt.Errorf("resnet: %s: %w", source, err)
	}
	return c, nil
}

// checkShapes compares a checkpoint's name -> shape map with the configuration's tensor list: every expected tensor
// present with its shape, nothing else (num_batches_tracked of an expected BN excepted). It returns one error naming
// the file and every offending tensor (sorted).
func (c Config) checkShapes(source string, shapes map[string][]int) error {
	want := map[string]bool{}
	var problems []string
	for _, t := range c.Tensors() {
		want[t.Name] = true
		got, ok := shapes[t.Name]
		if !ok {
			problems = append(problems, fmt.Sprintf("missing tensor %q (shape %v)", t.Name, t.Shape))
			continue
		}
		if !equalInts(got, t.Shape) {
			problems = append(problems, fmt.Sprintf("tensor %q has shape %v, want %v", t.Name, got, t.Shape))
		}
	}
	var unused []string
	for name := range shapes {
		if want[name] {
			continue
		}
		if m, ok := strings.CutSuffix(name, ".num_batches_tracked"); ok && want[m+".running_mean"] {
			continue
		}
		unused = append(unused, name)
	}
	sort.Strings(unused)
	for _, name := range unused {
		problems = append(problems, fmt.Sprintf("unused tensor %q", name))
	}
	if len(problems) > 0 {
		return fmt.Errorf("resnet: %s (%s): %s", source, c, strings.Join(problems, "; "))
	}
	return nil
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
