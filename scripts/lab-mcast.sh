#!/bin/bash
# The multicast target of docs/multicast.md in a lab of 16 servers: a
# 10,000 datagram/s stream (RUNS runs of 2 s) from red-srv0 to 239.1.2.3,
# whose members are red-srv1..8 (8 servers besides the source's); blue-srv1..8
# join blue's 239.1.2.3 (the same address in another VDC).  Each run
# reports what every member received, what the non-members (red-srv9..15,
# blue-srv0..15) received, and the frames on the busiest link of the lab
# (tx_packets of every interface of every server and switch namespace,
# before and after the stream, divided by the datagrams sent).
#
#        spine0               spine1
#     leaf0 leaf1 leaf2 leaf3  (pairs (0,1), (2,3), 8 dual-homed servers each)
#     srv0..srv15: red-srvN and blue-srvN on srvN
#
# Usage: lab-mcast.sh [--json]  (PEREGRINE = the binary, PREFIX = the
# lab's prefix (default pgm), RUNS (default 3)).  Root.  Bounded: each
# stream has a fixed count, each receiver a fixed duration.
set -euo pipefail
P=${PEREGRINE:-build/peregrine}
X=${PREFIX:-pgm}
RUNS=${RUNS:-3}
JSON=0
[ "${1:-}" = --json ] && JSON=1
tmp=$(mktemp -d)
cleanup() { $P lab down --prefix "$X" >/dev/null 2>&1 || true; rm -rf "$tmp"; }
trap cleanup EXIT
say() { [ $JSON = 1 ] && echo "$*" >&2 || echo "$*"; }
ex() { ip netns exec "$X-$1" "${@:2}"; }

cat > "$tmp/lab.yaml" <<'EOF'
name: mcast16
topology: leafspine:spines=2,leaves=4,servers=4,homing=2
vdcs:
  - {name: red, id: 1, subnet: 10.0.0.0/24}
  - {name: blue, id: 2, subnet: 10.0.0.0/24}
placement:
  per_server: 1
EOF
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
runs_json="[]"
for r in $(seq "$RUNS"); do
	port=$((6000 + r))
	links_tx > "$tmp/tx0"
	for v in $members $others; do
		ex "$v" "$P" probe recv --listen "0.0.0.0:$port" --duration 8 --idle 1 --json \
			> "$tmp/r-$v" 2>/dev/null &
	done
	# the group established at the source: frames sent before its agent
	# has the MEMBERS answer are dropped (vm_drop_group_none)
	ex red-srv0 "$P" probe send --to 239.1.2.3:5999 --rate 100 --count 10 >/dev/null
	sleep 1
	ex red-srv0 "$P" probe send --to "239.1.2.3:$port" --rate 10000 --count 20000 >/dev/null
	wait
	links_tx > "$tmp/tx1"
	got() { jq '.received // 0' "$tmp/r-$1" 2>/dev/null || echo 0; }
	min=20000 ok=0 leaks=0
	for v in $members; do
		g=$(got "$v"); [ "$g" -lt "$min" ] && min=$g
		[ "$g" -ge 19980 ] && ok=$((ok + 1))
	done
	for v in $others; do leaks=$((leaks + $(got "$v"))); done
	say "run $r: each member: $(for v in $members; do printf '%s=%s ' "$v" "$(got "$v")"; done)"
	busiest=$(join "$tmp/tx0" "$tmp/tx1" | awk '{ d = $3 - $2; if (d > m) { m = d; n = $1 } } END { print n, m + 0 }')
	say "run $r: members with >= 99.9%: $ok of 8 (lowest $min of 20000); at non-members: $leaks;" \
		"busiest link ${busiest% *}: ${busiest#* } frames ($(echo "${busiest#* }" | awk '{ printf "%.2f", $1 / 20000 }') per datagram)"
	runs_json=$(jq -c --argjson ok "$ok" --argjson min "$min" --argjson l "$leaks" \
		--arg link "${busiest% *}" --argjson f "${busiest#* }" \
		'. + [{members_ok: $ok, members_min_received: $min, leaks: $l, busiest_link: $link,
		       busiest_link_frames: $f, busiest_link_copies_per_datagram: ($f / 20000)}]' <<< "$runs_json")
done
[ $JSON = 1 ] && jq -n --argjson runs "$runs_json" \
	'{servers: 16, members: 8, sent_per_run: 20000, rate: 10000, runs: $runs,
	  members_ok_min: ([$runs[].members_ok] | min), leaks_total: ([$runs[].leaks] | add),
	  busiest_link_copies_per_datagram_median: ([$runs[].busiest_link_copies_per_datagram] | sort | .[(length / 2 | floor)])}'
jq -e 'all(.members_ok == 8 and .leaks == 0)' <<< "$runs_json" >/dev/null
