#!/bin/bash
# The data plane end to end: two VMs on two servers joined by a bridge that
# learns nothing and floods nothing, only static forwarding entries.
#
#   $P-vm1           $P-s1                  $P-sw                    $P-s2           $P-vm2
#  +---------+   +-------------------+   +------------------------+   +-------------------+   +---------+
#  | pgdpeth |---| pgdpvm1   pgdpnic |---| pgdpp1  pgdpbr  pgdpp2 |---| pgdpnic   pgdpvm2 |---| pgdpeth |
#  | 10.0.0.1|   | from_vm  from_net |   |    static fdb only     |   | from_net  from_vm |   | 10.0.0.2|
#  +---------+   +-------------------+   +------------------------+   +-------------------+   +---------+
#    node 10       node 1 (server)                                     node 2 (server)          node 11
#
# Two more VMs join later: $P-vm3 (node 12, 10.0.0.3, VDC 7) beside vm1 on s1,
# and $P-vm4 (node 13) on s2 in VDC 8, reusing VM 1's address 10.0.0.1.
#
# $P is pgdp-t<pid>, so that two runs on one machine do not collide.
# MTU 1500 everywhere.  Checks: ARP answered by the data plane, ping and
# iperf3 indirect (the bridge knows only the servers' MACs), the backup tree,
# direct (the bridge also knows the VMs' MACs), same-server delivery, tenant
# isolation between VDCs with overlapping addresses, spoofed source dropped,
# counters.
set -e
. "$(dirname "$0")/../tests/lib.sh"
need_root
need_cmd ip
need_cmd bridge
need_cmd iperf3

P=pgdp-t$$
BIN=$PEREGRINE_BIN
IPERF_PID=
EVENTS=$(mktemp)

# mac NODE TREE: the Peregrine MAC of a node's primary (0) or backup (1) MAC
# (wire/pgr.h numbering; nodes below 32768).
mac() { local i=$(($1 * 2 + $2)); printf '02:00:00:02:%02x:%02x' $((i >> 8)) $((i & 255)); }
S1P=$(mac 1 0) S1B=$(mac 1 1) S2P=$(mac 2 0) S2B=$(mac 2 1)
V1P=$(mac 10 0) V1B=$(mac 10 1) V2P=$(mac 11 0) V2B=$(mac 11 1)

cleanup() {
	set +e
	[ -n "$IPERF_PID" ] && kill "$IPERF_PID" 2>/dev/null
	rm -f "$EVENTS"
	for s in s1 s2; do rm -rf "/sys/fs/bpf/peregrine/$P-$s"; done
	for n in vm1 s1 sw s2 vm2 vm3 vm4; do ip netns del "$P-$n" 2>/dev/null; done
}
trap cleanup EXIT
cleanup

in_ns() { local ns=$1; shift; ip netns exec "$P-$ns" "$@"; }
dp() { "$BIN" dp "$@"; }
counter() {	# counter SERVER NAME: packets
	dp stats "$P-$1" | awk -v n="$2" '$1 == n { print $2; found = 1 } END { exit !found }'
}

for n in vm1 s1 sw s2 vm2; do ip netns add "$P-$n"; in_ns "$n" ip link set lo up; done

# The switch: learning and flooding off on every port.
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
in_ns vm1 ip link set pgdpeth address "$V1P" mtu 1500 up
in_ns vm2 ip link set pgdpeth address "$V2P" mtu 1500 up
in_ns vm1 ip addr add 10.0.0.1/24 dev pgdpeth
in_ns vm2 ip addr add 10.0.0.2/24 dev pgdpeth
for m in "$S1P pgdpp1" "$S1B pgdpp1" "$S2P pgdpp2" "$S2B pgdpp2"; do
	set -- $m
	in_ns sw bridge fdb add "$1" dev "$2" master static
done

# The data planes and their tables.
dp load "$P-s1" --netns "$P-s1" --server-mac "$S1P,$S1B" --nic pgdpnic
# s2 hands frames straight to the far end of its veth NIC (--veth-nics), s1
# transmits out of its NIC: both ways are exercised.
dp load "$P-s2" --netns "$P-s2" --server-mac "$S2P,$S2B" --nic pgdpnic --veth-nics
dp port "$P-s1" --netns "$P-s1" --port pgdpvm1 --mac "$V1P" --backup-mac "$V1B" --ip 10.0.0.1 --vdc 7
dp port "$P-s2" --netns "$P-s2" --port pgdpvm2 --mac "$V2P" --backup-mac "$V2B" --ip 10.0.0.2 --vdc 7
garp() {	# garp SERVER EXTRA...: each server's entry for the other's VM
	dp garp "$P-s1" --netns "$P-s1" --vdc 7 --ip 10.0.0.2 --vm-mac "$V2P,$V2B" \
		--im-mac "$S2P,$S2B" --nic pgdpnic,pgdpnic "$@"
	dp garp "$P-s2" --netns "$P-s2" --vdc 7 --ip 10.0.0.1 --vm-mac "$V1P,$V1B" \
		--im-mac "$S1P,$S1B" --nic pgdpnic,pgdpnic "$@"
}
garp

echo "== indirect: ping (ARP answered by the data plane)"
in_ns vm1 ping -c 3 -i 0.2 -W 2 10.0.0.2
[ "$(in_ns vm1 ip neigh show 10.0.0.2 | awk '{print $5}')" = "$V2P" ] ||
	fail "VM 1 resolved 10.0.0.2 to something other than VM 2's primary MAC"
[ "$(counter s1 vm_arp_reply)" -ge 1 ] || fail "no ARP reply counted"
[ "$(counter s1 vm_indirect)" -ge 3 ] || fail "s1 sent no indirect frames"
[ "$(counter s2 net_decap)" -ge 3 ] || fail "s2 decapsulated nothing"

