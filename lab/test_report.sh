#!/bin/bash
# `peregrine lab report` (docs/lab-report.md) without root, from a recorded
# demo run (lab/testdata/report/data: the figures, the lab status while
# both failures held, the three streams of `probe recv --bin-ms`): the page
# holds the topology with its link states and FIB use and one chart per
# stream, fetches nothing, and every picture renders in headless Chromium
# (lab/report-check.sh); bad input is refused with the file named.  The
# demo run with --report is in scripts/test_demo.sh.  Then recorded runs of
# the BCube and HA demos and of `lab compare --report` (every scheme's part
# on one page, measured in Chromium).
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

# copy NAME FIXTURE: a fresh report directory $tmp/NAME with FIXTURE's data
copy() { rm -rf "${tmp:?}/$1" && mkdir -p "$tmp/$1" && cp -r "$2" "$tmp/$1/data"; }
# drawn NAME NODES CHARTS MARKS: the page holds the topology's SVG with
# NODES nodes, CHARTS rate lines and MARKS red marks in all (Chromium
# measures the compare page below, which is drawn by the same code)
drawn() {
	local pg=$tmp/$1/index.html
	[ "$(grep -c '<g id="node[0-9]*" class="node">' "$pg")" = "$2" ] || fail "$1: not $2 nodes drawn"
	[ "$(grep -c '<polyline fill="none"' "$pg")" = "$3" ] || fail "$1: not $3 rate lines"
	[ "$(grep -c '<line class="event"' "$pg")" = "$4" ] || fail "$1: not $4 marks"
}

# A BCube run (lab/testdata/report-bcube: the link after the relay srv3
# cut, then srv3 itself down; plain bridges, no FIB to ask): the failed
# relay is a server drawn down, its 2 links red, no FIB labels; 24 nodes,
# 1 chart with its 2 marks.
copy bcube lab/testdata/report-bcube/data
$P lab report "$tmp/bcube" >/dev/null
d=$tmp/bcube/data/topology.dot
grep -q '"srv3" \[shape=box, style="filled,dashed", fillcolor=grey80, label="srv3\\ndown"\]' "$d" ||
	fail "bcube: the failed relay srv3 is not drawn down"
[ "$(grep -c 'fillcolor=grey80' "$d")" = 1 ] || fail "bcube: another node drawn down"
[ "$(grep -c 'color=red' "$d")" = 2 ] || fail "bcube: expected srv3's 2 links red"
! grep -q 'FIB' "$d" || fail "bcube: FIB labels on bridges"
grep -q '>relay srv3 down</text>' "$tmp/bcube/index.html" || fail "bcube: the relay's failure is not marked"
drawn bcube 24 1 2

# The HA demo (lab/testdata/report-ha): one stream through the four faults,
# 6 marks; the cut link red, every switch's FIB use, no server drawn down
# (the status names etcd, directory and RAS nodes the topology does not
# have: they are left out).
copy ha lab/testdata/report-ha/data
$P lab report "$tmp/ha" >/dev/null
d=$tmp/ha/data/topology.dot
[ "$(grep -c 'color=red' "$d")" = 1 ] || fail "ha: expected the 1 cut link red"
[ "$(grep -c 'FIB 8 / 65536' "$d")" = 4 ] || fail "ha: the 4 switches' FIB use"
! grep -q 'grey80' "$d" || fail "ha: a node drawn down"
for m in 'dir0 killed' 'etcd1 killed' 'link back'; do
	grep -q ">$m</text>" "$tmp/ha/index.html" || fail "ha: '$m' is not marked"
done
drawn ha 8 1 6

# A `lab compare --report` run (lab/testdata/report-compare: the comparison
# and its five parts, each a demo's data from that run): the rows and the
# targets as the data has them, each part's failed switch and links down,
# and in Chromium 5 topologies and the 13 charts with their marks.
cf=lab/testdata/report-compare
rm -rf "$tmp/cmp" && cp -r "$cf" "$tmp/cmp"
$P lab report "$tmp/cmp" >/dev/null
cpage=$tmp/cmp/index.html
for n in $(jq -r '.compare.rows[].name' "$cf/data/report.json"); do
	grep -q "<tr><td>$n</td><td>" "$cpage" || fail "compare: no row for $n"
done
[ "$(grep -c '^<tr><td>' "$cpage")" = 12 ] || fail "compare: expected 5 rows and 7 targets"
met=$(jq '[.compare.targets[] | select(.met == true)] | length' "$cf/data/report.json")
notmet=$(jq '[.compare.targets[] | select(.met == false)] | length' "$cf/data/report.json")
[ "$(grep -c '<td>met</td></tr>' "$cpage")" = "$met" ] || fail "compare: $met targets met"
[ "$(grep -c '<td><b>not met</b></td></tr>' "$cpage")" = "$notmet" ] || fail "compare: $notmet not met"
grep -q '<td>link cut gap: EVPN / Peregrine &gt;= 10</td><td>' "$cpage" || fail "compare: a target's text"
while read -r part sw; do
	d=$tmp/cmp/$part/data/topology.dot
	want=$(jq '[.links[] | select(.state == "down")] | length' "$cf/$part/data/status.json")
	[ "$(grep -c 'color=red' "$d")" = "$want" ] || fail "compare: $part's $want links down"
	grep -q "\"$sw\" \\[.*fillcolor=grey80.*\\\\ndown\"" "$d" || fail "compare: $part's failed $sw"
	grep -q "<h2>$(jq -r .title "$cf/$part/data/report.json")</h2>" "$cpage" ||
		fail "compare: $part's section"
done <<'PARTS'
evpn spine1
evpn-jumbo spine1
netlord spine0
peregrine spine1
vl2 int1
PARTS
lab/report-check.sh "$tmp/cmp" 14,14,14,14,18 13 2,1,2,2,1,2,2,2,2,2,2,2,2

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
# compare: a part that is not a directory name, or whose data is missing: refused
rm -rf "$tmp/cmpbad" && cp -r "$cf" "$tmp/cmpbad"
jq '.parts += ["../report"]' "$cf/data/report.json" > "$tmp/cmpbad/data/report.json"
bad cmpbad "part '../report' is not a directory name"
rm -rf "$tmp/cmpbad" && cp -r "$cf" "$tmp/cmpbad" && rm -r "$tmp/cmpbad/netlord"
bad cmpbad "cmpbad/netlord/data/report.json: No such file"
expect_fail "report DIR" $P lab report
echo "lab report: all checks passed"
