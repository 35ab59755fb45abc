#!/bin/bash
# The RAS in a lab: `lab up` starts it and it programs the fabric; a link on
# the path of a stream is cut and the stream loses under 10 ms in all; repeated link and switch
# failures and recoveries leave every FIB equal to a fresh computation; a
# restarted RAS changes nothing and a ping stream loses nothing.
#
#            spine0          spine1
#           /  |  \  \      /  |  \  \
#      leaf0 leaf1 leaf2 leaf3   (every leaf to both spines)
#        \   /       \   /
#      srv0..srv3   srv4..srv7    (dual-homed: leaf0+leaf1, leaf2+leaf3)
#      10.200.0.1   10.200.0.5    (NIC 0: the primary MAC, tree 0)
#
# The RAS runs in P-mgmt (172.31.0.1:7500), the default lab's topology.
set -eu
cd "$(dirname "$0")/.."
. tests/lib.sh
# The RAS is tested on the bare fabric: plain server-to-server traffic, which
# the agents' data plane (on every server with VMs) would not pass.
export PEREGRINE_NO_AGENT=1
need_root
need_cmd ip
need_cmd ping
need_cmd python3
need_cmd jq
P=$PEREGRINE_BIN
PR=$(test_prefix r)
L="--prefix ${PR}"
STATE=/run/peregrine/lab-${PR}
tmp=$(mktemp -d)
raspid=
cleanup() {
	[ -n "$raspid" ] && kill "$raspid" 2>/dev/null
	$P lab down $L >/dev/null 2>&1 || true
	rm -rf "$tmp"
}
trap cleanup EXIT

pings() { ip netns exec "${PR}-$1" ping -c "$3" -i 0.2 -W 1 -I ${PR}-nic0 "$2" >/dev/null 2>&1; }

# Every switch's FIB equal to a fresh computation (ras --print-fib) with the
# failures given as arguments (--fail-link A,B ...).
fibs_equal() {
	$P ras --lab ${PR} --print-fib --json "$@" >"$tmp/want.json"
	for sw in spine0 spine1 leaf0 leaf1 leaf2 leaf3; do
		$P lab fib dump $sw $L --json >"$tmp/have.$sw.json" || return 1
	done
	python3 - "$tmp" <<'EOF'
import json, sys
d = sys.argv[1]
want = json.load(open(d + "/want.json"))
for sw, entries in want.items():
    have = json.load(open("%s/have.%s.json" % (d, sw)))["entries"]
    w = sorted((e["mac"], e["port"]) for e in entries)
    h = sorted((e["mac"], e["port"]) for e in have)
    if w != h:
        print("%s: have %d entries, want %d; differ: %s" % (sw, len(h), len(w),
              sorted(set(w) ^ set(h))[:4]))
        sys.exit(1)
EOF
}

wait_fibs() {
	for _ in $(seq 50); do
		fibs_equal "$@" >"$tmp/diff" 2>&1 && return 0
		sleep 0.1
	done
	cat "$tmp/diff"
	return 1
}

$P lab up $L >/dev/null
[ -f "$STATE/pids/mgmt.ras" ] || fail "lab up did not start the RAS"
wait_fibs || fail "the RAS did not program the fabric"
for sw in spine0 spine1 leaf0 leaf1 leaf2 leaf3; do
	n=$($P lab fib dump $sw $L --json | python3 -c "import json,sys; print(len(json.load(sys.stdin)['entries']))")
	[ "$n" = 16 ] || fail "$sw holds $n entries, not 2 per server"
done
echo "ok: lab up: every switch holds 2 entries per server, as computed"
pings srv0 10.200.0.5 3 || fail "srv0 cannot reach srv4"
pings srv6 10.200.0.2 3 || fail "srv6 cannot reach srv1"
echo "ok: servers on different leaf pairs reach each other"

# The tree-0 path from srv0 (leaf0) to srv4: leaf0's port for srv4's primary MAC.
port=$($P ras --lab ${PR} --print-fib --json |
	python3 -c "import json,sys; print([e['port'] for e in json.load(sys.stdin)['leaf0'] if e['mac']=='02:00:00:02:00:0a'][0])")
case $port in 0) spine=spine0 ;; 1) spine=spine1 ;; *) fail "leaf0 reaches srv4 on port $port" ;; esac
# A 10,000 datagram/s stream on srv0's NIC 0 (the primary MAC, tree 0)
# while the link goes down.  Without agents nothing moves it to the backup
# tree: its loss is the whole fail-over of the switches (switchd's report,
# the RAS's computation, every FIB_OPS acknowledged), which must stay under
# the fail-over target, 10 ms, in all.
ip netns exec ${PR}-srv4 $P probe recv --listen 10.200.0.5:9000 --duration 10 --idle 2 \
	--json >"$tmp/cut.json" &
