#!/bin/bash
# Security groups end to end: two VMs on two servers, the policy on VM 2.
#
#   $P-vm1           $P-s1                  $P-sw                    $P-s2           $P-vm2
#  +---------+   +-------------------+   +------------------------+   +-------------------+   +---------+
#  | pgpoeth |---| pgpovm1   pgponic |---| pgpop1  pgpobr  pgpop2 |---| pgponic   pgpovm2 |---| pgpoeth |
#  | 10.0.0.1|   | from_vm  from_net |   |    static fdb only     |   | from_net  from_vm |   | 10.0.0.2|
#  +---------+   +-------------------+   +------------------------+   +-------------------+   +---------+
#    node 10       node 1 (server)                                     node 2 (server)          node 11
#
# Checks: without a policy everything passes; with one, what a rule allows
# passes and the rest is dropped and counted (VM 2's inbound, on s2), VM 2's
# outbound is allowed while it declares no out rule and the replies come
# back as tracked connections; an update that still allows a running TCP
# stream and a ping train loses none of them; an update that no longer
# allows the stream cuts it.  $P = test_prefix pgpo.
set -e
. "$(dirname "$0")/../tests/lib.sh"
need_root
need_cmd ip
need_cmd bridge
need_cmd iperf3

P=$(test_prefix pgpo)
# the rate-limit check: 500 Mbit/s for 5 s unless asked otherwise (the
# figure in docs/policy.md: RATE_MBIT=1000 RATE_SECS=10)
RATE_MBIT=${RATE_MBIT:-500}
RATE_SECS=${RATE_SECS:-5}
BIN=$PEREGRINE_BIN
IPERF_PID=
TMP=

mac() { local i=$(($1 * 2 + $2)); printf '02:00:00:02:%02x:%02x' $((i >> 8)) $((i & 255)); }
S1P=$(mac 1 0) S1B=$(mac 1 1) S2P=$(mac 2 0) S2B=$(mac 2 1)
V1P=$(mac 10 0) V1B=$(mac 10 1) V2P=$(mac 11 0) V2B=$(mac 11 1)

cleanup() {
	set +e
	[ -n "$IPERF_PID" ] && kill "$IPERF_PID" 2>/dev/null
	[ -n "$TMP" ] && rm -rf "$TMP"
	for s in s1 s2; do rm -rf "/sys/fs/bpf/peregrine/$P-$s"; done
	for n in vm1 s1 sw s2 vm2; do ip netns del "$P-$n" 2>/dev/null; done
}
trap cleanup EXIT
cleanup
TMP=$(mktemp -d)

in_ns() { local ns=$1; shift; ip netns exec "$P-$ns" "$@"; }
dp() { "$BIN" dp "$@"; }
pcount() {	# pcount SERVER VERDICT: the policy counter's packets
	"$BIN" policy stats "$P-$1" | awk -v n="$2" '$1 == n { print $2; found = 1 } END { exit !found }'
}
apply() {	# apply RULES...: VM 2's policy, one rule per argument
	printf '%s\n' "$@" > "$TMP/vm2.pol"
	"$BIN" policy apply "$P-s2" --mac "$V2P" --file "$TMP/vm2.pol" --json
}
# tcp_ok PORT: whether VM 1 can open a TCP connection to VM 2's PORT
tcp_ok() {
	in_ns vm2 timeout 5 iperf3 -s -1 -p "$1" -B 10.0.0.2 >/dev/null 2>&1 &
	local srv=$!
	sleep 0.3
	if in_ns vm1 timeout 4 iperf3 -c 10.0.0.2 -p "$1" -n 64K --connect-timeout 1000 >/dev/null 2>&1; then
		wait "$srv" 2>/dev/null || true; return 0
	fi
	kill "$srv" 2>/dev/null; wait "$srv" 2>/dev/null || true; return 1
}

for n in vm1 s1 sw s2 vm2; do ip netns add "$P-$n"; in_ns "$n" ip link set lo up; done
in_ns sw ip link add pgpobr type bridge
in_ns sw ip link set pgpobr up
for i in 1 2; do
	ip link add pgponic netns "$P-s$i" type veth peer name pgpop$i netns "$P-sw"
	in_ns sw ip link set pgpop$i master pgpobr
	in_ns sw bridge link set dev pgpop$i learning off flood off mcast_flood off bcast_flood off
	in_ns sw ip link set pgpop$i up
	in_ns s$i ip link set pgponic address "$(mac "$i" 0)" up
	ip link add pgpoeth netns "$P-vm$i" type veth peer name pgpovm$i netns "$P-s$i"
	in_ns s$i ip link set pgpovm$i up
