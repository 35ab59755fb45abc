#!/bin/bash
# peregrine lab demo --ha: a lab with a replicated control plane (three etcd
# members, two directory servers, three RAS processes; docs/ha.md) under a
# running stream (10,000 datagrams/s red-srv0 -> red-srv3) and the
# directory's history checker (dirctl check: registrations and lookups,
# every acknowledgement logged), through four faults:
#
#   1. kill -9 of the directory server srv0's agent and the checker use
#      first (dir0);
#   2. kill -9 of the leading RAS, then 100 ms later a link failure on the
#      stream's path: the stream's gap, and when the new leader reprogrammed;
#   3. kill -9 of one etcd member;
#   4. a partition isolating the leading RAS from etcd (blackhole routes in
#      its namespace): the standby takes over; then the link comes back,
#      and what the isolated leader still sends the switches is refused
#      (switchd's fenced counter); the isolated leader must send nothing
#      (the new leader claimed every switch, so link reports go to it), and
#      it stops leading before its lease can have expired at etcd.
#
# Prints (with --json) kills [{target, lookup_gap_ms, lookup_gap_window_ms,
# stream_gap_ms}] (for dir0, lookup_gap_ms is the checker's gap across the
# kill: its lookups answered again; the window's longest gap, 4 s around the
# kill, is lookup_gap_window_ms; hedged and hedge_won, the checker's hedged
# lookups),
# register_p50_ms and register_p99_ms (through etcd, one per checker run),
# registrations_acked, registrations_lost, registrations_unverified (acked,
# but the verifying lookup never answered), version_regressions,
# ras_takeover_ms (of which ras_elected_ms: the kill to the new leader's
# "leading" line), ras_dead_leader_found_by ("probe" or "lease"),
# ras_reprogrammed_ms, fenced_writes_refused, switch_notices and
# switch_notices_answered (the switches' port-down notices to the directory
# servers, and their answers), isolated_leader_stepped_down_ms (the
# partition to the isolated leader's "stepping down").
set -euo pipefail
. "$(dirname "$0")/demo-lib.sh"
command -v etcd >/dev/null || { echo "lab demo --ha: needs etcd (etcd-server)" >&2; exit 1; }

cat >"$tmp/ha.yaml" <<EOF
name: ha-demo
topology: leafspine:spines=2,leaves=2,servers=2,homing=2
vdcs: [{name: red, id: 1, subnet: 10.0.0.0/24}]
placement: {per_server: 1}
ha: {etcd: 3, directories: 2, ras: 3}
EOF
say "== a lab with a replicated control plane (3 etcd, 2 directory servers, 3 RAS)"
$P lab up "$tmp/ha.yaml" --prefix "$X" >&2
state=/run/peregrine/lab-$X
st() { $P lab status --prefix "$X" --json; }
leader() { st | jq -r '.ha.ras_leader // ""'; }
pid_of() { st | jq -r --arg n "$1" '[.ha[] | arrays | .[] | select(.name == $n) | .pid][0]'; }
ip_of() { st | jq -r --arg n "$1" '[.ha[] | arrays | .[] | select(.name == $n) | .address][0]'; }
for _ in $(seq 100); do [ -n "$(leader)" ] && break; sleep 0.1; done
l0=$(leader)
[ -n "$l0" ] || { echo "no RAS leads" >&2; exit 1; }
say "   $l0 leads"
dirs="$(ip_of dir0):7300,$(ip_of dir1):7300"

