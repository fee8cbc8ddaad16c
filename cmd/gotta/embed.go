package main

import (
	"bufio"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gotta-ml/gotta/tta/backend"
	"github.com/gotta-ml/gotta/tta/clip"
	"github.com/gotta-ml/gotta/tta/clip/tokenizer"
	"github.com/gotta-ml/gotta/tta/weights"
)

func init() {
	register("embed", "CLIP image/text features and zero-shot logits of images and texts, written as .npy", runEmbed)
}

// listFlag collects a repeatable, comma-separable flag.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*l = append(*l, s)
		}
	}
	return nil
}

func runEmbed(args []string) error {
	fs := newFlags("embed", "--weights FILE (--images-npy X.npy | --images FILES...) "+
		"(--text-ids-npy T.npy | --texts FILE --vocab FILE) --out DIR", `
Runs a CLIP model (tta/clip; OpenAI/open_clip or Hugging Face CLIPModel safetensors) and writes, under --out:
  image_features.npy  float32 [N, E]  encode_image of each image (not normalised)
  text_features.npy   float32 [T, E]  encode_text of each text (not normalised)
  logits.npy          float32 [N, T]  exp(logit_scale) * norm(image) @ norm(text)^T (when both are given)

Images: --images-npy is a float32 .npy [N, 3, R, R] already preprocessed (NCHW as torch takes it; transposed to
NHWC here), or --images names image files (repeat the flag, or comma-separate, or list them after the flags),
preprocessed as CLIP does (bicubic resize of the shorter side to R, center crop R, CLIP mean/std).
Texts: --text-ids-npy is an integer .npy [T, L] of token ids (L <= the model's context, EOT = the largest id of
each row), or --texts is a file with one text per line, tokenized with --vocab (bpe_simple_vocab_16e6.txt.gz).`)
	weightsPath := fs.String("weights", "", "CLIP weights (.safetensors) (required)")
	imagesNPY := fs.String("images-npy", "", "preprocessed images, float32 .npy [N, 3, R, R] (NCHW)")
	var images listFlag
	fs.Var(&images, "images", "image files (repeatable, comma-separated)")
	textIDs := fs.String("text-ids-npy", "", "token ids, integer .npy [T, L]")
	texts := fs.String("texts", "", "text file, one text per line (needs --vocab)")
	vocab := fs.String("vocab", "", "OpenAI's bpe_simple_vocab_16e6.txt.gz, for --texts")
	truncate := fs.Bool("truncate", false, "cut texts longer than the context (default: error, as clip.tokenize)")
	out := fs.String("out", "", "output directory (created) (required)")
	batch := fs.Int("batch", 32, "images or texts per executable call")
	bf16 := fs.Bool("bf16", false, "compute in bfloat16 (default float32)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	images = append(images, fs.Args()...)
	if *weightsPath == "" || *out == "" {
		return errors.New("--weights and --out are required")
	}
	if (*imagesNPY != "") && len(images) > 0 {
		return errors.New("give --images-npy or --images, not both")
	}
	if *textIDs != "" && *texts != "" {
		return errors.New("give --text-ids-npy or --texts, not both")
	}
	if *imagesNPY == "" && len(images) == 0 && *textIDs == "" && *texts == "" {
		return errors.New("nothing to embed: give images (--images-npy or --images) and/or texts (--text-ids-npy or --texts)")
	}
	if *texts != "" && *vocab == "" {
		return errors.New("--texts needs --vocab")
	}
	opts := clip.LoadOpts{}
	if *bf16 {
		opts.DType = dtypes.BFloat16
	}
	m, err := clip.Load(*weightsPath, opts)
	if err != nil {
		return err
	}
	b, _, err := backend.New()
	if err != nil {
		return err
	}
	zs := clip.NewZeroShot(b, m, nil)
	zs.BatchSize = *batch
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}

	var imgFeats, txtFeats [][]float32
	if *imagesNPY != "" || len(images) > 0 {
		var x *tensors.Tensor
		if *imagesNPY != "" {
			x, err = readImagesNPY(*imagesNPY, m.Config.ImageResolution)
		} else {
			x, err = m.PreprocessFiles(images)
		}
		if err != nil {
			return err
		}
		if imgFeats, err = zs.ImageFeatures(x); err != nil {
			return err
		}
		if err := writeRows(filepath.Join(*out, "image_features.npy"), imgFeats); err != nil {
			return err
		}
	}
	if *textIDs != "" || *texts != "" {
		var ids [][]int
		if *textIDs != "" {
			ids, err = readIDsNPY(*textIDs, m.Config.ContextLength)
		} else {
			ids, err = tokenizeFile(*texts, *vocab, m.Config.ContextLength, *truncate)
		}
		if err != nil {
			return err
		}
		if txtFeats, err = zs.EncodeTokenIDs(ids); err != nil {
			return err
		}
		if err := writeRows(filepath.Join(*out, "text_features.npy"), txtFeats); err != nil {
			return err
		}
	}
	if imgFeats != nil && txtFeats != nil {
		scale, err := m.LogitScaleValue()
		if err != nil {
			return err
		}
		norm := make([][]float32, len(txtFeats))
		for i, f := range txtFeats {
			norm[i] = normalizeRow(f)
		}
		if err := writeRows(filepath.Join(*out, "logits.npy"), clip.LogitsHost(imgFeats, norm, scale)); err != nil {
			return err
		}
	}
	fmt.Printf("embed: %s (%s): %d images, %d texts -> %s\n", *weightsPath, m.Config, len(imgFeats), len(txtFeats), *out)
	return nil
}

