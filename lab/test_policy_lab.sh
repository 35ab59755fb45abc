#!/bin/bash
# Security groups in the default lab, enforced by the lab's own agents.  A
# lab file with a bad rule is refused with its line and field; the lab
# file's policy for red-srv6 is installed by srv6's agent at start, and its
# egress limit for red-srv5 (policy[].rate) holds within 5%.  Then a
# policy applied to red-srv4's data plane (srv4's agent, pinned as P-srv4)
# lets red-srv0 in and keeps red-srv1 out; blue-srv4, the same address in
# the other VDC, is not affected; an update under a ping train from red-srv0
# loses nothing.  Then the agent's own: a policy file named in srv4's
# configuration (vms[].policy) installed on SIGHUP, edited, refused when it
# does not parse (the old one stays), taken away with its key.  Prints the demo keys policy_allowed_ok, policy_denied_ok
# and policy_update_ms as JSON.
#
#            spine0        spine1
#           /  |   \      /  |   \
#      leaf0 leaf1 leaf2 leaf3
#        \   /       \   /
#     srv0..srv3   srv4..srv7     one agent each, pinned as P-srvN
#     red-srvN  10.0.0.(N+1)  VDC 1, the policy on red-srv4 (10.0.0.5)
#     blue-srvN 10.0.0.(N+1)  VDC 2
set -eu
cd "$(dirname "$0")/.."
. tests/lib.sh
need_root
need_cmd ip
need_cmd ping
need_cmd iperf3
need_cmd jq
P=$PEREGRINE_BIN
PT=$(test_prefix g)
L="--prefix ${PT}"
ST=/run/peregrine/lab-${PT}
tmp=
cleanup() {
	$P lab down $L >/dev/null 2>&1 || true	# also the agents' pinned data planes
	[ -n "$tmp" ] && rm -rf "$tmp"
}
trap cleanup EXIT
tmp=$(mktemp -d)

TOPO=leafspine:spines=2,leaves=4,servers=2,homing=2
vm() { ip netns exec "${PT}-$1" "${@:2}"; }
mac() { local i=$(($1 * 2)); printf '02:00:00:02:%02x:%02x' $((i >> 8)) $((i & 255)); }
# the node number of VM NAME, from its server's agent configuration
vm_node() { grep -o "name: $1, vdc: [0-9]*, ip: [0-9.]*, node: [0-9]*" "$ST/agents/$2.yaml" | awk '{print $NF}'; }
pcount() { $P policy stats "${PT}-$1" | awk -v n="$2" '$1 == n { print $2 }'; }

# the default lab (docs/lab.md) with a policy for red-srv6 in the lab file
cat > "$tmp/lab.yaml" <<'EOF2'
name: policy
topology: leafspine:spines=2,leaves=4,servers=2,homing=2
vdcs:
  - {name: red, id: 1, subnet: 10.0.0.0/24}
  - {name: blue, id: 2, subnet: 10.0.0.0/24}
placement:
  per_server: 1
policy:
  - vm: red-srv6
    rules:
      - in icmp from 10.0.0.1
      - in tcp 22 from 10.0.0.0/24
  - {vm: red-srv5, rate: 100m}
EOF2
sed 's|in tcp 22 from 10.0.0.0/24|in tcp 22 from 10.0.0.1/24|' "$tmp/lab.yaml" > "$tmp/bad.yaml"
! $P lab up "$tmp/bad.yaml" $L > "$tmp/bad.txt" 2>&1 || fail "a lab file with a bad rule was accepted"
grep -q "bad.yaml:12: policy\[\].rules\[\]: peer:" "$tmp/bad.txt" || fail "the bad rule's file, line and field: $(cat "$tmp/bad.txt")"
$P lab up "$tmp/lab.yaml" $L >/dev/null
for i in $(seq 100); do	# every agent attached (10 s at most)
	n=$(cat "$ST"/logs/srv*.agent.log 2>/dev/null | grep -c "VMs, 2 NICs" || true)
	[ "$n" = 8 ] && break
	sleep 0.1
