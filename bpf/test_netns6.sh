#!/bin/bash
# IPv6 through the data plane end to end (bpf/fwd6.h): two VMs on two
# servers joined by a bridge that learns nothing and floods nothing.
#
#   $P-vm1           $P-s1                  $P-sw                    $P-s2           $P-vm2
#  +---------+   +-------------------+   +------------------------+   +-------------------+   +---------+
#  | pgdpeth |---| pgdpvm1   pgdpnic |---| pgdpp1  pgdpbr  pgdpp2 |---| pgdpnic   pgdpvm2 |---| pgdpeth |
#  | 10.0.0.1|   | from_vm  from_net |   |    static fdb only     |   | from_net  from_vm |   | 10.0.0.2|
#  | A6      |   +-------------------+   +------------------------+   +-------------------+   | B6      |
#  +---------+     node 1 (server)                                       node 2 (server)      +---------+
#    node 10                                                                                   node 11
#  A6, B6: 2001:db8:1:: + the VM's EUI-64 identifier, added with DAD.
#  $P-vm4 (node 13, VDC 8) on s2 later tries to reach VDC 7's B6.
#
# Checks: DAD succeeds (its probe is not answered), Neighbour Solicitations
# answered by the data plane, ping6 and 1500-byte IPv6 packets encapsulated,
# IPv6 and IPv4 throughput side by side (iperf3, alternating), isolation
# between VDCs, a spoofed IPv6 source dropped.
set -e
. "$(dirname "$0")/../tests/lib.sh"
need_root
need_cmd ip
need_cmd bridge
need_cmd iperf3
need_cmd python3

P=pgd6-t$$
BIN=$PEREGRINE_BIN
ROUNDS=${IPV6_ROUNDS:-3}
IPERF_PID=

mac() { local i=$(($1 * 2 + $2)); printf '02:00:00:02:%02x:%02x' $((i >> 8)) $((i & 255)); }
# ip6 NODE: 2001:db8:1:: + the modified EUI-64 of the node's primary MAC
ip6() { local i=$(($1 * 2)); printf '2001:db8:1:0:0:ff:fe02:%x' $(( ((i >> 8) << 8) | (i & 255) )); }
S1P=$(mac 1 0) S1B=$(mac 1 1) S2P=$(mac 2 0) S2B=$(mac 2 1)
V1P=$(mac 10 0) V1B=$(mac 10 1) V2P=$(mac 11 0) V2B=$(mac 11 1)
A6=$(ip6 10) B6=$(ip6 11)

cleanup() {
	set +e
	[ -n "$IPERF_PID" ] && kill "$IPERF_PID" 2>/dev/null
	for s in s1 s2; do rm -rf "/sys/fs/bpf/peregrine/$P-$s"; done
	for n in vm1 s1 sw s2 vm2 vm4; do ip netns del "$P-$n" 2>/dev/null; done
}
trap cleanup EXIT
cleanup

in_ns() { local ns=$1; shift; ip netns exec "$P-$ns" "$@"; }
dp() { "$BIN" dp "$@"; }
counter() {	# counter SERVER NAME: packets
	dp stats "$P-$1" | awk -v n="$2" '$1 == n { print $2; found = 1 } END { exit !found }'
}

for n in vm1 s1 sw s2 vm2; do ip netns add "$P-$n"; in_ns "$n" ip link set lo up; done
in_ns sw ip link add pgdpbr type bridge
in_ns sw ip link set pgdpbr up
for i in 1 2; do
	ip link add pgdpnic netns "$P-s$i" type veth peer name pgdpp$i netns "$P-sw"
	in_ns sw ip link set pgdpp$i master pgdpbr
	in_ns sw bridge link set dev pgdpp$i learning off flood off mcast_flood off bcast_flood off
	in_ns sw ip link set pgdpp$i up
	in_ns s$i ip link set pgdpnic address "$(mac "$i" 0)" up
	ip link add pgdpeth netns "$P-vm$i" type veth peer name pgdpvm$i netns "$P-s$i"
	in_ns s$i ip link set pgdpvm$i up
done
for m in "$S1P pgdpp1" "$S1B pgdpp1" "$S2P pgdpp2" "$S2B pgdpp2"; do
	set -- $m
	in_ns sw bridge fdb add "$1" dev "$2" master static
done

dp load "$P-s1" --netns "$P-s1" --server-mac "$S1P,$S1B" --nic pgdpnic
dp load "$P-s2" --netns "$P-s2" --server-mac "$S2P,$S2B" --nic pgdpnic --veth-nics
dp port "$P-s1" --netns "$P-s1" --port pgdpvm1 --mac "$V1P" --backup-mac "$V1B" --ip 10.0.0.1 --vdc 7
dp port "$P-s2" --netns "$P-s2" --port pgdpvm2 --mac "$V2P" --backup-mac "$V2B" --ip 10.0.0.2 --vdc 7
for ip in 10.0.0.2 "$B6"; do
	dp garp "$P-s1" --netns "$P-s1" --vdc 7 --ip "$ip" --vm-mac "$V2P,$V2B" \
		--im-mac "$S2P,$S2B" --nic pgdpnic,pgdpnic
done
for ip in 10.0.0.1 "$A6"; do
	dp garp "$P-s2" --netns "$P-s2" --vdc 7 --ip "$ip" --vm-mac "$V1P,$V1B" \
		--im-mac "$S1P,$S1B" --nic pgdpnic,pgdpnic
done

