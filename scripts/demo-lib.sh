# Sourced by the lab demos (scripts/lab-demo*.sh) after `set -euo pipefail`:
# what every demo shares.  Reads the demo's own arguments ([--json]) and
# PEREGRINE (the binary), PREFIX (the lab's prefix); gives P, X, JSON, a
# scratch directory $tmp, an array bg of background PIDs, and a cleanup on
# exit that stops them, takes the lab down and removes $tmp.
. "$(dirname "${BASH_SOURCE[0]}")/human.sh"
P=${PEREGRINE:-build/peregrine}
X=${PREFIX:-pg}
JSON=0
[ "${1:-}" = --json ] && JSON=1
tmp=$(mktemp -d)
bg=()
cleanup() {
	for p in "${bg[@]}"; do kill "$p" 2>/dev/null || true; done
	$P lab down --prefix "$X" >/dev/null 2>&1 || true
	rm -rf "$tmp"
}
trap cleanup EXIT
# progress: to stderr when stdout is the JSON
say() { if [ $JSON = 1 ]; then echo "$*" >&2; else echo "$*"; fi; }
now_ns() { date +%s%N; }
ex() { $P lab exec "$1" --prefix "$X" -- "${@:2}"; }
