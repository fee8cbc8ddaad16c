#!/usr/bin/python3
"""Reference outputs of the ORIGINAL ZERO code (FarinaMatteo/zero @ c609f7c) for tta/zero's TestOriginalZERO.

The original code is not part of this repository. Write a checkout to /tmp and run, from this directory, with
Debian's Python (python3-torch 1.13, python3-torchvision, python3-regex):

    git --git-dir=<fetched zero>/repo archive HEAD | tar -x -C /tmp/zero
    /usr/bin/python3 gen_original.py /tmp/zero

What runs unchanged from the checkout: ttas/zero.py (the Zero class: __init__, set_hyperparams, prepare_model and
its `zero` method), ttas/base.py (confidence_filter), utils/tools.py (greedy_break, break_sample_tie),
clip/custom_clip.py (get_clip, ClipWrapper, TextEncoder), clip/clip.py (tokenize), clip/model.py (CLIP, build_model)
and clip/simple_tokenizer.py with the checkout's own BPE vocabulary.

Replaced, and why the maths is unchanged:
  - ftfy, tqdm and open_clip are not installed: ftfy.fix_text is the identity (exact for these ASCII prompts), tqdm
    is only used by clip.py's downloader, open_clip only for non-OpenAI weights (pretrained != "openai").
  - custom_clip's `load` (clip.load downloads OpenAI's JIT archives) is replaced by: read tta/tpt's
    original_vit.safetensors into a state dict, the original build_model on it, .float() as clip.load does on CPU.
    build_model derives heads as width // 64 (0 at these widths), so the CLIP and VisionTransformer names it looks
    up are wrapped to pass the file's __metadata__ heads (what tta/clip reads too).
  - utils.tools.break_sample_tie indexes with an int32 tensor, which torch 1.13 rejects and torch >= 2.0 (the
    original pins 2.1.2) accepts: its module's `torch.int` is made torch.long (same index values, same result).
  - Core cases: the Zero object is made with Zero.__new__ (its __init__ would build a CLIP) and given a stub model
    whose get_image_features / get_text_features return this script's features and whose temp is
    1 / exp(logit_scale), as ClipWrapper.temp. Zero.zero itself runs unchanged.
  - CPU float32: run.py calls the module under torch.cuda.amp.autocast(), which disables itself without CUDA. On a
    GPU the original's CLIP weights are float16 (clip.load keeps them so on CUDA), so there the cosines, and the
    "zero" temperature torch.finfo(float16).eps = 2^-10, are float16; this reference is the float32 computation
    (eps = 2^-23).
Recorded by wrapping the names ttas/zero.py calls (confidence_filter, greedy_break): the entropy order, the kept
views, the tied classes and the greedy break's answer. Deterministic (numpy seed 20261205): a second run gives a
byte-identical file.

Writes original_zero.json (see README.md).
"""
import json
import os
import struct
import sys
import types

import numpy as np
import torch

SEED = 20261205
TPT_TESTDATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tpt", "testdata")
MODEL_FILE = "original_vit.safetensors"
VIEWS_FILE = "original_vit_steps1_views_nchw.npy"  # float16 [16, 3, 48, 48]
CTX_INIT = "a_photo_of_a"  # scripts/zero.sh's CTX
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
    """Imports the original's packages with ftfy, tqdm and open_clip stubbed."""
    sys.modules["ftfy"] = types.SimpleNamespace(fix_text=lambda s: s)
    tqdm_mod = types.ModuleType("tqdm")
    tqdm_mod.tqdm = None  # only clip.py's downloader uses it
    sys.modules["tqdm"] = tqdm_mod
    oc = types.ModuleType("open_clip")  # only used for pretrained != "openai"
    oc.create_model_and_transforms = oc.get_tokenizer = None
    sys.modules["open_clip"] = oc
    sys.path.insert(0, repo)
    import clip.custom_clip as custom_clip  # noqa: E402  (the original's package)
    import clip.model as model_mod
    import ttas.zero as zero_mod
    import utils.tools as tools_mod
    # utils.tools.break_sample_tie indexes with an int32 tensor (`logit[~ties]`), which torch >= 2.0 accepts (the
    # original's requirements pin torch 2.1.2) and torch 1.13 rejects. Its `torch` is given int = long, so the index
    # tensor is int64: the same indices (~t = -t - 1 either way), so the same result as under torch 2.1.
    tools_mod.torch = types.SimpleNamespace(**{k: getattr(torch, k) for k in dir(torch) if not k.startswith("__")})
    tools_mod.torch.int = torch.long
    return custom_clip, model_mod, zero_mod


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


