#!/bin/bash
# The deployment path (docs/deploy.md): `peregrine fabric gen` writes every
# host's files from the default lab's fabric file; the lab builds only its
# namespaces and links (`lab up --no-daemons`); every daemon is started from
# its generated systemd unit's ExecStart line, exactly as systemd would run
# it, in the host's network namespace and with the host's generated
# /etc/peregrine and /var/lib/peregrine bind-mounted where the unit expects
# them.  Then the demo's checks: every pair of a VDC reachable, nothing
# reaches the other VDC, and a stream survives the cut of a link on its
# path.  Each host's generated net.ip must be the script the lab ran for
# that node.
set -eu
cd "$(dirname "$0")/.."
. tests/lib.sh
need_root
need_cmd ip
need_cmd jq
need_cmd unshare
need_cmd nsenter
P=$(realpath "$PEREGRINE_BIN")
PT=$(test_prefix d)
L="--prefix $PT"
tmp=$(mktemp -d)
logs=$(test_logs "$tmp")
pids=()
made=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	$P lab down $L >/dev/null 2>&1 || true
	for d in "${made[@]}"; do rmdir "$d" 2>/dev/null || true; done
	rm -rf "$tmp"
}
trap cleanup EXIT

# the mount points the units' paths need on this machine (left as found)
for d in /etc/peregrine /var/lib/peregrine; do
	[ -d "$d" ] || { mkdir -p "$d"; made+=("$d"); }
done

$P lab up $L --no-daemons >/dev/null
state=/run/peregrine/lab-$PT
[ -e "$state/no-daemons" ] || fail "lab up --no-daemons left no marker"
# nothing of Peregrine runs in the lab's namespaces
for ns in $(ip netns list | awk -v p="$PT-" 'index($1, p) == 1 { print $1 }'); do
	if ip netns pids "$ns" | grep -q .; then fail "$ns runs processes after --no-daemons"; fi
done

cat >"$tmp/fabric.yaml" <<EOF
name: default
topology: leafspine:spines=2,leaves=4,servers=2,homing=2
vdcs:
  - {name: red, id: 1, subnet: 10.0.0.0/24}
  - {name: blue, id: 2, subnet: 10.0.0.0/24}
placement:
  per_server: 1
deploy:
  bin: $P
  veth_nics: true
EOF
out=$tmp/out
$P fabric gen "$tmp/fabric.yaml" --out "$out" --prefix "$PT" --key "$state/key" --json \
	>"$tmp/gen.json"
[ "$(jq '.hosts | length' "$tmp/gen.json")" -eq 15 ] || fail "expected 15 hosts"
# a second run into the same directory is refused, and leaves it alone
expect_fail "gen into an existing directory" "$P" fabric gen "$tmp/fabric.yaml" --out "$out" --prefix "$PT"
[ "$(ls "$out" | wc -l)" -eq 16 ] || fail "the refused run changed $out"

# net.ip is what the lab ran
for h in $(jq -r '.hosts[] | select(.role != "controller") | .host' "$tmp/gen.json"); do
	grep -v '^#' "$out/$h/etc/peregrine/net.ip" >"$tmp/gen.ip"
	cmp -s "$tmp/gen.ip" "$state/setup/$h.ip" ||
		{ diff "$tmp/gen.ip" "$state/setup/$h.ip" | head; fail "$h: net.ip differs from the lab's"; }
done

# start HOST NS DAEMON: the unit's ExecStart, as systemd would run it
start() {
	local h=$1 ns=$2 d=$3 unit cmd
	unit=$out/$h/etc/systemd/system/peregrine-$d.service
	cmd=$(sed -n 's/^ExecStart=//p' "$unit")
	[ -n "$cmd" ] || fail "$unit: no ExecStart"
	mkdir -p "$tmp/var/$h"
	# shellcheck disable=SC2086
	unshare -m --propagation private sh -c 'mount --bind "$1" /etc/peregrine &&
		mount --bind "$2" /var/lib/peregrine && shift 2 && exec nsenter --net="$@"' \
		sh "$out/$h/etc/peregrine" "$tmp/var/$h" "/run/netns/$ns" $cmd \
		>>"$logs/deploy-$h.$d.log" 2>&1 &
	pids+=($!)
}
start controller "$PT-mgmt" directory
for h in $(jq -r '.hosts[] | select(.role == "switch") | .host' "$tmp/gen.json"); do
	start "$h" "$PT-$h" switchd
