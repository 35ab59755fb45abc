#!/bin/bash
# IPv6 through the control plane in the default lab (docs/tenant-network.md,
# "IPv6: the control plane"): the VMs of both VDCs (the same prefix
# fd00:0:0:1::/64) take their SLAAC address from their agent's router
# advertisements, duplicate address detection succeeds, an NS for a VM on
# another server is resolved through the directory (LOOKUP6) and answered,
# and nothing crosses a VDC.  A VM whose interface comes up after its
# agent's initial advertisements has its address at once (its router
# solicitation answered), and after red-srv4 moves from srv4 to srv5 red-srv0
# reaches it again within the GARP6 lease's renewal (its agent renews the
# entry it wrote and follows the move).  Then group membership: the VDCs' broadcast
# groups, the default lab's groups (red's and blue's 239.1.2.3, joined by
# `lab up`: the demo's), and an IGMP join and leave of 239.1.2.4 reach the
# directory, one group per VDC;
# and replication (docs/multicast.md): a 10,000/s stream from red-srv0 to
# 239.1.2.4 reaches its members red-srv1 (moved to srv2 after its join: its
# new agent's IGMP query has it report again) and red-srv5 (each at least
# 99.9%), never red-srv2 (no member, on srv2 with red-srv1) nor blue-srv0 (a
# member of blue's 239.1.2.4);
# a broadcast to 255.255.255.255 reaches the 7 other red VMs and no blue one.
#
#            spine0        spine1
#           /  |   \      /  |   \
#      leaf0 leaf1 leaf2 leaf3
#        \   /       \   /
#     srv0..srv3   srv4..srv7     one agent each; red-srvN, blue-srvN on srvN
#     red-srv0  --ping6--> red-srv1..7   (SLAAC addresses, NS through LOOKUP6)
#     blue-srv0 --ping6--> red-srv4      nothing (VDC 2 has no such address)
#     blue-srv4: link down and up        SLAAC again at once (RS answered)
#     red-srv4: srv4 -> srv5             red-srv0's pings come back (gap printed)
#     red-srv1: srv1 -> srv2             still a member of red's 239.1.2.4
set -eu
cd "$(dirname "$0")/.."
. tests/lib.sh
need_root
need_cmd ip
need_cmd ping
need_cmd jq
need_cmd curl
need_cmd promtool
P=$PEREGRINE_BIN
PT=$(test_prefix s)
L="--prefix ${PT}"
IF=${PT}-eth0	# a VM's interface
ST_TMP=$(mktemp -d)
cleanup() {
	$P lab down $L >/dev/null 2>&1 || true
	rm -rf "$ST_TMP"
}
trap cleanup EXIT

vm() { ip netns exec "${PT}-$1" "${@:2}"; }
# The VM's SLAAC address under fd00:0:0:1::/64 once DAD is done, or nothing.
addr6() {
	vm "$1" ip -6 -o addr show dev $IF scope global 2>/dev/null |
		awk '!/tentative|dadfailed/ { sub("/.*", "", $4); print $4; exit }'
}
# What it must be: the prefix and the modified EUI-64 of the VM's MAC.
eui64() {
	local m
	m=$(vm "$1" cat /sys/class/net/$IF/address)
	python3 - "$m" <<'PY'
import ipaddress, sys
m = bytes.fromhex(sys.argv[1].replace(":", ""))
iid = bytes([m[0] ^ 2]) + m[1:3] + b"\xff\xfe" + m[3:]
print(ipaddress.IPv6Address(bytes.fromhex("fd00000000000001") + iid))
PY
}

$P lab up $L >/dev/null