class Recorder:
    """Wraps the functions Zero.zero calls by name in ttas/zero.py's namespace."""

    def __init__(self, zero_mod):
        self.mod = zero_mod
        self.orig_filter, self.orig_break = zero_mod.confidence_filter, zero_mod.greedy_break
        self.rec = {}

    def __enter__(self):
        rec = self.rec = {"ties": None, "greedy": None, "fallback": False}

        def filt(logits, probs, top, return_idx=False):
            out = self.orig_filter(logits, probs, top, return_idx)
            rec["entropies"] = (-(probs * probs.log()).sum(1)).tolist()  # confidence_filter's own formula
            rec["order"], rec["kept"] = out[2].tolist(), out[1].tolist()
            return out

        def brk(ties, logits, device):
            rec["ties"] = [int(t) for t in ties]
            rec["fallback"] = not any(int(p) in rec["ties"] for p in torch.argmax(logits, dim=1))
            out = self.orig_break(ties, logits, device)
            rec["greedy"] = int(out)
            return out

        self.mod.confidence_filter, self.mod.greedy_break = filt, brk
        return rec

    def __exit__(self, *exc):
        self.mod.confidence_filter, self.mod.greedy_break = self.orig_filter, self.orig_break


class StubModel:
    """What Zero.zero uses of ClipWrapper: get_text_features, get_image_features, temp."""

    def __init__(self, z_img, z_txt, logit_scale):
        self.z_img, self.z_txt = z_img, z_txt
        self.logit_scale = torch.tensor(logit_scale, dtype=torch.float32)

    @property
    def temp(self):
        return 1 / self.logit_scale.exp()  # ClipWrapper.temp

    def get_text_features(self):
        return self.z_txt

    def get_image_features(self, views):
        assert views.shape[0] == self.z_img.shape[0]
        return self.z_img


def unit_rows(x):
    x = torch.as_tensor(np.asarray(x, dtype=np.float32))
    return x / x.norm(dim=-1, keepdim=True)


