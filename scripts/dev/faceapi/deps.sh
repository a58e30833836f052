# deps.sh — sourced by golden.sh, ssd_golden.sh and bench.sh. Installs the
# pinned npm packages of package.json into a cache folder (never into the
# repository) and builds the Go RGB dumper. Sets FACEAPI_NODE_DIR and RAWRGB.
#
# FACEAPI_NODE_DIR  where node_modules goes (default ~/.cache/starid/faceapi-node)
# STARID_MODELS     face-api folder with model/ and demo/ (default ~/.cache/starid/face-api-1.7.15)

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../../.." && pwd)

export FACEAPI_NODE_DIR=${FACEAPI_NODE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/starid/faceapi-node}
export STARID_MODELS=${STARID_MODELS:-$HOME/.cache/starid/face-api-1.7.15}

if [ ! -d "$STARID_MODELS/model" ] || [ ! -d "$STARID_MODELS/demo" ]; then
	echo "faceapi: no weights/photos in $STARID_MODELS; run 'starid models fetch' first" >&2
	exit 1
fi

# Reinstall only when package.json changed, so a second run needs no network.
mkdir -p "$FACEAPI_NODE_DIR"
if ! cmp -s "$here/package.json" "$FACEAPI_NODE_DIR/package.json" || [ ! -d "$FACEAPI_NODE_DIR/node_modules/@vladmandic/face-api" ]; then
	cp "$here/package.json" "$FACEAPI_NODE_DIR/package.json"
	# No lifecycle scripts are needed (the pure-JS tfjs has none worth running).
	(cd "$FACEAPI_NODE_DIR" && npm install --no-audit --no-fund --ignore-scripts --no-package-lock --loglevel=error >&2)
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
RAWRGB=$work/rawrgb
(cd "$repo" && go build -o "$RAWRGB" ./scripts/dev/rawrgb)

# dump IN.jpg OUT.rgb: the exact pixels starid's decoder gives.
dump() { "$RAWRGB" "$1" "$2"; }

# dump_samples: the six demo photos as $work/sample1.rgb .. sample6.rgb, the
# files golden.mjs and ssd_golden.mjs read.
dump_samples() {
	for i in 1 2 3 4 5 6; do
		dump "$STARID_MODELS/demo/sample$i.jpg" "$work/sample$i.rgb"
	done
}
