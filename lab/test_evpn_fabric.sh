#!/bin/bash
# The EVPN scheme (docs/evpn.md): eBGP + BFD on routed switches, servers
# as VTEPs announcing their VMs in BGP EVPN, two VDCs on the same
# addresses.
#
#            spine0            spine1          ASN 4200000000 (both)
#          /   |   \  \      /  |   |  \
#      leaf0  leaf1  leaf2  leaf3              an ASN each
#       | \  / |      | \  / |
#      srv0 srv1 ..  srv4 .. srv7              VTEPs (an ASN each), dual-homed
#   red-srvN and blue-srvN on srvN, both 10.0.0.N+1 (VNI 1 and VNI 2)
#
# Checks: zebra, bfdd, bgpd recorded and running in every switch and
# server; every BGP session and every BFD session up, at the configured
# 300 ms; every VTEP floods each VNI to the 7 others (type-3 routes); all
# 112 tenant pairs reachable; each answer from the VM of the sender's VDC,
# and no echo request reaches the other VDC; a migrated VM reachable at its
# new server, announced from there (type-2); a 10,000 datagram/s stream
# survives the failure of the spine it uses (gap under 1 s, printed) and
# leaf0 keeps its other 5 sessions;
# `lab down` leaves no FRR process; `up` failing at settings-evpn,
# start-bgpd, wait-bgp rolls everything back.
set -eu
cd "$(dirname "$0")/.."
. tests/lib.sh
need_root
need_cmd ip
need_cmd jq
need_cmd vtysh
[ -x /usr/lib/frr/bgpd ] || skip "needs frr (scripts/deps.sh)"
P=$PEREGRINE_BIN
X=$(test_prefix e)
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
st=/run/peregrine/lab-$X
vty() { vtysh --vty_socket "$st/frr/$1" -c "$2"; }
in_echos() { ip netns exec "$X-$1" awk '/^Icmp:/ { n++ } /^Icmp:/ && n == 2 { print $9 }' /proc/net/snmp; }
mac_of() { ip -n "$X-$1" -j link show "$X-eth0" | jq -r '.[0].address'; }

cat >"$tmp/evpn.yaml" <<'YAML'
name: evpn-test
scheme: evpn
topology: leafspine:spines=2,leaves=4,servers=2,homing=2
vdcs:
  - {name: red, id: 1, subnet: 10.0.0.0/24}
  - {name: blue, id: 2, subnet: 10.0.0.0/24}
placement: {per_server: 1}
YAML

t0=$(date +%s.%N)
$P lab up "$tmp/evpn.yaml" $L >/dev/null
echo "ok: EVPN lab up in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b - a}') s"

nodes="spine0 spine1 leaf0 leaf1 leaf2 leaf3 srv0 srv1 srv2 srv3 srv4 srv5 srv6 srv7"
for n in $nodes; do
	for d in zebra bfdd bgpd; do
		pid=$(cat "$st/pids/$n.$d")
		[ "$(readlink /proc/$pid/ns/net)" = "$(ip netns exec "$X-$n" readlink /proc/self/ns/net)" ] ||
			fail "$d of $n (pid $pid) does not run in $X-$n"
	done
done
echo "ok: zebra, bfdd, bgpd recorded and running in all 14 nodes"

sessions=0
for n in $nodes; do
	ports=$(ip -n "$X-$n" -j link show | jq --arg x "$X-" '[.[].ifname | select(startswith($x + "p") or startswith($x + "nic"))] | length')
	est=$(vty "$n" "show bgp ipv4 unicast summary json" | jq '[.peers[] | select(.state == "Established")] | length')
	[ "$est" -eq "$ports" ] || fail "$n: $est of $ports BGP sessions established"
	est=$(vty "$n" "show bgp l2vpn evpn summary json" | jq '[.peers[] | select(.state == "Established")] | length')
	[ "$est" -eq "$ports" ] || fail "$n: $est of $ports EVPN sessions established"
	# BFD comes up after BGP asked for it (slow start at 1 s): 15 s at most
	for _ in $(seq 30); do
		bfd=$(vty "$n" "show bfd peers json")
		up=$(echo "$bfd" | jq '[.[] | select(.status == "up" and .["transmit-interval"] == 300 and .["receive-interval"] == 300 and .["detect-multiplier"] == 3)] | length')
		[ "$up" -eq "$ports" ] && break
		sleep 0.5
	done
	[ "$up" -eq "$ports" ] || fail "$n: $up of $ports BFD sessions up at 3 x 300 ms: $bfd"
	sessions=$((sessions + ports))
done
echo "ok: every BGP (IPv4, EVPN) and BFD session up at 3 x 300 ms ($((sessions / 2)) links)"

