#!/bin/bash
# The Peregrine demo: the default lab with every daemon running, measured.
#
#          spine0        spine1
#         / |   \ \     / |   \ \
#     leaf0 leaf1  leaf2 leaf3       leaf pairs (0,1) and (2,3)
#     srv0..srv3   srv4..srv7        dual-homed servers
#     red-srvN and blue-srvN on every server: VDCs red and blue, both 10.0.0.0/24
#
# 1. reachability: every VM pings every VM of its VDC; the other VDC's VM with
#    the same address hears nothing; a spoofed source is dropped
# 1b. DHCP: a VM that lost its address gets its own back from the agent
# 1c. multicast: the lab's group 239.1.2.3 in red (red-srv1, 5, 6; blue-srv1
#    in blue's group of that address: the default lab file's `groups:`,
#    joined by IGMP at lab up); a 10,000/s stream from red-srv0 reaches the
#    members and no other VM
# 2. throughput: iperf3 between VMs on different leaf pairs
# 3. fail-over: a 10,000 packet/s stream while a link on its primary path is
#    cut, then while the spine it then crosses fails; the longest loss gap
#    after each failure (from the moment its links went down, as `lab link`
#    and `lab node` report it: a switch failure first stops the switch's
#    daemons, which takes a while)
# 4. migration: the loss gap of a stream to a VM that moves to another server,
#    and the part of it after the VM's port is up in the new server
#    (each stream also reports all it lost, lost datagrams x 0.1 ms, and the
#    part of that no failure's gap accounts for, so a second outage outside
#    the measured window cannot hide; and whether each failure fell inside
#    its stream, which a failure after the stream ended would not)
# 5. forwarding entries per switch
#
# Usage: lab-demo.sh [--json] (PEREGRINE = the binary, PREFIX = the lab's prefix;
# PEREGRINE_REPORT = a directory for the HTML report, docs/lab-report.md)
# Figures for people are rounded (scripts/human.sh); --json keeps them whole.
# Bounded: every stream has a fixed count, every wait a timeout.
set -euo pipefail
. "$(dirname "$0")/demo-lib.sh"
vms() { $P lab status --prefix "$X" --json | jq -r ".vm_list[] | select(.vdc == \"$1\") | \"\(.name) \(.ip)\""; }
t_start=$(now_ns)

say "== building the default lab (prefix $X)"
$P lab down --prefix "$X" >/dev/null 2>&1 || true
$P lab up --prefix "$X" >&2
# The RAS programs every switch: 2 entries per server (8 servers).
for _ in $(seq 100); do
	used=$($P lab status --prefix "$X" --json | jq '[.nodes[] | select(.kind == "switch") | .fib_used // 0] | min')
	[ "$used" -ge 16 ] && break
	sleep 0.1
done
[ "$used" -ge 16 ] || { echo "lab demo: the RAS did not program the switches (min FIB $used)" >&2; exit 1; }

# The VMs' SLAAC addresses (docs/tenant-network.md): their agents send three
# router advertisements in their first second, then one every 600 s; wait
# for the addresses and for that first second to pass, so that the frame
# counts of step 1 are not read while an advertisement arrives.
addr6() {
	ex "$1" ip -6 -o addr show dev "$X-eth0" scope global 2>/dev/null |
		awk '!/tentative|dadfailed/ { sub("/.*", "", $4); print $4; exit }'
}
declare -A a6
for vdc in red blue; do
	for vm in $(vms $vdc | cut -d' ' -f1); do
		for _ in $(seq 50); do a6[$vm]=$(addr6 "$vm"); [ -n "${a6[$vm]}" ] && break; sleep 0.1; done
	done
done
sleep 1

