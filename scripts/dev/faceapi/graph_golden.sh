#!/usr/bin/env bash
# graph_golden.sh — regenerate internal/faces/testdata/graph_golden.json: the
# Human library's MobileFaceNet and MobileFace graph models run by tfjs on the
# synthetic pattern (no photos involved). Needs the descriptor models fetched
# (`starid models fetch`), Node and npm.
#
#   bash scripts/dev/faceapi/graph_golden.sh [OUT.json]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/deps.sh"

out=${1:-$repo/internal/faces/testdata/graph_golden.json}
node "$here/graph_golden.mjs" --models "$STARID_MODELS/human-models-3.0.4" --out "$out" --backend "${BACKEND:-cpu}"
