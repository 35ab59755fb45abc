#!/bin/bash
# The replicated control plane on loopback (docs/ha.md): three etcd members,
# two directory servers (directory --etcd), two RAS processes (ras --etcd),
# and the directory's history checker (dirctl check) under three faults:
#
#   1. kill -9 of the directory server the checker's client uses;
#   2. kill -9 of an etcd member;
#   3. kill -9 of the leading RAS (the standby's take-over time).
#
# Usage: scripts/demo-ha.sh [BINARY] [--json] [--etcd-perf]
# --etcd-perf first runs etcd's own `etcdctl check perf --load=s` (a minute)
# on the same three members, and prints its figures (etcd_check_perf) next
# to the registration latency through etcd (register_p50_ms, _p99_ms).
# Needs etcd and etcdctl (Debian's etcd-server, etcd-client); no root: every
# process listens on 127.0.0.1 and is stopped by PID at exit.  The data
# plane is not part of this demo (no stream gap, no switchd to fence): those
# need the lab: `peregrine lab demo --ha` (scripts/lab-demo-ha.sh).
set -eu
P=build/peregrine
json=""
perf=""
for a in "$@"; do
	case "$a" in
	--json) json=1 ;;
	--etcd-perf) perf=1 ;;
	*) P=$a ;;
	esac
done
command -v etcd >/dev/null || { echo "demo-ha: needs etcd (apt-get install etcd-server etcd-client)" >&2; exit 1; }

