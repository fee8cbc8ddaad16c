#!/usr/bin/python3
"""Makes the golden test data of package tta/tpt (see README.md beside this file).

Usage: /usr/bin/python3 make_golden.py /path/to/openai-CLIP/clip OUTDIR

An independent PyTorch implementation of one (or more) TPT steps, written from the TPT paper and the facts of
azshue/TPT (`clip/custom_clip.py`, `tpt_classification.py`): prompts "a photo of a {class}." with the 4 context
tokens after SOT learnable (or the seed project's split context around a [CLS] placeholder), image features under
no_grad, logits = exp(logit_scale) * cos, confidence selection (argsort of the per-view entropy, first
int(N * rho)), the marginal entropy `avg_entropy`, torch.optim.AdamW(lr=5e-3) with torch defaults, selection kept
from the first step, the prediction on view 0. It runs OpenAI's own `model.py` (CLIP) and `simple_tokenizer.py`
(with a stand-in for ftfy, the identity for these ASCII prompts).

The tiny ResNet CLIP is written to OUTDIR/../../clip/testdata/tiny_rn.safetensors (tta/clip's golden data, whose
make_golden.py reads it from there; run this script first): tta/clip, tta/tpt and cmd/gotta test one tiny ResNet.
"""
import copy
import importlib.util
import json
import struct
import sys
import types

import numpy as np
import torch


