#!/usr/bin/python3
"""Reference outputs of the ORIGINAL MTA code (MaxZanella/MTA @ cafafdf) for tta/mta's TestOriginalMTA.

The original code is not part of this repository. Write a checkout to /tmp and run, from this directory, with
Debian's Python (python3-torch 1.13, python3-torchvision, python3-regex):

    git --git-dir=<fetched MTA>/repo archive HEAD | tar -x -C /tmp/mta
    /usr/bin/python3 gen_original.py /tmp/mta

What runs unchanged from the checkout: mta.py (solve_mta, gaussian_kernel), clip/custom_clip.py (get_coop,
ClipTestTimeTuning, PromptLearner, TextEncoder), clip/clip.py (tokenize), clip/model.py (CLIP, build_model) and
clip/simple_tokenizer.py with the checkout's own BPE vocabulary. main.py's MTA path is mirrored: get_coop(arch, "I",
device, n_ctx 4, ctx_init "a_photo_of_a"), requires_grad_(False) outside the prompt learner, reset_classnames,
model.eval(), then solve_mta(model, images, args) with main.py's defaults lambda_y 0.2, lambda_q 4.

Replaced, and why the maths is unchanged:
  - ftfy and tqdm are not installed: ftfy.fix_text is the identity (exact for these ASCII prompts), tqdm is only
    used by clip.py's downloader.
  - custom_clip's `load` (clip.load downloads OpenAI's JIT archives) is replaced by: read tta/tpt's
    original_vit.safetensors into a state dict, the original build_model on it, .float() as clip.load does on CPU.
    build_model derives heads as width // 64 (0 at these widths), so the CLIP and VisionTransformer names it looks
    up are wrapped to pass the file's __metadata__ heads (what tta/clip reads too).
  - Core cases: solve_mta gets a stub model whose model(inputs, features=True) returns this script's normalised
    image features, normalised text features and exp(logit_scale), as ClipTestTimeTuning.inference does.
  - CPU float32: torch.cuda.amp.autocast() disables itself without CUDA. On a GPU the original's CLIP weights are
    float16 (clip.load keeps them so on CUDA), so there the features, and the whole MeanShift that runs on them,
    are float16; this reference is the float32 computation.
Recorded without changing solve_mta: mta.gaussian_kernel and mta.F.softmax are wrapped (every mode and bandwidth the
kernel gets, every inlierness vector y), and the text features are handed over as a torch.Tensor subclass that
records the left operand of `@` (the final mode, in `mode.unsqueeze(0) @ text_features.t()`). Deterministic (numpy
seed 20261206): a second run gives a byte-identical file.

Writes original_mta.json (see README.md).
"""
import json
import os
import struct
import sys
import types

import numpy as np
import torch

SEED = 20261206
TPT_TESTDATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tpt", "testdata")
MODEL_FILE = "original_vit.safetensors"
VIEWS_FILE = "original_vit_steps1_views_nchw.npy"  # float16 [16, 3, 48, 48]
CTX_INIT = "a_photo_of_a"  # main.py's --ctx_init default
N_CTX = 4
ARGS = types.SimpleNamespace(lambda_y=0.2, lambda_q=4)  # main.py's defaults
CLASSES5 = ["tench", "tiger shark", "American robin", "Komodo dragon", "hermit crab"]
CLASSES7 = ["Geoffroy's spider monkey", "T-shirt", "red wolf or maned wolf", "ram (adult male sheep)",
            "St. Bernard", "Band-Aid", "goldfish"]


