#!/usr/bin/env bash
# bench/asmsame.sh — does a change to our Go assembly still assemble to the
# same machine code? For each tracked .s file, assemble it as it is at REV
# and as it is in the working tree, and compare the bytes of every TEXT
# symbol.
#
# A rewrite that only moves text around (macros for repeated lanes, shared
# sequences in a package header) should change no byte; when none changes,
# no benchmark is needed to show the kernels' speed held, which on a shared
# machine no timing could show as well.
set -euo pipefail

usage() {
	cat <<'TXT'
Usage: bench/asmsame.sh [REV]

Compares, per TEXT symbol of every tracked *.s file, the machine code
assembled from REV (default HEAD) with the working tree's. Prints one line a
symbol: "same" or "DIFF", its name and its size in bytes; "gone" or "new" for
a symbol found on one side only. Exits 1 when anything differs, 0 when every
symbol is byte-identical. Run it from the repository root; it needs git and
go. It assembles for GOARCH=amd64 (the files' own architecture).
TXT
}

case "${1:-}" in
-h | --help)
	usage
	exit 0
	;;
esac
rev=${1:-HEAD}
git rev-parse --verify --quiet "$rev^{commit}" >/dev/null || {
	echo "asmsame: $rev is not a commit of this repository" >&2
	exit 2
}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/old"
git archive "$rev" | tar -x -C "$work/old"
inc="$(go env GOROOT)/pkg/include"

# dump TREE FILE: one line per TEXT symbol, "name hex-bytes".
dump() {
	local tree=$1 file=$2 dir
	dir=$(dirname "$file")
	[ -f "$tree/$file" ] || return 0
	GOARCH=amd64 go tool asm -I "$inc" -I "$tree/$dir" -p "starid/$dir" -o "$work/x.o" "$tree/$file"
	go tool objdump "$work/x.o" | awk -F'\t' '
		/^TEXT /{ if (name != "") print name, code; split($0, w, " "); name = w[2]; code = ""; next }
		# the encoding is the first all-hex field after the address
		NF >= 3 { for (i = 3; i <= NF; i++) if ($i ~ /^[0-9a-f]+$/) { code = code $i; break } }
		END { if (name != "") print name, code }'
}

status=0
while IFS= read -r file; do
	dump "$work/old" "$file" | sort >"$work/a"
	dump "." "$file" | sort >"$work/b"
	join -a1 -a2 -e MISSING -o 0,1.2,2.2 "$work/a" "$work/b" | while read -r name old new; do
		if [ "$old" = MISSING ]; then
			echo "new   $name"
		elif [ "$new" = MISSING ]; then
			echo "gone  $name"
		elif [ "$old" = "$new" ]; then
			echo "same  $name $((${#new} / 2)) bytes"
		else
			echo "DIFF  $name $((${#old} / 2)) -> $((${#new} / 2)) bytes"
		fi
	done
done < <(git ls-files '*.s') | tee "$work/out"
grep -qv '^same' "$work/out" && status=1
exit $status
