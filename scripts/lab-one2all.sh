#!/bin/bash
# BCube's one-to-all transfer (`peregrine lab one2all`, docs/bcube.md
# "One-to-all"): srv0 sends BYTES to every other server of a BCube lab over
# the k+1 edge-disjoint one-to-all trees at once (route/bcube_relay.h), one
# part per tree, every server relaying what it gets from its parent in a
# tree to its children in that tree over TCP (tree edges are one server hop:
# the BCube data path, no relay in between).  In the same run, the same
# bytes over one tree only.  The paper's claim: k+1 trees, k+1 times the rate.
#
#   every server S, in its namespace:
#     peregrine probe relay --topo T --root 0 --server S --trees 1 | k+1
#   goodput of a receiver = BYTES / (its last byte - the source's start)
#   aggregate             = all receivers' bytes / (the last byte anywhere - start)
#   speedup               = aggregate over k+1 trees / aggregate over one
#
# Every receiver's parts are checked byte for byte against the file (the
# relay knows it) and by FNV-1a checksum against the source's.
#
# On the running BCube lab of PREFIX if there is one (every server must be
# up), else on a BCube(4,1) lab it brings up with links shaped to RATE and
# takes down at the end.
# Usage: lab-one2all.sh [--json]; PEREGRINE = the binary, PREFIX,
# ONE2ALL_BYTES (default 4000000), ONE2ALL_RATE (Mbit/s, default 20; for a
# lab it builds), ONE2ALL_RUNS (runs of each, alternating; default 1; the
# medians are reported).
# Bounded: fixed bytes; every relay stops at a deadline of five times the
# one-tree ideal plus 20 s (60 s on unshaped links, at most 600 s).
set -euo pipefail
. "$(dirname "$0")/human.sh"
P=${PEREGRINE:-build/peregrine}
X=${PREFIX:-pg}
JSON=0
[ "${1:-}" = --json ] && JSON=1
bytes=${ONE2ALL_BYTES:-4000000}
rate=${ONE2ALL_RATE:-}
runs=${ONE2ALL_RUNS:-1}
port=6300
tmp=$(mktemp -d)
bg=()
own=0
cleanup() {
	for p in "${bg[@]}"; do kill "$p" 2>/dev/null || true; done
	[ $own = 1 ] && $P lab down --prefix "$X" >/dev/null 2>&1
	rm -rf "$tmp"
}
trap cleanup EXIT
say() { if [ $JSON = 1 ]; then echo "$*" >&2; else echo "$*"; fi; }
die() { echo "peregrine lab one2all: $*" >&2; exit 1; }
nsx() { ip netns exec "$X-$1" "${@:2}"; }
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2];
	else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
[[ $bytes =~ ^[0-9]+$ ]] && [ "$bytes" -ge 1 ] || die "ONE2ALL_BYTES: a positive number"
[[ $runs =~ ^[0-9]+$ ]] && [ "$runs" -ge 1 ] && [ "$runs" -le 20 ] || die "ONE2ALL_RUNS: 1 .. 20"

if $P lab status --prefix "$X" --json > "$tmp/status.json" 2>/dev/null &&
   [ "$(jq '[.nodes[].namespace | select(. != null)] | length' "$tmp/status.json")" -gt 0 ]; then
	[ "$(jq -r .scheme "$tmp/status.json")" = bcube ] ||
		die "the lab of prefix $X is not a BCube lab (scheme: bcube)"
	rate=$(jq '.links_mbps // 0' "$tmp/status.json")
	say "== the running BCube lab of prefix $X, links at ${rate:-0} Mbit/s (0: unshaped)"
else
	rate=${rate:-20}
	cat > "$tmp/lab.yaml" <<YAML
name: one2all
scheme: bcube
topology: bcube:n=4,k=1
links: {mbps: $rate}
YAML
	say "== building a BCube(4,1) lab (prefix $X), links at $rate Mbit/s"
	$P lab down --prefix "$X" >/dev/null 2>&1 || true
	own=1
	$P lab up "$tmp/lab.yaml" --prefix "$X" >&2
	$P lab status --prefix "$X" --json > "$tmp/status.json"
