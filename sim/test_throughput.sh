#!/bin/bash
# peregrine sim abt and sim shuffle from the command line: JSON keys and
# values, the BCube formula, a failure sweep with its plot, and bad input.
set -eu
cd "$(dirname "$0")/.."
. tests/lib.sh
need_cmd python3
need_cmd jq
P=$PEREGRINE_BIN
tmp=$(mktemp -d)
cleanup() { rm -rf "$tmp"; }
trap cleanup EXIT

jget() { python3 -c "import json,sys; d=json.load(sys.stdin); print(d$1)"; }

# abt: BCube's n/(n-1)(N-1): n=4, k=2 has 64 servers, 4/3 * 63 = 84
out=$($P sim abt --topo bcube:n=4,k=2 --scheme bcube --json)
[ "$(echo "$out" | jget "['servers']")" = 64 ] || fail "abt servers"
python3 -c "import sys; a=float(sys.argv[1]); sys.exit(abs(a-84) > 1e-6)" \
	"$(echo "$out" | jget "['abt']")" || fail "abt formula: $(echo "$out" | jget "['abt']")"
$P sim abt --topo bcube:n=4,k=2 --scheme bcube | grep -q '^ABT  *84.000 Gbit/s' || fail "abt human"

# a failure sweep: 11 points from 0 to 20 %, ABT never above the intact one
out=$($P sim abt --topo fattree:k=4 --scheme vl2 --routing two-level --fail switches --json \
	--plot "$tmp/ft.svg")
[ "$(echo "$out" | jget "['sweep'].__len__()")" = 11 ] || fail "sweep length"
[ "$(echo "$out" | jget "['abt']")" = 16.0 ] || fail "fat-tree ABT $(echo "$out" | jget "['abt']")"
echo "$out" | python3 -c "
import json,sys; d=json.load(sys.stdin); s=d['sweep']
assert s[0]['rate'] == 0 and abs(s[-1]['rate'] - 0.2) < 1e-9
assert all(p['abt'] <= d['abt'] + 1e-9 for p in s)
assert s[-1]['failed'] == 4" || fail "sweep values"
grep -q '<svg' "$tmp/ft.svg" || fail "plot is no SVG"
out=$($P sim abt --topo bcube:n=4,k=1 --scheme bcube --fail links --rate 0.25 --seed 3 --json)
[ "$(echo "$out" | jget "['sweep'][0]['failed']")" = 8 ] || fail "failed links"

# shuffle: VL2's 1:1 Clos never binds below the NICs
out=$($P sim shuffle --topo vl2:da=4,di=4,per_tor=5 --scheme vl2 --json)
[ "$(echo "$out" | jget "['efficiency']")" = 1.0 ] || fail "vl2 efficiency"
[ "$(echo "$out" | jget "['servers']")" = 20 ] || fail "shuffle servers"
out=$($P sim shuffle --topo fattree:k=4 --scheme vl2 --routing ecmp --size 100 --json)
python3 -c "import sys; e=float(sys.argv[1]); sys.exit(not 0 < e <= 1)" \
	"$(echo "$out" | jget "['efficiency']")" || fail "ecmp efficiency"
$P sim shuffle --topo fattree:k=4 --scheme vl2 | grep -q '^efficiency' || fail "shuffle human"

# bad command lines
expect_fail "abt without scheme" $P sim abt --topo bcube:n=4,k=1
expect_fail "abt bad scheme" $P sim abt --topo bcube:n=4,k=1 --scheme nope
expect_fail "abt bcube on fat-tree" $P sim abt --topo fattree:k=4 --scheme bcube
expect_fail "abt vlb on bcube" $P sim abt --topo bcube:n=4,k=1 --scheme vl2
expect_fail "abt rate without fail" $P sim abt --topo fattree:k=4 --scheme vl2 --rate 0.1
expect_fail "abt bad rate" $P sim abt --topo fattree:k=4 --scheme vl2 --fail links --rate 2
expect_fail "abt bad fail" $P sim abt --topo fattree:k=4 --scheme vl2 --fail disks
expect_fail "abt plot without sweep" $P sim abt --topo fattree:k=4 --scheme vl2 --plot "$tmp/x.svg"
expect_fail "abt plot quote" $P sim abt --topo fattree:k=4 --scheme vl2 --fail links --plot "$tmp/a'b.svg"
$P sim abt --topo fattree:k=4 --scheme peregrine | grep -q 'peregrine, trees routing' || fail "peregrine trees"
expect_fail "shuffle too big" $P sim shuffle --topo vl2:da=144,di=144 --scheme vl2
expect_fail "shuffle bad size" $P sim shuffle --topo fattree:k=4 --scheme vl2 --size 0
# --link-mbps: every link at the lab's shaped rate (lab shuffle's optimum)
out=$($P sim abt --topo bcube:n=4,k=1 --scheme bcube --link-mbps 20 --json)
echo "$out" | jq -e '.abt == 0.4 and .formula == 0.4 and .link_mbps == 20' >/dev/null ||
	fail "abt --link-mbps 20: $out"
out=$($P sim shuffle --topo bcube:n=4,k=1 --scheme bcube --link-mbps 20 --size 1 --json)
echo "$out" | jq -e '.goodput_gbps == 0.4 and .ideal_gbps == 0.64' >/dev/null ||
	fail "shuffle --link-mbps 20: $out"
out=$($P sim shuffle --topo bcube:n=4,k=1 --scheme bcube --link-mbps 20 --size 1 \
	--fail servers --rate 0.0625 --json)
echo "$out" | jq -e '.failed == 1 and .servers == 15 and (.goodput_gbps - 0.35 | fabs) < 1e-9' \
	>/dev/null || fail "shuffle --fail servers: $out"
expect_fail "shuffle rate without fail" $P sim shuffle --topo fattree:k=4 --scheme vl2 --rate 0.1
expect_fail "shuffle bad link rate" $P sim shuffle --topo fattree:k=4 --scheme vl2 --link-mbps 0
$P sim abt --help | grep -q 'Usage: peregrine sim abt' || fail "abt help"
$P sim shuffle --help | grep -q 'Usage: peregrine sim shuffle' || fail "shuffle help"
echo "sim throughput cli: all checks passed"
