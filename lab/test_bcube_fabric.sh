#!/bin/bash
# The BCube scheme (docs/bcube.md): servers relaying in eBPF by the BCube
# header, BSR moving flows between the k+1 parallel paths.
#
#   level 1:  sw1-0          sw1-1          sw1-2          sw1-3
#             (srv0,4,8,12)  (srv1,5,9,13)  (srv2,6,10,14) (srv3,7,11,15)
#   level 0:  sw0-0          sw0-1          sw0-2          sw0-3
#             (srv0..3)      (srv4..7)      (srv8..11)     (srv12..15)
#
# BCube(4,1): 16 servers with two NICs, 8 plain bridges.  srv0 -> srv15
# has two parallel paths: srv0 -(sw0-0)- srv3 -(sw1-3)- srv15 and
# srv0 -(sw1-0)- srv12 -(sw0-3)- srv15.
#
# Checks: all 240 server pairs reach each other (addresses resolved through
# the directory); 8 flows srv0 -> srv15 use both paths (each NIC of srv0
# carries at least 20% of them); a 10,000 datagram/s stream survives the
# cut of the link after the relay it uses (a failure in the middle of its
# path) and then the crash of the relay it uses, each loss gap under 1 s
# (printed: the figures in docs/bcube.md); a one-to-all transfer from srv0
# over the two trees and over one reaches all 15 with every byte;
# `lab down` leaves nothing; `up`
# waits for every agent, and failing at the scheme's steps leaves nothing.
set -eu
cd "$(dirname "$0")/.."
. tests/lib.sh
need_root
need_cmd ip
need_cmd jq
P=$PEREGRINE_BIN
X=$(test_prefix b)
L="--prefix $X"
tmp=$(mktemp -d)
rpid=
spid=
cleanup() {
	[ -n "$spid" ] && kill "$spid" 2>/dev/null
	[ -n "$rpid" ] && kill "$rpid" 2>/dev/null
	$P lab down $L >/dev/null 2>&1 || true
	rm -rf "$tmp"
}
trap cleanup EXIT
ex() { $P lab exec "$1" $L -- "${@:2}"; }
ip_of() { echo "10.210.0.$((${1#srv} + 1))"; }
pkts() {	# NODE IF DIR: packets through the interface so far
	ip netns exec "$X-$1" cat "/sys/class/net/$X-$2/statistics/${3}_packets"
}

cat >"$tmp/bcube.yaml" <<'YAML'
name: bcube-test
scheme: bcube
topology: bcube:n=4,k=1
YAML
t0=$(date +%s.%N)
$P lab up "$tmp/bcube.yaml" $L >/dev/null
echo "ok: BCube(4,1) lab up in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b - a}') s"
grep -c "wait-agent srv" "/run/peregrine/lab-$X/setup/steps" | grep -qx 16 ||
	fail "up did not wait for each of the 16 agents"
cp "/run/peregrine/lab-$X/setup/steps" "$tmp/steps"
[ -z "$(ip netns exec "$X-sw0-0" bridge -d link show | grep -E 'learning off|flood off')" ] ||
	fail "a BCube switch has learning or flooding off"

