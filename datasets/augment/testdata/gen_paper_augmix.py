"""Golden data for augmix_paper.go: the AugMix paper's ops and mixing as MEMO's and TPT's code run them.

Run with Debian's python (torch, torchvision, numpy, Pillow 9.4):

    cd datasets/augment/testdata && /usr/bin/python3 gen_paper_augmix.py

The original code is NOT copied here: it is read at run time from the mirrors of azshue/TPT and zhangmarvin/memo
(bare git directories, overridable with TPT_GIT_DIR and MEMO_GIT_DIR) and executed unchanged:

- TPT data/augmix_ops.py as a module (its global IMAGE_SIZE set to the test image's size, its `np` replaced by a
  scripted numpy whose np.random functions return fixed draws);
- TPT data/datautils.py: the source of the function `augmix`, cut out with ast and executed with get_preaugment
  returning the identity (the test image stands for the RandomResizedCrop + flip output);
- MEMO imagenet-exps/utils/third_party.py: its imports, the ops, `augmentations`, `preprocess` and `_augmix_aug`
  (cut out with ast; the RVT model part, which needs timm, is skipped), with `preaugment` set to the identity.

The scripted np.random checks that the originals consume the draws in the order of augmix_paper.go's SamplePlan
(dirichlet, beta, then per chain randint and per op choice, level, sign); a mismatch raises.
"""
import ast
import json
import os
import subprocess
import types

import numpy as np
import PIL
import torch
import torchvision
from PIL import Image
from torchvision import transforms

TPT_GIT = os.environ.get("TPT_GIT_DIR", "/work/.mirror/azshue+TPT/repo")
MEMO_GIT = os.environ.get("MEMO_GIT_DIR", "/work/.mirror/zhangmarvin+memo/repo")


def git_show(gitdir, path):
    return subprocess.run(["git", "--git-dir=" + gitdir, "show", "HEAD:" + path], check=True,
                          capture_output=True, text=True).stdout


def git_head(gitdir):
    return subprocess.run(["git", "--git-dir=" + gitdir, "rev-parse", "HEAD"], check=True,
                          capture_output=True, text=True).stdout.strip()


def pattern(w, h):
    """uint8 [h, w, 3]: the same formula as gen_golden.py and golden_test.go's pattern."""
    y, x = np.mgrid[0:h, 0:w].astype(np.int64)
    out = np.zeros((h, w, 3), dtype=np.int64)
    for c in range(3):
        noise = ((x * 73856093) ^ (y * 19349663) ^ (c * 83492791)) % 23
        v = x * x * 3 // (c + 1) + y * 5 + c * 85 + (x * y) // 7 + noise
        out[..., c] = v % 256
    return out.astype(np.uint8)


def low_contrast(w, h):
    """uint8 [h, w, 3]: pattern // 3 + 50 in channels 0 and 1, channel 2 constant 77 (paperLowContrast in Go)."""
    p = pattern(w, h).astype(np.int64) // 3 + 50
    p[..., 2] = 77
    return p.astype(np.uint8)


class ScriptedRandom:
    """Stands in for np.random: returns queued draws, checking that each is consumed by the expected call."""

    def __init__(self):
        self.queue = []

    def push(self, kind, value):
        self.queue.append((kind, value))

    def _pop(self, kind):
        assert self.queue, "no scripted draw left for " + kind
        k, v = self.queue.pop(0)
        assert k == kind, "the original drew %s where the plan has %s" % (kind, k)
        return v

    def dirichlet(self, alpha):
        assert list(alpha) == [1.0, 1.0, 1.0], alpha
        return np.array(self._pop("dirichlet"), dtype=np.float64)

    def beta(self, a, b):
        assert (a, b) == (1.0, 1.0)
        return np.float64(self._pop("beta"))

    def randint(self, low, high):
        assert (low, high) == (1, 4)
        return self._pop("depth")

    def choice(self, ops):
        return ops[self._pop("choice")]

    def uniform(self, low=None, high=None):
        if low is not None:
            assert low == 0.1, low
            return self._pop("level")
        return self._pop("sign")

    def random(self):
        return self._pop("sign")


class ScriptedNumpy:
    """numpy with a scripted np.random."""

    def __init__(self, rnd):
        self.random = rnd

    def __getattr__(self, name):
        return getattr(np, name)


RND = ScriptedRandom()
FAKE_NP = ScriptedNumpy(RND)

# TPT's augmix_ops.py, unchanged, as a module.
tpt_ops = types.ModuleType("augmix_ops")
exec(compile(git_show(TPT_GIT, "data/augmix_ops.py"), "augmix_ops.py", "exec"), tpt_ops.__dict__)
tpt_ops.np = FAKE_NP


