#!/usr/bin/python3
"""Reference outputs of the ORIGINAL TPT code (azshue/TPT) on tiny random CLIPs that tta/tpt has not seen.

The original code is not part of this repository: fetch https://github.com/azshue/TPT (commit 63ecbac) and run, from
this directory, with Debian's Python (torch 1.13, numpy):

    TPT_REPO=/path/to/TPT /usr/bin/python3 gen_original.py

What runs unchanged from the checkout: clip/custom_clip.py (get_coop, ClipTestTimeTuning, PromptLearner,
TextEncoder), clip/clip.py (tokenize), clip/model.py (CLIP, build_model), clip/simple_tokenizer.py, and, taken with
`ast` from tpt_classification.py, select_confident_samples, avg_entropy and test_time_tuning. The per-example loop
of test_time_adapt_eval and the setup of main_worker are mirrored line by line in run_case (their data loading,
.cuda() calls and accuracy meters are left out).

What is replaced, and why the maths is unchanged:
  - ftfy and tqdm are not installed: ftfy.fix_text is the identity (exact for these ASCII prompts), tqdm is only
    used by clip.py's downloader.
  - custom_clip's `load` (clip.load, which downloads OpenAI's JIT archives) is replaced by a function that reads this
    script's safetensors file into a state dict and calls the original build_model on it, then .to(device) and
    .float() as clip.load does on CPU. It returns (model, embed_dim, None) like clip.load (the transform is unused).
  - build_model derives attention heads as width // 64 (0 for these tiny widths), so the CLIP and
    VisionTransformer names that build_model looks up in clip.model are wrapped to pass the head counts of the
    file's __metadata__ (as tta/clip does). Nothing else of the architecture is touched.
  - CPU float32: torch.cuda.amp.autocast() and GradScaler(init_scale=1000) disable themselves without CUDA (the
    script asserts both), so the loss is not scaled and no op runs in float16. On a GPU the original runs the
    towers under fp16 autocast; this reference is the float32 computation.

Models (new seed, configs unlike tiny_rn/tiny_vit), stored F16 with OpenAI's names and the float32 reference run on
exactly the stored values:
  original_rn.safetensors   ModifiedResNet layers (1,2,1,1), width 16, 64 px, embed 32 (attnpool heads 8 derived);
                            text width 32, 2 layers, 4 heads.
  original_vit.safetensors  ViT 48 px, patch 16, width 48, 3 layers, 3 heads, embed 24; text width 24, 3 layers,
                            2 heads.
Both: vocab 49408 (OpenAI's BPE ids), context 77, logit_scale ln 25, BatchNorm statistics from a calibration batch
then perturbed, BN scales ~ N(1, 0.2^2).

Writes original_<model>.safetensors, original_<case>_views_nchw.npy (float16 [16, 3, R, R] random normal; the reference runs on
these values in float32) and
original_golden.json (a list of cases; see README.md).
"""
import ast
import copy
import json
import os
import struct
import sys
import types

import numpy as np
import torch

SEED = 20261128
N_VIEWS = 16
LR = 5e-3  # tpt_classification.py's default --lr
CTX_INIT = "a_photo_of_a"  # scripts/test_tpt.sh's --ctx_init
N_CTX = 4  # --n_ctx default

# Classes in the original's data/imagnet_prompts.py spelling (multi-token names, hyphens, an apostrophe, brackets).
CLASSES5 = ["tench", "tiger shark", "American robin", "Komodo dragon", "hermit crab"]
CLASSES7 = ["Geoffroy's spider monkey", "T-shirt", "red wolf or maned wolf", "ram (adult male sheep)",
            "St. Bernard", "Band-Aid", "goldfish"]

MODELS = {
    "rn": dict(embed_dim=32, image_resolution=64, vision_layers=(1, 2, 1, 1), vision_width=16, vision_patch_size=None,
               context_length=77, vocab_size=49408, transformer_width=32, transformer_heads=4, transformer_layers=2,
               vision_heads=8),
    "vit": dict(embed_dim=24, image_resolution=48, vision_layers=3, vision_width=48, vision_patch_size=16,
                context_length=77, vocab_size=49408, transformer_width=24, transformer_heads=2, transformer_layers=3,
                vision_heads=3),
}

# (case name, model, classes, tta_steps); selection_p 0.25 everywhere.
CASES = [("rn_steps1", "rn", CLASSES5, 1), ("rn_steps3", "rn", CLASSES5, 3), ("vit_steps1", "vit", CLASSES5, 1),
         ("vit_classes7", "vit", CLASSES7, 1)]
SELECTION_P = 0.25


def take_functions(path, names, env):
    """Executes the top-level definitions of `names` from the Python file `path` in env (unchanged source)."""
    with open(path) as f:
        tree = ast.parse(f.read())
    found = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name in names]
    if len(found) != len(names):
        raise SystemExit(f"{path}: found {[n.name for n in found]}, want {names}")
    exec(compile(ast.Module(body=found, type_ignores=[]), path, "exec"), env)


