#!/bin/bash
# The NetLord scheme (docs/netlord.md, "In the lab"): switches without
# bridges running netlord_switch, VLANs from route/spain.c (k = 2: one tree
# through each spine), the NLA on every server; tenants red and blue on the
# same addresses.
#
#        spine0        spine1          VLAN 1: the tree through spine0
#        /  |  \       /  |  \         VLAN 2: the tree through spine1
#    leaf0  leaf1  leaf2                edge switches (the NetLord router)
#    /  \   /  \   /  \
#  srv0 srv1 srv2 srv3 srv4 srv5        red-srvN, blue-srvN: 10.0.0.N+1
#
# Checks: the programs attached on every port and NIC; all 60 pairs of
# each VDC reachable, ARP answered with the VM's own MAC, no echo request
# of one VDC reaching the other; the spines learned only edge-switch MACs
# (at most 3); 32 UDP flows srv0 -> srv5 spread over both spines; the cut
# of leaf0-spine0 and every NLA's re-selection (`netlord reselect`): all
# pairs reachable again and the flows on spine1 only; `lab down` leaves no
# namespace and no pinned map.
set -eu
cd "$(dirname "$0")/.."
. tests/lib.sh
need_root
need_cmd ip
need_cmd jq
P=$PEREGRINE_BIN
X=$(test_prefix n)
L="--prefix $X"
tmp=$(mktemp -d)
cleanup() {
	$P lab down $L >/dev/null 2>&1 || true
	rm -rf "$tmp"
}
trap cleanup EXIT
ex() { $P lab exec "$1" $L -- "${@:2}"; }
st=/run/peregrine/lab-$X
pin=/sys/fs/bpf/peregrine
in_echos() { ip netns exec "$X-$1" awk '/^Icmp:/ { n++ } /^Icmp:/ && n == 2 { print $9 }' /proc/net/snmp; }
mac_of() { ip -n "$X-$1" -j link show "$X-eth0" | jq -r '.[0].address'; }
nlstat() { nsenter --net="/run/netns/$X-$1" "$P" netlord stats "$pin/$X-$1-nl" --json | jq ".$2 // 0"; }
TOPO=leafspine:spines=2,leaves=3,servers=2

cat >"$tmp/nl.yaml" <<YAML
name: netlord-test
scheme: netlord
topology: $TOPO
vdcs:
  - {name: red, id: 1, subnet: 10.0.0.0/24}
  - {name: blue, id: 2, subnet: 10.0.0.0/24}
placement: {per_server: 1}
YAML

t0=$(date +%s.%N)
$P lab up "$tmp/nl.yaml" $L >/dev/null
echo "ok: NetLord lab up in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b - a}') s"

for n in spine0 spine1 leaf0 leaf1 leaf2; do
	ports=$(ip -n "$X-$n" -j link show | jq --arg x "$X-" '[.[].ifname | select(startswith($x + "p"))] | length')
	att=$(for i in $(ip -n "$X-$n" -j link show | jq -r --arg x "$X-" '.[].ifname | select(startswith($x + "p"))'); do
		tc -n "$X-$n" filter show dev "$i" ingress | grep -q netlord_switch && echo "$i"; done | wc -l)
	[ "$att" -eq "$ports" ] || fail "$n: netlord_switch on $att of $ports ports"
	[ -z "$(ip -n "$X-$n" -j link show type bridge | jq -r '.[].ifname')" ] || fail "$n has a bridge"
done
for s in 0 1 2 3 4 5; do
	tc -n "$X-srv$s" filter show dev "$X-nic0" ingress | grep -q netlord_decap ||
		fail "srv$s: no netlord_decap on its NIC"
	for i in $(ip -n "$X-srv$s" -j link show | jq -r --arg x "$X-" '.[].ifname | select(startswith($x + "v"))'); do
		tc -n "$X-srv$s" filter show dev "$i" ingress | grep -q netlord_encap ||
			fail "srv$s: no netlord_encap on $i"
	done
done
echo "ok: netlord_switch on every switch port (no bridge), the NLA's programs on every server"

declare -A mac
for vdc in red blue; do
	for s in 0 1 2 3 4 5; do mac[$vdc-srv$s]=$(mac_of "$vdc-srv$s"); done
