#!/bin/bash
# The NetLord scheme (docs/netlord.md, "In the lab"): switches without
# bridges running netlord_switch, VLANs from route/spain.c (k = 2: one tree
# through each spine), the NLA on every server; tenants red and blue on the
# same addresses.
#
#        spine0        spine1          VLAN 1: the tree through spine0
#        /  |  \       /  |  \         VLAN 2: the tree through spine1
#    leaf0  leaf1  leaf2                edge switches (the NetLord router)
#    /  \   /  \   /  \
#  srv0 srv1 srv2 srv3 srv4 srv5        red-srvN, blue-srvN: 10.0.0.N+1
#
# Checks: the programs attached on every port and NIC; all 60 pairs of
# each VDC reachable, ARP answered with the VM's own MAC, no echo request
# of one VDC reaching the other; the spines learned only edge-switch MACs
# (at most 3); 32 UDP flows srv0 -> srv5 spread over both spines; the cut
# of the leaf0 uplink a stream uses, re-selected by the NLAs alone (their
# probes) within a bound on the stream's loss; all pairs reachable again
# and the flows on the other spine only; a migration under a stream; `lab
# down` leaves no namespace and no pinned map.
set -eu
cd "$(dirname "$0")/.."
. tests/lib.sh
need_root
need_cmd ip
need_cmd jq
P=$PEREGRINE_BIN
X=$(test_prefix n)
L="--prefix $X"
tmp=$(mktemp -d)
cleanup() {
	$P lab down $L >/dev/null 2>&1 || true
	rm -rf "$tmp"
}
trap cleanup EXIT
ex() { $P lab exec "$1" $L -- "${@:2}"; }
pin=/sys/fs/bpf/peregrine
in_echos() { ip netns exec "$X-$1" awk '/^Icmp:/ { n++ } /^Icmp:/ && n == 2 { print $9 }' /proc/net/snmp; }
mac_of() { ip -n "$X-$1" -j link show "$X-eth0" | jq -r '.[0].address'; }
nlstat() { "$P" netlord stats "$pin/$X-$1-nl" --json | jq ".$2 // 0"; }	# pins are global
# "A B": SW_FORWARD of spine0 and spine1, read back to back (the NLAs' probes
# cross both spines at the same rate: a difference is the test's traffic)
fwd2() { echo "$(nlstat spine0 SW_FORWARD) $(nlstat spine1 SW_FORWARD)"; }
TOPO=leafspine:spines=2,leaves=3,servers=2

cat >"$tmp/nl.yaml" <<YAML
name: netlord-test
scheme: netlord
topology: $TOPO
vdcs:
  - {name: red, id: 1, subnet: 10.0.0.0/24}
  - {name: blue, id: 2, subnet: 10.0.0.0/24}
placement: {per_server: 1}
YAML

t0=$(date +%s.%N)
$P lab up "$tmp/nl.yaml" $L >/dev/null
echo "ok: NetLord lab up in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b - a}') s"

for n in spine0 spine1 leaf0 leaf1 leaf2; do
	ports=$(ip -n "$X-$n" -j link show | jq --arg x "$X-" '[.[].ifname | select(startswith($x + "p"))] | length')
	att=$(for i in $(ip -n "$X-$n" -j link show | jq -r --arg x "$X-" '.[].ifname | select(startswith($x + "p"))'); do
		tc -n "$X-$n" filter show dev "$i" ingress | grep -q netlord_switch && echo "$i"; done | wc -l)
	[ "$att" -eq "$ports" ] || fail "$n: netlord_switch on $att of $ports ports"
	[ -z "$(ip -n "$X-$n" -j link show type bridge | jq -r '.[].ifname')" ] || fail "$n has a bridge"
done
for s in 0 1 2 3 4 5; do
	tc -n "$X-srv$s" filter show dev "$X-nic0" ingress | grep -q netlord_decap ||
		fail "srv$s: no netlord_decap on its NIC"
	for i in $(ip -n "$X-srv$s" -j link show | jq -r --arg x "$X-" '.[].ifname | select(startswith($x + "v"))'); do
		tc -n "$X-srv$s" filter show dev "$i" ingress | grep -q netlord_encap ||
			fail "srv$s: no netlord_encap on $i"
	done
done
for s in 0 1 2 3 4 5; do
	[ -n "$(ip netns pids "$X-srv$s")" ] || fail "srv$s: no NetLord agent running"
done
echo "ok: netlord_switch on every switch port (no bridge), the NLA's programs and agent on every server"

declare -A mac
for vdc in red blue; do
	for s in 0 1 2 3 4 5; do mac[$vdc-srv$s]=$(mac_of "$vdc-srv$s"); done
