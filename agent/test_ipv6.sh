#!/bin/bash
# IPv6 through the control plane in the default lab (docs/tenant-network.md,
# "IPv6: the control plane"): the VMs of both VDCs (the same prefix
# fd00:0:0:1::/64) take their SLAAC address from their agent's router
# advertisements, duplicate address detection succeeds, an NS for a VM on
# another server is resolved through the directory (LOOKUP6) and answered,
# and nothing crosses a VDC.  Then group membership: the VDCs' broadcast
# groups and an IGMP join and leave reach the directory, one group per VDC.
#
#            spine0        spine1
#           /  |   \      /  |   \
#      leaf0 leaf1 leaf2 leaf3
#        \   /       \   /
#     srv0..srv3   srv4..srv7     one agent each; red-srvN, blue-srvN on srvN
#     red-srv0  --ping6--> red-srv1..7   (SLAAC addresses, NS through LOOKUP6)
#     blue-srv0 --ping6--> red-srv4      nothing (VDC 2 has no such address)
set -eu
cd "$(dirname "$0")/.."
. tests/lib.sh
need_root
need_cmd ip
need_cmd ping
P=$PEREGRINE_BIN
PT=$(test_prefix s)
L="--prefix ${PT}"
IF=${PT}-eth0	# a VM's interface
cleanup() {
	$P lab down $L >/dev/null 2>&1 || true
}
trap cleanup EXIT

vm() { ip netns exec "${PT}-$1" "${@:2}"; }
# The VM's SLAAC address under fd00:0:0:1::/64 once DAD is done, or nothing.
addr6() {
	vm "$1" ip -6 -o addr show dev $IF scope global 2>/dev/null |
		awk '!/tentative|dadfailed/ { sub("/.*", "", $4); print $4; exit }'
}
# What it must be: the prefix and the modified EUI-64 of the VM's MAC.
eui64() {
	local m
	m=$(vm "$1" cat /sys/class/net/$IF/address)
	python3 - "$m" <<'PY'
import ipaddress, sys
m = bytes.fromhex(sys.argv[1].replace(":", ""))
iid = bytes([m[0] ^ 2]) + m[1:3] + b"\xff\xfe" + m[3:]
print(ipaddress.IPv6Address(bytes.fromhex("fd00000000000001") + iid))
PY
}

$P lab up $L >/dev/null

# SLAAC: every VM of the default lab has its address within 15 s
vms="red-srv0 red-srv1 red-srv2 red-srv3 red-srv4 red-srv5 red-srv6 red-srv7 blue-srv0 blue-srv4"
for v in $vms; do
	for _ in $(seq 150); do [ -n "$(addr6 "$v")" ] && break; sleep 0.1; done
	a=$(addr6 "$v")
	[ -n "$a" ] || fail "$v: no SLAAC address (DAD failed or no router advertisement)"
	[ "$a" = "$(eui64 "$v")" ] || fail "$v: address $a, not its EUI-64 $(eui64 "$v")"
	if vm "$v" ip -6 -o addr show dev $IF | grep -q dadfailed; then
		fail "$v: duplicate address detection failed"
	fi
done
[ "$(addr6 red-srv0)" = "$(addr6 blue-srv0)" ] && fail "two VMs with one address"
echo "SLAAC: $(echo $vms | wc -w) VMs have their EUI-64 address under fd00:0:0:1::/64"

# reachability: red-srv0 to every other red VM (first NS through LOOKUP6)
ok=0
for n in 1 2 3 4 5 6 7; do
	if vm red-srv0 ping -6 -c 2 -i 0.2 -W 2 -q "$(addr6 red-srv$n)" >/dev/null; then
		ok=$((ok + 1))
	else
		echo "red-srv0 -> red-srv$n: no answer"
	fi
done
echo "IPv6 pairs reachable: $ok/7"
[ $ok -eq 7 ] || fail "IPv6 reachability: $ok of 7"

# isolation: blue-srv0 cannot reach red-srv4's address (nor find a neighbour)
if vm blue-srv0 ping -6 -c 2 -i 0.2 -W 1 -q "$(addr6 red-srv4)" >/dev/null 2>&1; then
	fail "blue-srv0 reached red-srv4 across VDCs"
fi
if vm blue-srv0 ip -6 neigh show "$(addr6 red-srv4)" | grep -q lladdr; then
	fail "blue-srv0 has a neighbour entry for red-srv4"
fi
echo "isolation: blue-srv0 cannot reach red-srv4 over IPv6"

# multicast membership (docs/multicast.md): every VM is in its VDC's
# broadcast group; an IGMP join of one address from VMs of two VDCs makes
# two groups in the directory, a leave removes its VDC's one only
ST=/run/peregrine/lab-${PT}
dirctl() { ip netns exec ${PT}-mgmt $P dirctl --server 172.31.0.1:7300 --key "$ST/key" "$@"; }
dstat() { dirctl --json stats | python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"; }
# wait up to 5 s for counter $1 to be $2
dwait() { for _ in $(seq 50); do [ "$(dstat "$1")" = "$2" ] && return 0; sleep 0.1; done; return 1; }
dwait grp_groups 2 || fail "directory groups: $(dstat grp_groups), not the 2 VDCs' broadcast groups"
m=$(dstat grp_members)
[ "$m" -ge 10 ] || fail "broadcast members: $m, fewer than the 10 VMs checked above"
vm red-srv1 ip addr add 239.1.2.3/32 dev $IF autojoin
vm blue-srv0 ip addr add 239.1.2.3/32 dev $IF autojoin
dwait grp_groups 4 || fail "IGMP joins: $(dstat grp_groups) groups, not 4 (one per VDC)"
dwait grp_members $((m + 2)) || fail "IGMP joins: $(dstat grp_members) members, not $((m + 2))"
vm red-srv1 ip addr del 239.1.2.3/32 dev $IF
dwait grp_groups 3 || fail "IGMP leave: $(dstat grp_groups) groups, not 3"
echo "multicast: $m VMs in their VDC's broadcast group; 239.1.2.3 joined in two VDCs, left in one"
echo PASS
