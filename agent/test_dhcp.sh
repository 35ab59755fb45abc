#!/bin/bash
# A VM started without an address gets its own from the agent with a stock
# DHCP client, and keeps it across a migration (docs/tenant-network.md).
#
#            spine0        spine1
#           /  |   \      /  |   \          (server MACs installed in the
#      leaf0 leaf1 leaf2 leaf3               switches from `topo routes`)
#        \   /       \   /
#     srv0..srv3   srv4..srv7     one agent each
#     red-srv0  (no address) --udhcpc--> agent of srv0: 10.0.0.1/24
#     blue-srv0 (no address) --dhclient-> agent of srv0: 10.0.0.1/24 (VDC 2)
#     red-srv1  listens on UDP 67: no DHCP message may leave its server
#     red-srv0 moves to srv5, renews (unicast) and keeps 10.0.0.1
#
# Timing: a sniffer in the VM's namespace reads the kernel's time stamps of
# the client's first DISCOVER and of the ACK; the client's script stamps the
# moment the address is set.
set -eu
cd "$(dirname "$0")/.."
. tests/lib.sh
need_root
need_cmd ip
need_cmd python3
need_cmd udhcpc
need_cmd dhclient
P=$PEREGRINE_BIN
PT=$(test_prefix d)
L="--prefix ${PT}"
ST=/run/peregrine/lab-${PT}
IF=${PT}-eth0	# a VM's interface
TOPO=leafspine:spines=2,leaves=4,servers=2,homing=2
ROUNDS=${DHCP_ROUNDS:-7}
tmp=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	[ -f "$tmp/dh.pid" ] && kill "$(cat "$tmp/dh.pid")" 2>/dev/null || true
	$P lab down $L >/dev/null 2>&1 || true
	rm -rf "$tmp"
}
trap cleanup EXIT

vm() { ip netns exec "${PT}-$1" "${@:2}"; }
addr_of() { vm "$1" ip -4 -o addr show dev $IF | awk '{print $4}'; }

# udhcpc's script: set the address, stamp the time, record what was given.
cat >"$tmp/udhcpc.sh" <<EOF
#!/bin/sh
case "\$1" in
deconfig) ip -4 addr flush dev "\$interface" ;;
bound|renew)
	[ "\$1" = bound ] && ip addr add "\$ip/\$mask" dev "\$interface"
	date +%s%N >"$tmp/\$1.ns"
	echo "\$ip/\$mask mtu=\$mtu serverid=\$serverid lease=\$lease" >>"$tmp/\$1.log" ;;
esac
EOF
chmod +x "$tmp/udhcpc.sh"

# sniff OUT (in the background; its pid in $SNIFF): stamp the first DISCOVER and the first ACK on red-srv0's interface (5 s at most)
sniff() {
	vm red-srv0 python3 - "$1" "$IF" <<'PY' &
import socket, struct, sys, time
SO_TIMESTAMPNS = 35	# the kernel's receive time: the frame's, not this loop's
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
s.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
s.bind((sys.argv[2], 0))
s.settimeout(0.2)
open(sys.argv[1] + ".ready", "w").close()
disc = ack = None
end = time.monotonic() + 5
while time.monotonic() < end and ack is None:
    try:
        f, anc, _, _ = s.recvmsg(2048, 64)
    except socket.timeout:
        continue
    now = time.time_ns()
    for lvl, typ, data in anc:
        if lvl == socket.SOL_SOCKET and typ == SO_TIMESTAMPNS:
            sec, ns = struct.unpack("qq", data[:16])
            now = sec * 1000000000 + ns
    if len(f) < 14 + 20 + 8 + 243 or f[12:14] != b"\x08\x00" or f[23] != 17:
        continue
    u = 14 + (f[14] & 15) * 4
    dport = f[u + 2] << 8 | f[u + 3]
    opts = f[u + 8 + 240:]
    t = None
    i = 0
    while i + 2 < len(opts) and opts[i] != 255:
        if opts[i] == 0:
            i += 1
            continue
        if opts[i] == 53:
            t = opts[i + 2]
        i += 2 + opts[i + 1]
    if dport == 67 and t == 1 and disc is None:
        disc = now
    if dport == 68 and t == 5:
        ack = now
open(sys.argv[1], "w").write("%s %s\n" % (disc or 0, ack or 0))
PY
	SNIFF=$!
}

$P lab up $L >/dev/null
for i in $(seq 100); do	# every agent attached (10 s at most)
	n=$(cat "$ST"/logs/srv*.agent.log 2>/dev/null | grep -c "VMs, 2 NICs" || true)
	[ "$n" = 8 ] && break
	sleep 0.1
done
[ "$n" = 8 ] || fail "only $n of 8 agents started"
lab_tree_fib $TOPO "$PT" || fail "cannot install the tree FIBs"

# red-srv1 listens on the DHCP server port: nothing may reach it
vm red-srv1 python3 - "$tmp/leak" <<'PY' &
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
s.bind(("0.0.0.0", 67))
s.settimeout(0.5)
n = 0
end = time.monotonic() + 120
while time.monotonic() < end:
    try:
        s.recv(2048)
        n += 1
        open(sys.argv[1], "w").write(str(n))
    except socket.timeout:
        pass
PY
pids+=($!)

