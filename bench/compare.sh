#!/usr/bin/env bash
# bench/compare.sh — time starid and PyTorch on the same steps, in one run,
# and print a Markdown table ready for docs/BENCHMARKS.md.
#
# Each case runs starid and then PyTorch back to back, case after case, so a
# change in the machine's load during the run hits both sides of a ratio
# rather than one. Only ratios from one run mean anything: absolute times
# drift between runs and machines (see ../shared/bench/README.md).
set -euo pipefail

usage() {
	cat <<'TXT'
Usage: bench/compare.sh [options]

Times `starid bench` against ../shared/bench/torch_reference.py, case by case,
and prints a Markdown table (median step time, peak RSS, starid/torch ratios)
followed by a description of the machine. Progress goes to stderr; the table
and every raw output are also kept under --out.

Options:
  --steps N        timed steps per case, after one warm-up step (default 3)
  --quick          every case at 64x64 (a minute or two instead of ~10)
  --rows LIST      replace the default cases; LIST is comma-separated
                   mode:model:size:batch, e.g. "train:vgg16:112:32,infer:vgg16-bn:64:32"
  --add-rows LIST  add cases after the default ones (same format)
  --starid PATH    starid binary to time (default: build bin/starid first)
  --out DIR        where to keep raw outputs (default out/compare-<UTC time>)
  --info           print only the machine description (with the GEMM kernels
                   each side runs) and exit
  -h, --help       this text

Default cases: train vgg16-bn 224 b32, train vgg16-bn-dropout-light 64 b32,
infer vgg16 224 b32. Model names are starid's; the PyTorch variant is derived
from them (vgg16-bn-dropout-light -> vgg16_bn_do_light).

Environment: STARID_SHARED (default ../shared beside the repository) locates
the PyTorch reference script. OPENBLAS_CORETYPE and STARID_OPENBLAS_SIMULATE
reach starid (and OPENBLAS_CORETYPE PyTorch too), so the table can be made
with OpenBLAS's kernels forced or its wrong guess simulated; the kernels each
side ran are listed under the table.

Exit status: 0 when every case ran on both sides, 1 when some case failed
(its cells say so and the table is still printed), 2 on a usage error.
TXT
}

args=("$@") # for the record under the table
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
shared=${STARID_SHARED:-$root/../shared}
torch_script=$shared/bench/torch_reference.py
# Debian's Python, where python3-torch lives; another python3 may come first on PATH.
torch_python=/usr/bin/python3
# Without the pthread OpenBLAS, torch's linear layers use Debian's reference
# BLAS (~4x slower); without PASSIVE, OpenMP's spinning threads fight
# OpenBLAS's (~3x slower). Both would flatter starid.
torch_env=(
	"LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-pthread${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
	OMP_WAIT_POLICY=PASSIVE
)
export PATH="$PATH:/usr/local/go/bin"

default_rows="train:vgg16-bn:224:32,train:vgg16-bn-dropout-light:64:32,infer:vgg16:224:32"
steps=3
quick=0
rows=$default_rows
add_rows=
starid=
outdir=
info_only=0

die_usage() {
	echo "compare.sh: $*" >&2
	echo "Run bench/compare.sh --help for the options." >&2
	exit 2
}

while [ $# -gt 0 ]; do
	case $1 in
	--steps) [ $# -ge 2 ] || die_usage "--steps needs a value"; steps=$2; shift 2 ;;
	--quick) quick=1; shift ;;
	--rows) [ $# -ge 2 ] || die_usage "--rows needs a value"; rows=$2; shift 2 ;;
	--add-rows) [ $# -ge 2 ] || die_usage "--add-rows needs a value"; add_rows=$2; shift 2 ;;
	--starid) [ $# -ge 2 ] || die_usage "--starid needs a value"; starid=$2; shift 2 ;;
	--out) [ $# -ge 2 ] || die_usage "--out needs a value"; outdir=$2; shift 2 ;;
	--info) info_only=1; shift ;;
	-h | --help) usage; exit 0 ;;
	*) die_usage "unknown argument '$1'" ;;
	esac
done

is_posint() { [[ $1 =~ ^[1-9][0-9]*$ ]]; }
is_posint "$steps" || die_usage "--steps must be a positive integer, got '$steps'"

