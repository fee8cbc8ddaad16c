#!/usr/bin/python3
"""Writes full-size torchvision models with random (perturbed) weights and their reference logits, for the opt-in
TestFullSize (too large to commit):

    /usr/bin/python3 gen_fullsize.py /tmp/resnet_full
    RESNET_FULL_DIR=/tmp/resnet_full go test ./tta/resnet/ -run TestFullSize

For resnet18, resnet50 (F32) and resnext50_32x4d (stored BF16; the reference runs on the rounded values in f32):
<name>.safetensors (torchvision's state dict as is) and <name>_golden.safetensors (inputs [2,64,64,3] NHWC, logits
[2,1000] eval mode, logits_prior094 with MEMO's BN prior 0.94).
"""
import os
import sys

import torch
import torchvision

from gen_golden import perturb, save_safetensors, with_prior, without_prior

out_dir = sys.argv[1]
os.makedirs(out_dir, exist_ok=True)
for name, dtype in [("resnet18", torch.float32), ("resnet50", torch.float32), ("resnext50_32x4d", torch.bfloat16)]:
    gen = torch.Generator().manual_seed(3)
    torch.manual_seed(3)
    m = getattr(torchvision.models, name)()
    perturb(m, gen)
    with torch.no_grad():
        m.fc.weight.mul_(20.0)  # spread the logits so the argmax is meaningful
    stored = {k: (v.to(dtype) if v.is_floating_point() else v) for k, v in m.state_dict().items()}
    m.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in stored.items()})
    m.eval()
    save_safetensors(os.path.join(out_dir, name + ".safetensors"), stored)
    x = torch.randn((2, 64, 64, 3), generator=gen) * torch.tensor([0.5, 2.0]).reshape(2, 1, 1, 1)
    xt = x.permute(0, 3, 1, 2).contiguous()
    out = {"inputs": x}
    with torch.no_grad():
        out["logits"] = m(xt)
        with_prior(m, 0.94)
        out["logits_prior094"] = m(xt)
        without_prior(m)
    save_safetensors(os.path.join(out_dir, name + "_golden.safetensors"), out)
    print(name, out["logits"].argmax(1).tolist(), out["logits_prior094"].argmax(1).tolist())
