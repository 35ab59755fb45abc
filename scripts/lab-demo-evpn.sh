#!/bin/bash
# The EVPN demo (`peregrine lab demo --scheme evpn`, docs/evpn.md): the
# baseline fabric (eBGP + BFD underlay, VXLAN, BGP EVPN through FRR) on the
# default lab's topology and tenants, measured with the same checks and
# JSON keys as the Peregrine demo (scripts/lab-demo.sh).
#
#            spine0            spine1          one ASN for the spines
#          /   |   \  \      /  |   |  \
#      leaf0  leaf1  leaf2  leaf3              an ASN per leaf
#       | \  / |      | \  / |                 (eBGP + BFD on every link)
#      srv0 srv1 ..  srv4 .. srv7              VTEPs, dual-homed, an ASN each
#   red-srvN and blue-srvN on srvN, both 10.0.0.N+1 (the VDCs reuse 10.0.0.0/24)
#
# 1. reachability: every VM pings every VM of its VDC; each answer must come
#    from the VM of its own VDC (the neighbour's MAC), and no VM of the other
#    VDC may receive an echo request (its ICMP InEchos)
# 2. throughput: iperf3 red-srv0 -> red-srv4
# 3. fail-over: a 10,000 datagram/s stream red-srv0 -> red-srv4 while the
#    leaf-spine link it uses is cut, then while the spine it moved to fails;
#    3b. a grey failure: the spine a new stream uses stops forwarding (and
#    answering BFD) while its links stay up (nftables drop rules)
# 4. migration: the stream's loss gap while red-srv7 moves to srv2 (EVPN
#    learns it from the VM's gratuitous ARP: a type-2 route from srv2)
# 5. forwarding entries per switch (an EVPN switch's FIB: its IPv4 routes)
#
# Usage: lab-demo-evpn.sh [--json] (PEREGRINE = the binary, PREFIX = the
# prefix, UNDERLAY_MTU = the fabric's MTU, 1500 unless set: 9000 gives
# tenants 1500).  Bounded: every stream has a fixed count, every wait a
# timeout.
set -euo pipefail
. "$(dirname "$0")/demo-lib.sh"
counter() { ip netns exec "$X-$1" cat "/sys/class/net/$X-$2/statistics/$3"; }
in_echos() { ip netns exec "$X-$1" awk '/^Icmp:/ { n++ } /^Icmp:/ && n == 2 { print $9 }' /proc/net/snmp; }
mac_of() { ip -n "$X-$1" -j link show "$X-eth0" | jq -r '.[0].address'; }
MTU=${UNDERLAY_MTU:-1500}
st=/run/peregrine/lab-$X
t_start=$(now_ns)

{
	echo "name: evpn-demo"
	echo "scheme: evpn"
	echo "topology: leafspine:spines=2,leaves=4,servers=2,homing=2"
	[ "$MTU" = 1500 ] || echo "underlay_mtu: $MTU"
	echo "vdcs:"
	echo "  - {name: red, id: 1, subnet: 10.0.0.0/24}"
	echo "  - {name: blue, id: 2, subnet: 10.0.0.0/24}"
	echo "placement: {per_server: 1}"
} > "$tmp/evpn.yaml"
say "== building an EVPN lab (prefix $X, underlay MTU $MTU)"
$P lab down --prefix "$X" >/dev/null 2>&1 || true
$P lab up "$tmp/evpn.yaml" --prefix "$X" >&2

say "== 1. reachability and isolation"
pairs_ok=0 pairs_total=0 violations=0
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
			( ex "$vdc-srv$s" ping -c 1 -W 2 "10.0.0.$((d + 1))" >/dev/null 2>&1 &&
				echo ok || echo fail ) >> "$tmp/ping-$vdc" &
		done
		wait
	done
	pairs_total=$((pairs_total + $(wc -l < "$tmp/ping-$vdc")))
	pairs_ok=$((pairs_ok + $(grep -c ok "$tmp/ping-$vdc" || true)))
	after=$(for s in 0 1 2 3 4 5 6 7; do in_echos "$other-srv$s"; done | paste -sd' ')
	read -ra b <<< "$before"; read -ra a <<< "$after"
	for i in "${!b[@]}"; do [ "${a[$i]}" -gt "${b[$i]}" ] && violations=$((violations + 1)); done
	# the address each VM resolved must be its own VDC's VM
	for s in 0 1 2 3 4 5 6 7; do
		for d in 0 1 2 3 4 5 6 7; do
			[ "$s" = "$d" ] && continue
			got=$(ip -n "$X-$vdc-srv$s" -j neigh show "10.0.0.$((d + 1))" | jq -r '.[0].lladdr // ""')
			[ -z "$got" ] || [ "$got" = "${mac[$vdc-srv$d]}" ] || violations=$((violations + 1))
		done
	done