done
in_ns vm1 ip link set pgpoeth address "$V1P" up
in_ns vm2 ip link set pgpoeth address "$V2P" up
in_ns vm1 ip addr add 10.0.0.1/24 dev pgpoeth
in_ns vm2 ip addr add 10.0.0.2/24 dev pgpoeth
for m in "$S1P pgpop1" "$S1B pgpop1" "$S2P pgpop2" "$S2B pgpop2"; do
	set -- $m
	in_ns sw bridge fdb add "$1" dev "$2" master static
done
dp load "$P-s1" --netns "$P-s1" --server-mac "$S1P,$S1B" --nic pgponic
dp load "$P-s2" --netns "$P-s2" --server-mac "$S2P,$S2B" --nic pgponic --veth-nics
dp port "$P-s1" --netns "$P-s1" --port pgpovm1 --mac "$V1P" --backup-mac "$V1B" --ip 10.0.0.1 --vdc 7
dp port "$P-s2" --netns "$P-s2" --port pgpovm2 --mac "$V2P" --backup-mac "$V2B" --ip 10.0.0.2 --vdc 7
dp garp "$P-s1" --netns "$P-s1" --vdc 7 --ip 10.0.0.2 --vm-mac "$V2P,$V2B" \
	--im-mac "$S2P,$S2B" --nic pgponic,pgponic
dp garp "$P-s2" --netns "$P-s2" --vdc 7 --ip 10.0.0.1 --vm-mac "$V1P,$V1B" \
	--im-mac "$S1P,$S1B" --nic pgponic,pgponic

echo "== no policy: everything passes"
in_ns vm1 ping -c 2 -i 0.2 -W 2 10.0.0.2 >/dev/null
tcp_ok 5301 || fail "TCP to 5301 without a policy"
[ "$(pcount s2 none)" -ge 1 ] || fail "no packet counted as unpoliced"

echo "== policy on VM 2: allowed"
apply "in tcp 5201 from 10.0.0.1" "in icmp from 10.0.0.0/24"
in_ns vm1 ping -c 2 -i 0.2 -W 2 10.0.0.2 >/dev/null || fail "ping allowed by a rule was dropped"
tcp_ok 5201 || fail "TCP to 5201, allowed by a rule, did not connect"
[ "$(pcount s2 new)" -ge 2 ] || fail "no new connection counted on s2"

echo "== policy on VM 2: denied"
before=$(pcount s2 drop_rule)
! tcp_ok 5301 || fail "TCP to 5301 connected though no rule allows it"
[ "$(pcount s2 drop_rule)" -gt "$before" ] || fail "the denied SYN was not counted"

echo "== VM 2's outbound: allowed (no out rule), replies tracked"
in_ns vm2 ping -c 2 -i 0.2 -W 2 10.0.0.1 >/dev/null || fail "VM 2's own ping got no reply"
in_ns vm1 timeout 5 iperf3 -s -1 -p 5401 -B 10.0.0.1 >/dev/null 2>&1 &
srv=$!
sleep 0.3
in_ns vm2 timeout 4 iperf3 -c 10.0.0.1 -p 5401 -n 64K >/dev/null 2>&1 || fail "VM 2's outbound TCP failed"
wait "$srv" || true

echo "== update that still allows a running stream: no loss"
in_ns vm2 iperf3 -s -1 -p 5201 -B 10.0.0.2 >/dev/null 2>&1 &
IPERF_PID=$!
sleep 0.3
in_ns vm1 iperf3 -c 10.0.0.2 -p 5201 -t 4 -b 200M -J > "$TMP/stream.json" &
client=$!
in_ns vm1 ping -c 150 -i 0.02 -W 1 10.0.0.2 > "$TMP/ping.txt" &
pinger=$!
sleep 1
drops_before=$(( $(pcount s2 drop_revoked) + $(pcount s2 drop_rule) + $(pcount s2 drop_unsolicited) + $(pcount s2 drop_window) ))
: > "$TMP/apply.json"
for i in 1 2 3; do
	apply "in tcp 5201 from 10.0.0.0/24" "in tcp 22 from any" "in icmp from 10.0.0.1" >> "$TMP/apply.json"
	apply "in tcp 5201 from 10.0.0.1" "in icmp from 10.0.0.0/24" >> "$TMP/apply.json"
