"""Dev-only: writes golden.json, the PyTorch 1.13 reference the Go tests
in internal/optim compare against. Not run by the tests.

    /usr/bin/python3 internal/optim/testdata/gen_golden.py

Each optimizer configuration runs 5 steps from the same initial parameters
with the same per-step gradients; the learning rate is halved before the
fourth step (as a scheduler would) to exercise SetLR. Parameter shapes are
chosen so PyTorch's vector kernels (16 floats per iteration) and their
scalar tails both run. One parameter never gets a gradient (skipped).
Tensor values are written in the shortest decimal form that reads back as
the same float32 (numpy's float32 repr); the Go side parses them as float32.
"""
import json
import math
import os

import numpy as np
import torch

torch.manual_seed(20240613)
STEPS = 5
LR_CHANGE_STEP = 3  # 0-based step before which the lr is halved
SHAPES = [[203], [4, 5], [1], [2, 3, 4]]
NO_GRAD = 3  # index of the parameter whose grad stays None


def make_params():
    vals = []
    for i, shape in enumerate(SHAPES):
        v = torch.randn(shape) * (0.5 + i)
        flat = v.view(-1)
        flat[0] = 0.0  # exercise zero weights (sign, decay)
        vals.append(v)
    return vals


def make_grads():
    steps = []
    for s in range(STEPS):
        gs = []
        for i, shape in enumerate(SHAPES):
            if i == NO_GRAD:
                gs.append(None)
                continue
            scale = [1e-3, 1.0, 30.0][(i + s) % 3]  # tiny, ordinary and large gradients
            g = torch.randn(shape) * scale
            g.view(-1)[1 % g.numel()] = 0.0  # a zero gradient entry
            gs.append(g)
        steps.append(gs)
    return steps


class F32:
    """A float32 tensor's values, flattened, for dump."""

    def __init__(self, t):
        self.values = t.detach().reshape(-1).numpy().astype(np.float32)


def flat(t):
    return F32(t)


def dump(obj):
    """json.dumps, except that F32 values are written as shortest float32
    decimals (json would write the longer float64 forms)."""
    if isinstance(obj, F32):
        return "[" + ",".join(np.format_float_positional(v, unique=True, trim="-")
                              if abs(v) >= 1e-4 or v == 0 else np.format_float_scientific(v, unique=True, trim="-")
                              for v in obj.values) + "]"
    if isinstance(obj, dict):
        return "{" + ",".join(json.dumps(k) + ":" + dump(v) for k, v in obj.items()) + "}"
    if isinstance(obj, (list, tuple)):
        return "[" + ",".join(dump(v) for v in obj) + "]"
    return json.dumps(obj)


CONFIGS = [
    ("sgd_plain", "sgd", dict(lr=0.1)),
    ("sgd_wd", "sgd", dict(lr=0.05, weight_decay=0.01)),
    ("sgd_momentum", "sgd", dict(lr=0.05, momentum=0.9)),
    ("sgd_nesterov", "sgd", dict(lr=0.05, momentum=0.9, nesterov=True)),
    ("sgd_dampening", "sgd", dict(lr=0.05, momentum=0.9, dampening=0.3)),
    ("sgd_momentum_wd", "sgd", dict(lr=0.02, momentum=0.8, weight_decay=0.05)),
    ("sgd_nesterov_wd", "sgd", dict(lr=0.02, momentum=0.7, nesterov=True, weight_decay=1e-3)),
    ("adam", "adam", dict(lr=1e-3)),
    ("adam_lr1e-4", "adam", dict(lr=1e-4)),
    ("adam_wd", "adam", dict(lr=1e-3, weight_decay=0.1)),
    ("adam_tutorial_wd", "adam", dict(lr=1e-4, weight_decay=1e-4)),
    ("adam_betas", "adam", dict(lr=1e-2, betas=(0.8, 0.99), eps=1e-6)),
    ("adamw", "adamw", dict(lr=1e-3, weight_decay=1e-2)),
    ("adamw_strong", "adamw", dict(lr=1e-2, weight_decay=0.5, betas=(0.85, 0.995), eps=1e-7)),
]


def run_optimizer(kind, cfg, init, grads):
    params = [torch.nn.Parameter(v.clone()) for v in init]
    cls = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam, "adamw": torch.optim.AdamW}[kind]
    opt = cls(params, **cfg)
    out = []
    for s in range(STEPS):
        if s == LR_CHANGE_STEP:
            for g in opt.param_groups:
                g["lr"] = g["lr"] * 0.5
        for p, g in zip(params, grads[s]):
            p.grad = None if g is None else g.clone()
        opt.step()
        out.append([flat(p.detach()) for p in params])
    return out


def run_schedule(make, base, epochs=45):
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=base)
    sched = make(opt)
    lrs = []
    for _ in range(epochs):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return lrs


def main():
    init = make_params()
    grads = make_grads()
    out = {
        "torch_version": torch.__version__,
        "steps": STEPS,
        "lr_change_step": LR_CHANGE_STEP,
        "lr_change_factor": 0.5,
        "shapes": SHAPES,
        "init": [flat(v) for v in init],
        "grads": [[None if g is None else flat(g) for g in gs] for gs in grads],
        "optimizers": [],
        "schedules": [],
    }
    for name, kind, cfg in CONFIGS:
        jcfg = dict(cfg)
        if "betas" in jcfg:
            jcfg["beta1"], jcfg["beta2"] = jcfg.pop("betas")
        out["optimizers"].append({"name": name, "kind": kind, "config": jcfg,
                                  "after_step": run_optimizer(kind, cfg, init, grads)})

    sch = torch.optim.lr_scheduler
    schedules = [
        ("step:0.92:4", 1e-4, lambda o: sch.LambdaLR(o, lambda e: 0.92 ** (e // 4))),
        ("step:0.5:3", 0.1, lambda o: sch.LambdaLR(o, lambda e: 0.5 ** (e // 3))),
        ("steplr:10:0.1", 0.1, lambda o: sch.StepLR(o, step_size=10, gamma=0.1)),
        ("steplr:4:0.92", 1e-4, lambda o: sch.StepLR(o, step_size=4, gamma=0.92)),
        ("cosine:40", 1e-4, lambda o: sch.CosineAnnealingLR(o, T_max=40)),
        ("cosine:40:1e-06", 1e-3, lambda o: sch.CosineAnnealingLR(o, T_max=40, eta_min=1e-6)),
        ("cosine:7", 0.1, lambda o: sch.CosineAnnealingLR(o, T_max=7)),
        ("none", 1e-4, lambda o: sch.LambdaLR(o, lambda e: 1.0)),
    ]
    for spec, base, make in schedules:
        entry = {"spec": spec, "base_lr": base, "stepped": run_schedule(make, base)}
        if spec.startswith("cosine"):
            # CosineAnnealingLR._get_closed_form_lr, evaluated as PyTorch writes it.
            parts = spec.split(":")
            tmax = int(parts[1])
            eta = float(parts[2]) if len(parts) > 2 else 0.0
            entry["closed_form"] = [eta + (base - eta) * (1 + math.cos(math.pi * e / tmax)) / 2
                                    for e in range(45)]
        out["schedules"].append(entry)

    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden.json")
    with open(path, "w") as f:
        f.write(dump(out) + "\n")
    print("wrote", path)


if __name__ == "__main__":
    main()
