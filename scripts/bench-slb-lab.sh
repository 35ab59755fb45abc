#!/bin/bash
# The load balancer against HAProxy, side by side in one lab (root):
#   bench-slb-lab.sh PEREGRINE [ROUNDS] [SECONDS] [CONCURRENCY]
# `peregrine bench slb` runs it and merges the JSON object it prints last
# (its progress goes to stderr).  docs/slb.md, "Figures".
#
#                  $P-gw                        $P-sw (static fdb only)
#  $P-cl        +-----------------+          +----------------------+       $P-slb
# +--------+    |            pgsf |----------| pgsp0                |-------| pgsnic  XDP: peregrine slb
# | pgscl  |----| pgsgc           |          |        pgsbr         |       | lo: 203.0.113.30 haproxy
# | .100.7 |    | 198.51.100.1    |          | pgsp1          pgsp2 |       | pgsbk 192.0.2.3
# +--------+    |  pgsrb (bridge) |          +---|--------------|---+       +---|----
#               |  192.0.2.1      |              |              |               |
#               +---|---|----|----+         $P-s1 (node 1)  $P-s2 (node 2)      |
#                   |   |    |                  |              |                |
#                   |   |    +------------- $P-vm1 (node 10) $P-vm2 (node 11)   |
#                   |   +-------------------------------------+ (pgsin: HAProxy, direct)
#                   +-----------------------------------------------------------+
#
# The same client, the same two backend VMs (each runs `peregrine slb load
# serve` on port 9000), the same SLB server namespace and the same load
# (`peregrine slb load connect`: C connections in flight, each asks for 64
# bytes and closes).  Two ways to the VMs:
#   - Peregrine: VIP 203.0.113.10:9000; the gateway sends it to the SLB
#     server's fabric NIC, XDP picks a backend (Maglev) and sends the frame
#     through the fabric's encapsulation to the backend's server, whose data
#     plane hands it to the VM; the VM answers from the VIP straight to the
#     client (direct server return: its server's data plane sends the
#     replies to the gateway's fabric MAC, `peregrine dp vip`).
#   - HAProxy in TCP mode (Debian's haproxy, round robin, its default
#     threads) in the SLB server's namespace on 203.0.113.30:9000: the
#     gateway sends that address to the same NIC (XDP passes it to the
#     stack), HAProxy connects to the VMs' 192.0.2.1x over pgsbk and relays
#     both directions.
# Rounds alternate (Peregrine, HAProxy, Peregrine, ...); each figure is the
# median of ROUNDS.  Downloads: 100 MB through the VIP, through HAProxy,
# and straight from vm1 to the client (192.0.2.11), alternating, median of
# ROUNDS; and the share of a VIP download's bytes the SLB server forwarded.
# Everything is bounded: every client run by its duration or count, the
# servers by a duration, the whole script by `timeout` in the caller.
set -e
BIN=$1
ROUNDS=${2:-5}
SECS=${3:-3}
CONC=${4:-64}
P=${P:-pgsb$(printf '%04x' $(($$ & 0xffff)))}
VIP=203.0.113.10 HVIP=203.0.113.30 CLIENT=198.51.100.7 PORT=9000
DL=100000000
TMP=$(mktemp -d)
SLB_PID= HAPROXY_PID= SERVE_PIDS=
say() { echo "bench slb lab: $*" >&2; }
mac() { local i=$(($1 * 2 + $2)); printf '02:00:00:02:%02x:%02x' $((i >> 8)) $((i & 255)); }
in_ns() { local ns=$1; shift; ip netns exec "$P-$ns" "$@"; }
NSS="cl gw sw slb s1 s2 vm1 vm2"