done
say "   $pairs_ok of $pairs_total pairs reachable within their VDC; $violations isolation violations"
tenant_mtu=$(ip -n "$X-red-srv0" -j link show "$X-eth0" | jq ".[0].mtu")
vx_mtu=$(ip -n "$X-srv0" -j link show "$X-vx1" | jq ".[0].mtu")
nic_mtu=$(ip -n "$X-srv0" -j link show "$X-nic0" | jq ".[0].mtu")
header_bytes=50	# VXLAN: outer Ethernet 14, IPv4 20, UDP 8, VXLAN 8
[ "$nic_mtu" -gt 1500 ] || header_bytes=$((nic_mtu - vx_mtu))
say "   tenant MTU $tenant_mtu on a $nic_mtu-byte underlay; $header_bytes bytes of headers"

say "== 2. throughput (iperf3, red-srv0 -> red-srv4, 3 s)"
ex red-srv4 iperf3 -s -1 -p 5201 >/dev/null 2>&1 & bg+=($!)
sleep 0.5
gbps=$(ex red-srv0 iperf3 -c 10.0.0.5 -p 5201 -t 3 -J 2>/dev/null | jq '.end.sum_received.bits_per_second / 1e9' || echo 0)
say "   $(human_round "$gbps" 2) Gbit/s"

