#!/bin/bash
# Forwarding through switchd: entries installed by hand carry srv0 <-> srv4
# across the fabric and nothing else passes; the FIB capacity holds; a link
# going down is reported within 50 ms; a switch failure empties its FIB.
#
#                 spine0 (p0: leaf0, p2: leaf2)
#                /      \
#   leaf0 (p0: spine0,   leaf2 (p0: spine0,
#          p2: srv0,            p2: srv4,
#          p3: srv1)            p3: srv5)
#     |      \                |      \
#   srv0    srv1 (no entries) srv4   srv5 (must see nothing)
#   10.200.0.1                10.200.0.5        (NIC 0 of each)
#
# Lab "pgt": the default topology, FIB capacity 4 on every switch.
set -eu
cd "$(dirname "$0")/.."
. tests/lib.sh
need_root
need_cmd ip
need_cmd ping
need_cmd python3
P=$PEREGRINE_BIN
# A bare fabric, programmed by hand: the lab starts no RAS (docs/ras.md).
export PEREGRINE_NO_RAS=1
PT=$(test_prefix t)
L="--prefix ${PT}"
tmp=$(mktemp -d)
listener=
cleanup() {
	[ -n "$listener" ] && kill "$listener" 2>/dev/null
	$P lab down $L >/dev/null 2>&1 || true
	rm -rf "$tmp"
}
trap cleanup EXIT

jget() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
mac() { ip -n "${PT}-$1" -j link show "${PT}-nic$2" | jget "d[0]['address']"; }
rx() { ip -n "${PT}-$1" -s -j link show "${PT}-nic$2" | jget "d[0]['stats64']['rx']['packets']"; }
pings() { ip netns exec "${PT}-$1" ping -c "$3" -i 0.2 -W 1 -I ${PT}-nic0 "$2" >/dev/null 2>&1; }

cat >"$tmp/lab.yaml" <<EOF
name: fabric
topology: leafspine:spines=2,leaves=4,servers=2,homing=2
fib: 4
EOF
$P lab up "$tmp/lab.yaml" $L

M0=$(mac srv0 0)
M4=$(mac srv4 0)
[ "$M0" = 02:00:00:02:00:02 ] || fail "srv0 nic0 MAC $M0"   # node 1, primary
[ "$M4" = 02:00:00:02:00:0a ] || fail "srv4 nic0 MAC $M4"   # node 5, primary

# Nothing is installed: nothing passes.
if pings srv0 10.200.0.5 2; then fail "srv0 reached srv4 with empty FIBs"; fi

# srv0 <-> srv4 through leaf0, spine0, leaf2 (ports by neighbour name).
$P lab fib add leaf0 "$M4" spine0 "$M0" srv0 $L
$P lab fib add spine0 "$M4" leaf2 "$M0" leaf0 $L
$P lab fib add leaf2 "$M4" srv4 "$M0" spine0 $L
$P lab fib dump leaf2 $L --json | jget "d['entries']" | grep -q "'port': 2" || fail "dump"
ip netns exec ${PT}-leaf2 bridge fdb show br ${PT}-br | grep -q "$M4 dev ${PT}-p2 master ${PT}-br static" \
	|| fail "the kernel bridge lacks the entry"

declare -A before
for s in srv1 srv2 srv3 srv5 srv6 srv7; do
	before[$s]="$(rx $s 0) $(rx $s 1)"
done
pings srv0 10.200.0.5 5 || fail "srv0 cannot reach srv4 across the fabric"
pings srv4 10.200.0.1 5 || fail "srv4 cannot reach srv0 across the fabric"
echo "ok: srv0 <-> srv4 over leaf0, spine0, leaf2"
# srv1 shares leaf0 with srv0, but no switch knows srv1's MAC: no answer.
if pings srv1 10.200.0.5 2; then fail "srv1 reached srv4 without entries"; fi
echo "ok: srv1 (no entries) cannot reach srv4"
# Nobody else saw a single frame: no flooding anywhere (srv1 only sent).
for s in srv1 srv2 srv3 srv5 srv6 srv7; do
	now="$(rx $s 0) $(rx $s 1)"
	[ "$now" = "${before[$s]}" ] || fail "$s received frames (${before[$s]} -> $now)"
done
echo "ok: srv1 srv2 srv3 srv5 srv6 srv7 received nothing"

# FIB capacity 4: leaf0 holds 2, so of three more, two fit.
out=$($P lab fib add leaf0 02:50:47:00:01:01 2 02:50:47:00:01:02 2 02:50:47:00:01:03 2 $L --json) && \
	fail "an over-capacity add succeeded"
echo "$out"
[ "$(echo "$out" | jget "[o['status'] for o in d['ops']]")" = "['ok', 'ok', 'fib full']" ] \
	|| fail "capacity: $out"
[ "$(echo "$out" | jget "d['fib_used']")" = 4 ] || fail "fib_used"
[ "$(ip netns exec ${PT}-leaf0 bridge fdb show br ${PT}-br | grep -c static)" = 4 ] \
	|| fail "the kernel holds other than 4 entries"
