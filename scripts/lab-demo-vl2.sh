#!/bin/bash
# The VL2 demo (`peregrine lab demo --scheme vl2`, docs/vl2.md): a VL2 lab
# with its agents, measured with the same checks and JSON keys as the
# Peregrine demo (scripts/lab-demo.sh), plus what VL2's headers cost.
#
#          int0            int1
#         /  |  \  \      /  |  \  \
#      agg0 agg1 agg2 agg3
#       | \ / |   | \ / |
#      tor0 tor1 tor2 tor3
#   srv0..srv7, two per ToR; red-srvN 10.0.0.N+1, blue-srvN 10.1.0.N+1
#
# 1. reachability: every VM pings every VM of its VDC; a blue VM that
#    routes to the red VM with its host number hears nothing; a spoofed
#    source is dropped
# 2. throughput: iperf3 red-srv0 -> red-srv7 (different ToRs and pods)
# 3. fail-over: a 10,000 datagram/s stream red-srv0 -> red-srv7 while its
#    ToR uplink is cut, then while its intermediate fails
# 4. migration: the stream's loss gap while red-srv7 moves to srv2
# 5. routes per switch (a VL2 switch's FIB: its kernel IPv4 routes)
#
# Usage: lab-demo-vl2.sh [--json] (PEREGRINE = the binary, PREFIX = the prefix)
# Bounded: every stream has a fixed count, every wait a timeout.
set -euo pipefail
. "$(dirname "$0")/demo-lib.sh"
counter() { ip netns exec "$X-$1" cat "/sys/class/net/$X-$2/statistics/$3"; }
t_start=$(now_ns)

cat > "$tmp/vl2.yaml" <<'YAML'
name: vl2-demo
scheme: vl2
topology: vl2:da=4,di=4,per_tor=2
vdcs:
  - {name: red, id: 1, subnet: 10.0.0.0/24}
  - {name: blue, id: 2, subnet: 10.1.0.0/24}
placement: {per_server: 1}
YAML
say "== building a VL2 lab (prefix $X)"
$P lab down --prefix "$X" >/dev/null 2>&1 || true
$P lab up "$tmp/vl2.yaml" --prefix "$X" >&2

say "== 1. reachability and isolation"
pairs_ok=0 pairs_total=0 violations=0
for net in 0 1; do
	vdc=$([ $net = 0 ] && echo red || echo blue)
	for s in 0 1 2 3 4 5 6 7; do
		for d in 0 1 2 3 4 5 6 7; do
			[ "$s" = "$d" ] && continue
			# the first ARP misses while the agent asks the directory; the
			# VM asks again a second later
			( { ex "$vdc-srv$s" ping -c 1 -W 3 "10.$net.0.$((d + 1))" ||
			    ex "$vdc-srv$s" ping -c 1 -W 3 "10.$net.0.$((d + 1))"; } >/dev/null 2>&1 &&
				echo ok || echo fail ) >> "$tmp/ping-$vdc" &
		done
	done
	wait
	pairs_total=$((pairs_total + $(wc -l < "$tmp/ping-$vdc")))
	pairs_ok=$((pairs_ok + $(grep -c ok "$tmp/ping-$vdc" || true)))
done
# blue-srvN routes red's subnet and pings red-srvN's AA: VL2 has no tenant
# id on the wire, so what keeps them apart is the directory (blue's AA
# space has no 10.0.0.N) and the agent
for s in 0 1 2 3 4 5 6 7; do
	before=$(counter "red-srv$s" eth0 rx_packets)
	ex "blue-srv$s" ip route add 10.0.0.0/24 dev "$X-eth0"
	if ex "blue-srv$s" ping -c 2 -W 2 -q "10.0.0.$((s + 1))" >/dev/null 2>&1 ||
	   [ "$(counter "red-srv$s" eth0 rx_packets)" -gt "$before" ]; then
		violations=$((violations + 1))
	fi
	ex "blue-srv$s" ip route del 10.0.0.0/24 dev "$X-eth0"
