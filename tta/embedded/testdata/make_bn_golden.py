# Generates bn_golden.json: torch.nn.BatchNorm2d in training mode (one forward) on a fixed random input, for
# TestTrainBNGolden. Run: /usr/bin/python3 make_bn_golden.py > bn_golden.json
import json

import torch

torch.manual_seed(0)
n, c, h, w = 4, 3, 3, 2
x = torch.randn(n, c, h, w, dtype=torch.float64)
bn = torch.nn.BatchNorm2d(c, eps=1e-5, momentum=0.1).double()
with torch.no_grad():
    bn.weight.copy_(torch.randn(c, dtype=torch.float64))
    bn.bias.copy_(torch.randn(c, dtype=torch.float64))
    bn.running_mean.copy_(torch.randn(c, dtype=torch.float64))
    bn.running_var.copy_(torch.rand(c, dtype=torch.float64) + 0.5)
init = {k: bn.state_dict()[k].tolist() for k in ["weight", "bias", "running_mean", "running_var"]}
bn.train()
y = bn(x)
# gradient of sum(y * g) with respect to x, for a fixed g
g = torch.randn(n, c, h, w, dtype=torch.float64)
xr = x.clone().requires_grad_(True)
bn2 = torch.nn.BatchNorm2d(c, eps=1e-5, momentum=0.1).double()
bn2.load_state_dict({**{k: torch.tensor(v) for k, v in init.items()}, "num_batches_tracked": torch.tensor(0)})
bn2.train()
(bn2(xr) * g).sum().backward()
nhwc = lambda t: t.permute(0, 2, 3, 1).reshape(-1).tolist()
print(json.dumps({
    "shape_nhwc": [n, h, w, c], "x": nhwc(x), "g": nhwc(g), **init,
    "y": nhwc(y.detach()), "grad_x": nhwc(xr.grad),
    "new_running_mean": bn.running_mean.tolist(), "new_running_var": bn.running_var.tolist(),
}))
