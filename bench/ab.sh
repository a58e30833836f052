#!/usr/bin/env bash
# bench/ab.sh — interleave `starid bench` runs of several binaries (a
# change and the commit before it) and print, per run, the median step,
# the CPU seconds and the peak RSS.
#
# On a shared machine the wall-clock step swings with other people's jobs;
# the CPU time (user + system of the whole run, warm-up included) moves far
# less, and runs that alternate the binaries share whatever load there is.
set -euo pipefail

usage() {
	cat <<'TXT'
Usage: bench/ab.sh [--rounds N] [--args "BENCH ARGS"] BINARY...

Runs `BINARY bench BENCH ARGS` for every binary, in turn, N rounds (default
3), and prints one line per run: UTC time, 1-minute load average, binary,
median step ms, CPU seconds (user+system) and peak RSS MB. BENCH ARGS default
to "--model vgg16-bn-dropout-light --size 64 --batch 32 --steps 3".

Example (a change against main, built into /tmp first):
  git -C ../main log -1 && (cd ../main && go build -o /tmp/starid-main ./cmd/starid)
  go build -o /tmp/starid-new ./cmd/starid
  bench/ab.sh --rounds 3 /tmp/starid-main /tmp/starid-new
TXT
}

rounds=3
args="--model vgg16-bn-dropout-light --size 64 --batch 32 --steps 3"
while [ $# -gt 0 ]; do
	case $1 in
	--rounds) [ $# -ge 2 ] || { echo "ab.sh: --rounds needs a value" >&2; exit 2; }; rounds=$2; shift 2 ;;
	--args) [ $# -ge 2 ] || { echo "ab.sh: --args needs a value" >&2; exit 2; }; args=$2; shift 2 ;;
	-h | --help) usage; exit 0 ;;
	-*) echo "ab.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
	*) break ;;
	esac
done
[ $# -ge 1 ] || { usage >&2; exit 2; }
for b in "$@"; do
	[ -x "$b" ] || { echo "ab.sh: $b: not an executable file" >&2; exit 2; }
done
[ -x /usr/bin/time ] || { echo "ab.sh: needs GNU time at /usr/bin/time (apt-get install time)" >&2; exit 2; }

status=0
for ((r = 1; r <= rounds; r++)); do
	for b in "$@"; do
		# shellcheck disable=SC2086 # args is a list of words on purpose
		if ! out=$(/usr/bin/time -f "TIME %U %S %M" "$b" bench $args 2>&1); then
			echo "ab.sh: $b bench $args failed:" >&2
			echo "$out" >&2
			status=1
			continue
		fi
		med=$(grep -o 'median [0-9]* ms' <<<"$out" | head -1)
		read -r _ user sys rss < <(grep '^TIME' <<<"$out")
		printf '%s load %s %s: %s, cpu %.1f s, peak RSS %d MB\n' "$(date -u +%H:%M:%S)" \
			"$(cut -d' ' -f1 /proc/loadavg)" "$b" "$med" "$(echo "$user + $sys" | bc)" $((rss / 1024))
	done
done
exit $status
