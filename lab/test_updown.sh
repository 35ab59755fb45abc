#!/bin/bash
# peregrine lab up / down: the default lab comes up in under 20 s and down
# leaves nothing behind; a bad lab file creates nothing; a failure at any
# step of up rolls back completely; two labs with different prefixes
# coexist.
#
#            spine0        spine1                 (lab "pgt": the default)
#          /  |   \  \    /  |   \  \
#      leaf0 leaf1 leaf2 leaf3  (pairs 0-1, 2-3)
#       srv0..srv3   srv4..srv7  (dual-homed; a red and a blue VM on each)
#      mgmt: pgt-mgmt bridge, a leg into every switch and server
#
#      lab "pgu": s1 -- s2, h1 on s1, h2 on s2 (its own file)
set -eu
cd "$(dirname "$0")/.."
. tests/lib.sh
need_root
need_cmd ip
need_cmd python3
P=$PEREGRINE_BIN
# A bare fabric, programmed by hand: the lab starts no RAS (docs/ras.md).
export PEREGRINE_NO_RAS=1
PT=$(test_prefix t)
PU=$(test_prefix u)
tmp=$(mktemp -d)
cleanup() {
	$P lab down --prefix ${PT} >/dev/null 2>&1 || true
	$P lab down --prefix ${PU} >/dev/null 2>&1 || true
	rm -rf "$tmp"
}
trap cleanup EXIT

# Namespaces, links of the host namespace with the labs' prefixes (the lab
# makes none there, and every name it makes starts with its prefix; other
# tests on the machine add and delete host links of their own at any time),
# and processes of the lab (every daemon carries --name <prefix>-<node>;
# lab exec children run in its namespaces, which must be gone).
snapshot() {
	ip netns list | awk '{print $1}' | grep -E "^($PT|$PU)-" | sort || true
	ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | grep -E "^($PT|$PU)-" | sort || true
	ps -e -o pid=,args= | grep -E -- "(--name |lab exec [a-z0-9-]+ --prefix )($PT|$PU)-?" \
		| grep -v grep | sort || true
	# the agents' pinned data planes, and state directories
	ls /sys/fs/bpf/peregrine 2>/dev/null | grep -E "^($PT|$PU)-" | sed 's/^/pinned: /' || true
	ls /run/peregrine 2>/dev/null | grep -E "^lab-($PT|$PU)$" | sed 's/^/state: /' || true
}
jget() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

snapshot >"$tmp/before"

# A bad lab file: a clear error naming the line, and nothing created.
cat >"$tmp/bad.yaml" <<EOF
topology: leafspine:spines=2,leaves=2,servers=1
vdcs:
  - {name: red, id: 1, subnet: 10.0.0.0/24}
vms:
  - {name: vm1, vdc: red, server: srv9}
EOF
expect_fail "bad lab file" $P lab up "$tmp/bad.yaml" --prefix ${PT}
out=$($P lab up "$tmp/bad.yaml" --prefix ${PT} 2>&1 || true)
echo "$out" | grep -q "bad.yaml:5: vms\[0\].server" || fail "error does not name the line: $out"
[ ! -e /run/peregrine/lab-${PT} ] || fail "bad file left a state directory"
[ -z "$(ip netns list | grep "^$PT-" || true)" ] || fail "bad file created namespaces"
expect_fail "bad prefix" $P lab up --prefix PG
expect_fail "status of a lab that is not up" $P lab status --prefix ${PT}

# The default lab, timed.
t0=$(date +%s%N)
$P lab up --prefix ${PT}
t1=$(date +%s%N)
ms=$(( (t1 - t0) / 1000000 ))
echo "lab up (default lab, 31 namespaces, 6 switchd): $ms ms"
[ "$ms" -lt 20000 ] || fail "lab up took $ms ms (limit 20000)"
[ "$(ip netns list | grep -c "^$PT-")" -eq 31 ] || fail "expected 31 namespaces"
cp /run/peregrine/lab-${PT}/setup/steps "$tmp/steps"
expect_fail "a second up on the same prefix" $P lab up --prefix ${PT}

st=$($P lab status --prefix ${PT} --json)
[ "$(echo "$st" | jget "sum(1 for n in d['nodes'] if n['kind']=='switch' and n['daemons']['switchd'])")" = 6 ] \
	|| fail "not every switchd runs: $st"
[ "$(echo "$st" | jget "sum(1 for n in d['nodes'] if n.get('fib_used') == 0)")" = 6 ] \
	|| fail "switchds do not answer: $st"
[ "$(echo "$st" | jget "len(d['links'])")" = 24 ] || fail "links"
$P lab status --prefix ${PT}
# every VM has its address and MAC; the two VDCs share addresses
[ "$($P lab exec red-srv3 --prefix ${PT} -- ip -j addr show ${PT}-eth0 | jget "d[0]['addr_info'][0]['local']")" = 10.0.0.4 ] \
	|| fail "red-srv3 address"
[ "$($P lab exec blue-srv3 --prefix ${PT} -- ip -j addr show ${PT}-eth0 | jget "d[0]['addr_info'][0]['local']")" = 10.0.0.4 ] \
	|| fail "blue-srv3 address"
[ "$($P lab exec blue-srv3 --prefix ${PT} -- ip -j link show ${PT}-eth0 | jget "d[0]['address']")" = 02:00:00:02:00:20 ] \
	|| fail "blue-srv3 MAC"
