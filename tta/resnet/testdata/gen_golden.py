#!/usr/bin/python3
"""Generates the golden files of tta/resnet from torchvision's own ResNet class (the independent reference).

Run from this directory with Debian's Python (torch 1.13, torchvision 0.14):

    /usr/bin/python3 gen_golden.py

Writes, for each tiny model NAME in (tiny_basic, tiny_resnext):
  NAME.safetensors        the state dict in torchvision names (num_batches_tracked included, as torch saves it)
  NAME_golden.safetensors inputs [4,32,32,3] (NHWC, f32), logits [4,classes] in eval mode, logits_prior094 with
                          MEMO's BN prior p=0.94, and for tiny_basic the parameters after one MEMO SGD step
                          (prefix "sgd/") and the loss before the step ("sgd_loss").
No safetensors package is used: the files are written by hand (8-byte little-endian header length, JSON header,
raw little-endian data).
"""
import json
import struct

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torchvision.models.resnet import ResNet, BasicBlock, Bottleneck


def tiny_resnet(block, layers, stem, planes, num_classes, groups=1, width_per_group=64):
    """A torchvision ResNet whose stem and stage widths are smaller than torchvision's fixed 64/128/256/512.

    The network is torchvision's ResNet instance, its stages rebuilt with the class's own _make_layer (so blocks,
    downsample rule, stride placement and forward are torchvision's), only narrower.
    """
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


def perturb(m, gen):
    """Moves every parameter and BN running statistic away from its initial value."""
    with torch.no_grad():
        for name, p in m.named_parameters():
            if name.endswith("weight") and p.dim() == 4:  # conv: keep kaiming scale, add noise
                p.mul_(0.8).add_(0.3 * p.std() * torch.randn(p.shape, generator=gen))
            elif p.dim() == 1 and ("bn" in name or "downsample.1" in name):
                if name.endswith("weight"):
                    p.copy_(1.0 + 0.25 * torch.randn(p.shape, generator=gen))
                else:
                    p.copy_(0.05 * torch.randn(p.shape, generator=gen))
            elif name == "fc.weight":  # large enough that the logits depend on the image, not the bias
                p.copy_(4.0 / p.shape[1] ** 0.5 * torch.randn(p.shape, generator=gen))
            else:  # fc.bias
                p.copy_(0.1 * torch.randn(p.shape, generator=gen))
        for name, b in m.named_buffers():
            if name.endswith("running_mean"):
                b.copy_(0.2 * torch.randn(b.shape, generator=gen))
            elif name.endswith("running_var"):
                b.copy_(0.5 + torch.rand(b.shape, generator=gen))
            elif name.endswith("num_batches_tracked"):
                b.fill_(1234)


def prior_bn_forward(self, input):
    """MEMO's BN with prior (zhangmarvin/memo, seed project memo_modify_bn_pass): batch statistics (mean, unbiased var)
    are filled into buffers by a training-mode batch_norm with momentum 1 (so they carry no gradient), mixed with the
    running statistics with weight `prior`, and used as eval-mode statistics."""
    est_mean = torch.zeros(self.running_mean.shape)
    est_var = torch.ones(self.running_var.shape)
    F.batch_norm(input, est_mean, est_var, None, None, True, 1.0, self.eps)
    running_mean = self.prior * self.running_mean + (1 - self.prior) * est_mean
    running_var = self.prior * self.running_var + (1 - self.prior) * est_var
    return F.batch_norm(input, running_mean, running_var, self.weight, self.bias, False, 0, self.eps)


def with_prior(m, prior):
    for mod in m.modules():
        if isinstance(mod, nn.BatchNorm2d):
            mod.prior = prior
            mod.forward = prior_bn_forward.__get__(mod)


def without_prior(m):
    for mod in m.modules():
        if isinstance(mod, nn.BatchNorm2d) and "forward" in mod.__dict__:
            del mod.forward


def marginal_entropy(logits):
    """MEMO's / TPT's marginal entropy of the views' average distribution."""
    logp = logits - logits.logsumexp(dim=-1, keepdim=True)
    avg = logp.logsumexp(dim=0) - np.log(logp.shape[0])
    avg = torch.clamp(avg, min=torch.finfo(avg.dtype).min)
    return -(avg * torch.exp(avg)).sum(dim=-1)


