#!/bin/bash
# Crash test: registrations are acknowledged while the directory is killed
# with SIGKILL at random moments and restarted; afterwards every
# acknowledged registration must be there, and so must the IPv6 ones made
# before the kills (they are stored as the IPv4 ones are).
#
#   dirctl batch (one VM per line) ---> peregrine directory (LMDB in $tmp/db)
#                                          ^
#   killer: kill -9 at random, restart ----+
#
# Bounded: at most $N registrations, $SECS seconds, $KILLS kills.
#
# Every daemon is a child of this shell: a kill -9 is followed by `wait`, so
# the old daemon has released the port before the next one binds it, and
# the port lies below the ephemeral range (udp_port), so no client socket
# can take it in between.
set -eu
. "$(dirname "$0")/../tests/lib.sh"
need_cmd ss

N=${N:-4000}
SECS=${SECS:-15}
KILLS=${KILLS:-8}
tmp=$(mktemp -d /tmp/pgdir-crash.XXXXXX)
logs=$(test_logs "$tmp")
ds_pid=""
client_pid=""
cleanup() {
	[ -n "$client_pid" ] && kill "$client_pid" 2>/dev/null || true
	[ -n "$ds_pid" ] && kill "$ds_pid" 2>/dev/null || true
	wait 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT

P=$PEREGRINE_BIN
"$P" keygen "$tmp/key"

start_ds() {
	"$P" directory --listen "127.0.0.1:$port" --db "$tmp/db" --key "$tmp/key" \
		2>>"$logs/ds.log" &
	ds_pid=$!
}
kill_ds() {	# SIGKILL, and reap it: its socket is closed once wait returns
	kill -9 "$ds_pid" 2>/dev/null || true
	wait "$ds_pid" 2>/dev/null || true
	ds_pid=""
}
wait_serving() {	# wait_serving COUNT: until the log has COUNT "serving" lines
	for _ in $(seq 200); do
		[ "$(grep -c serving "$logs/ds.log")" -ge "$1" ] && return 0
		kill -0 "$ds_pid" 2>/dev/null || break
		sleep 0.05
	done
	fail "directory did not start: $(cat "$logs/ds.log")"
}
# The first start picks the port; a port someone took since udp_port
# looked is given up for another.
: >"$logs/ds.log"
for try in 1 2 3 4 5; do
	port=$(udp_port)
	start_ds
	for _ in $(seq 200); do
		grep -q serving "$logs/ds.log" && break
		kill -0 "$ds_pid" 2>/dev/null || break
		sleep 0.05
	done
	grep -q serving "$logs/ds.log" && break
	kill_ds
	[ "$try" -lt 5 ] || fail "directory did not start: $(cat "$logs/ds.log")"
done
echo "directory on port $port"

# The registrations: VM i has IP 10.x.y.z and MACs 02:00:00:..., on server i % 50.
awk -v n="$N" 'function mac(p, v) { return sprintf("%02x:00:00:%02x:%02x:%02x", p,
	int(v / 65536) % 256, int(v / 256) % 256, v % 256) }
	BEGIN { for (i = 1; i <= n; i++)
		printf "register 1 10.%d.%d.%d %s %s %s %s %d\n", int(i / 65536) % 256,
			int(i / 256) % 256, i % 256, mac(2, 2 * i), mac(2, 2 * i + 1),
			mac(10, i % 50 * 2), mac(10, i % 50 * 2 + 1), i % 50 }' >"$tmp/cmds"

# IPv6 registrations first (VM i: fd00::1:i, its IPv4 entry's MACs).
awk 'function mac(p, v) { return sprintf("%02x:00:00:%02x:%02x:%02x", p,
	int(v / 65536) % 256, int(v / 256) % 256, v % 256) }
	BEGIN { for (i = 1; i <= 20; i++)
		printf "register 1 fd00::1:%x %s %s %s %s %d\n", i, mac(2, 2 * i),
			mac(2, 2 * i + 1), mac(10, i % 50 * 2), mac(10, i % 50 * 2 + 1), i % 50 }' \
	>"$tmp/cmds6"
"$P" dirctl --server "127.0.0.1:$port" --key "$tmp/key" --timeout 3000 \
	batch <"$tmp/cmds6" >"$tmp/out6"
[ "$(grep -c ': ok version' "$tmp/out6")" -eq 20 ] || fail "IPv6 registrations: $(cat "$tmp/out6")"

# One client registers them in order; a registration counts as acknowledged
# only when the directory answered "ok".  Meanwhile, SIGKILL at random
# moments and a restart at once on the same port.
timeout "$SECS" "$P" dirctl --server "127.0.0.1:$port" --key "$tmp/key" --timeout 400 \
	batch <"$tmp/cmds" >"$tmp/out" 2>/dev/null &
client_pid=$!
for _ in $(seq "$KILLS"); do
	sleep "0.$((RANDOM % 9 + 1))$((RANDOM % 10))"
	kill_ds
	start_ds
done
wait "$client_pid" || true
client_pid=""
sed -n 's/^vdc 1 ip \([0-9.]*\): ok .*/\1/p' "$tmp/out" >"$tmp/acked"
tried=$(grep -c "^vdc 1 ip" "$tmp/out" || true)
acked=$(wc -l <"$tmp/acked")
starts=$(grep -c serving "$logs/ds.log" || true)
echo "$tried registrations answered, $acked acknowledged, $((starts - 1)) kill -9 and restarts"
[ "$acked" -gt 0 ] || fail "nothing was acknowledged"
[ "$starts" -gt 1 ] || fail "the daemon was never killed and restarted"
! grep -i "in use" "$logs/ds.log" || fail "a restart found its port taken"

# One last kill -9 and restart, then every acknowledged registration must be there.
kill_ds
start_ds
wait_serving $((starts + 1))
tail -1 "$logs/ds.log"
awk '{ print "lookup 1 " $1 }' "$tmp/acked" >"$tmp/lookups"
"$P" dirctl --server "127.0.0.1:$port" --key "$tmp/key" --timeout 3000 \
	batch <"$tmp/lookups" >"$tmp/found" 2>&1 || true
found=$(grep -c ": ok version" "$tmp/found" || true)
[ "$found" -eq "$acked" ] || {
	grep -v ": ok version" "$tmp/found" | head
	fail "$((acked - found)) acknowledged registrations lost or unanswered"
}
sed -n 's/^register \(1 [^ ]*\) .*/lookup \1/p' "$tmp/cmds6" >"$tmp/lookups6"
"$P" dirctl --server "127.0.0.1:$port" --key "$tmp/key" --timeout 3000 \
	batch <"$tmp/lookups6" >"$tmp/found6" 2>&1 || true
found6=$(grep -c ": ok version" "$tmp/found6" || true)
[ "$found6" -eq 20 ] || {
	grep -v ": ok version" "$tmp/found6" | head
	fail "$((20 - found6)) of 20 IPv6 registrations lost over the kill -9s"
}
echo "PASS: all $acked acknowledged registrations and 20 IPv6 ones survived $starts starts and kill -9s"