# SLAAC: every VM of the default lab has its address within 15 s
vms="red-srv0 red-srv1 red-srv2 red-srv3 red-srv4 red-srv5 red-srv6 red-srv7 blue-srv0 blue-srv4"
for v in $vms; do
	for _ in $(seq 150); do [ -n "$(addr6 "$v")" ] && break; sleep 0.1; done
	a=$(addr6 "$v")
	[ -n "$a" ] || fail "$v: no SLAAC address (DAD failed or no router advertisement)"
	[ "$a" = "$(eui64 "$v")" ] || fail "$v: address $a, not its EUI-64 $(eui64 "$v")"
	if vm "$v" ip -6 -o addr show dev $IF | grep -q dadfailed; then
		fail "$v: duplicate address detection failed"
	fi
done
[ "$(addr6 red-srv0)" = "$(addr6 blue-srv0)" ] && fail "two VMs with one address"
echo "SLAAC: $(echo $vms | wc -w) VMs have their EUI-64 address under fd00:0:0:1::/64"

# reachability: red-srv0 to every other red VM (first NS through LOOKUP6)
ok=0
for n in 1 2 3 4 5 6 7; do
	if vm red-srv0 ping -6 -c 2 -i 0.2 -W 2 -q "$(addr6 red-srv$n)" >/dev/null; then
		ok=$((ok + 1))
	else
		echo "red-srv0 -> red-srv$n: no answer"
	fi
done
echo "IPv6 pairs reachable: $ok/7"
[ $ok -eq 7 ] || fail "IPv6 reachability: $ok of 7"

# isolation: blue-srv0 cannot reach red-srv4's address (nor find a neighbour)
if vm blue-srv0 ping -6 -c 2 -i 0.2 -W 1 -q "$(addr6 red-srv4)" >/dev/null 2>&1; then
	fail "blue-srv0 reached red-srv4 across VDCs"
fi
if vm blue-srv0 ip -6 neigh show "$(addr6 red-srv4)" | grep -q lladdr; then
	fail "blue-srv0 has a neighbour entry for red-srv4"
fi
echo "isolation: blue-srv0 cannot reach red-srv4 over IPv6"

# router solicitation: blue-srv4's interface down and up loses its address;
# the kernel solicits (after its 1 s delay and link-local DAD) and the agent
# answers at once; without the answer the next advertisement is 600 s away
t0=$(date +%s%N)
vm blue-srv4 ip link set dev $IF down
vm blue-srv4 ip link set dev $IF up
for _ in $(seq 100); do [ -n "$(addr6 blue-srv4)" ] && break; sleep 0.1; done
[ -n "$(addr6 blue-srv4)" ] || fail "blue-srv4: no SLAAC address 10 s after its link came up"
echo "router solicitation: blue-srv4 has its address $(( ($(date +%s%N) - t0) / 1000000 )) ms after link up"
# srv4's agent counts it, on its metrics page (promtool-clean)
url=$($P lab status $L --json | jq -r '.nodes[] | select(.name == "srv4") | .metrics_url.agent')
for _ in $(seq 30); do	# the page is published once a second
	ip netns exec ${PT}-mgmt curl -sS --max-time 5 "$url" >"$ST_TMP/srv4.prom" || true
	rs=$(awk '$1 == "peregrine_agent_rs_answered_total" { print $2 }' "$ST_TMP/srv4.prom")
	[ "${rs:-0}" -ge 1 ] && break
	sleep 0.1
done
promtool check metrics <"$ST_TMP/srv4.prom" >"$ST_TMP/lint" 2>&1 || { cat "$ST_TMP/lint"; fail "srv4's agent metrics: promtool"; }
ra=$(awk '$1 == "peregrine_agent_ra_sent_total" { print $2 }' "$ST_TMP/srv4.prom")
[ "${rs:-0}" -ge 1 ] || fail "srv4's agent: rs_answered_total '${rs}', not >= 1"
[ "${ra:-0}" -gt "${rs:-0}" ] || fail "srv4's agent: ra_sent_total '${ra}' not above the answers"
echo "metrics: srv4's agent answered $rs router solicitations, sent $ra advertisements"