echo "== indirect: 1500-byte packets, no fragmentation"
in_ns vm1 ping -c 2 -i 0.2 -W 2 -M do -s 1472 10.0.0.2

echo "== indirect: iperf3"
in_ns vm2 iperf3 -s -1 -B 10.0.0.2 >/dev/null 2>&1 &
IPERF_PID=$!
sleep 0.5
in_ns vm1 timeout 20 iperf3 -c 10.0.0.2 -t 2 -f g | tail -4
wait "$IPERF_PID" || fail "iperf3 server failed"
IPERF_PID=

echo "== backup tree: primary intermediary marked unavailable"
before=$(counter s2 net_decap)
garp --avail vm-pri,vm-bak,im-bak
in_ns sw bridge fdb del "$S2P" dev pgdpp2 master static
in_ns sw bridge fdb del "$S1P" dev pgdpp1 master static
in_ns vm1 ping -c 3 -i 0.2 -W 2 10.0.0.2
[ "$(counter s2 net_decap)" -ge $((before + 3)) ] || fail "backup tree not used"

echo "== direct: the bridge learns the VMs' MACs (and only those)"
in_ns sw bridge fdb add "$V2P" dev pgdpp2 master static
in_ns sw bridge fdb add "$V1P" dev pgdpp1 master static
garp --direct
in_ns vm1 ping -c 3 -i 0.2 -W 2 10.0.0.2
[ "$(counter s1 vm_direct)" -ge 3 ] || fail "s1 sent no direct frames"
[ "$(counter s2 net_direct)" -ge 3 ] || fail "s2 received no direct frames"

# add_vm NAME SERVER NODE IP VDC: a VM namespace behind SERVER
add_vm() {
	ip netns add "$P-$1"
	in_ns "$1" ip link set lo up
	ip link add pgdpeth netns "$P-$1" type veth peer name "pgdp$1" netns "$P-$2"
	in_ns "$2" ip link set "pgdp$1" up
	in_ns "$1" ip link set pgdpeth address "$(mac "$3" 0)" mtu 1500 up
	in_ns "$1" ip addr add "$4/24" dev pgdpeth
	dp port "$P-$2" --netns "$P-$2" --port "pgdp$1" --mac "$(mac "$3" 0)" \
		--backup-mac "$(mac "$3" 1)" --ip "$4" --vdc "$5"
}

echo "== same server: vm1 and vm3 on s1, delivered without leaving it"
add_vm vm3 s1 12 10.0.0.3 7
for m in "10.0.0.3 12" "10.0.0.1 10"; do
	set -- $m
	dp garp "$P-s1" --netns "$P-s1" --vdc 7 --ip "$1" --vm-mac "$(mac "$2" 0),$(mac "$2" 1)" \
		--im-mac "$S1P,$S1B" --nic pgdpnic,pgdpnic --local
done
sent=$(counter s1 vm_direct)
in_ns vm1 ping -c 3 -i 0.2 -W 2 10.0.0.3
[ "$(counter s1 vm_local)" -ge 6 ] || fail "s1 delivered fewer than 6 frames locally"
[ "$(counter s1 vm_direct)" -eq "$sent" ] || fail "same-server traffic left the server"

echo "== isolation: VDC 8 reuses 10.0.0.1 and cannot reach VDC 7"
add_vm vm4 s2 13 10.0.0.1 8
# VDC 8 has its own 10.0.0.2 (node 14, on s1).
dp garp "$P-s2" --netns "$P-s2" --vdc 8 --ip 10.0.0.2 --vm-mac "$(mac 14 0),$(mac 14 1)" \
	--im-mac "$S1P,$S1B" --nic pgdpnic,pgdpnic
in_ns vm4 ip neigh replace 10.0.0.2 lladdr "$V2P" dev pgdpeth nud permanent
before=$(counter s2 vm_drop_dst_mac)
if in_ns vm4 ping -c 2 -i 0.2 -W 1 10.0.0.2; then fail "VDC 8 reached VDC 7's VM"; fi
[ "$(counter s2 vm_drop_dst_mac)" -ge $((before + 2)) ] || fail "cross-VDC frames not counted"
before=$(counter s2 vm_arp_miss)
if in_ns vm4 ping -c 1 -W 1 10.0.0.77; then fail "unresolved address answered"; fi
[ "$(counter s2 vm_arp_miss)" -gt "$before" ] || fail "ARP miss not counted"
dp events "$P-s2" --count 100 --timeout 500 --json > "$EVENTS" || true
grep -q '"type": "arp_miss", "vdc": 8, "ip": "10.0.0.77", "vm_id": '$((0x02001a)) "$EVENTS" ||
	fail "no ARP-miss event for (VDC 8, 10.0.0.77) from VM 4: $(cat "$EVENTS")"
# VDC 7's 10.0.0.1 is still VM 1.
in_ns vm2 ping -c 2 -i 0.2 -W 2 10.0.0.1

echo "== spoofed source address dropped"
before=$(counter s1 vm_drop_src_ip)
in_ns vm1 ip addr add 10.0.0.9/24 dev pgdpeth
if in_ns vm1 ping -c 2 -i 0.2 -W 1 -I 10.0.0.9 10.0.0.2; then fail "spoofed ping went through"; fi
[ "$(counter s1 vm_drop_src_ip)" -ge $((before + 2)) ] || fail "spoofed source not counted"

echo "== stats"
dp stats "$P-s1" --traffic
dp unload "$P-s1" --netns "$P-s1" --nic pgdpnic --port pgdpvm1
[ ! -e "/sys/fs/bpf/peregrine/$P-s1" ] || fail "unload left pins"
echo "ok"