# The VMs come up after the data plane: every frame they send meets it.
in_ns vm1 ip link set pgdpeth address "$V1P" mtu 1500 up
in_ns vm2 ip link set pgdpeth address "$V2P" mtu 1500 up
in_ns vm1 ip addr add 10.0.0.1/24 dev pgdpeth
in_ns vm2 ip addr add 10.0.0.2/24 dev pgdpeth
in_ns vm1 ip -6 addr add "$A6/64" dev pgdpeth
in_ns vm2 ip -6 addr add "$B6/64" dev pgdpeth

echo "== duplicate address detection: the probe goes unanswered, the address is the VM's"
for i in $(seq 100); do	# DAD takes about a second
	t=$(in_ns vm1 ip -6 addr show dev pgdpeth tentative; in_ns vm2 ip -6 addr show dev pgdpeth tentative)
	[ -z "$t" ] && break
	sleep 0.1
done
[ -z "$t" ] || fail "an address is still tentative"
in_ns vm1 ip -6 addr show dev pgdpeth | grep -q dadfailed && fail "DAD failed on vm1"
[ "$(counter s1 vm_nd_dad)" -ge 1 ] || fail "no DAD probe counted"

echo "== ping6: the Neighbour Solicitation answered by the data plane, frames encapsulated"
in_ns vm1 ping -6 -c 3 -i 0.2 -W 2 "$B6"
[ "$(in_ns vm1 ip -6 neigh show "$B6" | awk '{print $5}')" = "$V2P" ] ||
	fail "vm1 resolved $B6 to something other than vm2's primary MAC"
[ "$(counter s1 vm_nd_reply)" -ge 1 ] || fail "no NS answered"
[ "$(counter s1 vm_indirect)" -ge 3 ] || fail "s1 sent no indirect frames"
[ "$(counter s2 net_decap)" -ge 3 ] || fail "s2 decapsulated nothing"

echo "== 1500-byte IPv6 packets, no fragmentation (nothing added)"
in_ns vm1 ping -6 -c 2 -i 0.2 -W 2 -M do -s 1452 "$B6"

echo "== throughput: IPv4 and IPv6 on the same pair, alternating, $ROUNDS x 2 s each"
in_ns vm2 iperf3 -s -D -I "/tmp/$P-iperf.pid" >/dev/null 2>&1
sleep 0.5
IPERF_PID=$(cat "/tmp/$P-iperf.pid")
rm -f "/tmp/$P-iperf.pid"
v4=() v6=()
for r in $(seq "$ROUNDS"); do
	v4+=("$(in_ns vm1 timeout 20 iperf3 -c 10.0.0.2 -t 2 -J | python3 -c \
		'import json,sys; print(json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"] / 1e9)')")
	v6+=("$(in_ns vm1 timeout 20 iperf3 -6 -c "$B6" -t 2 -J | python3 -c \
		'import json,sys; print(json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"] / 1e9)')")
done
kill "$IPERF_PID"
IPERF_PID=
python3 - "${v4[*]}" "${v6[*]}" <<'PY' || fail "IPv6 throughput far below IPv4's"
import statistics, sys
v4 = [float(x) for x in sys.argv[1].split()]
v6 = [float(x) for x in sys.argv[2].split()]
m4, m6 = statistics.median(v4), statistics.median(v6)
print("IPv4 Gbit/s: %s; median %.2f" % (" ".join("%.2f" % x for x in v4), m4))
print("IPv6 Gbit/s: %s; median %.2f" % (" ".join("%.2f" % x for x in v6), m6))
# The 0.95 target is a benchmark's (`peregrine bench dataplane`, ratio_ipv6,
# paired rounds); here only a broken IPv6 path fails (a slow path or
# fragmentation costs far more than the noise of a shared machine, which
# gave 0.79 in one loaded run).
print("IPv6 / IPv4 = %.3f (target >= 0.95 in bench dataplane; the test fails below 0.60)"
      % (m6 / m4))
sys.exit(0 if m6 >= 0.60 * m4 else 1)
PY

echo "== isolation: VDC 8 on s2 cannot reach VDC 7's $B6"
ip netns add "$P-vm4"
in_ns vm4 ip link set lo up
ip link add pgdpeth netns "$P-vm4" type veth peer name pgdpvm4 netns "$P-s2"
in_ns s2 ip link set pgdpvm4 up
dp port "$P-s2" --netns "$P-s2" --port pgdpvm4 --mac "$(mac 13 0)" --backup-mac "$(mac 13 1)" \
	--ip 10.0.0.1 --vdc 8
in_ns vm4 ip link set pgdpeth address "$(mac 13 0)" mtu 1500 up
in_ns vm4 ip -6 addr add "$(ip6 13)/64" dev pgdpeth nodad
in_ns vm4 ip -6 neigh replace "$B6" lladdr "$V2P" dev pgdpeth nud permanent
before=$(counter s2 vm_drop_no_garp6)
if in_ns vm4 ping -6 -c 2 -i 0.2 -W 1 "$B6"; then fail "VDC 8 reached VDC 7's VM"; fi
[ "$(counter s2 vm_drop_no_garp6)" -ge $((before + 2)) ] || fail "cross-VDC frames not counted"

echo "== spoofed IPv6 source dropped"
before=$(counter s1 vm_drop_src_ip6)
in_ns vm1 ip -6 addr add 2001:db8:1::99/64 dev pgdpeth nodad
if in_ns vm1 ping -6 -c 2 -i 0.2 -W 1 -I 2001:db8:1::99 "$B6"; then fail "spoofed ping6 went through"; fi
[ "$(counter s1 vm_drop_src_ip6)" -ge $((before + 2)) ] || fail "spoofed source not counted"
echo "ok"
