#!/usr/bin/python3
"""Cross-check helper for models' TestTorchAgreesOnLogits (not part of starid).

Usage: torch_logits.py SHARED_BENCH_DIR VARIANT IN.safetensors OUT.bin

Reads a safetensors file written by starid (model weights plus an extra
tensor named "input"), parses it by hand (the Python safetensors package is
not on Debian), loads the weights into ../shared/bench/torch_reference.py's
model with strict=True, runs it in eval mode and writes the logits as raw
little-endian float32.
"""
import json
import struct
import sys

import torch

bench_dir, variant, src, dst = sys.argv[1:5]
sys.path.insert(0, bench_dir)
import torch_reference  # noqa: E402

DTYPES = {"F32": torch.float32, "I64": torch.int64}
with open(src, "rb") as f:
    blob = f.read()
(hlen,) = struct.unpack("<Q", blob[:8])
header = json.loads(blob[8:8 + hlen])
header.pop("__metadata__", None)
base = 8 + hlen
tensors = {}
for name, info in header.items():
    b, e = info["data_offsets"]
    t = torch.frombuffer(bytearray(blob[base + b:base + e]), dtype=DTYPES[info["dtype"]])
    tensors[name] = t.reshape(info["shape"]).clone()
x = tensors.pop("input")
classes = tensors["classifier.0.bias"].shape[0] if "classifier.0.bias" in tensors else tensors["classifier.4.bias"].shape[0]
model = torch_reference.build_model(variant, classes)
model.load_state_dict(tensors, strict=True)
model.eval()
with torch.no_grad():
    y = model(x)
with open(dst, "wb") as f:
    f.write(y.contiguous().numpy().astype("<f4").tobytes())
print(f"torch {torch.__version__}: logits {list(y.shape)}")
