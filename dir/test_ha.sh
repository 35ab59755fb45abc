#!/bin/bash
# The replicated directory over loopback: three etcd members, two directory
# servers sharing the registrations through them, and the history checker
# (dirctl check) registering and looking up through a client that knows both
# servers.
#
#   dirctl check --server A,B ---+---> directory A (--etcd)  --+
#    (registrations log,         |                              +--> etcd m1, m2, m3
#     versions, lookup gaps)     +---> directory B (--etcd)  --+     (127.0.0.1)
#
# 1. kill -9 of directory A under load: the client moves to B, no acknowledged
#    registration is lost, no version goes back; the lookup gap is printed.
# 2. kill -9 of one etcd member under load: nothing stops, nothing is lost.
# 3. etcd hanging: a registration retransmitted while its write waits is not
#    acknowledged when the write fails, nor is the entry shown to lookups
#    until it is read back.  Every etcd member stopped: lookups
#    are still answered from memory,
#    registrations are refused (TRY_LATER), nothing crashes; when etcd is
#    back, registrations are taken again.
set -eu
. "$(dirname "$0")/../tests/lib.sh"
need_cmd etcd

tmp=$(mktemp -d /tmp/pgdir-ha.XXXXXX)
logs=$(test_logs "$tmp")
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT
P=$PEREGRINE_BIN
"$P" keygen "$tmp/key"

# Ports no socket uses, below the ephemeral range (tests/lib.sh): a
# member that cannot bind left the health wait below running for minutes.
base=$(free_ports 6)
cluster="m1=http://127.0.0.1:$((base + 1)),m2=http://127.0.0.1:$((base + 3)),m3=http://127.0.0.1:$((base + 5))"
urls="http://127.0.0.1:$base,http://127.0.0.1:$((base + 2)),http://127.0.0.1:$((base + 4))"
declare -A etcd_pid
start_member() {	# start_member N: member mN on ports base+2(N-1), +1
	local n=$1 c=$((base + 2 * ($1 - 1))) state=${2:-new}
	etcd --name "m$n" --data-dir "$tmp/etcd$n" \
		--listen-client-urls "http://127.0.0.1:$c" --advertise-client-urls "http://127.0.0.1:$c" \
		--listen-peer-urls "http://127.0.0.1:$((c + 1))" \
		--initial-advertise-peer-urls "http://127.0.0.1:$((c + 1))" \
		--initial-cluster "$cluster" --initial-cluster-state "$state" \
		--initial-cluster-token "pgha$$" --heartbeat-interval 50 --election-timeout 500 \
		>>"$logs/etcd$n.log" 2>&1 &
	etcd_pid[$n]=$!
	pids+=($!)
}
for n in 1 2 3; do start_member $n; done
for _ in $(seq 100); do
	etcdctl --dial-timeout 500ms --command-timeout 1s --endpoints "$urls" endpoint health >/dev/null 2>&1 && break
	sleep 0.1
done
etcdctl --dial-timeout 500ms --command-timeout 1s --endpoints "$urls" endpoint health >/dev/null 2>&1 || fail "etcd did not start"

expect_fail "--db and --etcd" "$P" directory --listen 127.0.0.1:0 --db "$tmp/db" --etcd "$urls" --key "$tmp/key"
expect_fail "bad etcd URL" "$P" directory --listen 127.0.0.1:0 --etcd "127.0.0.1:1" --key "$tmp/key"
expect_fail "etcd unreachable" "$P" directory --listen 127.0.0.1:0 --etcd "http://127.0.0.1:1" --etcd-timeout 200 --key "$tmp/key"

start_ds() {	# start_ds NAME PORT
	[ ! -s "$logs/ds-$1.log" ] || mv "$logs/ds-$1.log" "$logs/ds-$1.before.log"
	"$P" directory --name "ds-$1" --listen "127.0.0.1:$2" --etcd "$urls" --key "$tmp/key" \
		--lease 5 --etcd-timeout 500 2>>"$logs/ds-$1.log" &
	pids+=($!)
	eval "ds_$1=$!"
	for _ in $(seq 100); do grep -q serving "$logs/ds-$1.log" && return; sleep 0.05; done
	fail "directory $1 did not start: $(cat "$logs/ds-$1.log")"
}
pa=$(udp_port); start_ds a "$pa"
pb=$(udp_port); start_ds b "$pb"
ctl() { "$P" dirctl --server "127.0.0.1:$1" --key "$tmp/key" --timeout 2000 "${@:2}"; }

# A registration through A is served by B (its watch).
ctl "$pa" register 1 10.0.0.1 02:00:00:00:00:01 02:00:00:00:00:02 0a:00:00:00:00:01 0a:00:00:00:00:02 7
for _ in $(seq 50); do ctl "$pb" lookup 1 10.0.0.1 >/dev/null 2>&1 && break; sleep 0.02; done
ctl "$pb" lookup 1 10.0.0.1 | grep -q "server 7" || fail "B does not serve A's registration"

# 1. kill -9 of the directory server the client uses.
"$P" dirctl --server "127.0.0.1:$pa,127.0.0.1:$pb" --key "$tmp/key" --json check 3 \
	>"$tmp/check1.json" 2>"$logs/check1.log" &
