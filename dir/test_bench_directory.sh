#!/bin/bash
# The directory benchmark's short mode, as a check of its method (not of
# its figures, which a sanitizer build on a shared machine cannot give):
#
#   load generator (this bench, cpu 1) --UDP 127.0.0.1--> directory (cpu 0)
#                                      --TCP 127.0.0.1--> redis-server (cpu 0)
#
# Both sides get the same lookups in flight, every reply is checked on both
# sides and none is wrong, both servers' CPU is recorded, and the fan-out
# has its server and kernel-floor rounds.  The bench's own exit status is
# its targets, which this build misses by design: only the JSON is checked.
set -eu
. "$(dirname "$0")/../tests/lib.sh"
need_cmd redis-server
need_cmd redis-benchmark
need_cmd jq

tmp=$(mktemp -d /tmp/pgdir-bench.XXXXXX)
cleanup() { rm -rf "$tmp"; }
trap cleanup EXIT

"$PEREGRINE_BIN" bench directory --quick --vs-redis --json >"$tmp/out.json" 2>"$tmp/err" ||
	true
cat "$tmp/err"
d() { jq -e ".directory | $1" "$tmp/out.json" >/dev/null || fail "$1 ($(jq -c ".directory" "$tmp/out.json" 2>/dev/null | head -c 2000))"; }

d '.lookups_in_flight == 2048'
d '.clients == 8 and .requests_in_flight_per_client == 16 and .lookups_per_msg == 16'
d '.replies_verified > 0 and .replies_bad == 0'
d '.redis_replies_verified > 0 and .redis_replies_bad == 0'
d '(.rounds | length) == 2'
d '[.rounds[] | .lookups_per_s > 0 and .redis_mget_per_s > 0 and .redis_get_per_s > 0] | all'
d '[.rounds[] | .server_cpu_utilisation > 0 and .redis_mget_cpu_utilisation > 0] | all'
d '.ratio > 0 and (.ratio_runs | length) == 2'
d '(.fanout_runs | length) == 2'
d '[.fanout_runs[] | .server_ms > 0 and .floor_ms > 0 and .server_cpu_ms > 0 and .floor_cpu_ms > 0] | all'
d '.fanout_floor_ratio > 0 and .fanout_e2e_ms > 0'
echo "PASS"
