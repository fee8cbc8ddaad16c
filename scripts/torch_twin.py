#!/usr/bin/env python3
"""PyTorch twin of `gotta bench tpt` and `gotta bench memo`: the official algorithms, timed on the same shapes and the
same device, so that scripts/gpu_check.sh prints GoTTA's time per example beside PyTorch's.

  python3 scripts/torch_twin.py tpt --arch RN50 [--classes 200] [--views 64] [--iters 20]
  python3 scripts/torch_twin.py memo --arch resnet50 [--views 64] [--iters 20]
  python3 scripts/torch_twin.py ... --tiny --device cpu     # a tiny model, to try the script without a GPU

TPT is azshue/TPT's per-example loop (test_time_tuning + the final inference) on a CLIP with random weights: fp32
weights, fp16 autocast, GradScaler(init_scale=1000), AdamW(lr 5e-3) on a class-shared 4-token context ("a photo of
a"), prompts padded to 77 tokens as the official PromptLearner does, image features without gradient, confidence
selection of the int(N * 0.1) lowest-entropy views, avg_entropy, one step, then the logits of view 0 with the tuned
prompt; the reset (context and optimizer state) before each example. Views are made on the device beforehand (compute
only, as the anchors in the project's perf notes).

MEMO is zhangmarvin/memo's step on a torchvision ResNet in fp32: the 64 augmented views through the network with the
batch-norm prior 16/17 (running statistics mixed with the batch's), marginal entropy, SGD(lr 2.5e-4), then the
prediction on the clean view with the prior, then the episodic reset (load_state_dict of the initial weights).

The CLIP here is written from OpenAI's architecture (ModifiedResNet with anti-aliased strides and attention pooling,
ViT, the causal text transformer); weights are random, which does not change the time.
"""
import argparse
import contextlib
import math
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

ARCHS = {  # OpenAI's configurations (embed, image resolution, vision layers, vision width, patch, text width/heads/layers)
    "RN50": dict(embed=1024, res=224, layers=(3, 4, 6, 3), width=64, patch=None),
    "ViT-B/16": dict(embed=512, res=224, layers=12, width=768, patch=16),
    "ViT-B/32": dict(embed=512, res=224, layers=12, width=768, patch=32),
}
TEXT = dict(ctx=77, vocab=49408, width=512, heads=8, layers=12)


class QuickGELU(nn.Module):
    def forward(self, x):
        return x * torch.sigmoid(1.702 * x)


class Block(nn.Module):
    def __init__(self, width, heads, mask=None):
        super().__init__()
        self.attn = nn.MultiheadAttention(width, heads)
        self.ln_1, self.ln_2 = nn.LayerNorm(width), nn.LayerNorm(width)
        self.mlp = nn.Sequential(nn.Linear(width, width * 4), QuickGELU(), nn.Linear(width * 4, width))
        self.mask = mask

    def forward(self, x):  # [L, N, width]
        m = self.mask.to(dtype=x.dtype, device=x.device) if self.mask is not None else None
        h = self.ln_1(x)
        x = x + self.attn(h, h, h, need_weights=False, attn_mask=m)[0]
        return x + self.mlp(self.ln_2(x))


class Bottleneck(nn.Module):
    def __init__(self, inplanes, planes, stride):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(inplanes, planes, 1, bias=False), nn.BatchNorm2d(planes)
        self.conv2, self.bn2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False), nn.BatchNorm2d(planes)
        self.avgpool = nn.AvgPool2d(stride) if stride > 1 else nn.Identity()
        self.conv3, self.bn3 = nn.Conv2d(planes, planes * 4, 1, bias=False), nn.BatchNorm2d(planes * 4)
        self.down = None
        if stride > 1 or inplanes != planes * 4:
            self.down = nn.Sequential(nn.AvgPool2d(stride), nn.Conv2d(inplanes, planes * 4, 1, bias=False),
                                      nn.BatchNorm2d(planes * 4))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = F.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(self.avgpool(out)))
        return F.relu(out + (self.down(x) if self.down is not None else x))


