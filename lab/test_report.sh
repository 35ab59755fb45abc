#!/bin/bash
# `peregrine lab report` (docs/lab-report.md) without root, from a recorded
# demo run (lab/testdata/report/data: the figures, the lab status while
# both failures held, the three streams of `probe recv --bin-ms`): the page
# holds the topology with its link states and FIB use and one chart per
# stream, fetches nothing, and every picture renders in headless Chromium
# (lab/report-check.sh); bad input is refused with the file named.  The
# demo run with --report is in scripts/test_demo.sh.
set -eu
cd "$(dirname "$0")/.."
. tests/lib.sh
need_cmd jq
need_cmd dot
need_cmd chromium
P=$PEREGRINE_BIN
fx=lab/testdata/report/data
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fresh() { rm -rf "$tmp/$1"; mkdir -p "$tmp/$1"; cp -r "$fx" "$tmp/$1/data"; }

fresh ok
$P lab report "$tmp/ok" > "$tmp/ok.out"
[ "$(cat "$tmp/ok.out")" = "$tmp/ok/index.html" ] || fail "lab report printed $(cat "$tmp/ok.out")"
page=$tmp/ok/index.html
# The topology: Graphviz's drawing of what the status says.  The recorded
# run had leaf0 -- spine0 cut and spine1 failed (its 4 links down), which
# left leaf0 without an uplink: its uplink tracking took its 4 server
# ports down too (docs/lab.md).
down=$(jq '[.links[] | select(.state == "down")] | length' "$fx/status.json")
[ "$down" = 9 ] || fail "fixture: expected 9 links down, status has $down"
[ "$(grep -c 'color=red' "$tmp/ok/data/topology.dot")" = "$down" ] ||
	fail "topology.dot does not draw the $down links down in red"
grep -q '"spine1" \[.*fillcolor=grey80.*\\ndown"' "$tmp/ok/data/topology.dot" ||
	fail "topology.dot: the failed spine1 is not drawn down"
# each live switch's FIB use as the status gave it (leaf0, cut off, held 8)
jq -r '.nodes[] | select(.fib_used != null) | "\(.name) \(.fib_used) \(.fib_capacity)"' \
	"$fx/status.json" > "$tmp/fib.txt"
[ "$(wc -l < "$tmp/fib.txt")" = 5 ] || fail "fixture: expected 5 live switches"
while read -r sw used cap; do
	grep -q "^  \"$sw\" \[.*FIB $used / $cap\"" "$tmp/ok/data/topology.dot" ||
		fail "topology.dot: $sw's FIB use ($used of $cap)"
done < "$tmp/fib.txt"
grep -q '<svg' "$page" && grep -q 'class="node"' "$page" || fail "the topology's SVG is not in the page"
# Each stream's rate: as many arrivals in the chart's bins as the probe got.
for s in fo grey mig; do
	[ "$(jq '.rate.counts | add' "$fx/$s.json")" = "$(jq .received "$fx/$s.json")" ] ||
		fail "fixture $s.json: its bins do not add up to what it received"
done
grep -q '>link leaf0 -- spine0 cut</text>' "$page" || fail "the link cut is not marked"
grep -q '>red-srv7 detached</text>' "$page" || fail "the migration is not marked"
grep -q '<th>failover_gap_ms</th><td>\[0,18.1\]</td>' "$page" || fail "the figures table"
# Every picture renders: 14 nodes, 3 charts with 2 marks each.
lab/report-check.sh "$tmp/ok" 14 3 2,2,2

# A VL2 run (lab/testdata/report-vl2: FRR's switches have no FIB to ask):
# no FIB labels, the failed intermediate switch drawn down, 18 nodes and
# 2 charts rendered.
rm -rf "$tmp/vl2" && mkdir -p "$tmp/vl2" && cp -r lab/testdata/report-vl2/data "$tmp/vl2/data"
$P lab report "$tmp/vl2" >/dev/null
! grep -q 'FIB' "$tmp/vl2/data/topology.dot" || fail "vl2: FIB labels on switches without one"
grep -q '"int0" \[.*fillcolor=grey80.*\\ndown"' "$tmp/vl2/data/topology.dot" ||
	fail "vl2: the failed int0 is not drawn down"
lab/report-check.sh "$tmp/vl2" 18 2 2,2

# The checker itself fails on a page whose chart is empty or that fetches.
sed 's|<polyline[^>]*/>||' "$page" > "$tmp/noline.html"
mkdir -p "$tmp/noline2" && mv "$tmp/noline.html" "$tmp/noline2/index.html"
if lab/report-check.sh "$tmp/noline2" 14 3 2,2,2 2> "$tmp/err"; then fail "a chart without its line passed"; fi
grep -q 'no drawn rate line' "$tmp/err" || fail "no-line: $(cat "$tmp/err")"
mkdir -p "$tmp/fetch" && sed 's|<h1>|<img src="http://192.0.2.1/x.png"><h1>|' "$page" > "$tmp/fetch/index.html"
if lab/report-check.sh "$tmp/fetch" 14 3 2,2,2 2> "$tmp/err"; then fail "a page that fetches passed"; fi
grep -q 'refers to something outside it' "$tmp/err" || fail "fetch: $(cat "$tmp/err")"

# Bad input: refused with the file named, no page written.
bad() { # NAME WANT: lab report on $tmp/NAME fails saying WANT
	if $P lab report "$tmp/$1" > /dev/null 2> "$tmp/err"; then fail "$1: accepted"; fi
	grep -q -- "$2" "$tmp/err" || fail "$1: expected '$2', got: $(cat "$tmp/err")"
	[ ! -e "$tmp/$1/index.html" ] || fail "$1: a page was written"
}
fresh norate
jq 'del(.rate)' "$fx/grey.json" > "$tmp/norate/data/grey.json"
bad norate "stream 'grey failure: red-srv0 -> red-srv4': no \`rate\`"
fresh escape
jq '.streams[0].file = "../../etc/passwd"' "$fx/report.json" > "$tmp/escape/data/report.json"
bad escape "'../../etc/passwd' is not a file name"
fresh broken
printf '{"title": "x",\n "streams": [\n' > "$tmp/broken/data/report.json"
bad broken "broken/data/report.json:3"
fresh notopo
jq '.topology = "leafspine:spines=0"' "$fx/status.json" > "$tmp/notopo/data/status.json"
bad notopo "status.json: topology"
mkdir -p "$tmp/none"
bad none "none/data/report.json: No such file"
expect_fail "report DIR" $P lab report
echo "lab report: all checks passed"