for s in 0 1 2 3 4 5 6 7; do
	for vni in 1 2; do
		n=$(bridge -n "$X-srv$s" fdb show dev "$X-vx$vni" | grep -c "^00:00:00:00:00:00 dst") || true
		[ "$n" -eq 7 ] || fail "srv$s floods VNI $vni to $n VTEPs, not 7"
	done
done
echo "ok: every VTEP floods both VNIs to the 7 others (EVPN type-3 routes)"

declare -A mac
for vdc in red blue; do
	for s in 0 1 2 3 4 5 6 7; do mac[$vdc-srv$s]=$(mac_of "$vdc-srv$s"); done
done
for vdc in red blue; do
	other=$([ $vdc = red ] && echo blue || echo red)
	before=$(for s in 0 1 2 3 4 5 6 7; do in_echos "$other-srv$s"; done | paste -sd' ')
	for s in 0 1 2 3 4 5 6 7; do
		for d in 0 1 2 3 4 5 6 7; do
			[ "$s" = "$d" ] && continue
			ex "$vdc-srv$s" ping -c 1 -W 2 -q "10.0.0.$((d + 1))" >/dev/null ||
				fail "$vdc-srv$s cannot reach $vdc-srv$d"
			got=$(ip -n "$X-$vdc-srv$s" -j neigh show "10.0.0.$((d + 1))" | jq -r '.[0].lladdr')
			[ "$got" = "${mac[$vdc-srv$d]}" ] ||
				fail "$vdc-srv$s resolved 10.0.0.$((d + 1)) to $got, not $vdc-srv$d's ${mac[$vdc-srv$d]}"
		done
	done
	after=$(for s in 0 1 2 3 4 5 6 7; do in_echos "$other-srv$s"; done | paste -sd' ')
	[ "$before" = "$after" ] || fail "$vdc's pings reached $other's VMs: echo requests $before -> $after"
done
echo "ok: all 112 pairs reachable within their VDC, each answer from its own VDC, none across"

# ARP suppression: srv0 holds every remote VM's MAC+IP (type-2 routes
# with the IP), and its bridge answers red-srv0's ARP request for a remote
# VM itself: the only frame its VXLAN device sends is the echo request
# (without suppression, the request floods to the 7 other VTEPs first)
for vni in 1 2; do
	vdc=$([ $vni = 1 ] && echo red || echo blue)
	for _ in $(seq 50); do
		cache=$(vty srv0 "show evpn arp-cache vni $vni json")
		n=$(echo "$cache" | jq '[to_entries[] | select(.value | type == "object" and .type == "remote")] | length')
		[ "$n" -eq 7 ] && break
		sleep 0.1
	done
	[ "$n" -eq 7 ] || fail "srv0 holds $n remote MAC+IP pairs in VNI $vni, not 7: $cache"
	for d in 1 2 3 4 5 6 7; do
		got=$(echo "$cache" | jq -r --arg ip "10.0.0.$((d + 1))" '.[$ip].mac')
		[ "$got" = "${mac[$vdc-srv$d]}" ] ||
			fail "srv0's VNI $vni has 10.0.0.$((d + 1)) at $got, not $vdc-srv$d's ${mac[$vdc-srv$d]}"
	done
done
[ "$(ip -n "$X-srv0" -d -j link show "$X-vx1" | jq -r '.[0].linkinfo.info_slave_data.neigh_suppress')" = true ] ||
	fail "srv0's $X-vx1 does not suppress ARP"
vx_tx() { ip netns exec "$X-srv0" cat "/sys/class/net/$X-vx1/statistics/tx_packets"; }
for d in 1 4 7; do
	ip -n "$X-red-srv0" neigh flush all
	a=$(vx_tx)
	ex red-srv0 ping -c 1 -W 2 -q "10.0.0.$((d + 1))" >/dev/null || fail "red-srv0 -> red-srv$d"
	b=$(vx_tx)
	got=$(ip -n "$X-red-srv0" -j neigh show "10.0.0.$((d + 1))" | jq -r '.[0].lladdr')
	[ "$got" = "${mac[red-srv$d]}" ] || fail "suppressed ARP answered $got for red-srv$d"
	[ $((b - a)) -eq 1 ] ||
		fail "ARP for red-srv$d crossed the fabric: srv0's VXLAN device sent $((b - a)) frames, not 1"
done
echo "ok: ARP suppression: srv0 holds the 14 remote MAC+IP pairs; ARP for a remote VM is answered locally (1 frame over VXLAN per ping)"

# a spine failure under a stream
ex red-srv4 "$P" probe recv --listen 10.0.0.5:9000 --duration 30 --idle 3 --gaps 8 --json \
	>"$tmp/recv.json" & rpid=$!
