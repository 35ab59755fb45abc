#!/bin/bash
# The host agents in the default lab: every VM reaches every VM of its VDC,
# never the other VDC's VM with the same address; a spoofed source is
# dropped and counted; killing and restarting an agent under a stream loses
# nothing (nor makes the stream look heavy to the RAS), and so does killing
# and restarting the directory; SIGHUP detaches and attaches a VM; a leaf
# cut off from both spines takes its server ports down and its servers
# leave by their other NIC.
#
#            spine0        spine1
#           /  |   \      /  |   \          (server MACs installed in the
#      leaf0 leaf1 leaf2 leaf3               switches from `topo routes`)
#        \   /       \   /
#     srv0..srv3   srv4..srv7     one agent each, pinned as P-srvN
#     red-srvN  10.0.0.(N+1)  VDC 1
#     blue-srvN 10.0.0.(N+1)  VDC 2
set -eu
cd "$(dirname "$0")/.."
. tests/lib.sh
need_root
need_cmd ip
need_cmd ping
need_cmd python3
P=$PEREGRINE_BIN
PT=$(test_prefix a)
L="--prefix ${PT}"
ST=/run/peregrine/lab-${PT}
tmp=$(mktemp -d)
rpid=
cleanup() {
	[ -n "$rpid" ] && kill "$rpid" 2>/dev/null
	$P lab down $L >/dev/null 2>&1 || true	# also the agents' pinned data planes
	rm -rf "$tmp"
}
trap cleanup EXIT

TOPO=leafspine:spines=2,leaves=4,servers=2,homing=2
vm() { ip netns exec "${PT}-$1" "${@:2}"; }
# ICMP echo requests a VM received (tests/lib.sh): the pings below are
# echo requests; its own agent's router advertisements and IGMP/MLD queries
# are not another VDC's traffic.  (This read Ip's second field before,
# DefaultTTL, which never changes: the check could not fail.)
rx() { vm "$1" awk "$IN_ECHOS_AWK" /proc/net/snmp; }
stat() {	# stat SERVER COUNTER
	$P dp stats ${PT}-$1 --json |
		python3 -c "import json,sys; d=json.load(sys.stdin); print(d['counters']['$2']['packets'])"
}
agent_pid() { cat "$ST/pids/$1.agent"; }

$P lab up $L >/dev/null
for i in $(seq 100); do	# every agent attached (10 s at most)
	n=$(cat "$ST"/logs/srv*.agent.log 2>/dev/null | grep -c "VMs, 2 NICs" || true)
	[ "$n" = 8 ] && break
	sleep 0.1
done
[ "$n" = 8 ] || fail "only $n of 8 agents started: $(cat "$ST"/logs/srv*.agent.log)"
# Until the RAS programs them: every server's primary MAC along tree 0 and
# its backup MAC along tree 1, on every switch, from the routing core.
lab_tree_fib $TOPO "$PT" || fail "cannot install the tree FIBs"

# ---- all pairs, both VDCs, and isolation --------------------------------
for vdc in red blue; do
	other=$([ $vdc = red ] && echo blue || echo red)
	declare -A before=()
	for n in 0 1 2 3 4 5 6 7; do before[$n]=$(rx $other-srv$n); done
	ok=0
	t0=$(date +%s%N)
	for s in 0 1 2 3 4 5 6 7; do
		for d in 0 1 2 3 4 5 6 7; do
			[ $s = $d ] && continue
			if vm $vdc-srv$s ping -c 1 -W 2 -q 10.0.0.$((d + 1)) >/dev/null; then
				ok=$((ok + 1))
			else
				echo "$vdc-srv$s cannot reach 10.0.0.$((d + 1))"
			fi
		done
	done
	ms=$((($(date +%s%N) - t0) / 1000000))
	echo "$vdc: $ok/56 pairs answered the first ping ($ms ms for all)"
	[ $ok = 56 ] || fail "$vdc: only $ok of 56 pairs reachable"
	leaked=0
	for n in 0 1 2 3 4 5 6 7; do
		a=$(rx $other-srv$n)
		leaked=$((leaked + a - before[$n]))
	done
	echo "$other VMs received $leaked packets while $vdc pinged its own addresses"
	[ $leaked = 0 ] || fail "isolation: $other VMs received $leaked packets of $vdc"
done
misses=$(stat srv0 vm_arp_miss)
replies=$(stat srv0 vm_arp_reply)
echo "srv0 data plane: $misses ARP misses (answered by the agent), $replies ARP replies from the map"
[ "$misses" -ge 7 ] || fail "srv0: $misses ARP misses; the agent answered fewer than 7"