done
say "   $pairs_ok of $pairs_total pairs reachable within their VDC; $violations isolation violations"
# A spoofed source: red-srv0 sends from 10.0.0.99, which is not its own.
before=$(counter red-srv7 eth0 rx_packets)
ex red-srv0 ip addr add 10.0.0.99/32 dev "$X-eth0"
ex red-srv0 ping -c 3 -i 0.2 -W 1 -I 10.0.0.99 10.0.0.8 >/dev/null 2>&1 || true
ex red-srv0 ip addr del 10.0.0.99/32 dev "$X-eth0"
spoof_dropped=$((3 - ($(counter red-srv7 eth0 rx_packets) - before)))
[ "$spoof_dropped" -ge 0 ] || spoof_dropped=0
say "   spoofed source: 3 sent, $spoof_dropped never reached red-srv7"
tenant_mtu=$(ip -n "$X-red-srv0" -j link show "$X-eth0" | jq ".[0].mtu")
header_bytes=$((1500 - tenant_mtu))
say "   tenant MTU $tenant_mtu on a 1500-byte underlay: $header_bytes bytes of headers"

say "== 2. throughput (iperf3, red-srv0 -> red-srv7, 3 s)"
ex red-srv7 iperf3 -s -1 -p 5201 >/dev/null 2>&1 & bg+=($!)
sleep 0.5
gbps=$(ex red-srv0 iperf3 -c 10.0.0.8 -p 5201 -t 3 -J 2>/dev/null | jq '.end.sum_received.bits_per_second / 1e9' || echo 0)
say "   $(human_round "$gbps" 2) Gbit/s"

stream() {	# NAME: 10,000 datagrams/s red-srv0 -> red-srv7 until stop_stream
	local name=$1
	ex red-srv0 ping -c 3 -i 0.2 -W 1 -q 10.0.0.8 >/dev/null 2>&1 || true
	ex red-srv7 "$P" probe recv --listen 10.0.0.8:9000 --duration 40 --idle 3 --gaps 16 \
		--json --bin-ms 10 > "$tmp/$name.json" & bg+=($!)
	for _ in $(seq 100); do
		ip netns exec "$X-red-srv7" ss -Hlun "sport = :9000" | grep -q . && break
		sleep 0.05
	done
	$P lab exec red-srv0 --prefix "$X" -- "$P" probe send --to 10.0.0.8:9000 \
		--bind 10.0.0.1:40000 --rate 10000 --count 300000 2>/dev/null & sender=$!
	bg+=($sender)
}
busier() {	# NODE PORT_A NAME_A PORT_B NAME_B: the port sending more bytes over 0.2 s
	local a0 b0 a1 b1
	a0=$(counter "$1" "$2" tx_bytes); b0=$(counter "$1" "$4" tx_bytes)
	sleep 0.2
	a1=$(counter "$1" "$2" tx_bytes); b1=$(counter "$1" "$4" tx_bytes)
	if [ $((a1 - a0)) -gt $((b1 - b0)) ]; then echo "$3"; else echo "$5"; fi
}
int_bytes() {
	local t=0 p
	for p in p0 p1 p2 p3; do t=$((t + $(counter "$1" $p rx_bytes))); done
	echo $t
}

