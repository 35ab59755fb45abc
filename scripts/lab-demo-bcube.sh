#!/bin/bash
# The BCube demo (`peregrine lab demo --scheme bcube`, docs/bcube.md): a
# BCube(4,1) lab, measured with the Peregrine demo's checks and JSON keys
# where they apply, plus the parallel paths a transfer uses and the
# throughput through a relaying server.
#
#   level 1:  sw1-0 .. sw1-3   (sw1-j: srvj, srvj+4, srvj+8, srvj+12)
#   level 0:  sw0-0 .. sw0-3   (sw0-i: srv4i .. srv4i+3)
#   srvN has 10.210.0.N+1; srv0 -> srv15 goes through srv3 or srv12
#
# 1. reachability: every server pings every other (240 pairs)
# 2. throughput: iperf3 srv0 -> srv1 (neighbours: no relay), srv0 -> srv15
#    (through one relaying server), and 8 streams srv0 -> srv15 (how many
#    of srv0's NICs carry at least 10% of the bytes: the paths used)
# 3. fail-over: a 10,000 datagram/s stream srv0 -> srv15 while the link
#    after its relay is cut, then while the relay it uses goes down
# 4. forwarding entries per switch (what each bridge learned)
#
# BCube has no tenants: isolation_violations is null.
# Usage: lab-demo-bcube.sh [--json] (PEREGRINE = the binary, PREFIX = the prefix)
# Bounded: every stream has a fixed count, every wait a timeout.
set -euo pipefail
. "$(dirname "$0")/demo-lib.sh"
counter() { ip netns exec "$X-$1" cat "/sys/class/net/$X-$2/statistics/$3"; }
ip_of() { echo "10.210.0.$((${1#srv} + 1))"; }
t_start=$(now_ns)

cat > "$tmp/bcube.yaml" <<'YAML'
name: bcube-demo
scheme: bcube
topology: bcube:n=4,k=1
YAML
say "== building a BCube(4,1) lab (prefix $X)"
$P lab down --prefix "$X" >/dev/null 2>&1 || true
$P lab up "$tmp/bcube.yaml" --prefix "$X" >&2

say "== 1. reachability"
all=""
for s in $(seq 0 15); do all="$all $(ip_of srv$s)"; done
for s in $(seq 0 15); do
	me=$(ip_of srv$s)
	# the first packet to a new address is the miss that starts the lookup
	ip netns exec "$X-srv$s" sh -c "for d in $all; do [ \$d = $me ] && continue;
		ping -n -q -c 1 -i 0.2 -w 3 \$d >/dev/null 2>&1 && echo ok || echo fail; done" \
		> "$tmp/ping-$s" &
done
wait
pairs_total=$(cat "$tmp"/ping-* | wc -l)
pairs_ok=$(cat "$tmp"/ping-* | grep -c ok || true)
say "   $pairs_ok of $pairs_total pairs"

iperf() {	# FROM TO PORT STREAMS: Gbit/s over 3 s
	ex "$2" iperf3 -s -1 -p "$3" >/dev/null 2>&1 & bg+=($!)
	sleep 0.5
	ex "$1" iperf3 -c "$(ip_of "$2")" -p "$3" -t 3 -P "$4" -J 2>/dev/null |
		jq '.end.sum_received.bits_per_second / 1e9' || echo 0
}
say "== 2. throughput (iperf3, 3 s each)"
gbps=$(iperf srv0 srv1 5201 1)
say "   srv0 -> srv1 (neighbours): $(human_round "$gbps" 2) Gbit/s"
relay_gbps=$(iperf srv0 srv15 5202 1)
say "   srv0 -> srv15 (through one relay): $(human_round "$relay_gbps" 2) Gbit/s"
a0=$(counter srv0 nic0 tx_bytes); b0=$(counter srv0 nic1 tx_bytes)
par_gbps=$(iperf srv0 srv15 5203 8)
a=$(($(counter srv0 nic0 tx_bytes) - a0)); b=$(($(counter srv0 nic1 tx_bytes) - b0))
paths_used=0
[ $((a * 10)) -ge $((a + b)) ] && paths_used=$((paths_used + 1))
[ $((b * 10)) -ge $((a + b)) ] && paths_used=$((paths_used + 1))
say "   8 streams srv0 -> srv15: $(human_round "$par_gbps" 2) Gbit/s, $paths_used parallel paths (nic0 $a bytes, nic1 $b bytes)"