fi
topo=$(jq -r .topology "$tmp/status.json")
n=$(sed -n 's/.*n=\([0-9]*\).*/\1/p' <<<"$topo")
k=$(sed -n 's/.*k=\([0-9]*\).*/\1/p' <<<"$topo")
[ -n "$n" ] && [ -n "$k" ] || die "topology $topo: not bcube:n=N,k=K"
trees=$((k + 1))
N=$(jq '[.nodes[] | select(.kind == "server")] | length' "$tmp/status.json")
# Every server takes part (a tree needs all of them): each has a namespace,
# and server i's address is srv0's plus i (lab/bcube.c).
base=$(jq -r '.nodes[] | select(.name == "srv0") | .ip' "$tmp/status.json")
[ -n "$base" ] && [ "$base" != null ] || die "no srv0 with an address"
IFS=. read -r o1 o2 o3 o4 <<<"$base"
ip_of() { local v=$((o3 * 256 + o4 + $1)); echo "$o1.$o2.$((v / 256)).$((v % 256))"; }
jq -r '.nodes[] | select(.kind == "server") | "\(.name) \(.namespace) \(.ip)"' "$tmp/status.json" |
while read -r name ns ip; do
	[ "$ns" != null ] || die "$name is down: every server relays, so all must be up"
	[ "$ip" = "$(ip_of "${name#srv}")" ] || die "$name has $ip, not srv0's address plus ${name#srv}"
done
if [ "$rate" -gt 0 ]; then
	limit=$(awk -v b="$bytes" -v r="$rate" 'BEGIN { l = int(5 * b * 8 / (r * 1e6) + 20); print (l > 600 ? 600 : l) }')
else
	limit=60
fi
say "== srv0 -> $((N - 1)) servers, $bytes bytes over 1 and over $trees trees, $runs run(s) of each (deadline $limit s)"

# The tree edges are one-hop neighbours: resolve each server's neighbours
# first (the first packet to a new address is a miss and a directory lookup,
# not transfer time).
for s in $(seq 0 $((N - 1))); do
	nb=""
	for l in $(seq 0 "$k"); do
		pw=$((n ** l)); d=$(((s / pw) % n))
		for v in $(seq 0 $((n - 1))); do
			[ "$v" = "$d" ] && continue
			nb="$nb $(ip_of $((s + (v - d) * pw)))"
		done
	done
	nsx "srv$s" sh -c "for d in $nb; do
		{ ping -n -q -c 1 -W 1 \$d || ping -n -q -c 1 -W 2 \$d; } >/dev/null 2>&1 &
	done; wait" &
done
wait

# nic_bytes: bytes every server's NICs sent so far (the relays' data, their
# TCP acknowledgements, probes and hellos): against BYTES x receivers, which
# is what one-hop tree edges carry, it says whether the edges stayed one hop.
nic_bytes() {
	for s in $(seq 0 $((N - 1))); do
		nsx "srv$s" sh -c "cat /sys/class/net/$X-nic*/statistics/tx_bytes"
	done | awk '{ s += $1 } END { printf "%d\n", s }'
}

# one_run T RUN: every server's relay for T trees; their JSON in $tmp/T-RUN/
one_run() {
	local d="$tmp/$1-$2" pids=() failed=0
	mkdir -p "$d"
	for s in $(seq 0 $((N - 1))); do
		nsx "srv$s" "$P" probe relay --topo "$topo" --root 0 --server "$s" --bytes "$bytes" \
			--base "$base" --port "$port" --trees "$1" --ready-file "$d/ready-$s" \
			--start-file "$d/start" --duration "$limit" --json >"$d/r-$s.json" 2>"$d/r-$s.err" &
		pids+=($!)
	done
	bg=("${pids[@]}")
	for _ in $(seq 600); do
		[ "$(ls "$d" | grep -c '^ready-')" -ge "$N" ] && break
		sleep 0.1
	done
	w0=$(nic_bytes)
	touch "$d/start"
	for p in "${pids[@]}"; do wait "$p" || failed=$((failed + 1)); done
	bg=()
	wire=$(( $(nic_bytes) - w0 ))
	[ $failed = 0 ] || say "   $failed relays failed: $(cat "$d"/r-*.err | sort | uniq -c | head -3)"
	# per receiver: every part whole, intact, with the source's checksum
	cat "$d"/r-*.json | jq -s --argjson nt "$1" --argjson wire "$wire" '
		(.[] | select(.server == .root)) as $src |
		{ started_ns: $src.started_ns, trees: $nt,
		  receivers: [.[] | select(.server != .root) | {server,
			bytes: ([.trees[].bytes] | add),
			last_ns: ([.trees[].last_ns] | max),
			ok: ((.trees | length) == $nt and all(.trees[]; .ok and .intact and .bytes == .part_bytes
				and .fnv1a == $src.trees[.tree].fnv1a))}] }
		| .receivers |= map(. + {gbps: (if .ok then .bytes * 8 / (.last_ns - $src.started_ns) else 0 end)})
		| . + { ok: ([.receivers[] | select(.ok)] | length),
			wire_ratio: ($wire / ([.receivers[].bytes] | add)),
			gbps: (([.receivers[].bytes] | add) * 8 / (([.receivers[].last_ns] | max) - .started_ns)),
			seconds: ((([.receivers[].last_ns] | max) - .started_ns) / 1e9) }' > "$d/sum.json" ||
		echo '{"ok": 0, "gbps": 0, "seconds": null, "receivers": []}' > "$d/sum.json"
}

for r in $(seq "$runs"); do
	for t in 1 "$trees"; do
		one_run "$t" "$r"
		say "   run $r, $t tree(s): $(jq .ok "$tmp/$t-$r/sum.json") of $((N - 1)) receivers got every byte, aggregate $(human_round "$(jq .gbps "$tmp/$t-$r/sum.json")" 3) Gbit/s in $(human_round "$(jq '.seconds // 0' "$tmp/$t-$r/sum.json")" 2) s; NICs sent $(human_round "$(jq '.wire_ratio // 0' "$tmp/$t-$r/sum.json")" 3) x the bytes received"
		say "      per receiver: $(jq -r '[.receivers[].gbps * 1000] | if length > 0 then "\(min * 10 | round / 10) to \(max * 10 | round / 10) Mbit/s" else "none" end' "$tmp/$t-$r/sum.json")"
	done
done
one=$(for r in $(seq "$runs"); do jq .gbps "$tmp/1-$r/sum.json"; done | median)
all=$(for r in $(seq "$runs"); do jq .gbps "$tmp/$trees-$r/sum.json"; done | median)
ok=$(cat "$tmp"/*-*/sum.json | jq -s 'map(.ok) | min')
speedup=$(awk -v a="$all" -v o="$one" 'BEGIN { print (o > 0 ? a / o : 0) }')
say "   srv0 -> all: $(human_round "$all" 3) Gbit/s over $trees trees, $(human_round "$one" 3) over one: speedup $(human_round "$speedup" 2) (the paper's: $trees)"
if [ $JSON = 1 ]; then
	cat "$tmp"/*-*/sum.json | jq -s . > "$tmp/runs.json"
	jq -n --arg topo "$topo" --argjson n "$((N - 1))" --argjson bytes "$bytes" --argjson rate "$rate" \
	      --argjson trees "$trees" --argjson one "$one" --argjson all "$all" --argjson sp "$speedup" \
	      --argjson ok "$ok" --argjson runs "$runs" --slurpfile rs "$tmp/runs.json" \
	      --arg load "$(cut -d' ' -f1-3 /proc/loadavg)" \
	   '{topology: $topo, root: "srv0", receivers: $n, bytes: $bytes, link_mbps: $rate, runs: $runs,
	     trees: $trees, one_to_all_gbps: $all, one_tree_gbps: $one, speedup: $sp,
	     theoretical_speedup: $trees, receivers_ok: $ok, load_average: $load,
	     per_receiver_gbps: {one_to_all: [$rs[0][] | select(.trees == $trees) | [.receivers[].gbps]][0],
				 one_tree: [$rs[0][] | select(.trees == 1) | [.receivers[].gbps]][0]},
	     run_list: [$rs[0][] | {trees, ok, gbps, seconds, wire_ratio}]}'
fi
[ "$ok" -eq $((N - 1)) ]
