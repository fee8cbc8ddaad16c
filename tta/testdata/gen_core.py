# Generates core_reference.json: an independent reference (PyTorch) for tta's marginal entropy, confidence
# selection and the AdamW / SGD steps. Run with Debian's python3-torch:
#   /usr/bin/python3 tta/testdata/gen_core.py > tta/testdata/core_reference.json
# The formulas are TPT's avg_entropy / select_confident_samples, written from the papers' definitions; the
# optimizers are torch.optim.AdamW and torch.optim.SGD themselves.
import json
import torch

torch.manual_seed(7)
N, C, D = 8, 5, 3
x = torch.randn(N, D, dtype=torch.float64)
w0 = torch.randn(C, D, dtype=torch.float64)
rho = 0.5


def avg_entropy(z):
    l = z - z.logsumexp(dim=-1, keepdim=True)
    a = l.logsumexp(dim=0) - torch.log(torch.tensor(float(z.shape[0]), dtype=z.dtype))
    a = torch.clamp(a, min=torch.finfo(a.dtype).min)
    return -(a * torch.exp(a)).sum(dim=-1)


def view_entropies(z):
    return -(z.softmax(-1) * z.log_softmax(-1)).sum(-1)


logits0 = x @ w0.T
ent0 = view_entropies(logits0)
k = int(N * rho)
sel = torch.argsort(ent0)[:k]

out = {"x": x.tolist(), "w0": w0.tolist(), "rho": rho, "logits0": logits0.tolist(),
       "entropies0": ent0.tolist(), "selected": sel.tolist(),
       "marginal_entropy_all": avg_entropy(logits0).item(),
       "marginal_entropy_selected": avg_entropy(logits0[sel]).item()}

for name, make in [("adamw", lambda p: torch.optim.AdamW([p], lr=5e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01)),
                   ("sgd", lambda p: torch.optim.SGD([p], lr=5e-3, weight_decay=1e-4))]:
    w = w0.clone().requires_grad_(True)
    opt = make(w)
    traj = []
    for step in range(3):
        opt.zero_grad()
        loss = avg_entropy((x @ w.T)[sel])
        loss.backward()
        traj.append({"loss": loss.item(), "grad": w.grad.tolist()})
        opt.step()
        traj[-1]["w_after"] = w.detach().tolist()
    out[name] = traj

print(json.dumps(out))