done
pairs() {	# every pair of both VDCs, answers from the right VDC, nothing across
	local vdc other before after s d got
	for vdc in red blue; do
		other=$([ $vdc = red ] && echo blue || echo red)
		before=$(for s in 0 1 2 3 4 5; do in_echos "$other-srv$s"; done | paste -sd' ')
		for s in 0 1 2 3 4 5; do
			# one process per VM: the five pings in turn, the failures out
			got=$(ip netns exec "$X-$vdc-srv$s" sh -c 'for d in 0 1 2 3 4 5; do
				[ "$d" = "$1" ] && continue
				ping -c 1 -W 2 -q "10.0.0.$((d + 1))" >/dev/null || echo "$d"
			done' sh "$s")
			[ -z "$got" ] || fail "$1: $vdc-srv$s cannot reach $vdc-srv$(echo $got | paste -sd,)"
			neigh=$(ip -n "$X-$vdc-srv$s" -j neigh show | jq -r '.[] | "\(.dst) \(.lladdr)"')
			for d in 0 1 2 3 4 5; do
				[ "$s" = "$d" ] && continue
				got=$(echo "$neigh" | awk -v ip="10.0.0.$((d + 1))" '$1 == ip { print $2 }')
				[ "$got" = "${mac[$vdc-srv$d]}" ] ||
					fail "$vdc-srv$s resolved 10.0.0.$((d + 1)) to $got, not $vdc-srv$d's ${mac[$vdc-srv$d]}"
			done
		done
		after=$(for s in 0 1 2 3 4 5; do in_echos "$other-srv$s"; done | paste -sd' ')
		[ "$before" = "$after" ] || fail "$1: $vdc's pings reached $other's VMs: echo requests $before -> $after"
	done
}
pairs "all links up"
echo "ok: all 60 pairs reachable within their VDC (ARP answered with the VM's MAC), none across"

for n in spine0 spine1; do
	f=$(nlstat $n fib_used)
	[ "$f" -le 3 ] || fail "$n learned $f entries: more than the 3 edge switches"
done
echo "ok: the spines hold only edge-switch MACs ($(nlstat spine0 fib_used) and $(nlstat spine1 fib_used) entries)"
# `lab status` gives every switch its program's count (reports draw it)
st=$($P lab status --prefix "$X" --json)
for n in spine0 spine1; do	# stable: the 3 edge switches learned
	[ "$(echo "$st" | jq --arg n $n '.nodes[] | select(.name == $n) | .fib_used')" = "$(nlstat $n fib_used)" ] ||
		fail "lab status: $n's fib_used is not its program's count: $(echo "$st" | jq -c --arg n $n '.nodes[] | select(.name == $n)')"
done
echo "ok: lab status gives each switch the entries its program learned"

flows() {	# 32 UDP flows red-srv0 -> red-srv5, 100 datagrams each: datagrams that arrived
	rm -f "$tmp/sink.ready"
	# a sink that counts datagrams until 3200 came or none for 3 s after
	# the first (20 s for the first; at most 60 s: then it says how many
	# it had)
	ip netns exec "$X-red-srv5" timeout 60 python3 -c '
import signal, socket, sys
n = 0
def done(*_):
    print(n)
    sys.exit(0)
signal.signal(signal.SIGTERM, done)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, 33, 8 << 20)	# SO_RCVBUFFORCE: room for all 3200
s.bind(("10.0.0.6", 9100))
open(sys.argv[1], "w").close()
s.settimeout(20)
try:
    while n < 3200:
        s.recv(2048)
        n += 1
        s.settimeout(3)
except socket.timeout:
    pass
print(n)' "$tmp/sink.ready" >"$tmp/sink.out" & local r=$!
	for _ in $(seq 400); do [ -e "$tmp/sink.ready" ] && break; sleep 0.05; done
	[ -e "$tmp/sink.ready" ] || fail "the UDP sink in red-srv5 did not start within 20 s"
	# one process sends all 32 flows (source ports 40000-40031), 100 each
	ip netns exec "$X-red-srv0" python3 -c '
import socket, time
for port in range(40000, 40032):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("10.0.0.1", port))
    for i in range(100):
        s.sendto(b"x" * 64, ("10.0.0.6", 9100))
        time.sleep(0.0002)
    s.close()'
	wait $r || true
	cat "$tmp/sink.out"
}
read -r a0 b0 <<<"$(fwd2)"
got=$(flows)
read -r a1 b1 <<<"$(fwd2)"
# spine0 forwarded probes + fa, spine1 probes + fb, fa + fb = got
a=$(( (a1 - a0 - (b1 - b0) + got) / 2 )); b=$((got - a))
[ "$got" -ge 3000 ] || fail "32 flows: $got of 3200 datagrams arrived"
[ "$a" -ge 320 ] && [ "$b" -ge 320 ] || fail "32 flows not spread over both VLANs: spine0 $a, spine1 $b frames (probes taken out)"
echo "ok: 32 flows spread over both VLANs: spine0 forwarded about $a of their frames, spine1 $b ($got of 3200 arrived)"

