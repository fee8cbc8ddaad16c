package embedded

import (
	"image"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func grayPix(t *testing.T, img image.Image) []uint8 {
	g, ok := img.(*image.Gray)
	require.True(t, ok, "want *image.Gray, got %T", img)
	return g.Pix
}

func TestShiftedMNIST(t *testing.T) {
	clean, err := Clean(20)
	require.NoError(t, err)
	assert.Equal(t, "mnist-test", clean.Name())
	assert.Equal(t, 20, clean.Len())
	assert.Equal(t, ClassNames(), clean.Classes())
	for _, name := range DefaultCorruptions() {
		t.Run(name, func(t *testing.T) {
			a, err := ShiftedMNIST(name, 0, 20, DefaultShiftSeed)
			require.NoError(t, err)
			b, err := ShiftedMNIST("mnistc/"+name, DefaultSeverity, 20, DefaultShiftSeed)
			require.NoError(t, err)
			assert.Equal(t, "mnist-c/"+name+"/s3", a.Name())
			differs := 0
			for i := range 20 {
				ea, err := a.Example(i)
				require.NoError(t, err)
				eb, err := b.Example(i)
				require.NoError(t, err)
				ec, err := clean.Example(i)
				require.NoError(t, err)
				assert.Equal(t, grayPix(t, ea.Image), grayPix(t, eb.Image), "deterministic")
				assert.Equal(t, ec.Label, ea.Label)
				if string(grayPix(t, ea.Image)) != string(grayPix(t, ec.Image)) {
					differs++
				}
			}
			assert.Equal(t, 20, differs, "every image is corrupted")
		})
	}
	t.Run("errors", func(t *testing.T) {
		_, err := ShiftedMNIST("fog", 6, 10, 0)
		require.Error(t, err)
		_, err = ShiftedMNIST("no_such", 3, 10, 0)
		require.Error(t, err)
		_, err = ShiftedMNIST("fog", 3, 10001, 0)
		require.Error(t, err)
		s, err := ShiftedMNIST("fog", 3, 5, 0)
		require.NoError(t, err)
		_, err = s.Example(5)
		require.Error(t, err)
	})
}