for _ in $(seq 100); do
	ip netns exec "$X-red-srv4" ss -Hlun "sport = :9000" | grep -q . && break
	sleep 0.05
done
ex red-srv0 "$P" probe send --to 10.0.0.5:9000 --bind 10.0.0.1:40000 --rate 10000 \
	--count 40000 >/dev/null 2>&1 &
spid=$!
sleep 1
sp() { local t=0 p; for p in p0 p1 p2 p3; do t=$((t + $(ip netns exec "$X-$1" cat /sys/class/net/$X-$p/statistics/rx_bytes))); done; echo $t; }
a0=$(sp spine0); b0=$(sp spine1); sleep 0.2; a1=$(sp spine0); b1=$(sp spine1)
spine=$([ $((a1 - a0)) -gt $((b1 - b0)) ] && echo spine0 || echo spine1)
t_fail=$(date +%s%N)
$P lab node down "$spine" $L >/dev/null
wait "$spid" || true
wait "$rpid" || true
rpid=
recv=$(jq .received "$tmp/recv.json")
gap=$(jq --argjson t "$t_fail" '[.loss_gaps[] | select(.start_ns >= $t - 20000000) | .gap_ms] | max // 0' "$tmp/recv.json")
[ "$recv" -gt 30000 ] || fail "the stream lost too much across the failure of $spine: $recv of 40000"
awk -v g="$gap" 'BEGIN { exit !(g < 1000) }' || fail "$spine's failure: a gap of $gap ms"
echo "ok: a stream survives the failure of $spine: $recv of 40000 arrived, longest gap $gap ms"
# leaf0: 2 spines and 4 server NICs; the 5 sessions but the failed spine's stay
est=$(vty leaf0 "show bgp ipv4 unicast summary json" | jq '[.peers[] | select(.state == "Established")] | length')
[ "$est" -eq 5 ] || fail "leaf0 has $est sessions established after $spine failed, not 5"
$P lab node up "$spine" $L >/dev/null
echo "ok: $spine back"

# migration: EVPN learns the VM at its new server
$P lab migrate red-srv7 srv2 $L >/dev/null
ok=0
for _ in $(seq 50); do
	ex red-srv0 ping -c 1 -W 1 -q 10.0.0.8 >/dev/null 2>&1 && { ok=1; break; }
done
[ $ok = 1 ] || fail "red-srv7 unreachable after its move to srv2"
vtep=$(vty srv0 "show evpn mac vni 1 mac ${mac[red-srv7]} json" | jq -r '.[] .remoteVtep? // empty' 2>/dev/null | head -1)
[ -n "$vtep" ] || vtep=$(vty srv0 "show evpn mac vni 1 mac ${mac[red-srv7]}" | awk '/Remote VTEP/ { print $NF }' | head -1)
srv2_lo=$(ip -n "$X-srv2" -4 -o addr show dev lo | awk '$4 != "127.0.0.1/8" { print $4 }' | cut -d/ -f1)
[ "$vtep" = "$srv2_lo" ] || fail "srv0 has red-srv7's MAC behind '$vtep', not srv2 ($srv2_lo)"
echo "ok: red-srv7 migrated: reachable, srv0 learned its MAC behind srv2's VTEP $srv2_lo"

cp "$st/setup/steps" "$tmp/steps"
$P lab down $L >/dev/null
no_remains() {	# WHAT
	ip netns list | grep -q "^$X-" && fail "$1: namespaces of $X remain"
	for f in /proc/[0-9]*/cmdline; do
		{ tr '\0' ' ' <"$f"; } 2>/dev/null | grep -q -- "-N $X-" &&
			fail "$1: an FRR process of $X remains ($f)"
	done
	[ ! -e "$st" ] || fail "$1: the state directory remains"
}
no_remains "lab down"
echo "ok: lab down leaves no FRR process, namespace or state"

# Rollback: `up` failing at EVPN's own steps leaves nothing behind.
for kind in "settings-evpn all" "start-bgpd srv7" "wait-bgp spine0"; do
	n=$(grep " $kind\$" "$tmp/steps" | cut -d' ' -f1)
	[ -n "$n" ] || fail "no step '$kind' in $(tr '\n' ';' <"$tmp/steps")"
	if out=$(PEREGRINE_LAB_FAIL_AFTER=$((n - 1)) $P lab up "$tmp/evpn.yaml" $L 2>&1); then
		fail "up did not fail at step $n ($kind)"
	fi
	echo "$out" | grep -q "injected failure at step $n, $kind" || fail "step $n: $out"
	no_remains "failure at step $n ($kind)"
done
echo "ok: up failing at settings-evpn, start-bgpd, wait-bgp rolls everything back"