# check NAME SECONDS: the history checker from the management namespace,
# in the background (its JSON in $tmp/NAME.check)
check() {
	ip netns exec "$X-mgmt" "$P" dirctl --server "$dirs" --key "$state/key" --json \
		check "$2" 77 >"$tmp/$1.check" 2>"$tmp/$1.check.err" &
	checker=$!
}
# log_ms NODE PATTERN AFTER_MS: wall-clock ms of the first log line of NODE
# matching PATTERN at or after AFTER_MS (the logs' HH:MM:SS.mmm, UTC)
log_ms() {
	local day=$(( $(date -u +%s) / 86400 * 86400000 ))
	$P lab logs "$1" --prefix "$X" | grep -E "$2" | awk -v day="$day" -v after="$3" '
		{ split($1, t, /[:.]/); ms = day + ((t[1] * 60 + t[2]) * 60 + t[3]) * 1000 + t[4]
		  if (ms >= after) { printf "%.0f\n", ms; exit } }'
}
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
# the switches' metrics URLs, read once (`lab status` is slow when loaded)
swurls=$(st | jq -r '.nodes[] | select(.kind == "switch") | .metrics_url.switchd // empty')
sw_sum() {	# switchd's counter $1, summed over the switches
	local sum=0 u v
	for u in $swurls; do
		v=$(ip netns exec "$X-mgmt" curl -s -m 2 "$u" | awk -v m="peregrine_switchd_$1_total" '$1 == m { print $2 }')
		sum=$((sum + ${v:-0}))
	done
	echo $sum
}
fenced() { sw_sum fenced; }

say "== stream red-srv0 -> red-srv3 (10,000/s) and the history checker"
stream() {
	local name=$1 from=$2 to_vm=$3 ip=$4
	ex "$from" ping -c 3 -i 0.2 -W 1 -q "$ip" >/dev/null 2>&1 || true
	ex "$to_vm" "$P" probe recv --listen "$ip:9000" --duration 60 --idle 3 --gaps 16 --json \
		--bin-ms 10 > "$tmp/$name.json" & bg+=($!)
	for _ in $(seq 100); do
		ip netns exec "$X-$to_vm" ss -Hlun "sport = :9000" | grep -q . && break
		sleep 0.05
	done
	$P lab exec "$from" --prefix "$X" -- "$P" probe send --to "$ip:9000" --rate 10000 \
		--count 600000 2>/dev/null & sender=$!
	bg+=($sender)
}
stream s red-srv0 red-srv3 10.0.0.4
sleep 1

say "== 1. kill -9 of dir0 (srv0's agent's directory server)"
check k1 4
sleep 1.5
# (each pid is looked up before the clock is read: `lab status` takes a
# while on a loaded machine, and would count in the times measured)
pid=$(pid_of dir0)
# the checker marks the moment (SIGUSR1): its lookup gap across it
kill -USR1 "$checker"; t1=$(now_ms); kill -9 "$pid"; t1ns=$((t1 * 1000000))
wait "$checker" || true