# Every pair: the first packet to a new address is the miss that starts the
# lookup, so each ping may take a few tries (-w 3).
all=""
for s in $(seq 0 15); do all="$all $(ip_of srv$s)"; done
bad=0
for s in $(seq 0 15); do
	me=$(ip_of srv$s)
	n=$(ip netns exec "$X-srv$s" sh -c "ok=0; for d in $all; do [ \$d = $me ] && continue;
		ping -n -q -c 1 -i 0.2 -w 3 \$d >/dev/null 2>&1 && ok=\$((ok + 1)); done; echo \$ok")
	[ "$n" -eq 15 ] || { echo "   srv$s reached $n of 15"; bad=1; }
done
[ $bad -eq 0 ] || fail "not every pair reached each other"
echo "ok: all 240 server pairs reach each other"

s0=$(ip_of srv0)
s15=$(ip_of srv15)
# Eight flows srv0 -> srv15: both NICs of srv0 carry them.
ex srv15 $P probe recv --listen "$s15:9100" --duration 10 --idle 2 --json >"$tmp/flows.json" &
rpid=$!
sleep 0.5
a0=$(pkts srv0 nic0 tx); b0=$(pkts srv0 nic1 tx)
pids=""
for port in $(seq 41000 41007); do
	ex srv0 $P probe send --to "$s15:9100" --bind "$s0:$port" --rate 1000 --count 2000 \
		2>/dev/null &
	pids="$pids $!"
done
for p in $pids; do wait "$p"; done
wait "$rpid" || true
rpid=
a=$(($(pkts srv0 nic0 tx) - a0)); b=$(($(pkts srv0 nic1 tx) - b0))
echo "   8 flows x 2000 datagrams: srv0 sent $a on nic0 (level 0), $b on nic1 (level 1)"
[ $((a * 5)) -ge $((a + b)) ] && [ $((b * 5)) -ge $((a + b)) ] ||
	fail "the flows did not use both parallel paths ($a, $b)"
# the eight flows share sequence numbers: the receiver counts 2000 and
# the rest as duplicates
[ "$(jq '.received + .duplicates' "$tmp/flows.json")" -ge 15000 ] ||
	fail "flows: $(jq -c . "$tmp/flows.json")"
echo "ok: 8 flows use both parallel paths"

# BCube's one-to-all transfer: srv0 -> the 15 others over the two trees at
# once and over one, every server relaying to its children in the tree
# (scripts/lab-one2all.sh).  Every receiver gets every byte with the
# source's checksums; the tree edges stay one hop (the NICs send the bytes
# received plus headers, acknowledgements, probes and hellos: 1.09 times
# them here; a single edge of 15 on a 3-hop path would add 2/15).  The
# links are not shaped here, so the CPU, not the trees, sets the rates: no
# speedup is asserted (docs/bcube.md has it, on shaped links).
t0=$(date +%s.%N)
$P lab one2all $L --bytes 3000000 --json >"$tmp/one2all.json" 2>"$tmp/one2all.err" ||
	fail "lab one2all: $(tail -3 "$tmp/one2all.err")"
jq -e '.trees == 2 and .receivers_ok == 15 and .one_tree_gbps > 0 and .one_to_all_gbps > 0
	and (.run_list | length) == 2 and all(.run_list[]; .ok == 15 and .wire_ratio < 1.2)' \
	"$tmp/one2all.json" >/dev/null || fail "one2all: $(jq -c 'del(.per_receiver_gbps)' "$tmp/one2all.json")"
echo "ok: one-to-all: 15 of 15 receivers got all 3 MB over 2 trees ($(jq -r '.one_to_all_gbps * 1000 | round' "$tmp/one2all.json") Mbit/s aggregate) and over one ($(jq -r '.one_tree_gbps * 1000 | round' "$tmp/one2all.json")), tree edges one hop (NICs sent $(jq -r '[.run_list[].wire_ratio * 100 | round / 100] | join(", ")' "$tmp/one2all.json") x the bytes) in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b - a}') s"

stream() {	# NAME: a 3 s stream at 10,000/s srv0 -> srv15
	ex srv15 $P probe recv --listen "$s15:9000" --duration 20 --idle 2 --json >"$tmp/$1.json" &
	rpid=$!
	for _ in $(seq 100); do
		ip netns exec "$X-srv15" ss -Hlun "sport = :9000" | grep -q . && break
		sleep 0.05
	done
	ex srv0 $P probe send --to "$s15:9000" --bind "$s0:40000" --rate 10000 --count 30000 \
		2>/dev/null &
	spid=$!
	sleep 0.5
}
finish() {	# NAME WHAT
	wait "$spid"
	spid=
	wait "$rpid"
	rpid=
	[ "$(jq .received "$tmp/$1.json")" -gt 20000 ] ||
		fail "$2: the stream did not recover ($(jq -c . "$tmp/$1.json"))"
	gap=$(jq '[.loss_gaps[].gap_ms] | max // 0' "$tmp/$1.json")
	# probes every 50 ms, a path dead after 160 ms without answers
	awk -v g="$gap" 'BEGIN { exit !(g < 1000) }' ||
		fail "$2: a loss gap of $gap ms"
	echo "ok: $2: lost $(jq .lost "$tmp/$1.json") of 30000, longest loss gap $gap ms"
}
relay() {	# the relay the stream goes through: srv3 (path 0) or srv12 (path 1)
	local a0 b0
	a0=$(pkts srv3 nic1 tx); b0=$(pkts srv12 nic0 tx)
	sleep 0.2
	if [ $(($(pkts srv3 nic1 tx) - a0)) -gt $(($(pkts srv12 nic0 tx) - b0)) ]; then
		echo srv3
	else
		echo srv12
	fi
}

stream middle
r=$(relay)
if [ "$r" = srv3 ]; then cut="srv3 sw1-3"; else cut="srv12 sw0-3"; fi
echo "   the stream goes through $r; cutting $cut"
$P lab link down $cut $L
finish middle "$cut cut (the link after the relay)"
$P lab link up $cut $L
sleep 1	# hellos every 100 ms, probes every 50 ms: the path is back

stream crash
r=$(relay)
echo "   the stream goes through $r; taking it down"
$P lab node down "$r" $L >/dev/null
finish crash "relay $r down"

$P lab down $L >/dev/null
! ip netns list | grep -q "^$X-" || fail "namespaces left behind"
echo "ok: lab down"

# `up` failing at the scheme's own steps rolls everything back
for kind in "settings-bcube all" "wait-agent srv7"; do
	n=$(grep " $kind\$" "$tmp/steps" | cut -d' ' -f1)
	[ -n "$n" ] || fail "no step '$kind' in $(tr '\n' ';' <"$tmp/steps")"
	if out=$(PEREGRINE_LAB_FAIL_AFTER=$((n - 1)) $P lab up "$tmp/bcube.yaml" $L 2>&1); then
		fail "up did not fail at step $n ($kind)"
	fi
	echo "$out" | grep -q "injected failure at step $n, $kind" || fail "step $n: $out"
	! ip netns list | grep -q "^$X-" || fail "failure at step $n: namespaces remain"
	[ ! -e "/run/peregrine/lab-$X" ] || fail "failure at step $n: the state directory remains"
done
echo "ok: up failing at settings-bcube and wait-agent rolls everything back"
