#!/bin/bash
# Every daemon of the default lab serves Prometheus metrics on its
# management address (docs/metrics.md): `lab status --json` names each URL,
# every page passes `promtool check metrics`, holds the daemon's own
# counters and moves when the fabric does (a link cut shows in the RAS's
# reprogramming histogram, the switches' link reports and, timed, in the
# fail-over histogram of an agent that caches a pair across it); the endpoint
# answers 404 and 405 to what it does not serve and is not reachable on
# the node's loopback.
set -eu
cd "$(dirname "$0")/.."
. tests/lib.sh
need_root
need_cmd ip
need_cmd jq
need_cmd curl
need_cmd promtool
P=$PEREGRINE_BIN
PT=$(test_prefix m)
L="--prefix ${PT}"
tmp=$(mktemp -d)
cleanup() {
	$P lab down $L >/dev/null 2>&1 || true
	rm -rf "$tmp"
}
trap cleanup EXIT

mg() { ip netns exec "${PT}-mgmt" "$@"; }
get() { mg curl -sS --max-time 5 "$1"; }

$P lab up $L >/dev/null
$P lab status $L --json >"$tmp/status.json"
jq -r '(.nodes[] | .metrics_url | to_entries[] | "\(.key) \(.value)"),
	(.mgmt_metrics_url | to_entries[] | "\(.key) \(.value)")' "$tmp/status.json" >"$tmp/urls"
n=$(wc -l <"$tmp/urls")
[ "$n" -eq 16 ] || fail "expected 16 metrics URLs (6 switchd, 8 agents, directory, RAS), got $n"

# metric DAEMON NAME: the value of an unlabelled sample on DAEMON's page
page() { grep -m1 "^$1 " "$tmp/urls" | cut -d' ' -f2; }
value() { get "$(page "$1")" | awk -v m="$2" '$1 == m { print $2; exit }'; }

# every page: valid, and the daemon's own
while read -r daemon url; do
	f="$tmp/$(echo "$url" | tr -c 'a-z0-9' _)"
	# the daemons publish once a second: the first page may be a moment late
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		get "$url" >"$f" 2>/dev/null && [ -s "$f" ] && break
		sleep 0.3
	done
	[ -s "$f" ] || fail "$daemon at $url: no metrics"
	promtool check metrics <"$f" >"$tmp/lint" 2>&1 || { cat "$tmp/lint"; fail "$daemon at $url: promtool"; }
	grep -q "^peregrine_daemon_info{daemon=\"$daemon\"" "$f" || fail "$daemon at $url: no daemon_info"
	grep -q "^peregrine_${daemon}_" "$f" || fail "$daemon at $url: none of its own metrics"
done <"$tmp/urls"
echo "ok: $n endpoints pass promtool check metrics"

# the figures are the daemons' own
[ "$(value agent peregrine_agent_vms)" = 2 ] || fail "an agent with 2 VMs says $(value agent peregrine_agent_vms)"
[ "$(value switchd peregrine_switchd_fib_capacity)" -gt 0 ] || fail "switchd's FIB capacity"
[ "$(value directory peregrine_directory_entries)" -ge 16 ] || fail "the directory's 16 VMs"
[ "$(value ras peregrine_ras_converged)" = 1 ] || fail "the RAS is not converged"
before=$(value ras peregrine_ras_reprogram_seconds_count)
# srv0's agent caches red-srv4 (a ping), and the cut is on that pair's
# primary path: the directory takes that tree away from srv0's entry and
# gives it back once the RAS has reprogrammed, a fail-over srv0's agent
# times (peregrine_agent_failover_seconds)
$P lab exec red-srv0 $L -- ping -c 2 -i 0.2 -W 1 -q 10.0.0.5 >/dev/null
path=$($P trace red 10.0.0.1 10.0.0.5 $L --json)
cut_a=$(echo "$path" | jq -r '.hops[0].node'); cut_b=$(echo "$path" | jq -r '.hops[0].next')
srv0=$(jq -r '.nodes[] | select(.name == "srv0") | .metrics_url.agent' "$tmp/status.json")
fo_before=$(get "$srv0" | awk '$1 == "peregrine_agent_failover_seconds_count" { print $2 }')
[ "$fo_before" = 0 ] || fail "srv0's agent timed $fo_before fail-overs before any failure"
$P lab link down "$cut_a" "$cut_b" $L >/dev/null
for _ in $(seq 50); do
	after=$(value ras peregrine_ras_reprogram_seconds_count)
	[ "$after" -gt "$before" ] && break
	sleep 0.1