class ModifiedResNet(nn.Module):
    def __init__(self, layers, width, embed, res, heads):
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(3, width // 2, 3, 2, 1, bias=False), nn.BatchNorm2d(width // 2), nn.ReLU(),
            nn.Conv2d(width // 2, width // 2, 3, 1, 1, bias=False), nn.BatchNorm2d(width // 2), nn.ReLU(),
            nn.Conv2d(width // 2, width, 3, 1, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(), nn.AvgPool2d(2))
        blocks, inplanes = [], width
        for i, n in enumerate(layers):
            planes = width * 2 ** i
            for j in range(n):
                blocks.append(Bottleneck(inplanes, planes, 2 if (j == 0 and i > 0) else 1))
                inplanes = planes * 4
        self.layers = nn.Sequential(*blocks)
        grid, dim = res // 32, width * 32
        self.pos = nn.Parameter(torch.randn(grid * grid + 1, dim) / dim ** 0.5)
        self.attn = nn.MultiheadAttention(dim, heads)
        self.proj = nn.Linear(dim, embed)

    def forward(self, x):
        x = self.layers(self.stem(x))
        x = x.flatten(2).permute(2, 0, 1)  # [HW, N, C]
        x = torch.cat([x.mean(0, keepdim=True), x]) + self.pos[:, None].to(x.dtype)
        x = self.attn(x[:1], x, x, need_weights=False)[0]
        return self.proj(x[0])


class ViT(nn.Module):
    def __init__(self, layers, width, embed, res, patch):
        super().__init__()
        self.conv = nn.Conv2d(3, width, patch, patch, bias=False)
        self.cls = nn.Parameter(torch.randn(width) * width ** -0.5)
        self.pos = nn.Parameter(torch.randn((res // patch) ** 2 + 1, width) * width ** -0.5)
        self.ln_pre, self.ln_post = nn.LayerNorm(width), nn.LayerNorm(width)
        self.blocks = nn.Sequential(*[Block(width, max(width // 64, 2)) for _ in range(layers)])
        self.proj = nn.Linear(width, embed, bias=False)

    def forward(self, x):
        x = self.conv(x).flatten(2).transpose(1, 2)  # [N, grid^2, width]
        x = torch.cat([self.cls.to(x.dtype).expand(x.shape[0], 1, -1), x], 1) + self.pos.to(x.dtype)
        x = self.blocks(self.ln_pre(x).permute(1, 0, 2)).permute(1, 0, 2)
        return self.proj(self.ln_post(x[:, 0]))


class CLIP(nn.Module):
    def __init__(self, arch, tiny=False):
        super().__init__()
        a, t = dict(ARCHS[arch]), dict(TEXT)
        if tiny:
            a.update(embed=32, res=64 if a["patch"] is None else 32, width=8 if a["patch"] is None else 32)
            a["layers"] = (1, 1, 1, 1) if a["patch"] is None else 2
            a["patch"] = a["patch"] and 8
            t.update(width=32, heads=2, layers=2)
        self.res = a["res"]
        if a["patch"] is None:
            self.visual = ModifiedResNet(a["layers"], a["width"], a["embed"], a["res"], max(a["width"] * 32 // 64, 1))
        else:
            self.visual = ViT(a["layers"], a["width"], a["embed"], a["res"], a["patch"])
        self.token_embedding = nn.Embedding(t["vocab"], t["width"])
        self.positional_embedding = nn.Parameter(torch.randn(t["ctx"], t["width"]) * 0.01)
        mask = torch.full((t["ctx"], t["ctx"]), float("-inf")).triu_(1)
        self.blocks = nn.Sequential(*[Block(t["width"], t["heads"], mask) for _ in range(t["layers"])])
        self.ln_final = nn.LayerNorm(t["width"])
        self.text_projection = nn.Linear(t["width"], a["embed"], bias=False)
        self.logit_scale = nn.Parameter(torch.tensor(math.log(100.0)))

    def encode_text_embeddings(self, x, eot):  # x [C, 77, width], eot [C]
        x = x + self.positional_embedding.to(x.dtype)
        x = self.blocks(x.permute(1, 0, 2)).permute(1, 0, 2)
        x = self.ln_final(x)
        return self.text_projection(x[torch.arange(x.shape[0]), eot])


def sync(dev):
    if dev.type == "cuda":
        torch.cuda.synchronize()


def timed(fn, dev, iters):
    times, first = [], None
    for i in range(iters + 1):
        sync(dev)
        t0 = time.perf_counter()
        fn(i)
        sync(dev)
        dt = (time.perf_counter() - t0) * 1e3
        if i == 0:
            first = dt
        else:
            times.append(dt)
    return first, statistics.median(times), min(times)


def avg_entropy(logits):  # TPT's avg_entropy = MEMO's marginal_entropy
    logits = logits - logits.logsumexp(dim=-1, keepdim=True)
    avg = logits.logsumexp(dim=0) - math.log(logits.shape[0])
    avg = torch.clamp(avg, min=torch.finfo(avg.dtype).min)
    return -(avg * torch.exp(avg)).sum(dim=-1)


def bench_tpt(args, dev):
    torch.manual_seed(0)
    model = CLIP(args.arch, args.tiny).to(dev).eval()
    for p in model.parameters():
        p.requires_grad_(False)
    c, w, n_ctx = args.classes, model.token_embedding.embedding_dim, 4
    # Prompts: SOT, 4 context tokens, the class words (1-3 tokens), ".", EOT, zero padding to 77 (the official layout).
    g = torch.Generator().manual_seed(1)
    ids = torch.zeros(c, 77, dtype=torch.long)
    eot = torch.zeros(c, dtype=torch.long)
    for i in range(c):
        k = 1 + int(torch.randint(0, 3, (1,), generator=g))
        row = [49406] + [320, 1125, 539, 320] + torch.randint(1000, 40000, (k,), generator=g).tolist() + [269, 49407]
        ids[i, :len(row)] = torch.tensor(row)
        eot[i] = len(row) - 1
    ids, eot = ids.to(dev), eot.to(dev)
    with torch.no_grad():
        embedding = model.token_embedding(ids)  # [C, 77, width]
    prefix, suffix = embedding[:, :1], embedding[:, 1 + n_ctx:]
    ctx_init = embedding[0, 1:1 + n_ctx].clone()
    ctx = nn.Parameter(ctx_init.clone())
    opt = torch.optim.AdamW([ctx], lr=5e-3)
    opt_state = {k: v for k, v in opt.state_dict().items()}
    amp = dev.type == "cuda"
    scaler = torch.cuda.amp.GradScaler(init_scale=1000) if amp else None
    views = torch.randn(args.views, 3, model.res, model.res, device=dev)
    k = max(1, int(args.views * args.select))  # the official int(N * p); at least 1 as gotta bench

    def text_features():
        prompts = torch.cat([prefix, ctx.unsqueeze(0).expand(c, -1, -1), suffix], dim=1)
        f = model.encode_text_embeddings(prompts, eot)
        return f / f.norm(dim=-1, keepdim=True)

    def logits_of(images):
        with torch.no_grad():
            img = model.visual(images)
            img = img / img.norm(dim=-1, keepdim=True)
        return model.logit_scale.exp() * img @ text_features().t()

    def autocast():
        return torch.autocast("cuda", dtype=torch.float16) if amp else contextlib.nullcontext()

    def example(_):
        with torch.no_grad():
            ctx.copy_(ctx_init)
        opt.load_state_dict(opt_state)
        with autocast():
            out = logits_of(views)
            ent = -(out.softmax(1) * out.log_softmax(1)).sum(1)
            sel = torch.argsort(ent, descending=False)[:k]
            loss = avg_entropy(out[sel].float())
        opt.zero_grad()
        if scaler:
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
        else:
            loss.backward()
            opt.step()
        with torch.no_grad(), autocast():
            return logits_of(views[:1]).argmax(1).item()

    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    first, med, mn = timed(example, dev, args.iters)
    peak = torch.cuda.max_memory_allocated() / 2 ** 30 if dev.type == "cuda" else float("nan")
    mode = "fp16 autocast" if amp else "f32 (cpu)"
    print(f"| torch twin tpt {args.arch}{' (tiny)' if args.tiny else ''} | {mode} | {c} classes, {args.views} views, "
          f"top {k}, 1 step | {first:.1f} | {med:.1f} | {mn:.1f} | {peak:.2f} |")


def prior_bn(prior):
    """Replaces BatchNorm2d.forward with MEMO's prior: mean/var = prior * running + (1 - prior) * batch."""
    def forward(self, x):
        mean = x.mean((0, 2, 3))
        var = x.var((0, 2, 3), unbiased=False)
        m = prior * self.running_mean + (1 - prior) * mean
        v = prior * self.running_var + (1 - prior) * var
        x = (x - m[None, :, None, None]) / torch.sqrt(v[None, :, None, None] + self.eps)
        return x * self.weight[None, :, None, None] + self.bias[None, :, None, None]
    return forward


def bench_memo(args, dev):
    import torchvision
    torch.manual_seed(0)
    if args.tiny:
        net = torchvision.models.resnet18(num_classes=1000)
        res = 64
    else:
        net = getattr(torchvision.models, args.arch)(num_classes=1000)
        res = 224
    net = net.to(dev).eval()
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.forward = prior_bn(16 / 17).__get__(m)
    init = {k: v.clone() for k, v in net.state_dict().items()}
    opt = torch.optim.SGD(net.parameters(), lr=2.5e-4, momentum=0, weight_decay=0)
    views = torch.randn(args.views, 3, res, res, device=dev)

    def example(_):
        opt.zero_grad()
        loss = avg_entropy(net(views[1:]))
        loss.backward()
        opt.step()
        with torch.no_grad():
            pred = net(views[:1]).argmax(1).item()
        net.load_state_dict(init)
        return pred

    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    first, med, mn = timed(example, dev, args.iters)
    peak = torch.cuda.max_memory_allocated() / 2 ** 30 if dev.type == "cuda" else float("nan")
    print(f"| torch twin memo {args.arch}{' (tiny)' if args.tiny else ''} | f32 | {args.views - 1} views + view 0, "
          f"SGD, prior 16/17, reset | {first:.1f} | {med:.1f} | {mn:.1f} | {peak:.2f} |")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("method", choices=["tpt", "memo"])
    ap.add_argument("--arch", default=None, help="tpt: RN50, ViT-B/16, ViT-B/32; memo: a torchvision ResNet name")
    ap.add_argument("--classes", type=int, default=200)
    ap.add_argument("--views", type=int, default=64)
    ap.add_argument("--select", type=float, default=0.1)
    ap.add_argument("--iters", type=int, default=20)
    ap.add_argument("--tiny", action="store_true")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = ap.parse_args()
    args.arch = args.arch or ("RN50" if args.method == "tpt" else "resnet50")
    dev = torch.device(args.device)
    torch.backends.cudnn.benchmark = True
    print(f"torch {torch.__version__} on {torch.cuda.get_device_name(0) if dev.type == 'cuda' else 'cpu'}",
          file=sys.stderr)
    print("| twin | compute | setting | first example (ms) | median (ms) | min (ms) | peak GPU memory (GiB) |")
    print("|---|---|---|---|---|---|---|")
    (bench_tpt if args.method == "tpt" else bench_memo)(args, dev)


if __name__ == "__main__":
    main()
