#!/bin/bash
# A VM's egress limit at full speed (docs/policy.md, "The 1 Gbit/s
# target"): `peregrine bench policy --rate`, or by hand
# `PEREGRINE=build/peregrine scripts/bench-policy-rate.sh [--json]`.
#
#        spine0
#        /    \
#     leaf0   leaf1
#       |       |
#     srv0    srv1            one agent each
#   red-srv0  red-srv1        red-srv0: egress limit RATE (policy[].rate)
#   blue-srv0 blue-srv1       blue: no limit, the same path
#
# In one run, iperf3 for SECS seconds each, one after the other:
#   1. blue-srv0 -> blue-srv1, unlimited: what the path carries now;
#   2. red-srv0 -> red-srv1, one flow: the limit (the bytes red-srv0's tbf
#      sent from 1 s to SECS-1 s, on the wire; and iperf3's TCP payload);
#   3. red-srv0 -> red-srv1, two flows at once: each flow's share;
#   4. blue again: the path after, so that a path that changed under the
#      run shows.
# rate_limit_error_pct is |wire - RATE| / RATE of run 2.  A path that
# carries less than RATE cannot show the limit: path_ok says whether both
# blue runs carried at least 1.05 x RATE of TCP payload.
#
# Bounded: every iperf3 has a duration and a timeout; the lab is taken down
# on exit.  RATE (default 1g), SECS (default 10), PREFIX (default rXXXX, from
# the PID).
set -euo pipefail
PREFIX=${PREFIX:-$(printf "r%04x" $(($$ & 0xffff)))}	# a lab of its own
. "$(dirname "$0")/demo-lib.sh"
RATE=${RATE:-1g}
SECS=${SECS:-10}
cat > "$tmp/lab.yaml" <<EOF2
name: policy-rate
topology: leafspine:spines=1,leaves=2,servers=1
vdcs:
  - {name: red, id: 1, subnet: 10.0.0.0/24}
  - {name: blue, id: 2, subnet: 10.0.0.0/24}
placement:
  per_server: 1
policy:
  - {vm: red-srv0, rate: $RATE}
EOF2
say "== a 2-server lab, red-srv0 limited to $RATE (prefix $X)"
$P lab down --prefix "$X" >/dev/null 2>&1 || true
$P lab up "$tmp/lab.yaml" --prefix "$X" >&2
for _ in $(seq 100); do	# the RAS programs every switch: 2 entries per server
	used=$($P lab status --prefix "$X" --json | jq '[.nodes[] | select(.kind == "switch") | .fib_used // 0] | min')
	[ "$used" -ge 4 ] && break
	sleep 0.1
done
[ "$used" -ge 4 ] || { echo "bench policy --rate: the RAS did not program the switches" >&2; exit 1; }
vm() { ip netns exec "$X-$1" "${@:2}"; }
vm red-srv0 ping -c 3 -i 0.2 -W 2 -q 10.0.0.2 >/dev/null
vm blue-srv0 ping -c 3 -i 0.2 -W 2 -q 10.0.0.2 >/dev/null
rate_bps=$(vm red-srv0 tc -j qdisc show dev "$X-eth0" | jq '.[] | select(.kind == "tbf") | .options.rate * 8')
tbf_stats() { vm red-srv0 tc -j -s qdisc show dev "$X-eth0" | jq -r '.[] | select(.kind == "tbf") | "\(.bytes) \(.drops)"'; }
stamp() { local u s; u=$(date +%s%N); s=$(tbf_stats); echo "$s $(( (u + $(date +%s%N)) / 2 ))"; }

