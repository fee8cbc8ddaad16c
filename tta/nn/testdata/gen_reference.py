#!/usr/bin/python3
"""Writes torch_reference.json: PyTorch reference values and gradients for the tests of package tta/nn.

Run with Debian's python3 (torch from apt):  /usr/bin/python3 gen_reference.py
Every case stores its inputs in GoTTA's layouts (images NHWC, kernels [kh, kw, in/groups, out]), the forward
output (NHWC) and the gradients of loss = sum(output * weights) for fixed random weights (stored too).
Inputs are float32 values; PyTorch computes in float64 on those values, so the reference is exact to ~1e-15.
"""
import json

import torch
import torch.nn.functional as F

torch.manual_seed(20221127)
DT = torch.float64


def rnd(*shape):
    # float32-representable values, kept in float64
    return (torch.rand(*shape) * 2 - 1).to(torch.float32).to(DT)


def nhwc(t):  # NCHW -> NHWC
    return t.permute(0, 2, 3, 1).contiguous()


def nchw(t):  # NHWC -> NCHW
    return t.permute(0, 3, 1, 2).contiguous()


def enc(t):
    t = t.detach().contiguous()
    return {"shape": list(t.shape), "data": [float(v) for v in t.reshape(-1).tolist()]}


cases = []


def add(name, op, params, inputs, fn, grad_names):
    """inputs: dict name -> tensor in GoTTA layout (leaf, requires grad if in grad_names)."""
    leaves = {k: v.clone().requires_grad_(k in grad_names) for k, v in inputs.items()}
    out = fn(**leaves)
    w = rnd(*out.shape)
    loss = (out * w).sum()
    grads = torch.autograd.grad(loss, [leaves[k] for k in grad_names]) if grad_names else []
    cases.append({
        "name": name, "op": op, "params": params,
        "inputs": {k: enc(v) for k, v in inputs.items()},
        "output": enc(out), "loss_weights": enc(w),
        "grads": {k: enc(g) for k, g in zip(grad_names, grads)},
    })


