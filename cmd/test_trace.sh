#!/bin/bash
# peregrine trace on a lab whose state is set by hand: the data plane of srv0
# loaded with one GARP entry, srv4's primary MAC installed along
# leaf0 -> spine0 -> leaf2, nothing for its backup MAC.
#
#        spine0                 spine1
#       /      \
#   leaf0 ...  leaf2            (default lab, prefix $X)
#    |            |
#   srv0         srv4
#   red-srv0     red-srv4 (10.0.0.5)
#
# trace must follow that path, then explain a port that is down, a missing
# entry on the backup tree, the data plane's own drops, an uncached
# destination and bad arguments.
set -eu
cd "$(dirname "$0")/.."
. tests/lib.sh
need_root
need_cmd python3
P=$PEREGRINE_BIN
# State set by hand: the lab starts no RAS (docs/ras.md).
export PEREGRINE_NO_RAS=1
X=$(test_prefix r)
cleanup() {
	$P dp unload "$X-srv0" --netns "$X-srv0" >/dev/null 2>&1 || true
	$P lab down --prefix "$X" >/dev/null 2>&1 || true
}
trap cleanup EXIT
jget() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

$P lab up --prefix "$X" >/dev/null
# This test fills srv0's data plane by hand: stop the agent the lab started
# there once it is up (SIGTERM removes its data plane).
ST=/run/peregrine/lab-$X
for i in $(seq 100); do
	grep -q "NICs" "$ST/logs/srv0.agent.log" 2>/dev/null && break
	sleep 0.1
done
apid=$(cat "$ST/pids/srv0.agent")
kill -TERM "$apid"
while kill -0 "$apid" 2>/dev/null; do sleep 0.05; done
SRV0=02:00:00:02:00:02,02:00:00:02:00:03      # server 0 = node 1
SRV4=02:00:00:02:00:0a,02:00:00:02:00:0b      # server 4 = node 5
VM=$($P lab exec red-srv4 --prefix "$X" -- ip -j link show "$X-eth0" | jget "d[0]['address']")
$P dp load "$X-srv0" --server-mac $SRV0 --nic "$X-nic0" --nic "$X-nic1" --veth-nics \
	--netns "$X-srv0" >/dev/null
garp() {
	$P dp garp "$X-srv0" --vdc 1 --ip 10.0.0.5 --vm-mac "$VM,${VM%?}3" --im-mac $SRV4 \
		--nic "$X-nic0,$X-nic1" --netns "$X-srv0" "$@"
}
garp
$P lab fib add leaf0 02:00:00:02:00:0a spine0 --prefix "$X" >/dev/null
$P lab fib add spine0 02:00:00:02:00:0a leaf2 --prefix "$X" >/dev/null
$P lab fib add leaf2 02:00:00:02:00:0a srv4 --prefix "$X" >/dev/null

out=$($P trace red 10.0.0.1 10.0.0.5 --prefix "$X" --json)
[ "$(echo "$out" | jget "[h['node'] for h in d['hops']]")" = "['leaf0', 'spine0', 'leaf2']" ] \
	|| fail "path: $out"
[ "$(echo "$out" | jget "d['agent']['mode'], d['agent']['tree'], d['agent']['nic']")" = \
  "indirect 0 $X-nic0" ] || fail "decision: $out"
[ "$(echo "$out" | jget "d['agent']['dst_mac']")" = 02:00:00:02:00:0a ] || fail "dst mac"
# source address = destination id : source id
[ "$(echo "$out" | jget "d['agent']['src_mac'][:8]")" = "${VM:9:8}" ] || fail "src mac: $out"
[ "$(echo "$out" | jget "d['dst_vm']")" = red-srv4 ] || fail "delivery: $out"
echo "ok: primary path leaf0 -> spine0 -> leaf2 -> srv4"

$P lab link down spine0 leaf2 --prefix "$X"
sleep 0.2
out=$($P trace red 10.0.0.1 10.0.0.5 --prefix "$X" --json)
echo "$out" | jget "d['verdict']" | grep -q 'port is down' || fail "link down: $out"
$P lab link up spine0 leaf2 --prefix "$X"
echo "ok: a cut link is named"

garp --avail im-bak
out=$($P trace red 10.0.0.1 10.0.0.5 --prefix "$X" --json)
[ "$(echo "$out" | jget "d['agent']['tree'], d['agent']['nic']")" = "1 $X-nic1" ] \
	|| fail "backup choice: $out"
echo "$out" | jget "d['verdict']" | grep -q 'no forwarding entry' || fail "no entry: $out"
echo "ok: backup tree chosen, its missing entry is named"

# The agent's decision is the data plane's own (bpf/fwd.h): an entry that
# says local for a VM the server's VM table does not hold is dropped there,
# and so is an indirect entry without an available intermediary.
garp --local
out=$($P trace red 10.0.0.1 10.0.0.5 --prefix "$X" --json)
echo "$out" | jget "d['verdict']" | grep -q 'dropped by the agent: local destination VM not in the VM table' \
	|| fail "local miss: $out"
[ "$(echo "$out" | jget "d['delivered_to']")" = None ] || fail "local miss delivered: $out"
garp --avail vm-pri,vm-bak
out=$($P trace red 10.0.0.1 10.0.0.5 --prefix "$X" --json)
echo "$out" | jget "d['verdict']" | grep -q 'dropped by the agent: no available MAC' \
	|| fail "nothing available: $out"
echo "ok: the data plane's drops are named"

out=$($P trace red 10.0.0.1 10.0.0.7 --prefix "$X" --json)
[ "$(echo "$out" | jget "d['agent']['cached']")" = False ] || fail "uncached: $out"
expect_fail "unknown VDC" $P trace green 10.0.0.1 10.0.0.5 --prefix "$X"
expect_fail "unknown source" $P trace red 10.9.9.9 10.0.0.5 --prefix "$X"
expect_fail "no such lab" $P trace red 10.0.0.1 10.0.0.5 --prefix zz9
expect_fail "missing arguments" $P trace red 10.0.0.1
echo "trace: all checks passed"
