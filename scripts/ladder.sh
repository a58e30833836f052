#!/usr/bin/env bash
# The tutorial's VGG16 ladder on a photo folder, one run per rung, then one
# markdown table row per rung as docs/EXPERIMENTS.md shows them.
#
#   scripts/ladder.sh DATA OUTDIR [SIZE] [EPOCHS]      train what is missing, then print the table
#   scripts/ladder.sh --table OUTDIR [SIZE] [EPOCHS]   only print the table from the runs' history.csv
#
# A 40-epoch rung at 64x64 takes over an hour on two cores, so the script is
# meant to be stopped and started again: a finished rung is skipped and a
# stopped one is continued with --resume (same seed, same result as a run
# that was never stopped). STARID overrides the binary (default bin/starid);
# SEED the seed (default 1).
set -euo pipefail

MODELS="vgg16 vgg16-bn vgg16-bn-dropout vgg16-bn-dropout-light"

table_only=false
if [[ ${1:-} == --table ]]; then
	table_only=true
	shift
	[[ $# -ge 1 ]] || { echo "usage: $0 --table OUTDIR [SIZE] [EPOCHS]" >&2; exit 1; }
	data=""
	out=$1
	size=${2:-64}
	epochs=${3:-40}
else
	[[ $# -ge 2 ]] || { echo "usage: $0 DATA OUTDIR [SIZE] [EPOCHS]  (or --table OUTDIR [SIZE] [EPOCHS])" >&2; exit 1; }
	data=$1
	out=$2
	size=${3:-64}
	epochs=${4:-40}
fi
starid=${STARID:-bin/starid}
seed=${SEED:-1}

# epochs_done RUN: how many epochs RUN's history.csv holds (0 if none).
epochs_done() {
	local h=$1/history.csv
	[[ -f $h ]] || { echo 0; return; }
	echo $(($(wc -l <"$h") - 1))
}

if ! $table_only; then
	[[ -d $data ]] || { echo "$0: $data: not a folder" >&2; exit 2; }
	mkdir -p "$out"
	for m in $MODELS; do
		run=$out/ladder$size-$m
		done_=$(epochs_done "$run")
		if ((done_ >= epochs)); then
			echo "$m: $done_ epochs already in $run" >&2
			continue
		fi
		resume=()
		[[ -f $run/last.safetensors ]] && resume=(--resume)
		echo "$m: training into $run (${resume[*]:-new run})" >&2
		"$starid" train "$data" --model "$m" --size "$size" --epochs "$epochs" --seed "$seed" \
			--out "$run" "${resume[@]}"
	done
fi

echo "| model | best test acc | at epoch | last epoch test acc | epochs | wall time (sum of epoch times) |"
echo "|---|---:|---:|---:|---:|---:|"
for m in $MODELS; do
	run=$out/ladder$size-$m
	if [[ ! -f $run/history.csv ]]; then
		echo "| $m | | | | 0 | not run |"
		continue
	fi
	# history.csv: epoch,duration_ms,train_acc,train_loss,test_acc,test_loss,lr,best
	awk -F, -v m="$m" 'NR > 1 {
		if ($5 + 0 > best) { best = $5 + 0; at = $1 }
		ms += $2; last = $5; n++
	} END {
		printf "| %s | %.1f%% | %d | %.1f%% | %d | %.0f min |\n", m, 100 * best, at, 100 * last, n, ms / 60000
	}' "$run/history.csv"
done