done
start controller "$PT-mgmt" ras
for h in $(jq -r '.hosts[] | select(.role == "server") | .host' "$tmp/gen.json"); do
	start "$h" "$PT-$h" agent
done

# the RAS programs every switch through the generated addresses and key
for _ in $(seq 150); do
	used=$($P lab status $L --json | jq '[.nodes[] | select(.kind == "switch") | .fib_used // 0] | min')
	[ "$used" -ge 16 ] && break
	sleep 0.1
done
[ "$used" -ge 16 ] || fail "the RAS did not program the switches (min FIB $used)"
echo "ok: 15 hosts' daemons started from their units; every switch programmed"

# the demo's reachability and isolation
ex() { $P lab exec "$1" $L -- "${@:2}"; }
vms() { $P lab status $L --json | jq -r ".vm_list[] | select(.vdc == \"$1\") | \"\(.name) \(.ip)\""; }
# ICMP echo requests each VM of a VDC received: what a crossing ping adds (not
# every packet: the agents' IGMP queries reach every VM of their server)
rx_of() { for vm in $(vms "$1" | cut -d' ' -f1); do
	ex "$vm" awk "$IN_ECHOS_AWK" /proc/net/snmp; done | paste -sd' '; }
ok=0 total=0 leaks=0
for vdc in red blue; do
	other=$([ $vdc = red ] && echo blue || echo red)
	before=$(rx_of $other)
	mapfile -t list < <(vms $vdc)
	for s in "${list[@]}"; do
		pings=()
		for d in "${list[@]}"; do
			[ "$d" = "$s" ] && continue
			( ex "${s% *}" ping -c 1 -W 2 "${d#* }" >/dev/null 2>&1 && echo ok || echo fail ) \
				>>"$tmp/ping" &
			pings+=($!)
		done
		wait "${pings[@]}"	# not the daemons, which are children too
	done
	read -ra b <<<"$before"; read -ra a <<<"$(rx_of $other)"
	for i in "${!b[@]}"; do [ "${a[$i]}" -gt "${b[$i]}" ] && leaks=$((leaks + 1)); done
done
total=$(wc -l <"$tmp/ping"); ok=$(grep -c ok "$tmp/ping" || true)
[ "$total" -eq 112 ] || fail "expected 112 pairs, pinged $total"
[ "$ok" -eq "$total" ] || fail "$ok of $total pairs reachable"
[ "$leaks" -eq 0 ] || fail "$leaks VMs of the other VDC received packets"
echo "ok: $ok of $total pairs reachable within their VDC, no isolation violation"

# fail-over: a 2,000 packet/s stream across a cut of the first link of its path
ex red-srv4 "$P" probe recv --listen 10.0.0.5:9000 --duration 20 --idle 2 --gaps 8 --json \
	>"$tmp/fo.json" &
recv=$!
pids+=($recv)
for _ in $(seq 100); do
	ip netns exec "$PT-red-srv4" ss -Hlun "sport = :9000" | grep -q . && break
	sleep 0.05
done
ex red-srv0 "$P" probe send --to 10.0.0.5:9000 --rate 2000 --count 10000 >/dev/null 2>&1 &
pids+=($!)
sleep 1.5
path=$($P trace red 10.0.0.1 10.0.0.5 $L --json)
leaf=$(echo "$path" | jq -r '.hops[0].node'); spine=$(echo "$path" | jq -r '.hops[0].next')
[ -n "$leaf" ] && [ "$leaf" != null ] || fail "trace found no path: $path"
t_cut=$($P lab link down "$leaf" "$spine" $L --json | jq .at_ns)
wait "$recv" || true
lost=$(jq .lost "$tmp/fo.json"); rcvd=$(jq .received "$tmp/fo.json")
last=$(jq .last_ns "$tmp/fo.json")
[ "$last" -gt $((t_cut + 1000000000)) ] || fail "the stream stopped at the cut of $leaf -- $spine"
# 2,000 packets/s: 300 lost are 150 ms of outage.  The 10 ms fail-over
# figure is held by `peregrine bench failover` on the optimised build; this
# sanitizer build on a loaded machine lost 159 here (80 ms), so the bound
# only says that the generated daemons fail over at all
[ "$lost" -le 300 ] || fail "$lost of $((lost + rcvd)) lost across the cut of $leaf -- $spine"
echo "ok: a stream across the cut of $leaf -- $spine lost $lost of $((lost + rcvd)) datagrams"

for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
pids=()
if sanitizer_reports "$logs"/deploy-*.log; then fail "a sanitizer report in a daemon's log"; fi
echo "ok: no sanitizer report in the daemons' logs"
