#!/bin/bash
# A stream started right after a double failure recovers loses nothing.
#
#            spine0          spine1
#           /  |  \  \      /  |  \  \
#      leaf0 leaf1 leaf2 leaf3   (every leaf to both spines)
#        \   /       \   /
#      srv0..srv3   srv4..srv7    (dual-homed: leaf0+leaf1, leaf2+leaf3)
#      red-srv0 ----------> red-srv4   (10.0.0.1 -> 10.0.0.5)
#
# leaf0 loses its link to spine0, then spine1 fails: leaf0 is cut off from
# every spine (switchd takes its server ports down).  Then spine1 and the
# link come back together, and a 10,000 datagram/s stream starts at once.
# Nothing is broken any more, so it must lose nothing (under 10 ms, one
# fail-over's worth, for the scheduling noise of a shared machine).  It lost
# 140-660 ms before the lab gave every veth end its own interface index
# (lab/lab.h, LAB_IFINDEX_BASE): the leaf0-spine0 link had index 2 at both
# ends, and the kernel batches the carrier changes of such a device for up to
# a second.
set -eu
cd "$(dirname "$0")/.."
. tests/lib.sh
need_root
need_cmd ip
need_cmd jq
P=$PEREGRINE_BIN
X=$(test_prefix k)
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

$P lab up $L >/dev/null
for _ in $(seq 100); do
	ex red-srv0 ping -c 1 -W 1 -q 10.0.0.5 >/dev/null 2>&1 && break
	sleep 0.1
done
ex red-srv0 ping -c 2 -i 0.2 -W 1 -q 10.0.0.5 >/dev/null || fail "red-srv0 cannot reach red-srv4"
echo "ok: lab up, red-srv0 reaches red-srv4"

$P lab link down leaf0 spine0 $L
sleep 1
$P lab node down spine1 $L
sleep 2
ex red-srv0 ping -c 2 -i 0.2 -W 1 -q 10.0.0.5 >/dev/null || fail "no path with leaf0 cut off"
echo "ok: leaf0 cut off from both spines, red-srv0 still reaches red-srv4"

$P lab node up spine1 $L
$P lab link up leaf0 spine0 $L
ex red-srv4 $P probe recv --listen 10.0.0.5:9000 --duration 10 --idle 2 --json >"$tmp/s.json" &
rpid=$!
for _ in $(seq 100); do
	ip netns exec "$X-red-srv4" ss -Hlun "sport = :9000" | grep -q . && break
	sleep 0.05
done
ex red-srv0 $P probe send --to 10.0.0.5:9000 --rate 10000 --count 30000 2>/dev/null
wait "$rpid"
rpid=
lost=$(jq .lost "$tmp/s.json")
[ "$(jq .received "$tmp/s.json")" -gt 0 ] || fail "the stream never arrived"
[ "$lost" -lt 100 ] || fail "the stream after the recovery lost $lost datagrams (first arrival: seq $(jq .first_seq "$tmp/s.json"); gaps $(jq -c .loss_gaps "$tmp/s.json"))"
echo "ok: spine1 and leaf0-spine0 back together: a stream started at once lost $lost of 30000"
