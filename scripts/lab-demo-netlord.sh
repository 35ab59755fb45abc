#!/bin/bash
# The NetLord demo (`peregrine lab demo --scheme netlord`, docs/netlord.md):
# the default lab's leaf-spine with one NIC per server (NetLord's edge
# switch is the server's one switch), measured with the Peregrine demo's
# checks and JSON keys, plus the VLANs used and the largest core FIB.
#
#            spine0            spine1          VLAN 1: the tree through spine0
#          /   |   \  \      /  |   |  \       VLAN 2: the tree through spine1
#      leaf0  leaf1  leaf2  leaf3              edge switches
#       /  \   /  \   /  \   /  \
#     srv0 srv1 ..           .. srv7           the NLA on each server
#   red-srvN and blue-srvN on srvN, both 10.0.0.N+1 (the VDCs reuse 10.0.0.0/24)
#
# 1. reachability: every VM pings every VM of its VDC; each answer must come
#    from the VM of its own VDC (the neighbour's MAC), and no VM of the other
#    VDC may receive an echo request (its ICMP InEchos)
# 2. throughput: iperf3 red-srv0 -> red-srv7; 32 UDP flows over the VLANs
# 3. fail-over: a 10,000 datagram/s stream red-srv0 -> red-srv7 while the
#    leaf0-spine link it uses is cut; the NLAs' probes find the dead VLAN
#    and re-select on their own (peregrine agent --scheme netlord); then
#    the link back, and the spine the stream moved to failing
# 4. migration: the same stream while red-srv7 moves to srv2 (lab migrate:
#    the new NLA registers it, the directory pushes the new edge switch and
#    port to the NLAs holding it)
# 5. forwarding entries per switch (each switch's learned (VLAN, MAC)s)
#
# Usage: lab-demo-netlord.sh [--json] (PEREGRINE = the binary, PREFIX = the
# prefix).  Bounded: every stream has a fixed count, every wait a timeout.
set -euo pipefail
. "$(dirname "$0")/demo-lib.sh"
in_echos() { ip netns exec "$X-$1" awk '/^Icmp:/ { n++ } /^Icmp:/ && n == 2 { print $9 }' /proc/net/snmp; }
mac_of() { ip -n "$X-$1" -j link show "$X-eth0" | jq -r '.[0].address'; }
pin=/sys/fs/bpf/peregrine
nlstat() { "$P" netlord stats "$pin/$X-$1-nl" --json | jq ".$2 // 0"; }	# pins are global
TOPO=leafspine:spines=2,leaves=4,servers=2
SERVERS="0 1 2 3 4 5 6 7"
SWITCHES="spine0 spine1 leaf0 leaf1 leaf2 leaf3"
t_start=$(now_ns)

cat > "$tmp/netlord.yaml" <<YAML
name: netlord-demo
scheme: netlord
topology: $TOPO
vdcs:
  - {name: red, id: 1, subnet: 10.0.0.0/24}
  - {name: blue, id: 2, subnet: 10.0.0.0/24}
placement: {per_server: 1}
YAML
say "== building a NetLord lab (prefix $X)"
$P lab down --prefix "$X" >/dev/null 2>&1 || true
$P lab up "$tmp/netlord.yaml" --prefix "$X" >&2
say "== 1. reachability and isolation"
pairs_ok=0 pairs_total=0 violations=0
declare -A mac
for vdc in red blue; do
	for s in $SERVERS; do mac[$vdc-srv$s]=$(mac_of "$vdc-srv$s"); done
done
for vdc in red blue; do
	other=$([ $vdc = red ] && echo blue || echo red)
	before=$(for s in $SERVERS; do in_echos "$other-srv$s"; done | paste -sd' ')
	for s in $SERVERS; do
		for d in $SERVERS; do
			[ "$s" = "$d" ] && continue
			( ex "$vdc-srv$s" ping -c 1 -W 2 "10.0.0.$((d + 1))" >/dev/null 2>&1 &&
				echo ok || echo fail ) >> "$tmp/ping-$vdc" &
		done
		wait
	done
	pairs_total=$((pairs_total + $(wc -l < "$tmp/ping-$vdc")))
	pairs_ok=$((pairs_ok + $(grep -c ok "$tmp/ping-$vdc" || true)))
	after=$(for s in $SERVERS; do in_echos "$other-srv$s"; done | paste -sd' ')
	read -ra b <<< "$before"; read -ra a <<< "$after"
	for i in "${!b[@]}"; do [ "${a[$i]}" -gt "${b[$i]}" ] && violations=$((violations + 1)); done
	for s in $SERVERS; do
		for d in $SERVERS; do
			[ "$s" = "$d" ] && continue
			got=$(ip -n "$X-$vdc-srv$s" -j neigh show "10.0.0.$((d + 1))" | jq -r '.[0].lladdr // ""')
			[ -z "$got" ] || [ "$got" = "${mac[$vdc-srv$d]}" ] || violations=$((violations + 1))
		done
	done
