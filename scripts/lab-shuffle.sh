#!/bin/bash
# The all-to-all shuffle (`peregrine lab shuffle`, docs/lab-shuffle.md):
# every server sends the same number of bytes to every other at once, over
# links shaped by tbf, and the goodput is set against the max-min optimum
# that `peregrine sim shuffle` computes for the same topology, link rates
# and traffic.
#
#   every endpoint E (a VM of each server; BCube: each server itself)
#     runs `probe sink`  (accepts N-1 flows, reads each to its end)
#     runs `probe blast` (from a common start, BYTES to each of the N-1 others)
#   lab_goodput = all bytes received / (last byte's arrival - start)
#   optimal     = sim shuffle's goodput (median over seeds 1..5: VLB and
#                 hashing draw random paths), every link at the lab's rate
#
# On the running lab of PREFIX if there is one (its scheme and links.mbps:
# nothing is re-shaped, and failed nodes stay failed: servers whose links
# are all down take no part), else on a lab it brings up for the scheme and
# takes down at the end:
#   vl2, peregrine  vl2:da=4,di=4,per_tor=2 (8 servers), VDC red, a VM each
#   bcube           bcube:n=4,k=1 (16 servers, 2 NICs each)
#
# Usage: lab-shuffle.sh [--json]; PEREGRINE = the binary, PREFIX = the
# prefix, SHUFFLE_SCHEME, SHUFFLE_BYTES (default 2000000), SHUFFLE_RATE
# (Mbit/s, default 20): empty means the default.
# Bounded: a fixed number of bytes per flow; every sender and sink stops at
# a deadline of five times the ideal time plus 20 s (at most 600 s).
set -euo pipefail
. "$(dirname "$0")/human.sh"
P=${PEREGRINE:-build/peregrine}
X=${PREFIX:-pg}
JSON=0
[ "${1:-}" = --json ] && JSON=1
scheme=${SHUFFLE_SCHEME:-}
bytes=${SHUFFLE_BYTES:-2000000}
rate=${SHUFFLE_RATE:-}
port=5300
seeds="1 2 3 4 5"
tmp=$(mktemp -d)
bg=()
own=0
cleanup() {
	for p in "${bg[@]}"; do kill "$p" 2>/dev/null || true; done
	[ $own = 1 ] && $P lab down --prefix "$X" >/dev/null 2>&1
	[ -n "${SHUFFLE_KEEP:-}" ] && cp -r "$tmp" "$SHUFFLE_KEEP"
	rm -rf "$tmp"
}
trap cleanup EXIT
say() { if [ $JSON = 1 ]; then echo "$*" >&2; else echo "$*"; fi; }
die() { echo "peregrine lab shuffle: $*" >&2; exit 1; }
now_ns() { date +%s%N; }
# nsx NODE CMD...: straight into the node's namespace (`lab exec` costs a
# process that reads the lab: seconds for 16 of them on a busy machine)
nsx() { ip netns exec "$X-$1" "${@:2}"; }
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2];
	else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
# tc_drops: packets every tbf of the lab dropped so far (queues over their
# 50 ms limit): shaping losses, one of the reasons a shuffle falls short.
tc_drops() {
	jq -r '.nodes[] | select(.namespace != null) | .namespace' "$tmp/status.json" |
	while read -r ns; do tc -n "$ns" -s -j qdisc show 2>/dev/null |
		jq '[.[] | select(.kind == "tbf") | .drops] | add // 0'; done |
	awk '{ s += $1 } END { print s + 0 }'
}
cpu_idle() { awk '/^cpu / { print $5 + $6, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 }' /proc/stat; }

if $P lab status --prefix "$X" --json > "$tmp/status.json" 2>/dev/null &&
   [ "$(jq '[.nodes[].namespace | select(. != null)] | length' "$tmp/status.json")" -gt 0 ]; then
	have=$(jq -r .scheme "$tmp/status.json")
	[ -z "$scheme" ] || [ "$scheme" = "$have" ] ||
		die "the lab of prefix $X runs scheme $have, not $scheme"
	scheme=$have
	lab_rate=$(jq .links_mbps "$tmp/status.json")
	[ "$lab_rate" -gt 0 ] || die "the lab of prefix $X shapes no links (links.mbps): the optimum needs known link rates"
	[ -z "$rate" ] || [ "$rate" = "$lab_rate" ] ||
		die "the lab of prefix $X shapes its links to $lab_rate Mbit/s, not $rate"
	rate=$lab_rate
	say "== the running lab of prefix $X: scheme $scheme, links at $rate Mbit/s"
