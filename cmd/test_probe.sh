#!/bin/bash
# peregrine probe over loopback: loss gaps, arrival gaps, bad arguments.
set -eu
cd "$(dirname "$0")/.."
. tests/lib.sh
need_cmd python3
P=$PEREGRINE_BIN
tmp=$(mktemp -d)
rpid=
cleanup() { [ -n "$rpid" ] && kill "$rpid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT

jget() { python3 -c "import json,sys; d=json.load(open('$1')); print(d$2)"; }

# run_pair OUT SEND-ARGS...: a receiver on a free loopback port, then the sender.
run_pair() {
	local out=$1 port
	shift
	port=$((40000 + RANDOM % 20000))
	$P probe recv --listen 127.0.0.1:$port --duration 20 --idle 1 --json ${RECV_ARGS:-} > "$out" &
	rpid=$!
	sleep 0.3
	$P probe send --to 127.0.0.1:$port "$@" 2>/dev/null
	wait "$rpid"
	rpid=
}

# 50 datagrams skipped at 10,000/s: 50 lost and a loss gap of exactly
# 51 intervals (seq 999 to seq 1050), 5.1 ms.
run_pair "$tmp/drop.json" --rate 10000 --count 3000 --drop-at 1000 --drop-count 50
[ "$(jget "$tmp/drop.json" "['lost']")" = 50 ] || fail "lost: $(cat "$tmp/drop.json")"
python3 - "$tmp/drop.json" <<'PY' || fail "loss gap: $(cat "$tmp/drop.json")"
import json, sys
d = json.load(open(sys.argv[1]))
g = d["loss_gaps"][0]
assert g["seq_before"] == 999 and g["seq_after"] == 1050, g
assert abs(d["max_loss_gap_ms"] - 5.1) < 1e-6, d["max_loss_gap_ms"]
PY

# Loss at both ends of the stream: the first 20 (first_seq says so) and the
# last 30 (the sender says how many it sends) count as lost.
run_pair "$tmp/ends.json" --rate 10000 --count 1000 --drop-at 0 --drop-count 20
[ "$(jget "$tmp/ends.json" "['lost']")" = 20 ] || fail "loss at the start: $(cat "$tmp/ends.json")"
[ "$(jget "$tmp/ends.json" "['first_seq']")" = 20 ] || fail "first_seq: $(cat "$tmp/ends.json")"
run_pair "$tmp/tail.json" --rate 10000 --count 1000 --drop-at 970 --drop-count 30
[ "$(jget "$tmp/tail.json" "['lost']")" = 30 ] || fail "loss at the end: $(cat "$tmp/tail.json")"

# A 40 ms stall of the sender loses nothing: an arrival gap, no loss gap.
run_pair "$tmp/pause.json" --rate 10000 --count 2000 --pause-at 500 --pause-ms 40
[ "$(jget "$tmp/pause.json" "['lost']")" = 0 ] || fail "pause lost"
[ "$(jget "$tmp/pause.json" "['max_loss_gap_ms']")" = 0.0 ] || fail "pause loss gap"
python3 -c "import json; d=json.load(open('$tmp/pause.json')); assert d['max_gap_ms'] >= 39, d" \
	|| fail "pause arrival gap"

# A sender stopped by SIGINT tells the receiver how many it sent: nothing
# it never sent counts as lost, and the receiver ends at once.
port=$((40000 + RANDOM % 20000))
$P probe recv --listen 127.0.0.1:$port --duration 20 --idle 10 --json > "$tmp/stop.json" &
rpid=$!
sleep 0.3
$P probe send --to 127.0.0.1:$port --rate 10000 --count 1000000 2>"$tmp/stop.err" &
spid=$!
sleep 0.5
kill -INT "$spid"
wait "$spid" || fail "the stopped sender failed: $(cat "$tmp/stop.err")"
t0=$(date +%s%N)
wait "$rpid"
rpid=
[ $(( ($(date +%s%N) - t0) / 1000000 )) -lt 5000 ] || fail "the receiver waited for --idle after END"
grep -q "(stopped)" "$tmp/stop.err" || fail "sender: $(cat "$tmp/stop.err")"
sent=$(sed -n 's/^probe send: \([0-9]*\) datagrams.*/\1/p' "$tmp/stop.err")
[ "$(jget "$tmp/stop.json" "['sender_stopped']")" = True ] || fail "no END seen: $(cat "$tmp/stop.json")"
[ "$(jget "$tmp/stop.json" "['lost']")" = 0 ] || fail "stopped stream: $(cat "$tmp/stop.json")"
[ "$(jget "$tmp/stop.json" "['received']")" = "$sent" ] || fail "received != $sent sent"
[ "$sent" -gt 1000 ] && [ "$sent" -lt 1000000 ] || fail "sent $sent"

# --bin-ms: the arrivals per bin from the first one add up to all that
# arrived; 3,000 sequence numbers at 10,000/s (the 1,000 skipped take their
# time too) last 0.3 s: 3 bins of 100 ms, more on a slow machine (up to 6),
# the middle ones short by the skip
RECV_ARGS="--bin-ms 100" run_pair "$tmp/bins.json" --rate 10000 --count 3000 --drop-at 1500 --drop-count 1000
python3 - "$tmp/bins.json" <<'PY' || fail "rate bins: $(cat "$tmp/bins.json")"
import json, sys
d = json.load(open(sys.argv[1]))
r = d["rate"]
assert r["bin_ms"] == 100 and r["start_ns"] == d["first_ns"], r
assert sum(r["counts"]) == d["received"] == 2000, (sum(r["counts"]), d["received"])
assert 3 <= len(r["counts"]) <= 6, r["counts"]
assert min(r["counts"][1:-1]) < 600, r["counts"]
PY
run_pair "$tmp/nobins.json" --rate 10000 --count 100
python3 -c "import json; assert 'rate' not in json.load(open('$tmp/nobins.json'))" ||
	fail "rate without --bin-ms"
expect_fail "bad --bin-ms" $P probe recv --listen 127.0.0.1:9 --bin-ms 0
expect_fail "no --to" $P probe send --count 1
expect_fail "bad rate" $P probe send --to 127.0.0.1:9 --rate 0
expect_fail "bad size" $P probe send --to 127.0.0.1:9 --size 4000
expect_fail "bad address" $P probe recv --listen nowhere
expect_fail "bad subcommand" $P probe frob
echo "probe: all checks passed"