_DT = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.int64: "I64"}


def save_safetensors(path, tensors, metadata=None):
    header, blobs, off = {}, [], 0
    if metadata:
        header["__metadata__"] = metadata
    for name, t in tensors.items():
        t = t.detach().contiguous().cpu()
        if t.dtype == torch.bfloat16:
            data = t.view(torch.int16).numpy().astype("<i2").tobytes()
        else:
            data = t.numpy().astype(t.numpy().dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": _DT[t.dtype], "shape": list(t.shape), "data_offsets": [off, off + len(data)]}
        blobs.append(data)
        off += len(data)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def build(name, seed, dtype, sgd, **kw):
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    m = tiny_resnet(**kw)
    perturb(m, gen)
    # NHWC inputs: per-image scales and colour offsets, a per-image smooth pattern, and noise.
    offs = torch.randn((4, 1, 1, 3), generator=gen)
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, 32), torch.linspace(-1, 1, 32), indexing="ij")
    freq = 1.0 + 3.0 * torch.rand((4, 1, 1, 1), generator=gen)
    pattern = torch.sin(freq * 3.0 * (yy + xx)[None, :, :, None] + offs)
    scale = torch.tensor([0.3, 1.0, 2.0, 4.0]).reshape(4, 1, 1, 1)
    x = scale * (offs + pattern + 0.5 * torch.randn((4, 32, 32, 3), generator=gen))
    xt = x.permute(0, 3, 1, 2).contiguous()  # NCHW for torch
    # Choose fc so that the logits depend on the image rather than on the pooled features' common part: weights
    # scaled by the features' spread over the 4 inputs, bias cancelling their mean (plus noise).
    m.eval()
    with torch.no_grad():
        feats = torch.flatten(m.avgpool(m.layer4(m.layer3(m.layer2(m.layer1(
            m.maxpool(m.relu(m.bn1(m.conv1(xt))))))))), 1)  # [4, C]
        mu, sd = feats.mean(0), feats.std(0) + 1e-2
        w = torch.randn(m.fc.weight.shape, generator=gen) / (sd * feats.shape[1] ** 0.5)
        m.fc.weight.copy_(w)
        m.fc.bias.copy_(-(w @ mu) + 0.1 * torch.randn(m.fc.bias.shape, generator=gen))
    sd = m.state_dict()
    # Store in `dtype`, then run the reference on exactly the stored (rounded) values, in f32.
    stored = {k: (v.to(dtype) if v.is_floating_point() else v) for k, v in sd.items()}
    m.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in stored.items()})
    m.eval()
    save_safetensors(f"{name}.safetensors", stored, {"generator": "gen_golden.py", "model": name})

    out = {"inputs": x}
    with torch.no_grad():
        out["logits"] = m(xt)
        with_prior(m, 0.94)
        out["logits_prior094"] = m(xt)
        without_prior(m)
    if sgd:
        # One MEMO step: the 4 inputs are the views; loss = marginal entropy, BN prior 0.94, SGD lr 0.005 wd 1e-4.
        with_prior(m, 0.94)
        opt = torch.optim.SGD(m.parameters(), lr=0.005, weight_decay=1e-4)
        opt.zero_grad()
        loss = marginal_entropy(m(xt))
        loss.backward()
        opt.step()
        without_prior(m)
        out["sgd_loss"] = loss.detach().reshape(1)
        for k, p in m.named_parameters():
            out["sgd/" + k] = p.detach().clone()
    save_safetensors(f"{name}_golden.safetensors", out, {"generator": "gen_golden.py", "model": name})
    print(name, "params", sum(p.numel() for p in m.parameters()), "argmax", out["logits"].argmax(1).tolist(),
          "prior argmax", out["logits_prior094"].argmax(1).tolist())


if __name__ == "__main__":
    build("tiny_basic", seed=1, dtype=torch.float32, sgd=True,
          block=BasicBlock, layers=[1, 1, 1, 1], stem=8, planes=[8, 16, 32, 64], num_classes=10)
    build("tiny_resnext", seed=2, dtype=torch.float16, sgd=False,
          block=Bottleneck, layers=[2, 1, 1, 1], stem=16, planes=[16, 32, 64, 128], num_classes=10,
          groups=2, width_per_group=4)