check=$!
sleep 1.5
kill -9 "$ds_a"
wait "$check" || fail "history check after killing directory A: $(cat "$tmp/check1.json" "$logs/check1.log")"
cat "$tmp/check1.json"
jq -e '.registrations_acked > 100 and .registrations_lost == 0 and .registrations_unverified == 0 and .version_regressions == 0 and .failovers >= 1' \
	"$tmp/check1.json" >/dev/null || fail "check 1: $(cat "$tmp/check1.json")"
echo "lookup gap after kill -9 of the client's directory server: $(jq .lookup_gap_max_ms "$tmp/check1.json") ms"

# A restarted A reads everything back from etcd.
start_ds a "$pa"
grep -q "serving 127.0.0.1:$pa, [1-9][0-9]* entries from etcd" "$logs/ds-a.log" || fail "A restart: $(tail -2 "$logs/ds-a.log")"

# 2. kill -9 of one etcd member under load.
"$P" dirctl --server "127.0.0.1:$pa,127.0.0.1:$pb" --key "$tmp/key" --json check 2 4243 \
	>"$tmp/check2.json" 2>"$logs/check2.log" &
check=$!
sleep 1
kill -9 "${etcd_pid[1]}"
wait "$check" || true	# exit status 1 on a regression: judged below
cat "$tmp/check2.json"
# Losing etcd's leader can leave a write's outcome unknown (a timeout): the
# directory then reads the key back from etcd, and an entry shown from memory
# in between may be replaced by an older version (docs/ha.md, "Known gaps"):
# counted here, not failed; losses are.
jq -e '.registrations_acked > 50 and .registrations_lost == 0 and .registrations_unverified == 0' \
	"$tmp/check2.json" >/dev/null || fail "check 2: $(cat "$tmp/check2.json")"
echo "version regressions after kill -9 of an etcd member: $(jq .version_regressions "$tmp/check2.json")"
echo "lookup gap after kill -9 of an etcd member: $(jq .lookup_gap_max_ms "$tmp/check2.json") ms"

# 3. etcd hangs (the members left stopped: a write waits for its timeout,
#    1 s here).  The client retransmits its registration meanwhile (every
#    100 ms at first); the server answers that from memory, where the
#    unwritten entry already is, and the answer waits behind the write.
#    When the write fails, it must not go out: etcd does not hold it.
kill -STOP "${etcd_pid[2]}" "${etcd_pid[3]}"
out=$(ctl "$pb" --timeout 1500 register 1 10.0.0.8 02:00:00:00:00:81 02:00:00:00:00:82 0a:00:00:00:00:01 0a:00:00:00:00:02 7 2>&1 || true)
echo "register with etcd hanging: $out"
echo "$out" | grep -q "ok version" && fail "a registration was acknowledged with etcd hanging"
# every etcd member down: lookups from memory, registrations refused.
kill -9 "${etcd_pid[2]}" "${etcd_pid[3]}"
sleep 0.2
ctl "$pb" lookup 1 10.0.0.1 | grep -q "server 7" || fail "lookup with etcd down"
# the entry whose write failed is in memory but maybe not in etcd (its
# read-back fails while etcd is down): not shown, or a client could see it
# and then, once it is read back, not
out=$(ctl "$pb" --timeout 500 lookup 1 10.0.0.8 2>&1 || true)
echo "lookup of the unwritten entry with etcd down: $out"
echo "$out" | grep -q "ok version" && fail "an entry etcd may not hold was shown"
out=$(ctl "$pb" register 1 10.0.0.9 02:00:00:00:00:91 02:00:00:00:00:92 0a:00:00:00:00:01 0a:00:00:00:00:02 7 || true)
echo "register with etcd down: $out"
echo "$out" | grep -q "ok version" && fail "a registration was acknowledged with etcd down"
ctl "$pb" lookup 1 10.0.0.1 | grep -q "server 7" || fail "lookup after a refused registration"
kill -0 "$ds_a" && kill -0 "$ds_b" || fail "a directory server died with etcd down"
for n in 1 2 3; do start_member $n existing; done
ok=""
for _ in $(seq 100); do
	if ctl "$pb" register 1 10.0.0.9 02:00:00:00:00:91 02:00:00:00:00:92 0a:00:00:00:00:01 0a:00:00:00:00:02 7 2>/dev/null | grep -q "ok version"; then ok=1; break; fi
	sleep 0.1
done
[ -n "$ok" ] || fail "registrations not taken again after etcd came back"
for _ in $(seq 50); do ctl "$pa" lookup 1 10.0.0.9 >/dev/null 2>&1 && break; sleep 0.05; done
ctl "$pa" lookup 1 10.0.0.9 | grep -q "server 7" || fail "A does not see B's registration after etcd came back"
ctl "$pb" --json stats | grep -q '"refused_read_only": [1-9]' || fail "refusals not counted"

kill -TERM "$ds_a" "$ds_b"
wait "$ds_a" || fail "directory A exited with $? on SIGTERM"
wait "$ds_b" || fail "directory B exited with $? on SIGTERM"
echo "PASS"
