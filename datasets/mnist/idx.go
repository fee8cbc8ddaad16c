package mnist

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// idx magic numbers: two zero bytes, the element type (0x08 = unsigned byte) and the number of dimensions.
const (
	magicImages = 0x00000803 // uint8, 3 dimensions: [n, rows, cols]
	magicLabels = 0x00000801 // uint8, 1 dimension: [n]
)

// maxIDXBytes bounds the data an idx header may announce (MNIST's train images are 47 MB).
const maxIDXBytes = 1 << 30

// openIDX opens an idx file, gunzipping it when its name ends in ".gz".
func openIDX(path string) (io.Reader, func() error, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	if !strings.HasSuffix(path, ".gz") {
		return bufio.NewReader(f), f.Close, nil
	}
	z, err := gzip.NewReader(bufio.NewReader(f))
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("mnist: %s: %w", path, err)
	}
	return z, func() error { z.Close(); return f.Close() }, nil
}

// ReadImages reads an idx3-ubyte images file (gzipped when the name ends in ".gz"): n images of rows x cols
// bytes, returned as one row-major []uint8 of shape [n, rows, cols]. The magic number, the size announced in the
// header and the absence of trailing bytes are verified; errors name the file.
func ReadImages(path string) (pix []uint8, n, rows, cols int, err error) {
	r, closeFn, err := openIDX(path)
	if err != nil {
		return nil, 0, 0, 0, fmt.Errorf("mnist: read images: %w", err)
	}
	defer closeFn()
	var hdr [4]uint32
	if err := binary.Read(r, binary.BigEndian, &hdr); err != nil {
		return nil, 0, 0, 0, fmt.Errorf("mnist: %s: reading the idx header: %w", path, err)
	}
	if hdr[0] != magicImages {
		return nil, 0, 0, 0, fmt.Errorf("mnist: %s: magic number %#08x, want %#08x (idx3 unsigned bytes)", path, hdr[0], magicImages)
	}
	n, rows, cols = int(hdr[1]), int(hdr[2]), int(hdr[3])
	size := uint64(hdr[1]) * uint64(hdr[2]) * uint64(hdr[3])
	if size > maxIDXBytes {
		return nil, 0, 0, 0, fmt.Errorf("mnist: %s: header announces %d x %d x %d bytes, more than %d", path, n, rows, cols, maxIDXBytes)
	}
	pix = make([]uint8, size)
	if err := readAll(r, pix); err != nil {
		return nil, 0, 0, 0, fmt.Errorf("mnist: %s: want %d images of %dx%d: %w", path, n, rows, cols, err)
	}
	return pix, n, rows, cols, nil
}

// ReadLabels reads an idx1-ubyte labels file (gzipped when the name ends in ".gz"); every label must be 0..9.
func ReadLabels(path string) ([]uint8, error) {
	r, closeFn, err := openIDX(path)
	if err != nil {
		return nil, fmt.Errorf("mnist: read labels: %w", err)
	}
	defer closeFn()
	var hdr [2]uint32
	if err := binary.Read(r, binary.BigEndian, &hdr); err != nil {
		return nil, fmt.Errorf("mnist: %s: reading the idx header: %w", path, err)
	}
	if hdr[0] != magicLabels {
		return nil, fmt.Errorf("mnist: %s: magic number %#08x, want %#08x (idx1 unsigned bytes)", path, hdr[0], magicLabels)
	}
	if hdr[1] > maxIDXBytes {
		return nil, fmt.Errorf("mnist: %s: header announces %d labels", path, hdr[1])
	}
	labels := make([]uint8, hdr[1])
	if err := readAll(r, labels); err != nil {
		return nil, fmt.Errorf("mnist: %s: want %d labels: %w", path, hdr[1], err)
	}
	for i, l := range labels {
		if l >= NumClasses {
			return nil, fmt.Errorf("mnist: %s: label %d is %d, not a digit", path, i, l)
		}
	}
	return labels, nil
}

// readAll fills buf and then requires the end of the stream.
func readAll(r io.Reader, buf []uint8) error {
	if n, err := io.ReadFull(r, buf); err != nil {
		return fmt.Errorf("file ends after %d of %d data bytes: %w", n, len(buf), err)
	}
	var one [1]byte
	switch _, err := io.ReadFull(r, one[:]); {
	case err == nil:
		return errors.New("trailing bytes after the announced data")
	case errors.Is(err, io.EOF):
		return nil
	default:
		return err
	}
}
