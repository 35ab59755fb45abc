#!/bin/bash
# The daemons' command lines: every daemon takes the --log-level names its
# --help documents (and the short ones), and names the accepted ones when
# refusing; a production agent (no --lab) ignores PEREGRINE_NO_AGENT.
# Nothing here opens a socket: --help stops each daemon after its options,
# and the agent stops at its (missing) configuration file.
set -eu
cd "$(dirname "$0")/.."
. tests/lib.sh
P=$PEREGRINE_BIN
tmp=$(mktemp -d)
cleanup() { rm -rf "$tmp"; }
trap cleanup EXIT

for d in agent directory ras switchd; do
	$P $d --help | grep -q -- '--log-level LEVEL *error, warn, info (default) or debug' ||
		fail "$d --help does not document error, warn, info, debug"
	for lvl in error err warn warning info debug; do
		out=$($P $d --log-level $lvl --help 2>&1) || fail "$d --log-level $lvl: exit $?"
		echo "$out" | grep -q '^Usage: peregrine '"$d" || fail "$d --log-level $lvl: $out"
	done
	if out=$($P $d --log-level loud --help 2>&1); then
		fail "$d accepted --log-level loud"
	fi
	echo "$out" | grep -q "'loud' is not error, warn, info or debug" ||
		fail "$d --log-level loud: $out"
	echo "ok: $d --log-level"
done

# PEREGRINE_NO_AGENT stops only an agent that a lab started (--lab).
missing="$tmp/none.yaml"
out=$(PEREGRINE_NO_AGENT=1 $P agent --lab t0 --config "$missing" 2>&1) ||
	fail "agent --lab with PEREGRINE_NO_AGENT: exit $?: $out"
echo "$out" | grep -q 'PEREGRINE_NO_AGENT is set in lab t0: not running' || fail "lab agent: $out"
if out=$(PEREGRINE_NO_AGENT=1 $P agent --config "$missing" 2>&1); then
	fail "a production agent obeyed PEREGRINE_NO_AGENT: $out"
fi
echo "$out" | grep -q 'PEREGRINE_NO_AGENT is ignored outside a lab' || fail "no warning: $out"
echo "$out" | grep -q "$missing" || fail "the agent did not go on to read its configuration: $out"
echo "ok: PEREGRINE_NO_AGENT outside a lab is ignored"

# --scheme netlord runs the NLA (cmd/agent_netlord.c), not the Peregrine
# agent: a server that is not on a NetLord topology is refused by it
$P keygen "$tmp/key" >/dev/null
cat >"$tmp/nl.yaml" <<YAML
server: srv0
node: 1
nics: [nonic0]
directory: 127.0.0.1:9461
ras: 127.0.0.1:9462
key: $tmp/key
topology: bcube:n=2,k=1
vms: []
YAML
if out=$($P agent --scheme netlord --config "$tmp/nl.yaml" 2>&1); then
	fail "agent --scheme netlord ran on a BCube topology: $out"
fi
echo "$out" | grep -q 'srv0: not a server of a NetLord topology' || fail "agent --scheme netlord: $out"
echo "ok: agent --scheme netlord is the NLA (a BCube server refused)"

# EVPN's VTEPs run FRR: refused too, not the Peregrine agent in its place
if out=$($P agent --scheme evpn 2>&1); then
	fail "agent --scheme evpn ran: $out"
fi
echo "$out" | grep -q -- '--scheme evpn: an EVPN server runs FRR' || fail "agent --scheme evpn: $out"
echo "ok: agent --scheme evpn is refused"