def extract(source, names, filename):
    """The top-level imports and the named defs/assignments of source, unchanged, as one code object."""
    tree = ast.parse(source)
    keep = []
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            mods = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module]
            if all(m.split(".")[0] in ("math", "random", "numpy", "torch", "functools", "PIL", "torchvision")
                   for m in mods):
                keep.append(node)
        elif isinstance(node, ast.FunctionDef) and node.name in names:
            keep.append(node)
        elif isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id in names for t in node.targets):
            keep.append(node)
    return compile(ast.Module(body=keep, type_ignores=[]), filename, "exec")


# TPT's datautils.augmix, unchanged.
tpt_ns = {}
exec(extract(git_show(TPT_GIT, "data/datautils.py"), {"augmix"}, "datautils.py"), tpt_ns)
tpt_ns["np"] = FAKE_NP
tpt_ns["get_preaugment"] = lambda: (lambda im: im)

# MEMO's third_party.py AugMix part, unchanged.
MEMO_NAMES = {"_augmix_aug", "aug", "autocontrast", "equalize", "rotate", "solarize", "shear_x", "shear_y",
              "translate_x", "translate_y", "posterize", "int_parameter", "float_parameter", "rand_lvl",
              "augmentations", "mean", "std", "preprocess", "preaugment"}
memo_ns = {}
exec(extract(git_show(MEMO_GIT, "imagenet-exps/utils/third_party.py"), MEMO_NAMES, "third_party.py"), memo_ns)
memo_ns["np"] = FAKE_NP
memo_ns["preaugment"] = lambda im: im
MEMO_ORDER = ["autocontrast", "equalize", "rotate", "solarize", "shear_x", "shear_y", "translate_x", "translate_y",
              "posterize"]
assert len(memo_ns["augmentations"]) == len(MEMO_ORDER)

PAPER_OPS = ["autocontrast", "equalize", "posterize", "rotate", "solarize", "shear_x", "shear_y", "translate_x",
             "translate_y"]
assert [f.__name__ for f in tpt_ops.augmentations] == PAPER_OPS
USES_LEVEL = set(PAPER_OPS[2:])
SIGNED = {"rotate", "shear_x", "shear_y", "translate_x", "translate_y"}
SIGN_DRAW = {True: 0.75, False: 0.25}  # uniform() > 0.5 negates

golden = {"versions": {"torch": torch.__version__, "torchvision": torchvision.__version__,
                       "PIL": PIL.__version__, "numpy": np.__version__},
          "sources": {"azshue/TPT": git_head(TPT_GIT), "zhangmarvin/memo": git_head(MEMO_GIT)}}

# --- Ops: TPT's op functions (black fill), MEMO's rotate (fillcolor=128), PIL calls with MEMO's fillcolor=128.
IMAGES = {"p24": pattern(24, 24), "p26x19": pattern(26, 19), "low20": low_contrast(20, 20)}
IMAGE_SIZE = {"p24": 24, "p26x19": 22, "low20": 20}
chunks, cases, offset = [], [], 0


def record(out, case):
    global offset
    a = np.asarray(out, dtype=np.uint8)
    case.update(w=a.shape[1], h=a.shape[0], offset=offset)
    cases.append(case)
    chunks.append(a.reshape(-1))
    offset += a.size


LEVELS = [0.55, 0.95, 3.3, 7.7]
for name, img in IMAGES.items():
    pil = Image.fromarray(img)
    tpt_ops.IMAGE_SIZE = IMAGE_SIZE[name]
    for fn in tpt_ops.augmentations:
        op = fn.__name__
        for level in (LEVELS if op in USES_LEVEL else [0]):
            for neg in ([False, True] if op in SIGNED else [False]):
                if op in USES_LEVEL:
                    RND.push("level", level)
                if op in SIGNED:
                    RND.push("sign", SIGN_DRAW[neg])
                out = fn(pil, 10)
                assert not RND.queue
                record(out, {"image": name, "code": "tpt", "op": op, "level": level, "negate": neg,
                             "image_size": IMAGE_SIZE[name]})
    # MEMO's own rotate (fillcolor=128; keeps the image's size).
    for level in [0.95, 3.3, 7.7]:
        for neg in [False, True]:
            RND.push("level", level)
            RND.push("sign", SIGN_DRAW[neg])
            record(memo_ns["rotate"](pil, 10), {"image": name, "code": "memo", "op": "rotate", "level": level,
                                                "negate": neg, "image_size": IMAGE_SIZE[name]})
    # Pillow primitives: MEMO's transform call with fillcolor=128 at this image's size, and rotations by angles
    # that hit Image.rotate's fast paths (0, 90, 180, 270) and general ones.
    s = IMAGE_SIZE[name]
    for coeffs in [(1, 0.21, 0, 0, 1, 0), (1, 0, 0, -0.27, 1, 0), (1, 0, -5, 0, 1, 0), (1, 0, 0, 0, 1, 4)]:
        out = pil.transform((s, s), Image.AFFINE, coeffs, resample=Image.BILINEAR, fillcolor=128)
        record(out, {"image": name, "code": "pil_affine", "coeffs": list(coeffs), "out": [s, s], "fill": 128})
    for deg in [0, 90, 180, 270, -90, -2, 33.5, 361]:
        out = pil.rotate(deg, resample=Image.BILINEAR)
        record(out, {"image": name, "code": "pil_rotate", "degrees": deg, "fill": 0})