say "== 1. reachability and isolation"
rx_of() { # ICMP echo requests every VM of a VDC received (InEchos): what a
	# ping of the other VDC that crossed would add.  Not all packets: its
	# agent's IGMP/MLD queries and router advertisements are its own
	# server's, not the other VDC's traffic (IPv6 isolation is step 1a).
	for vm in $(vms "$1" | cut -d' ' -f1); do
		ex "$vm" awk '$1 == "Icmp:" { if (!h) { for (i = 2; i <= NF; i++)
			if ($i == "InEchos") c = i; h = 1 } else print $c }' /proc/net/snmp
	done | paste -sd' '
}
pairs_ok=0 pairs_total=0 violations=0
for vdc in red blue; do
	other=$([ $vdc = red ] && echo blue || echo red)
	before=$(rx_of "$other")
	mapfile -t list < <(vms $vdc)
	for s in "${list[@]}"; do
		src=${s% *}
		for d in "${list[@]}"; do
			[ "$d" = "$s" ] && continue
			( ex "$src" ping -c 1 -W 2 "${d#* }" >/dev/null 2>&1 && echo ok || echo fail ) \
				>> "$tmp/ping-$vdc" &
		done
		wait
	done
	pairs_total=$((pairs_total + $(wc -l < "$tmp/ping-$vdc")))
	pairs_ok=$((pairs_ok + $(grep -c ok "$tmp/ping-$vdc" || true)))
	after=$(rx_of "$other")
	read -ra b <<< "$before"; read -ra a <<< "$after"
	for i in "${!b[@]}"; do [ "${a[$i]}" -gt "${b[$i]}" ] && violations=$((violations + 1)); done
done
say "   $pairs_ok of $pairs_total pairs reachable within their VDC; $violations isolation violations"

# A spoofed source address: red-srv0 sends from 10.0.0.99, which is not its own.
srv0=$($P lab status --prefix "$X" --json | jq -r '.vm_list[] | select(.name == "red-srv0") | .server')
drops() { $P dp stats "$X-$srv0" --json | jq '.counters.vm_drop_src_ip.packets'; }
d0=$(drops)
ex red-srv0 ip addr add 10.0.0.99/32 dev "$X-eth0"
ex red-srv0 ping -c 3 -i 0.2 -W 1 -I 10.0.0.99 10.0.0.5 >/dev/null 2>&1 || true
ex red-srv0 ip addr del 10.0.0.99/32 dev "$X-eth0"
spoof_dropped=$(( $(drops) - d0 ))
say "   spoofed source: 3 sent, $spoof_dropped dropped by the agent's data plane"

