package corrupt_test

import (
	"fmt"
	"image"
	"image/color"

	"github.com/gotta-ml/gotta/datasets/corrupt"
)

func ExampleApply() {
	digit := image.NewGray(image.Rect(0, 0, 28, 28))
	for y := 8; y < 20; y++ {
		digit.SetGray(14, y, color.Gray{Y: 255}) // A "1".
	}
	out, err := corrupt.Apply("mnistc/fog", digit, 3, 42, 0)
	if err != nil {
		panic(err)
	}
	fmt.Printf("%T %v\n", out, out.Bounds())
	_, err = corrupt.Apply("shot_noise", digit, 3, 42, 0)
	fmt.Println(err != nil) // "shot_noise" is in both sets: name the set.
	// Output:
	// *image.Gray (0,0)-(28,28)
	// true
}

func ExampleGrid() {
	clean := image.NewRGBA(image.Rect(0, 0, 64, 48))
	row := []image.Image{clean}
	for s := corrupt.MinSeverity; s <= corrupt.MaxSeverity; s++ {
		img, _ := corrupt.Apply("imagenetc/contrast", clean, s, 0, 0)
		row = append(row, img)
	}
	fmt.Println(corrupt.Grid([][]image.Image{row}).Bounds())
	// Output: (0,0)-(398,52)
}