np.save("paper_ops.npy", np.concatenate(chunks))
golden["ops"] = cases
golden["images"] = {k: list(v.shape) for k, v in IMAGES.items()}


# --- Whole AugMix views with fixed plans.
def make_plan(rng, severity):
    """A random plan (ours, not numpy's AugMix draws): weights, m, chains of (op, level, negate)."""
    w = rng.dirichlet([1.0, 1.0, 1.0])
    m = rng.beta(1.0, 1.0)
    chains = []
    for _ in range(3):
        chain = []
        for _ in range(int(rng.integers(1, 4))):
            op = PAPER_OPS[int(rng.integers(0, 9))]
            level = float(rng.uniform(0.1, severity)) if op in USES_LEVEL else 0.0
            neg = bool(rng.uniform() > 0.5) if op in SIGNED else False
            chain.append({"op": op, "level": level, "negate": neg})
        chains.append(chain)
    return {"w": [float(x) for x in w], "m": float(m), "chains": chains}


def script(plan, order):
    RND.push("dirichlet", plan["w"])
    RND.push("beta", plan["m"])
    for chain in plan["chains"]:
        RND.push("depth", len(chain))
        for d in chain:
            RND.push("choice", order.index(d["op"]))
            if d["op"] in USES_LEVEL:
                RND.push("level", d["level"])
            if d["op"] in SIGNED:
                RND.push("sign", SIGN_DRAW[d["negate"]])


rng = np.random.default_rng(20221128)
CLIP_MEAN, CLIP_STD = [0.48145466, 0.4578275, 0.40821073], [0.26862954, 0.26130258, 0.27577711]
tpt_pre = transforms.Compose([transforms.ToTensor(), transforms.Normalize(CLIP_MEAN, CLIP_STD)])
tpt_img = Image.fromarray(pattern(32, 32))
tpt_ops.IMAGE_SIZE = 32
tpt_plans, tpt_out = [], []
for severity in [1, 1, 1, 10, 10]:
    plan = make_plan(rng, severity)
    script(plan, PAPER_OPS)
    out = tpt_ns["augmix"](tpt_img, tpt_pre, tpt_ops.augmentations, severity)
    assert not RND.queue
    tpt_plans.append(plan)
    tpt_out.append(out.permute(1, 2, 0).numpy())  # [H, W, 3]
np.save("paper_mix_tpt.npy", np.stack(tpt_out).astype(np.float32))
golden["mix_tpt"] = {"image": [32, 32], "image_size": 32, "mean": CLIP_MEAN, "std": CLIP_STD, "plans": tpt_plans}

memo_img = Image.fromarray(pattern(224, 224))
STRIDE = 4
memo_plans, memo_out = [], []
for severity in [1, 1, 1, 4]:
    plan = make_plan(rng, severity)
    script(plan, MEMO_ORDER)
    out = memo_ns["aug"](memo_img)
    assert not RND.queue
    memo_plans.append(plan)
    memo_out.append(out.permute(1, 2, 0).numpy()[::STRIDE, ::STRIDE])
np.save("paper_mix_memo.npy", np.stack(memo_out).astype(np.float32))
golden["mix_memo"] = {"image": [224, 224], "stride": STRIDE, "mean": [0.485, 0.456, 0.406],
                      "std": [0.229, 0.224, 0.225], "plans": memo_plans}

with open("paper_golden.json", "w") as f:
    json.dump(golden, f, indent=1)
print("ops", len(cases), "bytes", offset, "tpt plans", len(tpt_plans), "memo plans", len(memo_plans))