def conv_case(name, n, h, w, cin, cout, kh, kw, stride=1, pad=(0, 0, 0, 0), dil=1, groups=1):
    """pad: (top, bottom, left, right)."""
    x = rnd(n, h, w, cin)
    k = rnd(kh, kw, cin // groups, cout)

    def fn(x, kernel):
        k = kernel
        xt = F.pad(nchw(x), (pad[2], pad[3], pad[0], pad[1]))
        wt = k.permute(3, 2, 0, 1)  # [out, in/groups, kh, kw]
        return nhwc(F.conv2d(xt, wt, stride=stride, dilation=dil, groups=groups))

    add(name, "conv2d", {"stride": stride, "pad": list(pad), "dilation": dil, "groups": groups},
        {"x": x, "kernel": k}, fn, ["x", "kernel"])


conv_case("conv3x3_pad1", 2, 7, 6, 5, 4, 3, 3, pad=(1, 1, 1, 1))
conv_case("conv7x7_s2_pad3_stem", 2, 12, 11, 3, 6, 7, 7, stride=2, pad=(3, 3, 3, 3))
conv_case("conv3x3_s2_groups4_resnext", 2, 8, 8, 8, 8, 3, 3, stride=2, pad=(1, 1, 1, 1), groups=4)
conv_case("conv3x3_depthwise_mult2", 2, 6, 7, 6, 12, 3, 3, pad=(1, 1, 1, 1), groups=6)
conv_case("conv3x3_dil2_pad2", 1, 9, 8, 4, 3, 3, 3, pad=(2, 2, 2, 2), dil=2)
conv_case("conv3x3_s2_dil2_asympad", 2, 9, 10, 4, 5, 3, 3, stride=2, pad=(1, 2, 0, 3), dil=2)
conv_case("conv1x1_s2_downsample", 2, 7, 8, 6, 10, 1, 1, stride=2)
conv_case("conv1x1", 2, 5, 4, 6, 7, 1, 1)
conv_case("conv4x4_s4_patch", 2, 8, 12, 3, 5, 4, 4, stride=4)
conv_case("conv3x3_s3_patch_crop", 1, 10, 9, 2, 4, 3, 3, stride=3)
conv_case("conv2x3_s3_groups2", 2, 10, 11, 4, 6, 2, 3, stride=3, pad=(1, 1, 1, 1), groups=2)


def pool_case(name, op, n, h, w, c, window, stride, pad, ties=False):
    x = rnd(n, h, w, c)
    if ties:  # ReLU-like input with many exact ties (zeros and repeated values)
        x = torch.clamp(torch.round(x * 2) / 2, min=0)

    def fn(x):
        if op == "maxpool2d":
            return nhwc(F.max_pool2d(nchw(x), window, stride, pad))
        return nhwc(F.avg_pool2d(nchw(x), window, stride, pad, ceil_mode=False, count_include_pad=True))

    add(name, op, {"window": window, "stride": stride, "padding": pad}, {"x": x}, fn, ["x"])


pool_case("maxpool3_s2_p1", "maxpool2d", 2, 9, 9, 4, 3, 2, 1)
pool_case("maxpool2_s2", "maxpool2d", 2, 8, 7, 3, 2, 2, 0)
pool_case("maxpool3_s1_p1", "maxpool2d", 1, 6, 5, 3, 3, 1, 1)
pool_case("maxpool3_s2_p1_ties", "maxpool2d", 2, 9, 9, 4, 3, 2, 1, ties=True)
pool_case("avgpool3_s2_p1", "avgpool2d", 2, 9, 9, 4, 3, 2, 1)
pool_case("avgpool2_s2_clip", "avgpool2d", 2, 8, 8, 3, 2, 2, 0)
pool_case("avgpool2_s2_odd", "avgpool2d", 2, 9, 7, 3, 2, 2, 0)
pool_case("avgpool3_s3", "avgpool2d", 1, 9, 10, 2, 3, 3, 0)

x = rnd(2, 5, 4, 6)
add("global_avg_pool", "global_avg_pool", {}, {"x": x}, lambda x: x.mean(dim=(1, 2)), ["x"])


def bn_case(name, n, h, w, c, eps=1e-5):
    x = rnd(n, h, w, c) * 2 + 0.5
    scale, offset, mean = rnd(c), rnd(c), rnd(c)
    var = torch.rand(c).to(torch.float32).to(DT) + 0.5

    def fn(x, scale, offset, mean, variance):
        return nhwc(F.batch_norm(nchw(x), mean, variance, scale, offset, training=False, eps=eps))

    inputs = {"x": x, "scale": scale, "offset": offset, "mean": mean, "variance": var}
    add(name, "batch_norm", {"eps": eps}, inputs, fn, ["x", "scale", "offset"])

    # F.batch_norm does not differentiate w.r.t. the statistics: the formula gives those gradients.
    def formula(x, scale, offset, mean, variance):
        return (x - mean) / torch.sqrt(variance + eps) * scale + offset

    add(name + "_stats_grads", "batch_norm", {"eps": eps}, inputs, formula,
        ["x", "scale", "offset", "mean", "variance"])


bn_case("batch_norm", 3, 4, 5, 6)


def bn_prior_case(name, prior, n, h, w, c, eps=1e-5):
    """MEMO's BatchNorm with prior: batch statistics (mean, unbiased var) computed outside autograd."""
    x = rnd(n, h, w, c) * 2 + 0.3
    scale, offset, run_mean = rnd(c), rnd(c), rnd(c)
    run_var = torch.rand(c).to(torch.float32).to(DT) + 0.5

    def fn(x, scale, offset, run_mean, run_var):
        xt = nchw(x)
        with torch.no_grad():  # as MEMO: F.batch_norm(training=True, momentum=1) updating est_mean/est_var
            est_mean = torch.zeros(c, dtype=DT)
            est_var = torch.ones(c, dtype=DT)
            F.batch_norm(xt, est_mean, est_var, None, None, True, 1.0, eps)
        mean = prior * run_mean + (1 - prior) * est_mean
        var = prior * run_var + (1 - prior) * est_var
        return nhwc(F.batch_norm(xt, mean, var, scale, offset, False, 0.0, eps))

    add(name, "batch_norm_prior", {"prior": prior, "eps": eps},
        {"x": x, "scale": scale, "offset": offset, "run_mean": run_mean, "run_var": run_var}, fn,
        ["x", "scale", "offset"])


bn_prior_case("bn_prior_1", 1.0, 4, 3, 3, 5)
bn_prior_case("bn_prior_0.94", 0.94, 4, 3, 3, 5)
bn_prior_case("bn_prior_16of17", 16 / 17, 16, 3, 3, 5)


def slice_case(name, shape, axis, start, end, stride):
    x = rnd(*shape)

    def fn(x):
        idx = [slice(None)] * len(shape)
        idx[axis] = slice(start, end, stride)
        return x[tuple(idx)]

    add(name, "slice_axis", {"axis": axis, "start": start, "end": end, "stride": stride}, {"x": x}, fn, ["x"])


slice_case("slice_w_1_9_3", (2, 4, 10, 3), 2, 1, 9, 3)
slice_case("slice_tokens_0_5", (3, 7, 4), 1, 0, 5, 1)
slice_case("slice_last_axis", (2, 3, 8), 2, 2, 7, 2)
slice_case("slice_first_axis", (5, 3), 0, 1, 4, 1)



def dot_case(name, lshape, lc, lb, rshape, rc, rb):
    """GoMLX DotGeneral semantics: output axes are batch, lhs free (ascending), rhs free (ascending)."""
    letters = iter("abcdefghijklmnop")
    ls = [None] * len(lshape)
    rs = [None] * len(rshape)
    for i, j in zip(lb, rb):
        ls[i] = rs[j] = next(letters)
    for i, j in zip(lc, rc):
        ls[i] = rs[j] = next(letters)
    for i in range(len(ls)):
        if ls[i] is None:
            ls[i] = next(letters)
    for j in range(len(rs)):
        if rs[j] is None:
            rs[j] = next(letters)
    out = [ls[i] for i in lb] + [ls[i] for i in range(len(ls)) if i not in lc and i not in lb] + \
          [rs[j] for j in range(len(rs)) if j not in rc and j not in rb]
    eq = "".join(ls) + "," + "".join(rs) + "->" + "".join(out)
    add(name, "dot_general", {"lc": lc, "lb": lb, "rc": rc, "rb": rb, "einsum": eq},
        {"lhs": rnd(*lshape), "rhs": rnd(*rshape)}, lambda lhs, rhs: torch.einsum(eq, lhs, rhs), ["lhs", "rhs"])


dot_case("matmul", (5, 7), [1], [], (7, 4), [0], [])
dot_case("dense_rank3", (2, 3, 6), [2], [], (6, 5), [0], [])
dot_case("batched_attention_like", (2, 3, 5, 4), [3], [0, 1], (2, 3, 6, 4), [3], [0, 1])
dot_case("mixed_axes", (4, 3, 2, 5), [3, 1], [2], (5, 2, 6, 3), [0, 3], [1])

with open("torch_reference.json", "w") as f:
    json.dump({"generator": "gen_reference.py", "torch": torch.__version__, "cases": cases}, f)
print(len(cases), "cases, torch", torch.__version__)
