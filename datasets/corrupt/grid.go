package corrupt

import (
	"image"
	"image/color"
	"image/draw"
)

// GridPadding is the white gap, in pixels, around and between the tiles of Grid.
const GridPadding = 2

// Grid tiles images into one opaque RGBA picture for docs and notebooks: images[row][col] is drawn at the
// top-left of a cell as large as the largest image, with GridPadding white pixels around and between cells;
// nil entries and short rows leave their cells white. With R rows, C the longest row, and cells of W x H, the
// result is (C·(W+GridPadding)+GridPadding) x (R·(H+GridPadding)+GridPadding). Typical use: one row per
// corruption, one column per severity.
func Grid(images [][]image.Image) image.Image {
	cols, cw, ch := 0, 0, 0
	for _, row := range images {
		cols = max(cols, len(row))
		for _, img := range row {
			if img != nil {
				cw, ch = max(cw, img.Bounds().Dx()), max(ch, img.Bounds().Dy())
			}
		}
	}
	out := image.NewRGBA(image.Rect(0, 0, cols*(cw+GridPadding)+GridPadding, len(images)*(ch+GridPadding)+GridPadding))
	draw.Draw(out, out.Bounds(), image.NewUniform(color.White), image.Point{}, draw.Src)
	for r, row := range images {
		for c, img := range row {
			if img == nil {
				continue
			}
			at := image.Pt(GridPadding+c*(cw+GridPadding), GridPadding+r*(ch+GridPadding))
			draw.Draw(out, img.Bounds().Sub(img.Bounds().Min).Add(at), img, img.Bounds().Min, draw.Src)
		}
	}
	return out
}
