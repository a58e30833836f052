#!/usr/bin/env bash
# ssd_golden.sh — regenerate internal/faces/testdata/ssd_golden.json from
# face-api's own SSD MobileNetV1 on the six demo photos, decoded by Go. The
# tfjs backend is wasm (XNNPACK): plain-JavaScript cpu takes about an hour
# here for this net (BACKEND=cpu to use it anyway); the two agree to about
# 1e-6 (README.md).
#
#   bash scripts/dev/faceapi/ssd_golden.sh [OUT.json]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/deps.sh"

out=${1:-$repo/internal/faces/testdata/ssd_golden.json}
dump_samples
node "$here/ssd_golden.mjs" --rgb "$work" --out "$out" --backend "${BACKEND:-wasm}"