# flows FROM TO N: N iperf3 flows for SECS s from VM FROM to VM TO (on its
# 10.0.0.2); each flow's TCP payload (Gbit/s, the receiver's) on a line of
# $tmp/flows, the tbf's wire rate (Gbit/s, 1 s to SECS-1 s) in $tmp/wire
# and the packets it dropped then (its queue full) in $tmp/drops
flows() {
	local from=$1 to=$2 n=$3 pids=() i a b
	: > "$tmp/flows"
	for ((i = 0; i < n; i++)); do
		vm "$to" timeout $((SECS + 15)) iperf3 -s -1 -p $((5401 + i)) >/dev/null 2>&1 &
		bg+=($!)
	done
	sleep 0.3
	for ((i = 0; i < n; i++)); do
		vm "$from" timeout $((SECS + 15)) iperf3 -c 10.0.0.2 -p $((5401 + i)) -t "$SECS" -J \
			> "$tmp/flow$i.json" 2>/dev/null &
		pids+=($!)
	done
	sleep 1
	a=$(stamp)
	sleep $((SECS - 2))
	b=$(stamp)
	for p in "${pids[@]}"; do wait "$p" || true; done
	for ((i = 0; i < n; i++)); do
		jq '(.end.sum_received.bits_per_second // 0) / 1e9' "$tmp/flow$i.json" >> "$tmp/flows"
	done
	read -r b0 d0 t0 <<< "$a"
	read -r b1 d1 t1 <<< "$b"
	jq -n "($b1 - $b0) * 8 / ($t1 - $t0)" > "$tmp/wire"
	echo $((d1 - d0)) > "$tmp/drops"
}

say "== 1. blue-srv0 -> blue-srv1, no limit, $SECS s"
flows blue-srv0 blue-srv1 1; path1=$(cat "$tmp/flows")
say "   $(human_round "$path1" 3) Gbit/s of TCP payload"
say "== 2. red-srv0 -> red-srv1, limited to $RATE, one flow"
flows red-srv0 red-srv1 1; one=$(cat "$tmp/flows"); wire=$(cat "$tmp/wire"); drops=$(cat "$tmp/drops")
say "   $(human_round "$wire" 3) Gbit/s on the wire (tbf), $(human_round "$one" 3) of TCP payload"
say "== 3. red-srv0 -> red-srv1, two flows at once"
flows red-srv0 red-srv1 2; f1=$(sed -n 1p "$tmp/flows"); f2=$(sed -n 2p "$tmp/flows"); wire2=$(cat "$tmp/wire"); drops2=$(cat "$tmp/drops")
say "   $(human_round "$f1" 3) and $(human_round "$f2" 3) Gbit/s, $(human_round "$wire2" 3) on the wire"
say "== 4. blue-srv0 -> blue-srv1 again"
flows blue-srv0 blue-srv1 1; path2=$(cat "$tmp/flows")
say "   $(human_round "$path2" 3) Gbit/s"
out=$(jq -n --argjson r "$rate_bps" --argjson p1 "$path1" --argjson p2 "$path2" \
	--argjson one "$one" --argjson w "$wire" --argjson f1 "$f1" --argjson f2 "$f2" \
	--argjson w2 "$wire2" --argjson s "$SECS" --argjson d "$drops" --argjson d2 "$drops2" '
	($r / 1e9) as $rg |
	{rate_gbps: $rg, seconds: $s,
	 path_gbps: $p1, path_after_gbps: $p2, path_ok: ([$p1, $p2] | min >= 1.05 * $rg),
	 limited_wire_gbps: $w, limited_payload_gbps: $one, limited_drops: $d,
	 rate_limit_error_pct: ((($w - $rg) | fabs) / $rg * 10000 | round / 100),
	 two_flows_gbps: [$f1, $f2], two_flows_wire_gbps: $w2, two_flows_drops: $d2,
	 share_min_pct: ([$f1, $f2] | min / (($f1 + $f2) / 2) * 10000 | round / 100)}')
if [ $JSON = 1 ]; then
	jq -c . <<< "$out"
else
	say "   error $(jq .rate_limit_error_pct <<< "$out")% of $RATE; the smaller flow has $(jq .share_min_pct <<< "$out")% of an even share; the path carried $(jq -r '.path_ok' <<< "$out" | sed 's/true/more/; s/false/LESS/') than 1.05 x the rate"
fi
