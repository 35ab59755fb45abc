#!/bin/bash
# peregrine lab demo --slb: the server load balancer in a lab (docs/slb.md,
# "In the lab").  A 6-server lab with an Internet edge (client P-inet,
# gateway P-edge, legs on srv0), two SLB servers in a ring (srv1, srv2) and
# two VCs of VDC red on the VMs of srv3 and srv4: web (203.0.113.10) and app
# (203.0.113.20, sticky), TCP 80, each VM running an HTTP server.  Health
# bound 30 x 100 ms, as slb/test_netns.sh: on a loaded 2-core machine the
# stand-in prober misses 3 x 100 ms, and a backend falsely marked down has
# its established flows re-picked (reset).
#
#   1. 40 requests from the client to web's VIP: how many were answered and
#      by how many backends (requests_ok, requests_total, backends_used);
#   2. 20 requests to app's VIP all reach one backend (sticky_ok);
#   3. a 20 MB download from web's VIP: the share of its bytes the SLB
#      servers forwarded (dsr_slb_bytes_pct: direct server return);
#   4. the SLB server that owns web fails (its daemon killed, its NIC down)
#      during 8 rate-limited downloads: when a new connection first
#      succeeds after it (slb_failure_new_conn_ms, scripts/slb-connect.py)
#      and how many of the downloads receiving at the failure completed
#      (slb_failure_conns_survived_pct of slb_failure_conns_crossing);
#   0. the backends' agents let their VMs answer from the VIPs (each agent's
#      configuration lists its VMs' VIPs; vip_sources_by_agents: the
#      entries they wrote, by their logs);
#   5. auto scaling (before 4): srv5 is a standby SLB server (powered off);
#      new connections to web's port 9000 (peregrine slb load) load the
#      owner of web above the high watermark (each daemon's load: new flows
#      per second against capacity_cps), the ring's master asks for one more
#      server and the lab's edge process starts srv5's daemon; it joins the
#      ring; the load stops, below the low watermark the master releases it
#      and the edge process stops it (autoscale_steps: the steps carried
#      out, by the edge process's log; autoscale_up_ms: from the load's
#      start to srv5's daemon starting).
set -euo pipefail
. "$(dirname "$0")/demo-lib.sh"
VIP1=203.0.113.10 VIP2=203.0.113.20 BIG=20000000
# Debian's interpreter, not a version manager's shim (a start costs seconds
# on a loaded machine)
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

cat >"$tmp/slb.yaml" <<EOF
name: slb-demo
topology: leafspine:spines=1,leaves=2,servers=3
vdcs: [{name: red, id: 1, subnet: 10.0.0.0/24}]
placement: {per_server: 1}
edge: {server: srv0, client: 198.51.100.7/24, public: 203.0.113.0/24}
slb:
  servers: [srv1, srv2]
  standby: [srv5]
  scaling: {capacity_cps: 100, high: 40, low: 5, hold: 30, min: 2}
  vcs:
    - {name: web, vdc: red, vip: $VIP1, ports: [tcp/80, tcp/9000], backends: [red-srv3, red-srv4],
       health: {interval_ms: 100, fails: 30}}
    - {name: app, vdc: red, vip: $VIP2, ports: [tcp/80], sticky: true,
       backends: [red-srv3, red-srv4], health: {interval_ms: 100, fails: 30}}
EOF
say "== a lab with an Internet edge and two SLB servers"
$P lab up "$tmp/slb.yaml" --prefix "$X" >&2
state=/run/peregrine/lab-$X
for v in 3 4; do
	mkdir -p "$tmp/www$v"
	echo "red-srv$v" >"$tmp/www$v/name"
	head -c $BIG /dev/zero >"$tmp/www$v/big"
	ip netns exec "$X-red-srv$v" $PY -m http.server 80 --directory "$tmp/www$v" \
		>"$tmp/web$v.log" 2>&1 &
	bg+=($!)
	$P slb load serve --listen 0.0.0.0:9000 --duration 300 --netns "$X-red-srv$v" \
		>"$tmp/load$v.log" 2>&1 &
	bg+=($!)
done
st() { $P slb status --status "$state/slb/$1.json" --json 2>/dev/null; }
# the ring's owner of VC NAME as srv1 sees it (ring id 1 = srv1, 2 = srv2)
owner() { st srv1 | jq -r --arg v "$1" '.ring.vcs[] | select(.vip == $v) | .owner'; }
ups() { st "$1" | jq '[.backends[] | select(.state == "up")] | length'; }
for _ in $(seq 200); do
	[ "$(ups srv1 || echo 0)" = 4 ] && [ "$(ups srv2 || echo 0)" = 4 ] &&
		[ -n "$(owner $VIP1 2>/dev/null)" ] &&
		ip netns exec "$X-inet" curl -s -m 1 -o /dev/null "http://$VIP1/name" && break
	sleep 0.1
