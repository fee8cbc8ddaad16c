#!/usr/bin/python3
"""Reference outputs of the ORIGINAL DMN code (YBZh/DMN @ c6c218c) for tta/dmn's TestOriginalDMN.

The original code is not part of this repository. Write a checkout to /tmp and run, from this directory, with
Debian's Python (python3-torch 1.13, python3-torchvision, python3-regex):

    /usr/bin/python3 gen_original.py /tmp/dmn

(the mirror's `git archive` stops at a missing data_splits blob; the README says how the checkout was written.)

What runs unchanged from the checkout: dmn_main.py's `direct_inference` (the zero-shot stream loop: view features,
`DualMem.get_text_prediction`, `select_confident_samples`, the vote `init_pred`, `DualMem.update_memory_bank`,
`DualMem.get_image_pred` with its similarity-weighted read), `DualMem` as `direct_inference` builds it,
clip/fix_clip.py (`get_fixed_clip`, `ClipFixed.reset_classnames`, `get_text_features`, `get_image_features`),
clip/clip.py (`tokenize`), clip/model.py (`CLIP`, `build_model`) and clip/simple_tokenizer.py with the checkout's own
BPE vocabulary; data/imagnet_prompts.py's `tip_imagenet_templates`; dmn_main's argparse defaults.

Replaced, and why the maths is unchanged:
  - ipdb, ftfy and tqdm are not installed: ipdb.set_trace is not reached on this path, ftfy.fix_text is the identity
    (exact for these ASCII prompts), tqdm is only used by clip.py's downloader.
  - fix_clip's `load` (clip.load downloads OpenAI's JIT archives) is replaced by: read tta/tpt's
    original_vit.safetensors into a state dict, the original build_model on it, .float() as clip.load does on CPU.
    build_model derives heads as width // 64 (0 at these widths), so the CLIP and VisionTransformer names it looks up
    are wrapped to pass the file's __metadata__ heads (what tta/clip reads too).
  - `.cuda()` on tensors and modules is the identity (CPU, float32). On a GPU the original's CLIP is float16.
  - val_loader is a list of (views [1, N, 3, R, R], label) pairs, the shape direct_inference squeezes (its
    ImageNet sampler branch); the original shuffles a DataLoader with seed 0, here the stream order is fixed.
  - text_prompt "tip" (the 7 Tip-Adapter templates) instead of the scripts' "tip_cupl", which adds CuPL's GPT-3
    descriptions of ImageNet's classes (data/gpt3_prompts, not carried by tta/dmn).
  - direct_inference ends with a search of the dynamic memory's weight over the labelled test set (beta2 in
    {0.001, ..., 1000}, the best accuracy); the final scores p_text + w * p_mem are computed here for fixed weights
    with the same expression.
Recorded by wrapping the names direct_inference calls: DualMem.get_text_prediction (the views' probabilities),
select_confident_samples (the kept views), DualMem.update_memory_bank (the pseudo-label, the entropy and the memory
after the write) and DualMem.get_image_pred (the memory's probabilities). Deterministic: a second run gives a
byte-identical file.

Writes original_dmn.json (see README.md).
"""
import argparse
import json
import os
import struct
import sys
import types

import numpy as np
import torch

TPT_TESTDATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tpt", "testdata")
MODEL_FILE = "original_vit.safetensors"
VIEW_FILES = ["original_vit_steps1_views_nchw.npy", "original_vit_classes7_views_nchw.npy"]  # float16 [16, 3, 48, 48]
CLASSES = ["tench", "tiger shark", "American robin", "Komodo dragon", "hermit crab"]
WEIGHTS = [1.0, 0.3, 3.0]  # dynamic memory weights (beta2) the final scores are given for


def stream_views(pool, t, n):
    """Example t's n views [n, 3, R, R]: pool[(7 t + 3 i) % 32], i < n, under the symmetry t % 8 of the square (bit 2:
    transpose H and W, then bit 0: flip W, bit 1: flip H). For t < 24 and n <= 8 no (view, symmetry) pair repeats."""
    idx = [(7 * t + 3 * i) % pool.shape[0] for i in range(n)]
    v, m = pool[idx], t % 8
    if m & 4:
        v = v.transpose(2, 3)
    if m & 1:
        v = torch.flip(v, dims=[3])
    if m & 2:
        v = torch.flip(v, dims=[2])
    return v.contiguous(), idx


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
    """Imports dmn_main with ipdb, ftfy and tqdm stubbed and .cuda() the identity."""
    sys.modules["ipdb"] = types.SimpleNamespace(set_trace=lambda: None)
    sys.modules["ftfy"] = types.SimpleNamespace(fix_text=lambda s: s)
    tqdm_mod = types.ModuleType("tqdm")
    tqdm_mod.tqdm = None
    sys.modules["tqdm"] = tqdm_mod
    torch.Tensor.cuda = lambda self, *a, **k: self
    torch.nn.Module.cuda = lambda self, *a, **k: self
    sys.path.insert(0, repo)
    import dmn_main  # noqa: E402  (the original's script)
    import clip.fix_clip as fix_clip
    import clip.model as model_mod
    return dmn_main, fix_clip, model_mod