stream() {	# NAME: 10,000 datagrams/s srv0 -> srv15 until stop_stream
	local name=$1
	ex srv15 "$P" probe recv --listen 10.210.0.16:9000 --duration 40 --idle 3 --gaps 16 \
		--json --bin-ms 10 > "$tmp/$name.json" & bg+=($!)
	for _ in $(seq 100); do
		ip netns exec "$X-srv15" ss -Hlun "sport = :9000" | grep -q . && break
		sleep 0.05
	done
	$P lab exec srv0 --prefix "$X" -- "$P" probe send --to 10.210.0.16:9000 \
		--bind 10.210.0.1:40000 --rate 10000 --count 300000 2>/dev/null & sender=$!
	bg+=($sender)
}
relay() {	# the relay the stream goes through: srv3 (path 0) or srv12 (path 1)
	local a0 b0
	a0=$(counter srv3 nic1 tx_packets); b0=$(counter srv12 nic0 tx_packets)
	sleep 0.2
	if [ $(($(counter srv3 nic1 tx_packets) - a0)) -gt $(($(counter srv12 nic0 tx_packets) - b0)) ]
	then echo srv3; else echo srv12; fi
}

say "== 3. fail-over (10,000 datagrams/s srv0 -> srv15)"
stream fo
sleep 1.5
r=$(relay)
if [ "$r" = srv3 ]; then cut="srv3 sw1-3"; else cut="srv12 sw0-3"; fi
t_link=$($P lab link down $cut --prefix "$X" --json | jq .at_ns)
sleep 1.5
$P lab link up $cut --prefix "$X" >/dev/null
sleep 1.5	# the path answers its probes again
r2=$(relay)
# the relay stops relaying when its agent stops, before `node down` takes
# its links down and reports at_ns: the failure starts here
t_node=$(now_ns)
$P lab node down "$r2" --prefix "$X" >/dev/null
report_status "While the relaying server $r2 was down (the link $(echo $cut | sed 's/ / -- /') cut before it was up again)."
stop_stream
gap_link=$(gap_after "$tmp/fo.json" "$t_link"); gap_node=$(gap_after "$tmp/fo.json" "$t_node")
lost_fo_ms=$(jq '.lost / 10' "$tmp/fo.json")
say "   $cut cut (after relay $r): longest gap $(human_round "$gap_link" 1) ms; relay $r2 down: $(human_round "$gap_node" 1) ms; in all $lost_fo_ms ms of the stream lost"
report_stream "fail-over: srv0 -> srv15, 10,000 datagrams/s" "$tmp/fo.json" \
	"The link after the stream's relay is cut for 1.5 s; then the relay the stream uses next goes down." \
	"link $(echo $cut | sed 's/ / -- /') cut" "$t_link" "relay $r2 down" "$t_node"
$P lab node up "$r2" --prefix "$X" >/dev/null

say "== 4. forwarding entries per switch (learned by each bridge)"
fib=$(for l in 0 1; do for j in 0 1 2 3; do
	echo "{\"sw$l-$j\": $(bridge -n "$X-sw$l-$j" fdb show br "$X-br" | grep -vc permanent || true)}"
done; done | jq -s -c add)
say "   $fib"
tenant_mtu=$(ip -n "$X-srv0" route get 10.210.0.16 | grep -o 'mtu lock [0-9]*' | awk '{print $3}')
header_bytes=$((1500 - tenant_mtu))
secs=$(( ($(now_ns) - t_start) / 1000000000 ))
say "== done in $secs s"
figures=$(
	jq -n --argjson ok "$pairs_ok" --argjson total "$pairs_total" --argjson g "${gbps:-0}" \
	      --argjson rg "${relay_gbps:-0}" --argjson pu "$paths_used" --argjson gl "$gap_link" \
	      --argjson gn "$gap_node" --argjson fib "$fib" --argjson s "$secs" \
	      --argjson lf "$lost_fo_ms" --argjson hb "$header_bytes" --argjson mtu "$tenant_mtu" \
	   '{scheme: "bcube", pairs_ok: $ok, pairs_total: $total, isolation_violations: null,
	     iperf_gbps: $g, relay_gbps: $rg, paths_used: $pu, failover_gap_ms: [$gl, $gn],
	     failover_lost_ms: $lf, fib: $fib, header_bytes: $hb, tenant_mtu: $mtu, seconds: $s}')
if [ $JSON = 1 ]; then echo "$figures"; fi
report_write "BCube lab demo" \
	"BCube(4,1) in the lab (scripts/lab-demo-bcube.sh, docs/bcube.md): servers with a NIC on each level relay for each other over plain learning switches; BCube has no tenants." \
	"$figures"
[ "$pairs_ok" -eq "$pairs_total" ]