done
req() { ip netns exec "$X-inet" curl -s -m 2 "http://$1/name" || true; }
# (VM, VIP) sources the backends' agents wrote: 2 VCs on 2 VMs
vsrc=$(cat "$state/logs/srv3.agent.log" "$state/logs/srv4.agent.log" 2>/dev/null |
	grep -c "VIP source written" || true)
say "== the backends' agents wrote $vsrc VIP sources"

say "== 40 requests to $VIP1"
ok=0
: >"$tmp/who"
for _ in $(seq 40); do
	r=$(req $VIP1)
	[ -n "$r" ] && ok=$((ok + 1)) && echo "$r" >>"$tmp/who"
done
used=$(sort -u "$tmp/who" | grep -c . || true)
say "   $ok answered, by $used backends: $(sort "$tmp/who" | uniq -c | tr '\n' ' ')"

say "== 20 requests to the sticky $VIP2"
first=$(req $VIP2)
sticky=true
for _ in $(seq 20); do [ "$(req $VIP2)" = "$first" ] || sticky=false; done
[ -n "$first" ] || sticky=false
say "   all to ${first:-nothing}: $sticky"

say "== a 20 MB download from $VIP1 (direct server return)"
fwd() { st "$1" | jq '[.dataplane | to_entries[] | select(.key | startswith("fwd_")) | .value.bytes] | add'; }
b0=$(( $(fwd srv1) + $(fwd srv2) ))
ip netns exec "$X-inet" curl -s -m 30 -o "$tmp/got" "http://$VIP1/big" || true
sleep 0.6	# the status files are rewritten every 500 ms
b1=$(( $(fwd srv1) + $(fwd srv2) ))
got=$(stat -c %s "$tmp/got" 2>/dev/null || echo 0)
dsr=null
[ "$got" = $BIG ] && dsr=$(jq -n "100 * ($b1 - $b0) / $BIG * 1000 | round / 1000")
say "   $got bytes received; the SLB servers forwarded $((b1 - b0)) bytes: $dsr%"

say "== auto scaling: new connections to $VIP1:9000 until the master asks for srv5"
elog=$state/logs/srv0.slb-edge.log
t_load=$EPOCHREALTIME
$P slb load connect --to $VIP1:9000 --concurrency 16 --duration 5 --netns "$X-inet" \
	>"$tmp/loadc.out" 2>&1 &
lc=$!
for _ in $(seq 100); do grep -q " scale on " "$elog" && break; sleep 0.05; done
up_ms=$(awk -v t="$t_load" '$2 == "scale" && $3 == "on" && $1 >= t {
	printf "%.1f", ($1 - t) * 1000; exit }' "$elog")
# srv5 (ring id 3) joins: live in the master's view; then the load stops
for _ in $(seq 100); do
	[ -n "$up_ms" ] || break
	[ "$(st srv1 | jq '.ring.live | index(3) != null')" = true ] && break
	sleep 0.05
done
joined=$(st srv1 | jq '.ring.live | index(3) != null')
kill "$lc" 2>/dev/null || true
wait "$lc" 2>/dev/null || true
for _ in $(seq 100); do
	[ -n "$up_ms" ] || break
	grep -q " scale off " "$elog" && break
	sleep 0.05
done
steps=$(awk -v t="$t_load" '$2 == "scale" && $1 >= t' "$elog" | grep -c . || true)
say "   srv5 powered on after ${up_ms:-?} ms of load (joined the ring: $joined), then" \
	"off: $steps steps: $(awk -v t="$t_load" '$2 == "scale" && $1 >= t {printf "%s %s; ", $3, $5}' "$elog")"

o=$(owner $VIP1)
victim=srv$o
say "== SLB server $victim (owner of $VIP1) fails during 8 downloads"
dl=()
for k in $(seq 8); do
	ip netns exec "$X-inet" curl -s -m 60 --limit-rate 4M -o "$tmp/dl$k" \
		-w '%{exitcode} %{size_download} %{time_total}\n' "http://$VIP1/big" >"$tmp/dl$k.w" 2>&1 &
	dl+=($!)
