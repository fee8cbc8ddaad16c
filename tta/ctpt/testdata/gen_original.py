#!/usr/bin/python3
"""Reference outputs of the ORIGINAL C-TPT code (hee-suk-yoon/C-TPT) on the tiny random CLIPs of tta/tpt/testdata.

The original code is not part of this repository: fetch https://github.com/hee-suk-yoon/C-TPT (commit 085e6c2) and
run, from this directory, with Debian's Python (torch 1.13, numpy):

    CTPT_REPO=/path/to/C-TPT /usr/bin/python3 gen_original.py

C-TPT is TPT plus a dispersion term. With run_type "tpt_ctpt" the step loss of test_time_tuning is
avg_entropy(selected views) - lambda_term * model.l2_norm_mean_training, where ClipTestTimeTuning.inference (with
l2_norm_cal True) sets l2_norm_mean_training to the ATFD of the current prompts' L2-normalised text features t_c:
mean_c ||t_c - mean_c' t_c'||_2.

What runs unchanged from the checkout: clip/custom_clip.py (get_coop, ClipTestTimeTuning with its C-TPT block,
PromptLearner, TextEncoder), clip/clip.py (tokenize), clip/model.py (CLIP, build_model), clip/simple_tokenizer.py,
and, taken with `ast` from tpt_classification.py, select_confident_samples, avg_entropy and test_time_tuning. The
setup of main_worker and one example of test_time_adapt_eval (run_type "tpt_ctpt": model.l2_norm_cal = True,
args.image = view 0) are mirrored line by line in run_case (data loading, .cuda() calls, meters and the
calibration bookkeeping are left out).

What is replaced, and why the maths is unchanged:
  - ftfy, tqdm and ipdb are not installed: ftfy.fix_text is the identity (exact for these ASCII prompts), tqdm is
    only used by clip.py's downloader, ipdb is imported by custom_clip.py and never called on this path.
  - custom_clip's `load` (clip.load, which downloads OpenAI's JIT archives) is replaced by a function that reads
    tta/tpt's safetensors file into a state dict and calls the original build_model on it, then .to(device) and
    .float() as clip.load does on CPU. It returns (model, embed_dim, None) like clip.load (the transform is unused).
  - build_model derives attention heads as width // 64 (0 for these tiny widths), so the CLIP and
    VisionTransformer names that build_model looks up in clip.model are wrapped to pass the head counts of the
    file's __metadata__ (as tta/clip does). Nothing else of the architecture is touched.
  - CPU float32: torch.cuda.amp.autocast() and GradScaler(init_scale=1000) disable themselves without CUDA (the
    script asserts both), so the loss is not scaled and no op runs in float16.

Recording (nothing the original computes is changed): select_confident_samples and avg_entropy are wrapped in the
namespace test_time_tuning runs in (selected indices, the logits they got, the entropy part of each loss); a
forward hook on the model records the ATFD (model.l2_norm_mean) of every forward; the GradScaler is a subclass whose
scale() records the loss it is given (the full loss that is backpropagated) and returns super().scale(loss); a hook
on prompt_learner.ctx records each step's gradient.

Fixtures (read, not written): ../../tpt/testdata/original_{rn,vit}.safetensors and
../../tpt/testdata/original_<case>_views_nchw.npy (float16 [16, 3, R, R]; the reference runs on these values in
float32). The case with lambda 0 is checked against ../../tpt/testdata/original_golden.json (TPT's original code,
same model, views and settings). Writes original_golden.json (see README.md).
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

CTPT_COMMIT = "085e6c2e3d2da647ca42dcef163e0cbd4bf30a67"
N_VIEWS = 16
LR = 5e-3  # tpt_classification.py's default --lr
CTX_INIT = "a_photo_of_a"  # scripts/test_tpt_ctpt_*.sh's --ctx_init
N_CTX = 4  # --n_ctx default
SELECTION_P = 0.25  # as tta/tpt's original cases (the scripts keep the default 0.1 of 64 views)

# Classes in the original's data/imagnet_prompts.py spelling (as tta/tpt/testdata/gen_original.py).
CLASSES5 = ["tench", "tiger shark", "American robin", "Komodo dragon", "hermit crab"]
CLASSES7 = ["Geoffroy's spider monkey", "T-shirt", "red wolf or maned wolf", "ram (adult male sheep)",
            "St. Bernard", "Band-Aid", "goldfish"]

# (case name, model, tpt case of the views, classes, tta_steps, lambda_term, whole case equal to that tpt case).
# Every case's first forward (selection, entropies, logits, entropy part of the first loss) equals its tpt case's.
# lambda 20: scripts/test_tpt_ctpt_ds.sh (natural shifts); 50: scripts/test_tpt_ctpt_fg.sh (fine-grained, ImageNet).
CASES = [
    ("rn_l20_steps1", "rn", "rn_steps1", CLASSES5, 1, 20.0, False),
    ("vit_l50_steps1", "vit", "vit_steps1", CLASSES5, 1, 50.0, False),
    ("vit_l20_steps2", "vit", "vit_classes7", CLASSES7, 2, 20.0, False),
    ("rn_l0_steps3", "rn", "rn_steps3", CLASSES5, 3, 0.0, True),
]


def take_functions(path, names, env):
    """Executes the top-level definitions of `names` from the Python file `path` in env (unchanged source)."""
    with open(path) as f:
        tree = ast.parse(f.read())
    found = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name in names]
    if len(found) != len(names):
        raise SystemExit(f"{path}: found {[n.name for n in found]}, want {names}")
    exec(compile(ast.Module(body=found, type_ignores=[]), path, "exec"), env)


def read_safetensors(path):
    """Returns ({name: float16 torch tensor}, metadata)."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    meta = header.pop("__metadata__", {})
    out = {}
    for name, h in header.items():
        if h["dtype"] != "F16":
            raise SystemExit(f"{path}: tensor {name} is {h['dtype']}, want F16")
        a, b = h["data_offsets"]
        out[name] = torch.from_numpy(np.frombuffer(data[a:b], dtype="<f2").reshape(h["shape"]).copy())
    return out, meta


