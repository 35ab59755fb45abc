#!/bin/bash
# Security groups in the default lab, enforced by the lab's own agents, kept
# by the directory.  A lab file with a bad rule is refused with its line and
# field; the lab file's policy for red-srv6 goes to the directory and srv6's
# agent gets it from there at start.  A policy applied to red-srv4's data
# plane by hand (srv4's agent, pinned as P-srv4) lets red-srv0 in and keeps
# red-srv1 out; blue-srv4, the same address in the other VDC, is not
# affected.  Then VDC 1's tenant sets red-srv4's policy in the directory
# with its own key (peregrine policy set): the directory pushes it to srv4's
# agent, which applies it under a ping train and an open TCP connection the
# new rules still allow, losing nothing; the time from the directory taking
# the change to the data plane is policy_update_ms.  VDC 2's key can neither
# read nor change it.  Then the agent's own: a policy file named in srv4's configuration
# (vms[].policy) wins over the directory's, is installed on SIGHUP, edited,
# refused when it does not parse (the old one stays), taken away with its
# key (the directory's comes back); the directory's is deleted (the rules
# go).  Last, red-srv6 migrates to srv5 and its policy follows it, and the
# lab file's egress limit for red-srv5 (policy[].rate) holds within 5%.  Prints the demo keys policy_allowed_ok, policy_denied_ok and
# policy_update_ms as JSON.
#
#            spine0        spine1
#           /  |   \      /  |   \
#      leaf0 leaf1 leaf2 leaf3
#        \   /       \   /
#     srv0..srv3   srv4..srv7     one agent each, pinned as P-srvN
#     red-srvN  10.0.0.(N+1)  VDC 1, the policy on red-srv4 (10.0.0.5)
#     blue-srvN 10.0.0.(N+1)  VDC 2
#     mgmt: the directory (policies of VDC 1 set with VDC 1's key)
set -eu
cd "$(dirname "$0")/.."
. tests/lib.sh
need_root
need_cmd ip
need_cmd ping
need_cmd python3
need_cmd iperf3
need_cmd jq
P=$PEREGRINE_BIN
PT=$(test_prefix g)
L="--prefix ${PT}"
ST=/run/peregrine/lab-${PT}
tmp=
tcp=
cleanup() {
	[ -n "$tcp" ] && kill "$tcp" 2>/dev/null || true
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
# VDC 1's and VDC 2's own keys, for their tenants (while the agents start)
{ $P keygen --vdc 1 --key "$ST/key" "$tmp/vdc1.key" &&
  $P keygen --vdc 2 --key "$ST/key" "$tmp/vdc2.key"; } &
keys=$!
for i in $(seq 100); do	# every agent attached (10 s at most)
	n=$(cat "$ST"/logs/srv*.agent.log 2>/dev/null | grep -c "VMs, 2 NICs" || true)
	[ "$n" = 8 ] && break
	sleep 0.1
done
[ "$n" = 8 ] || fail "only $n of 8 agents started"
lab_tree_fib $TOPO "$PT" || fail "cannot install the tree FIBs"

# the lab file's policy, set in the directory, installed by srv6's agent
for i in $(seq 50); do
	grep -q "policy of red-srv6: 2 rules.*(the directory's)" "$ST/logs/srv6.agent.log" && break
	sleep 0.1
done
grep -q "policy of red-srv6: 2 rules.*(the directory's)" "$ST/logs/srv6.agent.log" || fail "srv6's agent did not install the lab file's policy from the directory"
! grep -q "policy:" "$ST/agents/srv6.yaml" || fail "srv6's configuration names a policy file beside the directory's"
vm red-srv0 ping -c 1 -W 2 -q 10.0.0.7 >/dev/null || fail "lab policy: red-srv0 -> red-srv6 denied"
! vm red-srv1 ping -c 1 -W 0.5 -q 10.0.0.7 >/dev/null || fail "lab policy: red-srv1 -> red-srv6 allowed"
vm blue-srv1 ping -c 1 -W 2 -q 10.0.0.7 >/dev/null || fail "lab policy: blue-srv6 affected"

node=$(vm_node red-srv4 srv4)
[ -n "$node" ] || fail "red-srv4 not in srv4's configuration"
MAC=$(mac "$node")
vm red-srv0 ping -c 1 -W 2 -q 10.0.0.5 >/dev/null || fail "red-srv0 cannot reach red-srv4 before the policy"
vm red-srv1 ping -c 1 -W 2 -q 10.0.0.5 >/dev/null || fail "red-srv1 cannot reach red-srv4 before the policy"

# red-srv4's TCP echo server on port 22, for the update below
vm red-srv4 python3 -c '
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("10.0.0.5", 22)); s.listen(1); s.settimeout(30)
c, _ = s.accept(); c.settimeout(10)
while True:
    d = c.recv(64)
    if not d: break
    c.sendall(d)
