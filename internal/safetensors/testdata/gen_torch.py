#!/usr/bin/python3
"""Dev-only: writes testdata/torch.safetensors from PyTorch tensors.

The safetensors Python package is not installed, so the header JSON and the
byte buffer are built by hand, the way any third-party writer might: keys in
an order that differs from the data order, JSON with spaces after separators,
metadata last, the header padded with spaces to 8 bytes. TestReadTorchFile
checks that starid reads every value exactly.

Run from the repository root:  /usr/bin/python3 internal/safetensors/testdata/gen_torch.py
"""
import json
import os
import struct
import sys

import torch

assert sys.byteorder == "little", "safetensors data is little-endian"

DTYPES = {
    torch.float32: "F32",
    torch.float16: "F16",
    torch.bfloat16: "BF16",
    torch.float64: "F64",
    torch.int64: "I64",
    torch.int32: "I32",
    torch.uint8: "U8",
}

# Values chosen to be exact in their dtype, so the Go test can spell them.
tensors = [
    ("conv.weight", torch.tensor([[[0.5, -1.25], [3.0, 0.1]], [[-0.0, 1e-3], [-7.75, 2.0**-20]]], dtype=torch.float32)),
    ("conv.bias", torch.tensor([0.25, -0.125], dtype=torch.float32)),
    ("bn.running_mean", torch.tensor([1.5, -2.0, 65504.0, 2.0**-14, 2.0**-24, float("inf")], dtype=torch.float16)),
    ("bn.running_var", torch.tensor([1.0, -0.0078125, 2.0**100], dtype=torch.bfloat16)),
    ("bn.num_batches_tracked", torch.tensor(12345678901, dtype=torch.int64)),
    ("fc.weight", torch.tensor([[1.0 / 3.0, -2.5]], dtype=torch.float64)),
    ("ids", torch.tensor([-7, 0, 2147483647], dtype=torch.int32)),
    ("mask", torch.tensor([0, 1, 255], dtype=torch.uint8)),
    ("empty", torch.zeros(0, 3, dtype=torch.float32)),
]

header = {}
chunks = []
offset = 0
for name, t in tensors:
    raw = bytes(t.contiguous().reshape(-1).view(torch.uint8).numpy())
    header[name] = {"dtype": DTYPES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
    chunks.append(raw)
    offset += len(raw)

# Reverse the key order so that a reader must sort by offsets itself.
ordered = {k: header[k] for k in reversed(list(header))}
ordered["__metadata__"] = {"format": "pt", "producer": "gen_torch.py", "torch": torch.__version__}
text = json.dumps(ordered).encode()
text += b" " * (-len(text) % 8)

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "torch.safetensors")
with open(out, "wb") as f:
    f.write(struct.pack("<Q", len(text)))
    f.write(text)
    for c in chunks:
        f.write(c)
print(out, 8 + len(text) + offset, "bytes")