$P lab fib del leaf0 02:50:47:00:01:01 $L >/dev/null
$P lab fib add leaf0 02:50:47:00:01:03 2 $L >/dev/null || fail "a delete did not free a slot"
echo "ok: FIB capacity enforced"

# Link reports: a stand-in RAS in the management namespace; take a port of
# leaf2 down from the server's side and time it.
$P lab exec mgmt $L -- $P swctl --key /run/peregrine/lab-${PT}/key listen 172.31.0.1:7500 \
	--count 2 --timeout 10000 >"$tmp/reports" &
listener=$!
# `ip` reads its commands from a pipe and is already running, so the time
# measured is the kernel's, switchd's and the network's, not a process start.
mkfifo "$tmp/ipcmds"
ip -n ${PT}-srv5 -batch - <"$tmp/ipcmds" &
ipb=$!
exec 7>"$tmp/ipcmds"
sleep 0.5
t0=$(date +%s%N)
echo "link set ${PT}-nic0 down" >&7
sleep 0.3
echo "link set ${PT}-nic0 up" >&7
exec 7>&-
wait "$ipb" || fail "ip -batch failed"
wait "$listener" || true
listener=
cat "$tmp/reports"
line=$(grep 'state=down' "$tmp/reports" | head -1)
[ -n "$line" ] || fail "no down report"
echo "$line" | grep -q "switch=4 port=3" || fail "wrong switch/port: $line"  # leaf2 = node 4
grep -q 'state=up' "$tmp/reports" || fail "no up report"
t1=$(echo "$line" | sed 's/.*recv_ns=//')
ms=$(( (t1 - t0) / 1000000 ))
us=$(( (t1 - t0) / 1000 ))
echo "link down reported in $us us (from before 'ip link set down' to arrival)"
[ "$ms" -lt 50 ] || fail "link report took $ms ms (limit 50)"

# A link failure by name: srv0 -- leaf0 down, traffic stops; up, it flows.
$P lab link down srv0 leaf0 $L
$P lab status $L --json | jget "[l['state'] for l in d['links'] if l['a']=='srv0' or l['b']=='srv0']" \
	| grep -q down || fail "status does not show the link down"
if pings srv0 10.200.0.5 1; then fail "ping over a downed link"; fi
$P lab link up srv0 leaf0 $L
sleep 0.2
pings srv0 10.200.0.5 3 || fail "no traffic after link up"

# Junk on the management network (wrong lengths, no valid tag) is counted
# and dropped; switchd keeps answering.
ip netns exec ${PT}-mgmt python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for n in range(300):
    s.sendto(bytes((n * 7 + i) % 256 for i in range(n % 120)) + b"PS\x01\x01" * (n % 5),
             ("172.31.0.2", 7400))
'
$P lab fib dump spine0 $L >/dev/null || fail "spine0's switchd stopped answering after junk"

# A switch failure: spine0 down stops traffic; its four neighbours witness
# it (each reports its port 0 down); back up it starts empty.
# Reports of the earlier link events that no one acknowledged are still
# being retransmitted and may arrive first: wait for the four that matter.
$P lab exec mgmt $L -- $P swctl --key /run/peregrine/lab-${PT}/key listen 172.31.0.1:7500 \
	--count 32 --timeout 10000 >"$tmp/witness" &
listener=$!
sleep 0.5
$P lab node down spine0 $L
witnessed() {
	for sw in 2 3 4 5; do	# leaf0..leaf3; spine0 is port 0 of each
		grep -q "switch=$sw port=0 state=down" "$tmp/witness" || return 1
	done
}
for _ in $(seq 100); do witnessed && break; sleep 0.1; done
kill "$listener" 2>/dev/null || true
wait "$listener" 2>/dev/null || true
listener=
cat "$tmp/witness"
for sw in 2 3 4 5; do
	grep -q "switch=$sw port=0 state=down" "$tmp/witness" || fail "leaf (node $sw) did not witness"
done
$P lab logs spine0 $L | grep -q "dropped [0-9]* datagrams" || fail "junk not counted in spine0's log"
$P lab logs spine0 $L | grep -q "stopped" || fail "spine0's switchd did not stop cleanly"
$P lab status $L --json | jget "[n['daemons']['switchd'] for n in d['nodes'] if n['name']=='spine0'][0]" \
	| grep -q None || fail "spine0's switchd still runs"
if pings srv0 10.200.0.5 1; then fail "ping through a failed switch"; fi
$P lab node up spine0 $L
[ "$($P lab status $L --json | jget "[n['fib_used'] for n in d['nodes'] if n['name']=='spine0'][0]")" = 0 ] \
	|| fail "spine0 did not restart empty"
if pings srv0 10.200.0.5 1; then fail "ping through an empty spine"; fi
$P lab fib add spine0 "$M4" leaf2 "$M0" leaf0 $L >/dev/null
pings srv0 10.200.0.5 3 || fail "no traffic after reprogramming spine0"
echo "ok: switch failure and recovery"