# A stream red-srv0 -> red-srv5 (1,000 datagrams/s); the leaf0 uplink to the
# spine it uses is cut.  Nothing tells the NLAs: their probes find the dead
# VLAN and they re-select on their own; the stream's longest loss gap must
# stay under GAP_BOUND_MS (NLA_DEAD_MS 200 + a probe interval 50, and the
# sanitizer build's daemons on a shared machine).
GAP_BOUND_MS=1000
stream() {	# NAME: red-srv0 -> 10.0.0.6:9000, 1,000/s, until stop_stream
	ex red-srv5 "$P" probe recv --listen 10.0.0.6:9000 --duration 30 --idle 3 --gaps 4 \
		--json >"$tmp/$1.json" & recv=$!
	for _ in $(seq 100); do
		ip netns exec "$X-red-srv5" ss -Hlun "sport = :9000" | grep -q . && break
		sleep 0.05
	done
	ex red-srv0 "$P" probe send --to 10.0.0.6:9000 --bind 10.0.0.1:40000 --rate 1000 \
		--count 20000 >/dev/null 2>&1 & sender=$!
}
stop_stream() {
	kill -INT "$sender" 2>/dev/null || true
	wait "$sender" 2>/dev/null || true
	wait "$recv" || true
}
busiest_spine() {	# the spine that forwarded more frames in 0.3 s
	local a0 b0
	a0=$(nlstat spine0 SW_FORWARD); b0=$(nlstat spine1 SW_FORWARD)
	sleep 0.3
	[ $(($(nlstat spine0 SW_FORWARD) - a0)) -ge $(($(nlstat spine1 SW_FORWARD) - b0)) ] &&
		echo spine0 || echo spine1
}
longest_gap() { jq '[.loss_gaps[].gap_ms] | max // 0 | round' "$1"; }
stream cut
sleep 1
spine=$(busiest_spine)
other=$([ "$spine" = spine0 ] && echo spine1 || echo spine0)
t_cut=$($P lab link down leaf0 "$spine" $L --json | jq .at_ns)
sleep 2
stop_stream
gap=$(longest_gap "$tmp/cut.json")
[ "$(jq .received "$tmp/cut.json")" -ge 1000 ] || fail "the stream did not run: $(cat "$tmp/cut.json")"
# a stream that never came back has no loss gap, only an end: it must
# have gone on for at least a second after the cut
after_ms=$(jq --argjson t "$t_cut" '(.last_ns - $t) / 1e6 | round' "$tmp/cut.json")
[ "$after_ms" -ge 1000 ] ||
	fail "leaf0-$spine cut: the stream's last datagram came $after_ms ms after the cut (not re-selected?)"
[ "$gap" -le "$GAP_BOUND_MS" ] ||
	fail "leaf0-$spine cut: the stream lost $gap ms (bound $GAP_BOUND_MS ms)"
echo "ok: leaf0-$spine cut, the NLAs re-selected on their own: longest loss gap $gap ms (bound $GAP_BOUND_MS)"
pairs "leaf0-$spine down"
# about a third of the flows hash to the dead VLAN: all arrive only if
# every NLA took it out
got=$(flows)
[ "$got" -ge 3000 ] || fail "after the cut: $got of 3200 datagrams arrived"
echo "ok: all pairs reachable, the 32 flows arrive ($got of 3200 datagrams)"

# Migration: red-srv5 moves from srv5 (under leaf2) to srv2 (under leaf1)
# while the stream runs; the directory pushes its new edge switch and port
# to the NLA of srv0, which holds it.
stream mig
sleep 1
t_mig=$($P lab migrate red-srv5 srv2 $L --json | jq .detach_ns)
sleep 2
stop_stream
gap=$(longest_gap "$tmp/mig.json")
[ "$gap" -le "$GAP_BOUND_MS" ] || fail "migration: the stream lost $gap ms (bound $GAP_BOUND_MS ms)"
after_ms=$(jq --argjson t "$t_mig" '(.last_ns - $t) / 1e6 | round' "$tmp/mig.json")
[ "$after_ms" -ge 1000 ] ||
	fail "migration: the stream's last datagram came $after_ms ms after the move"
for s in 0 1 3 4 5; do
	ex "red-srv$s" ping -c 1 -W 2 -q 10.0.0.6 >/dev/null || fail "red-srv$s cannot reach red-srv5 on srv2"
done
ex red-srv5 ping -c 1 -W 2 -q 10.0.0.2 >/dev/null || fail "red-srv5 on srv2 cannot reach red-srv1"
ex blue-srv0 ping -c 1 -W 2 -q 10.0.0.6 >/dev/null || fail "blue-srv0 cannot reach blue-srv5"
echo "ok: red-srv5 migrated to srv2: longest loss gap $gap ms, reachable from every red VM, blue-srv5 unaffected"

$P lab down $L >/dev/null
[ -z "$(ip netns list | grep "^$X-" || true)" ] || fail "namespaces left: $(ip netns list | grep "^$X-")"
[ -z "$(ls "$pin" 2>/dev/null | grep "^$X-" || true)" ] || fail "pins left: $(ls "$pin" | grep "^$X-")"
echo "ok: lab down leaves no namespace and no pinned map"
