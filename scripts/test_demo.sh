#!/bin/bash
# peregrine lab demo as a test: its correctness checks become assertions.
# Timing figures (gaps, throughput) are reported by the demo, not asserted:
# they are benchmark figures on a shared machine.
set -eu
cd "$(dirname "$0")/.."
. tests/lib.sh
need_root
need_cmd jq
need_cmd iperf3
P=$PEREGRINE_BIN
X=$(test_prefix d)
out=$(mktemp)
human=$(mktemp)
cleanup() { $P lab down --prefix "$X" >/dev/null 2>&1 || true; rm -f "$out" "$human"; }
trap cleanup EXIT

$P lab demo --prefix "$X" --json > "$out" 2> "$human"
cat "$human" "$out"
j() { jq -r "$1" "$out"; }
[ "$(j .pairs_total)" = 112 ] || fail "pairs_total"
[ "$(j .pairs_ok)" = 112 ] || fail "not every pair reachable"
[ "$(j .isolation_violations)" = 0 ] || fail "isolation violated"
[ "$(j .spoofed_dropped)" = 3 ] || fail "spoofed frames not all dropped"
[ "$(j '[.fib[]] | min')" -ge 16 ] || fail "a switch lacks the 16 server entries"
[ "$(j '.failover_gap_ms | length')" = 2 ] || fail "fail-over gaps"
# Every stream got through in the end: the fail-over stream lost under 10%.
[ "$(j '.failover_lost_ms < 600')" = true ] || fail "fail-over stream mostly lost"
# ... and so did the stream to the VM that migrated (it lost under 10%).
[ "$(j '.migration_lost_ms < 400')" = true ] || fail "migration stream mostly lost"
[ "$(j '.migration_port_move_ms > 0')" = true ] || fail "lab migrate reported no port move"
[ "$(j '.iperf_gbps > 0')" = true ] || fail "iperf3"
[ -z "$(ip netns list | grep "^$X-" || true)" ] || fail "the demo left namespaces"
# People read rounded figures ("14.1 Gbit/s"); --json keeps full precision.
grep -Eq '^   [0-9]+\.[0-9] Gbit/s$' "$human" || fail "throughput not rounded for people"
grep -Eq '^   longest gap: link cut [0-9]+\.[0-9] ms, switch failure [0-9]+\.[0-9] ms' "$human" ||
	fail "fail-over gaps not rounded for people"
echo "demo: all checks passed"
