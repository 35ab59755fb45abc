#!/bin/bash
# peregrine topo routes from the command line: JSON keys, figures that follow
# from the topology, per-server output, exit codes and errors.
set -eu
cd "$(dirname "$0")/.."
. tests/lib.sh
need_cmd python3
P=$PEREGRINE_BIN
tmp=$(mktemp -d)
cleanup() { rm -rf "$tmp"; }
trap cleanup EXIT

jget() { python3 -c "import json,sys; d=json.load(sys.stdin); print(d$1)"; }

# dual-homed leaf-spine: verified, nothing shared, two entries per server
out=$($P topo routes leafspine:spines=2,leaves=4,servers=2,homing=2 --json)
for k in servers trees_ok shared_links fib_max fib_mean seconds; do
	echo "$out" | jget "['$k']" >/dev/null || fail "routes lacks $k"
done
[ "$(echo "$out" | jget "['servers']")" = 8 ] || fail "servers"
[ "$(echo "$out" | jget "['trees_ok']")" = True ] || fail "trees_ok"
[ "$(echo "$out" | jget "['shared_links']")" = "[]" ] || fail "shared links"
[ "$(echo "$out" | jget "['fib_max']")" = 16 ] || fail "fib_max"
[ "$(echo "$out" | jget "['fib']['leaf0'].__len__()")" = 16 ] || fail "leaf0 entries"

# single-homed: exactly the access links are shared
out=$($P topo routes fattree:k=4 --json)
[ "$(echo "$out" | jget "['trees_ok']")" = True ] || fail "fattree trees_ok"
[ "$(echo "$out" | jget "['shared_links'].__len__()")" = 16 ] || fail "fattree shared"

# BCube: servers relay and nothing is shared
out=$($P topo routes bcube:n=3,k=1 --json)
[ "$(echo "$out" | jget "['trees_ok']")" = True ] || fail "bcube trees_ok"
[ "$(echo "$out" | jget "['shared_links']")" = "[]" ] || fail "bcube shared"

# one server, by name and by index; primary and backup leave on different NICs
$P topo routes leafspine:spines=2,leaves=4,servers=2,homing=2 --server srv3 > "$tmp/one"
grep -q '^leaf0' "$tmp/one" || fail "per-server entries"
grep -q 'server NICs toward srv3' "$tmp/one" || fail "NIC listing"
grep -q 'srv0 .*NIC 0 .*NIC 1' "$tmp/one" || fail "srv0 uses both NICs"
out=$($P topo routes leafspine:spines=2,leaves=4,servers=2,homing=2 --server 3 --json)
[ "$(echo "$out" | jget "['fib']['spine0'].__len__()")" = 2 ] || fail "--server 3 entries"

# large: summarised, not listed
$P topo routes vl2:da=12,di=12 > "$tmp/big"
grep -q 'verified' "$tmp/big" || fail "vl2 verified"
! grep -q '^forwarding entries' "$tmp/big" || fail "large topology listed entries"

expect_fail "unknown server" $P topo routes fattree:k=4 --server nosuch
expect_fail "switch is not a server" $P topo routes fattree:k=4 --server core0
expect_fail "--server elsewhere" $P topo stats fattree:k=4 --server srv0
expect_fail "bad spec" $P topo routes fattree:k=3
expect_fail "BCube too large to hold" $P topo routes bcube:n=16,k=3
$P topo --help | grep -q 'routes' || fail "help lists routes"
echo "ok"