done
[ "$n" = 8 ] || fail "only $n of 8 agents started"
lab_tree_fib $TOPO "$PT" || fail "cannot install the tree FIBs"

# the lab file's policy, installed by srv6's agent at its start
grep -q "policy of red-srv6: 2 rules" "$ST/logs/srv6.agent.log" || fail "srv6's agent did not install the lab file's policy"
vm red-srv0 ping -c 1 -W 2 -q 10.0.0.7 >/dev/null || fail "lab policy: red-srv0 -> red-srv6 denied"
! vm red-srv1 ping -c 1 -W 1 -q 10.0.0.7 >/dev/null || fail "lab policy: red-srv1 -> red-srv6 allowed"
vm blue-srv1 ping -c 1 -W 2 -q 10.0.0.7 >/dev/null || fail "lab policy: blue-srv6 affected"

node=$(vm_node red-srv4 srv4)
[ -n "$node" ] || fail "red-srv4 not in srv4's configuration"
MAC=$(mac "$node")
vm red-srv0 ping -c 1 -W 2 -q 10.0.0.5 >/dev/null || fail "red-srv0 cannot reach red-srv4 before the policy"
vm red-srv1 ping -c 1 -W 2 -q 10.0.0.5 >/dev/null || fail "red-srv1 cannot reach red-srv4 before the policy"

printf '%s\n' "in icmp from 10.0.0.1" "in tcp 22 from 10.0.0.0/24" > "$tmp/v1.pol"
$P policy apply "${PT}-srv4" --mac "$MAC" --file "$tmp/v1.pol" --json > "$tmp/apply1.json"
allowed=false denied=false
vm red-srv0 ping -c 3 -i 0.2 -W 2 -q 10.0.0.5 >/dev/null && allowed=true
d0=$(pcount srv4 drop_rule)
vm red-srv1 ping -c 2 -i 0.2 -W 1 -q 10.0.0.5 >/dev/null || denied=true
d1=$(pcount srv4 drop_rule)
echo "red-srv0 -> red-srv4 allowed: $allowed; red-srv1 -> red-srv4 denied: $denied (drop_rule $d0 -> $d1)"
$allowed || fail "the allowed ping was dropped"
$denied || fail "the denied ping got through"
[ "$d1" -gt "$d0" ] || fail "the denied pings were not counted on srv4"
vm blue-srv1 ping -c 1 -W 2 -q 10.0.0.5 >/dev/null || fail "blue-srv4 (same address, VDC 2) was affected"