else
	scheme=${scheme:-peregrine}
	rate=${rate:-20}
	case $scheme in
	vl2|peregrine) cat > "$tmp/lab.yaml" <<YAML
name: shuffle
scheme: $scheme
topology: vl2:da=4,di=4,per_tor=2
links: {mbps: $rate}
vdcs:
  - {name: red, id: 1, subnet: 10.0.0.0/24}
placement: {per_server: 1}
YAML
	;;
	bcube) cat > "$tmp/lab.yaml" <<YAML
name: shuffle
scheme: bcube
topology: bcube:n=4,k=1
links: {mbps: $rate}
YAML
	;;
	*) die "no shuffle lab for scheme $scheme (vl2, peregrine or bcube)" ;;
	esac
	say "== building a $scheme lab (prefix $X), links at $rate Mbit/s"
	$P lab down --prefix "$X" >/dev/null 2>&1 || true
	own=1
	$P lab up "$tmp/lab.yaml" --prefix "$X" >&2
	$P lab status --prefix "$X" --json > "$tmp/status.json"
fi
topo=$(jq -r .topology "$tmp/status.json")

# Live servers: those with a namespace and at least one link up.  Each
# server's endpoint: its first VM, or (BCube) the server itself.
jq -r '.nodes[] | select(.kind == "server" and .namespace != null) | .name' "$tmp/status.json" |
while read -r s; do
	up=$(jq --arg s "$s" '[.links[] | select((.a == $s or .b == $s) and .state == "up")] | length' \
		"$tmp/status.json")
	[ "$up" -gt 0 ] || continue
	if [ "$scheme" = bcube ]; then
		jq -r --arg s "$s" '.nodes[] | select(.name == $s) | "\(.name) \(.ip)"' "$tmp/status.json"
	else
		jq -r --arg s "$s" '[.vm_list[] | select(.server == $s)][0] // empty | "\(.name) \(.ip)"' \
			"$tmp/status.json"
	fi
done > "$tmp/ends"
n=$(wc -l < "$tmp/ends")
[ "$n" -ge 2 ] || die "fewer than two live servers with an endpoint"
servers_total=$(jq '[.nodes[] | select(.kind == "server")] | length' "$tmp/status.json")
flows=$((n * (n - 1)))
ideal_s=$(awk -v b="$bytes" -v n="$n" -v r="$rate" 'BEGIN { print b * 8 * (n - 1) / (r * 1e6) }')
limit=$(awk -v i="$ideal_s" 'BEGIN { l = int(5 * i + 20); print (l > 600 ? 600 : l) }')
say "== $n endpoints, $flows flows of $bytes bytes (one NIC's ideal: $(human_round "$ideal_s" 1) s; deadline $limit s)"

# Every pair once first: the first packet to a new address is a miss that
# starts a directory lookup (VL2, Peregrine, BCube alike), not shuffle time.
while read -r e ip; do
	others=$(awk -v me="$e" '$1 != me { print $2 }' "$tmp/ends" | tr '\n' ' ')
	nsx "$e" sh -c "for d in $others; do
		{ ping -n -q -c 1 -W 1 \$d || ping -n -q -c 1 -W 2 \$d; } >/dev/null 2>&1 &
	done; wait" &
done < "$tmp/ends"
wait

while read -r e ip; do
	nsx "$e" "$P" probe sink --listen "$ip:$port" --flows $((n - 1)) \
		--duration "$((limit + 5))" --json > "$tmp/sink-$e.json" 2>"$tmp/sink-$e.err" & bg+=($!)
done < "$tmp/ends"
while read -r e ip; do
	for _ in $(seq 100); do
		nsx "$e" ss -Hltn "sport = :$port" | grep -q . && break
		sleep 0.05
	done
done < "$tmp/ends"

