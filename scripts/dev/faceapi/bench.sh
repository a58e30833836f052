#!/usr/bin/env bash
# bench.sh — face-api's JavaScript speed on this machine, the baseline the Go
# pipeline is compared against: per photo, detect (416) + landmarks +
# descriptor for one face, median ms, printed as JSON.
#
#   bash scripts/dev/faceapi/bench.sh [-n REPS] [-w WARMUP] [-b cpu,wasm] [PHOTO...]
#
# Without photos it times the six demo photos. Decoding is not timed.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/deps.sh"

opts=()
while getopts "n:w:b:" o; do
	case $o in
	n) opts+=(--reps "$OPTARG") ;;
	w) opts+=(--warmup "$OPTARG") ;;
	b) opts+=(--backends "$OPTARG") ;;
	*) exit 2 ;;
	esac
done
shift $((OPTIND - 1))
photos=("$@")
if [ ${#photos[@]} -eq 0 ]; then
	for i in 1 2 3 4 5 6; do photos+=("$STARID_MODELS/demo/sample$i.jpg"); done
fi

rgbs=()
for i in "${!photos[@]}"; do
	rgb="$work/$i.rgb"
	dump "${photos[$i]}" "$rgb"
	rgbs+=("${photos[$i]}=$rgb")
done
node "$here/bench.mjs" "${opts[@]}" "${rgbs[@]}"
