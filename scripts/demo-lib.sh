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
# stop_stream: 1.5 s more of the stream, then the sender stops (it tells the
# receiver how many it sent) and the receiver reports.  The demo's
# start_stream sets $sender and pushes receiver, then sender, onto bg.
stop_stream() {
	sleep 1.5
	kill -INT "$sender" 2>/dev/null || true
	wait "$sender" 2>/dev/null || true
	wait "${bg[@]: -2:1}" 2>/dev/null || true
}
# Loss gaps that start within 1 s after a failure at $t belong to it (the
# last arrival before a gap comes just before the failure: 20 ms margin).
in_window='($g.start_ns >= $t - 20000000 and $g.start_ns <= $t + 1000000000)'
# gap_after FILE T_NS: the longest gap of the failure at T_NS (ms)
gap_after() {
	jq --argjson t "$2" "[.loss_gaps[] | . as \$g | select($in_window) | .gap_ms] | max // 0" "$1"
}