done
say "   $pairs_ok of $pairs_total pairs, $violations isolation violations"
tenant_mtu=$(ip -n "$X-red-srv0" -j link show "$X-eth0" | jq ".[0].mtu")
header_bytes=38	# outer Ethernet 14, 802.1Q tag 4, IPv4 20 (docs/netlord.md)

say "== 2. throughput"
ex red-srv7 iperf3 -s -1 -p 5201 >/dev/null 2>&1 & bg+=($!)
sleep 0.5
gbps=$(ex red-srv0 iperf3 -c 10.0.0.8 -p 5201 -t 3 -J 2>/dev/null | jq '.end.sum_received.bits_per_second / 1e9' || echo 0)
say "   iperf3 red-srv0 -> red-srv7: $(human_round "$gbps" 2) Gbit/s"
# a sink, so that no port-unreachable comes back (at most 60 s)
ip netns exec "$X-red-srv7" timeout 60 python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("10.0.0.8", 9100))
while True:
    s.recv(2048)' & bg+=($!)
sleep 0.5
a0=$(nlstat spine0 SW_FORWARD); b0=$(nlstat spine1 SW_FORWARD)
for port in $(seq 40000 40031); do
	ex red-srv0 "$P" probe send --to 10.0.0.8:9100 --bind "10.0.0.1:$port" --rate 10000 \
		--count 100 >/dev/null 2>&1
done
a=$(($(nlstat spine0 SW_FORWARD) - a0)); b=$(($(nlstat spine1 SW_FORWARD) - b0))
# the NLAs' probes cross both spines at one rate: of the 3200 frames of the
# flows, spine0 carried about (a - b + 3200) / 2
a=$(( (a - b + 3200) / 2 )); a=$(( a < 0 ? 0 : a > 3200 ? 3200 : a )); b=$((3200 - a))
vlans_used=0
[ $((a * 10)) -ge $((a + b)) ] && [ "$a" -gt 0 ] && vlans_used=$((vlans_used + 1))
[ $((b * 10)) -ge $((a + b)) ] && [ "$b" -gt 0 ] && vlans_used=$((vlans_used + 1))
say "   32 flows x 100 datagrams red-srv0 -> red-srv7: spine0 (VLAN 1) forwarded about $a of their frames, spine1 (VLAN 2) $b: $vlans_used VLANs used"

