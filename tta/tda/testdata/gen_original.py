#!/usr/bin/python3
"""Reference streams of the ORIGINAL TDA code (kdiAAA/TDA @ e697fb0) for tta/tda's TestOriginalTDA.

The original code is not part of this repository. Write a checkout to /tmp and run, from this directory, with
Debian's Python (python3-torch 1.13, python3-torchvision, python3-yaml, python3-regex):

    git --git-dir=<fetched TDA>/repo archive HEAD | tar -x -C /tmp/tda
    /usr/bin/python3 gen_original.py /tmp/tda

What runs unchanged from the checkout: tda_runner.py's run_test_tda (the stream loop: get_clip_logits, get_entropy,
the positive and negative update_cache, compute_cache_logits, final_logits = clip_logits + pos - neg, cls_acc's
topk), utils.py (get_clip_logits with its top-10% selection, softmax_entropy, avg_entropy, get_entropy,
clip_classifier), clip/model.py (build_model, CLIP), clip/clip.py (tokenize) with the checkout's BPE vocabulary.

Replaced, and why the maths is unchanged:
  - ftfy, tqdm, wandb and gdown are not installed: ftfy.fix_text is the identity (exact for these ASCII prompts),
    tqdm(loader) is the loader, wandb.log does nothing, gdown is only used by dataset downloads.
  - CPU float32: Tensor.cuda is the identity and Tensor.half is Tensor.float. On a GPU the original's CLIP is float16
    (clip.load keeps it so on CUDA) and compute_cache_logits casts its cache values to float16 to match; here the
    whole computation is float32, so the cast must be a float32 one too (a float16 value matrix would not multiply a
    float32 affinity).
  - clip.load (downloads OpenAI's JIT archives) is not called: tta/tpt's original_vit.safetensors goes through the
    original build_model, .float() as clip.load does on CPU; build_model derives heads as width // 64 (0 at these
    widths), so the CLIP and VisionTransformer names it looks up are wrapped to pass the file's __metadata__ heads.
  - The loader is a list of (views [N, 3, R, R], target) pairs, what DataLoader(batch_size=1) yields for one view;
    for AugMixAugmenter's list of [1, 3, R, R] views get_clip_logits concatenates them into the same tensor. The views
    are mixes of the 32 views of tta/tpt's original_vit_*_views_nchw.npy (see make_views; the Go test rebuilds them).
Recorded by wrapping the names run_test_tda calls in tda_runner's namespace (get_clip_logits, update_cache,
compute_cache_logits, cls_acc): each example's selection (the original's argsort, recomputed beside it and checked
against its output), features, logits, entropy, cache predictions, both caches after the updates (entries as
[example index, loss], identified by the feature tensor the cache holds), the cache logits and the final logits.

Writes original_tda.json (see README.md). Deterministic (numpy seed 20261206).
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
BASE_FILES = ["original_vit_steps1_views_nchw.npy", "original_vit_classes7_views_nchw.npy"]  # float16 [16, 3, 48, 48]
CLASSES5 = ["tench", "tiger shark", "American robin", "Komodo dragon", "hermit crab"]
CLASSES7 = ["goldfish", "red wolf or maned wolf", "St. Bernard", "T-shirt", "Band-Aid", "jellyfish", "volcano"]


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
    """Imports the original's modules with ftfy, tqdm, wandb and gdown stubbed; CPU float32 device moves."""
    sys.modules["ftfy"] = types.SimpleNamespace(fix_text=lambda s: s)
    tqdm_mod = types.ModuleType("tqdm")
    tqdm_mod.tqdm = lambda it, *a, **k: it
    sys.modules["tqdm"] = tqdm_mod
    sys.modules["wandb"] = types.SimpleNamespace(log=lambda *a, **k: None)
    sys.modules["gdown"] = types.ModuleType("gdown")
    torch.Tensor.cuda = lambda self, *a, **k: self
    torch.Tensor.half = lambda self, *a, **k: self.float()
    sys.path.insert(0, repo)
    os.chdir(repo)  # the original runs from its root
    import clip  # noqa: E402  (the original's package)
    import clip.model as model_mod
    import tda_runner
    import utils
    import datasets.imagenet as imagenet_mod
    return clip, model_mod, tda_runner, utils, imagenet_mod