done
pairs() {	# every pair of both VDCs, answers from the right VDC, nothing across
	local vdc other before after s d got
	for vdc in red blue; do
		other=$([ $vdc = red ] && echo blue || echo red)
		before=$(for s in 0 1 2 3 4 5; do in_echos "$other-srv$s"; done | paste -sd' ')
		for s in 0 1 2 3 4 5; do
			for d in 0 1 2 3 4 5; do
				[ "$s" = "$d" ] && continue
				ex "$vdc-srv$s" ping -c 1 -W 2 -q "10.0.0.$((d + 1))" >/dev/null ||
					fail "$1: $vdc-srv$s cannot reach $vdc-srv$d"
				got=$(ip -n "$X-$vdc-srv$s" -j neigh show "10.0.0.$((d + 1))" | jq -r '.[0].lladdr')
				[ "$got" = "${mac[$vdc-srv$d]}" ] ||
					fail "$vdc-srv$s resolved 10.0.0.$((d + 1)) to $got, not $vdc-srv$d's ${mac[$vdc-srv$d]}"
			done
		done
		after=$(for s in 0 1 2 3 4 5; do in_echos "$other-srv$s"; done | paste -sd' ')
		[ "$before" = "$after" ] || fail "$1: $vdc's pings reached $other's VMs: echo requests $before -> $after"
	done
}
pairs "all links up"
echo "ok: all 60 pairs reachable within their VDC (ARP answered with the VM's MAC), none across"

for n in spine0 spine1; do
	f=$(nlstat $n fib_used)
	[ "$f" -le 3 ] || fail "$n learned $f entries: more than the 3 edge switches"
done
echo "ok: the spines hold only edge-switch MACs ($(nlstat spine0 fib_used) and $(nlstat spine1 fib_used) entries)"

flows() {	# 32 UDP flows red-srv0 -> red-srv5, 10 datagrams each: datagrams that arrived
	rm -f "$tmp/sink.ready"
	# a sink that counts datagrams until 320 came or none for 3 s (at
	# most 60 s: then it says how many it had)
	ip netns exec "$X-red-srv5" timeout 60 python3 -c '
import signal, socket, sys
n = 0
def done(*_):
    print(n)
    sys.exit(0)
signal.signal(signal.SIGTERM, done)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("10.0.0.6", 9100))
open(sys.argv[1], "w").close()
s.settimeout(3)
try:
    while n < 320:
        s.recv(2048)
        n += 1
except socket.timeout:
    pass
print(n)' "$tmp/sink.ready" >"$tmp/sink.out" & local r=$!
	for _ in $(seq 100); do [ -e "$tmp/sink.ready" ] && break; sleep 0.05; done
	for port in $(seq 40000 40031); do
		ex red-srv0 "$P" probe send --to 10.0.0.6:9100 --bind "10.0.0.1:$port" --rate 1000 \
			--count 10 >/dev/null 2>&1
	done
	wait $r || true
	cat "$tmp/sink.out"
}
a0=$(nlstat spine0 SW_FORWARD); b0=$(nlstat spine1 SW_FORWARD)
got=$(flows)
a=$(($(nlstat spine0 SW_FORWARD) - a0)); b=$(($(nlstat spine1 SW_FORWARD) - b0))
[ "$got" -ge 300 ] || fail "32 flows: $got of 320 datagrams arrived"
[ "$a" -ge 20 ] && [ "$b" -ge 20 ] || fail "32 flows not spread over both VLANs: spine0 $a, spine1 $b frames"
echo "ok: 32 flows spread over both VLANs: spine0 forwarded $a frames, spine1 $b ($got of 320 arrived)"

$P lab link down leaf0 spine0 $L >/dev/null
macs=$(sed 's/^/--mac /' "$st/netlord-macs" | paste -sd' ')
for s in 0 1 2 3 4 5; do
	# shellcheck disable=SC2086
	nsenter --net="/run/netns/$X-srv$s" "$P" netlord reselect "$pin/$X-srv$s-nl" "$TOPO" \
		--edge "leaf$((s / 2))" --k 2 $macs --down leaf0-spine0 >/dev/null
done
pairs "leaf0-spine0 down"
a0=$(nlstat spine0 SW_FORWARD); b0=$(nlstat spine1 SW_FORWARD)
got=$(flows)
a=$(($(nlstat spine0 SW_FORWARD) - a0)); b=$(($(nlstat spine1 SW_FORWARD) - b0))
[ "$got" -ge 300 ] || fail "after the cut: $got of 320 datagrams arrived"
[ "$a" -eq 0 ] && [ "$b" -ge 300 ] || fail "after the cut: spine0 forwarded $a frames, spine1 $b"
echo "ok: leaf0-spine0 cut, every NLA re-selected: all pairs reachable, the 32 flows all on spine1 ($b frames)"

$P lab down $L >/dev/null
[ -z "$(ip netns list | grep "^$X-" || true)" ] || fail "namespaces left: $(ip netns list | grep "^$X-")"
[ -z "$(ls "$pin" 2>/dev/null | grep "^$X-" || true)" ] || fail "pins left: $(ls "$pin" | grep "^$X-")"
echo "ok: lab down leaves no namespace and no pinned map"
