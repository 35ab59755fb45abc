#!/bin/bash
# The multicast target of docs/multicast.md in a lab of 16 servers: a
# 10,000 datagram/s stream (RUNS runs of 20,000 datagrams) from red-srv0 to
# 239.1.2.3, whose members are red-srv1..8 (8 servers besides the
# source's); blue-srv1..8 join blue's 239.1.2.3 (the same address in another
# VDC).  Each run reports what every member received, what the non-members
# (red-srv9..15, blue-srv0..15) received, and the frames on the busiest link
# of the lab (tx_packets of every interface of every server and switch
# namespace, before and after the stream, divided by the datagrams sent).
#
#        spine0               spine1
#     leaf0 leaf1 leaf2 leaf3  (pairs (0,1), (2,3), 8 dual-homed servers each)
#     srv0..srv15: red-srvN and blue-srvN on srvN
#
# A datagram a member did not receive is accounted for by the member's
# namespace: `late` (UDP IgnoredMulti: it arrived while no socket listened,
# i.e. before its receiver started or after it stopped), `rcvbuf` (UDP
# RcvbufErrors: the receiver's socket buffer was full), `in_errors`,
# `rx_dropped` (its eth0's drops).  Every receiver is listening before the
# stream starts and stops when it has all 20,000 (or after 60 s), so a slow
# machine stretches the run instead of cutting it short.  The rate the
# sender reached is reported (send_ms, send_rate): on a busy 2-core machine
# the sending VM's process gets a small share of a core and sends the
# 20,000 in more than 2 s.
#
# Usage: lab-mcast.sh [--json]  (PEREGRINE = the binary, PREFIX = the
# lab's prefix (default pgm), RUNS (default 3)).  Root.  Exit status 1 if a
# run missed the target (a member under 99.9%, a datagram at a non-member).
# Bounded: each stream has a fixed count, each receiver a fixed duration.
set -euo pipefail
P=${PEREGRINE:-build/peregrine}
X=${PREFIX:-pgm}
RUNS=${RUNS:-3}
SENT=20000
WANT=19980	# 99.9% of SENT
JSON=0
[ "${1:-}" = --json ] && JSON=1
tmp=$(mktemp -d /tmp/pgr-mcast.XXXXXX)
cleanup() { $P lab down --prefix "$X" >/dev/null 2>&1 || true; rm -rf "$tmp"; }
trap cleanup EXIT
say() { [ $JSON = 1 ] && echo "$*" >&2 || echo "$*"; }
ex() { ip netns exec "$X-$1" "${@:2}"; }

cat > "$tmp/lab.yaml" <<'LAB'
name: mcast16
topology: leafspine:spines=2,leaves=4,servers=4,homing=2
vdcs:
  - {name: red, id: 1, subnet: 10.0.0.0/24}
  - {name: blue, id: 2, subnet: 10.0.0.0/24}
placement:
  per_server: 1
LAB
$P lab down --prefix "$X" >/dev/null 2>&1 || true
$P lab up "$tmp/lab.yaml" --prefix "$X" >/dev/null
members="" others="" joined=""
for n in $(seq 1 8); do members+=" red-srv$n"; joined+=" blue-srv$n"; done
for n in $(seq 9 15); do others+=" red-srv$n"; done
for n in $(seq 0 15); do others+=" blue-srv$n"; done
for v in $members $joined; do ex "$v" ip addr add 239.1.2.3/32 dev "$X-eth0" autojoin; done
ex red-srv0 ip route replace 224.0.0.0/4 dev "$X-eth0"
sleep 2	# the joins reach the directory