stream() {	# NAME TO_VM IP: 10,000 datagrams/s red-srv0 -> IP until stop_stream
	local name=$1 to_vm=$2 ip=$3
	ex "$to_vm" "$P" probe recv --listen "$ip:9000" --duration 60 --idle 5 --gaps 16 \
		--json --bin-ms 10 > "$tmp/$name.json" & bg+=($!)
	for _ in $(seq 100); do
		ip netns exec "$X-$to_vm" ss -Hlun "sport = :9000" | grep -q . && break
		sleep 0.05
	done
	$P lab exec red-srv0 --prefix "$X" -- "$P" probe send --to "$ip:9000" \
		--bind 10.0.0.1:40000 --rate 10000 --count 300000 2>/dev/null & sender=$!
	bg+=($sender)
}
busiest_spine() {	# the spine that forwarded the most frames in 0.2 s
	local a0 b0
	a0=$(nlstat spine0 SW_FORWARD); b0=$(nlstat spine1 SW_FORWARD)
	sleep 0.2
	[ $(($(nlstat spine0 SW_FORWARD) - a0)) -ge $(($(nlstat spine1 SW_FORWARD) - b0)) ] &&
		echo spine0 || echo spine1
}
say "== 3. fail-over (10,000 datagrams/s red-srv0 -> red-srv7)"
stream fo red-srv7 10.0.0.8
sleep 1.5
spine=$(busiest_spine)
t_link=$($P lab link down leaf0 "$spine" --prefix "$X" --json | jq .at_ns)
say "   cut leaf0 -- $spine (the NLAs re-select on their own)"
sleep 2
$P lab link up leaf0 "$spine" --prefix "$X" >/dev/null
sleep 1
spine2=$(busiest_spine)
t_node=$(now_ns)
$P lab node down "$spine2" --prefix "$X" >/dev/null
say "   failed switch $spine2"
report_status "While $spine2 was failed (the link leaf0 -- $spine cut before it was up again)."
sleep 2
stop_stream
gap_link=$(gap_after "$tmp/fo.json" "$t_link"); gap_node=$(gap_after "$tmp/fo.json" "$t_node")
lost_fo_ms=$(jq '.lost / 10' "$tmp/fo.json")
say "   longest gap: link cut $(human_round "$gap_link" 1) ms, switch failure $(human_round "$gap_node" 1) ms; in all $lost_fo_ms ms of the stream lost"
report_stream "fail-over: red-srv0 -> red-srv7, 10,000 datagrams/s" "$tmp/fo.json" \
	"The link from leaf0 to the spine the stream crossed is cut for 2 s; then the spine it crossed next fails." \
	"link leaf0 -- $spine cut" "$t_link" "$spine2 fails" "$t_node"

say "== 4. migration (stream to red-srv7, which moves to srv2)"
stream mig red-srv7 10.0.0.8
sleep 1.5
$P lab migrate red-srv7 srv2 --prefix "$X" --json > "$tmp/migrate.json"
t_mig=$(jq .detach_ns "$tmp/migrate.json")
sleep 2
stop_stream
gap_mig=$(gap_after "$tmp/mig.json" "$t_mig")
say "   longest gap: $(human_round "$gap_mig" 1) ms; in all $(jq '.lost / 10' "$tmp/mig.json") ms of the stream lost"
report_stream "migration: red-srv0 -> red-srv7, which moves to srv2" "$tmp/mig.json" \
	"The stream's receiver moves to a server under another leaf." \
	"red-srv7 detached" "$t_mig" "port up in srv2" "$(jq .attach_ns "$tmp/migrate.json")"

say "== 5. forwarding entries per switch (learned (VLAN, MAC)s)"
fib=$(for sw in $SWITCHES; do
	echo "{\"$sw\": $(nlstat "$sw" fib_used)}"
done | jq -s -c add)
core_fib_max=$(echo "$fib" | jq '[.spine0, .spine1] | max')
say "   $fib; the core's largest: $core_fib_max"
secs=$(( ($(now_ns) - t_start) / 1000000000 ))
say "== done in $secs s"
figures=$(
	jq -n --argjson ok "$pairs_ok" --argjson total "$pairs_total" --argjson v "$violations" \
	      --argjson g "${gbps:-0}" --argjson gl "$gap_link" --argjson gn "$gap_node" \
	      --argjson fib "$fib" --argjson s "$secs" --argjson lf "$lost_fo_ms" \
	      --argjson hb "$header_bytes" --argjson mtu "$tenant_mtu" \
	      --argjson vu "$vlans_used" --argjson cf "$core_fib_max" \
	      --argjson gm "$gap_mig" \
	   '{scheme: "netlord", pairs_ok: $ok, pairs_total: $total, isolation_violations: $v,
	     iperf_gbps: $g, failover_gap_ms: [$gl, $gn], failover_lost_ms: $lf,
	     migration_gap_ms: $gm, fib: $fib, header_bytes: $hb, tenant_mtu: $mtu,
	     vlans_used: $vu, core_fib_max: $cf, seconds: $s}')
if [ $JSON = 1 ]; then echo "$figures"; fi
report_write "NetLord lab demo" \
	"NetLord in the lab (scripts/lab-demo-netlord.sh, docs/netlord.md): each tenant frame inside an outer Ethernet, VLAN and IPv4 header between the servers' NetLord agents, one VLAN per spine over learning switches." \
	"$figures"
[ "$pairs_ok" -eq "$pairs_total" ] && [ "$violations" -eq 0 ]