def patch_load(fix_clip, model_mod, path):
    """fix_clip.load -> our safetensors file through the original build_model, float32, heads from metadata."""
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

    fix_clip.load = load


def default_args(dmn_main, argv):
    """dmn_main's parser defaults for argv (the parser is built at import time under __main__ only, so it is rebuilt
    here from the script's own add_argument lines)."""
    src = open(dmn_main.__file__).read()
    block = src[src.index("    parser = argparse.ArgumentParser"):src.index("    main()")]
    ns = {"argparse": argparse}
    exec("def _parser():\n" + block + "    return parser\n", ns)
    return ns["_parser"]().parse_args(argv)


def run_stream(dmn_main, fix_clip, name, n_views, selection_p, memory_size, n_examples):
    args = default_args(dmn_main, ["data", "--selection_p", str(selection_p), "-b", str(n_views),
                                   "--memory_size", str(memory_size), "--text_prompt", "tip", "--n_shot", "0",
                                   "-p", "100000"])
    assert (args.beta, args.position, args.mapping, args.shared_param) == (5.5, "all", "bias", False)
    args.indice = torch.arange(1)  # set by main_worker; only the few-shot read uses it
    args.set_id = "I"

    token_ids = {}
    orig_tokenize = fix_clip.tokenize

    def tokenize(texts, *a, **k):
        out = orig_tokenize(texts, *a, **k)
        for t, row in zip(texts, out.tolist()):
            token_ids[t] = row
        return out

    fix_clip.tokenize = tokenize
    model = fix_clip.get_fixed_clip(args.arch, CLASSES, "cpu", args.n_ctx, args.ctx_init,
                                    memory_size=args.memory_size, text_prompt=args.text_prompt)
    for p in model.parameters():
        p.requires_grad_(False)
    model.reset_classnames(CLASSES, args.set_id)  # "I": tip_imagenet_templates
    templates = list(model.text_prompt)

    pool = torch.cat([torch.from_numpy(np.load(os.path.join(TPT_TESTDATA, f))).float() for f in VIEW_FILES])
    loader, view_idx = [], []
    for t in range(n_examples):
        v, idx = stream_views(pool, t, n_views)
        loader.append((v.unsqueeze(0), torch.tensor([t % len(CLASSES)])))
        view_idx.append(idx)

    steps = []
    DualMem = dmn_main.DualMem
    orig = (DualMem.get_text_prediction, dmn_main.select_confident_samples, DualMem.update_memory_bank,
            DualMem.get_image_pred)

    def get_text_prediction(self, model, return_full=True, return_logit=False):
        out = orig[0](self, model, return_full, return_logit)
        steps.append({"z_img": model.image_features_global.tolist(), "probs": out.tolist()})
        return out

    def select_confident_samples(prob, top):
        out = orig[1](prob, top)
        ent = -(prob * torch.log(prob + 1e-6)).sum(1)  # its own formula
        srt = np.sort(ent.numpy())
        k = len(out[1])
        steps[-1].update({"entropies": ent.tolist(), "selected": out[1].tolist(),
                          "selection_gap": float(srt[k] - srt[k - 1]) if 0 < k < len(srt) else None,
                          "min_entropy_gap": float(np.min(np.diff(srt)))})
        return out

    def update_memory_bank(self, model, target):
        mean_prob = self.init_pred[0]
        label = int(mean_prob.max(0)[1])
        ent = float(-(mean_prob * (torch.log(mean_prob + 1e-8))).sum())
        before = model.image_entropy_mem[label].clone()
        count_before = int(model.image_feature_count[label, 0])
        orig[2](self, model, target)
        if count_before < model.memory_size:
            action, slot = "write", count_before
        elif bool((ent < before).any()):
            action, slot = "replace", int(torch.sort(before)[1][-1])
        else:
            action, slot = "skip", None
        top2 = torch.topk(mean_prob, 2)[0]
        steps[-1].update({"init_pred": mean_prob.tolist(), "pseudo_label": label, "pseudo_gap": float(top2[0] - top2[1]),
                          "entropy": ent, "action": action, "slot": slot,
                          "decision_margin": float(before.max() - ent) if count_before == model.memory_size else None,
                          "slot_gap": float(torch.topk(before, 2)[0][0] - torch.topk(before, 2)[0][1])
                          if count_before == model.memory_size and model.memory_size > 1 else None,
                          "count": model.image_feature_count[:, 0].tolist(),
                          "memory": [[model.image_feature_memory[c, s].tolist()
                                      for s in range(int(model.image_feature_count[c, 0]))] for c in range(len(CLASSES))],
                          "memory_entropy": [[float(model.image_entropy_mem[c, s])
                                              for s in range(int(model.image_feature_count[c, 0]))]
                                             for c in range(len(CLASSES))]})

    def get_image_pred(self, model, return_full=False, return_logit=False):
        out = orig[3](self, model, return_full, return_logit)
        steps[-1]["p_mem"] = out[0].tolist()
        return out

    DualMem.get_text_prediction, dmn_main.select_confident_samples = get_text_prediction, select_confident_samples
    DualMem.update_memory_bank, DualMem.get_image_pred = update_memory_bank, get_image_pred
    try:
        result = dmn_main.direct_inference(loader, model, args)
    finally:
        DualMem.get_text_prediction, dmn_main.select_confident_samples, DualMem.update_memory_bank, \
            DualMem.get_image_pred = orig
        fix_clip.tokenize = orig_tokenize
    assert len(steps) == n_examples
    for s in steps:
        p_text = torch.tensor(s["probs"][0])
        p_mem = torch.tensor(s["p_mem"])
        s["p_text"] = p_text.tolist()
        s["final"], s["pred"], s["pred_gap"] = {}, {}, {}
        for w in WEIGHTS:
            f = p_text * 1.0 + p_mem * w  # direct_inference's `pred_vanilla * beta1 + pred_global * beta2`
            top2 = torch.topk(f, 2)[0]
            s["final"][str(w)], s["pred"][str(w)], s["pred_gap"][str(w)] = f.tolist(), int(f.argmax()), float(
                top2[0] - top2[1])
    prompts = [t.format(c) for c in CLASSES for t in templates]
    return {"name": name, "model": MODEL_FILE, "view_files": VIEW_FILES, "n_views": n_views,
            "selection_p": selection_p, "memory_size": memory_size, "beta": args.beta, "classes": CLASSES,
            "templates": templates, "token_ids": {p: token_ids[p] for p in prompts},
            "logit_scale": float(model.logit_scale), "text_feat": model.text_feat.tolist(),
            "view_index": view_idx, "weights": WEIGHTS, "searched": {"acc": result[3], "beta2": result[5]},
            "steps": steps}