# tx_packets of every interface of the servers' and switches' namespaces
links_tx() {
	for ns in $(ip netns list | awk '{print $1}' | grep -E "^$X-(srv|leaf|spine)[0-9]+$"); do
		ip netns exec "$ns" sh -c 'for f in /sys/class/net/*/statistics/tx_packets; do
			case $f in */lo/*) ;; *) d=${f%/statistics/*}; echo "'"$ns"':${d##*/} $(cat $f)";; esac
		done'
	done | sort
}
# A member namespace's loss counters: IgnoredMulti RcvbufErrors InErrors rx_dropped
loss_counters() {
	ex "$1" awk '/^Udp:/ { if (!h) { for (i = 2; i <= NF; i++) c[$i] = i; h = 1 }
		else print $c["IgnoredMulti"], $c["RcvbufErrors"], $c["InErrors"] }' /proc/net/snmp |
		tr '\n' ' '
	ex "$1" cat "/sys/class/net/$X-eth0/statistics/rx_dropped"
}
# Wait (at most 20 s) until a UDP socket listens on port in every namespace.
listening() {
	local hex v i
	hex=$(printf ':%04X ' "$1")
	shift
	for v in "$@"; do
		for i in $(seq 200); do
			ex "$v" grep -q "$hex" /proc/net/udp && continue 2
			sleep 0.1
		done
		say "no receiver listening in $v"
		return 1
	done
}
runs_json="[]"
for r in $(seq "$RUNS"); do
	port=$((6000 + r))
	mpids="" opids=""
	for v in $members $others; do	# ip netns exec execs: $! is the receiver
		ip netns exec "$X-$v" "$P" probe recv --listen "0.0.0.0:$port" --count $SENT --duration 60 \
			--idle 10 --json > "$tmp/r-$v" 2>/dev/null &
		case " $members " in *" $v "*) mpids+=" $!";; *) opids+=" $!";; esac
	done
	listening "$port" $members $others
	# the group established at the source: frames sent before its agent
	# has the MEMBERS answer are dropped (vm_drop_group_none)
	ex red-srv0 "$P" probe send --to 239.1.2.3:5999 --rate 100 --count 10 >/dev/null 2>&1
	sleep 1
	links_tx > "$tmp/tx0"
	for v in $members; do loss_counters "$v" > "$tmp/c0-$v"; done
	t0=$(date +%s%N)
	ex red-srv0 "$P" probe send --to "239.1.2.3:$port" --rate 10000 --count $SENT >/dev/null 2>&1
	send_ms=$((($(date +%s%N) - t0) / 1000000))
	# members stop at SENT datagrams (or 10 s after their last, or at 60
	# s); non-members, which should get nothing, are stopped (SIGTERM: they
	# report what they got) a second after the members are done
	wait $mpids || true
	sleep 1
	kill -TERM $opids 2>/dev/null || true
	wait $opids || true
	links_tx > "$tmp/tx1"
	got() { jq '.received // 0' "$tmp/r-$1" 2>/dev/null || echo 0; }
	min=$SENT ok=0 leaks=0 late=0 rcvbuf=0 inerr=0 rxdrop=0
	for v in $members; do
		g=$(got "$v"); [ "$g" -lt "$min" ] && min=$g
		[ "$g" -ge $WANT ] && ok=$((ok + 1))
		read -r a0 b0 c0 d0 < "$tmp/c0-$v"
		read -r a1 b1 c1 d1 <<< "$(loss_counters "$v")"
		late=$((late + a1 - a0)) rcvbuf=$((rcvbuf + b1 - b0))
		inerr=$((inerr + c1 - c0)) rxdrop=$((rxdrop + d1 - d0))
	done
	for v in $others; do leaks=$((leaks + $(got "$v"))); done
	say "run $r: each member: $(for v in $members; do printf '%s=%s ' "$v" "$(got "$v")"; done)"
	busiest=$(join "$tmp/tx0" "$tmp/tx1" | awk '{ d = $3 - $2; if (d > m) { m = d; n = $1 } } END { print n, m + 0 }')
	say "run $r: members with >= 99.9%: $ok of 8 (lowest $min of $SENT); at non-members: $leaks;" \
		"busiest link ${busiest% *}: ${busiest#* } frames" \
		"($(echo "${busiest#* }" | awk -v s=$SENT '{ printf "%.2f", $1 / s }') per datagram);" \
		"stream sent in $send_ms ms; members' losses: late $late, rcvbuf $rcvbuf," \
		"in_errors $inerr, rx_dropped $rxdrop"
	runs_json=$(jq -c --argjson ok "$ok" --argjson min "$min" --argjson l "$leaks" \
		--arg link "${busiest% *}" --argjson f "${busiest#* }" --argjson s $SENT \
		--argjson ms "$send_ms" --argjson late "$late" --argjson rb "$rcvbuf" \
		--argjson ie "$inerr" --argjson rx "$rxdrop" \
		'. + [{members_ok: $ok, members_min_received: $min, leaks: $l, busiest_link: $link,
		       busiest_link_frames: $f, busiest_link_copies_per_datagram: ($f / $s),
		       send_ms: $ms, send_rate: (if $ms > 0 then ($s * 1000 / $ms | floor) else null end),
		       members_late: $late, members_rcvbuf_errors: $rb,
		       members_in_errors: $ie, members_rx_dropped: $rx}]' <<< "$runs_json")
done
met=$(jq 'all(.members_ok == 8 and .leaks == 0)' <<< "$runs_json")
[ $JSON = 1 ] && jq -n --argjson runs "$runs_json" --argjson met "$met" --argjson s $SENT \
	'{servers: 16, members: 8, sent_per_run: $s, rate: 10000, runs: $runs,
	  members_ok_min: ([$runs[].members_ok] | min),
	  members_min_received: ([$runs[].members_min_received] | min),
	  leaks_total: ([$runs[].leaks] | add),
	  send_rate_min: ([$runs[].send_rate] | min),
	  busiest_link_copies_per_datagram_median: ([$runs[].busiest_link_copies_per_datagram] | sort | .[(length / 2 | floor)]),
	  meets_target: $met}' | jq -c .
[ "$met" = true ]