# an update that still allows red-srv0, under a 50 pps ping train
vm red-srv0 ping -c 100 -i 0.02 -W 1 10.0.0.5 > "$tmp/train.txt" &
train=$!
sleep 0.5
printf '%s\n' "in icmp from 10.0.0.0/30" "in tcp 80 from any" > "$tmp/v2.pol"
$P policy apply "${PT}-srv4" --mac "$MAC" --file "$tmp/v2.pol" --json > "$tmp/apply2.json"
wait "$train" || true
grep -q ' 0% packet loss' "$tmp/train.txt" || fail "the update lost pings: $(grep loss "$tmp/train.txt")"
ms=$(grep -o '"apply_ms": [0-9.]*' "$tmp/apply2.json" | awk '{print $2}')
vm red-srv1 ping -c 1 -W 2 -q 10.0.0.5 >/dev/null || fail "red-srv1 (10.0.0.2) still denied after the update"
! vm red-srv3 ping -c 1 -W 1 -q 10.0.0.5 >/dev/null || fail "red-srv3 (10.0.0.4) allowed after the update"
# the agent's own: red-srv4's policy file named in srv4's configuration,
# installed on SIGHUP, changed on the next, taken away when the key goes
agent_hup() {	# agent_hup: SIGHUP srv4's agent, wait for its reload's log line
	local log="$ST/logs/srv4.agent.log" n
	n=$(grep -c "SIGHUP: " "$log" || true)
	kill -HUP "$(cat "$ST/pids/srv4.agent")"
	for i in $(seq 100); do
		[ "$(grep -c "SIGHUP: " "$log" || true)" -gt "$n" ] && return 0
		sleep 0.05
	done
	fail "srv4's agent did not reload"
}
printf '%s\n' "in icmp from 10.0.0.2" > "$tmp/agent.pol"
sed -i "/name: red-srv4,/ s| }\$|, policy: \"$tmp/agent.pol\" }|" "$ST/agents/srv4.yaml"
grep -q "policy: \"$tmp/agent.pol\"" "$ST/agents/srv4.yaml" || fail "cannot name the policy in srv4's configuration"
agent_hup
grep -q "policy of red-srv4: 1 rules" "$ST/logs/srv4.agent.log" || fail "the agent did not install red-srv4's policy"
vm red-srv1 ping -c 1 -W 2 -q 10.0.0.5 >/dev/null || fail "agent policy: red-srv1 denied"
! vm red-srv0 ping -c 1 -W 1 -q 10.0.0.5 >/dev/null || fail "agent policy: red-srv0 allowed"
printf '%s\n' "in icmp from 10.0.0.1" > "$tmp/agent.pol"
agent_hup
vm red-srv0 ping -c 1 -W 2 -q 10.0.0.5 >/dev/null || fail "agent policy, edited: red-srv0 denied"
printf '%s\n' "in icmp from 10.0.0.1" "in tcp 99999 from any" > "$tmp/agent.pol"
agent_hup
grep -q "agent.pol:2: ports:" "$ST/logs/srv4.agent.log" || fail "the agent did not name the bad line and field"
vm red-srv0 ping -c 1 -W 2 -q 10.0.0.5 >/dev/null || fail "a bad file replaced the policy in force"
sed -i "/name: red-srv4,/ s|, policy: \"[^\"]*\"||" "$ST/agents/srv4.yaml"
agent_hup
vm red-srv3 ping -c 1 -W 2 -q 10.0.0.5 >/dev/null || fail "the policy was not taken away with its key"

# the lab file's egress limit of red-srv5 (policy[].rate): a tbf on its
# eth0 that holds the bytes it sends in 2 s of a 3 s iperf3 run to red-srv1
# (from its first 2 MB on) within 5% of the rate
tbf() { vm red-srv5 tc -j -s qdisc show dev "${PT}-eth0" | jq ".[] | select(.kind == \"tbf\") | .$1"; }
[ "$(tbf options.rate)" = 12500000 ] || fail "red-srv5's tbf: $(vm red-srv5 tc qdisc show)"
vm red-srv1 timeout 10 iperf3 -s -1 -p 5311 >/dev/null 2>&1 & srv=$!
sleep 0.3
vm red-srv5 timeout 10 iperf3 -c 10.0.0.2 -p 5311 -t 3 >/dev/null 2>&1 & cli=$!
for i in $(seq 50); do	# the window opens once the stream runs (a loaded machine starts iperf3 late)
	[ "$(tbf bytes)" -gt 2000000 ] && break
	sleep 0.05
done
u=$(date +%s%N); b0=$(tbf bytes); t0=$(( (u + $(date +%s%N)) / 2 ))
sleep 2
u=$(date +%s%N); b1=$(tbf bytes); t1=$(( (u + $(date +%s%N)) / 2 ))
wait "$cli" || fail "iperf3 from red-srv5 failed"
wait "$srv" || true
mbps=$(jq -n "($b1 - $b0) * 8 * 1000 / ($t1 - $t0)")
echo "red-srv5's egress limit 100 Mbit/s: $mbps Mbit/s on the wire"
jq -e -n "$mbps >= 95 and $mbps <= 105" >/dev/null || fail "red-srv5's limit: $mbps Mbit/s, not 100 within 5%"

echo "{\"policy_allowed_ok\": $allowed, \"policy_denied_ok\": $denied, \"policy_update_ms\": $ms}"
echo PASS
