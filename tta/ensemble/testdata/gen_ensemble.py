#!/usr/bin/python3
"""Reference outputs for tta/ensemble's golden tests, from an independent PyTorch implementation.

Run from this directory with Debian's Python (torch 1.13, torchvision 0.14):

    /usr/bin/python3 gen_ensemble.py

combine_reference.json (float64): the multi-model combination of three members' selected-view logits (k = 3, 1, 4
views, 7 classes, temperatures 1, 1.55, 0.7), written from the seed project's description (seed-project.md 4.2, 4.3)
and, for the clean version, with per-view log-softmax before the view average and a renormalised combination:
for "clean" and "seed": m (the combined log-distribution), loss (its entropy), weights, and the gradient of the loss
with respect to each member's view logits (weights held constant).

joint_golden.safetensors (F32): one joint entropy-minimisation step of two members, the tiny torchvision ResNets of
../../resnet/testdata (tiny_basic and tiny_resnext, plain batch norm), each on its own 6 views [6,32,32,3] ("views_a",
"views_b"), rho 0.5 (3 views each), temperatures 1.55 and 0.7, each member stepping its own torch.optim.SGD(lr 5e-3,
weight decay 1e-4) on the joint loss. For V in (clean, seed): V/loss [1], V/sel_a, V/sel_b [3], V/view0_a, V/view0_b
[1,10] (each member's view-0 logits after the step), V/m [10] (the combination of the view-0 logits after the step:
the ensemble's prediction), V/simple [10] (the simple ensemble: the combination of the selected views at the initial
weights).
"""
import json
import sys

import numpy as np
import torch

sys.path.insert(0, "../../memo/testdata")
from gen_memo import load_tiny, nchw, save_safetensors, select, views  # noqa: E402


def combine(zs, temps, seed):
    """Members' selected-view logits zs[i] [k_i, C] -> (m [C], weights [M])."""
    logps = []
    for z, t in zip(zs, temps):
        if seed:  # log-mean-exp of the raw logits over the views
            a = torch.logsumexp(z, dim=0) - np.log(z.shape[0])
        else:  # log of the mean softmax over the views
            a = torch.logsumexp(torch.log_softmax(z, dim=-1), dim=0) - np.log(z.shape[0])
        a = torch.clamp(a, min=torch.finfo(a.dtype).min) / t
        logps.append(torch.log_softmax(a, dim=-1))
    with torch.no_grad():
        h = torch.stack([-(lp.exp() * lp).sum() for lp in logps])
        s = h.sum() / h
        w = s / s.sum()
    m = sum(w[i] * logps[i] for i in range(len(zs)))
    if not seed:
        m = m - torch.logsumexp(m, dim=-1)
    return m, w


def entropy(m):
    m = torch.clamp(m, min=torch.finfo(m.dtype).min)
    return -(m.exp() * m).sum()


def combine_reference():
    gen = torch.Generator().manual_seed(11)
    ks, c, temps = [3, 1, 4], 7, [1.0, 1.55, 0.7]
    zs = [(3.0 * torch.randn((k, c), generator=gen, dtype=torch.float64)) for k in ks]
    out = {"logits": [z.tolist() for z in zs], "temperatures": temps}
    for name, seed in (("clean", False), ("seed", True)):
        leaves = [z.clone().requires_grad_(True) for z in zs]
        m, w = combine(leaves, temps, seed)
        loss = entropy(m)
        grads = torch.autograd.grad(loss, leaves)
        out[name] = {"m": m.tolist(), "loss": loss.item(), "weights": w.tolist(),
                     "grads": [g.tolist() for g in grads]}
    with open("combine_reference.json", "w") as f:
        json.dump(out, f, indent=1)


def joint_golden():
    gen = torch.Generator().manual_seed(12)
    xa, xb = views(gen, 6, 32), views(gen, 6, 32)
    out = {"views_a": xa, "views_b": xb}
    temps, rho = [1.55, 0.7], 0.5
    for name, seed in (("clean", False), ("seed", True)):
        ma, mb = load_tiny("tiny_basic"), load_tiny("tiny_resnext")  # plain batch norm (prior 1)
        with torch.no_grad():  # the simple ensemble, at the initial weights
            za, zb = ma(nchw(xa)), mb(nchw(xb))
            simple, _ = combine([za[select(za, rho)], zb[select(zb, rho)]], temps, seed)
        opts = [torch.optim.SGD(m.parameters(), lr=5e-3, weight_decay=1e-4) for m in (ma, mb)]
        za, zb = ma(nchw(xa)), mb(nchw(xb))
        sa, sb = select(za.detach(), rho), select(zb.detach(), rho)
        m, _ = combine([za[sa], zb[sb]], temps, seed)
        loss = entropy(m)
        for o in opts:
            o.zero_grad()
        loss.backward()
        for o in opts:
            o.step()
        with torch.no_grad():
            va, vb = ma(nchw(xa[:1])), mb(nchw(xb[:1]))
            final, _ = combine([va, vb], temps, seed)
        out.update({f"{name}/loss": loss.detach().reshape(1), f"{name}/sel_a": sa.float(), f"{name}/sel_b": sb.float(),
                    f"{name}/view0_a": va, f"{name}/view0_b": vb, f"{name}/m": final, f"{name}/simple": simple})
        print(name, "loss", loss.item(), "sel", sa.tolist(), sb.tolist(), "pred", final.argmax().item(),
              "simple", simple.argmax().item())
    save_safetensors("joint_golden.safetensors", out)


if __name__ == "__main__":
    combine_reference()
    joint_golden()