' &
tcp=$!
printf '%s\n' "in icmp from 10.0.0.1" "in tcp 22 from 10.0.0.0/24" > "$tmp/v1.pol"
$P policy apply "${PT}-srv4" --mac "$MAC" --file "$tmp/v1.pol" --json > "$tmp/apply1.json"
allowed=false denied=false
vm red-srv0 ping -c 3 -i 0.2 -W 2 -q 10.0.0.5 >/dev/null && allowed=true
d0=$(pcount srv4 drop_rule)
vm red-srv1 ping -c 2 -i 0.2 -W 0.5 -q 10.0.0.5 >/dev/null || denied=true
d1=$(pcount srv4 drop_rule)
echo "red-srv0 -> red-srv4 allowed: $allowed; red-srv1 -> red-srv4 denied: $denied (drop_rule $d0 -> $d1)"
$allowed || fail "the allowed ping was dropped"
$denied || fail "the denied ping got through"
[ "$d1" -gt "$d0" ] || fail "the denied pings were not counted on srv4"
vm blue-srv1 ping -c 1 -W 2 -q 10.0.0.5 >/dev/null || fail "blue-srv4 (same address, VDC 2) was affected"

# VDC 1's tenant, with VDC 1's key only, through the directory (in the
# management namespace); VDC 2's key can neither read nor change it
DIR=$(sed -n 's/^directory: "\(.*\)"$/\1/p' "$ST/agents/srv4.yaml")
[ -n "$DIR" ] || fail "no directory in srv4's configuration"
wait "$keys" || fail "cannot derive the VDCs' keys"
pol() {	# pol VDC_KEY_FILE ARGS...: peregrine policy in the management namespace
	ip netns exec "${PT}-mgmt" $P policy "${@:2}" --dir "$DIR" --key "$1" --vdc 1 --ip 10.0.0.5
}
dirlog="$ST/logs/srv4.agent.log"
napplied() { grep -c "policy of red-srv4: .*(the directory's)" "$dirlog" || true; }
# an update that still allows red-srv0's pings and its TCP connection, under
# a 50 pps ping train and a message every 20 ms on the connection
vm red-srv0 python3 -c '
import socket, sys, time
c = socket.create_connection(("10.0.0.5", 22), timeout=2)
for i in range(70):
    c.sendall(b"%05d" % i)
    if c.recv(64) != b"%05d" % i: sys.exit("echo %d lost" % i)
    time.sleep(0.02)