done
# (at real-time priority, as the edge process: on a loaded machine a client
# left waiting measures the scheduler, not the failure)
ip netns exec "$X-inet" chrt -f 10 $PY "$(dirname "$0")/slb-connect.py" "$tmp/go" $VIP1 >"$tmp/connect.out" &
conn=$!
# the failure's NIC down, by a process running already in the server
# (scripts/slb-fail.py: one ioctl, then the attempts start)
mkfifo "$tmp/fail"
ip netns exec "$X-$victim" chrt -f 10 $PY "$(dirname "$0")/slb-fail.py" "$X-nic0" "$tmp/fail" \
	"$tmp/go" &
bg+=($!)
exec {failfd}<>"$tmp/fail"	# read-write: never blocks, whatever became of it
for _ in $(seq 300); do [ -e "$tmp/go.ready" ] && [ -e "$tmp/fail.ready" ] && break; sleep 0.05; done
sleep 0.5
# the downloads that cross the failure: receiving just before it, not yet
# complete (read before the failure: nothing but the failure itself between
# its clock's start and the attempts' start)
crossing=()
for k in $(seq 8); do
	b=$(stat -c %s "$tmp/dl$k" 2>/dev/null || echo 0)
	[ "$b" -gt 0 ] && [ "$b" -lt $BIG ] && crossing+=("$k")
done
vpid=$(cat "$state/pids/$victim.slb")
t_fail=$EPOCHREALTIME	# the daemon killed, its NIC down (builtins: at once)
kill -9 "$vpid"
echo "$t_fail" >&$failfd	# slb-fail.py: the NIC down, then the attempts start
new_ms=null new_start_ms=null new_first_ms=null
wait $conn && read -r new_ms new_start_ms _ new_first_ms <"$tmp/connect.out"
# (new_start_ms: when the first connection that completed was started;
# new_first_ms: when the attempts began, once the NIC was down)
survived=0 completed=0
for p in "${dl[@]}"; do wait "$p" || true; done
for k in $(seq 8); do
	if [ "$(stat -c %s "$tmp/dl$k" 2>/dev/null || echo 0)" = $BIG ]; then
		completed=$((completed + 1))
		[[ " ${crossing[*]} " = *" $k "* ]] && survived=$((survived + 1))
	else
		say "   download $k: curl exit, bytes, seconds: $(cat "$tmp/dl$k.w")"
	fi
done
# the edge's switch of the VIP (its log: "REALTIME VIP -> ID")
sw_ms=$(awk -v v=$VIP1 -v t="$t_fail" '$2 == v && $1 >= t { printf "%.1f", ($1 - t) * 1000; exit }' \
	"$state/logs/srv0.slb-edge.log")
say "   the edge routed $VIP1 to the other SLB server after ${sw_ms:-?} ms; a new connection" \
	"succeeded after $new_ms ms; $survived of the ${#crossing[@]} downloads running across" \
	"the failure completed ($completed of 8 in all)"

out=$(jq -n -c --argjson ok $ok --argjson used "$used" --argjson sticky $sticky \
	--argjson dsr "$dsr" --argjson new_ms "$new_ms" --argjson sw "${sw_ms:-null}" \
	--argjson surv "$([ ${#crossing[@]} -gt 0 ] && jq -n "$survived * 100 / ${#crossing[@]}" || echo null)" \
	--argjson crossed ${#crossing[@]} --argjson completed $completed --arg victim "$victim" \
	--argjson vsrc "${vsrc:-0}" --argjson steps "${steps:-0}" --argjson up "${up_ms:-null}" \
	--argjson joined "${joined:-false}" --argjson new_start "$new_start_ms" \
	--argjson new_first "${new_first_ms:-null}" \
	'{vip_sources_by_agents: $vsrc, requests_ok: $ok, requests_total: 40, backends_used: $used, sticky_ok: $sticky,
	  dsr_slb_bytes_pct: $dsr, slb_failure_new_conn_ms: $new_ms,
	  slb_failure_new_conn_started_ms: $new_start, slb_failure_attempts_from_ms: $new_first,
	  slb_failure_edge_switch_ms: $sw, slb_failure_conns_survived_pct: $surv,
	  slb_failure_conns_crossing: $crossed, slb_failure_downloads_completed: $completed,
	  slb_failed_server: $victim, autoscale_steps: $steps, autoscale_up_ms: $up,
	  autoscale_joined: $joined}')
if [ $JSON = 1 ]; then echo "$out"; else echo "$out" | jq .; fi
