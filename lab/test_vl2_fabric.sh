#!/bin/bash
# The VL2 scheme's fabric (docs/vl2.md): FRR's OSPF on routed switches,
# ECMP, and what a link and an intermediate failure cost.
#
#          int0            int1           intermediates: anycast 10.111.255.254
#         /  |  \  \      /  |  \  \
#      agg0 agg1 agg2 agg3               (every agg to both intermediates)
#       | \ / |   | \ / |
#      tor0 tor1 tor2 tor3               (each ToR to both aggs of its pair)
#      /  \  ...        \
#   srv0 srv1   ...  srv6 srv7           (LA: its end of the ToR link)
#
# Checks: FRR runs in every switch and is recorded; every server reaches
# every other server's LA; a ToR has two next hops to another pair's ToR and
# to the anycast address; a 10,000 datagram/s stream srv0 -> srv7 survives
# the cut of the ToR uplink it uses, then the failure of the intermediate
# it uses, each with a loss gap under 1 s (printed: it is the figure in
# docs/vl2.md); `lab down` leaves no FRR process.
set -eu
cd "$(dirname "$0")/.."
. tests/lib.sh
need_root
need_cmd ip
need_cmd jq
[ -x /usr/lib/frr/ospfd ] || skip "needs frr (scripts/deps.sh)"
P=$PEREGRINE_BIN
X=$(test_prefix w)
L="--prefix $X"
tmp=$(mktemp -d)
rpid=
cleanup() {
	[ -n "$rpid" ] && kill "$rpid" 2>/dev/null
	$P lab down $L >/dev/null 2>&1 || true
	rm -rf "$tmp"
}
trap cleanup EXIT
ex() { $P lab exec "$1" $L -- "${@:2}"; }
la() { ip -n "$X-$1" -4 -o addr show "$X-nic0" | awk '{print $4}' | cut -d/ -f1; }

cat >"$tmp/vl2.yaml" <<'YAML'
name: vl2-test
scheme: vl2
topology: vl2:da=4,di=4,per_tor=2
vdcs: [{name: red, id: 1, subnet: 10.0.0.0/24}]
placement: {per_server: 1}
YAML
t0=$(date +%s.%N)
$P lab up "$tmp/vl2.yaml" $L >/dev/null
echo "ok: VL2 lab up in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b - a}') s"

st=/run/peregrine/lab-$X
for sw in int0 int1 agg0 agg3 tor0 tor3; do
	for d in zebra bfdd ospfd; do
		pid=$(cat "$st/pids/$sw.$d")
		[ "$(readlink /proc/$pid/ns/net)" = "$(ip netns exec "$X-$sw" readlink /proc/self/ns/net)" ] ||
			fail "$d of $sw (pid $pid) does not run in $X-$sw"
	done
done
grep -q "wait-ospf tor3" "$st/setup/steps" || fail "no wait-ospf step"
if out=$($P trace $L red 10.0.0.1 10.0.0.2 2>&1); then fail "trace followed a VL2 lab: $out"; fi
echo "$out" | grep -q "runs scheme vl2, which trace does not follow" || fail "trace: $out"
if out=$($P trace $L --scheme peregrine red 10.0.0.1 10.0.0.2 2>&1); then fail "trace: $out"; fi
echo "$out" | grep -q "runs scheme vl2, not peregrine" || fail "trace --scheme: $out"
echo "ok: trace refuses the VL2 lab and a --scheme it does not run"
echo "ok: zebra, bfdd, ospfd recorded and running in every switch looked at"

servers="srv0 srv1 srv2 srv3 srv4 srv5 srv6 srv7"
for a in $servers; do
	for b in $servers; do
		[ "$a" = "$b" ] && continue
		ex "$a" ping -c 1 -W 1 -q "$(la "$b")" >/dev/null || fail "$a cannot reach $b's LA"
	done
done
echo "ok: every server reaches every other server's LA (56 pairs)"

tor3_la=10.112.0.10	# node 9 (int0 int1 agg0..3 tor0..3)
n=$(ip -n "$X-tor0" -4 route show "$tor3_la" | grep -c nexthop) || true
[ "$n" -eq 2 ] || fail "tor0 has $n next hops to tor3's LA, not 2"
n=$(ip -n "$X-agg0" -4 route show 10.111.255.254 | grep -c nexthop) || true
[ "$n" -eq 2 ] || fail "agg0 has $n next hops to the anycast address, not 2"
echo "ok: ECMP: two next hops from tor0 to tor3, from agg0 to the intermediates"