print("tcp ok")
' > "$tmp/tcp.txt" 2>&1 &
client=$!
vm red-srv0 ping -c 100 -i 0.02 -W 1 10.0.0.5 > "$tmp/train.txt" &
train=$!
sleep 0.5
printf '%s\n' "in icmp from 10.0.0.0/30" "in tcp 22 from 10.0.0.1" "in tcp 80 from any" > "$tmp/v2.pol"
n0=$(napplied)
t0=$(date -u +%H:%M:%S.%N)	# the agents log UTC times
pol "$tmp/vdc1.key" set "$tmp/v2.pol" > "$tmp/set.txt" || fail "policy set: $(cat "$tmp/set.txt")"
for i in $(seq 200); do [ "$(napplied)" -gt "$n0" ] && break; sleep 0.01; done
[ "$(napplied)" -gt "$n0" ] || fail "srv4's agent did not apply the directory's policy"
# from the directory's line on taking the change to the agent's after the
# map update (both log UTC times); and from the request's start, for the log
t1=$(grep "policy of red-srv4: .*(the directory's)" "$dirlog" | tail -1 | cut -d' ' -f1)
td=$(cat "$ST"/logs/*directory.log | grep "policy of VDC 1 10.0.0.5: version" | tail -1 | cut -d' ' -f1)
[ -n "$td" ] || fail "the directory did not log the change"
span() { echo "$1 $2" | awk '{ split($1, a, ":"); split($2, b, ":")
	printf "%.3f", ((b[1] - a[1]) * 3600 + (b[2] - a[2]) * 60 + b[3] - a[3]) * 1000 }'; }
ms=$(span "$td" "$t1")
echo "policy update: $ms ms from the directory to the data plane, $(span "$t0" "$t1") ms from the request's start"
wait "$train" || true
wait "$client" || fail "the TCP connection the new rules allow broke: $(cat "$tmp/tcp.txt")"
wait "$tcp" || true
tcp=
grep -q "tcp ok" "$tmp/tcp.txt" || fail "the TCP connection: $(cat "$tmp/tcp.txt")"
grep -q ' 0% packet loss' "$tmp/train.txt" || fail "the update lost pings: $(grep loss "$tmp/train.txt")"
awk -v ms="$ms" 'BEGIN { exit !(ms >= 0 && ms < 1000) }' || fail "policy_update_ms $ms: not within 1 s"
pol "$tmp/vdc1.key" get > "$tmp/get.txt" && cmp -s "$tmp/get.txt" "$tmp/v2.pol" || fail "VDC 1 cannot read its policy back"
# VDC 2's key tries to read, change and delete it (side by side with the
# ping checks: each waits 100 ms for an answer that must not come)
printf 'in icmp from any\n' > "$tmp/open.pol"
pol "$tmp/vdc2.key" get --timeout 100 > "$tmp/get2.txt" 2>&1 & g2=$!
pol "$tmp/vdc2.key" set "$tmp/open.pol" --timeout 100 > "$tmp/set2.txt" 2>&1 & s2=$!
pol "$tmp/vdc2.key" del --timeout 100 > "$tmp/del2.txt" 2>&1 & d2=$!
vm red-srv1 ping -c 1 -W 2 -q 10.0.0.5 >/dev/null || fail "red-srv1 (10.0.0.2) still denied after the update"
! vm red-srv3 ping -c 1 -W 0.5 -q 10.0.0.5 >/dev/null || fail "red-srv3 (10.0.0.4) allowed after the update"
! wait "$g2" || fail "VDC 2's key read VDC 1's policy"
grep -q "no authenticated answer" "$tmp/get2.txt" || fail "VDC 2's read: $(cat "$tmp/get2.txt")"
! wait "$s2" || fail "VDC 2's key changed VDC 1's policy"
! wait "$d2" || fail "VDC 2's key deleted VDC 1's policy"
pol "$tmp/vdc1.key" get > "$tmp/get.txt" && cmp -s "$tmp/get.txt" "$tmp/v2.pol" || fail "VDC 1's policy changed"
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
! vm red-srv0 ping -c 1 -W 0.5 -q 10.0.0.5 >/dev/null || fail "agent policy: red-srv0 allowed"
printf '%s\n' "in icmp from 10.0.0.1" > "$tmp/agent.pol"
agent_hup
vm red-srv0 ping -c 1 -W 2 -q 10.0.0.5 >/dev/null || fail "agent policy, edited: red-srv0 denied"
printf '%s\n' "in icmp from 10.0.0.1" "in tcp 99999 from any" > "$tmp/agent.pol"
agent_hup
grep -q "agent.pol:2: ports:" "$ST/logs/srv4.agent.log" || fail "the agent did not name the bad line and field"
vm red-srv0 ping -c 1 -W 2 -q 10.0.0.5 >/dev/null || fail "a bad file replaced the policy in force"
n0=$(napplied)
sed -i "/name: red-srv4,/ s|, policy: \"[^\"]*\"||" "$ST/agents/srv4.yaml"
agent_hup
for i in $(seq 100); do [ "$(napplied)" -gt "$n0" ] && break; sleep 0.02; done
[ "$(napplied)" -gt "$n0" ] || fail "the directory's policy did not come back when the file's key went"
vm red-srv1 ping -c 1 -W 2 -q 10.0.0.5 >/dev/null || fail "the directory's policy back: red-srv1 denied"
pol "$tmp/vdc1.key" del || fail "VDC 1 cannot delete its policy"
for i in $(seq 100); do grep -q "policy of red-srv4: removed" "$dirlog" && break; sleep 0.02; done
vm red-srv3 ping -c 1 -W 2 -q 10.0.0.5 >/dev/null || fail "the policy was not taken away when the directory's went"

# the lab file's red-srv6 migrates to srv5: its policy follows it (srv5's
# agent gets it from the directory, srv6's lets it go)
$P lab migrate red-srv6 srv5 $L >/dev/null || fail "cannot migrate red-srv6"
for i in $(seq 100); do
	grep -q "policy of red-srv6: 2 rules.*(the directory's)" "$ST/logs/srv5.agent.log" && break
	sleep 0.02
done
grep -q "policy of red-srv6: 2 rules.*(the directory's)" "$ST/logs/srv5.agent.log" || fail "red-srv6's policy did not follow it to srv5"
grep -q "policy of red-srv6: removed" "$ST/logs/srv6.agent.log" || fail "srv6 kept red-srv6's policy"
vm red-srv0 ping -c 1 -W 2 -q 10.0.0.7 >/dev/null || fail "migrated: red-srv0 -> red-srv6 denied"
! vm red-srv1 ping -c 1 -W 0.5 -q 10.0.0.7 >/dev/null || fail "migrated: red-srv1 -> red-srv6 allowed"

# the lab file's egress limit of red-srv5 (policy[].rate): a tbf on its
# eth0 that holds the bytes it sends in 2 s of a 3 s iperf3 run to red-srv1
# (from its first 2 MB on) within 5% of the rate
tbf() { vm red-srv5 tc -j -s qdisc show dev "${PT}-eth0" | jq ".[] | select(.kind == \"tbf\") | .$1"; }
[ "$(tbf options.rate)" = 12500000 ] || fail "red-srv5's tbf: $(vm red-srv5 tc qdisc show)"
vm red-srv1 timeout 10 iperf3 -s -1 -p 5311 >/dev/null 2>&1 & srv=$!
sleep 0.3
start=$(tbf bytes)
vm red-srv5 timeout 10 iperf3 -c 10.0.0.2 -p 5311 -t 3 >/dev/null 2>&1 & cli=$!
for i in $(seq 50); do	# the window opens once the stream runs (a loaded machine starts iperf3 late)
	[ "$(tbf bytes)" -gt $((start + 2000000)) ] && break
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