# ---- udhcpc (busybox) in red-srv0, which starts without an address --------
vm red-srv0 ip -4 addr flush dev $IF
vm red-srv0 ping -c1 -W1 10.0.0.5 >/dev/null 2>&1 && fail "red-srv0 reached 10.0.0.5 without an address"
acks=() addrs=()
for r in $(seq "$ROUNDS"); do
	vm red-srv0 ip -4 addr flush dev $IF
	rm -f "$tmp/bound.ns" "$tmp/sniff"
	rm -f "$tmp/sniff.ready"
	sniff "$tmp/sniff"
	for i in $(seq 100); do [ -e "$tmp/sniff.ready" ] && break; sleep 0.05; done
	vm red-srv0 udhcpc -i $IF -f -q -n -t 3 -T 1 -s "$tmp/udhcpc.sh" >"$tmp/udhcpc.out" 2>&1 ||
		{ cat "$tmp/udhcpc.out"; fail "udhcpc got no lease (round $r)"; }
	wait "$SNIFF" || true
	read -r disc ack <"$tmp/sniff"
	[ "$disc" != 0 ] && [ "$ack" != 0 ] || fail "the sniffer missed the DISCOVER or the ACK"
	acks+=("$(( (ack - disc) / 1000 ))")
	addrs+=("$(( ($(cat "$tmp/bound.ns") - disc) / 1000 ))")
done
[ "$(addr_of red-srv0)" = 10.0.0.1/24 ] || fail "red-srv0 has $(addr_of red-srv0), not 10.0.0.1/24"
tail -1 "$tmp/bound.log" | grep -q "mtu=1500 serverid=10.0.0.254 lease=3600" ||
	fail "udhcpc was given: $(tail -1 "$tmp/bound.log")"
vm red-srv0 ping -c3 -i0.2 -W1 10.0.0.5 >/dev/null || fail "red-srv0 cannot reach red-srv4 with its DHCP address"
# The target (100 ms) is on the network's part: DISCOVER, OFFER, REQUEST,
# ACK.  The client's script then forks `ip` and `date`, which on a loaded
# machine takes tens of milliseconds each: reported, not held to it.
python3 - "${acks[*]}" "${addrs[*]}" <<'PY' || fail "DHCP slower than 100 ms"
import statistics, sys
acks = [int(x) / 1000 for x in sys.argv[1].split()]
addrs = [int(x) / 1000 for x in sys.argv[2].split()]
print("udhcpc, first DISCOVER -> ACK (ms): %s; median %.2f, max %.2f (target < 100)" %
      (" ".join("%.2f" % x for x in acks), statistics.median(acks), max(acks)))
print("udhcpc, first DISCOVER -> its script set the address (ms): %s; median %.2f" %
      (" ".join("%.2f" % x for x in addrs), statistics.median(addrs)))
sys.exit(0 if statistics.median(acks) < 100 else 1)
PY

# ---- dhclient (ISC) in blue-srv0: same address, another VDC ---------------
vm blue-srv0 ip -4 addr flush dev $IF
vm blue-srv0 dhclient -1 -4 -pf "$tmp/dh.pid" -lf "$tmp/dh.leases" -sf /sbin/dhclient-script $IF \
	>"$tmp/dhclient.out" 2>&1 || { cat "$tmp/dhclient.out"; fail "dhclient got no lease"; }
[ "$(addr_of blue-srv0)" = 10.0.0.1/24 ] || fail "blue-srv0 has $(addr_of blue-srv0), not 10.0.0.1/24"
vm blue-srv0 ping -c3 -i0.2 -W1 10.0.0.5 >/dev/null || fail "blue-srv0 cannot reach blue-srv4"
kill "$(cat "$tmp/dh.pid")" 2>/dev/null || true
echo "ok: dhclient got 10.0.0.1/24 in VDC 2"

# ---- migration: red-srv0 to srv5, renewal by unicast, same address -------
rm -f "$tmp/bound.ns"
vm red-srv0 udhcpc -i $IF -f -t 3 -T 1 -p "$tmp/udhcpc.pid" -s "$tmp/udhcpc.sh" >"$tmp/udhcpc.bg" 2>&1 &
pids+=($!)
for i in $(seq 50); do [ -s "$tmp/bound.ns" ] && break; sleep 0.1; done
[ -s "$tmp/bound.ns" ] || fail "the long-running udhcpc got no lease"
upid=$(cat "$tmp/udhcpc.pid")
pids+=("$upid")
$P lab migrate red-srv0 srv5 $L >/dev/null
rm -f "$tmp/renew.ns"
kill -USR1 "$upid"	# renew now (RENEWING: unicast to the server identifier)
for i in $(seq 50); do [ -s "$tmp/renew.ns" ] && break; sleep 0.1; done
[ -s "$tmp/renew.ns" ] || { cat "$tmp/udhcpc.bg"; fail "no renewal after the migration"; }
grep -q "^10.0.0.1/24" "$tmp/renew.log" || fail "renewed as $(cat "$tmp/renew.log")"
[ "$(addr_of red-srv0)" = 10.0.0.1/24 ] || fail "red-srv0 lost its address"
vm red-srv0 ping -c3 -i0.2 -W1 10.0.0.5 >/dev/null || fail "red-srv0 cannot reach red-srv4 from srv5"
echo "ok: red-srv0 renewed 10.0.0.1/24 with the agent of srv5 after the migration"

[ ! -s "$tmp/leak" ] || fail "$(cat "$tmp/leak") DHCP messages reached red-srv1"
echo "ok: no DHCP message left its server"
