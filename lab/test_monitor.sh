#!/bin/bash
# `peregrine monitor` (docs/monitor.md): every daemon of the default lab
# serves its events at /events beside its metrics; the monitor merges them.
# A link cut under traffic must show, in time order, both switchds' link
# events, the RAS's reprogramming with its duration, the directory's push
# and the pushes applied by the agent whose peer's tree was withdrawn; the
# filters keep only what they name;
# bad options are refused.
set -eu
cd "$(dirname "$0")/.."
. tests/lib.sh
need_root
need_cmd ip
need_cmd jq
need_cmd curl
P=$PEREGRINE_BIN
PT=$(test_prefix o)
L="--prefix $PT"
tmp=$(mktemp -d)
mon=""
cleanup() {
	[ -n "$mon" ] && kill "$mon" 2>/dev/null || true
	$P lab down $L >/dev/null 2>&1 || true
	rm -rf "$tmp"
}
trap cleanup EXIT

$P lab up $L >/dev/null
ex() { $P lab exec "$1" $L -- "${@:2}"; }
# the pair resolved at both ends
ex red-srv0 ping -c 3 -i 0.2 -W 1 -q 10.0.0.5 >/dev/null
$P monitor $L --json --duration 8 >"$tmp/all.json" 2>"$tmp/all.err" &
mon=$!
$P monitor $L --kind link --duration 8 >"$tmp/link.txt" 2>/dev/null &
m2=$!
$P monitor $L --vm red-srv4 --json --duration 8 >"$tmp/vm.json" 2>/dev/null &
m3=$!
sleep 2
ex red-srv0 ping -c 40 -i 0.05 -q 10.0.0.5 >/dev/null 2>&1 &
sleep 0.5
$P lab link down leaf0 spine0 $L >/dev/null
wait "$mon" "$m2" "$m3" || true
mon=""
[ ! -s "$tmp/all.err" ] || { cat "$tmp/all.err"; fail "the monitor complained"; }

kinds() { jq -r "select(.daemon == \"$1\" and .kind == \"$2\") | .node" "$tmp/all.json" | sort | paste -sd' '; }
[ "$(kinds switchd link)" = "$PT-leaf0 $PT-spine0" ] || fail "link events: '$(kinds switchd link)'"
jq -s -e 'any(.[]; .daemon == "switchd" and (.port != 0 or .up != false))' "$tmp/all.json" >/dev/null &&
	fail "a link event other than port 0 down"
ms=$(jq -r 'select(.kind == "reprogrammed") | .ms' "$tmp/all.json" | head -1)
[ -n "$ms" ] || fail "no reprogrammed event from the RAS"
jq -s -e 'any(.[]; .daemon == "directory" and .kind == "push" and .pushes > 0)' "$tmp/all.json" >/dev/null ||
	fail "no push event from the directory"
# srv0 holds red-srv4's entry, whose tree the cut takes from srv0's leaf:
# the RAS withdraws it and gives it back, and srv0's agent applies both
# pushes.  (srv4 need not: a tree of srv0's that the RAS only moves, to
# srv0's other leaf, stays available, docs/ras.md.)
jq -s -e "any(.[]; .daemon == \"agent\" and .node == \"$PT-srv0\" and .kind == \"push\")" "$tmp/all.json" \
	>/dev/null || fail "no push applied by srv0's agent"
# in time order, the cut before what it caused
jq -s -e '[.[].ts_ns] as $t | $t == ($t | sort)' "$tmp/all.json" >/dev/null || fail "not in time order"
# (the agents' per-second drop reports come whenever their data plane
# dropped something, before the cut too)
first=$(jq -s -r '[.[] | select(.kind != "drops")][0] | .daemon + " " + .kind' "$tmp/all.json")
[ "$first" = "switchd link" ] || fail "the first event is '$first', not a link"
echo "ok: a link cut: $(jq -s length "$tmp/all.json") events, RAS reprogrammed in $ms ms"

# filters
[ "$(wc -l <"$tmp/link.txt")" -eq 2 ] || { cat "$tmp/link.txt"; fail "--kind link: expected 2 lines"; }
grep -q ' switchd  *leaf0  *link  *port=0 up=false$' "$tmp/link.txt" || fail "text line: $(head -1 "$tmp/link.txt")"
[ -s "$tmp/vm.json" ] || fail "--vm red-srv4: nothing"
jq -s -e 'any(.[]; .vdc != 1 or .ip != "10.0.0.5")' "$tmp/vm.json" >/dev/null && fail "--vm let others through"
echo "ok: --kind and --vm keep only what they name"

# history, and bad input
[ "$($P monitor $L --from-start --kind link --count 1 --json | jq -r .kind)" = link ] ||
	fail "--from-start --count 1"
expect_fail "no such lab" $P monitor --prefix zz9 --duration 1
expect_fail "unknown VM" $P monitor $L --vm nosuch --duration 1
expect_fail "bad endpoint" $P monitor --endpoint 1.2.3:80 --duration 1
expect_fail "both sources" $P monitor $L --endpoint 127.0.0.1:9 --duration 1
expect_fail "bad duration" $P monitor $L --duration -1
expect_fail "unknown option" $P monitor $L --frobnicate 1
code=$(ip netns exec "$PT-mgmt" curl -s -o /dev/null -w '%{http_code}' 'http://172.31.0.1:9461/events?after=x')
[ "$code" = 400 ] || fail "/events?after=x answered $code"
echo "ok: bad options and requests refused"
