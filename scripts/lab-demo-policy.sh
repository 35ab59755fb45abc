#!/bin/bash
# The policy and edge demo (`peregrine lab demo --policy`, docs/policy.md
# "In the demo"): a lab that declares security groups (`policy:`) and an
# Internet edge (`edge:`) with a VC external limit, measured by
# scripts/demo-policy-measure.sh (the same script lab/test_edge.sh runs and
# asserts on its own lab).
#
#            spine0        spine1
#           /      \      /      \
#        leaf0            leaf1
#        /   \            /   \
#     srv0   srv1      srv2   srv3        one agent each
#      |
#   red-gw, blue-gw (10.0.0.254) -> the gateway P-edge -> the client P-inet
#   red-srvN / blue-srvN: 10.0.0.(N+1); red-srv2 has a policy; red's way out
#   is limited to 100 Mbit/s each way
#
# Usage: lab-demo-policy.sh [--json] (PEREGRINE = the binary, PREFIX = the
# lab's prefix).  Bounded: the measurement's runs have counts and durations.
set -euo pipefail
. "$(dirname "$0")/demo-lib.sh"
t_start=$(now_ns)
cat > "$tmp/lab.yaml" <<'EOF2'
name: policy-demo
topology: leafspine:spines=2,leaves=2,servers=2
vdcs:
  - {name: red, id: 1, subnet: 10.0.0.0/24}
  - {name: blue, id: 2, subnet: 10.0.0.0/24}
placement:
  per_server: 1
policy:
  - vm: red-srv2
    rules: ["in tcp 8080 from 198.51.100.0/24", "in icmp from 10.0.0.0/24"]
edge:
  server: srv0
  client: 198.51.100.7/24
  public: 203.0.113.0/24
  nat:
    - {vm: red-srv2, public: 203.0.113.12}
  limits:
    - {vdc: red, rate: 100m}
EOF2
say "== building a lab with a policy and an edge (prefix $X)"
$P lab down --prefix "$X" >/dev/null 2>&1 || true
$P lab up "$tmp/lab.yaml" --prefix "$X" >&2
# The RAS programs every switch: 2 entries per server (4 servers).
for _ in $(seq 100); do
	used=$($P lab status --prefix "$X" --json | jq '[.nodes[] | select(.kind == "switch") | .fib_used // 0] | min')
	[ "$used" -ge 8 ] && break
	sleep 0.1
done
[ "$used" -ge 8 ] || { echo "lab demo: the RAS did not program the switches (min FIB $used)" >&2; exit 1; }
say "== security group, VC external limit, NAT"
PEREGRINE=$P PREFIX=$X "$(dirname "$0")/demo-policy-measure.sh" > "$tmp/keys.json"
j() { jq -r "$1" "$tmp/keys.json"; }
say "   red-srv2 with the demo's rules: allowed peer $(j .policy_allowed_ok), denied peer dropped $(j .policy_denied_ok)"
say "   an update under a 50 pps ping train: applied in $(human_round "$(j .policy_update_ms)" 1) ms, $(j .policy_update_lost) lost"
say "   red's external limit $(j .rate_limit_mbps) Mbit/s: out $(human_round "$(j .rate_limit_out_mbps)" 1), in $(human_round "$(j .rate_limit_in_mbps)" 1) Mbit/s ($(j .rate_limit_error_pct)% off)"
say "   NAT: $(j .nat_connections) connections from $(j .nat_vdcs) VDCs with the same tuples, each its own: $(j .nat_connections_ok)"
secs=$(( ($(now_ns) - t_start) / 1000000000 ))
say "== done in $secs s"
[ $JSON = 1 ] && jq --argjson s "$secs" '. + {seconds: $s}' "$tmp/keys.json"
[ "$(j .policy_allowed_ok)" = true ] && [ "$(j .policy_denied_ok)" = true ] &&
	[ "$(j .nat_connections_ok)" = true ]
