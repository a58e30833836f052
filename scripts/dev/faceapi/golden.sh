#!/usr/bin/env bash
# golden.sh — regenerate internal/faces/testdata/golden.json from face-api's
# own JavaScript (tfjs cpu backend) on the six demo photos, decoded by Go.
#
#   bash scripts/dev/faceapi/golden.sh [OUT.json]
#
# Takes a few minutes on 2 cores. See README.md for what it computes.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/deps.sh"

out=${1:-$repo/internal/faces/testdata/golden.json}
dump_samples
node "$here/golden.mjs" --rgb "$work" --out "$out"