done
[ "$after" -gt "$before" ] || fail "a link cut did not show in peregrine_ras_reprogram_seconds ($before -> $after)"
reports=$(get "$(page switchd)" | awk '$1 == "peregrine_switchd_link_reports_total" { print $2 }')
echo "ok: a link cut: RAS reprogrammings $before -> $after; a switchd reported $reports link changes"
for _ in $(seq 50); do
	get "$srv0" >"$tmp/srv0.prom"
	fo=$(awk '$1 == "peregrine_agent_failover_seconds_count" { print $2 }' "$tmp/srv0.prom")
	[ "${fo:-0}" -gt 0 ] && break
	sleep 0.1
done
[ "${fo:-0}" -gt 0 ] || fail "srv0's agent timed no fail-over after $cut_a -- $cut_b was cut"
promtool check metrics <"$tmp/srv0.prom" >"$tmp/lint" 2>&1 || { cat "$tmp/lint"; fail "srv0's agent after the cut: promtool"; }
n_fo=$(awk '$1 == "peregrine_agent_failovers_total" { print $2 }' "$tmp/srv0.prom")
n_fb=$(awk '$1 == "peregrine_agent_failbacks_total" { print $2 }' "$tmp/srv0.prom")
inf=$(awk '$1 == "peregrine_agent_failover_seconds_bucket{le=\"+Inf\"}" { print $2 }' "$tmp/srv0.prom")
[ "$n_fb" = "$fo" ] && [ "$inf" = "$fo" ] && [ "$n_fo" -ge "$fo" ] ||
	fail "srv0's fail-overs $n_fo, fail-backs $n_fb, timed $fo, +Inf bucket $inf"
sum=$(awk '$1 == "peregrine_agent_failover_seconds_sum" { print $2 }' "$tmp/srv0.prom")
awk -v s="$sum" -v n="$fo" 'BEGIN { exit !(s > 0 && s / n < 5) }' ||
	fail "srv0's fail-overs took $sum s in all ($fo)"
echo "ok: $cut_a -- $cut_b cut: srv0's agent failed over $n_fo times and back $n_fb, $sum s in all"

# what the endpoint does not serve
url=$(page directory)
code=$(mg curl -s -o /dev/null -w '%{http_code}' --max-time 5 "${url%/metrics}/other")
[ "$code" = 404 ] || fail "another path: $code"
code=$(mg curl -s -o /dev/null -w '%{http_code}' --max-time 5 -X POST -d x "$url")
[ "$code" = 405 ] || fail "POST: $code"
# the page is rendered once a second: the count shows within two renders
for _ in $(seq 25); do
	get "$url" | grep -q 'peregrine_metrics_requests_total{code="404"} 1' && break
	sleep 0.1
done
get "$url" | grep -q 'peregrine_metrics_requests_total{code="404"} 1' ||
	fail "the 404 is not counted"
# bound to the management address only: not on a server's loopback
port=$(page agent | sed 's|.*:\([0-9]*\)/metrics|\1|')
ip netns exec "${PT}-srv0" curl -s --max-time 2 "http://127.0.0.1:$port/metrics" >/dev/null &&
	fail "the agent's metrics answer on 127.0.0.1"
echo "ok: 404, 405, management address only"