# The senders connect first, each says so with a ready file, and all start
# when the start file appears (within a millisecond of each other: a
# launch barrier, since starting 16 processes takes seconds on a busy
# machine); last_sender_start_s says how late the last one really began.
drops0=$(tc_drops)
read -r idle0 total0 < <(cpu_idle)
senders=()
while read -r e ip; do
	to=$(awk -v me="$e" -v p=$port '$1 != me { printf "%s%s:%s", sep, $2, p; sep = "," }' "$tmp/ends")
	nsx "$e" "$P" probe blast --to "$to" --bytes "$bytes" \
		--ready-file "$tmp/ready-$e" --start-file "$tmp/start" --duration "$limit" --json \
		> "$tmp/blast-$e.json" 2>&1 & senders+=($!)
done < "$tmp/ends"
bg+=("${senders[@]}")
for _ in $(seq 600); do
	[ "$(ls "$tmp" | grep -c '^ready-')" -ge "$n" ] && break
	sleep 0.1
done
start=$(now_ns)
touch "$tmp/start"
failed_senders=0
for p in "${senders[@]}"; do wait "$p" || failed_senders=$((failed_senders + 1)); done
read -r idle1 total1 < <(cpu_idle)
tbf_drops=$(($(tc_drops) - drops0))
for p in "${bg[@]}"; do wait "$p" 2>/dev/null || true; done
bg=()

cat "$tmp"/sink-*.json | jq -s --argjson start "$start" '{
	bytes: (map(.bytes) | add), ended: (map(.ended) | add),
	last: (map(.last_ns) | max), first_done: ([.[].flow_list[].last_ns | select(. > 0)] | min),
	first_byte: (map(.flow_list[].first_ns) | max)}' > "$tmp/sum.json"
recv_bytes=$(jq .bytes "$tmp/sum.json")
ended=$(jq .ended "$tmp/sum.json")
seconds=$(jq --argjson s "$start" '(.last - $s) / 1e9' "$tmp/sum.json")
goodput=$(awk -v b="$recv_bytes" -v s="$seconds" 'BEGIN { print (s > 0 ? b * 8 / s / 1e9 : 0) }')
late=$(cat "$tmp"/blast-*.json | jq -s --argjson s "$start" '(map(.started_ns) | max) - $s | . / 1e9')
first_done=$(jq --argjson s "$start" 'if .first_done then (.first_done - $s) / 1e9 else null end' "$tmp/sum.json")
last_start=$(jq --argjson s "$start" '(.first_byte - $s) / 1e9' "$tmp/sum.json")
cpu_busy=$(awk -v a="$idle0" -v b="$total0" -v c="$idle1" -v d="$total1" \
	'BEGIN { print (d > b ? 1 - (c - a) / (d - b) : 0) }')

# The optimum: the simulator's max-min shuffle on the same topology, every
# link at the lab's rate, among the same live servers.
# Failed nodes (every link down) and links (down between live nodes) of
# the lab become the simulator's --fail: of one kind only, since sim takes
# one; the same number of them (which ones is the seed's choice: BCube's
# servers, and its switches, are all alike).
jq -r '.nodes[] | "\(.name) \(.kind)"' "$tmp/status.json" | while read -r nd kind; do
	if jq -e --arg s "$nd" '[.links[] | select((.a == $s or .b == $s) and .state == "up")] | length == 0' \
		"$tmp/status.json" >/dev/null; then echo "$kind"; fi
done > "$tmp/failed"
f_srv=$(grep -c '^server' "$tmp/failed" || true)
f_sw=$(grep -c '^switch' "$tmp/failed" || true)
f_link=$(jq '[.links[] | select(.state != "up")] | length' "$tmp/status.json")
n_sw=$(jq '[.nodes[] | select(.kind == "switch")] | length' "$tmp/status.json")
n_link=$(jq '.links | length' "$tmp/status.json")
sim_args=(--topo "$topo" --scheme "$scheme" --link-mbps "$rate")
sim_fail=none
fail_note=""
if [ "$f_srv" -gt 0 ]; then
	sim_fail="servers:$f_srv"
	sim_args+=(--fail servers --rate "$(awk -v a="$f_srv" -v b="$servers_total" 'BEGIN { print a / b }')")
	[ "$f_sw" -eq 0 ] || fail_note="(the simulator fails only the $f_srv servers, not the $f_sw switches)"
