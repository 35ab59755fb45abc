#!/bin/bash
# Crash test: registrations are acknowledged while the directory is killed
# with SIGKILL at random moments and restarted; afterwards every
# acknowledged registration must be there.
#
#   dirctl batch (one VM per line) ---> peregrine directory (LMDB in $tmp/db)
#                                          ^
#   killer: kill -9 at random, restart ----+
#
# Bounded: at most $N registrations, $SECS seconds, $KILLS kills.
set -eu
. "$(dirname "$0")/../tests/lib.sh"

N=${N:-4000}
SECS=${SECS:-15}
KILLS=${KILLS:-8}
tmp=$(mktemp -d /tmp/pgdir-crash.XXXXXX)
killer_pid=""
cleanup() {
	[ -n "$killer_pid" ] && kill "$killer_pid" 2>/dev/null || true
	wait "$killer_pid" 2>/dev/null || true
	[ -f "$tmp/ds.pid" ] && kill "$(cat "$tmp/ds.pid")" 2>/dev/null || true
	wait 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT

P=$PEREGRINE_BIN
"$P" keygen "$tmp/key"

start_ds() {
	"$P" directory --listen "$1" --db "$tmp/db" --key "$tmp/key" 2>>"$tmp/ds.log" &
	echo $! >"$tmp/ds.pid"
}
wait_serving() {	# wait_serving COUNT: until the log has COUNT "serving" lines
	for _ in $(seq 200); do
		[ "$(grep -c serving "$tmp/ds.log")" -ge "$1" ] && return 0
		sleep 0.05
	done
	fail "directory did not start: $(cat "$tmp/ds.log")"
}
start_ds 127.0.0.1:0
wait_serving 1
port=$(sed -n 's/.*serving 127.0.0.1:\([0-9]*\),.*/\1/p' "$tmp/ds.log" | head -1)
echo "directory on port $port"

# The registrations: VM i has IP 10.x.y.z and MACs 02:00:00:..., on server i % 50.
awk -v n="$N" 'function mac(p, v) { return sprintf("%02x:00:00:%02x:%02x:%02x", p,
	int(v / 65536) % 256, int(v / 256) % 256, v % 256) }
	BEGIN { for (i = 1; i <= n; i++)
		printf "register 1 10.%d.%d.%d %s %s %s %s %d\n", int(i / 65536) % 256,
			int(i / 256) % 256, i % 256, mac(2, 2 * i), mac(2, 2 * i + 1),
			mac(10, i % 50 * 2), mac(10, i % 50 * 2 + 1), i % 50 }' >"$tmp/cmds"

# The killer: SIGKILL at random moments, restart at once on the same port.
(
	for _ in $(seq "$KILLS"); do
		sleep "0.$((RANDOM % 9 + 1))$((RANDOM % 10))"
		kill -9 "$(cat "$tmp/ds.pid")" 2>/dev/null || true
		start_ds "127.0.0.1:$port"
	done
) &
killer_pid=$!

# One client registers them in order; a registration counts as acknowledged
# only when the directory answered "ok".
timeout "$SECS" "$P" dirctl --server "127.0.0.1:$port" --key "$tmp/key" --timeout 400 \
	batch <"$tmp/cmds" >"$tmp/out" 2>/dev/null || true
wait "$killer_pid"
killer_pid=""
sed -n 's/^vdc 1 ip \([0-9.]*\): ok .*/\1/p' "$tmp/out" >"$tmp/acked"
tried=$(grep -c "^vdc 1 ip" "$tmp/out" || true)
acked=$(wc -l <"$tmp/acked")
starts=$(grep -c serving "$tmp/ds.log" || true)
echo "$tried registrations answered, $acked acknowledged, $((starts - 1)) kill -9 and restarts"
[ "$acked" -gt 0 ] || fail "nothing was acknowledged"
[ "$starts" -gt 1 ] || fail "the daemon was never killed and restarted"

# One last kill -9 and restart, then every acknowledged registration must be there.
kill -9 "$(cat "$tmp/ds.pid")"
start_ds "127.0.0.1:$port"
wait_serving $((starts + 1))
tail -1 "$tmp/ds.log"
awk '{ print "lookup 1 " $1 }' "$tmp/acked" >"$tmp/lookups"
"$P" dirctl --server "127.0.0.1:$port" --key "$tmp/key" --timeout 3000 \
	batch <"$tmp/lookups" >"$tmp/found" 2>&1 || true
found=$(grep -c ": ok version" "$tmp/found" || true)
[ "$found" -eq "$acked" ] || {
	grep -v ": ok version" "$tmp/found" | head
	fail "$((acked - found)) acknowledged registrations lost or unanswered"
}
echo "PASS: all $acked acknowledged registrations survived $starts starts and kill -9s"