tmp=$(mktemp -d /tmp/pg-demo-ha.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT
say() { [ -n "$json" ] || echo "$@"; }
"$P" keygen "$tmp/key"

# below the ephemeral range (32768 up), where an outgoing connection may
# hold a port between our choice and the bind
base=$((20000 + ($$ % 600) * 20))
cluster="m1=http://127.0.0.1:$((base + 1)),m2=http://127.0.0.1:$((base + 3)),m3=http://127.0.0.1:$((base + 5))"
urls="http://127.0.0.1:$base,http://127.0.0.1:$((base + 2)),http://127.0.0.1:$((base + 4))"
declare -A etcd_pid
for n in 1 2 3; do
	c=$((base + 2 * (n - 1)))
	etcd --name "m$n" --data-dir "$tmp/etcd$n" \
		--listen-client-urls "http://127.0.0.1:$c" --advertise-client-urls "http://127.0.0.1:$c" \
		--listen-peer-urls "http://127.0.0.1:$((c + 1))" \
		--initial-advertise-peer-urls "http://127.0.0.1:$((c + 1))" \
		--initial-cluster "$cluster" --initial-cluster-token "pgdemo$$" \
		--heartbeat-interval 50 --election-timeout 500 >"$tmp/etcd$n.log" 2>&1 &
	etcd_pid[$n]=$!
	pids+=($!)
done
for _ in $(seq 100); do etcdctl --endpoints "$urls" endpoint health >/dev/null 2>&1 && break; sleep 0.1; done
say "etcd: 3 members at $urls"
# etcd's own figures on this machine: "PASS: Throughput is 148 writes/s",
# "Slowest request took 0.173s", "Stddev is 0.011s"
etcd_perf=null
if [ -n "$perf" ]; then
	say "etcdctl check perf --load=s (a minute)"
	etcdctl --endpoints "$urls" check perf --load=s >"$tmp/perf.txt" 2>&1 || true
	etcd_perf=$(awk '/Throughput is/ { for (i = 1; i <= NF; i++) if ($i == "is") w = $(i + 1) }
		/Slowest request took/ { s = $NF; sub(/s$/, "", s) }
		/Stddev is/ { d = $NF; sub(/s$/, "", d) }
		END { if (w == "") print "null"; else printf "{\"writes_per_s\":%s,\"slowest_ms\":%.1f,\"stddev_ms\":%.1f}\n", w, s * 1000, d * 1000 }' "$tmp/perf.txt")
	say "   $etcd_perf"
fi

pa=$((base + 7)); pb=$((base + 8))
start_ds() {	# start_ds NAME PORT
	: >"$tmp/ds-$1.log"
	"$P" directory --name "ds-$1" --listen "127.0.0.1:$2" --etcd "$urls" --key "$tmp/key" \
		--etcd-timeout 500 2>>"$tmp/ds-$1.log" &
	pids+=($!)
	eval "ds_$1=$!"
	for _ in $(seq 100); do grep -q serving "$tmp/ds-$1.log" && return; sleep 0.05; done
	echo "demo-ha: directory $1 did not start" >&2
	exit 1
}
start_ds a "$pa"
start_ds b "$pb"
say "directory servers: 127.0.0.1:$pa and 127.0.0.1:$pb"
for r in a b; do
	: >"$tmp/ras-$r.log"
	"$P" ras --name "ras-$r" --etcd "$urls" --topo leafspine:spines=2,leaves=2,servers=2 \
		--key "$tmp/key" --listen "127.0.0.1:$((base + $([ $r = a ] && echo 10 || echo 11)))" \
		--directory "127.0.0.1:$pa" 2>>"$tmp/ras-$r.log" &
	pids+=($!)
	eval "ras_$r=$!"
	sleep 0.3
done
leader() { "$P" ras --etcd "$urls" --leader --json | jq -r .leader; }
say "RAS leader: $(leader)"

check() {	# check SECONDS VDC KILL_AT_S PID OUT
	"$P" dirctl --server "127.0.0.1:$pa,127.0.0.1:$pb" --key "$tmp/key" --json check "$1" "$2" \
		>"$5" 2>>"$tmp/check.log" &
	local c=$!
	sleep "$3"
	kill -9 "$4"
	wait "$c" || true
}
say "1. kill -9 of directory server A under the checker's load"
check 4 5001 1.5 "$ds_a" "$tmp/c1.json"
say "   $(jq -c '{registrations_acked, registrations_lost, version_regressions, lookup_gap_max_ms, failovers}' "$tmp/c1.json")"
start_ds a "$pa"
say "2. kill -9 of etcd member 1 under the checker's load"
check 4 5002 1.5 "${etcd_pid[1]}" "$tmp/c2.json"
say "   $(jq -c '{registrations_acked, registrations_lost, version_regressions, lookup_gap_max_ms, failovers}' "$tmp/c2.json")"

say "3. kill -9 of the leading RAS"
lead=$(leader)
t0=$(date +%s%N)
if [ "$lead" = ras-a ]; then kill -9 "$ras_a"; else kill -9 "$ras_b"; fi
for _ in $(seq 200); do
	now=$(leader)
	[ "$now" != "$lead" ] && [ "$now" != null ] && break
	sleep 0.02
done
t1=$(date +%s%N)
takeover=$(( (t1 - t0) / 1000000 ))
say "   $(leader) leads after ${takeover} ms (lease 2 s)"

result=$(jq -n --slurpfile c1 "$tmp/c1.json" --slurpfile c2 "$tmp/c2.json" --argjson t "$takeover" \
	--argjson perf "$etcd_perf" '{
	kills: [
		{target: "directory", lookup_gap_ms: $c1[0].lookup_gap_max_ms, stream_gap_ms: null},
		{target: "etcd-member", lookup_gap_ms: $c2[0].lookup_gap_max_ms, stream_gap_ms: null},
		{target: "ras-leader", lookup_gap_ms: null, stream_gap_ms: null}
	],
	registrations_acked: ($c1[0].registrations_acked + $c2[0].registrations_acked),
	registrations_lost: ($c1[0].registrations_lost + $c2[0].registrations_lost),
	version_regressions: ($c1[0].version_regressions + $c2[0].version_regressions),
	register_p50_ms: [$c1[0].register_p50_ms, $c2[0].register_p50_ms],
	register_p99_ms: [$c1[0].register_p99_ms, $c2[0].register_p99_ms],
	etcd_check_perf: $perf,
	ras_takeover_ms: $t,
	fenced_writes_refused: null
}')
if [ -n "$json" ]; then echo "$result"; else echo "$result" | jq -c .; fi
