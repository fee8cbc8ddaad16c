#!/usr/bin/python3
"""Writes the decoding test files of package datasets and, beside each, PIL's convert("RGB") of it as
<name>.ref.png. Run from this folder with Debian's /usr/bin/python3 (Pillow 9.4.0): /usr/bin/python3 make_images.py
Deterministic: same Pillow/libjpeg/libwebp versions give the same bytes."""
import random

from PIL import Image, ImageDraw

W, H = 41, 29  # odd sizes exercise chroma-subsampling edges


def scene(W=W, H=H):
    """An RGB gradient with a fine blue stripe pattern and two flat shapes (sharp chroma edges)."""
    im = Image.new("RGB", (W, H))
    px = im.load()
    for y in range(H):
        for x in range(W):
            px[x, y] = (int(255 * x / (W - 1)), int(255 * y / (H - 1)), int(128 + 100 * ((x + y) % 7) / 6))
    d = ImageDraw.Draw(im)
    d.rectangle([5, 5, 16, 14], fill=(200, 40, 40))
    d.ellipse([22, 10, 36, 24], fill=(30, 160, 60))
    return im


def save(im, name, **kw):
    im.save(name, **kw)
    Image.open(name).convert("RGB").save(name + ".ref.png")


rgb = scene()
save(rgb, "rgb.jpg", quality=90)                          # YCbCr 4:2:0 JPEG
save(rgb, "progressive.jpg", quality=90, progressive=True)
save(rgb, "rgb422.jpg", quality=90, subsampling="4:2:2")
save(rgb, "rgb444.jpg", quality=90, subsampling="4:4:4")
save(scene(40, 28), "rgb_even.jpg", quality=90)          # even sizes: other edge cases of the upsamplers
save(scene(40, 28), "rgb_even.webp", quality=90)
save(rgb.convert("CMYK"), "cmyk.jpg", quality=95)         # Adobe (inverted) CMYK JPEG, APP14 transform 0
save(rgb.convert("L"), "gray.png")
save(rgb.convert("L"), "gray.jpg", quality=90)
save(rgb.convert("P", palette=Image.ADAPTIVE, colors=16), "palette.gif")
save(rgb.convert("P", palette=Image.ADAPTIVE, colors=16), "palette.png")
rgba = rgb.convert("RGBA")
alpha = Image.new("L", (W, H))
ap = alpha.load()
for y in range(H):
    for x in range(W):
        ap[x, y] = (x * 7 + y * 3) % 256                  # includes alpha 0 pixels that keep a color
rgba.putalpha(alpha)
save(rgba, "rgba.png")
save(rgba, "rgba_lossless.webp", lossless=True, exact=True)
save(rgb, "rgb.webp", quality=90)                          # lossy VP8
save(rgba, "rgba.webp", quality=90)                        # lossy VP8 + ALPH chunk
save(rgb, "rgb.bmp")
save(rgb, "rgb.tiff", compression="tiff_lzw")

data = open("rgb.jpg", "rb").read()
open("truncated.jpg", "wb").write(data[: len(data) // 2])  # cut in the middle of the scan
random.seed(0)
open("random.jpg", "wb").write(bytes(random.getrandbits(8) for _ in range(2000)))
