#!/usr/bin/python3
"""Generates the golden reference outputs for datasets/augment tests.

Run from this directory with Debian's python (torch 1.13, torchvision 0.14.1, Pillow 9.4, numpy 1.24):

    /usr/bin/python3 gen_golden.py

Every input image is the integer formula `pattern(w, h)` below, which the Go tests compute identically,
so no input images are stored. Outputs are .npy files plus golden.json (the case list).
"""
import json
import math

import numpy as np
import torch
import torchvision
import torchvision.transforms as T
import torchvision.transforms.functional as F
from torchvision.transforms import InterpolationMode
from torchvision.transforms.autoaugment import AugMix, _apply_op
from PIL import Image


def pattern(w, h):
    """uint8 [h, w, 3]: wrapped ramps (sharp edges), a product term and hashed noise."""
    y, x = np.mgrid[0:h, 0:w].astype(np.int64)
    out = np.zeros((h, w, 3), dtype=np.int64)
    for c in range(3):
        noise = ((x * 73856093) ^ (y * 19349663) ^ (c * 83492791)) % 23
        v = x * x * 3 // (c + 1) + y * 5 + c * 85 + (x * y) // 7 + noise
        out[..., c] = v % 256
    return out.astype(np.uint8)


FILTERS = {"nearest": Image.NEAREST, "bilinear": Image.BILINEAR, "bicubic": Image.BICUBIC}
TV_FILTERS = {"bilinear": InterpolationMode.BILINEAR, "bicubic": InterpolationMode.BICUBIC}

golden = {"versions": {"torch": torch.__version__, "torchvision": torchvision.__version__,
                       "PIL": Image.__version__, "numpy": np.__version__},
          "resize": [], "preprocess": [], "ops": [], "rrc": []}

# 1. PIL Image.resize.
for name, (sw, sh, dw, dh) in {"up": (61, 47, 140, 108), "down": (230, 161, 100, 70),
                               "odd": (61, 47, 29, 53), "big": (500, 375, 131, 98)}.items():
    src = Image.fromarray(pattern(sw, sh))
    for fname, f in FILTERS.items():
        out = np.asarray(src.resize((dw, dh), f))
        file = f"resize_{name}_{fname}.npy"
        np.save(file, out)
        golden["resize"].append({"file": file, "src": [sw, sh], "dst": [dw, dh], "filter": fname})

# 2. torchvision Resize(int) + CenterCrop + ToTensor + Normalize (float32 [S,S,3]) or uint8 after the crop.
CLIP_MEAN, CLIP_STD = (0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711)
IN_MEAN, IN_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
for name, (sw, sh, resize, crop, fname, mean, std, normalize) in {
        "clip48_down": (230, 161, 48, 48, "bicubic", CLIP_MEAN, CLIP_STD, True),
        "clip64_up": (61, 47, 64, 64, "bicubic", CLIP_MEAN, CLIP_STD, True),
        "imnet_72_64": (161, 230, 72, 64, "bilinear", IN_MEAN, IN_STD, True),
        "clip224_full": (500, 375, 224, 224, "bicubic", CLIP_MEAN, CLIP_STD, False),
        "imnet256_224_full": (375, 500, 256, 224, "bilinear", IN_MEAN, IN_STD, False),
        "pad_20_32": (61, 47, 20, 32, "bicubic", CLIP_MEAN, CLIP_STD, False)}.items():
    src = Image.fromarray(pattern(sw, sh))
    pil = T.Compose([T.Resize(resize, interpolation=TV_FILTERS[fname]), T.CenterCrop(crop)])(src)
    if normalize:
        t = T.Compose([T.ToTensor(), T.Normalize(mean, std)])(pil)  # [3,S,S]
        out = t.permute(1, 2, 0).contiguous().numpy().astype(np.float32)
    else:
        out = np.asarray(pil)
    file = f"pre_{name}.npy"
    np.save(file, out)
    golden["preprocess"].append({"file": file, "src": [sw, sh], "resize": resize, "crop": crop,
                                 "filter": fname, "mean": mean, "std": std, "normalized": normalize})

# 3. AugMix ops (torchvision's _apply_op on a uint8 CHW tensor, as AugMix applies them).
aug = AugMix()
ow, oh = 40, 31
space = aug._augmentation_space(aug._PARAMETER_MAX, (oh, ow))
golden["augmix_space"] = {"image_hw": [oh, ow], "ops": [
    {"name": k, "signed": bool(s), "magnitudes": (m.tolist() if m.ndim > 0 else [])} for k, (m, s) in space.items()]}