def main():
    if len(sys.argv) != 2:
        raise SystemExit("usage: gen_original.py /path/to/dmn-checkout")
    dmn_main, fix_clip, model_mod = install_original(sys.argv[1])
    patch_load(fix_clip, model_mod, os.path.join(TPT_TESTDATA, MODEL_FILE))
    torch.manual_seed(0)
    streams = [run_stream(dmn_main, fix_clip, "views8_mem2", 8, 0.4, 2, 20),
               run_stream(dmn_main, fix_clip, "views8_mem1", 8, 0.25, 1, 14)]
    for st in streams:
        acts = [s["action"] for s in st["steps"]]
        print(f"{st['name']}: labels {[s['pseudo_label'] for s in st['steps']]} actions "
              f"{ {a: acts.count(a) for a in set(acts)} } preds {[s['pred']['1.0'] for s in st['steps']]} "
              f"min gaps: select {min(s['selection_gap'] for s in st['steps']):.2g} entropy "
              f"{min(s['min_entropy_gap'] for s in st['steps']):.2g} pseudo {min(s['pseudo_gap'] for s in st['steps']):.2g} "
              f"pred {min(min(s['pred_gap'].values()) for s in st['steps']):.2g} mem "
              f"{min([abs(s['decision_margin']) for s in st['steps'] if s['decision_margin'] is not None] or [0]):.2g} slot "
              f"{min([s['slot_gap'] for s in st['steps'] if s['slot_gap'] is not None] or [0]):.2g}",
              file=sys.stderr)
    outdir = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(outdir, "original_dmn.json"), "w") as f:
        json.dump({"dmn_commit": "c6c218c", "torch": torch.__version__, "streams": streams}, f)


if __name__ == "__main__":
    main()
