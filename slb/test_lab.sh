#!/bin/bash
# The load balancer in a lab: `peregrine lab demo --slb --json`
# (scripts/lab-demo-slb.sh, docs/slb.md "In the lab") with its checks as
# assertions, after a lab file with bad `slb:` sections is refused with its
# line and field before anything is made.
#
#            spine0
#           /      \
#       leaf0        leaf1
#      / |  \       /  |  \
#  srv0 srv1 srv2 srv3 srv4 srv5
#   |    SLB  SLB  web/app backends (red-srv3, red-srv4: HTTP on :80)
#   legs -> P-edge (gateway) -- P-inet (client 198.51.100.7)
#   P-edge --P-sx-- srv0 --(fabric)--> the VIP's SLB server --> a backend
#   backend --(its data plane, encapsulated to red-gw on srv0)--> P-edge
set -eu
cd "$(dirname "$0")/.."
. tests/lib.sh
need_root
need_cmd ip
need_cmd nft
need_cmd jq
need_cmd curl
need_cmd python3
P=$PEREGRINE_BIN
PT=$(test_prefix b)
tmp=$(mktemp -d)
cleanup() { $P lab down --prefix "$PT" >/dev/null 2>&1 || true; rm -rf "$tmp"; }
trap cleanup EXIT

# bad input: the file, the line and the field, before anything is made
cat > "$tmp/bad.yaml" <<'YAML'
topology: leafspine:spines=1,leaves=2,servers=3
vdcs: [{name: red, id: 1, subnet: 10.0.0.0/24}]
placement: {per_server: 1}
edge: {server: srv0}
slb:
  servers: [srv1, srv2]
  vcs:
    - {name: web, vdc: red, vip: 203.0.113.10, ports: [tcp/80], backends: [red-srv3, red-srv9]}
YAML
! $P lab up "$tmp/bad.yaml" --prefix "$PT" > "$tmp/out" 2>&1 || fail "a backend that is no VM was accepted"
grep -q "bad.yaml:8: slb.vcs\[\].backends\[\]: 'red-srv9'" "$tmp/out" || fail "bad backend: $(cat "$tmp/out")"
sed -i 's|servers: \[srv1, srv2\]|servers: [srv1, srv0]|' "$tmp/bad.yaml"
! $P lab up "$tmp/bad.yaml" --prefix "$PT" > "$tmp/out" 2>&1 || fail "the edge server as an SLB server was accepted"
grep -q "bad.yaml:6: slb.servers\[\]: 'srv0' is the edge server" "$tmp/out" || fail "bad server: $(cat "$tmp/out")"
sed -i 's|servers: \[srv1, srv0\]|servers: [srv1, srv2]|; s|tcp/80|sctp/80|; s|red-srv9|red-srv4|' "$tmp/bad.yaml"
! $P lab up "$tmp/bad.yaml" --prefix "$PT" > "$tmp/out" 2>&1 || fail "a bad port was accepted"
grep -q "bad.yaml:8: slb.vcs: .*ports\[\]: expected tcp/PORT" "$tmp/out" || fail "bad port: $(cat "$tmp/out")"
ip netns list | grep -q "^${PT}-" && fail "a refused lab file left namespaces"
echo "bad slb: sections refused with file, line and field"

PEREGRINE=$P PREFIX=$PT bash scripts/lab-demo-slb.sh --json > "$tmp/demo.json"
cat "$tmp/demo.json"
# the VMs answer from the VIPs because their agents allow it (lab up writes
# no entry of its own): 2 VCs on each of 2 backends
jq -e '.vip_sources_by_agents == 4' "$tmp/demo.json" >/dev/null ||
	fail "the backends' agents did not write the VIP sources"
jq -e '.requests_ok == 40 and .requests_total == 40' "$tmp/demo.json" >/dev/null ||
	fail "requests through the VIP failed"
jq -e '.backends_used == 2' "$tmp/demo.json" >/dev/null || fail "requests not spread over both backends"
jq -e '.sticky_ok == true' "$tmp/demo.json" >/dev/null || fail "the sticky VIP sent a client to two backends"
jq -e '.dsr_slb_bytes_pct != null and .dsr_slb_bytes_pct < 2' "$tmp/demo.json" >/dev/null ||
	fail "direct server return: the SLB servers carried >= 2% of a download"
jq -e '.slb_failure_conns_crossing >= 4 and .slb_failure_conns_survived_pct == 100' \
	"$tmp/demo.json" >/dev/null || fail "downloads across the failed SLB server broke"
# the issue's target is 100 ms; bounded at 300 ms, as slb/test_netns.sh, for
# a loaded 2-core machine (docs/slb.md has the figures)
jq -e '.slb_failure_new_conn_ms != null and .slb_failure_new_conn_ms < 300' "$tmp/demo.json" >/dev/null ||
	fail "no new connection within 300 ms of the SLB server's failure"
# auto scaling: the master asked for the standby srv5 under load, the lab
# started it, it joined the ring; idle, it was released and stopped
jq -e '.autoscale_steps == 2 and .autoscale_joined == true' "$tmp/demo.json" >/dev/null ||
	fail "auto scaling: no power-on and power-off step carried out"
ip netns list | grep -q "^${PT}-" && fail "the demo left namespaces"
echo PASS
