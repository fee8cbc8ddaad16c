// Package corrupt implements MNIST-C and ImageNet-C style image corruptions in pure Go, deterministic by
// (seed, example, severity), for evaluating test-time adaptation under distribution shift.
//
// References:
//   - N. Mu and J. Gilmer, "MNIST-C: A Robustness Benchmark for Computer Vision", 2019 (arXiv:1906.02337);
//     code: google-research/mnist-c, corruptions.py.
//   - D. Hendrycks and T. Dietterich, "Benchmarking Neural Network Robustness to Common Corruptions and
//     Perturbations", ICLR 2019; code: hendrycks/robustness, ImageNet-C/imagenet_c/imagenet_c/corruptions.py.
//
// Usage:
//
//	img, err := corrupt.Apply("mnistc/fog", digit, 3, seed, exampleIndex) // *image.Gray, digit's size
//	for _, c := range corrupt.ImageNetC() {
//		out := c.Apply(photo, 5, corrupt.NewRNG(c.ID(), seed, i, 5)) // *image.RGBA
//	}
//	grid := corrupt.Grid([][]image.Image{{clean, sev1, sev2, sev3, sev4, sev5}})
//
// Names: every corruption has an ID "<set>/<name>" ("mnistc/shot_noise", "imagenetc/shot_noise"); ByName and
// Apply also take a bare name when only one set has it ("fog", "pixelate"). Severity is 1..5. The random
// generator of Apply is a PCG seeded from SHA-256(id, seed, exampleIndex, severity) (NewRNG): no global state,
// the same arguments always give the same bytes (on a given GOARCH: the Go compiler may fuse multiply-adds on
// arm64), and examples can be corrupted in any order or in parallel.
// Pixel values are processed as float64 in [0,1] and rounded to 8 bits at the end (the reference code
// truncates when it saves).
//
// # MNIST-C (set "mnistc", gray in, *image.Gray out)
//
// Parameters are MNIST-C's tables, indexed by severity 1..5. "Release" is the severity used for the published
// MNIST-C data set (Corruption.ReleaseSeverity; the default argument of each function in corruptions.py).
// Rows marked (GoTTA) are corruptions that MNIST-C applies at one strength; severity 1 is MNIST-C's setting
// and higher severities are this package's extension.
//
//	name          parameter (severity 1, 2, 3, 4, 5)                                    release
//	shot_noise    Poisson rate c: 60, 25, 12, 5, 3; x' = Poisson(c·x)/c                      5
//	impulse_noise salt-and-pepper amount: .03, .06, .09, .17, .27                           4
//	glass_blur    (sigma, max shift, iterations): (.7,1,2) (.9,2,1) (1,2,3) (1.1,3,2)        1
//	              (1.5,4,2); blur, then swap each interior pixel with prob. 1/2, blur again
//	motion_blur   ImageMagick (radius, sigma): (10,3) (15,5) (15,8) (15,12) (20,15),         1
//	              angle uniform in [-45°, 45°); a one-sided gaussian line kernel
//	shear         shear angle ±0.2, ±0.4, ±0.6, ±0.8, ±1.0 rad about the centre             2
//	scale         shrink to 0.9, 0.8, 0.7, 0.6, 0.5 about the centre                         3
//	rotate        rotation ±0.2, ±0.4, ±0.6, ±0.8, ±1.0 rad about the centre                 2
//	brightness    x' = x + .1, .2, .3, .4, .5                                                5
//	translate     shift by (±c, ±c) pixels, c = 1, 2, 3, 4, 5 (independent random signs)    3
//	stripe        (GoTTA) invert side bands of width .25, .30, .35, .40, .45 × width         1
//	fog           plasma fractal (strength, decay): (1.5,2) (2,2) (2.5,1.7) (2.5,1.5) (3,1.4) 5
//	spatter       mud (mean, std, sigma, threshold, mask sigma): (.65,.3,4,.69,.6)           4
//	              (.65,.3,3,.68,.6) (.65,.3,2,.68,.5) (.65,.3,1,.65,1.5) (.67,.4,1,.65,1.5)
//	dotted_line   (GoTTA) number of dashed lines: 1, 2, 3, 4, 5                              1
//	zigzag        (GoTTA) number of zigzag lines: 1, 2, 3, 4, 5                              1
//	canny_edges   (GoTTA) Canny smoothing sigma: 1, 1.5, 2, 2.5, 3 (thresholds .1/.2)        1
//
// Geometric corruptions are inverse-mapped bilinear warps with a black border, as skimage.transform.warp; a
// source point at offset q from the centre lands at M⁻¹q, where M is the table's matrix (rotation R(a), shear
// [[1, -sin a], [0, cos a]] in skimage ≤ 0.18's convention, scale 1/factor); translate moves content by
// (-dx, -dy) for the map's (dx, dy). canny_edges follows skimage.feature.canny (gaussian smoothing, Sobel,
// interpolated non-maximum suppression, hysteresis with 8-connectivity).
//
// # ImageNet-C (set "imagenetc", RGB in, *image.RGBA out)
//
// All five severities are ImageNet-C's own tables. Pixel parameters (blur radii) are for 224x224 images, as in
// ImageNet-C; they are applied unchanged to other sizes.
//
//	name             parameter (severity 1, 2, 3, 4, 5)
//	gaussian_noise   std: .08, .12, .18, .26, .38; x' = x + N(0, std²)
//	shot_noise       Poisson rate c: 60, 25, 12, 5, 3
//	impulse_noise    salt-and-pepper amount (per channel value): .03, .06, .09, .17, .27
//	defocus_blur     disk (radius, alias blur): (3,.1) (4,.5) (6,.5) (8,.5) (10,.5)
//	motion_blur      ImageMagick (radius, sigma): (10,3) (15,5) (15,8) (15,12) (20,15), angle in [-45°, 45°)
//	contrast         x' = (x - mean)·c + mean per channel, c = .4, .3, .2, .1, .05
//	brightness       HSV value + .1, .2, .3, .4, .5
//	jpeg_compression image/jpeg quality 25, 18, 15, 10, 7
//	pixelate         BOX resize by .6, .5, .4, .3, .25 and back (Pillow's BOX filter)
//
// Not implemented: ImageNet-C's glass_blur, zoom_blur, snow, frost (needs its images), fog, elastic_transform,
// and the validation corruptions; MNIST-C's spatter is the gray mud variant only.
package corrupt