def install_original(repo):
    """Imports the original's clip package (stubbing ftfy, tqdm, ipdb) and takes tpt_classification's functions."""
    sys.modules["ftfy"] = types.SimpleNamespace(fix_text=lambda s: s)
    tqdm_mod = types.ModuleType("tqdm")
    tqdm_mod.tqdm = None  # only clip.py's downloader uses it
    sys.modules["tqdm"] = tqdm_mod
    sys.modules["ipdb"] = types.ModuleType("ipdb")  # imported by custom_clip.py, unused on this path
    sys.path.insert(0, repo)
    import clip  # noqa: E402  (the original's package: clip.clip, clip.custom_clip)
    import clip.custom_clip as custom_clip
    import clip.model as model_mod
    env = {"torch": torch, "np": np}
    take_functions(os.path.join(repo, "tpt_classification.py"),
                   ["select_confident_samples", "avg_entropy", "test_time_tuning"], env)
    return custom_clip, model_mod, env


def patch_load(custom_clip, model_mod, files):
    """Replaces custom_clip.load (clip.load) by: state dict from the file -> the original build_model -> float32."""
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


class RecordingScaler(torch.cuda.amp.GradScaler):
    """GradScaler that records every loss test_time_tuning scales (the loss it backpropagates)."""

    def __init__(self, losses, **kw):
        super().__init__(**kw)
        self.recorded = losses

    def scale(self, outputs):
        self.recorded.append(outputs.item())
        return super().scale(outputs)


def atfd(text_features):
    """Independent ATFD: mean over classes of the L2 distance of each (normalised) text feature to their mean."""
    t = text_features.double()
    return (t - t.mean(0)).norm(dim=-1).mean().item()


