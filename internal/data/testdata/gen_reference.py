#!/usr/bin/python3
"""Dev-only: writes the PIL reference numbers the data tests compare against.

Run from internal/data:  /usr/bin/python3 testdata/gen_reference.py

resize_pil.json: PIL's Image.resize(..., BILINEAR) of small generated RGB
images (the pattern is recomputed in Go by resizePattern), which is what
torchvision's Resize does to a PIL image.
tiny.webp: a lossless 5x3 WebP (Go has no WebP encoder).
"""
import json

from PIL import Image


def pattern(w, h):
    img = Image.new("RGB", (w, h))
    px = img.load()
    for y in range(h):
        for x in range(w):
            px[x, y] = ((x * x * 3 + y * 17 + x * y) % 256,
                        (x * 29 + y * y * 5 + 71) % 256,
                        ((x ^ y) * 37 + 140) % 256)
    return img


cases = []
for (w, h), (ow, oh) in [((37, 23), (8, 8)), ((37, 23), (64, 64)), ((37, 23), (16, 40)),
                         ((200, 150), (64, 64)), ((64, 64), (64, 64)), ((97, 61), (13, 61)),
                         ((5, 3), (1, 1))]:
    out = pattern(w, h).resize((ow, oh), Image.BILINEAR)
    cases.append({"w": w, "h": h, "ow": ow, "oh": oh,
                  "pix": [v for p in out.getdata() for v in p]})
with open("testdata/resize_pil.json", "w") as f:
    json.dump({"pil": Image.__version__, "cases": cases}, f, separators=(",", ":"))

pattern(5, 3).save("testdata/tiny.webp", lossless=True)
