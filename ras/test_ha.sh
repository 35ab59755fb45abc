#!/bin/bash
# The standby RAS over loopback: one etcd member, two RAS processes for the
# same fabric campaigning for leadership.
#
#   ras-a --etcd --+                      (no switchds: the RAS only retries
#                  +--> etcd (127.0.0.1)   its requests to them; fencing is in
#   ras-b --etcd --+                       switchd/test_switchd.c)
#
# 1. One leads, the other stands by (already listening on its port, so a
#    probe never finds a just-elected leader's port closed); `ras --leader`
#    names the leader.
# 2. kill -9 of the leader: the standby leads within the lease (2 s) plus a
#    campaign interval, with a higher term (its requests fence the old one).
# 3. SIGTERM of the leader: it resigns, and a new standby takes over at once.
# 4. etcd stops answering: the leader steps down before its lease can have
#    expired, and leads again (a new term) once etcd answers.
# 5. its lease revoked at etcd: the leader stops leading, stays up, stands
#    by again and leads with a new term.
set -eu
. "$(dirname "$0")/../tests/lib.sh"
need_cmd etcd
need_cmd jq

tmp=$(mktemp -d /tmp/pgras-ha.XXXXXX)
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

c=$(free_ports 2)	# tests/lib.sh
url="http://127.0.0.1:$c"
etcd --name m1 --data-dir "$tmp/etcd" --listen-client-urls "$url" --advertise-client-urls "$url" \
	--listen-peer-urls "http://127.0.0.1:$((c + 1))" \
	--initial-advertise-peer-urls "http://127.0.0.1:$((c + 1))" \
	--initial-cluster "m1=http://127.0.0.1:$((c + 1))" >"$logs/etcd.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do etcdctl --dial-timeout 500ms --command-timeout 1s --endpoints "$url" endpoint health >/dev/null 2>&1 && break; sleep 0.1; done

expect_fail "--leader without --etcd" "$P" ras --leader
expect_fail "bad --ha-ttl" "$P" ras --etcd "$url" --ha-ttl 0 --topo leafspine:spines=2,leaves=2,servers=2 \
	--key "$tmp/key" --listen 127.0.0.1:0 --directory 127.0.0.1:9
"$P" ras --etcd "$url" --leader | grep -q "no leader" || fail "a leader before any RAS ran"

start_ras() {	# start_ras NAME
	local port
	port=$(udp_port)
	: >"$logs/ras-$1.log"
	"$P" ras --name "ras-$1" --etcd "$url" --topo leafspine:spines=2,leaves=2,servers=2 \
		--key "$tmp/key" --listen "127.0.0.1:$port" --directory 127.0.0.1:9 \
		2>>"$logs/ras-$1.log" &
	pids+=($!)
	eval "ras_$1=$! port_$1=$port"
}
leader_is() {	# leader_is NAME: wait until `ras --leader` names it
	for _ in $(seq 100); do
		"$P" ras --etcd "$url" --leader --json | jq -e ".leader == \"ras-$1\"" >/dev/null && return 0
		sleep 0.05
	done
	return 1
}
start_ras a
leader_is a || fail "ras-a does not lead: $(cat "$logs/ras-a.log")"
start_ras b
for _ in $(seq 100); do grep -q "standby: ras-a" "$logs/ras-b.log" && break; sleep 0.05; done
grep -q "standby: ras-a .* leads" "$logs/ras-b.log" || fail "ras-b is not standing by: $(cat "$logs/ras-b.log")"
grep -q "leading" "$logs/ras-b.log" && fail "two leaders"
# A standby already listens: were its port closed when it wins, another
# standby's probe would take the refusal for a dead leader and end the
# live leader's term.
[ -n "$(ss -H -uln "sport = :$port_b")" ] || fail "the standby ras-b does not listen on $port_b"
term_a=$("$P" ras --etcd "$url" --leader --json | jq .term)

# 2. kill -9 of the leader.
t0=$(date +%s%N)
kill -9 "$ras_a"
leader_is b || fail "ras-b did not take over: $(cat "$logs/ras-b.log")"
t1=$(date +%s%N)
term_b=$("$P" ras --etcd "$url" --leader --json | jq .term)
[ "$term_b" -gt "$term_a" ] || fail "the new term $term_b is not above $term_a"
grep -q "leading (term $term_b)" "$logs/ras-b.log" || fail "ras-b's log: $(cat "$logs/ras-b.log")"
echo "take-over after kill -9 of the leader: $(( (t1 - t0) / 1000000 )) ms (lease 2 s)"

