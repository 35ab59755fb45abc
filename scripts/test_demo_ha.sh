#!/bin/bash
# peregrine lab demo --ha as a test (docs/ha.md): a lab with a replicated
# control plane keeps working through kill -9 of a directory server, of the
# leading RAS (with a link failure 100 ms later), of an etcd member, and a
# partition of the RAS leader from etcd.  Asserted: every acknowledged
# registration is there afterwards and no entry's version went back (the
# history checker), a new RAS leads after each loss of the leader, the
# stream comes back after every fault (each inside the stream), the link
# failure while no RAS leads fails over from the switches' own notices, the
# standby finds the dead leader by its probe, the checker's lookups are
# answered again within 50 ms of the directory server's kill (issue 20's
# target, met with hedged lookups), and bounds a loaded 2-core machine
# holds (the other targets are reported by the demo, docs/ha.md has the
# figures measured).
set -eu
cd "$(dirname "$0")/.."
. tests/lib.sh
need_root
need_cmd jq
need_cmd curl
[ -x /usr/bin/etcd ] || skip "needs etcd (Debian's etcd-server)"
P=$PEREGRINE_BIN
X=$(test_prefix e)
out=$(mktemp)
human=$(mktemp)
cleanup() { $P lab down --prefix "$X" >/dev/null 2>&1 || true; rm -f "$out" "$human"; }
trap cleanup EXIT

$P lab demo --ha --prefix "$X" --json > "$out" 2> "$human"
cat "$human" "$out"
j() { jq -r "$1" "$out"; }
[ "$(j '.kills | length')" = 3 ] || fail "three kills"
[ "$(j .kills_during_stream)" = true ] || fail "a kill fell outside the stream"
[ "$(j .registrations_acked)" -ge 200 ] || fail "too few registrations acknowledged"
[ "$(j .registrations_lost)" = 0 ] || fail "acknowledged registrations lost"
[ "$(j .registrations_unverified)" = 0 ] || fail "acknowledged registrations not verified"

[ "$(j .version_regressions)" = 0 ] || fail "an entry's version went back"
# registration latency through etcd, one p50 and p99 per checker run
[ "$(j '.register_p50_ms as $a | .register_p99_ms as $b | ($a | length) == 3 and ($b | length) == 3 and ([range(3) | $a[.] > 0 and $a[.] <= $b[.]] | all)')" = true ] ||
	fail "registration latencies: $(j -c '[.register_p50_ms, .register_p99_ms]')"
# three different leaders: the first, after its kill, after the partition
[ "$(j '.ras_leaders | unique | length')" = 3 ] || fail "leaders: $(j -c .ras_leaders)"
[ "$(j '[.ras_leaders[] | select(. == "")] | length')" = 0 ] || fail "a RAS did not take over"
# bounds for a shared 2-core machine under ASan (the targets: docs/ha.md)
[ "$(j '[.kills[].lookup_gap_ms | . != null and . < 2000] | all')" = true ] ||
	fail "a lookup gap over 2 s"
# issue 20's target: the checker's lookups answered again within 50 ms of
# dir0's kill -9 (the gap across the kill; hedged lookups, docs/ha.md)
[ "$(j '.kills[0].lookup_gap_ms < 50')" = true ] ||
	fail "lookups answered again $(j '.kills[0].lookup_gap_ms') ms after dir0's kill (target 50)"
[ "$(j '[.kills[].stream_gap_ms | . != null and . < 5000] | all')" = true ] ||
	fail "a stream gap over 5 s"
[ "$(j '.ras_takeover_ms > 0 and .ras_takeover_ms < 8000')" = true ] || fail "take-over"
[ "$(j '.ras_reprogrammed_ms >= 0 and .ras_reprogrammed_ms < 8000')" = true ] ||
	fail "the new leader did not reprogram after the link failure"
# with no RAS leader, the link failure still failed over: the switches told
# the directory servers themselves (switchd --directory), and the stream's
# gap is theirs, not the take-over's (which is 200 ms or more after the
# link failure: the kill came 100 ms before it)
[ "$(j '.switch_notices > 0')" = true ] || fail "no switch told the directory"
[ "$(j '.kills[1].stream_gap_ms < 150')" = true ] ||
	fail "stream gap after the RAS kill and the link failure: $(j '.kills[1].stream_gap_ms') ms"
# the standby found the killed leader by its address refusing datagrams,
# not by waiting for its lease
[ "$(j .ras_dead_leader_found_by)" = probe ] || fail "take-over waited for the lease"
# the stream lost no more than its faults' gaps and some slack: it came back
[ "$(j '.stream_lost_ms < 10000')" = true ] || fail "the stream did not come back"
[ "$(j '.fenced_writes_refused >= 0')" = true ] || fail "fenced count missing"
# two leaders never program the fabric: the switches refuse whatever the
# isolated one still sends once the new one led (link reports go to the new
# leader, but the isolated one's port audit still reads the switches and
# finds the link back: docs/ha.md)
[ "$(j '.isolated_leader_batches == 0 or .fenced_writes_refused >= .isolated_leader_batches')" = true ] ||
	fail "the isolated RAS leader sent $(j .isolated_leader_batches) batches, $(j .fenced_writes_refused) refused"
# the isolated leader stopped acting by its own clock before its lease
# (--ha-ttl 1 in the lab) could have expired at etcd: etcd got no
# keep-alive after the partition, so a standby could lead from 1 s on
[ "$(j '.isolated_leader_stepped_down_ms >= 0 and .isolated_leader_stepped_down_ms < 1000')" = true ] ||
	fail "the isolated leader stepped down $(j .isolated_leader_stepped_down_ms) ms after the partition (lease 1 s)"
echo "ok"