pr=$!
for _ in $(seq 100); do
	ip netns exec ${PR}-srv4 ss -Hlun "sport = :9000" | grep -q . && break
	sleep 0.05
done
ip netns exec ${PR}-srv0 $P probe send --to 10.200.0.5:9000 --rate 10000 --count 30000 \
	--bind 10.200.0.1:0 >/dev/null &
ps=$!
sleep 1
cut_ns=$($P lab link down leaf0 $spine $L --json | jq .at_ns)
wait "$ps"
wait "$pr"
lost=$(jq .lost "$tmp/cut.json")
jq -e --argjson t "$cut_ns" '.first_ns < $t and $t + 500000000 < .last_ns' "$tmp/cut.json" >/dev/null ||
	fail "the link went down outside the stream"
[ "$(jq .received "$tmp/cut.json")" -gt 0 ] || fail "the stream never arrived"
[ "$lost" -lt 100 ] || fail "leaf0-$spine down: the stream lost $lost datagrams ($(jq -c .loss_gaps "$tmp/cut.json"))"
pings srv0 10.200.0.5 3 || fail "srv0 cannot reach srv4 after leaf0-$spine went down"
wait_fibs --fail-link leaf0,$spine || fail "FIBs after leaf0-$spine down"
echo "ok: leaf0-$spine down: the stream lost $lost datagrams ($(jq '.lost / 10' "$tmp/cut.json") ms; longest loss gap $(jq .max_loss_gap_ms "$tmp/cut.json") ms)"
grep "leaf0:[01] - $spine.* down" $STATE/logs/mgmt.ras.log | tail -1
grep "fabric programmed" $STATE/logs/mgmt.ras.log | tail -1

# Failure and recovery cycles: links, then a whole spine.
$P lab link up leaf0 $spine $L
for cycle in 1 2 3; do
	$P lab link down leaf1 spine0 $L
	$P lab link down leaf2 spine1 $L
	wait_fibs --fail-link leaf1,spine0 --fail-link leaf2,spine1 || fail "cycle $cycle: two links down"
	pings srv0 10.200.0.5 1 || fail "cycle $cycle: no path with two links down"
	$P lab link up leaf1 spine0 $L
	$P lab link up leaf2 spine1 $L
	$P lab node down spine1 $L
	sleep 0.3
	pings srv0 10.200.0.5 1 || fail "cycle $cycle: no path with spine1 down"
	$P lab node up spine1 $L
	wait_fibs || fail "cycle $cycle: after recovery"
done
echo "ok: 3 cycles of link and switch failures: every FIB equals a fresh computation"
pings srv0 10.200.0.5 3 || fail "srv0 cannot reach srv4 after the cycles"

# Restart the RAS under a ping stream: it reads the FIBs and changes nothing.
oldpid=$(cat "$STATE/pids/mgmt.ras")
ip netns exec ${PR}-srv0 ping -c 300 -i 0.01 -W 1 -I ${PR}-nic0 10.200.0.5 >"$tmp/ping2" 2>&1 &
pp=$!
sleep 0.5
kill "$oldpid"
for _ in $(seq 30); do kill -0 "$oldpid" 2>/dev/null || break; sleep 0.1; done
raslog="$(test_logs "$tmp")/ras-restarted.log"	# kept by run.sh on failure
ip netns exec ${PR}-mgmt $P ras --lab ${PR} --name ${PR}-mgmt 2>"$raslog" &
raspid=$!
wait "$pp" || true
for _ in $(seq 30); do grep -q "fabric programmed" "$raslog" && break; sleep 0.1; done
cat "$raslog"
grep -q "fabric programmed: .*(0 ops sent" "$raslog" || fail "the restarted RAS changed FIBs"
grep -q ' 0% packet loss' "$tmp/ping2" || fail "loss across the RAS restart: $(grep loss "$tmp/ping2")"
wait_fibs || fail "FIBs after the restart"
echo "ok: RAS restart: no FIB operation, $(grep 'packet loss' "$tmp/ping2")"
# The new RAS handles failures too.
$P lab link down leaf3 spine0 $L
wait_fibs --fail-link leaf3,spine0 || fail "the restarted RAS did not reprogram"
pings srv6 10.200.0.1 3 || fail "srv6 cannot reach srv0 after leaf3-spine0 down"
echo "ok: the restarted RAS handles a link failure"
kill "$raspid"
wait "$raspid" || fail "the RAS did not stop cleanly on SIGTERM"
raspid=
echo "ok: SIGTERM stops it cleanly"