# ---------------------------------------------------------------- machine

# OpenBLAS's build string (version, kernel, threading) of the library a
# program started with environment "$@" would load: LD_LIBRARY_PATH decides
# which of Debian's OpenBLAS flavours that is.
openblas_config() {
	env "$@" "$torch_python" -c '
import ctypes
lib = ctypes.CDLL("libopenblas.so.0")
lib.openblas_get_config.restype = ctypes.c_char_p
print(lib.openblas_get_config().decode())' 2>/dev/null || echo "not found (run make setup)"
}

# The OpenBLAS core (kernel family) PyTorch runs its matrix products on:
# asked of the library torch itself loaded, in torch's environment, since
# OpenBLAS picks the core once when it loads (its convolutions go through
# oneDNN, which detects the CPU by itself).
torch_openblas_core() {
	env "${torch_env[@]}" "$torch_python" -c '
import ctypes, torch
lib = ctypes.CDLL("libopenblas.so.0")  # the copy torch loaded
lib.openblas_get_corename.restype = ctypes.c_char_p
print("OpenBLAS", lib.openblas_get_corename().decode())' 2>/dev/null || echo "unknown (torch or OpenBLAS missing)"
}

# The GEMM kernels the starid binary runs here (`starid bench --kernel`),
# when there is a binary to ask.
starid_kernel() {
	local bin=${starid:-$root/bin/starid}
	if [ -x "$bin" ]; then
		"$bin" bench --kernel 2>/dev/null || echo "unknown ($bin bench --kernel failed)"
	else
		echo "unknown (no $bin; run make build)"
	fi
}

machine_info() {
	local cpu mem avx load torch go_v blas_go blas_torch commit k_starid k_torch
	cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
	mem=$(awk '/^MemTotal:/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)
	avx="AVX2 $(grep -qw avx2 /proc/cpuinfo && echo yes || echo no)"
	avx+=", AVX-512 $(grep -qw avx512f /proc/cpuinfo && echo yes || echo no)"
	go_v=$(go version 2>/dev/null || echo "not found")
	torch=$(env "${torch_env[@]}" "$torch_python" -c \
		'import torch, platform; print(torch.__version__, "on Python", platform.python_version())' \
		2>/dev/null || echo "not installed (run make setup)")
	blas_go=$(openblas_config) # starid runs in the caller's environment
	blas_torch=$(openblas_config "${torch_env[@]}")
	k_starid=${kernel:-$(starid_kernel)} # what the timed runs reported, when there were any
	k_torch=$(torch_openblas_core)
	commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
	if [ -n "$(git -C "$root" status --porcelain --untracked-files=no 2>/dev/null)" ]; then
		commit+=" (with uncommitted changes)"
	fi
	load="load average $(cut -d' ' -f1-3 /proc/loadavg)"
	[ -n "$load_start" ] && load="load average $load_start at start, ${load#load average } at end"
	echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "- machine: $(nproc) CPUs, ${cpu:-unknown CPU} ($avx), $mem RAM, $load"
	echo "- starid: commit $commit${backend:+, GEMM backend $backend}"
	echo "- go: $go_v"
	echo "- torch: $torch"
	if [ "$blas_go" = "$blas_torch" ]; then
		echo "- OpenBLAS: $blas_go"
	else
		echo "- OpenBLAS (starid): $blas_go"
		echo "- OpenBLAS (torch, openblas-pthread): $blas_torch"
	fi
	echo "- GEMM kernels: starid $k_starid; torch $k_torch"
}

backend=
kernel=
load_start=
busy_pct=0
if [ "$info_only" = 1 ]; then
	machine_info
	exit 0
fi

# ---------------------------------------------------------------- cases

[ -n "$add_rows" ] && rows+=",$add_rows"
cases=()
IFS=',' read -r -a specs <<<"$rows"
for spec in "${specs[@]}"; do
	spec=${spec//[[:space:]]/}
	[ -n "$spec" ] || continue
	IFS=':' read -r mode model size batch extra <<<"$spec"
	if [ -n "${extra:-}" ] || [ -z "${batch:-}" ]; then
		die_usage "case '$spec' is not mode:model:size:batch"
	fi
	case $mode in train | infer) ;; *) die_usage "case '$spec': mode must be train or infer" ;; esac
	[[ $model =~ ^vgg16(-[a-z]+)*$ ]] || die_usage "case '$spec': PyTorch has no counterpart for model '$model'"
	if ! is_posint "$size" || ! is_posint "$batch"; then
		die_usage "case '$spec': size and batch must be positive integers"
	fi
	[ "$quick" = 1 ] && size=64
	c="$mode:$model:$size:$batch"
	# --quick can map two cases onto one; time it once.
	[[ " ${cases[*]} " == *" $c "* ]] || cases+=("$c")
