#!/bin/bash
# End to end over loopback: the directory daemon, dirctl, a caching client.
#
#   dirctl register/lookup/avail/move/unregister --+
#                                                  |  UDP 127.0.0.1
#   dirctl watch (caching client, gets pushes) ----+---> peregrine directory
#                                                  |     (LMDB in $tmp/db)
#   raw junk through /dev/udp ---------------------+
#
# Then SIGTERM, restart on the same store, and the registrations are there.
set -eu
. "$(dirname "$0")/../tests/lib.sh"

tmp=$(mktemp -d /tmp/pgdir-e2e.XXXXXX)
logs=$(test_logs "$tmp")	# the daemon's log (kept by run.sh when the test fails)
ds_pid=""
watch_pid=""
cleanup() {
	[ -n "$watch_pid" ] && kill "$watch_pid" 2>/dev/null || true
	[ -n "$ds_pid" ] && kill "$ds_pid" 2>/dev/null || true
	wait 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT

P=$PEREGRINE_BIN
"$P" keygen "$tmp/key"
"$P" keygen "$tmp/other"

# start_ds LISTEN: start the daemon, wait for its "serving" line, set $port.
start_ds() {
	[ ! -s "$logs/ds.log" ] || cat "$logs/ds.log" >>"$logs/ds-before.log"
	: >"$logs/ds.log"
	"$P" directory --listen "$1" --db "$tmp/db" --key "$tmp/key" --lease 5 \
		--service 10.254.0.0/16 2>"$logs/ds.log" &
	ds_pid=$!
	for _ in $(seq 100); do
		grep -q serving "$logs/ds.log" && break
		sleep 0.05
	done
	port=$(sed -n 's/.*serving 127.0.0.1:\([0-9]*\),.*/\1/p' "$logs/ds.log")
	[ -n "$port" ] || fail "directory did not start: $(cat "$logs/ds.log")"
}
ctl() { "$P" dirctl --server "127.0.0.1:$port" --key "$tmp/key" --timeout 2000 "$@"; }

"$P" directory --help | grep -q -- "--listen ADDR:PORT" || fail "directory --help"
"$P" dirctl --help | grep -q "register VDC IP" || fail "dirctl --help"
expect_fail "missing options" "$P" directory --listen 127.0.0.1:0
expect_fail "bad lease" "$P" directory --listen 127.0.0.1:0 --db "$tmp/x" --key "$tmp/key" --lease 0
expect_fail "bad service range" "$P" directory --listen 127.0.0.1:0 --db "$tmp/x" --key "$tmp/key" --service 10.0.0.0/99
expect_fail "missing key file" "$P" directory --listen 127.0.0.1:0 --db "$tmp/x" --key "$tmp/nokey"

# A port below the ephemeral range, so that nothing else is given it while
# the daemon restarts on it below.
need_cmd ss
start_ds "127.0.0.1:$(udp_port)"
echo "directory on port $port"

expect_fail "bad MAC" ctl register 1 10.0.0.1 01:00:00:00:00:01 02:00:00:00:00:02 0a:00:00:00:00:01 0a:00:00:00:00:02 7
expect_fail "bad IP" ctl lookup 1 10.0.0.300
ctl register 1 10.0.0.1 02:00:00:00:00:01 02:00:00:00:00:02 0a:00:00:00:00:01 0a:00:00:00:00:02 7
ctl register 2 10.0.0.1 02:00:00:00:00:11 02:00:00:00:00:12 0a:00:00:00:00:03 0a:00:00:00:00:04 8
ctl register 5 10.254.0.9 02:00:00:00:00:21 02:00:00:00:00:22 0a:00:00:00:00:03 0a:00:00:00:00:04 8

# VDC isolation and the shared range.
ctl lookup 1 10.0.0.1 | grep -q "ok version .* server 7 vm 02:00:00:00:00:01" || fail "lookup vdc 1"
ctl lookup 2 10.0.0.1 | grep -q "server 8 vm 02:00:00:00:00:11" || fail "lookup vdc 2"
if ctl lookup 3 10.0.0.1 >"$tmp/out"; then fail "vdc 3 should not see 10.0.0.1"; fi
grep -q "not-found" "$tmp/out" || fail "not found: $(cat "$tmp/out")"
ctl lookup 9 10.254.0.9 | grep -q "server 8" || fail "service range from another VDC"
ctl --json lookup 1 10.0.0.1 | grep -q '"lease_ms": 5000' || fail "json lookup"

# A caching client: it must receive every change as a push.
"$P" dirctl --server "127.0.0.1:$port" --key "$tmp/key" --json watch 4 1 10.0.0.1 \
	>"$tmp/watch" 2>&1 &
watch_pid=$!
for _ in $(seq 100); do grep -q '"event":"lookup"' "$tmp/watch" && break; sleep 0.05; done
grep -q '"event":"lookup"' "$tmp/watch" || fail "watch did not start: $(cat "$tmp/watch")"
ctl avail 0a:00:00:00:00:01 down --intermediary | grep -q "1 entries changed" || fail "avail"
ctl move 1 10.0.0.1 9 0a:00:00:00:00:05 0a:00:00:00:00:06 | grep -q "server 9" || fail "move"
ctl unregister 1 10.0.0.1
wait "$watch_pid" || fail "watch failed: $(cat "$tmp/watch")"
watch_pid=""
cat "$tmp/watch"
grep '"event":"update"' "$tmp/watch" | grep -q '"server_mac":false' || fail "no availability push"
grep '"event":"update"' "$tmp/watch" | grep -q '"server":9' || fail "no migration push"
grep -q '"event":"invalidate"' "$tmp/watch" || fail "no invalidate push"

# Junk and forgeries are dropped and counted; the daemon keeps serving.
printf 'junk' >/dev/udp/127.0.0.1/"$port"
head -c 1500 /dev/urandom >/dev/udp/127.0.0.1/"$port"
if "$P" dirctl --server "127.0.0.1:$port" --key "$tmp/other" --timeout 300 stats; then
	fail "a client with the wrong key got an answer"
fi
ctl --json stats >"$tmp/stats"
grep -q '"drop_short": [1-9]' "$tmp/stats" || fail "short datagram not counted"
grep -q '"drop_tag": [1-9]' "$tmp/stats" || fail "forged datagram not counted"
grep -q '"pushes": [1-9]' "$tmp/stats" || fail "no pushes counted"
grep -q '"push_acked": [1-9]' "$tmp/stats" || fail "no acks counted"

# SIGTERM stops it cleanly; a restart serves what was registered.
kill -TERM "$ds_pid"
wait "$ds_pid" || fail "directory exited with $? on SIGTERM"
ds_pid=""
grep -q "stopped" "$logs/ds.log" || fail "no clean stop"
start_ds "127.0.0.1:$port"
grep -q "2 entries" "$logs/ds.log" || fail "restart: $(cat "$logs/ds.log")"
ctl lookup 2 10.0.0.1 | grep -q "server 8" || fail "lost a registration across restart"
if ctl lookup 1 10.0.0.1 >/dev/null; then fail "an unregistered VM came back"; fi
echo "PASS"
