#!/usr/bin/python3
"""Dev-only: writes bn_reference.json, PyTorch's numbers for BatchNorm2d.

starid does not depend on Python; this script only documents where the
committed numbers in bn_reference.json come from. Re-run it with
/usr/bin/python3 (Debian's python3-torch) from this directory.

For each case: two training steps (forward, running-statistic update,
backward for a given dy), then an eval forward and backward on a third
input. Inputs have a non-zero mean and the affine parameters are not the
defaults, so every term of the formulas matters.
"""
import json

import torch

CASES = [
    # name, shape, eps, momentum
    ("odd", (3, 2, 5, 7), 1e-5, 0.1),
    ("single_image", (1, 3, 4, 3), 1e-3, 0.3),
]


def flat(t):
    return [float(v) for v in t.detach().reshape(-1).tolist()]


def case(name, shape, eps, momentum, gen):
    c = shape[1]
    bn = torch.nn.BatchNorm2d(c, eps=eps, momentum=momentum)
    with torch.no_grad():
        bn.weight.copy_(torch.rand(c, generator=gen) + 0.5)
        bn.bias.copy_(torch.randn(c, generator=gen))
    out = {"name": name, "shape": list(shape), "eps": eps, "momentum": momentum,
           "weight": flat(bn.weight), "bias": flat(bn.bias), "steps": []}
    bn.train()
    for step in range(2):
        x = (torch.randn(shape, generator=gen) * 2 + 3).requires_grad_()
        dy = torch.randn(shape, generator=gen)
        bn.zero_grad()
        y = bn(x)
        y.backward(dy)
        out["steps"].append({
            "x": flat(x), "dy": flat(dy), "y": flat(y), "dx": flat(x.grad),
            "dweight": flat(bn.weight.grad), "dbias": flat(bn.bias.grad),
            "running_mean": flat(bn.running_mean), "running_var": flat(bn.running_var),
            "num_batches_tracked": int(bn.num_batches_tracked),
        })
    bn.eval()
    x = (torch.randn(shape, generator=gen) * 2 + 3).requires_grad_()
    dy = torch.randn(shape, generator=gen)
    bn.zero_grad()
    y = bn(x)
    y.backward(dy)
    out["eval"] = {"x": flat(x), "dy": flat(dy), "y": flat(y), "dx": flat(x.grad),
                   "dweight": flat(bn.weight.grad), "dbias": flat(bn.bias.grad)}
    return out


def main():
    gen = torch.Generator().manual_seed(20261127)
    cases = [case(*c, gen) for c in CASES]
    with open("bn_reference.json", "w") as f:
        json.dump({"torch_version": torch.__version__, "cases": cases}, f, separators=(",", ":"))
        f.write("\n")


if __name__ == "__main__":
    main()
