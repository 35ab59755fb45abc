#!/bin/bash
# Every daemon of the default lab serves Prometheus metrics on its
# management address (docs/metrics.md): `lab status --json` names each URL,
# every page passes `promtool check metrics`, holds the daemon's own
# counters and moves when the fabric does (a link cut shows in the RAS's
# reprogramming histogram and the switches' link reports); the endpoint
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
$P lab link down leaf0 spine0 $L >/dev/null
for _ in $(seq 50); do
	after=$(value ras peregrine_ras_reprogram_seconds_count)
	[ "$after" -gt "$before" ] && break
	sleep 0.1
done
[ "$after" -gt "$before" ] || fail "a link cut did not show in peregrine_ras_reprogram_seconds ($before -> $after)"
reports=$(get "$(page switchd)" | awk '$1 == "peregrine_switchd_link_reports_total" { print $2 }')
echo "ok: a link cut: RAS reprogrammings $before -> $after; a switchd reported $reports link changes"

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
