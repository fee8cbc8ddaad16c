package embedded

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/gotta-ml/gotta/tta"
	"github.com/gotta-ml/gotta/tta/clip"
	"github.com/gotta-ml/gotta/tta/resnet"
)

// weightsFS holds the committed weights (weights/CLIPFile and weights/ResNetFile), made by `gotta train-embedded`
// with the default options.
//
//go:embed weights/*.safetensors
var weightsFS embed.FS

// Bytes returns the content of an embedded weights file (CLIPFile or ResNetFile).
func Bytes(name string) ([]byte, error) {
	b, err := weightsFS.ReadFile("weights/" + name)
	if err != nil {
		return nil, fmt.Errorf("embedded: no embedded weights file %q: %w", name, err)
	}
	return b, nil
}

var (
	pathMu    sync.Mutex
	pathCache = map[string]string{}
)

// Path writes the embedded weights file name (CLIPFile or ResNetFile) once to tta.CacheDir()/embedded/ (or the
// system's temporary directory when that is not writable), under a name carrying the content's SHA-256 prefix,
// and returns its path; loaders that take paths (clip.Load, resnet.Load) read it from there. Safe for concurrent
// use and across processes (the file is written to a temporary name and renamed).
func Path(name string) (string, error) {
	pathMu.Lock()
	defer pathMu.Unlock()
	if p, ok := pathCache[name]; ok {
		return p, nil
	}
	data, err := Bytes(name)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(data)
	base := hex.EncodeToString(sum[:6]) + "-" + name
	var lastErr error
	for _, dir := range []string{filepath.Join(tta.CacheDir(), "embedded"), filepath.Join(os.TempDir(), "gotta-embedded")} {
		p := filepath.Join(dir, base)
		if st, err := os.Stat(p); err == nil && st.Size() == int64(len(data)) {
			pathCache[name] = p
			return p, nil
		}
		if err := writeAtomic(p, data); err != nil {
			lastErr = err
			continue
		}
		pathCache[name] = p
		return p, nil
	}
	return "", fmt.Errorf("embedded: writing %s: %w", name, lastErr)
}

func writeAtomic(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		_ = f.Close()
		_ = os.Remove(f.Name())
		return err
	}
	if err := f.Close(); err != nil {
		_ = os.Remove(f.Name())
		return err
	}
	return os.Rename(f.Name(), path)
}

// CLIP returns the path of the embedded CLIP weights file (see Path): OpenAI state-dict names, read by clip.Load,
// with the word vocabulary in its metadata (Tokenizer).
func CLIP() (string, error) { return Path(CLIPFile) }

// ResNet returns the path of the embedded ResNet weights file (see Path): torchvision names, read by resnet.Load.
func ResNet() (string, error) { return Path(ResNetFile) }

// Tokenizer returns the embedded CLIP's word tokenizer (the vocabulary stored in the CLIP file).
func Tokenizer() (*WordTokenizer, error) {
	p, err := CLIP()
	if err != nil {
		return nil, err
	}
	return TokenizerFromFile(p)
}

// LoadCLIP loads the embedded CLIP with clip.Load and its tokenizer.
func LoadCLIP(opts clip.LoadOpts) (*clip.Model, *WordTokenizer, error) {
	p, err := CLIP()
	if err != nil {
		return nil, nil, err
	}
	m, err := clip.Load(p, opts)
	if err != nil {
		return nil, nil, err
	}
	tok, err := TokenizerFromFile(p)
	if err != nil {
		return nil, nil, err
	}
	return m, tok, nil
}

// LoadResNet loads the embedded ResNet into ctx with resnet.Load.
func LoadResNet(ctx *context.Context) (*resnet.Model, error) {
	p, err := ResNet()
	if err != nil {
		return nil, err
	}
	return resnet.Load(ctx, p)
}
