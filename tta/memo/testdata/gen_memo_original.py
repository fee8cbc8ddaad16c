#!/usr/bin/python3
"""A reference from the original MEMO code (zhangmarvin/memo), run on the tiny ResNet of gen_memo.py.

The original code is not part of this repository: fetch https://github.com/zhangmarvin/memo (commit 228b290) and run,
from this directory, with Debian's Python (torch 1.13, torchvision 0.14):

    MEMO_REPO=/path/to/memo /usr/bin/python3 gen_memo_original.py

It takes two functions from that checkout, unchanged, by parsing its files: `_modified_bn_forward` (the batch-norm
prior, imagenet-exps/utils/train_helpers.py) and `marginal_entropy` (imagenet-exps/test_calls/test_adapt.py), installs
the first as the original does (class attributes nn.BatchNorm2d.forward and .prior), and follows its adapt_single /
test_single protocol (utils/adapt_helpers.py): prior = N/(N+1) with prior_strength N = 16, the adaptation batch made
of augmented copies only (here views 1..7 of memo_golden.safetensors' views), one torch.optim.SGD step (here lr 5e-3,
no weight decay, all parameters), then the prediction on the clean image (view 0) alone, still with the prior.

Writes memo_original.safetensors (F32): loss [1], view0_before [1,10], view0_after [1,10].
"""
import ast
import os
import sys

import numpy as np
import torch
import torch.nn as nn
from torchvision.models.resnet import BasicBlock

from gen_memo import nchw, read_safetensors, save_safetensors, tiny_resnet


def take_function(path, name, env):
    """Executes the definition of function `name` from the Python file `path` in env and returns it."""
    with open(path) as f:
        tree = ast.parse(f.read())
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == name:
            exec(compile(ast.Module(body=[node], type_ignores=[]), path, "exec"), env)
            return env[name]
    raise SystemExit(f"{path} has no function {name}")


def main():
    repo = os.environ.get("MEMO_REPO")
    if not repo:
        raise SystemExit("set MEMO_REPO to a checkout of https://github.com/zhangmarvin/memo")
    env = {"torch": torch, "nn": nn, "np": np}
    bn_forward = take_function(os.path.join(repo, "imagenet-exps/utils/train_helpers.py"), "_modified_bn_forward", env)
    marginal_entropy = take_function(os.path.join(repo, "imagenet-exps/test_calls/test_adapt.py"), "marginal_entropy", env)

    views = read_safetensors("memo_golden.safetensors")["views"]  # [8, 48, 48, 3] NHWC
    x = nchw(views)
    net = tiny_resnet(BasicBlock, [1, 1, 1, 1], 8, [8, 16, 32, 64], 10)
    net.load_state_dict(read_safetensors("../../resnet/testdata/tiny_basic.safetensors"))
    nn.BatchNorm2d.forward = bn_forward  # as the original's build_model
    prior_strength = 16
    optimizer = torch.optim.SGD(net.parameters(), lr=5e-3, weight_decay=0.0)
    out = {}
    net.eval()
    nn.BatchNorm2d.prior = float(prior_strength) / float(prior_strength + 1)
    with torch.no_grad():
        out["view0_before"] = net(x[:1])
    # adapt_single, one iteration: the batch is the augmented copies.
    optimizer.zero_grad()
    loss, _ = marginal_entropy(net(x[1:]))
    loss.backward()
    optimizer.step()
    # test_single: the clean image alone, with the prior.
    with torch.no_grad():
        out["view0_after"] = net(x[:1])
    nn.BatchNorm2d.prior = 1
    out["loss"] = loss.detach().reshape(1)
    save_safetensors("memo_original.safetensors", out)
    print("loss", loss.item(), "argmax before/after", out["view0_before"].argmax().item(), out["view0_after"].argmax().item())


if __name__ == "__main__":
    sys.exit(main())