big_space = aug._augmentation_space(aug._PARAMETER_MAX, (375, 500))
golden["augmix_space_500x375"] = {k: (m.tolist() if m.ndim > 0 else []) for k, (m, s) in big_space.items()}
img = torch.from_numpy(pattern(ow, oh)).permute(2, 0, 1).contiguous()
outs = []
for opname, (mags, signed) in space.items():
    bins = [1, 2, 9] if mags.ndim > 0 else [None]
    for b in bins:
        for sign in ([1.0, -1.0] if signed else [1.0]):
            mag = float(mags[b].item()) * sign if b is not None else 0.0
            out = _apply_op(img, opname, mag, interpolation=InterpolationMode.BILINEAR, fill=None)
            outs.append(out.permute(1, 2, 0).numpy())
            golden["ops"].append({"op": opname, "bin": b, "magnitude": mag, "index": len(outs) - 1})
np.save("augmix_ops.npy", np.stack(outs).astype(np.uint8))

# 4. RandomResizedCrop.get_params and RandomHorizontalFlip samples with a fixed torch seed.
for (w, h, n) in [(500, 375, 20000), (300, 40, 5000)]:
    torch.manual_seed(0)
    img = Image.new("RGB", (w, h))
    rows = []
    for _ in range(n):
        i, j, hh, ww = T.RandomResizedCrop.get_params(img, scale=(0.08, 1.0), ratio=(3.0 / 4.0, 4.0 / 3.0))
        rows.append([i, j, hh, ww])
    file = f"rrc_{w}x{h}.npy"
    np.save(file, np.array(rows, dtype=np.int16))
    golden["rrc"].append({"file": file, "w": w, "h": h, "n": n, "columns": ["top", "left", "height", "width"]})


# 5. Whole AugMix calls with scripted draws: torch.randint and the Dirichlet samples are replaced by
#    fixed values, and the resulting plan (weights and each chain's ops and signed magnitudes) is recorded.
class ScriptedAugMix(AugMix):
    def __init__(self, dirichlets):
        super().__init__()
        self.dirichlets = list(dirichlets)

    def _sample_dirichlet(self, params):
        return torch.tensor([self.dirichlets.pop(0)], dtype=torch.float32)


rng = np.random.default_rng(1)
img = torch.from_numpy(pattern(ow, oh)).permute(2, 0, 1).contiguous()
names = list(space.keys())
outs = []
golden["augmix_plans"] = []
real_randint = torch.randint
for case in range(4):
    m = rng.dirichlet([1.0, 1.0]).astype(np.float32)
    ws = rng.dirichlet([1.0, 1.0, 1.0]).astype(np.float32)
    script, chains = [], []
    for _ in range(3):
        depth = int(rng.integers(1, 4))
        script.append(depth)
        chain = []
        for _ in range(depth):
            k = int(rng.integers(0, len(names)))
            script.append(k)
            mags, signed = space[names[k]]
            mag = 0.0
            if mags.ndim > 0:
                b = int(rng.integers(0, 3))
                script.append(b)
                mag = float(mags[b].item())
            if signed:
                s = int(rng.integers(0, 2))
                script.append(s)
                if s:
                    mag = -mag
            chain.append({"op": names[k], "magnitude": mag})
        chains.append(chain)
    queue = list(script)
    torch.randint = lambda *a, **kw: torch.tensor([queue.pop(0)])
    try:
        out = ScriptedAugMix([m.tolist(), ws.tolist()])(img)
    finally:
        torch.randint = real_randint
    assert not queue
    outs.append(out.permute(1, 2, 0).numpy())
    golden["augmix_plans"].append({"m": m.tolist(), "w": ws.tolist(), "chains": chains, "index": case})
np.save("augmix_mix.npy", np.stack(outs).astype(np.uint8))


# 6. JPEG decoding: PIL's decode (libjpeg-turbo, islow IDCT, fancy upsampling) of JPEGs it encoded from
#    `pattern`, for each chroma subsampling (0 = 4:4:4, 1 = 4:2:2, 2 = 4:2:0), odd and even sizes.
from PIL import features
golden["versions"]["libjpeg_turbo"] = features.version("libjpeg_turbo")
golden["jpeg"] = []
for (w, h) in [(61, 47), (96, 64)]:
    for sub in (0, 1, 2):
        name = f"jpeg_{w}x{h}_s{sub}"
        Image.fromarray(pattern(w, h)).save(name + ".jpg", quality=90, subsampling=sub)
        np.save(name + ".npy", np.asarray(Image.open(name + ".jpg").convert("RGB")))
        golden["jpeg"].append({"jpg": name + ".jpg", "npy": name + ".npy", "subsampling": sub})

with open("golden.json", "w") as fp:
    json.dump(golden, fp, indent=1)