def read_safetensors(path):
    """Returns ({name: float16 torch tensor}, metadata)."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    meta = header.pop("__metadata__", {})
    out = {}
    for name, h in header.items():
        assert h["dtype"] == "F16", name
        a, b = h["data_offsets"]
        out[name] = torch.from_numpy(np.frombuffer(data[a:b], dtype="<f2").reshape(h["shape"]).copy())
    return out, meta


def install_original(repo):
    sys.modules["ftfy"] = types.SimpleNamespace(fix_text=lambda s: s)
    tqdm_mod = types.ModuleType("tqdm")
    tqdm_mod.tqdm = None  # only clip.py's downloader uses it
    sys.modules["tqdm"] = tqdm_mod
    sys.path.insert(0, repo)
    import clip.custom_clip as custom_clip  # noqa: E402  (the original's package)
    import clip.model as model_mod
    import mta
    return custom_clip, model_mod, mta


def patch_load(custom_clip, model_mod, path):
    """custom_clip.load -> our safetensors file through the original build_model, float32, heads from metadata."""
    orig_clip_cls, orig_vit_cls = model_mod.CLIP, model_mod.VisionTransformer
    heads = {}

    def clip_with_heads(embed_dim, image_resolution, vision_layers, vision_width, vision_patch_size,
                        context_length, vocab_size, transformer_width, transformer_heads, transformer_layers):
        return orig_clip_cls(embed_dim, image_resolution, vision_layers, vision_width, vision_patch_size,
                             context_length, vocab_size, transformer_width, heads["text"], transformer_layers)

    def vit_with_heads(**kw):
        kw["heads"] = heads["vision"]
        return orig_vit_cls(**kw)

    model_mod.CLIP = clip_with_heads
    model_mod.VisionTransformer = vit_with_heads

    def load(name, device="cpu", jit=False, download_root=None):
        sd, meta = read_safetensors(path)
        heads["text"], heads["vision"] = int(meta["text_heads"]), int(meta["vision_heads"])
        model = model_mod.build_model(sd).to(device)
        if str(device) == "cpu":
            model.float()
        return model, sd["text_projection"].shape[1], None

    custom_clip.load = load


class MatmulRecorder(torch.Tensor):
    """A tensor that records the left operand of every `x @ self-derived` with one row (the final mode)."""
    rows = []

    @classmethod
    def __torch_function__(cls, func, types_, args=(), kwargs=None):
        if func in (torch.Tensor.__matmul__, torch.Tensor.matmul) and args[0].dim() == 2 and args[0].shape[0] == 1:
            cls.rows.append(args[0].detach().as_subclass(torch.Tensor).clone())
        return super().__torch_function__(func, types_, args, kwargs or {})


class Recording:
    """Wraps mta.gaussian_kernel and mta.F.softmax; the model wrapper hands out recording text features."""

    def __init__(self, mta):
        self.mta = mta

    def __enter__(self):
        m = self.mta
        self.orig_kernel, self.orig_f = m.gaussian_kernel, m.F
        rec = self.rec = {"modes": [], "ys": [], "bandwidth": None}
        MatmulRecorder.rows = []

        def kernel(mu, bandwidth, datapoints):
            rec["modes"].append(plain(mu).tolist())
            rec["bandwidth"] = plain(bandwidth).tolist()
            return self.orig_kernel(mu, bandwidth, datapoints)

        def softmax(*a, **kw):
            y = self.orig_f.softmax(*a, **kw)
            rec["ys"].append(plain(y).tolist())
            return y

        m.gaussian_kernel = kernel
        m.F = types.SimpleNamespace(softmax=softmax)
        return rec

    def __exit__(self, *exc):
        self.mta.gaussian_kernel, self.mta.F = self.orig_kernel, self.orig_f


def plain(t):
    return t.detach().as_subclass(torch.Tensor)


class FeatureModel:
    """model(inputs, features=True) as solve_mta calls it: (image features, text features, exp(logit_scale)),
    from a real ClipTestTimeTuning (e2e) or from given features (core); text features handed out recording."""

    def __init__(self, inner=None, z_img=None, z_txt=None, scale=None):
        self.inner, self.z_img, self.z_txt, self.scale = inner, z_img, z_txt, scale
        self.seen = None

    def __call__(self, inputs, features=False):
        assert features
        if self.inner is not None:
            img, txt, scale = self.inner(inputs, features=True)
        else:
            assert inputs.shape[0] == self.z_img.shape[0]
            img, txt, scale = self.z_img, self.z_txt, self.scale
        self.seen = (img.detach().clone(), txt.detach().clone(), float(scale))
        return img, txt.detach().as_subclass(MatmulRecorder), scale


def unit_rows(x):
    x = torch.as_tensor(np.asarray(x, dtype=np.float32))
    return x / x.norm(dim=-1, keepdim=True)


def run(mta, model, images, case):
    with Recording(mta) as rec:
        with torch.cuda.amp.autocast():
            assert not torch.is_autocast_enabled(), "autocast must disable itself on CPU"
            out = mta.solve_mta(model, images, ARGS)
    out = plain(out)[0]
    assert len(MatmulRecorder.rows) == 1, len(MatmulRecorder.rows)
    img, txt, scale = model.seen
    top2 = torch.topk(out, 2).values
    case.update({"z_img": img.tolist(), "z_txt": txt.tolist(), "scale": scale,
                 "k": int(0.3 * (img.shape[0] - 1)), "bandwidth": rec["bandwidth"], "modes": rec["modes"],
                 "ys": rec["ys"], "final_mode": MatmulRecorder.rows[0][0].tolist(), "output": out.tolist(),
                 "pred": int(out.argmax()), "argmax_gap": (top2[0] - top2[1]).item()})
    return case


def core_case(mta, rng, name, n, c, e, dup=False):
    z_img, z_txt = unit_rows(rng.standard_normal((n, e))), unit_rows(rng.standard_normal((c, e)))
    if dup:  # view 3 is a copy of view 0 (two zero distances in row 0 of cdist)
        z_img[3] = z_img[0]
    model = FeatureModel(z_img=z_img, z_txt=z_txt, scale=torch.tensor(100.0))
    return run(mta, model, torch.zeros((n, 1)), {"name": name, "kind": "core"})


def e2e_case(custom_clip, mta, name, classes):
    model = custom_clip.get_coop("ViT-B/16", "I", "cpu", N_CTX, CTX_INIT)
    for pname, param in model.named_parameters():
        if "prompt_learner" not in pname:
            param.requires_grad_(False)
    model.reset_classnames(classes, "ViT-B/16")
    model.eval()
    views = torch.from_numpy(np.load(os.path.join(TPT_TESTDATA, VIEWS_FILE))).float()
    names = [c.replace("_", " ") for c in classes]
    prompts = [CTX_INIT.replace("_", " ") + " " + n + "." for n in names]  # PromptLearner.reset_classnames
    ids = model.prompt_learner.tokenized_prompts.tolist()
    case = {"name": name, "kind": "e2e", "model": MODEL_FILE, "views": VIEWS_FILE, "classes": classes,
            "prompt": CTX_INIT.replace("_", " "), "token_ids": {p: row for p, row in zip(prompts, ids)}}
    return run(mta, FeatureModel(inner=model), views, case)


def main():
    if len(sys.argv) != 2:
        raise SystemExit("usage: gen_original.py /path/to/MTA-checkout")
    custom_clip, model_mod, mta = install_original(sys.argv[1])
    patch_load(custom_clip, model_mod, os.path.join(TPT_TESTDATA, MODEL_FILE))
    torch.manual_seed(0)
    rng = np.random.default_rng(SEED)
    cases = [core_case(mta, rng, "n64_c10", 64, 10, 32),  # N > 25: torch.cdist takes its matmul path
             core_case(mta, rng, "n64_c200", 64, 200, 64),
             core_case(mta, rng, "n16_c5", 16, 5, 16),
             core_case(mta, rng, "n5_k1", 5, 4, 8),  # the smallest N with k = int(0.3 * (N - 1)) >= 1
             core_case(mta, rng, "n12_dup", 12, 6, 16, dup=True),
             e2e_case(custom_clip, mta, "e2e_classes5", CLASSES5),
             e2e_case(custom_clip, mta, "e2e_classes7", CLASSES7)]
    for c in cases:
        print(f"{c['name']}: k {c['k']} kernel calls {len(c['modes'])} y steps {len(c['ys'])} pred {c['pred']} "
              f"argmax gap {c['argmax_gap']:.3g} output {np.round(c['output'], 3).tolist()[:6]}", file=sys.stderr)
    outdir = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(outdir, "original_mta.json"), "w") as f:
        json.dump({"mta_commit": "cafafdfa2918d3e9e45eb711f6aed8e3582fcb8d", "torch": torch.__version__,
                   "seed": SEED, "lambda_y": ARGS.lambda_y, "lambda_q": ARGS.lambda_q, "cases": cases}, f)


if __name__ == "__main__":
    main()