def run_case(custom_clip, env, arch, classes, views, steps, lambda_term):
    """main_worker's setup and one example of test_time_adapt_eval (run_type tpt_ctpt, not cocoop), on CPU."""
    args = types.SimpleNamespace(cocoop=False, tta_steps=steps, selection_p=SELECTION_P, lr=LR, tpt=True,
                                 run_type="tpt_ctpt", lambda_term=lambda_term, two_step=False)
    rec = {"selected": [], "entropy": [], "losses": [], "grads": [], "logits_in": [], "atfd": []}

    orig_select, orig_avg = env["select_confident_samples"], env["avg_entropy"]

    def select_recorded(logits, top):
        out, idx = orig_select(logits, top)
        rec["selected"].append(idx.tolist())
        rec["logits_in"].append(logits.detach().clone())
        return out, idx

    def avg_recorded(outputs):
        loss = orig_avg(outputs)
        rec["entropy"].append(loss.item())  # before test_time_tuning adds -lambda * ATFD in place
        return loss

    env["select_confident_samples"], env["avg_entropy"] = select_recorded, avg_recorded
    try:
        # main_worker (not cocoop, no --load). get_coop on "I" starts from the 1000 ImageNet classes; the class list
        # of the test set is then set by reset_classnames, as main_worker does for A/R/V and the fine-grained sets.
        model = custom_clip.get_coop(arch, "I", "cpu", N_CTX, CTX_INIT)
        for name, param in model.named_parameters():
            if "prompt_learner" not in name:
                param.requires_grad_(False)
        optimizer = torch.optim.AdamW(model.prompt_learner.parameters(), args.lr)
        optim_state = copy.deepcopy(optimizer.state_dict())
        scaler = RecordingScaler(rec["losses"], init_scale=1000)
        assert not scaler.is_enabled(), "GradScaler must disable itself on CPU"
        model.reset_classnames(classes, arch)
        # test_time_adapt_eval
        model.eval()
        with torch.no_grad():
            model.reset()
        if "ctpt" in args.run_type:
            model.l2_norm_cal = True
        else:
            model.l2_norm_cal = False
        # The two parts' gradients at the initial context, with the original's own forward and avg_entropy (not
        # part of test_time_tuning; for diagnosing a mismatch of ctx_grad).
        with torch.no_grad():
            model.reset()
        out0 = model(torch.cat([views[i:i + 1] for i in range(views.shape[0])], dim=0))
        _, idx0 = orig_select(out0, args.selection_p)
        grad_entropy = torch.autograd.grad(orig_avg(out0[idx0]), model.prompt_learner.ctx, retain_graph=True)[0]
        grad_atfd = torch.autograd.grad(model.l2_norm_mean_training, model.prompt_learner.ctx)[0]
        del out0
        fwd = model.register_forward_hook(lambda m, inp, out: rec["atfd"].append(m.l2_norm_mean))
        images = [views[i:i + 1] for i in range(views.shape[0])]  # the loader's list of views, each [1, 3, R, R]
        image = images[0]
        images = torch.cat(images, dim=0)
        if "ctpt" in args.run_type:
            args.image = image
        ctx = model.prompt_learner.ctx
        hook = ctx.register_hook(lambda g: rec["grads"].append(g.detach().clone()))
        if args.tta_steps > 0:
            with torch.no_grad():
                model.reset()
        optimizer.load_state_dict(optim_state)
        ctx_before = ctx.detach().clone()
        with torch.no_grad():
            atfd_before = atfd(model.get_text_features())
        with torch.cuda.amp.autocast():
            assert not torch.is_autocast_enabled(), "autocast must disable itself on CPU"
        env["test_time_tuning"](model, images, optimizer, scaler, args)
        hook.remove()
        with torch.no_grad():
            with torch.cuda.amp.autocast():
                output = model(image)
            atfd_after = atfd(model.get_text_features())
        fwd.remove()
    finally:
        env["select_confident_samples"], env["avg_entropy"] = orig_select, orig_avg

    # One forward per step (all views; output is a tensor, so the single_output forward of test_time_tuning does
    # not run), then the final forward on view 0.
    assert len(rec["selected"]) == 1, rec["selected"]
    assert len(rec["entropy"]) == steps and len(rec["losses"]) == steps and len(rec["grads"]) == steps
    assert len(rec["atfd"]) == steps + 1, rec["atfd"]
    atfd_steps = rec["atfd"][:steps]
    want = grad_entropy - lambda_term * grad_atfd
    assert torch.allclose(rec["grads"][0], want, rtol=1e-4, atol=1e-6 * want.abs().max().item()), "ctx_grad parts"
    for e, a, l in zip(rec["entropy"], atfd_steps, rec["losses"]):
        assert abs(e - lambda_term * a - l) <= 1e-5 * max(1.0, abs(l)), (e, a, l)
    assert abs(atfd_steps[0] - atfd_before) <= 1e-6, (atfd_steps[0], atfd_before)
    assert abs(rec["atfd"][steps] - atfd_after) <= 1e-6, (rec["atfd"][steps], atfd_after)
    logits = rec["logits_in"][0]
    entropies = -(logits.softmax(1) * logits.log_softmax(1)).sum(1)
    srt = torch.sort(entropies).values
    k = int(N_VIEWS * SELECTION_P)
    after = output[0]
    top2 = torch.topk(after, 2).values
    return {
        "classes": classes, "token_ids": model.prompt_learner.tokenized_prompts.tolist(),
        "selected": rec["selected"][0], "entropies": entropies.tolist(), "logits_before": logits.tolist(),
        "losses": rec["losses"], "entropy_losses": rec["entropy"], "atfd_steps": atfd_steps,
        "ctx_grad": rec["grads"][0].tolist(), "ctx_grad_entropy": grad_entropy.tolist(),
        "ctx_grad_atfd": grad_atfd.tolist(), "ctx_before": ctx_before.tolist(), "ctx_after": ctx.detach().tolist(),
        "logits_view0_after": after.tolist(), "atfd_before": atfd_steps[0], "atfd_after": rec["atfd"][steps],
        # Margins that make the exact comparisons meaningful: the selection boundary and the argmax.
        "selection_gap": (srt[k] - srt[k - 1]).item(), "argmax_gap": (top2[0] - top2[1]).item(),
    }