# ---- spoofed sources --------------------------------------------------------
spoof() {	# spoof SRC_MAC SRC_IP: one UDP frame from red-srv0 to red-srv4
	vm red-srv0 python3 - "$1" "$2" "${PT}-eth0" <<'PY'
import socket, struct, sys
smac = bytes.fromhex(sys.argv[1].replace(":", ""))
sip = socket.inet_aton(sys.argv[2])
dmac = bytes.fromhex("020000020022")          # a Peregrine VM MAC (never reached)
dip = socket.inet_aton("10.0.0.5")
udp = struct.pack("!HHHH", 9999, 9999, 8 + 4, 0) + b"spof"
ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0, sip, dip)
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((sys.argv[3], 0))
s.send(dmac + smac + b"\x08\x00" + ip + udp)
PY
}
ip0=$(stat srv0 vm_drop_src_ip)
mac0=$(stat srv0 vm_drop_src_mac)
spoof 02:00:00:02:00:12 10.0.0.7     # own MAC (node 9), another VM's address
spoof 02:00:00:02:00:14 10.0.0.1     # another VM's MAC (node 10), own address
ip1=$(stat srv0 vm_drop_src_ip)
mac1=$(stat srv0 vm_drop_src_mac)
echo "spoofed frames: vm_drop_src_ip $ip0 -> $ip1, vm_drop_src_mac $mac0 -> $mac1"
[ $((ip1 - ip0)) = 1 ] || fail "spoofed source IP not counted"
[ $((mac1 - mac0)) = 1 ] || fail "spoofed source MAC not counted"

# ---- agent restart under a stream -----------------------------------------
restart_agents() {	# restart_agents SIGNAL: the agents of srv0 and srv4
	for srv in srv0 srv4; do
		local pid
		pid=$(agent_pid $srv)
		kill -"$1" "$pid"
		while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
		$P agent --netns ${PT}-$srv --config "$ST/agents/$srv.yaml" --name ${PT}-$srv \
			--veth-nics >>"$ST/logs/$srv.agent.log" 2>&1 &
		echo $! >"$ST/pids/$srv.agent"
	done
}
restart_directory() {	# restart_directory SIGNAL: same command line, same store
	local pid args
	pid=$(cat "$ST/pids/mgmt.directory")
	mapfile -d '' args <"/proc/$pid/cmdline"
	kill -"$1" "$pid"
	while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
	ip netns exec ${PT}-mgmt $P "${args[@]:1}" >>"$ST/logs/mgmt.directory.log" 2>&1 &
	echo $! >"$ST/pids/mgmt.directory"
}
dp_moved() {	# dp_moved SERVER STATS-JSON-BEFORE: the counters that moved since
	$P dp stats ${PT}-$1 --json | python3 -c '
import json, sys
a = json.loads(sys.argv[2])["counters"]
b = json.load(sys.stdin)["counters"]
print(sys.argv[1] + ":", " ".join("%s+%d" % (k, v["packets"] - a.get(k, {"packets": 0})["packets"])
      for k, v in sorted(b.items()) if v["packets"] != a.get(k, {"packets": 0})["packets"]))' "$1" "$2"
}
stream() {	# stream NAME ACTION SIGNAL: 3000 datagrams at 1000/s red-srv0 -> red-srv4
	local port=$((40000 + RANDOM % 20000))
	# established traffic: the pair is resolved at both ends before the stream
	vm red-srv0 ping -c 5 -i 0.2 -W 2 -q 10.0.0.5 >/dev/null || fail "$1: no warm-up ping: $($P dp stats ${PT}-srv0; $P dp stats ${PT}-srv4)"
	vm red-srv4 $P probe recv --listen 10.0.0.5:$port --duration 20 --idle 2 --json \
		>"$tmp/$1.json" &
	rpid=$!
	for _ in $(seq 100); do	# until the receiver listens (5 s at most)
		vm red-srv4 ss -Hlun "sport = :$port" | grep -q . && break
		sleep 0.05
	done
	local before0 before4
	before0=$($P dp stats ${PT}-srv0 --json)
	before4=$($P dp stats ${PT}-srv4 --json)
	# 24-byte datagrams: 66-byte frames, 0.53 Mbit/s, half the RAS's
	# --min-mbps (1), so the pair is never routed direct (checked below)
	vm red-srv0 $P probe send --to 10.0.0.5:$port --rate 1000 --count 3000 --size 24 \
		2>"$tmp/$1.send" &
	local spid=$!
	sleep 1
	"$2" "$3"
	wait $spid
	wait $rpid
	rpid=
	python3 - "$tmp/$1.json" "$1" <<'PY' || fail "$1: the stream lost datagrams: $(cat "$tmp/$1.json" "$tmp/$1.send"; dp_moved srv0 "$before0"; dp_moved srv4 "$before4"; tail -n 12 "$ST"/logs/srv[04].agent.log)"
import json, sys
d = json.load(open(sys.argv[1]))
print("%s: received %d, lost %d" % (sys.argv[2], d["received"], d["lost"]))
sys.exit(0 if d["received"] == 3000 and d["lost"] == 0 else 1)
PY
}
stream kill9 restart_agents KILL
stream usr1 restart_agents USR1
# A restarted agent finds the previous run's counters in the pinned data
# plane; reported as one second of traffic they made this light stream look
# heavy, and the RAS routed it direct (and back) at every restart.
! grep "sends direct" "$ST/logs/mgmt.ras.log" ||
	fail "the RAS routed the light stream direct after an agent restart"
