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
# --report DIR (`lab demo --report`, docs/lab-report.md): PEREGRINE_REPORT
# is DIR; the demo keeps its measurements in DIR/data and `lab report`
# draws DIR/index.html from them.  Without it these do nothing.
REPORT=${PEREGRINE_REPORT:-}
[ -z "$REPORT" ] || mkdir -p "$REPORT/data"
# report_status CAPTION: the lab's status now (link states, FIB use), the
# topology the report draws
report_status() {
	[ -n "$REPORT" ] || return 0
	$P lab status --prefix "$X" --json > "$REPORT/data/status.json"
	jq -n --arg c "$1" '$c' > "$tmp/report-status-caption.json"
}
# report_stream NAME FILE CAPTION [LABEL AT_NS]...: a stream (probe recv
# --json --bin-ms output) and the moments to mark on it
report_stream() {
	[ -n "$REPORT" ] || return 0
	local name=$1 file=$2 caption=$3 base ev='[]'
	base=$(basename "$file")
	shift 3
	while [ $# -ge 2 ]; do
		ev=$(jq -c --arg l "$1" --argjson t "$2" '. + [{label: $l, at_ns: $t}]' <<< "$ev")
		shift 2
	done
	cp "$file" "$REPORT/data/$base"
	jq -n -c --arg n "$name" --arg f "$base" --arg c "$caption" --argjson e "$ev" \
		'{name: $n, file: $f, caption: $c, events: $e}' >> "$tmp/report-streams.jsonl"
}
# report_write TITLE SUMMARY FIGURES_JSON: the manifest, then the page
report_write() {
	[ -n "$REPORT" ] || return 0
	local status=null caption='""'
	[ -f "$REPORT/data/status.json" ] && status='"status.json"'
	[ -f "$tmp/report-status-caption.json" ] && caption=$(cat "$tmp/report-status-caption.json")
	touch "$tmp/report-streams.jsonl"
	jq -n --arg t "$1" --arg s "$2" --argjson f "$3" --argjson st "$status" \
		--argjson sc "$caption" --slurpfile streams "$tmp/report-streams.jsonl" \
		'{title: $t, summary: $s, figures: $f, status: $st, status_caption: $sc,
		  streams: $streams}' > "$REPORT/data/report.json"
	$P lab report "$REPORT" >&2
}