cleanup() {
	set +e
	[ -n "$HAPROXY_PID" ] && kill "$HAPROXY_PID" 2>/dev/null && wait "$HAPROXY_PID" 2>/dev/null
	[ -n "$SLB_PID" ] && kill "$SLB_PID" 2>/dev/null && wait "$SLB_PID" 2>/dev/null
	for p in $SERVE_PIDS; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	for s in s1 s2; do rm -rf "/sys/fs/bpf/peregrine/$P-$s"; done
	for n in $NSS; do ip netns del "$P-$n" 2>/dev/null; done
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

for n in $NSS; do ip netns add "$P-$n"; in_ns "$n" ip link set lo up; done

# ---- the fabric: a switch that learns and floods nothing ---------------------
in_ns sw ip link add pgsbr type bridge
in_ns sw ip link set pgsbr up
port() {	# port NS IFNAME SWPORT MAC
	ip link add "$2" netns "$P-$1" type veth peer name "$3" netns "$P-sw"
	in_ns sw ip link set "$3" master pgsbr
	in_ns sw bridge link set dev "$3" learning off flood off mcast_flood off bcast_flood off
	in_ns sw ip link set "$3" up
	in_ns "$1" ip link set "$2" address "$4" up
}
port gw pgsf pgsp0 "$(mac 30 0)"
port slb pgsnic pgsp3 "$(mac 3 0)"
port s1 pgsnic pgsp1 "$(mac 1 0)"
port s2 pgsnic pgsp2 "$(mac 2 0)"
for i in 30 3 1 2; do
	for t in 0 1; do in_ns sw bridge fdb add "$(mac $i $t)" dev pgsp$((i % 30)) master static; done
done

# ---- the Internet edge: client, gateway --------------------------------------
ip link add pgscl netns "$P-cl" type veth peer name pgsgc netns "$P-gw"
in_ns cl ip link set pgscl up
in_ns cl ip addr add $CLIENT/24 dev pgscl
in_ns cl ip route add default via 198.51.100.1
in_ns cl sysctl -qw net.ipv4.ip_local_port_range="10000 65000"
in_ns gw ip link set pgsgc up
in_ns gw ip addr add 198.51.100.1/24 dev pgsgc
in_ns gw sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.rp_filter=0 \
	net.ipv4.conf.default.rp_filter=0
for v in $VIP $HVIP; do	# both to the SLB server's fabric NIC
	in_ns gw ip route add $v/32 dev pgsf
	in_ns gw ip neigh add $v lladdr "$(mac 3 0)" dev pgsf nud permanent
done
in_ns gw ip link add pgsrb type bridge
in_ns gw ip link set pgsrb up
in_ns gw ip addr add 192.0.2.1/24 dev pgsrb

# ---- the SLB server's second leg (HAProxy's way to the VMs) -------------------
ip link add pgsbk netns "$P-slb" type veth peer name pgsrs netns "$P-gw"
in_ns gw ip link set pgsrs master pgsrb up
in_ns slb ip link set pgsbk up
in_ns slb ip addr add 192.0.2.3/24 dev pgsbk
in_ns slb ip addr add $HVIP/32 dev lo
in_ns slb ip route add default via 192.0.2.1
in_ns slb sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 \
	net.ipv4.conf.pgsnic.rp_filter=0 net.ipv4.ip_local_port_range="10000 65000"

# ---- backend servers and VMs ---------------------------------------------------
for i in 1 2; do
	vm=$((9 + i))
	"$BIN" dp load "$P-s$i" --netns "$P-s$i" --server-mac "$(mac $i 0),$(mac $i 1)" --nic pgsnic >&2
	ip link add pgseth netns "$P-vm$i" type veth peer name pgsvm netns "$P-s$i"
	in_ns s$i ip link set pgsvm up
	in_ns vm$i ip link set pgseth address "$(mac $vm 0)" up
	in_ns vm$i ip addr add 10.0.0.$i/24 dev pgseth
	"$BIN" dp port "$P-s$i" --netns "$P-s$i" --port pgsvm --mac "$(mac $vm 0)" \
		--backup-mac "$(mac $vm 1)" --ip 10.0.0.$i --vdc 7
	in_ns vm$i ip addr add $VIP/32 dev lo
	# DSR through the fabric: the data plane lets the VM send from the VIP,
	# to the gateway's fabric MAC (docs/slb.md, "The return path")
	"$BIN" dp vip "$P-s$i" --netns "$P-s$i" --port pgsvm --ip $VIP --vdc 7 \
		--edge-mac "$(mac 30 0),$(mac 30 1)" --nic pgsnic
	in_ns vm$i ip rule add from $VIP table 100
	in_ns vm$i ip neigh add 10.0.0.254 lladdr "$(mac 30 0)" dev pgseth nud permanent
	in_ns vm$i ip route add default via 10.0.0.254 dev pgseth table 100
	ip link add pgsin netns "$P-vm$i" type veth peer name pgsr$i netns "$P-gw"
	in_ns gw ip link set pgsr$i master pgsrb up
	in_ns vm$i ip link set pgsin up
	in_ns vm$i ip addr add 192.0.2.1$i/24 dev pgsin
	in_ns vm$i ip route add default via 192.0.2.1
	in_ns vm$i sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 \
		net.ipv4.conf.pgseth.rp_filter=0
	"$BIN" slb load serve --netns "$P-vm$i" --listen 0.0.0.0:$PORT --duration 600 &
	SERVE_PIDS="$SERVE_PIDS $!"
done

cat > "$TMP/slb.yaml" <<EOF
vcs:
  - name: bench
    vdc: 7
    vip: $VIP
    ports: [tcp/$PORT]
    health: { interval_ms: 10000, fails: 100 }
    backends:
      - { ip: 10.0.0.1, vm: 10, server: 1 }
      - { ip: 10.0.0.2, vm: 11, server: 2 }
EOF
"$BIN" slb run --config "$TMP/slb.yaml" --node 3 --nic pgsnic --netns "$P-slb" \
	--status "$TMP/status.json" --xdp-generic >"$TMP/slb.log" 2>&1 &
SLB_PID=$!
cat > "$TMP/haproxy.cfg" <<EOF
global
    maxconn 4096
defaults
    mode tcp
    timeout connect 3s
    timeout client 10s
    timeout server 10s
frontend vip
    bind $HVIP:$PORT
    default_backend vms
backend vms
    balance roundrobin
    server vm1 192.0.2.11:$PORT
    server vm2 192.0.2.12:$PORT
EOF
ip netns exec "$P-slb" haproxy -db -f "$TMP/haproxy.cfg" >"$TMP/haproxy.log" 2>&1 &
HAPROXY_PID=$!

load() {	# load ADDR [options]: the client's JSON line
	local to=$1
	shift
	"$BIN" slb load connect --netns "$P-cl" --to "$to:$PORT" --json "$@"
}
# every way works before anything is measured
for _ in $(seq 50); do
	load $VIP --count 4 --concurrency 1 >/dev/null 2>&1 && load $HVIP --count 4 --concurrency 1 \
		>/dev/null 2>&1 && load 192.0.2.11 --count 1 --concurrency 1 >/dev/null 2>&1 && break
	sleep 0.2
done
load $VIP --count 4 --concurrency 1 >/dev/null && load $HVIP --count 4 --concurrency 1 >/dev/null &&
	load 192.0.2.11 --count 1 --concurrency 1 >/dev/null || {
	say "a way to the VMs does not work"; cat "$TMP/slb.log" "$TMP/haproxy.log" >&2; exit 1; }

fwd_bytes() {	# bytes the SLB server forwarded, from its status file (500 ms)
	"$BIN" slb status --status "$TMP/status.json" --json |
		python3 -c 'import json,sys; d=json.load(sys.stdin)["dataplane"]; print(sum(v["bytes"] for k,v in d.items() if k.startswith("fwd_")))'
}

: > "$TMP/runs"
for r in $(seq "$ROUNDS"); do
	for w in slb:$VIP haproxy:$HVIP; do
		echo "cps ${w%%:*} $(load "${w#*:}" --concurrency "$CONC" --duration "$SECS")" >> "$TMP/runs"
		say "$(tail -1 "$TMP/runs")"
	done
done
for r in $(seq "$ROUNDS"); do
	sleep 0.6
	b0=$(fwd_bytes)
	echo "dl slb $(load $VIP --concurrency 1 --count 1 --bytes $DL)" >> "$TMP/runs"
	sleep 0.6
	echo "slbbytes $(($(fwd_bytes) - b0))" >> "$TMP/runs"
	echo "dl haproxy $(load $HVIP --concurrency 1 --count 1 --bytes $DL)" >> "$TMP/runs"
	echo "dl direct $(load 192.0.2.11 --concurrency 1 --count 1 --bytes $DL)" >> "$TMP/runs"
	say "$(tail -4 "$TMP/runs" | tr '\n' ' ')"
done

python3 - "$TMP/runs" "$ROUNDS" "$SECS" "$CONC" "$DL" <<'PYEOF'
import json, statistics, sys
runs, rounds, secs, conc, dl = sys.argv[1], *map(int, sys.argv[2:])
cps = {"slb": [], "haproxy": []}
mbit = {"slb": [], "haproxy": [], "direct": []}
failed = {"slb": 0, "haproxy": 0}
slb_bytes = []
for line in open(runs):
    kind, rest = line.split(" ", 1)
    if kind == "slbbytes":
        slb_bytes.append(int(rest))
        continue
    way, js = rest.split(" ", 1)
    j = json.loads(js)
    if kind == "cps":
        cps[way].append(j["cps"])
        failed[way] += j["failed"]
    elif j["bytes"] == dl:
        mbit[way].append(j["mbit_s"])
med = lambda v: round(statistics.median(v), 1) if v else None
s, h = med(cps["slb"]), med(cps["haproxy"])
d = {w: med(v) for w, v in mbit.items()}
out = {
    "slb_cps": s, "haproxy_cps": h,
    "ratio_cps": round(s / h, 3) if s and h else None,
    "cps_failed": failed, "cps_rounds": rounds, "cps_seconds": secs, "concurrency": conc,
    "vip_download_mbit_s": d["slb"], "haproxy_download_mbit_s": d["haproxy"],
    "direct_download_mbit_s": d["direct"],
    "ratio_download": round(d["slb"] / d["direct"], 3) if d["slb"] and d["direct"] else None,
    "download_bytes": dl,
    "dsr_slb_bytes_pct": round(100.0 * statistics.median(slb_bytes) / dl, 3) if slb_bytes else None,
}
print(json.dumps(out))
PYEOF
