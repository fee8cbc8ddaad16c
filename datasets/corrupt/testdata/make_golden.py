"""Writes golden.json: reference outputs for datasets/corrupt from independent implementations.

Run with Debian's python (numpy, Pillow, torch): /usr/bin/python3 make_golden.py
  - pixelate: Pillow Image.resize(..., Image.BOX) down by ImageNet-C's factor and back up (ImageNet-C's code).
  - brightness: Python's colorsys HSV round trip with V + c (ImageNet-C's brightness; skimage is not installed).
  - contrast: numpy, (x - per-channel mean) * c + mean (ImageNet-C's formula).
  - affine: torch.nn.functional.grid_sample (bilinear, zero padding, align_corners=True) at the source coordinates
    M @ (p - centre) + centre + t, which is skimage.transform.warp(inverse_map=AffineTransform) with order=1.
Outputs are float values x255 before any rounding, except pixelate (Pillow returns uint8).
"""
import colorsys, json, math
import numpy as np
from PIL import Image
import torch
import torch.nn.functional as F

rng = np.random.default_rng(20190621)
out = {}

# RGB input, 37 x 23 (width x height), uint8.
W, H = 37, 23
rgb = rng.integers(0, 256, size=(H, W, 3), dtype=np.uint8)
out["rgb"] = {"w": W, "h": H, "pix": rgb.flatten().tolist()}

pix = {}
for s, c in enumerate([0.6, 0.5, 0.4, 0.3, 0.25], start=1):
    im = Image.fromarray(rgb).resize((int(W * c), int(H * c)), Image.BOX).resize((W, H), Image.BOX)
    pix[str(s)] = np.asarray(im).flatten().tolist()
out["pixelate"] = pix

x = rgb / 255.0
bri = {}
for s, c in enumerate([0.1, 0.2, 0.3, 0.4, 0.5], start=1):
    y = np.zeros_like(x)
    for i in range(H):
        for j in range(W):
            h, sat, v = colorsys.rgb_to_hsv(*x[i, j])
            y[i, j] = colorsys.hsv_to_rgb(h, sat, min(v + c, 1.0))
    bri[str(s)] = np.round(np.clip(y, 0, 1) * 255, 4).flatten().tolist()
out["brightness"] = bri

con = {}
for s, c in enumerate([0.4, 0.3, 0.2, 0.1, 0.05], start=1):
    means = x.mean(axis=(0, 1), keepdims=True)
    con[str(s)] = np.round(np.clip((x - means) * c + means, 0, 1) * 255, 4).flatten().tolist()
out["contrast"] = con

# Gray input 28 x 28 (a random blob pattern) for the affine warps.
G = 28
gray = (rng.random((G, G)) ** 3)
gray = np.round(gray * 255).astype(np.uint8)
out["gray"] = {"w": G, "h": G, "pix": gray.flatten().tolist()}
def warp(m, t):
    c = (G - 1) / 2
    ys, xs = np.meshgrid(np.arange(G, dtype=np.float64), np.arange(G, dtype=np.float64), indexing="ij")
    sx = m[0][0] * (xs - c) + m[0][1] * (ys - c) + c + t[0]
    sy = m[1][0] * (xs - c) + m[1][1] * (ys - c) + c + t[1]
    grid = np.stack([2 * sx / (G - 1) - 1, 2 * sy / (G - 1) - 1], axis=-1)[None]
    inp = torch.tensor(gray / 255.0, dtype=torch.float64)[None, None]
    res = F.grid_sample(inp, torch.tensor(grid), mode="bilinear", padding_mode="zeros", align_corners=True)
    return np.round(res[0, 0].numpy().clip(0, 1) * 255, 4).flatten().tolist()
aff = []
for a in [0.6, -1.0]:
    aff.append({"kind": "rotate", "param": a, "out": warp([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]], [0, 0])})
    aff.append({"kind": "shear", "param": a, "out": warp([[1, -math.sin(a)], [0, math.cos(a)]], [0, 0])})
for f in [0.9, 0.5]:
    aff.append({"kind": "scale", "param": f, "out": warp([[1 / f, 0], [0, 1 / f]], [0, 0])})
aff.append({"kind": "translate", "param": 3, "out": warp([[1, 0], [0, 1]], [3, -3])})
out["affine"] = aff

with open("golden.json", "w") as f:
    json.dump(out, f)