done
[ "${#cases[@]}" -gt 0 ] || die_usage "no cases to run"

# starid's model names to the reference script's variant names:
# vgg16-bn-dropout-light -> vgg16_bn_do_light.
torch_variant() { sed -e 's/-dropout/-do/g' -e 's/-/_/g' <<<"$1"; }

# Percent of all CPU time that was not idle over the next two seconds, from
# /proc/stat: what others are using now, where the load average lags by minutes.
cpu_busy_pct() {
	local a b
	a=$(head -n 1 /proc/stat)
	sleep 2
	b=$(head -n 1 /proc/stat)
	awk -v a="$a" -v b="$b" 'BEGIN {
		split(a, x); split(b, y)
		# user nice system idle iowait irq softirq steal (guest time is inside user)
		for (i = 2; i <= 9; i++) { d = y[i] - x[i]; total += d; if (i == 5 || i == 6) idle += d }
		printf "%d\n", (total > 0) ? 100 * (total - idle) / total + 0.5 : 0 }'
}

# ---------------------------------------------------------------- checks

[ -f "$torch_script" ] || { echo "compare.sh: no PyTorch reference at $torch_script (set STARID_SHARED)" >&2; exit 1; }
if ! env "${torch_env[@]}" "$torch_python" -c 'import torch' 2>/dev/null; then
	echo "compare.sh: $torch_python cannot import torch; run make setup" >&2
	exit 1
fi
# Another process on the CPU slows whichever side it overlaps; say so where
# the numbers are read rather than let a noisy ratio pass as a result. The
# sample is taken before the build, whose compiler would count as "others".
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
busy_pct=$(cpu_busy_pct)
if [ "$busy_pct" -gt 25 ]; then
	echo "compare.sh: warning: other processes kept the CPUs ${busy_pct}% busy just before the run; ratios will be noisy" >&2
fi
if [ -z "$starid" ]; then
	echo "compare.sh: building bin/starid" >&2
	make -s -C "$root" build >&2
	starid=$root/bin/starid
fi
[ -x "$starid" ] || { echo "compare.sh: $starid is not an executable" >&2; exit 1; }

[ -n "$outdir" ] || outdir=$root/out/compare-$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$outdir"

# ---------------------------------------------------------------- parsing

# starid bench --json: prints "median min rss backend kernel" (the kernel
# family last, as it holds spaces), or fails with a reason.
parse_starid() {
	"$torch_python" - "$1" <<'PY'
import json, sys
try:
    with open(sys.argv[1]) as f:
        d = json.load(f)
    print(float(d["median_ms"]), float(d["min_ms"]), float(d["peak_rss_mb"]), d.get("gemm_backend", "?"),
          d.get("gemm_kernel", "?"))
except (OSError, ValueError, KeyError, TypeError) as e:
    sys.exit(f"bad starid output: {type(e).__name__}: {e}")
PY
}

# torch_reference.py's "RESULT ... ms_min=.. ms_median=.. peak_rss_mb=.." line:
# prints "median min rss", or fails when the line or a field is missing.
parse_torch() {
	awk '
		/^RESULT / {
			found = 1
			for (i = 2; i <= NF; i++) {
				eq = index($i, "=")
				if (eq) v[substr($i, 1, eq - 1)] = substr($i, eq + 1)
			}
		}
		END {
			if (!found || v["ms_median"] == "" || v["ms_min"] == "" || v["peak_rss_mb"] == "") exit 1
			print v["ms_median"], v["ms_min"], v["peak_rss_mb"]
		}' "$1"
}