# migration: red-srv0's agent holds red-srv4's GARP6 entry (pinged above);
# red-srv4 moves to srv5 while red-srv0 pings it every 50 ms; the agent's
# renewal (at half the directory's 5 s lease) follows the move
a4=$(addr6 red-srv4)
vm red-srv0 ping -6 -D -i 0.05 -W 1 -w 12 "$a4" >"$ST_TMP/ping6" 2>&1 &
pid=$!
sleep 1
tm=$(date +%s.%N)
$P lab migrate red-srv4 srv5 $L >/dev/null
for _ in $(seq 100); do
	last=$(awk -F'[][]' '/bytes from/ { t = $2 } END { print t }' "$ST_TMP/ping6")
	[ -n "$last" ] && python3 -c "import sys; sys.exit(0 if $last > $tm + 0.2 else 1)" && break
	sleep 0.1
done
kill "$pid" 2>/dev/null || true
wait "$pid" 2>/dev/null || true
gap=$(awk -F'[][]' -v tm="$tm" '/bytes from/ { t = $2 + 0; if (p && t > tm - 1 && t - p > g) g = t - p; p = t }
	END { printf "%d", g * 1000 }' "$ST_TMP/ping6")
after=$(awk -F'[][]' -v tm="$tm" '/bytes from/ && $2 + 0 > tm { n++ } END { print n + 0 }' "$ST_TMP/ping6")
[ "$after" -gt 0 ] || fail "red-srv0 -> red-srv4 over IPv6: no answer after the move to srv5"
echo "migration: red-srv4 srv4 -> srv5, red-srv0's IPv6 pings answered again; gap $gap ms"
[ "$gap" -lt 4000 ] || fail "IPv6 migration gap $gap ms (the lease renewal bounds it by 2.5 s)"

# multicast membership (docs/multicast.md): every VM is in its VDC's
# broadcast group; an IGMP join of one address from VMs of two VDCs makes
# two groups in the directory, a leave removes its VDC's one only
ST=/run/peregrine/lab-${PT}
dirctl() { ip netns exec ${PT}-mgmt $P dirctl --server 172.31.0.1:7300 --key "$ST/key" "$@"; }
dstat() { dirctl --json stats | python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"; }
# wait up to 5 s for counter $1 to be $2
dwait() { for _ in $(seq 50); do [ "$(dstat "$1")" = "$2" ] && return 0; sleep 0.1; done; return 1; }
# (the default lab's groups: red's and blue's 239.1.2.3, joined at lab up)
dwait grp_groups 4 || fail "directory groups: $(dstat grp_groups), not the 2 VDCs' broadcast groups and the lab's 2"
m=$(dstat grp_members)
[ "$m" -ge 10 ] || fail "broadcast members: $m, fewer than the 10 VMs checked above"
vm red-srv1 ip addr add 239.1.2.4/32 dev $IF autojoin
vm blue-srv0 ip addr add 239.1.2.4/32 dev $IF autojoin
dwait grp_groups 6 || fail "IGMP joins: $(dstat grp_groups) groups, not 6 (one more per VDC)"
dwait grp_members $((m + 2)) || fail "IGMP joins: $(dstat grp_members) members, not $((m + 2))"

t_mc=$SECONDS
# replication: red-srv5 joins too; red-srv1, a member, moves to srv2 (red-srv2,
# no member, is there): srv2's agent, its VMs' IGMP querier, queries it and
# JOINs the group for it from srv2 (without that the copies would go on
# to srv1, where no member is left); red-srv0 sends 20,000 datagrams at
# 10,000/s; each VM runs a receiver on the stream's port
vm red-srv5 ip addr add 239.1.2.4/32 dev $IF autojoin
dwait grp_members $((m + 3)) || fail "IGMP join: $(dstat grp_members) members, not $((m + 3))"
url2=$($P lab status $L --json | jq -r '.nodes[] | select(.name == "srv2") | .metrics_url.agent')
ajoins() {	# srv2's agent: groups joined for its VMs
	ip netns exec ${PT}-mgmt curl -sS --max-time 5 "$url2" |
		awk '$1 == "peregrine_agent_mcast_join_total" { print $2 }'
}
j2=$(ajoins)
$P lab migrate red-srv1 srv2 $L >/dev/null
for _ in $(seq 50); do [ "$(ajoins)" -gt "${j2:-0}" ] && break; sleep 0.1; done
[ "$(ajoins)" -gt "${j2:-0}" ] || fail "red-srv1 moved to srv2: srv2's agent joined no group for it"
echo "migration: red-srv1 srv1 -> srv2, its group joined by srv2's agent ($(ajoins) joins, $j2 before)"
sleep 1.1	# the source's member list (a 1 s lease) asked again
tmp=$(mktemp -d)
trap 'cleanup; rm -rf "$tmp"' EXIT
# tx packets of srv0's NICs: the source server's links into the fabric
nic_tx() {
	ip netns exec "${PT}-srv0" sh -c 'for f in /sys/class/net/*/statistics/tx_packets; do
		case $f in */lo/*) ;; *) echo "${f%/statistics/*} $(cat $f)";; esac; done'
}
nic_tx > "$tmp/tx0"
# members stop at 20,000 datagrams, non-members are stopped (SIGTERM: they
# report what they got) once the members are done; every receiver listens
# before the stream starts (a receiver that starts late or stops early on a
# busy machine misses datagrams the fabric delivered: UDP IgnoredMulti)
mpids="" opids=""
for v in red-srv1 red-srv5 red-srv2 blue-srv0; do
	ip netns exec "${PT}-$v" $P probe recv --listen 0.0.0.0:5001 --count 20000 --duration 30 \
		--idle 5 --json > "$tmp/$v" &
	case $v in red-srv[15]) mpids+=" $!";; *) opids+=" $!";; esac
done
for v in red-srv1 red-srv5 red-srv2 blue-srv0; do
	for _ in $(seq 100); do vm $v grep -q ':1389 ' /proc/net/udp && break; sleep 0.1; done
done
vm red-srv0 ip route replace 224.0.0.0/4 dev $IF
# the group established at the source first, as the demo's unicast streams
# are: frames sent before its agent has the MEMBERS answer are dropped
# (vm_drop_group_none), and that answer may take tens of ms on a busy machine
vm red-srv0 $P probe send --to 239.1.2.4:5000 --rate 100 --count 10 >/dev/null
sleep 0.5
vm red-srv0 $P probe send --to 239.1.2.4:5001 --rate 10000 --count 20000 >/dev/null
wait $mpids || true
sleep 0.5
kill -TERM $opids 2>/dev/null || true
wait $opids || true
nic_tx > "$tmp/tx1"
got() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['received'])" "$tmp/$1"; }
dpc() { $P dp stats "${PT}-srv$1" --json | python3 -c "import json,sys; print(json.load(sys.stdin)['counters']['$2']['packets'])"; }
echo "srv0: $(dpc 0 vm_group_sent) frames replicated, $(dpc 0 vm_group_copy) copies to servers," \
	"$(dpc 0 vm_drop_group_none) dropped before the members were known (warm-up), $(dpc 0 vm_drop_group_rate) over the rate"
for v in red-srv1 red-srv5; do
	r=$(got $v)
	echo "member $v: $r of 20000"
	[ "$r" -ge 19980 ] || fail "member $v received $r of 20000 (under 99.9%)"
done
for v in red-srv2 blue-srv0; do
	r=$(got $v)
	[ "$r" -eq 0 ] || fail "non-member $v received $r datagrams of red's 239.1.2.4"
done
busiest=$(join "$tmp/tx0" "$tmp/tx1" | awk '{ d = $3 - $2; if (d > m) m = d } END { print m + 0 }')
echo "non-members red-srv2, blue-srv0: 0; busiest link of the source server: $busiest frames for 20000 sent"
# 2 member servers other than the source: 2 copies per datagram, on one
# link (the first few datagrams, sent before the directory's MEMBERS
# answer, have no copies: the members' 99.9% allows 20)
[ "$busiest" -ge 39960 ] && [ "$busiest" -lt 41000 ] ||
	fail "source server's busiest link carried $busiest frames, not 2 copies per datagram"

# a broadcast: every red VM but the sender, no blue one
bcast_recv() {	# count datagrams to port 5002 until 1 s after the sender is done (at most 20 s)
	vm "$1" python3 -c '
import os, socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", 5002)); s.settimeout(0.2); n = 0; end = time.time() + 20
open(sys.argv[1], "w").close()	# bound: ready
while time.time() < end:
    if os.path.exists(sys.argv[2]):
        end = min(end, os.path.getmtime(sys.argv[2]) + 1)
    try:
        s.recv(100); n += 1
    except socket.timeout:
        pass
print(n)' "$tmp/ready-$1" "$tmp/sent" > "$tmp/b-$1"
}
bcast_send() {	# N datagrams from red-srv0 to 255.255.255.255 port $2
	vm red-srv0 python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, sys.argv[1].encode())
for i in range(int(sys.argv[2])):
    s.sendto(b"broadcast %d" % i, ("255.255.255.255", int(sys.argv[3]))); time.sleep(0.01)' $IF "$1" "$2"
}
vms_all="red-srv1 red-srv2 red-srv3 red-srv4 red-srv5 red-srv6 red-srv7 blue-srv0 blue-srv1 blue-srv4 blue-srv7"
for v in $vms_all; do bcast_recv $v & done
for _ in $(seq 100); do	# every receiver bound (python starts slowly on a busy machine)
	[ "$(ls "$tmp" | grep -c '^ready-')" -eq $(echo $vms_all | wc -w) ] && break
	sleep 0.1
done
# the broadcast group established at the source, as above: a broadcast (to
# another port) now and then until srv0 sends copies to the other servers
# (at most 5 s); after the receivers are bound, not before: a group nobody
# sends to for 10 s (AGENT_GRP_IDLE_MS) loses its member servers, and the
# receivers may take that long to start on a busy machine
c=$(dpc 0 vm_group_copy)
for _ in $(seq 10); do
	bcast_send 1 5000
	sleep 0.5
	[ "$(dpc 0 vm_group_copy)" -gt "$c" ] && break
done
c0="$(dpc 0 vm_group_sent) $(dpc 0 vm_group_copy) $(dpc 0 vm_drop_group_none)"
bcast_send 20 5002
touch "$tmp/sent"
wait
echo "broadcast received: $(for v in $vms_all; do printf '%s=%s ' $v "$(cat "$tmp/b-$v")"; done)"
echo "srv0 sent, copies, unknown: before $c0, after $(dpc 0 vm_group_sent) $(dpc 0 vm_group_copy) $(dpc 0 vm_drop_group_none)"
for v in $vms_all; do
	r=$(cat "$tmp/b-$v")
	case $v in
	red-*) [ "$r" -eq 20 ] || fail "broadcast: $v received $r of 20" ;;
	*) [ "$r" -eq 0 ] || fail "broadcast crossed to $v: $r datagrams" ;;
	esac
done
echo "broadcast: 20 of 20 at each of red-srv1..7, 0 at blue-srv0, 1, 4, 7"

vm red-srv1 ip addr del 239.1.2.4/32 dev $IF
vm red-srv5 ip addr del 239.1.2.4/32 dev $IF
dwait grp_groups 5 || fail "IGMP leave: $(dstat grp_groups) groups, not 5"
echo "multicast: $m memberships at first (16 VMs in their VDC's broadcast group, 4 in the lab's groups); 239.1.2.4 joined in two VDCs, left in one"
echo "replication and broadcast checks: $((SECONDS - t_mc)) s"
echo PASS