def load(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


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


def perturb(model, gen):
    """Every parameter gets randn*0.02 on top of its init, BN statistics are randomised, then all is rounded to
    float16 (the file's storage), so the float32 reference runs on exactly the stored values."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.add_(torch.randn(p.shape, generator=gen) * 0.02)
            if name.endswith("positional_embedding") or name.endswith("class_embedding"):
                p.add_(torch.randn(p.shape, generator=gen) * 0.1)
            if ".bn" in name and name.endswith(".weight") or name.endswith("downsample.1.weight"):
                p.copy_(1 + torch.randn(p.shape, generator=gen) * 0.2)  # CLIP's init zeroes bn3
        for name, b in model.named_buffers():
            if name.endswith("running_mean"):
                b.copy_(torch.randn(b.shape, generator=gen) * 0.1)
            elif name.endswith("running_var"):
                b.copy_(0.5 + torch.rand(b.shape, generator=gen))
        # BN statistics from a calibration batch (momentum 1), so every layer passes a unit-scale signal and the
        # tiny ResNet's features differ between views; then perturbed.
        bns = [mod for mod in model.modules() if isinstance(mod, torch.nn.BatchNorm2d)]
        if bns:
            res = model.visual.input_resolution
            for mod in bns:
                mod.momentum = 1.0
            model.visual.train()
            model.visual(torch.randn((16, 3, res, res), generator=gen))
            model.visual.eval()
            for mod in bns:
                mod.momentum = 0.1  # torch's default again (alignment updates the running statistics with it)
                mod.running_mean.add_(torch.randn(mod.running_mean.shape, generator=gen) * 0.05)
                mod.running_var.mul_(0.8 + 0.4 * torch.rand(mod.running_var.shape, generator=gen))
        # A larger logit scale than CLIP's init (ln(1/0.07)) so the tiny model's views differ in entropy.
        model.logit_scale.fill_(np.log(20.0))
        for _, t in list(model.named_parameters()) + list(model.named_buffers()):
            if t.dtype == torch.float32:
                t.copy_(t.half().float())


def build_model(m, kind):
    if kind == "rn":
        model = m.CLIP(embed_dim=16, image_resolution=64, vision_layers=(1, 1, 1, 1), vision_width=8,
                       vision_patch_size=None, context_length=77, vocab_size=49408, transformer_width=16,
                       transformer_heads=2, transformer_layers=2)
        model.visual.attnpool.num_heads = 2
        return model, {"vision_heads": "2", "text_heads": "2"}, 64
    # ViT: CLIP's constructor takes heads = width // 64 (0 here): build at width 64 and replace the tower.
    model = m.CLIP(embed_dim=16, image_resolution=32, vision_layers=2, vision_width=64, vision_patch_size=8,
                   context_length=77, vocab_size=49408, transformer_width=16, transformer_heads=2,
                   transformer_layers=2)
    model.visual = m.VisionTransformer(input_resolution=32, patch_size=8, width=32, layers=2, heads=2,
                                       output_dim=16)
    return model, {"vision_heads": "2", "text_heads": "2"}, 32


CLASSES = ["goldfish", "great white shark", "tiger shark", "hammerhead shark", "electric ray"]


def text_features(model, embeds, tokens):
    """TPT's TextEncoder: prompts [C, 77, W] -> [C, E] (EOT feature, projected)."""
    x = embeds + model.positional_embedding
    x = model.transformer(x.permute(1, 0, 2)).permute(1, 0, 2)
    x = model.ln_final(x)
    return x[torch.arange(x.shape[0]), tokens.argmax(dim=-1)] @ model.text_projection


def prompt_layout(tok, prompt, classes):
    """Token ids [C, 77] and, per class, the positions of the learnable context tokens (prefix then suffix),
    the layout [SOT][prefix][class words][suffix][EOT][pad]. Without [CLS] the class is "{name}." at the end."""
    sot, eot = tok.encoder["<|startoftext|>"], tok.encoder["<|endoftext|>"]
    if "[CLS]" in prompt:
        pre, suf = prompt.split("[CLS]")
        cls_text = lambda c: c
    else:
        pre, suf = prompt, ""
        cls_text = lambda c: c + "."
    pre_ids, suf_ids = tok.encode(pre), tok.encode(suf)
    ids = np.zeros((len(classes), 77), dtype=np.int64)
    pos = []
    for i, c in enumerate(classes):
        cid = tok.encode(cls_text(c))
        row = [sot] + pre_ids + cid + suf_ids + [eot]
        ids[i, :len(row)] = row
        p = list(range(1, 1 + len(pre_ids)))
        s0 = 1 + len(pre_ids) + len(cid)
        pos.append(p + list(range(s0, s0 + len(suf_ids))))
    return ids, pos


def build_prompts(base, ctx, pos):
    """Replaces the context positions of each class's embeddings [C, 77, W] by ctx [n_ctx, W]."""
    rows = []
    for i in range(base.shape[0]):
        parts, last = [], 0
        for j, p in enumerate(pos[i]):
            parts.append(base[i, last:p])
            parts.append(ctx[j:j + 1])
            last = p + 1
        parts.append(base[i, last:])
        rows.append(torch.cat(parts, 0))
    return torch.stack(rows, 0)


def avg_entropy(outputs):
    logits = outputs - outputs.logsumexp(dim=-1, keepdim=True)
    avg = logits.logsumexp(dim=0) - np.log(logits.shape[0])
    avg = torch.clamp(avg, min=torch.finfo(avg.dtype).min)
    return -(avg * torch.exp(avg)).sum(dim=-1)


def entropies(logits):
    return -(logits.softmax(1) * logits.log_softmax(1)).sum(1)


def align(model, views, sel, align_steps):
    """The seed project's alignment (EasyTPT.align_embeddings): AdamW(lr 1e-4) on every visual parameter whose name
    lacks "attnpool", loss 1 - mean of the full k x k cosine matrix of the selected views' features, the tower in
    train mode (BatchNorm batch statistics, running statistics updated), one extra forward, then eval mode."""
    params = [p for n, p in model.visual.named_parameters() if "attnpool" not in n]
    for p in params:
        p.requires_grad_(True)
    opt = torch.optim.AdamW(params, lr=1e-4)
    model.visual.train()
    sv = views[sel]
    losses = []
    for _ in range(align_steps):
        f = model.visual(sv)
        f = f / f.norm(dim=-1, keepdim=True)
        loss = 1 - (f @ f.t()).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    with torch.no_grad():
        model.visual(sv)
    model.visual.eval()
    for p in params:
        p.requires_grad_(False)
    return losses


def tpt(model, tok, views, prompt, rho, steps, align_steps=0):
    if align_steps > 0:
        model = copy.deepcopy(model)
    ids, pos = prompt_layout(tok, prompt, CLASSES)
    tt = torch.from_numpy(ids)
    with torch.no_grad():
        base = model.token_embedding(tt)
        ctx0 = base[0, pos[0]].clone()
        img = model.encode_image(views)
        img = img / img.norm(dim=-1, keepdim=True)
    ctx = torch.nn.Parameter(ctx0.clone())
    opt = torch.optim.AdamW([ctx], lr=5e-3)
    scale = model.logit_scale.exp()
    out = {"prompt": prompt, "classes": CLASSES, "rho": rho, "steps": steps, "token_ids": ids.tolist(),
           "ctx_positions": pos, "losses": []}
    sel = None
    for step in range(steps):
        txt = text_features(model, build_prompts(base, ctx, pos), tt)
        txt = txt / txt.norm(dim=-1, keepdim=True)
        logits = scale * img @ txt.t()
        if sel is None:
            h = entropies(logits.detach())
            sel = torch.argsort(h, descending=False)[:int(logits.shape[0] * rho)]
            out["entropies"] = h.tolist()
            out["selected"] = sel.tolist()
            out["logits_before"] = logits.detach().numpy().tolist()  # every view, initial prompt
            if align_steps > 0:
                out["align_losses"] = align(model, views, sel, align_steps)
                with torch.no_grad():
                    img = model.encode_image(views)
                    img = img / img.norm(dim=-1, keepdim=True)
                txt = text_features(model, build_prompts(base, ctx, pos), tt)
                txt = txt / txt.norm(dim=-1, keepdim=True)
                logits = scale * img @ txt.t()
        loss = avg_entropy(logits[sel])
        opt.zero_grad()
        loss.backward()
        out["losses"].append(loss.item())
        if step == 0:
            out["ctx_grad"] = ctx.grad.numpy().tolist()
        opt.step()
    with torch.no_grad():
        txt = text_features(model, build_prompts(base, ctx, pos), tt)
        txt = txt / txt.norm(dim=-1, keepdim=True)
        out["logits_view0_after"] = (scale * img[0:1] @ txt.t())[0].tolist()
    out["ctx_before"] = ctx0.numpy().tolist()
    out["ctx_after"] = ctx.detach().numpy().tolist()
    return out


def main():
    clipdir, outdir = sys.argv[1], sys.argv[2]
    sys.modules["ftfy"] = types.SimpleNamespace(fix_text=lambda s: s)
    m = load(clipdir + "/model.py", "clip_model")
    st = load(clipdir + "/simple_tokenizer.py", "clip_tok")
    tok = st.SimpleTokenizer(clipdir + "/bpe_simple_vocab_16e6.txt.gz")
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(20261127)
    cases = {"rn": [("a photo of a", 0.5, 1), ("a photo of a [CLS] in the wild", 0.25, 1), ("a photo of a", 0.5, 3)],
             "vit": [("a photo of a", 0.5, 1)]}
    for kind in ["rn", "vit"]:
        model, meta, res = build_model(m, kind)
        model.eval()
        perturb(model, gen)
        for p in model.parameters():
            p.requires_grad_(False)
        sd = {k: v.float().numpy() for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}
        if kind == "rn":
            write_safetensors(f"{outdir}/../../clip/testdata/tiny_rn.safetensors", sd, meta)
        else:
            write_safetensors(f"{outdir}/tiny_{kind}.safetensors", sd, meta)
        views = torch.randn((8, 3, res, res), generator=gen)
        np.save(f"{outdir}/{kind}_views_nchw.npy", views.numpy())
        results = [tpt(model, tok, views, p, rho, steps) for p, rho, steps in cases[kind]]
        with open(f"{outdir}/{kind}_golden.json", "w") as f:
            json.dump(results, f)
        # TPT + alignment (the seed project): 2 alignment steps then 1 TPT step.
        aligned = [tpt(model, tok, views, "a photo of a", 0.5, 1, align_steps=2)]
        aligned[0]["align_steps"] = 2
        with open(f"{outdir}/{kind}_align_golden.json", "w") as f:
            json.dump(aligned, f)


if __name__ == "__main__":
    main()