def load_model(model_mod, path):
    """The tiny CLIP through the original build_model, float32, heads from the file's metadata."""
    sd, meta = read_safetensors(path)
    heads = {"text": int(meta["text_heads"]), "vision": int(meta["vision_heads"])}
    orig_clip_cls, orig_vit_cls = model_mod.CLIP, model_mod.VisionTransformer

    def clip_with_heads(embed_dim, image_resolution, vision_layers, vision_width, vision_patch_size,
                        context_length, vocab_size, transformer_width, transformer_heads, transformer_layers):
        return orig_clip_cls(embed_dim, image_resolution, vision_layers, vision_width, vision_patch_size,
                             context_length, vocab_size, transformer_width, heads["text"], transformer_layers)

    def vit_with_heads(**kw):
        kw["heads"] = heads["vision"]
        return orig_vit_cls(**kw)

    model_mod.CLIP, model_mod.VisionTransformer = clip_with_heads, vit_with_heads
    try:
        model = model_mod.build_model(sd)
    finally:
        model_mod.CLIP, model_mod.VisionTransformer = orig_clip_cls, orig_vit_cls
    return model.float().eval()


def load_base():
    """The 32 base images [32, 3, 48, 48] float32."""
    return torch.cat([torch.from_numpy(np.load(os.path.join(TPT_TESTDATA, f))).float() for f in BASE_FILES])


def make_views(base, spec):
    """Views [N, 3, R, R]: view i = base[a] + w * base[b] (flipped left-right when flip), spec[i] = [a, b, flip, w]
    (w 0.25 or 0.5: the product is exact in float32, so the Go test rebuilds the same bits). An example's views share
    a: the "image"; b and w make its augmentations."""
    out = []
    for a, b, flip, w in spec:
        y = base[b].flip(-1) if flip else base[b]
        out.append(base[a] + y * w)
    return torch.stack(out)