say "== 1a. IPv6: SLAAC addresses from the agents, every pair of each VDC, and across VDCs"
# docs/tenant-network.md: both VDCs have fd00:0:0:1::/64; an NS goes to the
# directory (VDC, IPv6); a VM of the other VDC has another address.
ipv6_ok=0 ipv6_total=0 ipv6_violations=0
for vdc in red blue; do
	other=$([ $vdc = red ] && echo blue || echo red)
	mapfile -t list < <(vms $vdc | cut -d' ' -f1)
	mapfile -t olist < <(vms $other | cut -d' ' -f1)
	for i in "${!list[@]}"; do
		src=${list[$i]}
		for d in "${list[@]}"; do
			[ "$d" = "$src" ] && continue
			( [ -n "${a6[$src]}" ] && [ -n "${a6[$d]}" ] &&
			  ex "$src" ping -6 -c 1 -W 2 "${a6[$d]}" >/dev/null 2>&1 && echo ok || echo fail ) \
				>> "$tmp/ping6-$vdc" &
		done
		# across: one VM of the other VDC, on another server
		o=${olist[$(( (i + 1) % ${#olist[@]} ))]}
		( [ -n "${a6[$o]}" ] && ex "$src" ping -6 -c 1 -W 1 "${a6[$o]}" >/dev/null 2>&1 &&
		  echo crossed || echo held ) >> "$tmp/cross6-$vdc" &
		wait
	done
	ipv6_total=$((ipv6_total + $(wc -l < "$tmp/ping6-$vdc")))
	ipv6_ok=$((ipv6_ok + $(grep -c ok "$tmp/ping6-$vdc" || true)))
	ipv6_violations=$((ipv6_violations + $(grep -c crossed "$tmp/cross6-$vdc" || true)))
done
say "   $ipv6_ok of $ipv6_total IPv6 pairs reachable within their VDC; $ipv6_violations of 16 cross-VDC pings answered"

say "== 1b. DHCP: blue-srv3 drops its address and asks its server's agent (udhcpc)"
# docs/tenant-network.md: the agent answers from what it holds for the VM
want=$(vms blue | awk '$1 == "blue-srv3" {print $2}')
peer=$(vms blue | awk '$1 == "blue-srv0" {print $2}')
printf '#!/bin/sh\n[ "$1" = bound ] && ip addr add "$ip/$mask" dev "$interface"\nexit 0\n' \
	> "$tmp/udhcpc.sh"
chmod +x "$tmp/udhcpc.sh"
dhcp_ok=false
ex blue-srv3 ip -4 addr flush dev "$X-eth0"
if ex blue-srv3 udhcpc -i "$X-eth0" -f -q -n -t 3 -T 1 -s "$tmp/udhcpc.sh" >/dev/null 2>&1; then
	got=$(ex blue-srv3 ip -4 -o addr show dev "$X-eth0" | awk '{print $4}')
	[ "${got%/*}" = "$want" ] && ex blue-srv3 ping -c 1 -W 2 "$peer" >/dev/null 2>&1 && dhcp_ok=true
fi
[ $dhcp_ok = true ] || ex blue-srv3 ip addr replace "$want/24" dev "$X-eth0"
say "   blue-srv3 got ${got:-nothing} (its own: $want) and reaches blue-srv0: $dhcp_ok"

say "== 1c. multicast: red's 239.1.2.3 (members red-srv1, 5, 6; blue-srv1 in blue's), 10,000/s from red-srv0"
# docs/multicast.md: the source's data plane sends one copy per member
# server; the receiving server delivers to its members of (VDC, group)
# the members are the lab file's (`groups:` of the default lab: `lab up`
# joined them); members stop at the stream's 10,000 datagrams, the others
# are stopped (SIGTERM: they report) after them, and every receiver listens
# before the stream starts
mc_members="red-srv1 red-srv5 red-srv6" mc_others="red-srv2 red-srv4 blue-srv0 blue-srv1"
mc_mpids="" mc_opids=""
for v in $mc_members $mc_others; do
	ip netns exec "$X-$v" "$P" probe recv --listen 0.0.0.0:5003 --count 10000 --duration 30 \
		--idle 5 --json > "$tmp/mc-$v" 2>/dev/null &
	case " $mc_members " in *" $v "*) mc_mpids+=" $!";; *) mc_opids+=" $!";; esac
done
for v in $mc_members $mc_others; do	# 5003 = 0x138B
	for _ in $(seq 100); do ex "$v" grep -q ':138B ' /proc/net/udp && break; sleep 0.1; done
done
ex red-srv0 ip route replace 224.0.0.0/4 dev "$X-eth0"
# established first, as the unicast streams below: frames sent before the
# source's agent has the group's member servers are dropped
ex red-srv0 "$P" probe send --to 239.1.2.3:5000 --rate 100 --count 10 >/dev/null 2>&1 || true
sleep 0.5
ex red-srv0 "$P" probe send --to 239.1.2.3:5003 --rate 10000 --count 10000 >/dev/null 2>&1 || true
wait $mc_mpids || true
sleep 0.5
kill -TERM $mc_opids 2>/dev/null || true
wait $mc_opids || true
mc_got() { jq '.received // 0' "$tmp/mc-$1" 2>/dev/null || echo 0; }
multicast_members_ok=0 multicast_leaks=0
for v in $mc_members; do
	[ "$(mc_got "$v")" -ge 9990 ] && multicast_members_ok=$((multicast_members_ok + 1))
done
for v in $mc_others; do multicast_leaks=$((multicast_leaks + $(mc_got "$v"))); done
say "   members with >= 99.9% of 10000: $multicast_members_ok of 3 ($(for v in $mc_members; do printf '%s ' "$(mc_got "$v")"; done)); datagrams at non-members: $multicast_leaks"

say "== 2. throughput (iperf3, red-srv0 -> red-srv4, 3 s)"
ex red-srv4 iperf3 -s -1 -p 5201 >/dev/null 2>&1 & bg+=($!)
sleep 0.5
gbps=$(ex red-srv0 iperf3 -c 10.0.0.5 -p 5201 -t 3 -J 2>/dev/null | jq '.end.sum_received.bits_per_second / 1e9' || echo 0)
say "   $(human_round "$gbps" 1) Gbit/s"

# stream NAME FROM TO_VM TO_IP: 10,000 datagrams/s until stop_stream (at
# most 30 s) -> receiver JSON in $tmp/NAME.json.  The stream lasts as long
# as the events it measures take, however slow the machine.
stream() {
	local name=$1 from=$2 to_vm=$3 ip=$4
	# an established pair: resolved at both ends before the stream (the
	# first packets of a pair whose entry is not cached are dropped while
	# the agent asks the directory; that is not what the events measure)
	ex "$from" ping -c 3 -i 0.2 -W 1 -q "$ip" >/dev/null 2>&1 || true
	ex "$to_vm" "$P" probe recv --listen "$ip:9000" --duration 40 --idle 3 --gaps 16 --json \
		--bin-ms 10 \
		> "$tmp/$name.json" & bg+=($!)
	# the sender starts once the receiver listens (5 s at most): datagrams
	# sent before that would count as lost
	for _ in $(seq 100); do
		ip netns exec "$X-$to_vm" ss -Hlun "sport = :9000" | grep -q . && break
		sleep 0.05
	done
	$P lab exec "$from" --prefix "$X" -- "$P" probe send --to "$ip:9000" --rate 10000 \
		--count 300000 2>/dev/null & sender=$!
	bg+=($sender)
}
# unattributed FILE T_NS...: ms of the stream lost that no failure's gaps
# account for (lost datagrams x 0.1 ms minus the gaps of the failures)
unattributed() {
	local f=$1 ts
	shift
	ts=$(printf '%s\n' "$@" | jq -s -c .)
	jq --argjson ts "$ts" "[.loss_gaps[] | . as \$g | select(any(\$ts[]; . as \$t | $in_window))
		| .gap_ms] as \$mine | (.lost / 10) - (\$mine | add // 0)
		| if . < 0 then 0 else . end | . * 10 | round / 10" "$f"
}
# during FILE T_NS: whether T_NS fell inside the stream, at least 0.5 s
# after its first arrival and 0.5 s before its last
during() {
	jq --argjson t "$2" '.first_ns + 500000000 < $t and $t + 500000000 < .last_ns' "$1"
}

say "== 3. fail-over (10,000 packets/s red-srv0 -> red-srv4)"
stream fo red-srv0 red-srv4 10.0.0.5
sleep 1.5
path=$($P trace red 10.0.0.1 10.0.0.5 --prefix "$X" --json)
leaf=$(echo "$path" | jq -r '.hops[0].node'); spine=$(echo "$path" | jq -r '.hops[0].next')
t_link=$($P lab link down "$leaf" "$spine" --prefix "$X" --json | jq .at_ns)
say "   cut $leaf -- $spine"
sleep 2
path=$($P trace red 10.0.0.1 10.0.0.5 --prefix "$X" --json)
spine2=$(echo "$path" | jq -r '.hops[1].node // empty')
t_node=$($P lab node down "${spine2:-spine1}" --prefix "$X" --json | jq .at_ns)
say "   failed switch ${spine2:-spine1}"
report_status "While both failures held: $leaf -- $spine cut, ${spine2:-spine1} failed."
stop_stream
gap_link=$(gap_after "$tmp/fo.json" "$t_link"); gap_node=$(gap_after "$tmp/fo.json" "$t_node")
lost_fo_ms=$(jq '.lost / 10' "$tmp/fo.json")
other_fo_ms=$(unattributed "$tmp/fo.json" "$t_link" "$t_node")
fo_during=$( [ "$(during "$tmp/fo.json" "$t_link")" = true ] && during "$tmp/fo.json" "$t_node" || echo false)
say "   longest gap: link cut $(human_round "$gap_link" 1) ms, switch failure $(human_round "$gap_node" 1) ms"
say "   in all $lost_fo_ms ms of the stream lost ($(jq .lost "$tmp/fo.json") of $(jq '.received + .lost' "$tmp/fo.json")), $other_fo_ms ms of it outside both failures"
[ "$fo_during" = true ] || say "   (a failure fell outside the stream: the gaps above say nothing)"
report_stream "fail-over: red-srv0 -> red-srv4, 10,000 packets/s" "$tmp/fo.json" \
	"A link on the stream's primary path is cut, then the spine it then crosses fails." \
	"link $leaf -- $spine cut" "$t_link" "${spine2:-spine1} fails" "$t_node"
$P lab node up "${spine2:-spine1}" --prefix "$X"
$P lab link up "$leaf" "$spine" --prefix "$X"

say "== 3b. grey failure: the spine the stream uses stops forwarding, its links stay up"
# an nftables table of the bridge family drops every frame the spine's
# bridge would forward; no port loses its carrier, so switchd sees no
# link change.  Held 2 s, then lifted: a gap of about 2000 ms means
# nothing found it (docs/evpn.md, "A grey failure")
stream grey red-srv0 red-srv4 10.0.0.5
sleep 1.5
# the spine whose bridge forwards the most frames in 0.3 s carries the
# stream: a counting chain on both, then a drop rule on that one
for sp in spine0 spine1; do
	ip netns exec "$X-$sp" nft -f - <<NFT
table bridge grey {
	chain drop_fwd { type filter hook forward priority -300; policy accept; counter; }
}
NFT
done
fwd_frames() { ip netns exec "$X-$1" nft -j list chain bridge grey drop_fwd |
	jq '[.nftables[] | .rule? // empty | .expr[] | .counter? // empty | .packets] | add // 0'; }
a0=$(fwd_frames spine0); b0=$(fwd_frames spine1); sleep 0.3; a1=$(fwd_frames spine0); b1=$(fwd_frames spine1)
spine3=$([ $((a1 - a0)) -gt $((b1 - b0)) ] && echo spine0 || echo spine1)
t_grey=$(now_ns)
ip netns exec "$X-$spine3" nft add rule bridge grey drop_fwd drop
say "   $spine3 (forwarded $((a1 - a0)) and $((b1 - b0)) frames in 0.3 s: spine0, spine1) drops every frame it would forward (nftables); its links stay up"
sleep 2	# under the receiver's --idle 3, which would end the stream
for sp in spine0 spine1; do ip netns exec "$X-$sp" nft delete table bridge grey; done
t_grey_end=$(now_ns)
stop_stream
gap_grey=$(jq --argjson t "$t_grey" '[.loss_gaps[] | select(.start_ns >= $t - 20000000 and .start_ns <= $t + 1000000000) | .gap_ms] | max // 0' "$tmp/grey.json")
say "   longest gap $(human_round "$gap_grey" 1) ms (the drop held 2000 ms)"
report_stream "grey failure: red-srv0 -> red-srv4" "$tmp/grey.json" \
	"$spine3 stops forwarding with its links up for 2 s." \
	"$spine3 drops all" "$t_grey" "lifted" "$t_grey_end"

say "== 4. migration (stream to red-srv7, which moves to srv2)"
stream mig red-srv0 red-srv7 10.0.0.8
sleep 1.5
$P lab migrate red-srv7 srv2 --prefix "$X" --json > "$tmp/migrate.json"
t_mig=$(jq .detach_ns "$tmp/migrate.json")
stop_stream
gap_mig=$(gap_after "$tmp/mig.json" "$t_mig")
lost_mig_ms=$(jq '.lost / 10' "$tmp/mig.json")
other_mig_ms=$(unattributed "$tmp/mig.json" "$t_mig")
mig_during=$(during "$tmp/mig.json" "$t_mig")
# The part of the gap after the VM's port is up in its new server: what the
# fabric (agent, directory, senders) adds to the move itself.
t_att=$(jq .attach_ns "$tmp/migrate.json")
move_ms=$(jq '.port_move_ms * 10 | round / 10' "$tmp/migrate.json")
after_mig=$(jq --argjson t "$t_mig" --argjson a "$t_att" "[.loss_gaps[] | . as \$g | select($in_window)
	| (.start_ns + .gap_ms * 1e6 - \$a) / 1e6 | if . < 0 then 0 else . end] | max // 0
	| . * 10 | round / 10" "$tmp/mig.json")
say "   longest gap: $(human_round "$gap_mig" 1) ms, of which $after_mig ms after the port was up in srv2"
say "   (moving the port took $move_ms ms); in all $lost_mig_ms ms of the stream lost ($(jq .lost "$tmp/mig.json") of $(jq '.received + .lost' "$tmp/mig.json")), $other_mig_ms ms of it outside the move"
[ "$mig_during" = true ] || say "   (the move fell outside the stream: the gap above says nothing)"
report_stream "migration: red-srv0 -> red-srv7, which moves to srv2" "$tmp/mig.json" \
	"The stream's receiver moves to another server." \
	"red-srv7 detached" "$t_mig" "port up in srv2" "$t_att"

say "== 5. forwarding entries per switch"
fib=$($P lab status --prefix "$X" --json | jq -c '[.nodes[] | select(.kind == "switch") | {(.name): .fib_used}] | add')
say "   $fib"
secs=$(( ($(now_ns) - t_start) / 1000000000 ))
say "== done in $secs s"
figures=$(
	jq -n --argjson ok "$pairs_ok" --argjson total "$pairs_total" --argjson v "$violations" \
	      --argjson sp "$spoof_dropped" --argjson g "${gbps:-0}" --argjson gl "$gap_link" \
	      --argjson gn "$gap_node" --argjson gm "$gap_mig" --argjson fib "$fib" --argjson s "$secs" \
	      --argjson lf "$lost_fo_ms" --argjson lm "$lost_mig_ms" \
	      --argjson am "$after_mig" --argjson mm "$move_ms" \
	      --argjson of "$other_fo_ms" --argjson om "$other_mig_ms" \
	      --argjson fd "$fo_during" --argjson md "$mig_during" --argjson dh "$dhcp_ok" \
	      --argjson o6 "$ipv6_ok" --argjson t6 "$ipv6_total" --argjson v6 "$ipv6_violations" \
	      --argjson gg "$gap_grey" \
	      --argjson mo "$multicast_members_ok" --argjson ml "$multicast_leaks" \
	   '{pairs_ok: $ok, pairs_total: $total, isolation_violations: $v, spoofed_dropped: $sp,
	     dhcp_ok: $dh, ipv6_pairs_ok: $o6, ipv6_pairs_total: $t6, ipv6_isolation_violations: $v6,
	     multicast_members_ok: $mo, multicast_leaks: $ml,
	     iperf_gbps: $g, failover_gap_ms: [$gl, $gn], failover_lost_ms: $lf,
	     failover_unattributed_ms: $of, failover_during_stream: $fd, grey_gap_ms: $gg,
	     migration_gap_ms: $gm, migration_after_attach_ms: $am, migration_port_move_ms: $mm,
	     migration_lost_ms: $lm, migration_unattributed_ms: $om, migration_during_stream: $md,
	     fib: $fib, seconds: $s}')
if [ $JSON = 1 ]; then echo "$figures"; fi
report_write "Peregrine lab demo" \
	"The default lab (2 spines, 4 leaves, 8 dual-homed servers, VDCs red and blue) measured by scripts/lab-demo.sh." \
	"$figures"
[ "$pairs_ok" -eq "$pairs_total" ] && [ "$violations" -eq 0 ] &&
	[ "$ipv6_ok" -eq "$ipv6_total" ] && [ "$ipv6_violations" -eq 0 ] && [ "$multicast_leaks" -eq 0 ]