done
wait "$client" || fail "the stream failed across the update"
wait "$pinger" || true
wait "$IPERF_PID" || true
IPERF_PID=
drops_after=$(( $(pcount s2 drop_revoked) + $(pcount s2 drop_rule) + $(pcount s2 drop_unsolicited) + $(pcount s2 drop_window) ))
[ "$drops_after" -eq "$drops_before" ] || fail "$((drops_after - drops_before)) packets dropped across the update"
grep -q ' 0% packet loss' "$TMP/ping.txt" || fail "pings lost across the update: $(grep loss "$TMP/ping.txt")"
echo "   six updates, apply_ms: $(grep -o '"apply_ms": [0-9.]*' "$TMP/apply.json" | awk '{print $2}' | tr '\n' ' ')"

echo "== update that no longer allows the stream: cut"
in_ns vm2 timeout 10 iperf3 -s -1 -p 5201 -B 10.0.0.2 >/dev/null 2>&1 &
IPERF_PID=$!
sleep 0.3
in_ns vm1 timeout 10 iperf3 -c 10.0.0.2 -p 5201 -t 4 -b 50M >/dev/null 2>&1 &
client=$!
sleep 1
before=$(pcount s2 drop_revoked)
apply "in icmp from 10.0.0.0/24" >/dev/null
sleep 1
[ "$(pcount s2 drop_revoked)" -gt "$before" ] || fail "the revoked stream's packets were not dropped"
kill "$client" "$IPERF_PID" 2>/dev/null || true
wait "$client" 2>/dev/null || true
wait "$IPERF_PID" 2>/dev/null || true
IPERF_PID=

echo "== rate limit: VM 1's egress at $RATE_MBIT Mbit/s, $RATE_SECS s of iperf3 within 5%"
"$BIN" policy rate --netns "$P-vm1" --dev pgpoeth --rate "${RATE_MBIT}m"
apply "in tcp 5202 from 10.0.0.1" >/dev/null
in_ns vm2 timeout $((RATE_SECS + 10)) iperf3 -s -1 -p 5202 -B 10.0.0.2 >/dev/null 2>&1 &
IPERF_PID=$!
sleep 0.3
sent() { in_ns vm1 tc -s qdisc show dev pgpoeth | awk '/Sent/ { print $2; exit }'; }
before=$(sent)
in_ns vm1 timeout $((RATE_SECS + 10)) iperf3 -c 10.0.0.2 -p 5202 -t "$RATE_SECS" -J > "$TMP/rate.json" || fail "iperf3 under the limit failed"
after=$(sent)
wait "$IPERF_PID" || true
IPERF_PID=
# the limit is on what the VM puts on the wire (Ethernet frames); iperf3
# reports TCP payload, about 1448/1514 of it
read -r secs goodput < <(python3 -c "import json,sys; e = json.load(open(sys.argv[1]))['end']; print(e['sum_sent']['seconds'], e['sum_received']['bits_per_second'])" "$TMP/rate.json")
err=$(awk -v b=$((after - before)) -v s="$secs" -v r="$RATE_MBIT" 'BEGIN { e = (b * 8 / s - r * 1e6) / (r * 1e6) * 100; printf "%.2f", e < 0 ? -e : e }')
echo "   on the wire $(awk -v b=$((after - before)) -v s="$secs" 'BEGIN { printf "%.1f", b * 8 / s / 1e6 }') Mbit/s (error $err %), TCP payload $(awk -v g="$goodput" 'BEGIN { printf "%.1f", g / 1e6 }') Mbit/s"
# The limit must hold: never more than 5% over.  Under it, a loaded
# machine's CPU (and the sanitizer build) may be what holds the sender
# back, so below only half the rate is a failure; the 5% figure both ways
# is measured on the optimised build (RATE_MBIT=1000 RATE_SECS=10, in
# docs/policy.md).
over=$(awk -v b=$((after - before)) -v s="$secs" -v r="$RATE_MBIT" 'BEGIN { printf "%.2f", (b * 8 / s - r * 1e6) / (r * 1e6) * 100 }')
awk -v e="$over" 'BEGIN { exit !(e <= 5 && e >= -50) }' || fail "rate limit off by $over %"
"$BIN" policy rate --netns "$P-vm1" --dev pgpoeth --rate 0

echo "== removed: everything passes again"
"$BIN" policy remove "$P-s2" --mac "$V2P"
tcp_ok 5301 || fail "TCP to 5301 after the policy was removed"
echo "PASS"