# a/b to two decimals, or "n/a" when either side is missing.
ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN {
		if (a == "" || b == "" || b + 0 == 0) print "n/a"; else printf "%.2f\n", a / b }'
}

# The arguments as one would type them (quoted only where needed), each
# preceded by a space, so the command under the table can be pasted back.
shell_words() {
	local a
	for a in "$@"; do
		if [[ $a =~ ^[A-Za-z0-9_./:=,+-]+$ ]]; then
			printf ' %s' "$a"
		else
			printf " '%s'" "${a//\'/\'\\\'\'}"
		fi
	done
}

fmt_ms() {
	if [ -n "$1" ]; then printf '%.0f' "$1"; else printf 'failed'; fi
}

# ---------------------------------------------------------------- run

echo "compare.sh: ${#cases[@]} case(s), $steps timed step(s) each after a warm-up; raw output in $outdir" >&2
table=$outdir/table.md
{
	echo "| case | starid median ms | torch median ms | starid/torch | starid peak RSS MB | torch peak RSS MB | RSS starid/torch |"
	echo "|---|---:|---:|---:|---:|---:|---:|"
} >"$table"

failed=0
n=0
for c in "${cases[@]}"; do
	n=$((n + 1))
	IFS=':' read -r mode model size batch <<<"$c"
	variant=$(torch_variant "$model")
	label="$mode $model ${size}x$size b$batch"
	base=$outdir/$(printf '%02d' "$n")-$mode-$model-$size-b$batch

	s_med='' s_min='' s_rss='' t_med='' t_min='' t_rss=
	echo "[$n/${#cases[@]}] $label: starid..." >&2
	if "$starid" bench --model "$model" --size "$size" --batch "$batch" --mode "$mode" \
		--steps "$steps" --json >"$base.starid.json" 2>"$base.starid.log" &&
		parsed=$(parse_starid "$base.starid.json" 2>>"$base.starid.log"); then
		read -r s_med s_min s_rss backend kernel <<<"$parsed"
		echo "    starid: median $(fmt_ms "$s_med") ms, min $(fmt_ms "$s_min") ms, peak RSS $(fmt_ms "$s_rss") MB" >&2
	else
		failed=1
		echo "    starid FAILED; $base.starid.log says:" >&2
		tail -n 5 "$base.starid.log" | sed 's/^/      /' >&2
	fi

	echo "[$n/${#cases[@]}] $label: torch ($variant)..." >&2
	if env "${torch_env[@]}" "$torch_python" "$torch_script" --bench "$mode" --variant "$variant" \
		--size "$size" --batch "$batch" --bench-steps "$steps" >"$base.torch.log" 2>&1 &&
		parsed=$(parse_torch "$base.torch.log"); then
		read -r t_med t_min t_rss <<<"$parsed"
		echo "    torch:  median $(fmt_ms "$t_med") ms, min $(fmt_ms "$t_min") ms, peak RSS $(fmt_ms "$t_rss") MB" >&2
	else
		failed=1
		echo "    torch FAILED; $base.torch.log says:" >&2
		tail -n 5 "$base.torch.log" | sed 's/^/      /' >&2
	fi

	echo "| $label | $(fmt_ms "$s_med") | $(fmt_ms "$t_med") | $(ratio "$s_med" "$t_med") |" \
		"$(fmt_ms "$s_rss") | $(fmt_ms "$t_rss") | $(ratio "$s_rss" "$t_rss") |" >>"$table"
done

{
	echo
	echo "Per step (forward, backward and Adam update for train; forward for infer), median of $steps"
	echo "timed step(s) after one warm-up, both sides on all cores. Ratios below 1 mean starid is faster"
	echo "or smaller. Produced by \`bench/compare.sh$(shell_words "${args[@]}")\` on:"
	echo
	machine_info
	if [ "$busy_pct" -gt 25 ]; then
		echo
		echo "Warning: other processes kept the CPUs ${busy_pct}% busy just before the run; these ratios are unreliable."
	fi
	if [ -n "$backend" ] && [ "$backend" != openblas ]; then
		echo
		echo "Warning: starid was built with the '$backend' GEMM backend, not OpenBLAS (cgo off?)."
	fi
} >>"$table"

cat "$table"
exit "$failed"