def core_inputs(rng, name):
    """(z_img [N, E], z_txt [C, E], logit_scale, gamma) of a core case, float32."""
    if name.startswith("random"):
        n, c, e, ls, gamma = {"random_n64_c10": (64, 10, 64, np.log(100.0), 0.3),
                              "random_n64_c200": (64, 200, 64, np.log(100.0), 0.3),
                              "random_n16_c5": (16, 5, 32, np.log(50.0), 0.3),
                              "random_n50_gamma058": (50, 10, 64, np.log(100.0), 0.58)}[name]
        while True:  # redraw until every two views' entropies are 1e-5 apart: their order is then unambiguous
            z_img, z_txt = unit_rows(rng.standard_normal((n, e))), unit_rows(rng.standard_normal((c, e)))
            p = ((z_img @ z_txt.t()) * float(np.exp(ls))).softmax(1)
            if np.min(np.diff(np.sort((-(p * p.log()).sum(1)).numpy()))) > 1e-5:
                return z_img, z_txt, ls, gamma
    if name == "k_zero":  # int(3 * 0.3) = 0 kept views
        return unit_rows(rng.standard_normal((3, 16))), unit_rows(rng.standard_normal((6, 16))), np.log(20.0), 0.3
    # Crafted cosines: text features are the identity (l = z_img exactly); each row is base + 0.02 * noise with the
    # given {class: value} entries, then normalised. Scales keep the views' entropies well apart.
    if name == "tie_greedy":
        # 10 views, gamma 0.4: int(4.0) = 4 kept: two vote 3, two vote 1 (tie {1, 3}; torch.max says 1); the most
        # confident discarded view votes 3, so the greedy break answers 3, not the lowest tied index.
        rows = [{3: 0.9}, {1: 0.88}, {3: 0.86}, {1: 0.84}, {3: 0.5}, {0: 0.48}, {1: 0.46}, {2: 0.44}, {4: 0.42},
                {0: 0.4}]
        c, gamma, ls, base = 5, 0.4, np.log(5.0), 0.1
    elif name == "tie_fallback":
        # 8 views, gamma 0.5: 4 kept, votes 2 x class 0, 2 x class 1; no discarded view votes 0 or 1, so
        # break_sample_tie runs on the most confident discarded view: it masks classes ~0 = -1 -> 5 and ~1 = -2 -> 4
        # and answers that view's argmax over the rest, class 2 (second highest there), which is not tied.
        rows = [{0: 0.9}, {1: 0.88}, {0: 0.86}, {1: 0.84}, {5: 0.5, 2: 0.3}, {5: 0.48}, {4: 0.46}, {3: 0.44}]
        c, gamma, ls, base = 6, 0.5, np.log(5.0), 0.1
    elif name == "soft_votes":
        # 8 views, gamma 0.5, 4 kept: two ordinary votes (classes 2 and 0), a view with an exact two-way cosine tie
        # (classes 0 and 2: votes 0.5 + 0.5) and a view whose top two cosines (classes 1 and 3) are one float32 ulp
        # apart (a split ~0.62 / 0.38 at the float32 "zero" temperature): vote tie {0, 2} at 1.5; the rest is flat.
        rows = [{2: 0.9}, {0: 0.88}, {0: 0.86, 2: 0.86}, {1: 0.84, 3: 0.84, 0: 0.2, 2: 0.2}, {3: 0.36}, {1: 0.36},
                {3: 0.35}, {2: 0.35}]
        c, gamma, ls, base = 4, 0.5, np.log(10.0), 0.1
    else:
        raise SystemExit(f"unknown case {name}")
    n = len(rows)
    x = base + 0.02 * rng.random((n, c))
    if name == "soft_votes":
        x[4:] += 0.2  # flat discarded views
    for i, r in enumerate(rows):
        for cls, v in r.items():
            x[i, cls] = v
    z = unit_rows(x)
    if name == "soft_votes":  # class 3's cosine one ulp below class 1's
        z[3, 3] = float(np.nextafter(z[3, 1].numpy(), np.float32(0)))
    return z, torch.eye(c, dtype=torch.float32), ls, gamma


def new_zero(zero_mod, model, gamma):
    """A Zero with the original hyperparameters (set_hyperparams) and gamma overridden, without its __init__."""
    z = zero_mod.Zero.__new__(zero_mod.Zero)
    torch.nn.Module.__init__(z)
    z.set_hyperparams()
    assert (z.num_views, z.gamma) == (64, 0.3)
    z.gamma = gamma
    z.model = model
    z.name = "ZERO"
    return z


def finish(case, out, rec, l):
    """Adds the output and the recorded internals; checks the entropies are finite (no 0 * log 0)."""
    assert all(np.isfinite(rec["entropies"])), case["name"]
    out = out[0]
    ent = sorted(rec["entropies"])
    k = len(rec["kept"])
    case.update({
        "l": l.tolist(), "entropies": rec["entropies"], "order": rec["order"], "kept": rec["kept"], "k": k,
        "ties": rec["ties"], "greedy": rec["greedy"], "fallback": rec["fallback"], "output": out.tolist(),
        "pred_max": int(torch.max(out, dim=-1)[1]), "pred_topk": int(out.topk(1)[1][0]),
        # Margins that make the exact comparisons meaningful.
        "selection_gap": (ent[k] - ent[k - 1]) if 0 < k < len(ent) else None,
        "min_entropy_gap": float(np.min(np.diff(ent))),
    })
    return case