say "== 2. kill -9 of the leading RAS ($l0), a link failure 100 ms later"
path=$($P trace red 10.0.0.1 10.0.0.4 --prefix "$X" --json)
leaf=$(echo "$path" | jq -r '.hops[0].node'); spine=$(echo "$path" | jq -r '.hops[0].next')
check k2 4
sleep 1
pid=$(pid_of "${l0#"$X"-}")
t2=$(now_ms); kill -9 "$pid"
sleep 0.1
t_link=$($P lab link down "$leaf" "$spine" --prefix "$X" --json | jq .at_ns)
say "   cut $leaf -- $spine"
wait "$checker" || true
l1=""
for _ in $(seq 50); do l1=$(leader); [ -n "$l1" ] && [ "$l1" != "$l0" ] && break; sleep 0.1; done
n1=${l1#"$X"-}
t_lead=$(log_ms "$n1" "leading \\(term" "$t2")
# how the standby found the leader gone: its address refused datagrams
# (the probe), or else its lease ran out
t_probe=$(log_ms "$n1" "refuses datagrams" "$t2" || true)
by=lease; [ -n "$t_probe" ] && by=probe
t_prog=$(log_ms "$n1" "fabric programmed" "$t2")
t_link_ms=$((t_link / 1000000))
t_reprog=$(log_ms "$n1" "fabric programmed" "$t_link_ms")
takeover=$(( ${t_prog:-0} ? t_prog - t2 : -1 ))
elected=$(( ${t_lead:-0} ? t_lead - t2 : -1 ))
reprog=$(( ${t_reprog:-0} ? t_reprog - t_link_ms : -1 ))
say "   $l1 leads; elected ${elected} ms and programmed ${takeover} ms after the kill, ${reprog} ms after the link failure"
report_status "While the link $leaf -- $spine was cut (after the leading RAS $l0 was killed)."

say "== 3. kill -9 of etcd1"
check k3 4
sleep 1.5
pid=$(pid_of etcd1)
t3=$(now_ms); kill -9 "$pid"
wait "$checker" || true

# The leader may have changed since step 2: a RAS leader whose keep-alives
# stall while etcd elects a new leader of its own (etcd1 may have been it)
# steps down before its lease can expire (docs/ha.md).  Partition the RAS
# that leads now: the one the leader key names and that serves its metrics
# (a RAS standing by serves none).
ras_batches() {	# ras_batches NODE: its batches sent, empty if it serves no metrics
	{ ip netns exec "$X-mgmt" curl -s -m 2 "http://$(ip_of "$1"):9462/metrics" || true; } |
		awk '/^peregrine_ras_batches_total/ { print $2 }'
}
for _ in $(seq 50); do
	l=$(leader); [ -n "$l" ] && [ -n "$(ras_batches "${l#"$X"-}")" ] && break; sleep 0.1
done
[ "${l:-}" = "$l1" ] || say "   the leader changed after etcd1's kill: ${l:-nobody} leads (${l1} stepped down)"
l1=${l:-$l1}; n1=${l1#"$X"-}
say "== 4. a partition isolating the leading RAS ($l1) from etcd"
f0=$(fenced)
eips=$(for e in etcd0 etcd1 etcd2; do ip_of $e; done)	# `lab status` is slow when loaded
t_part=$(now_ns)
for e in $eips; do ip -n "$X-$n1" route add blackhole "$e/32"; done
t4=$(now_ms)	# cut off from every member from now on
l2=""
for _ in $(seq 80); do l2=$(leader); [ -n "$l2" ] && [ "$l2" != "$l1" ] && break; sleep 0.1; done
say "   ${l2:-nobody} leads now; the link comes back"
sleep 1
# what the isolated leader sends the switches from now on (its metrics
# are reachable while it leads: only etcd is cut off; once it stepped
# down it stands by, serves no metrics and sends nothing: 0)
b0=$(ras_batches "$n1")
t_up=$(now_ns)
$P lab link up "$leaf" "$spine" --prefix "$X" >/dev/null
sleep 3
b1=$(ras_batches "$n1")
f1=$(fenced)
[ -n "$b1" ] || b1=${b0:-0}	# it stepped down between the two reads
iso=$(( ${b1:-0} - ${b0:-0} ))
say "   the isolated $l1 sent $iso batches since; switches refused $((f1 - f0))"
# the isolated leader stopped acting before its lease (1 s) could expire
t_down=$(log_ms "$n1" "stepping down" "$t4" || true)
stepped=$(( ${t_down:-0} ? t_down - t4 : -1 ))
say "   $l1 stepped down ${stepped} ms after the partition"
stop_stream
# the switches' own notices to the directory (docs/ha.md): made, and
# answered (in time or late: the answer waits for etcd's commit, the
# pushes do not); read after the stream, `lab status` is slow when loaded
notices=$(sw_sum notices)
answered=$(( $(sw_sum notice_replies) + $(sw_sum notice_late_replies) ))

gap() { gap_after "$tmp/s.json" "$1"; }
# each kill fell inside the stream (0.5 s after its first arrival, 0.5 s
# before its last): otherwise its gap of 0 would say nothing
inside() { jq --argjson t "$1" '.first_ns + 500000000 < $t and $t + 500000000 < .last_ns' "$tmp/s.json"; }
during=$(jq -n --argjson a "$(inside $t1ns)" --argjson b "$(inside "$t_link")" \
	--argjson c "$(inside $((t3 * 1000000)))" '$a and $b and $c')
lg() { jq '.lookup_gap_max_ms // null' "$tmp/$1.check"; }
# the kill of dir0: the checker's lookups answered again after it, that is
# the lookup gap across the kill (from the last lookup answered before the
# checker's mark, sent just before the kill, to the first answered after;
# answers to hedged lookups count: they are answers)
lg_kill() { jq '.lookup_gap_at_mark_ms // null' "$tmp/$1.check"; }

acked=0; lost=0; unver=0; regr=0
for k in k1 k2 k3; do
	acked=$((acked + $(jq '.registrations_acked // 0' "$tmp/$k.check")))
	lost=$((lost + $(jq '.registrations_lost // 0' "$tmp/$k.check")))
	unver=$((unver + $(jq '.registrations_unverified // 0' "$tmp/$k.check")))
	regr=$((regr + $(jq '.version_regressions // 0' "$tmp/$k.check")))
done
out=$(jq -n -c \
	--argjson g1 "$(gap $t1ns)" --argjson g2 "$(gap "$t_link")" --argjson g3 "$(gap $((t3 * 1000000)))" \
	--argjson l1 "$(lg_kill k1)" --argjson w1 "$(lg k1)" \
	--argjson h1 "$(jq '.hedged // null' "$tmp/k1.check")" --argjson hw1 "$(jq '.hedge_won // null' "$tmp/k1.check")" \
	--argjson l2 "$(lg k2)" --argjson l3 "$(lg k3)" \
	--argjson p50 "$(jq -s -c 'map(.register_p50_ms)' "$tmp/k1.check" "$tmp/k2.check" "$tmp/k3.check")" \
	--argjson p99 "$(jq -s -c 'map(.register_p99_ms)' "$tmp/k1.check" "$tmp/k2.check" "$tmp/k3.check")" \
	--argjson acked $acked --argjson lost $lost --argjson unver $unver --argjson regr $regr \
	--argjson takeover "$takeover" --argjson elected "$elected" --arg by "$by" --argjson notices "$notices" --argjson answered "$answered" --argjson reprog "$reprog" --argjson fenced $((f1 - f0)) --argjson iso "$iso" --argjson stepped "$stepped" \
	--arg old "$l0" --arg new "$l1" --arg third "$l2" \
	--argjson lost_ms "$(jq '.lost / 10' "$tmp/s.json")" --argjson during "$during" \
	'{kills: [{target: "directory dir0", lookup_gap_ms: $l1, lookup_gap_window_ms: $w1, stream_gap_ms: $g1, hedged: $h1, hedge_won: $hw1},
		  {target: ("ras leader " + $old + " + link 100 ms later"), lookup_gap_ms: $l2, lookup_gap_window_ms: $l2, stream_gap_ms: $g2},
		  {target: "etcd member etcd1", lookup_gap_ms: $l3, lookup_gap_window_ms: $l3, stream_gap_ms: $g3}],
	  register_p50_ms: $p50, register_p99_ms: $p99,
	  registrations_acked: $acked, registrations_lost: $lost, registrations_unverified: $unver, version_regressions: $regr,
	  ras_takeover_ms: $takeover, ras_elected_ms: $elected, ras_dead_leader_found_by: $by, ras_reprogrammed_ms: $reprog, ras_leaders: [$old, $new, $third],
	  fenced_writes_refused: $fenced, switch_notices: $notices, switch_notices_answered: $answered, isolated_leader_batches: $iso, isolated_leader_stepped_down_ms: $stepped, stream_lost_ms: $lost_ms, kills_during_stream: $during}')
if [ $JSON = 1 ]; then echo "$out"; else echo "$out" | jq .; fi
report_stream "red-srv0 -> red-srv3, 10,000 datagrams/s, through every fault" "$tmp/s.json" \
	"One stream through the four faults: the control plane's failures must not stop it, the link cut is the only one on its path." \
	"dir0 killed" "$t1ns" "RAS leader $l0 killed" "$((t2 * 1000000))" "link $leaf -- $spine cut" "$t_link" \
	"etcd1 killed" "$((t3 * 1000000))" "$l1 cut off from etcd" "$t_part" "link back" "$t_up"
report_write "Peregrine lab demo --ha" \
	"A replicated control plane in the lab (scripts/lab-demo-ha.sh, docs/ha.md): 3 etcd members, 2 directory servers, 3 RAS processes, killed and partitioned under a running stream." \
	"$out"
