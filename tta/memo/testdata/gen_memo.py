#!/usr/bin/python3
"""Reference outputs for tta/memo's golden tests, from an independent PyTorch implementation.

Run from this directory with Debian's Python (torch 1.13, torchvision 0.14):

    /usr/bin/python3 gen_memo.py

The model is torchvision's own ResNet class (BasicBlock stages rebuilt narrower with the instance's _make_layer), with
the weights of ../../resnet/testdata/tiny_basic.safetensors (BN statistics and affine parameters perturbed away from
their initialisation), read by hand. Every BatchNorm2d is replaced by PriorBN below, written from MEMO's formula
(not from MEMO's code): mean = p running_mean + (1-p) batch_mean, var = p running_var + (1-p) unbiased batch_var,
the batch statistics over (N, H, W) detached. The optimizers are torch.optim.SGD / AdamW.

Writes memo_golden.safetensors (F32, hand-written): "views" [8,48,48,3] NHWC and, for each case C (see CASES),
  C/logits_before [8,10]      all views, with the case's prior, before adaptation
  C/view0_before [1,10]       view 0 alone (batch 1) with the prior, before adaptation
  C/loss [steps]              the marginal entropy of the selected views at each step (before its update)
  C/selected [steps, k]       the selected views of each step, ascending entropy
  C/view0_after [1,10]        view 0 alone with the prior, after adaptation
  C/view0_after_plain [1,10]  view 0 alone with p = 1, after adaptation
  C/logits_after [8,10]       all views with the prior, after adaptation
"""
import json
import struct

import numpy as np
import torch
import torch.nn as nn
from torchvision.models.resnet import ResNet, BasicBlock, Bottleneck


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    dt = {"F32": np.float32, "F16": np.float16, "I64": np.int64}
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        b, e = info["data_offsets"]
        a = np.frombuffer(data[b:e], dtype=np.dtype(dt[info["dtype"]]).newbyteorder("<")).reshape(info["shape"])
        out[name] = torch.from_numpy(a.astype(np.float32) if a.dtype != np.int64 else a.copy())
    return out


def save_safetensors(path, tensors):
    header, blobs, off = {}, [], 0
    for name, t in tensors.items():
        data = np.ascontiguousarray(t.detach().cpu().numpy().astype("<f4")).tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [off, off + len(data)]}
        blobs.append(data)
        off += len(data)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


class PriorBN(nn.Module):
    """Batch norm with MEMO's prior, from the formula; prior 1 is eval-mode batch norm."""

    def __init__(self, bn):
        super().__init__()
        self.weight, self.bias = bn.weight, bn.bias
        self.register_buffer("running_mean", bn.running_mean.clone())
        self.register_buffer("running_var", bn.running_var.clone())
        self.eps = bn.eps
        self.prior = 1.0

    def forward(self, x):  # x [N, C, H, W]
        mean, var = self.running_mean, self.running_var
        if self.prior < 1:
            xd = x.detach()
            bm = xd.mean(dim=(0, 2, 3))
            bv = xd.var(dim=(0, 2, 3), unbiased=True)
            mean = self.prior * mean + (1 - self.prior) * bm
            var = self.prior * var + (1 - self.prior) * bv
        y = (x - mean[None, :, None, None]) / torch.sqrt(var[None, :, None, None] + self.eps)
        return y * self.weight[None, :, None, None] + self.bias[None, :, None, None]


def swap_bn(mod):
    for name, child in mod.named_children():
        if isinstance(child, nn.BatchNorm2d):
            setattr(mod, name, PriorBN(child))
        else:
            swap_bn(child)


def set_prior(m, p):
    for mod in m.modules():
        if isinstance(mod, PriorBN):
            mod.prior = p


def tiny_resnet(block, layers, stem, planes, num_classes, groups=1, width_per_group=64):
    m = ResNet(block, layers, num_classes=num_classes, groups=groups, width_per_group=width_per_group)
    m.inplanes = stem
    m.dilation = 1
    m.conv1 = nn.Conv2d(3, stem, kernel_size=7, stride=2, padding=3, bias=False)
    m.bn1 = nn.BatchNorm2d(stem)
    m.layer1 = m._make_layer(block, planes[0], layers[0])
    m.layer2 = m._make_layer(block, planes[1], layers[1], stride=2)
    m.layer3 = m._make_layer(block, planes[2], layers[2], stride=2)
    m.layer4 = m._make_layer(block, planes[3], layers[3], stride=2)
    m.fc = nn.Linear(planes[3] * block.expansion, num_classes)
    return m