def core_case(zero_mod, rng, name):
    z_img, z_txt, ls, gamma = core_inputs(rng, name)
    z = new_zero(zero_mod, StubModel(z_img, z_txt, ls), gamma)
    views = torch.zeros((z_img.shape[0], 1))  # only views.size(0) is read
    with Recorder(zero_mod) as rec:
        out = z(views)
    case = {"name": name, "kind": "core", "gamma": gamma, "logit_scale": float(np.float32(ls)),
            "z_img": z_img.tolist(), "z_txt": z_txt.tolist()}
    return finish(case, out, rec, z_img @ z_txt.t())


def e2e_case(zero_mod, name, classes, templates, gamma):
    """The whole original module: Zero(model="clip", ...) as run.py builds it, prepare_for_training's class
    setting, and one example under tta_module(images)."""
    z = zero_mod.Zero("Zero", model="clip", arch="ViT-B/16", use_templates=templates, pretrained="openai",
                      gpu="cpu", ctx_init=CTX_INIT, maple_weights=False, seed=1)
    assert (z.num_views, z.gamma) == (64, 0.3)
    z.gamma = gamma
    names = [c.replace("_", " ") for c in classes]  # prepare_for_training
    z.model.reset_classnames(names)
    z.classnames = names
    z.eval()
    views = torch.from_numpy(np.load(os.path.join(TPT_TESTDATA, VIEWS_FILE))).float()
    with Recorder(zero_mod) as rec:
        with torch.cuda.amp.autocast():
            assert not torch.is_autocast_enabled(), "autocast must disable itself on CPU"
            out = z(views)
    with torch.no_grad():
        z_img, z_txt = z.model.get_image_features(views), z.z_txt
    if templates:
        prompts = [t.format(c) for c in names for t in z.model.prompt_templates]
    else:
        prompts = [f"{z.model.hard_prompt} {n}." for n in names]
    ids = z.model.tokenized_descriptions.tolist()
    case = {"name": name, "kind": "e2e", "gamma": gamma, "model": MODEL_FILE, "views": VIEWS_FILE,
            "classes": classes, "templates": list(z.model.prompt_templates) if templates else None,
            "prompt": z.model.hard_prompt if not templates else None,
            "token_ids": {p: row for p, row in zip(prompts, ids)},
            "logit_scale": float(z.model.logit_scale), "z_img": z_img.tolist(), "z_txt": z_txt.tolist()}
    return finish(case, out, rec, z_img @ z_txt.t())


def main():
    if len(sys.argv) != 2:
        raise SystemExit("usage: gen_original.py /path/to/zero-checkout")
    custom_clip, model_mod, zero_mod = install_original(sys.argv[1])
    patch_load(custom_clip, model_mod, os.path.join(TPT_TESTDATA, MODEL_FILE))
    torch.manual_seed(0)
    rng = np.random.default_rng(SEED)
    cases = [core_case(zero_mod, rng, n) for n in
             ["random_n64_c10", "random_n64_c200", "random_n16_c5", "random_n50_gamma058", "k_zero", "tie_greedy",
              "tie_fallback", "soft_votes"]]
    cases += [e2e_case(zero_mod, "e2e_single", CLASSES5, False, 0.3),
              e2e_case(zero_mod, "e2e_ensemble", CLASSES7, True, 0.3),
              e2e_case(zero_mod, "e2e_single_gamma1", CLASSES7, False, 1.0)]
    for c in cases:
        print(f"{c['name']}: k {c['k']} kept {c['kept']} ties {c['ties']} greedy {c['greedy']} output "
              f"{np.round(c['output'], 3).tolist()[:8]} pred max/topk {c['pred_max']}/{c['pred_topk']} "
              f"gap {c['selection_gap']} min gap {c['min_entropy_gap']:.2g} fallback {c['fallback']}", file=sys.stderr)
    outdir = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(outdir, "original_zero.json"), "w") as f:
        json.dump({"zero_commit": "c609f7c", "torch": torch.__version__, "seed": SEED, "cases": cases}, f)


if __name__ == "__main__":
    main()