# 3. A clean stop resigns: the standby leads at once.
start_ras c
for _ in $(seq 100); do grep -q "standby: ras-b" "$logs/ras-c.log" && break; sleep 0.05; done
t0=$(date +%s%N)
kill -TERM "$ras_b"
wait "$ras_b" || fail "ras-b exited with $? on SIGTERM"
leader_is c || fail "ras-c did not take over: $(cat "$logs/ras-c.log")"
t1=$(date +%s%N)
echo "take-over after SIGTERM of the leader: $(( (t1 - t0) / 1000000 )) ms"
grep -q "resigned leadership (term $term_b)" "$logs/ras-b.log" || fail "ras-b did not resign: $(cat "$logs/ras-b.log")"

# 4. etcd stops answering (SIGSTOP: connections open, requests time out,
#    as behind a partition): the leader stops acting before its lease (2 s)
#    can have expired at etcd, without hearing so from etcd, so it never
#    acts beside a leader elected after that.  When etcd answers again it
#    campaigns again and leads with a new term.
term_c=$("$P" ras --etcd "$url" --leader --json | jq .term)
t0=$(date -u +%s%3N)
kill -STOP "${pids[0]}"
for _ in $(seq 60); do grep -q "stepping down" "$logs/ras-c.log" && break; sleep 0.05; done
t1=$(date +%s%3N)
kill -0 "$ras_c" 2>/dev/null || fail "ras-c exited: $(cat "$logs/ras-c.log")"
grep -q "stepping down" "$logs/ras-c.log" || fail "ras-c did not step down with etcd silent: $(cat "$logs/ras-c.log")"
# etcd expires a lease TTL after the last keep-alive it received, at the
# earliest 2 s after the stop: the leader must have stopped before that
# (by its log line's time: this loop polls slowly on a loaded machine)
down=$(grep -m1 "stepping down" "$logs/ras-c.log" | awk '{ split($1, t, /[:.]/); print ((t[1] * 60 + t[2]) * 60 + t[3]) * 1000 + t[4] }')
ms=$(( (down - t0 % 86400000 + 86400000) % 86400000 ))
[ "$ms" -lt 2000 ] || fail "ras-c stepped down $ms ms after etcd stopped, lease 2 s"
echo "leader stepped down $ms ms after etcd stopped answering (lease 2 s; seen after $((t1 - t0)) ms)"
kill -CONT "${pids[0]}"
for _ in $(seq 120); do
	t=$("$P" ras --etcd "$url" --leader --json 2>/dev/null | jq '.term // 0')
	[ "${t:-0}" -gt "$term_c" ] && break
	sleep 0.05
done
[ "${t:-0}" -gt "$term_c" ] || fail "no new term after etcd came back: $(cat "$logs/ras-c.log")"
grep -q "standing by again" "$logs/ras-c.log" || fail "ras-c did not campaign again: $(cat "$logs/ras-c.log")"
leader_is c || fail "ras-c does not lead again: $(cat "$logs/ras-c.log")"

# 5. The leader's lease ends at etcd while the leader lives (revoked here,
#    as an operator would, or as etcd does after a stall longer than the
#    TTL): its keep-alive finds the lease gone, it stops leading, stays
#    up and campaigns again, and leads with a new term.
term_c2=$("$P" ras --etcd "$url" --leader --json | jq .term)
again=$(grep -c "standing by again" "$logs/ras-c.log")
for l in $(etcdctl --endpoints "$url" lease list | tail -n +2); do
	etcdctl --endpoints "$url" lease revoke "$l" >/dev/null
done
for _ in $(seq 100); do grep -q "leadership lost" "$logs/ras-c.log" && break; sleep 0.05; done
grep -q "leadership lost" "$logs/ras-c.log" || fail "ras-c did not see its lease gone: $(cat "$logs/ras-c.log")"
for _ in $(seq 100); do
	t=$("$P" ras --etcd "$url" --leader --json 2>/dev/null | jq '.term // 0')
	[ "${t:-0}" -gt "$term_c2" ] && break
	sleep 0.05
done
kill -0 "$ras_c" 2>/dev/null || fail "ras-c exited when its lease was gone: $(cat "$logs/ras-c.log")"
[ "$(grep -c "standing by again" "$logs/ras-c.log")" -gt "$again" ] ||
	fail "ras-c did not stand by again: $(cat "$logs/ras-c.log")"
leader_is c || fail "ras-c does not lead after its lease was revoked: $(cat "$logs/ras-c.log")"
[ "${t:-0}" -gt "$term_c2" ] || fail "no new term after the lease was revoked ($t, was $term_c2)"
echo "a leader whose lease was revoked stood by again and leads with term $t (was $term_c2)"
kill -TERM "$ras_c"
wait "$ras_c" || fail "ras-c exited with $? on SIGTERM"
echo "PASS"
