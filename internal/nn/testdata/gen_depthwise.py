#!/usr/bin/python3
"""Dev-only: writes depthwise_reference.json, PyTorch's numbers for a
depthwise convolution (nn.Conv2d with groups=channels) and nn.ConstantPad2d.

starid does not depend on Python; this script only documents where the
committed numbers come from. Re-run it with /usr/bin/python3 (Debian's
python3-torch) from this directory.

Each case is one forward and one backward for a given dy; sizes are odd
and small so the file stays near 60 kB.
"""
import json

import torch

CONV_CASES = [
    # name, (n, c, h, w), kernel, stride, padding, bias
    ("k3s1p1", (2, 3, 5, 7), 3, 1, 1, True),
    ("k3s2p1_nobias", (1, 4, 7, 6), 3, 2, 1, False),
    ("k3s2p0", (2, 2, 9, 7), 3, 2, 0, True),
    ("k5s1p2", (1, 2, 6, 5), 5, 1, 2, True),
]

PAD_CASES = [
    # name, (n, c, h, w), (left, right, top, bottom), value
    ("same_bottom_right", (2, 3, 4, 5), (0, 1, 0, 1), float("-inf")),
    ("asymmetric", (1, 2, 3, 4), (2, 1, 0, 3), 0.5),
]


def flat(t):
    return [float(v) for v in t.detach().reshape(-1).tolist()]


def conv_case(name, shape, k, s, p, bias, gen):
    c = shape[1]
    conv = torch.nn.Conv2d(c, c, k, stride=s, padding=p, groups=c, bias=bias)
    with torch.no_grad():
        conv.weight.copy_(torch.randn(conv.weight.shape, generator=gen))
        if bias:
            conv.bias.copy_(torch.randn(c, generator=gen))
    x = torch.randn(shape, generator=gen).requires_grad_()
    y = conv(x)
    dy = torch.randn(y.shape, generator=gen)
    y.backward(dy)
    return {"name": name, "shape": list(shape), "kernel": k, "stride": s, "padding": p,
            "repr": repr(conv), "weight": flat(conv.weight),
            "bias": flat(conv.bias) if bias else None,
            "x": flat(x), "y": flat(y), "y_shape": list(y.shape), "dy": flat(dy), "dx": flat(x.grad),
            "dweight": flat(conv.weight.grad), "dbias": flat(conv.bias.grad) if bias else None}


def pad_case(name, shape, padding, value, gen):
    pad = torch.nn.ConstantPad2d(padding, value)
    x = torch.randn(shape, generator=gen).requires_grad_()
    y = pad(x)
    dy = torch.randn(y.shape, generator=gen)
    y.backward(dy)
    # JSON has no -inf: the Go test rebuilds the border from "value".
    return {"name": name, "shape": list(shape), "padding": list(padding), "value": repr(value),
            "repr": repr(pad), "x": flat(x), "y_shape": list(y.shape), "dy": flat(dy), "dx": flat(x.grad)}


def main():
    gen = torch.Generator().manual_seed(20260501)
    out = {"torch_version": torch.__version__,
           "conv": [conv_case(*c, gen) for c in CONV_CASES],
           "pad": [pad_case(*c, gen) for c in PAD_CASES]}
    with open("depthwise_reference.json", "w") as f:
        json.dump(out, f, separators=(",", ":"))
        f.write("\n")


if __name__ == "__main__":
    main()