def load_tiny(name):
    sd = read_safetensors(f"../../resnet/testdata/{name}.safetensors")
    if name == "tiny_basic":
        m = tiny_resnet(BasicBlock, [1, 1, 1, 1], 8, [8, 16, 32, 64], 10)
    else:
        m = tiny_resnet(Bottleneck, [2, 1, 1, 1], 16, [16, 32, 64, 128], 10, groups=2, width_per_group=4)
    m.load_state_dict(sd)
    swap_bn(m)
    m.eval()
    return m


def marginal_entropy(z):  # [k, C] -> scalar
    logp = torch.log_softmax(z, dim=-1)
    a = torch.logsumexp(logp, dim=0) - np.log(z.shape[0])
    a = torch.clamp(a, min=torch.finfo(a.dtype).min)
    return -(a * torch.exp(a)).sum()


def select(z, rho):  # ascending-entropy indices of the floor(N rho) most confident views
    logp = torch.log_softmax(z, dim=-1)
    h = -(logp.exp() * logp).sum(-1)
    k = max(1, int(z.shape[0] * rho + 1e-9))
    return torch.sort(h, stable=True).indices[:k]


def nchw(x):
    return x.permute(0, 3, 1, 2).contiguous()


def views(gen, n, size):
    """n views of one synthetic image: a smooth colour pattern, each view rescaled, shifted, flipped, noised."""
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, size), torch.linspace(-1, 1, size), indexing="ij")
    off = torch.randn((1, 1, 3), generator=gen)
    base = torch.sin(4.0 * yy[:, :, None] + 2.0 * xx[:, :, None] * off + off) + off
    out = []
    for v in range(n):
        s = 0.5 + 1.5 * torch.rand((), generator=gen)
        shift = 0.5 * torch.randn((1, 1, 3), generator=gen)
        img = base.flip(1) if v % 2 else base
        out.append(s * img + shift + 0.3 * torch.randn((size, size, 3), generator=gen))
    return torch.stack(out)  # [n, size, size, 3]


CASES = [
    # name, prior, rho, optimizer, lr, weight decay, params, steps
    ("prior_all", 0.94, 1.0, "sgd", 0.005, 1e-4, "all", 1),
    ("plain_all", 1.0, 1.0, "sgd", 0.005, 1e-4, "all", 1),
    ("prior_top025", 0.94, 0.25, "sgd", 0.005, 1e-4, "all", 1),
    ("plain_top025", 1.0, 0.25, "sgd", 0.005, 1e-4, "all", 1),
    ("adamw_bn_top05_2steps", 16 / 17, 0.5, "adamw", 1e-3, 0.01, "bn", 2),
]


def run_case(x, name, prior, rho, opt_name, lr, wd, params, steps, out):
    m = load_tiny("tiny_basic")
    xt = nchw(x)
    if params == "all":
        ps = list(m.parameters())
    else:
        ps = [p for mod in m.modules() if isinstance(mod, PriorBN) for p in (mod.weight, mod.bias)]
    opt = torch.optim.SGD(ps, lr=lr, weight_decay=wd) if opt_name == "sgd" else \
        torch.optim.AdamW(ps, lr=lr, weight_decay=wd)
    set_prior(m, prior)
    with torch.no_grad():
        out[f"{name}/logits_before"] = m(xt)
        out[f"{name}/view0_before"] = m(xt[:1])
    losses, sels = [], []
    for _ in range(steps):
        z = m(xt)
        sel = select(z.detach(), rho)
        loss = marginal_entropy(z[sel])
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.detach())
        sels.append(sel.float())
    out[f"{name}/loss"] = torch.stack(losses)
    out[f"{name}/selected"] = torch.stack(sels)
    with torch.no_grad():
        out[f"{name}/view0_after"] = m(xt[:1])
        out[f"{name}/logits_after"] = m(xt)
        set_prior(m, 1.0)
        out[f"{name}/view0_after_plain"] = m(xt[:1])
    b, a = out[f"{name}/view0_before"], out[f"{name}/view0_after"]
    print(name, "loss", [round(v.item(), 6) for v in losses], "selected", [s.long().tolist() for s in sels],
          "max |view0 after - before| / max|before|", ((a - b).abs().max() / b.abs().max()).item(),
          "argmax", b.argmax().item(), a.argmax().item())


def main():
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(6)
    x = views(gen, 8, 48)
    out = {"views": x}
    for c in CASES:
        run_case(x, *c, out)
    save_safetensors("memo_golden.safetensors", out)


if __name__ == "__main__":
    main()