def draw_specs(rng, examples, views):
    """View specs of a stream (see make_views)."""
    out = []
    for _ in range(examples):
        a = int(rng.integers(32))
        combos = rng.choice(32 * 2 * 2, size=views, replace=False)  # distinct views: no two equal entropies
        out.append([[a, int(c // 4), int(c // 2 % 2), [0.25, 0.5][c % 2]] for c in combos])
    return out


class Recorder:
    """Wraps the names run_test_tda calls in tda_runner's namespace and records each example."""

    def __init__(self, runner):
        self.runner = runner
        self.names = ["get_clip_logits", "update_cache", "compute_cache_logits", "cls_acc"]
        self.orig = {n: getattr(runner, n) for n in self.names}
        self.examples = []
        self.caches = {"pos": None, "neg": None}
        self.owner = {}  # id(feature tensor) -> example index

    def snapshot(self, cache):
        if cache is None:
            return {}
        return {str(c): [[self.owner[id(it[0])], float(it[1])] for it in cache[c]] for c in sorted(cache)}

    def __enter__(self):
        o, rec = self.orig, self

        def get_clip_logits(images, clip_model, clip_weights):
            out = o["get_clip_logits"](images, clip_model, clip_weights)
            feats, logits, loss, prob_map, pred = out
            with torch.no_grad():  # get_clip_logits' own selection lines, to record the kept views
                f = clip_model.encode_image(images)
                f = f / f.norm(dim=-1, keepdim=True)
                all_logits = 100. * f @ clip_weights
                ent = rec.orig_softmax_entropy(all_logits)
                n = all_logits.size(0)
                sel = torch.argsort(ent, descending=False)[:int(n * 0.1)] if n > 1 else torch.tensor([0])
                assert torch.equal(all_logits[sel].mean(0, keepdim=True) if n > 1 else all_logits, logits)
            t = len(rec.examples)
            rec.owner[id(feats)] = t
            rec.examples.append({
                "entropies": ent.tolist(), "selected": sel.tolist(), "features": feats[0].tolist(),
                "clip_logits": logits[0].tolist(), "loss": float(loss), "prob_map": prob_map[0].tolist(),
                "cache_pred": pred, "prop_entropy": rec.orig_get_entropy(loss, clip_weights),
                "pos_logits": None, "neg_logits": None})
            return out

        def update_cache(cache, pred, features_loss, shot_capacity, include_prob_map=False):
            rec.caches["neg" if include_prob_map else "pos"] = cache
            rec.examples[-1]["neg_update" if include_prob_map else "pos_update"] = True
            return o["update_cache"](cache, pred, features_loss, shot_capacity, include_prob_map)

        def compute_cache_logits(image_features, cache, alpha, beta, clip_weights, neg_mask_thresholds=None):
            out = o["compute_cache_logits"](image_features, cache, alpha, beta, clip_weights, neg_mask_thresholds)
            rec.examples[-1]["neg_logits" if neg_mask_thresholds else "pos_logits"] = out[0].tolist()
            return out

        def cls_acc(output, target, topk=1):
            e = rec.examples[-1]
            e["final_logits"] = output[0].tolist()
            e["prediction"] = int(output.topk(1, 1, True, True)[1][0, 0])
            e["pos_cache"], e["neg_cache"] = rec.snapshot(rec.caches["pos"]), rec.snapshot(rec.caches["neg"])
            e["neg_update"] = e.get("neg_update", False)
            e["pos_update"] = e.get("pos_update", False)
            return o["cls_acc"](output, target, topk)

        self.orig_softmax_entropy = self.runner.softmax_entropy
        self.orig_get_entropy = self.runner.get_entropy
        for n, f in [("get_clip_logits", get_clip_logits), ("update_cache", update_cache),
                     ("compute_cache_logits", compute_cache_logits), ("cls_acc", cls_acc)]:
            setattr(self.runner, n, f)
        return self

    def __exit__(self, *exc):
        for n, f in self.orig.items():
            setattr(self.runner, n, f)


def pick_thresholds(runner, utils, model, weights, loader, lo_q, hi_q):
    """Entropy thresholds between the examples' normalised entropies (quantiles lo_q, hi_q, at midpoints between two
    examples, so that no example sits on a threshold)."""
    ents = sorted(utils.get_entropy(utils.get_clip_logits(x, model, weights)[2], weights) for x, _ in loader)
    i, j = int(lo_q * len(ents)), int(hi_q * len(ents))
    return round((ents[i - 1] + ents[i]) / 2, 6), round((ents[j - 1] + ents[j]) / 2, 6), ents


def run_stream(runner, utils, clip_mod, model, name, base, classes, templates, specs, pos_cfg, neg_cfg, q):
    weights = utils.clip_classifier(classes, templates, model)
    loader = [(make_views(base, s), torch.tensor([0])) for s in specs]
    if q is not None:
        lo, hi, ents = pick_thresholds(runner, utils, model, weights, loader, *q)
        neg_cfg["entropy_threshold"] = {"lower": lo, "upper": hi}
    with torch.no_grad(), Recorder(runner) as rec:
        acc = runner.run_test_tda(pos_cfg, neg_cfg, loader, model, weights)
    prompts = [t.format(c.replace("_", " ")) for c in classes for t in templates]
    ids = clip_mod.tokenize(prompts).tolist()
    ex = rec.examples
    for t, e in enumerate(ex):
        e["views"] = specs[t]
        ent = sorted(e["entropies"])
        k = len(e["selected"])
        # The smallest entropy gap among the kept views and the first one dropped: the margin of the selection.
        e["selection_gap"] = float(np.min(np.diff(ent[:k + 1]))) if 0 < k < len(ent) else None
    def changes(key):  # entries replaced: the cache's entries changed while its size did not grow
        sets = [{(c, i) for c, v in e[key].items() for i, _ in v} for e in ex]
        return sum(1 for p, q in zip(sets, sets[1:]) if len(q) == len(p) and q != p)

    print(f"{name}: replaced pos {changes('pos_cache')} neg {changes('neg_cache')}; acc {acc:.1f} preds {[e['prediction'] for e in ex]} cache preds {[e['cache_pred'] for e in ex]} "
          f"neg updates {sum(e['neg_update'] for e in ex)} pos sizes "
          f"{[sum(len(v) for v in e['pos_cache'].values()) for e in ex]} neg sizes "
          f"{[sum(len(v) for v in e['neg_cache'].values()) for e in ex]} min sel gap "
          f"{min([e['selection_gap'] for e in ex if e['selection_gap'] is not None], default=None)} "
          f"thresholds {neg_cfg.get('entropy_threshold')} prop {sorted(round(e['prop_entropy'], 4) for e in ex)}",
          file=sys.stderr)
    return {"name": name, "classes": classes, "templates": templates, "positive": pos_cfg, "negative": neg_cfg,
            "views": len(specs[0]), "token_ids": {p: row for p, row in zip(prompts, ids)},
            "class_features": weights.t().tolist(), "examples": ex}


def main():
    if len(sys.argv) != 2:
        raise SystemExit("usage: gen_original.py /path/to/TDA-checkout")
    repo = os.path.abspath(sys.argv[1])
    outdir = os.path.dirname(os.path.abspath(__file__))
    tpt = os.path.abspath(TPT_TESTDATA)
    globals()["TPT_TESTDATA"] = tpt
    clip_mod, model_mod, runner, utils, imagenet_mod = install_original(repo)
    model = load_model(model_mod, os.path.join(tpt, MODEL_FILE))
    torch.manual_seed(0)
    rng = np.random.default_rng(SEED)
    base = load_base()
    tip7 = list(imagenet_mod.imagenet_templates)
    streams = []
    # AugMix-like stream: 32 views, int(32 * 0.1) = 3 kept; small capacities so that entries are replaced; the
    # negative cache's entropy window admits about half the examples; its mask thresholds exclude some classes.
    specs = draw_specs(rng, 16, 32)
    streams.append(run_stream(
        runner, utils, clip_mod, model, "views32", base, CLASSES5, tip7, specs,
        {"enabled": True, "shot_capacity": 2, "alpha": 2.0, "beta": 5.0},
        {"enabled": True, "shot_capacity": 2, "alpha": 0.3, "beta": 1.5,
         "mask_threshold": {"lower": 0.05, "upper": 0.9}}, (0.3, 0.8)))
    # One view per example (the ImageNet protocol), 7 classes, positive capacity 1.
    specs = draw_specs(rng, 20, 1)
    streams.append(run_stream(
        runner, utils, clip_mod, model, "single", base, CLASSES7, tip7, specs,
        {"enabled": True, "shot_capacity": 1, "alpha": 1.5, "beta": 4.0},
        {"enabled": True, "shot_capacity": 2, "alpha": 0.5, "beta": 2.0,
         "mask_threshold": {"lower": 0.03, "upper": 1.0}}, (0.25, 0.75)))
    # The same views with the positive cache disabled (the negative cache alone).
    streams.append(run_stream(
        runner, utils, clip_mod, model, "single_neg_only", base, CLASSES7, tip7, specs,
        {"enabled": False, "shot_capacity": 3, "alpha": 2.0, "beta": 5.0},
        {"enabled": True, "shot_capacity": 1, "alpha": 0.5, "beta": 2.0,
         "mask_threshold": {"lower": 0.03, "upper": 1.0}}, (0.25, 0.75)))
    with open(os.path.join(outdir, "original_tda.json"), "w") as f:
        json.dump({"tda_commit": "e697fb0", "torch": torch.__version__, "seed": SEED, "model": MODEL_FILE,
                   "base_views": BASE_FILES, "streams": streams}, f)


if __name__ == "__main__":
    main()