grep -q "reusing the data plane" "$ST/logs/srv0.agent.log" || fail "the restarted agent did not reuse the pins"
grep -q "adopted" "$ST/logs/srv0.agent.log" || fail "the restarted agent adopted no entries"
# (the VM's neighbour entry for 10.0.0.8 is older than the agent's cache, so
# the first packet may be an IP miss, dropped while the agent resolves it)
vm red-srv0 ping -c 3 -i 0.2 -W 2 -q 10.0.0.8 >/dev/null || fail "after the restart, a new pair fails"

# ---- directory restart (kill -9) under a stream -------------------------------
dirctl() { ip netns exec ${PT}-mgmt $P dirctl --server 172.31.0.1:7300 --key "$ST/key" "$@"; }
dstat() { dirctl --json stats | python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"; }
stream dirkill9 restart_directory KILL
n=$(dstat entries)
echo "restarted directory: $n entries from its store"
[ "$n" = 16 ] || fail "the restarted directory holds $n of 16 registrations"
dirctl lookup 1 10.0.0.3 2 10.0.0.3 >/dev/null || fail "the restarted directory does not answer lookups"
# the agents take up their leases again with the new directory
for i in $(seq 100); do
	[ "$(dstat leases)" -gt 0 ] && break
	sleep 0.2
done
[ "$(dstat leases)" -gt 0 ] || fail "no agent renewed a lease with the restarted directory"
echo "restarted directory: $(dstat leases) leases taken up again"

# ---- SIGHUP: detach blue-srv0, attach it again ------------------------------
cp "$ST/agents/srv0.yaml" "$tmp/srv0.yaml"
grep -v blue-srv0 "$tmp/srv0.yaml" >"$ST/agents/srv0.yaml"
kill -HUP "$(agent_pid srv0)"
sleep 0.3
if vm blue-srv0 ping -c 1 -W 1 -q 10.0.0.2 >/dev/null; then
	fail "blue-srv0 still sends after it was removed from the configuration"
fi
cp "$tmp/srv0.yaml" "$ST/agents/srv0.yaml"
kill -HUP "$(agent_pid srv0)"
sleep 0.3
# (its neighbour entry survived, so the first packet may be an IP miss,
# which the data plane drops while the agent resolves it: allow a retry)
vm blue-srv0 ping -c 3 -i 0.2 -W 2 -q 10.0.0.2 >/dev/null ||
	fail "blue-srv0 not attached again after SIGHUP"

echo "SIGHUP: blue-srv0 detached and attached again"

# ---- a leaf cut off from both spines (uplink tracking) -------------------------
nic0_up() { ip -n ${PT}-srv0 link show ${PT}-nic0 | grep -q LOWER_UP; }
$P lab link down leaf0 spine0 $L
$P lab node down spine1 $L
for i in $(seq 50); do nic0_up || break; sleep 0.1; done
nic0_up && fail "leaf0 is cut off, but srv0's NIC to it kept its link"
for d in 5 8; do	# VMs behind other leaves, by srv0's other NIC
	vm red-srv0 ping -c 3 -i 0.2 -W 2 -q 10.0.0.$d >/dev/null ||
		fail "leaf0 cut off: red-srv0 cannot reach 10.0.0.$d"
done
$P lab node up spine1 $L
$P lab link up leaf0 spine0 $L
for i in $(seq 50); do nic0_up && break; sleep 0.1; done
nic0_up || fail "leaf0 rejoined, but srv0's NIC to it stayed down"
before0=$($P dp stats ${PT}-srv0 --json)
vm red-srv0 ping -c 3 -i 0.2 -W 2 -q 10.0.0.8 >"$tmp/rejoin" 2>&1 ||
	fail "after leaf0 rejoined: $(cat "$tmp/rejoin"; dp_moved srv0 "$before0"; tail -n 5 "$ST"/logs/srv0.agent.log "$ST"/logs/mgmt.ras.log)"
echo "leaf0 cut off: its server ports went down and srv0 left by its other NIC; back after it rejoined"

# ---- SIGTERM removes the data plane -------------------------------------------
pid=$(agent_pid srv7)
kill -TERM "$pid"
while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
[ ! -d /sys/fs/bpf/peregrine/${PT}-srv7 ] || fail "SIGTERM left the pins"
echo "ok: agents in the default lab"