stream() {	# NAME TO_VM IP: 10,000 datagrams/s from red-srv0 until stop_stream
	local name=$1 to_vm=$2 ip=$3
	ex red-srv0 ping -c 3 -i 0.2 -W 1 -q "$ip" >/dev/null 2>&1 || true
	ex "$to_vm" "$P" probe recv --listen "$ip:9000" --duration 40 --idle 3 --gaps 16 \
		--json --bin-ms 10 > "$tmp/$name.json" & bg+=($!)
	for _ in $(seq 100); do
		ip netns exec "$X-$to_vm" ss -Hlun "sport = :9000" | grep -q . && break
		sleep 0.05
	done
	$P lab exec red-srv0 --prefix "$X" -- "$P" probe send --to "$ip:9000" \
		--bind 10.0.0.1:40000 --rate 10000 --count 300000 2>/dev/null & sender=$!
	bg+=($sender)
}
# busiest NODE PORTS...: the port (pN/nicN) that sent the most bytes in 0.2 s
busiest() {
	local node=$1 p best="" max=-1
	shift
	declare -A t0
	for p in "$@"; do t0[$p]=$(counter "$node" "$p" tx_bytes); done
	sleep 0.2
	for p in "$@"; do
		local d=$(($(counter "$node" "$p" tx_bytes) - t0[$p]))
		[ "$d" -gt "$max" ] && { max=$d; best=$p; }
	done
	echo "$best"
}
# The fabric's wiring, once: owner[IP] is the node with that address,
# addr[NODE:PORT] a port's address; the far end of a /31 is the address ^ 1.
declare -A owner addr
for n in spine0 spine1 leaf0 leaf1 leaf2 leaf3 srv0 srv1 srv2 srv3 srv4 srv5 srv6 srv7; do
	while read -r ifn ip; do
		owner[$ip]=$n; addr[$n:${ifn#"$X-"}]=$ip
	done < <(ip -n "$X-$n" -j addr show | jq -r --arg x "$X-" '.[] | select(.ifname | startswith($x + "p") or startswith($x + "nic")) |
		.ifname as $i | .addr_info[] | select(.family == "inet") | "\($i) \(.local)"')
done
peer_of() {	# NODE PORT: the node across the port
	local ip=${addr[$1:$2]}
	echo "${owner[${ip%.*}.$((${ip##*.} ^ 1))]}"
}
uplinks() {	# LEAF: its ports to spines
	local k
	for k in "${!addr[@]}"; do
		[ "${k%%:*}" = "$1" ] || continue
		case $(peer_of "$1" "${k#*:}") in spine*) echo "${k#*:}";; esac
	done
}

say "== 3. fail-over (10,000 datagrams/s red-srv0 -> red-srv4)"
stream fo red-srv4 10.0.0.5
sleep 1.5
nic=$(busiest srv0 nic0 nic1); leaf=$(peer_of srv0 "$nic")
mapfile -t up < <(uplinks "$leaf")
spine=$(peer_of "$leaf" "$(busiest "$leaf" "${up[@]}")")
t_link=$($P lab link down "$leaf" "$spine" --prefix "$X" --json | jq .at_ns)
say "   cut $leaf -- $spine"
sleep 2
nic=$(busiest srv0 nic0 nic1); leaf2=$(peer_of srv0 "$nic")
mapfile -t up < <(uplinks "$leaf2")
spine2=$(peer_of "$leaf2" "$(busiest "$leaf2" "${up[@]}")")
# `lab node down` stops the switch's daemons before its links go down (and
# gives at_ns of the links): a switch's failure starts when it stops
t_node=$(now_ns)
$P lab node down "$spine2" --prefix "$X" >/dev/null
say "   failed switch $spine2"
report_status "While both failures held: $leaf -- $spine cut, $spine2 failed."
stop_stream
gap_link=$(gap_after "$tmp/fo.json" "$t_link"); gap_node=$(gap_after "$tmp/fo.json" "$t_node")
lost_fo_ms=$(jq '.lost / 10' "$tmp/fo.json")
say "   loss gaps (ms after the cut: length): $(jq -c --argjson t "$t_link" '[.loss_gaps[] | "\((.start_ns - $t) / 1e6 | round): \(.gap_ms)"]' "$tmp/fo.json"); the switch failed $(( (t_node - t_link) / 1000000 )) ms after the cut"
say "   longest gap: link cut $(human_round "$gap_link" 1) ms, switch failure $(human_round "$gap_node" 1) ms; in all $lost_fo_ms ms of the stream lost"
report_stream "fail-over: red-srv0 -> red-srv4, 10,000 datagrams/s" "$tmp/fo.json" \
	"The link from the leaf the stream left by to the spine it crossed is cut; 2 s later the spine it crossed then fails." \
	"link $leaf -- $spine cut" "$t_link" "$spine2 fails" "$t_node"
# the link first: `node up` waits until the spine has a route to every
# leaf and server, which it cannot while one of its links is cut
$P lab link up "$leaf" "$spine" --prefix "$X" >/dev/null
$P lab node up "$spine2" --prefix "$X" >/dev/null

say "== 3b. grey failure: the spine the stream uses stops forwarding, its links stay up"
# nftables in the spine's namespace drops every IP packet it receives,
# forwards or sends (tenant traffic, BGP and BFD alike: a hung switch);
# no port loses its carrier, so only BFD's 3 x 300 ms can find it
for _ in $(seq 300); do	# the restored spine's sessions first (30 s at most)
	est=$(vtysh --vty_socket "$st/frr/$spine2" -c "show bgp ipv4 unicast summary json" |
		jq '[.peers[] | select(.state == "Established")] | length')
	[ "$est" -eq 4 ] && break
	sleep 0.1
done
stream grey red-srv4 10.0.0.5
sleep 1.5
nic=$(busiest srv0 nic0 nic1); leaf3=$(peer_of srv0 "$nic")
mapfile -t up < <(uplinks "$leaf3")
spine3=$(peer_of "$leaf3" "$(busiest "$leaf3" "${up[@]}")")
t_grey=$(now_ns)
ip netns exec "$X-$spine3" nft -f - <<NFT
table inet grey {
	chain drop_in { type filter hook input priority -300; policy drop; }
	chain drop_fwd { type filter hook forward priority -300; policy drop; }
	chain drop_out { type filter hook output priority -300; policy drop; }
}
NFT
say "   $spine3 drops everything (nftables); its links stay up"
stop_stream
ip netns exec "$X-$spine3" nft delete table inet grey
gap_grey=$(gap_after "$tmp/grey.json" "$t_grey")
say "   longest gap $(human_round "$gap_grey" 1) ms (BFD detects at 3 x 300 ms = 900 ms)"
report_stream "grey failure: red-srv0 -> red-srv4" "$tmp/grey.json" \
	"The spine the stream crossed drops every packet (nftables) while its links stay up, until the stream ends; BFD (3 x 300 ms) finds it." \
	"$spine3 drops everything" "$t_grey"
for _ in $(seq 300); do	# its sessions back before the migration
	est=$(vtysh --vty_socket "$st/frr/$spine3" -c "show bgp ipv4 unicast summary json" |
		jq '[.peers[] | select(.state == "Established")] | length')
	[ "$est" -eq 4 ] && break
	sleep 0.1
done

say "== 4. migration (stream to red-srv7, which moves to srv2)"
stream mig red-srv7 10.0.0.8
sleep 1.5
$P lab migrate red-srv7 srv2 --prefix "$X" --json > "$tmp/migrate.json"
t_mig=$(jq .detach_ns "$tmp/migrate.json")
stop_stream
gap_mig=$(gap_after "$tmp/mig.json" "$t_mig")
lost_mig_ms=$(jq '.lost / 10' "$tmp/mig.json")
move_ms=$(jq '.port_move_ms * 10 | round / 10' "$tmp/migrate.json")
say "   longest gap $(human_round "$gap_mig" 1) ms (the port moved in $move_ms ms); $lost_mig_ms ms of the stream lost"
report_stream "migration: red-srv0 -> red-srv7, which moves to srv2" "$tmp/mig.json" \
	"The stream's receiver moves to a server under other leaves." \
	"red-srv7 detached" "$t_mig" "port up in srv2" "$(jq .attach_ns "$tmp/migrate.json")"
# MAC mobility (RFC 7432 section 15): what FRR holds for the moved MAC at
# a remote VTEP (srv0), the new one (srv2) and the old one (srv7)
mac_seq() {	# NODE: {type, vtep, local_seq, remote_seq} of red-srv7's MAC in VNI 1
	vtysh --vty_socket "$st/frr/$1" -c "show evpn mac vni all json" |
		jq -c --arg m "${mac[red-srv7]}" '[.. | objects | .[$m]? // empty | objects] | first // {}
			| {type, vtep: (.remoteVtep // null), local_seq: .localSequence,
			   remote_seq: .remoteSequence}'
}
sleep 1	# the type-2 route of srv2 reaches every VTEP
mac_seqs=$(for n in srv0 srv2 srv7; do echo "{\"$n\": $(mac_seq $n)}"; done | jq -s -c add)
say "   red-srv7's MAC after the move (show evpn mac vni all json): $mac_seqs"

say "== 5. forwarding entries per switch (IPv4 routes)"
fib=$(for sw in spine0 spine1 leaf0 leaf1 leaf2 leaf3; do
	echo "{\"$sw\": $(ip -n "$X-$sw" -o -4 route show | wc -l)}"
done | jq -s -c add)
vtep_macs=$(bridge -n "$X-srv0" -j fdb show | jq '[.[] | select(.master != null and (.state // "") != "permanent")] | length')
say "   $fib; srv0's bridges hold $vtep_macs VM MACs"
secs=$(( ($(now_ns) - t_start) / 1000000000 ))
say "== done in $secs s"
figures=$(
	jq -n --argjson ok "$pairs_ok" --argjson total "$pairs_total" --argjson v "$violations" \
	      --argjson g "${gbps:-0}" --argjson gl "$gap_link" \
	      --argjson gn "$gap_node" --argjson gm "$gap_mig" --argjson fib "$fib" --argjson s "$secs" \
	      --argjson lf "$lost_fo_ms" --argjson lm "$lost_mig_ms" --argjson mm "$move_ms" \
	      --argjson hb "$header_bytes" --argjson mtu "$tenant_mtu" --argjson um "$nic_mtu" \
	      --argjson vm "$vtep_macs" --argjson gg "$gap_grey" \
	      --argjson ms "$mac_seqs" \
	   '{scheme: "evpn", pairs_ok: $ok, pairs_total: $total, isolation_violations: $v,
	     iperf_gbps: $g, failover_gap_ms: [$gl, $gn], failover_lost_ms: $lf,
	     grey_gap_ms: $gg,
	     migration_gap_ms: $gm, migration_port_move_ms: $mm, migration_lost_ms: $lm,
	     migration_mac_seq: $ms,
	     fib: $fib, vtep_macs: $vm, header_bytes: $hb, tenant_mtu: $mtu, underlay_mtu: $um,
	     seconds: $s}')
if [ $JSON = 1 ]; then echo "$figures"; fi
report_write "EVPN lab demo (underlay MTU $MTU)" \
	"The EVPN baseline in the lab (scripts/lab-demo-evpn.sh, docs/evpn.md): FRR's BGP EVPN with VXLAN between the servers' VTEPs, eBGP and BFD in the underlay." \
	"$figures"
[ "$pairs_ok" -eq "$pairs_total" ] && [ "$violations" -eq 0 ]