$P lab logs leaf0 --prefix ${PT} | grep -q "listening on 172.31.0.4:7400" || fail "leaf0 log"
# A full request (800 entries) lands whole, in switchd's answer and in the
# kernel; and a dump returns every one.
args=$(python3 -c "print(' '.join('02:50:47:10:%02x:%02x %d' % (i >> 8, i & 255, i % 6) for i in range(800)))")
# shellcheck disable=SC2086
out=$($P lab fib add leaf0 $args --prefix ${PT} --json)
[ "$(echo "$out" | jget "sum(o['status'] == 'ok' for o in d['ops'])")" = 800 ] || fail "800 adds"
[ "$(ip netns exec ${PT}-leaf0 bridge fdb show br ${PT}-br | grep -c static)" = 800 ] || fail "kernel count"
[ "$($P lab fib dump leaf0 --prefix ${PT} --json | jget "len(d['entries'])")" = 800 ] || fail "dump count"

# A second lab beside it.
cat >"$tmp/small.yaml" <<EOF
name: small
topology:
  switches: [s1, s2]
  servers: [h1, h2]
  links: [[s1, s2], [h1, s1], [h2, s2]]
vdcs: [{name: t, id: 5, subnet: 10.9.0.0/24}]
placement: {per_server: 2}
links: {mbps: 100}
EOF
# Delay needs netem: where the kernel lacks it, a clear error and nothing made.
sed 's/mbps: 100/mbps: 100, delay_ms: 2/' "$tmp/small.yaml" >"$tmp/delay.yaml"
if out=$($P lab up "$tmp/delay.yaml" --prefix ${PU} 2>&1); then
	tc -n ${PU}-s1 qdisc show dev ${PU}-p0 | grep -q "netem.*delay 2ms" || fail "no netem delay"
	$P lab down --prefix ${PU}
else
	echo "$out" | grep -q netem || fail "delay failure does not name netem: $out"
	[ -z "$(ip netns list | grep "^$PU-" || true)" ] || fail "delay failure left namespaces"
	echo "ok: no netem here: $out"
fi
$P lab up "$tmp/small.yaml" --prefix ${PU}
cp /run/peregrine/lab-${PU}/setup/steps "$tmp/steps-small"
tc -n ${PU}-s1 qdisc show dev ${PU}-p0 | grep -q "tbf.*rate 100Mbit" || fail "no tbf on s1's port"
tc -n ${PU}-h2 qdisc show dev ${PU}-nic0 | grep -q "tbf.*rate 100Mbit" || fail "no tbf on h2's NIC"
[ "$(ip netns list | grep -c "^$PU-")" -eq 9 ] || fail "${PU} namespaces"
$P lab status --prefix ${PU} --json | jget "d['name']" | grep -q small || fail "${PU} status"
# a process left running inside the lab is stopped by down too
$P lab exec h1 --prefix ${PU} -- sleep 600 &
sleep 0.2
$P lab down --prefix ${PU}
wait || true
[ -z "$(ip netns list | grep "^$PU-" || true)" ] || fail "${PU} namespaces remain"
[ "$(ip netns list | grep -c "^$PT-")" -eq 31 ] || fail "down of ${PU} touched ${PT}"
$P lab status --prefix ${PT} >/dev/null || fail "${PT} broken by ${PU}'s down"

# Down, and compare.
$P lab down --prefix ${PT}
snapshot >"$tmp/after"
diff "$tmp/before" "$tmp/after" || fail "up + down left something behind (diff above)"
[ ! -e /run/peregrine/lab-${PT} ] || fail "state directory remains"

# A failure at any step of `up` rolls back and leaves nothing: no
# namespace, host link, process, pinned data plane or state directory.  The
# steps are those the two labs above went through (setup/steps): the first
# and the last of every kind (batch scripts, each daemon's starts, the
# readiness waits), so that a step added to `up` is covered too.
echo "default lab: $(wc -l <"$tmp/steps") steps:" $(awk '{print $2}' "$tmp/steps" | uniq -c | awk '{print $1 " " $2}')
for k in script-ip start-directory start-switchd start-ras start-agent wait-switchd; do
	grep -q "^[0-9]* $k " "$tmp/steps" || fail "the default lab has no $k step: $(cat "$tmp/steps")"
done
grep -q "^[0-9]* script-tc " "$tmp/steps-small" || fail "the shaped lab has no script-tc step"
# first and last step of each kind: "N KIND NAME"
ends() { awk '!($2 in first) { first[$2] = $0; order[++n] = $2 } { last[$2] = $0 }
	END { for (i = 1; i <= n; i++) { k = order[i]; print first[k]; if (last[k] != first[k]) print last[k] } }' "$1"; }
inject() {	# inject STEPS-FILE KINDS [LAB-FILE]: fail each chosen step in turn
	local n kind name prefix=$PT out
	[ $# -gt 2 ] && prefix=$PU
	while read -r n kind name; do
		if out=$(PEREGRINE_LAB_FAIL_AFTER=$((n - 1)) $P lab up "${@:3}" --prefix $prefix 2>&1); then
			fail "up with a failure injected at step $n ($kind $name) succeeded"
		fi
		echo "$out" | grep -q "injected failure at step $n, $kind $name .*rolled back" ||
			fail "step $n ($kind $name): $out"
		snapshot >"$tmp/after-fail"
		diff "$tmp/before" "$tmp/after-fail" || fail "a failure at step $n ($kind $name) left something behind"
		echo "ok: failure at step $n ($kind $name) rolled back"
	done < <(ends "$1" | grep -E "^[0-9]+ ($2) ")
}
inject "$tmp/steps" '[a-z-]+'
inject "$tmp/steps-small" script-tc "$tmp/small.yaml"	# the default lab is unshaped

# A crashed lab: namespaces and a daemon, but the state directory lost.
$P lab up --prefix ${PT} >/dev/null
rm -rf /run/peregrine/lab-${PT}
$P lab down --prefix ${PT}
snapshot >"$tmp/after2"
diff "$tmp/before" "$tmp/after2" || fail "down after a lost state directory left something"
echo "ok"