// readImagesNPY reads float32 NCHW [N, 3, R, R] and returns NHWC [N, R, R, 3].
func readImagesNPY(path string, r int) (*tensors.Tensor, error) {
	data, shape, err := weights.ReadNPYFloat32(path)
	if err != nil {
		return nil, err
	}
	if len(shape) != 4 || shape[1] != 3 || shape[2] != r || shape[3] != r {
		return nil, fmt.Errorf("%s: shape %v, want [N, 3, %d, %d] (NCHW)", path, shape, r, r)
	}
	n, hw := shape[0], r*r
	out := make([]float32, len(data))
	for b := 0; b < n; b++ {
		for c := 0; c < 3; c++ {
			for p := 0; p < hw; p++ {
				out[(b*hw+p)*3+c] = data[(b*3+c)*hw+p]
			}
		}
	}
	return tensors.FromFlatDataAndDimensions(out, n, r, r, 3), nil
}

// readIDsNPY reads integer token ids [T, L] (L <= ctxLen) and pads each row with zeros to ctxLen.
func readIDsNPY(path string, ctxLen int) ([][]int, error) {
	a, err := weights.ReadNPY(path)
	if err != nil {
		return nil, err
	}
	if len(a.Shape) != 2 || a.Shape[1] > ctxLen {
		return nil, fmt.Errorf("%s: shape %v, want [T, L <= %d]", path, a.Shape, ctxLen)
	}
	var flat []int
	switch d := a.Data.(type) {
	case []int64:
		for _, v := range d {
			flat = append(flat, int(v))
		}
	case []int32:
		for _, v := range d {
			flat = append(flat, int(v))
		}
	default:
		return nil, fmt.Errorf("%s: dtype %s, want int64 or int32 token ids", path, a.DType)
	}
	l := a.Shape[1]
	rows := make([][]int, a.Shape[0])
	for i := range rows {
		rows[i] = make([]int, ctxLen)
		copy(rows[i], flat[i*l:(i+1)*l])
	}
	return rows, nil
}

// tokenizeFile tokenizes each line of a text file.
func tokenizeFile(path, vocab string, ctxLen int, truncate bool) ([][]int, error) {
	tok, err := tokenizer.Load(vocab)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }()
	var rows [][]int
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<16), 1<<24)
	for line := 1; sc.Scan(); line++ {
		ids, err := tok.Encode(sc.Text(), ctxLen, truncate)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		rows = append(rows, ids)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("%s: no texts", path)
	}
	return rows, nil
}

func normalizeRow(f []float32) []float32 {
	s := 0.0
	for _, v := range f {
		s += float64(v) * float64(v)
	}
	out := make([]float32, len(f))
	if s == 0 {
		return out
	}
	inv := 1 / math.Sqrt(s)
	for i, v := range f {
		out[i] = float32(float64(v) * inv)
	}
	return out
}

// writeRows writes [len(rows), len(rows[0])] float32 as .npy.
func writeRows(path string, rows [][]float32) error {
	cols := 0
	if len(rows) > 0 {
		cols = len(rows[0])
	}
	flat := make([]float32, 0, len(rows)*cols)
	for _, r := range rows {
		flat = append(flat, r...)
	}
	return weights.WriteNPY(path, []int{len(rows), cols}, flat)
}