def check_against_tpt(case, tpt_case, whole):
    """The first forward must be TPT's (same views, prompts and context); with lambda 0 (whole) the original C-TPT
    must reproduce TPT's original code: same selection, losses, gradient, context and logits. Returns the largest
    difference."""
    keys = ["classes", "token_ids", "selected", "ctx_init", "n_ctx", "selection_p", "lr"]
    floats = ["entropies", "logits_before", "ctx_before"]
    pairs = [(case["entropy_losses"][0], tpt_case["losses"][0])]
    if whole:
        keys += ["tta_steps"]
        floats += ["losses", "ctx_grad", "ctx_after", "logits_view0_after"]
        if case["entropy_losses"] != case["losses"]:
            raise SystemExit(f"{case['name']}: with lambda 0 the loss is not the entropy")
    for key in keys:
        if case[key] != tpt_case[key]:
            raise SystemExit(f"{case['name']}: {key} differs from tta/tpt's {tpt_case['name']}")
    pairs += [(case[key], tpt_case[key]) for key in floats]
    worst = 0.0
    for a, b in pairs:
        a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
        if a.shape != b.shape:
            raise SystemExit(f"{case['name']}: shape {a.shape}, tta/tpt's {tpt_case['name']} {b.shape}")
        diff = float(np.max(np.abs(a - b)))
        if diff > 1e-7:
            raise SystemExit(f"{case['name']}: differs from tta/tpt's {tpt_case['name']} by {diff}")
        worst = max(worst, diff)
    return worst


def main():
    repo = os.environ.get("CTPT_REPO")
    if not repo:
        raise SystemExit("set CTPT_REPO to a checkout of https://github.com/hee-suk-yoon/C-TPT")
    outdir = os.path.dirname(os.path.abspath(__file__))
    tptdir = os.path.join(outdir, "..", "..", "tpt", "testdata")
    custom_clip, model_mod, env = install_original(repo)
    torch.manual_seed(0)
    files = {kind: os.path.join(tptdir, f"original_{kind}.safetensors") for kind in ["rn", "vit"]}
    patch_load(custom_clip, model_mod, files)
    with open(os.path.join(tptdir, "original_golden.json")) as f:
        tpt_cases = {c["name"]: c for c in json.load(f)["cases"]}
    cases = []
    for name, kind, views_case, classes, steps, lam, whole in CASES:
        views_file = f"original_{views_case}_views_nchw.npy"
        views = np.load(os.path.join(tptdir, views_file))
        if views.dtype != np.float16 or views.shape[0] != N_VIEWS:
            raise SystemExit(f"{views_file}: {views.dtype} {views.shape}, want float16 [{N_VIEWS}, 3, R, R]")
        views = torch.from_numpy(views.astype(np.float32))
        out = run_case(custom_clip, env, kind, classes, views, steps, lam)
        case = {"name": name, "model": f"original_{kind}.safetensors", "views": views_file,
                "ctx_init": CTX_INIT, "prompt": CTX_INIT.replace("_", " "), "n_ctx": N_CTX,
                "selection_p": SELECTION_P, "tta_steps": steps, "lr": LR, "lambda_term": lam,
                "tpt_case": views_case, "equals_tpt_case": whole}
        case.update(out)
        cases.append(case)
        diff = check_against_tpt(case, tpt_cases[views_case], whole)
        msg = f"; {'all' if whole else 'first forward'} equals tta/tpt's {views_case} (max diff {diff:.3g})"
        print(f"{name}: selected {case['selected']} losses {case['losses']} entropy {case['entropy_losses']} "
              f"ATFD {case['atfd_steps']} -> {case['atfd_after']:.6g} argmax "
              f"{int(np.argmax(case['logits_view0_after']))} selection gap {case['selection_gap']:.3g} "
              f"argmax gap {case['argmax_gap']:.3g}{msg}", file=sys.stderr)
    with open(os.path.join(outdir, "original_golden.json"), "w") as f:
        json.dump({"ctpt_commit": CTPT_COMMIT, "torch": torch.__version__, "cases": cases}, f)


if __name__ == "__main__":
    main()