# A stream srv0 -> srv7; which way it goes is read from the counters.
s0=$(la srv0)
s7=$(la srv7)
stream() {	# NAME: a 3 s stream at 10,000/s, receiver's JSON in $tmp/NAME.json
	ex srv7 $P probe recv --listen "$s7:9000" --duration 20 --idle 2 --json >"$tmp/$1.json" &
	rpid=$!
	for _ in $(seq 100); do
		ip netns exec "$X-srv7" ss -Hlun "sport = :9000" | grep -q . && break
		sleep 0.05
	done
	ex srv0 $P probe send --to "$s7:9000" --bind "$s0:40000" --rate 10000 --count 30000 \
		2>/dev/null &
	spid=$!
	sleep 0.3
}
finish() {	# NAME WHAT
	wait "$spid"
	wait "$rpid"
	rpid=
	[ "$(jq .received "$tmp/$1.json")" -gt 20000 ] ||
		fail "$2: the stream did not recover ($(jq -c . "$tmp/$1.json"))"
	gap=$(jq '[.loss_gaps[].gap_ms] | max // 0' "$tmp/$1.json")
	# carrier loss reaches the kernel and zebra at once; 1 s is far above
	# what that costs and far below OSPF's dead interval (4 s)
	awk -v g="$gap" 'BEGIN { exit !(g < 1000) }' ||
		fail "$2: a loss gap of $gap ms: the fabric waited for a timer"
	echo "ok: $2: lost $(jq .lost "$tmp/$1.json") of 30000, longest loss gap $gap ms"
}
pkts() {	# NODE PORT DIR: packets through the port so far
	ip netns exec "$X-$1" cat "/sys/class/net/$X-$2/statistics/${3}_packets"
}
busier() {	# NODE DIR PORT_A NAME_A PORT_B NAME_B: the name of the busier port over 0.2 s
	local a0 b0 a1 b1
	a0=$(pkts "$1" "$3" "$2"); b0=$(pkts "$1" "$5" "$2")
	sleep 0.2
	a1=$(pkts "$1" "$3" "$2"); b1=$(pkts "$1" "$5" "$2")
	if [ $((a1 - a0)) -gt $((b1 - b0)) ]; then echo "$4"; else echo "$6"; fi
}

stream link
agg=$(busier tor0 tx p0 agg0 p1 agg1)	# ToR ports 0 and 1 go up
echo "   tor0 sends the flow to $agg: tx $(pkts tor0 p0 tx), $(pkts tor0 p1 tx) packets on p0, p1"
$P lab link down tor0 "$agg" $L
finish link "tor0-$agg cut (the uplink the flow used)"
$P lab link up tor0 "$agg" $L
sleep 5	# hellos every second: the adjacency is back well within this

stream int
# every intermediate's port 0 goes to agg0, port 1 to agg1, ...: compare
# what each forwards in all
i0=0; i1=0
for p in p0 p1 p2 p3; do
	i0=$((i0 - $(pkts int0 $p rx))); i1=$((i1 - $(pkts int1 $p rx)))
done
sleep 0.2
for p in p0 p1 p2 p3; do
	i0=$((i0 + $(pkts int0 $p rx))); i1=$((i1 + $(pkts int1 $p rx)))
done
int=$([ "$i0" -gt "$i1" ] && echo int0 || echo int1)
echo "   packets into int0, int1 over 0.2 s: $i0, $i1"
$P lab node down "$int" $L
finish int "$int down (the intermediate the flow used)"
$P lab node up "$int" $L
ex srv0 ping -c 1 -W 1 -q "$s7" >/dev/null || fail "no path after $int came back"
echo "ok: $int back, OSPF converged again"

cp "$st/setup/steps" "$tmp/steps"
$P lab down $L >/dev/null
for f in /proc/[0-9]*/cmdline; do
	{ tr '\0' ' ' <"$f"; } 2>/dev/null | grep -q -- "-N $X-" &&
		fail "an FRR process of $X outlived lab down ($f)"
done
echo "ok: lab down stopped every FRR daemon"

# Rollback: `up` failing at VL2's own steps (the settings and decapsulation,
# an FRR daemon's start, the wait for OSPF) leaves no namespace and no FRR
# process behind.
no_remains() {	# WHAT
	ip netns list | grep -q "^$X-" && fail "$1: namespaces of $X remain"
	for f in /proc/[0-9]*/cmdline; do
		{ tr '\0' ' ' <"$f"; } 2>/dev/null | grep -q -- "-N $X-" &&
			fail "$1: an FRR process of $X remains ($f)"
	done
	[ ! -e "/run/peregrine/lab-$X" ] || fail "$1: the state directory remains"
}
for kind in "settings-vl2 all" "start-ospfd tor3" "wait-ospf int0"; do
	n=$(grep " $kind\$" "$tmp/steps" | cut -d' ' -f1)
	[ -n "$n" ] || fail "no step '$kind' in $(tr '\n' ';' <"$tmp/steps")"
	if out=$(PEREGRINE_LAB_FAIL_AFTER=$((n - 1)) $P lab up "$tmp/vl2.yaml" $L 2>&1); then
		fail "up did not fail at step $n ($kind)"
	fi
	echo "$out" | grep -q "injected failure at step $n, $kind" || fail "step $n: $out"
	no_remains "failure at step $n ($kind)"
done
echo "ok: up failing at settings-vl2, start-ospfd, wait-ospf rolls everything back"