def write_safetensors(path, tensors, metadata):
    header = {"__metadata__": metadata}
    blobs, offset = [], 0
    for name, arr in tensors.items():
        raw = np.ascontiguousarray(arr, dtype="<f2").tobytes()
        header[name] = {"dtype": "F16", "shape": list(arr.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    hjson = json.dumps(header, separators=(",", ":")).encode()
    hjson += b" " * ((8 - len(hjson) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hjson)))
        f.write(hjson)
        for b in blobs:
            f.write(b)


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


def make_model(model_mod, set_heads, cfg, gen):
    """A random tiny CLIP built with the original's CLIP class (heads as patch_load passes them), perturbed so
    that views differ, F16-rounded."""
    set_heads(cfg["transformer_heads"], cfg["vision_heads"])
    keys = ["embed_dim", "image_resolution", "vision_layers", "vision_width", "vision_patch_size", "context_length",
            "vocab_size", "transformer_width", "transformer_heads", "transformer_layers"]
    model = model_mod.CLIP(*[cfg[k] for k in keys])
    model.eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.add_(torch.randn(p.shape, generator=gen) * 0.03)
            if name.endswith("positional_embedding") or name.endswith("class_embedding"):
                p.add_(torch.randn(p.shape, generator=gen) * 0.1)
            if ".bn" in name and name.endswith(".weight") or name.endswith("downsample.1.weight"):
                p.copy_(1 + torch.randn(p.shape, generator=gen) * 0.2)  # CLIP's init zeroes bn3
            if ".bn" in name and name.endswith(".bias") or name.endswith("downsample.1.bias"):
                p.copy_(torch.randn(p.shape, generator=gen) * 0.1)
        bns = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
        if bns:
            # Running statistics of a calibration batch (momentum 1), then perturbed: unit-scale activations.
            res = cfg["image_resolution"]
            for m in bns:
                m.momentum = 1.0
            model.visual.train()
            model.visual(torch.randn((32, 3, res, res), generator=gen))
            model.visual.eval()
            for m in bns:
                m.momentum = 0.1
                m.running_mean.add_(torch.randn(m.running_mean.shape, generator=gen) * 0.05)
                m.running_var.mul_(0.7 + 0.6 * torch.rand(m.running_var.shape, generator=gen))
        model.logit_scale.fill_(float(np.log(25.0)))
    sd = {k: v.float().numpy() for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}
    return {k: v.astype(np.float16) for k, v in sd.items()}


def install_original(repo):
    """Imports the original's clip package (stubbing ftfy and tqdm) and takes tpt_classification's functions."""
    sys.modules["ftfy"] = types.SimpleNamespace(fix_text=lambda s: s)
    tqdm_mod = types.ModuleType("tqdm")
    tqdm_mod.tqdm = None  # only clip.py's downloader uses it
    sys.modules["tqdm"] = tqdm_mod
    sys.path.insert(0, repo)
    import clip  # noqa: E402  (the original's package: clip.clip, clip.custom_clip)
    import clip.custom_clip as custom_clip
    import clip.model as model_mod
    env = {"torch": torch, "np": np}
    take_functions(os.path.join(repo, "tpt_classification.py"),
                   ["select_confident_samples", "avg_entropy", "test_time_tuning"], env)
    return clip, custom_clip, model_mod, env


def patch_load(custom_clip, model_mod, files):
    """Replaces custom_clip.load (clip.load) by: state dict from our file -> the original build_model -> float32.
    Returns set_heads(text, vision), which sets the heads that the wrapped CLIP / VisionTransformer pass."""
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
        sd, meta = read_safetensors(files[name])
        heads["text"] = int(meta["text_heads"])
        heads["vision"] = int(meta.get("vision_heads", 0))
        embed_dim = sd["text_projection"].shape[1]
        model = model_mod.build_model(sd).to(device)
        if str(device) == "cpu":
            model.float()
        # The RN attnpool's heads are derived by build_model (width * 32 // 64); check they match the file's.
        if hasattr(model.visual, "attnpool"):
            assert model.visual.attnpool.num_heads == heads["vision"], model.visual.attnpool.num_heads
        return model, embed_dim, None

    custom_clip.load = load

    def set_heads(text, vision):
        heads["text"], heads["vision"] = text, vision
    return set_heads


def run_case(custom_clip, env, arch, classes, views, steps):
    """main_worker's setup and one example of test_time_adapt_eval (tpt, not cocoop), on CPU."""
    args = types.SimpleNamespace(cocoop=False, tta_steps=steps, selection_p=SELECTION_P, lr=LR, tpt=True)
    rec = {"selected": [], "losses": [], "grads": [], "logits_in": []}

    orig_select, orig_avg = env["select_confident_samples"], env["avg_entropy"]

    def select_recorded(logits, top):
        out, idx = orig_select(logits, top)
        rec["selected"].append(idx.tolist())
        rec["logits_in"].append(logits.detach().clone())
        return out, idx

    def avg_recorded(outputs):
        loss = orig_avg(outputs)
        rec["losses"].append(loss.item())
        return loss

    env["select_confident_samples"], env["avg_entropy"] = select_recorded, avg_recorded
    try:
        # main_worker (not cocoop, no --load). get_coop on "I" starts from the 1000 ImageNet classes; the class list
        # of the test set is then set by reset_classnames, as main_worker does for A/R/V.
        model = custom_clip.get_coop(arch, "I", "cpu", N_CTX, CTX_INIT)
        for name, param in model.named_parameters():
            if "prompt_learner" not in name:
                param.requires_grad_(False)
        optimizer = torch.optim.AdamW(model.prompt_learner.parameters(), args.lr)
        optim_state = copy.deepcopy(optimizer.state_dict())
        scaler = torch.cuda.amp.GradScaler(init_scale=1000)
        assert not scaler.is_enabled(), "GradScaler must disable itself on CPU"
        model.reset_classnames(classes, arch)
        # test_time_adapt_eval
        model.eval()
        with torch.no_grad():
            model.reset()
        images = [views[i:i + 1] for i in range(views.shape[0])]  # the loader's list of views, each [1, 3, R, R]
        image = images[0]
        images = torch.cat(images, dim=0)
        ctx = model.prompt_learner.ctx
        hook = ctx.register_hook(lambda g: rec["grads"].append(g.detach().clone()))
        with torch.no_grad():
            model.reset()
        optimizer.load_state_dict(optim_state)
        ctx_before = ctx.detach().clone()
        with torch.cuda.amp.autocast():
            assert not torch.is_autocast_enabled(), "autocast must disable itself on CPU"
        env["test_time_tuning"](model, images, optimizer, scaler, args)
        hook.remove()
        with torch.no_grad():
            with torch.cuda.amp.autocast():
                output = model(image)
    finally:
        env["select_confident_samples"], env["avg_entropy"] = orig_select, orig_avg

    assert len(rec["selected"]) == 1 and len(rec["losses"]) == steps and len(rec["grads"]) == steps
    logits = rec["logits_in"][0]
    entropies = -(logits.softmax(1) * logits.log_softmax(1)).sum(1)
    srt = torch.sort(entropies).values
    k = int(N_VIEWS * SELECTION_P)
    after = output[0]
    top2 = torch.topk(after, 2).values
    return {
        "classes": classes, "token_ids": model.prompt_learner.tokenized_prompts.tolist(),
        "selected": rec["selected"][0], "entropies": entropies.tolist(), "logits_before": logits.tolist(),
        "losses": rec["losses"], "ctx_grad": rec["grads"][0].tolist(), "ctx_before": ctx_before.tolist(),
        "ctx_after": ctx.detach().tolist(), "logits_view0_after": after.tolist(),
        # Margins that make the exact comparisons meaningful: the selection boundary and the argmax.
        "selection_gap": (srt[k] - srt[k - 1]).item(), "argmax_gap": (top2[0] - top2[1]).item(),
    }


def main():
    repo = os.environ.get("TPT_REPO")
    if not repo:
        raise SystemExit("set TPT_REPO to a checkout of https://github.com/azshue/TPT")
    outdir = os.path.dirname(os.path.abspath(__file__))
    _, custom_clip, model_mod, env = install_original(repo)
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(SEED)
    files = {kind: os.path.join(outdir, f"original_{kind}.safetensors") for kind in MODELS}
    set_heads = patch_load(custom_clip, model_mod, files)
    for kind, cfg in MODELS.items():
        sd = make_model(model_mod, set_heads, cfg, gen)
        meta = {"text_heads": str(cfg["transformer_heads"]), "vision_heads": str(cfg["vision_heads"])}
        write_safetensors(files[kind], sd, meta)
    cases = []
    for name, kind, classes, steps in CASES:
        res = MODELS[kind]["image_resolution"]
        views = torch.randn((N_VIEWS, 3, res, res), generator=gen).half()  # stored as float16
        np.save(os.path.join(outdir, f"original_{name}_views_nchw.npy"), views.numpy())
        views = views.float()
        out = run_case(custom_clip, env, kind, classes, views, steps)
        case = {"name": name, "model": f"original_{kind}.safetensors", "views": f"original_{name}_views_nchw.npy",
                "ctx_init": CTX_INIT, "prompt": CTX_INIT.replace("_", " "), "n_ctx": N_CTX,
                "selection_p": SELECTION_P, "tta_steps": steps, "lr": LR}
        case.update(out)
        cases.append(case)
        print(f"{name}: selected {case['selected']} losses {case['losses']} argmax "
              f"{int(np.argmax(case['logits_view0_after']))} selection gap {case['selection_gap']:.3g} "
              f"argmax gap {case['argmax_gap']:.3g}", file=sys.stderr)
    with open(os.path.join(outdir, "original_golden.json"), "w") as f:
        json.dump({"tpt_commit": "63ecbace79694205d7884e63fdc3137a200f0b0e", "torch": torch.__version__,
                   "cases": cases}, f)


if __name__ == "__main__":
    main()