say "== 3. fail-over (10,000 datagrams/s red-srv0 -> red-srv7)"
stream fo
sleep 1.5
agg=$(busier tor0 p0 agg0 p1 agg1)
t_link=$($P lab link down tor0 "$agg" --prefix "$X" --json | jq .at_ns)
sleep 1.5
i0=$(int_bytes int0); i1=$(int_bytes int1); sleep 0.2
i0=$(($(int_bytes int0) - i0)); i1=$(($(int_bytes int1) - i1))
int=$([ "$i0" -gt "$i1" ] && echo int0 || echo int1)
t_node=$($P lab node down "$int" --prefix "$X" --json | jq .at_ns)
report_status "While both failures held: tor0 -- $agg cut, $int failed."
stop_stream
gap_link=$(gap_after "$tmp/fo.json" "$t_link"); gap_node=$(gap_after "$tmp/fo.json" "$t_node")
lost_fo_ms=$(jq '.lost / 10' "$tmp/fo.json")
say "   tor0-$agg cut: longest gap $(human_round "$gap_link" 1) ms; $int down: $(human_round "$gap_node" 1) ms; in all $lost_fo_ms ms of the stream lost"
report_stream "fail-over: red-srv0 -> red-srv7, 10,000 datagrams/s" "$tmp/fo.json" \
	"A ToR's uplink on the stream's path is cut, then the busier intermediate switch fails." \
	"link tor0 -- $agg cut" "$t_link" "$int fails" "$t_node"
$P lab link up tor0 "$agg" --prefix "$X" >/dev/null
$P lab node up "$int" --prefix "$X" >/dev/null

say "== 4. migration (red-srv7: srv7 -> srv2, under another ToR)"
stream mig
sleep 1.5
$P lab migrate red-srv7 srv2 --prefix "$X" --json > "$tmp/migrate.json"
t_mig=$(jq .detach_ns "$tmp/migrate.json")
stop_stream
gap_mig=$(gap_after "$tmp/mig.json" "$t_mig")
lost_mig_ms=$(jq '.lost / 10' "$tmp/mig.json")
move_ms=$(jq '.port_move_ms * 10 | round / 10' "$tmp/migrate.json")
say "   longest gap $(human_round "$gap_mig" 1) ms (the port moved in $move_ms ms); $lost_mig_ms ms of the stream lost"
report_stream "migration: red-srv0 -> red-srv7, which moves to srv2" "$tmp/mig.json" \
	"The stream's receiver moves to a server under another ToR." \
	"red-srv7 detached" "$t_mig" "port up in srv2" "$(jq .attach_ns "$tmp/migrate.json")"

say "== 5. routes per switch"
fib=$(for sw in int0 int1 agg0 agg1 agg2 agg3 tor0 tor1 tor2 tor3; do
	echo "{\"$sw\": $(ip -n "$X-$sw" -o -4 route show | wc -l)}"
done | jq -s -c add)
say "   $fib"
secs=$(( ($(now_ns) - t_start) / 1000000000 ))
say "== done in $secs s"
figures=$(
	jq -n --argjson ok "$pairs_ok" --argjson total "$pairs_total" --argjson v "$violations" \
	      --argjson sp "$spoof_dropped" --argjson g "${gbps:-0}" --argjson gl "$gap_link" \
	      --argjson gn "$gap_node" --argjson gm "$gap_mig" --argjson fib "$fib" --argjson s "$secs" \
	      --argjson lf "$lost_fo_ms" --argjson lm "$lost_mig_ms" --argjson mm "$move_ms" \
	      --argjson hb "$header_bytes" --argjson mtu "$tenant_mtu" \
	   '{scheme: "vl2", pairs_ok: $ok, pairs_total: $total, isolation_violations: $v,
	     spoofed_dropped: $sp, iperf_gbps: $g, failover_gap_ms: [$gl, $gn],
	     failover_lost_ms: $lf, migration_gap_ms: $gm, migration_port_move_ms: $mm,
	     migration_lost_ms: $lm, fib: $fib, header_bytes: $hb, tenant_mtu: $mtu, seconds: $s}')
if [ $JSON = 1 ]; then echo "$figures"; fi
report_write "VL2 lab demo" \
	"VL2 in the lab (scripts/lab-demo-vl2.sh, docs/vl2.md): FRR's OSPF and ECMP, IP-in-IP to the ToR through a random intermediate." \
	"$figures"
[ "$pairs_ok" -eq "$pairs_total" ] && [ "$violations" -eq 0 ]
