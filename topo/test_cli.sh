#!/bin/bash
# peregrine topo from the command line: output keys, exit codes, errors.
set -eu
cd "$(dirname "$0")/.."
. tests/lib.sh
need_cmd python3
P=$PEREGRINE_BIN
tmp=$(mktemp -d)
cleanup() { rm -rf "$tmp"; }
trap cleanup EXIT

jget() { python3 -c "import json,sys; d=json.load(sys.stdin); print(d$1)"; }

# stats: JSON keys and values
out=$($P topo stats vl2:da=144,di=144 --json)
[ "$(echo "$out" | jget "['servers']")" = 103680 ] || fail "vl2 servers"
[ "$(echo "$out" | jget "['diameter']")" = 6 ] || fail "vl2 diameter"
for k in servers switches links diameter; do
	echo "$out" | jget "['$k']" >/dev/null || fail "stats lacks $k"
done

# check: bridges of a single-homed leaf-spine are its access links
out=$($P topo check leafspine:spines=2,leaves=2,servers=2 --json)
[ "$(echo "$out" | jget "['connected']")" = True ] || fail "connected"
[ "$(echo "$out" | jget "['two_edge_connected']")" = False ] || fail "2ec"
[ "$(echo "$out" | jget "['bridges'].__len__()")" = 4 ] || fail "bridges"
out=$($P topo check leafspine:spines=2,leaves=2,servers=2,homing=2 --json)
[ "$(echo "$out" | jget "['bridges']")" = "[]" ] || fail "homing=2 bridges"

# dot
$P topo dot fattree:k=4 > "$tmp/ft.dot"
grep -q '^graph ' "$tmp/ft.dot" || fail "dot header"
[ "$(grep -c -- ' -- ' "$tmp/ft.dot")" = 48 ] || fail "dot edge count"

# files
cat > "$tmp/t.yaml" <<'YAML'
switches: [s1, s2]
servers: [h1]
links: [[s1, s2], [h1, s1], [h1, s2]]
YAML
$P topo check "$tmp/t.yaml" | grep -q '2-edge-connected   yes' || fail "file check"
printf 'switches: [s1]\nservers: [h1]\nlinks: [[s1, h2]]\n' > "$tmp/bad.yaml"
expect_fail "bad file" $P topo stats "$tmp/bad.yaml"
$P topo stats "$tmp/bad.yaml" 2>&1 | grep -q "bad.yaml:3: links\[0\]: unknown node 'h2'" \
	|| fail "bad file message"

# bad command lines
expect_fail "unknown topology" $P topo stats nosuch:x=1
expect_fail "bad parameter" $P topo stats fattree:k=3
expect_fail "missing spec" $P topo stats
expect_fail "unknown subcommand" $P topo frob fattree:k=4
expect_fail "unknown command" $P frobnicate
expect_fail "bad option" $P topo stats fattree:k=4 --nope
$P topo --help | grep -q 'Usage: peregrine topo' || fail "help"
$P --help | grep -q 'topo' || fail "top-level help"
echo "topo cli: all checks passed"
