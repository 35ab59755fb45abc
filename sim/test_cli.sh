#!/bin/bash
# peregrine sim fib, flood and failover from the command line: the seeds'
# headline figures, output keys, plots, exit codes and errors.
set -eu
cd "$(dirname "$0")/.."
. tests/lib.sh
need_cmd python3
P=$PEREGRINE_BIN
tmp=$(mktemp -d)
cleanup() { rm -rf "$tmp"; }
trap cleanup EXIT

jget() { python3 -c "import json,sys; d=json.load(sys.stdin); print(d$1)"; }

# fib: NetLord's ~650K VMs with 48-port, 64K-entry switches (10 VMs/server)
out=$($P sim fib --topo leafspine:spines=24,leaves=48,servers=24 --scheme netlord \
	--vms-per-server 10 --json)
[ "$(echo "$out" | jget "['max_vms']")" = 655200 ] || fail "netlord max_vms"
for k in fib_max fib_mean fits max_vms max_servers max_vms_per_server roles vlans; do
	echo "$out" | jget "['$k']" >/dev/null || fail "fib lacks $k"
done

# fib: Peregrine's 1,000,000 VMs in 64K entries; plain Ethernet overflows
out=$($P sim fib --topo vl2:da=50,di=50,per_tor=50 --scheme peregrine --vms-per-server 32 --json)
[ "$(echo "$out" | jget "['vms']")" = 1000000 ] || fail "peregrine vms"
[ "$(echo "$out" | jget "['fib_max']")" = 62500 ] || fail "peregrine fib_max"
[ "$(echo "$out" | jget "['fits']")" = True ] || fail "peregrine fits"
out=$($P sim fib --topo vl2:da=50,di=50,per_tor=50 --scheme l2 --vms-per-server 32 --json)
[ "$(echo "$out" | jget "['fits']")" = False ] || fail "l2 overflows"
[ "$(echo "$out" | jget "['fib_max']")" = 1031250 ] || fail "l2 fib_max"

# fib: every scheme at once (evpn included), bcube skipped on a Clos; a plot
out=$($P sim fib --topo leafspine:spines=2,leaves=3,servers=2 --scheme all \
	--vms-per-server 3 --json --plot "$tmp/fib.svg")
[ "$(echo "$out" | jget "['results'].__len__()")" = 7 ] || fail "all schemes"
grep -q '<svg' "$tmp/fib.svg" || fail "fib plot"
$P sim fib --topo bcube:n=4,k=1 --scheme bcube --vms-per-server 9 | grep -q 'max 4 ' \
	|| fail "bcube human output"

# flood: a one-entry table floods every packet at all three switches
out=$($P sim flood --topo leafspine:spines=1,leaves=2,servers=1 --scheme l2 \
	--vms-per-server 1 --fib 1 --packets 5000 --json)
[ "$(echo "$out" | jget "['flooded']")" = 15000 ] || fail "flood count"
out=$($P sim flood --topo leafspine:spines=2,leaves=4,servers=4 --scheme l2,netlord,peregrine \
	--vms-per-server 5,40 --fib 100 --packets 20000 --json --plot "$tmp/flood.png")
[ "$(echo "$out" | jget "['results'].__len__()")" = 6 ] || fail "flood runs"
[ "$(echo "$out" | jget "['results'][1]['flooded'] > 1000")" = True ] || fail "l2 floods"
[ "$(echo "$out" | jget "['results'][3]['flooded']")" = 0 ] || fail "netlord floods"
head -c 8 "$tmp/flood.png" | grep -q PNG || fail "flood plot"

# failover: replays from the seed; the keys; spanning-tree timers
a=$($P sim failover --topo leafspine:spines=4,leaves=20,servers=10 --scheme peregrine \
	--seed 4 --loss 0.1 --json)
b=$($P sim failover --topo leafspine:spines=4,leaves=20,servers=10 --scheme peregrine \
	--seed 4 --loss 0.1 --json)
[ "$a" = "$b" ] || fail "failover replay"
for k in recovery_ms p50_ms p99_ms clients affected_servers directory_ms; do
	echo "$a" | jget "['$k']" >/dev/null || fail "failover lacks $k"
done
out=$($P sim failover --topo leafspine:spines=4,leaves=20,servers=10 --scheme l2 --json)
[ "$(echo "$out" | jget "['recovery_ms'] >= 30000")" = True ] || fail "802.1D timers"
out=$($P sim failover --topo leafspine:spines=4,leaves=20,servers=10 --scheme peregrine \
	--runs 3 --json --compare-scopes --plot "$tmp/fo.svg")
[ "$(echo "$out" | jget "['runs'].__len__()")" = 3 ] || fail "failover runs"
grep -q '<svg' "$tmp/fo.svg" || fail "failover plot"

# help and errors
for e in fib flood failover; do
	$P sim $e --help | grep -q "Usage: peregrine sim $e" || fail "$e help"
done
$P sim --help | grep -q failover || fail "sim help lists failover"
$P bench --help | grep -q sim_fib || fail "bench lists sim_fib"
expect_fail "bench failover --runs 0" $P bench failover --runs 0
expect_fail "bench failover stray option" $P bench failover --fast
expect_fail "unknown scheme" $P sim fib --topo fattree:k=4 --scheme nope --vms-per-server 1
expect_fail "missing V" $P sim fib --topo fattree:k=4 --scheme l2
expect_fail "bad V" $P sim fib --topo fattree:k=4 --scheme l2 --vms-per-server -3
expect_fail "bad topology" $P sim fib --topo fattree:k=3 --scheme l2 --vms-per-server 1
expect_fail "bcube on a Clos" $P sim fib --topo fattree:k=4 --scheme bcube --vms-per-server 1
expect_fail "plot extension" $P sim fib --topo fattree:k=4 --scheme l2 --vms-per-server 1 \
	--plot "$tmp/x.jpg"
expect_fail "flood bad list" $P sim flood --topo fattree:k=4 --scheme l2 --vms-per-server 1,,2
expect_fail "failover scheme" $P sim failover --topo fattree:k=4 --scheme vl2
expect_fail "failover target" $P sim failover --topo fattree:k=4 --scheme l2 --target nosuch
expect_fail "failover loss" $P sim failover --topo fattree:k=4 --scheme l2 --loss 2
expect_fail "unknown experiment" $P sim frobnicate
printf 'switches: [a, b]\nservers: [h1, h2]\nlinks: [[h1, a], [h2, b]]\n' > "$tmp/split.yaml"
expect_fail "disconnected" $P sim flood --topo "$tmp/split.yaml" --scheme l2 --vms-per-server 1
echo "sim cli: all checks passed"