elif [ "$f_sw" -gt 0 ]; then
	sim_fail="switches:$f_sw"
	sim_args+=(--fail switches --rate "$(awk -v a="$f_sw" -v b="$n_sw" 'BEGIN { print a / b }')")
elif [ "$f_link" -gt 0 ]; then
	sim_fail="links:$f_link"
	sim_args+=(--fail links --rate "$(awk -v a="$f_link" -v b="$n_link" 'BEGIN { print a / b }')")
fi
for s in $seeds; do
	$P sim shuffle "${sim_args[@]}" --size 1 --seed "$s" --json
done | jq -s . > "$tmp/sim.json"
optimal=$(jq -r '.[].goodput_gbps' "$tmp/sim.json" | median)
ideal=$(jq -r '.[0].ideal_gbps' "$tmp/sim.json")
abt_sim=null formula=null
if [ "$scheme" = bcube ]; then
	$P sim abt "${sim_args[@]}" --json > "$tmp/abt.json"
	abt_sim=$(jq .abt "$tmp/abt.json"); formula=$(jq .formula "$tmp/abt.json")
fi
eff=$(awk -v g="$goodput" -v o="$optimal" 'BEGIN { print (o > 0 ? g / o : 0) }')
eff_ideal=$(awk -v g="$goodput" -v o="$ideal" 'BEGIN { print (o > 0 ? g / o : 0) }')

say "   $ended of $flows flows ended, $recv_bytes bytes in $(human_round "$seconds" 2) s; CPU $(human_round "$(awk -v c="$cpu_busy" 'BEGIN { print 100 * c }')" 0) % busy (the whole machine)"
[ "$first_done" = null ] && done_txt="no flow done" || done_txt="first flow done at $(human_round "$first_done" 2) s"
say "   $done_txt, last sender began at $(human_round "$late" 2) s, every flow's first byte by $(human_round "$last_start" 2) s; $tbf_drops packets dropped by tbf"
say "   lab goodput $(human_round "$goodput" 3) Gbit/s; simulator's max-min optimum $(human_round "$optimal" 3) (every NIC saturated: $(human_round "$ideal" 3)) $fail_note"
[ "$scheme" = bcube ] && say "   ABT: formula n/(n-1)(N-1) $(human_round "$formula" 3) Gbit/s, simulator $(human_round "$abt_sim" 3)"
[ "$sim_fail" = none ] || say "   failed in the lab and in the simulator: $sim_fail"
say "   efficiency $(human_round "$eff" 3) (against every NIC saturated: $(human_round "$eff_ideal" 3))"
if [ $JSON = 1 ]; then
	jq -n --arg scheme "$scheme" --arg topo "$topo" --argjson n "$n" --argjson total "$servers_total" \
	      --argjson flows "$flows" --argjson ended "$ended" --argjson bytes "$bytes" \
	      --argjson rate "$rate" --argjson secs "$seconds" --argjson g "$goodput" \
	      --argjson o "$optimal" --argjson i "$ideal" --argjson e "$eff" --argjson ei "$eff_ideal" \
	      --argjson cpu "$cpu_busy" --argjson abt "$abt_sim" --argjson f "$formula" \
	      --argjson fs "$failed_senders" --slurpfile sim "$tmp/sim.json" \
	      --argjson late "$late" --argjson fd "$first_done" --argjson ls "$last_start" --argjson td "$tbf_drops" \
	      --arg load "$(cut -d' ' -f1-3 /proc/loadavg)" --arg sf "$sim_fail" \
	   '{scheme: $scheme, topology: $topo, servers: $n, servers_total: $total, flows: $flows,
	     flows_ended: $ended, failed_senders: $fs, bytes_per_flow: $bytes, link_mbps: $rate,
	     seconds: $secs, lab_goodput_gbps: $g, optimal_gbps: $o, ideal_gbps: $i,
	     efficiency: $e, efficiency_vs_ideal: $ei, cpu_busy: $cpu, load_average: $load,
	     last_sender_start_s: $late, first_flow_done_s: $fd, last_flow_started_s: $ls, tbf_drops: $td,
	     sim_goodput_gbps: [$sim[0][].goodput_gbps], sim_fail: $sf, sim_abt_gbps: $abt, abt_formula_gbps: $f}'
fi
[ "$ended" -eq "$flows" ]
