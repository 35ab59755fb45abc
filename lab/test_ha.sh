#!/bin/bash
# A lab with a replicated control plane (`ha:` in the lab file, docs/ha.md):
# three etcd members, two directory servers and two RAS processes, each in
# a namespace of its own on the management network.  Up: everything runs,
# one RAS leads (lab status, text and --json), the fabric forwards; kill -9
# of the leading RAS: the other leads with a higher term and the fabric
# still forwards; a restarted switchd keeps the new term and refuses the
# deposed leader's; `peregrine monitor` hears the control plane's
# namespaces; down leaves nothing; a failure injected at the HA steps
# of up (etcd, its wait, directory servers, RAS) rolls back completely.
#
#            spine0      spine1
#            /    \      /    \
#         leaf0  leaf1 (every server on both leaves)
#        srv0..srv3, a red VM on each
#   mgmt bridge (P-mgmt): every node, and P-etcd0..2, P-dir0..1, P-ras0..1
set -eu
cd "$(dirname "$0")/.."
. tests/lib.sh
need_root
need_cmd ip
need_cmd python3
need_cmd ping
[ -x /usr/bin/etcd ] || skip "needs etcd (Debian's etcd-server)"
P=$PEREGRINE_BIN
PH=$(test_prefix a)
tmp=$(mktemp -d)
cleanup() {
	$P lab down --prefix "$PH" >/dev/null 2>&1 || true
	rm -rf "$tmp"
}
trap cleanup EXIT
jget() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
snapshot() {
	ip netns list | awk '{print $1}' | grep -E "^$PH-" | sort || true
	ps -e -o pid=,args= | grep -E -- "--name $PH-" | grep -v grep | sort || true
	ls /run/peregrine 2>/dev/null | grep -E "^lab-$PH$" | sed 's/^/state: /' || true
}
snapshot >"$tmp/before"

cat >"$tmp/ha.yaml" <<EOF
name: ha
topology: leafspine:spines=2,leaves=2,servers=2,homing=2
vdcs: [{name: red, id: 1, subnet: 10.0.0.0/24}]
placement: {per_server: 1}
ha: {etcd: 3, directories: 2, ras: 2}
EOF

# Bad ha sections: a clear error, nothing made.
sed 's/ras: 2}/ras: 0}/' "$tmp/ha.yaml" >"$tmp/bad1.yaml"
expect_fail "ha.ras 0" $P lab up "$tmp/bad1.yaml" --prefix "$PH"
sed 's/etcd: 3, //' "$tmp/ha.yaml" >"$tmp/bad2.yaml"
out=$($P lab up "$tmp/bad2.yaml" --prefix "$PH" 2>&1 || true)
echo "$out" | grep -q "ha.etcd: missing" || fail "missing ha.etcd: $out"
[ -z "$(ip netns list | grep "^$PH-" || true)" ] || fail "a bad ha section created namespaces"

$P lab up "$tmp/ha.yaml" --prefix "$PH"
cp "/run/peregrine/lab-$PH/setup/steps" "$tmp/steps"
# 1 mgmt + 4 switches + 4 servers + 4 VMs + 7 control-plane namespaces
[ "$(ip netns list | grep -c "^$PH-")" -eq 20 ] || fail "expected 20 namespaces"
for ns in etcd0 etcd1 etcd2 dir0 dir1 ras0 ras1; do
	ip netns list | grep -q "^$PH-$ns" || fail "no namespace $PH-$ns"
done

# Who leads: wait for a leader (the RAS campaigns once etcd answers).
leader=
for _ in $(seq 50); do
	st=$($P lab status --prefix "$PH" --json)
	leader=$(echo "$st" | jget "d['ha']['ras_leader'] or ''")
	[ -n "$leader" ] && break
	sleep 0.1
done
[ -n "$leader" ] || fail "no RAS leads: $st"
echo "$st" | jget "d['ha']" 
[ "$(echo "$st" | jget "sum(1 for k in ('etcd','directories','ras') for p in d['ha'][k] if p['pid'])")" = 7 ] \
	|| fail "not every control-plane process runs: $st"
[ "$(echo "$st" | jget "sum(1 for r in d['ha']['ras'] if r['leader'])")" = 1 ] || fail "one leader: $st"
[ "$(echo "$st" | jget "len(d['mgmt_daemons'])")" = 0 ] || fail "mgmt runs daemons: $st"
term1=$(echo "$st" | jget "d['ha']['ras_term']")
$P lab status --prefix "$PH" | grep -q "RAS leader $leader, term $term1" || fail "text status"
$P lab status --prefix "$PH" | grep -E -q "^  ras[01] .*running, leads" || fail "text status: no leader marked"
# agents know both directory servers; switchd follows the leader
grep -q "^directories:" "/run/peregrine/lab-$PH/agents/srv0.yaml" || fail "agent config has no directories"
ps -e -o args= | grep -- "--name $PH-leaf0" | grep -q -- "--ras-follow" || fail "switchd without --ras-follow"

ping_ok() { $P lab exec red-srv0 --prefix "$PH" -- ping -c 3 -i 0.2 -W 1 10.0.0.4 >/dev/null; }
for _ in $(seq 20); do ping_ok && break; sleep 0.5; done
ping_ok || fail "red-srv0 cannot reach red-srv3"

# `peregrine monitor` follows the replicated control plane in its own
# namespaces (docs/monitor.md): a link cut shows the leading RAS's
# reprogramming and a directory server's push.  The management namespace
# runs neither daemon here, so only the standby RAS, which serves nothing
# until it leads, may be reported as not answering.
$P monitor --prefix "$PH" --json --duration 4 >"$tmp/mon.json" 2>"$tmp/mon.err" &
mon=$!
sleep 1.5
$P lab link down leaf0 spine0 --prefix "$PH" >/dev/null
wait "$mon" || fail "monitor: $(cat "$tmp/mon.err")"
standby=$(echo "$st" | jget "[r['address'] for r in d['ha']['ras'] if not r['leader']][0]")
if grep -v "http://$standby:9462/" "$tmp/mon.err" | grep -q .; then
	fail "the monitor complained: $(cat "$tmp/mon.err")"
fi
python3 - "$tmp/mon.json" "$PH" "$leader" <<'PY' || fail "monitor of the HA lab: $(cat "$tmp/mon.json")"
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
p, leader = sys.argv[2], sys.argv[3]
assert any(e["kind"] == "reprogrammed" and e["daemon"] == "ras" and e["node"] == leader
           for e in ev), "no reprogramming from the leading RAS"
assert any(e["kind"] == "push" and e["daemon"] == "directory" and e["node"] in (f"{p}-dir0", f"{p}-dir1")
           for e in ev), "no push from a directory server"
PY
echo "ok: monitor: $(wc -l <"$tmp/mon.json") events, the leading $leader's reprogramming, a directory server's push"
$P lab link up leaf0 spine0 --prefix "$PH" >/dev/null
for _ in $(seq 20); do ping_ok && break; sleep 0.5; done

# kill -9 of the leading RAS: the other leads, with a higher term.
lpid=$(echo "$st" | jget "[r['pid'] for r in d['ha']['ras'] if r['leader']][0]")
kill -9 "$lpid"
new=
t0=$(date +%s%N)
for _ in $(seq 100); do
	st=$($P lab status --prefix "$PH" --json)
	new=$(echo "$st" | jget "d['ha']['ras_leader'] or ''")
	[ -n "$new" ] && [ "$new" != "$leader" ] && break
	sleep 0.1
done
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
[ -n "$new" ] && [ "$new" != "$leader" ] || fail "no new RAS leader after kill -9 of $leader: $st"
term2=$(echo "$st" | jget "d['ha']['ras_term']")
[ "$term2" -gt "$term1" ] || fail "term did not grow: $term1 -> $term2"
echo "ok: $new leads after kill -9 of $leader (term $term1 -> $term2), seen after $ms ms"
[ "$ms" -lt 10000 ] || fail "take-over seen after $ms ms (lease 1 s; bound 10 s)"
ping_ok || fail "no forwarding after the take-over"

# A restarted switchd still refuses the deposed leader: leaf0 keeps the
# highest RAS term in its --term-file (the new leader claimed it), reads it
# back when restarted (kill -9, the same command line without --flush, so
# its table is adopted), and refuses a request numbered in the old term.
tf=/run/peregrine/lab-$PH/leaf0.ras-term
for _ in $(seq 50); do [ "$(cat "$tf" 2>/dev/null)" = "$term2" ] && break; sleep 0.1; done
[ "$(cat "$tf" 2>/dev/null)" = "$term2" ] || fail "leaf0's term file holds '$(cat "$tf" 2>/dev/null)', not $term2"
swpid=$(ps -e -o pid=,args= | awk -v n="--name $PH-leaf0" 'index($0, " switchd ") && index($0, n) { print $1; exit }')
[ -n "$swpid" ] || fail "no switchd of leaf0"
mapfile -d '' swargs <"/proc/$swpid/cmdline"
kill -9 "$swpid"
args=(); listen=
for ((i = 1; i < ${#swargs[@]}; i++)); do
	[ "${swargs[i]}" = --flush ] && continue
	[ "${swargs[i - 1]}" = --listen ] && listen=${swargs[i]}
	args+=("${swargs[i]}")
done
echo garbage >"$tmp/bad.term"
out=$(ip netns exec "$PH-leaf0" "$P" "${args[@]}" --term-file "$tmp/bad.term" 2>&1) &&
	fail "switchd started on a term file without a term"
echo "$out" | grep -q "holds no RAS term" || fail "bad term file: $out"
ip netns exec "$PH-leaf0" "$P" "${args[@]}" >"$tmp/leaf0.log" 2>&1 &
for _ in $(seq 50); do grep -q "highest RAS term accepted so far" "$tmp/leaf0.log" && break; sleep 0.1; done
grep -q "highest RAS term accepted so far: $term2 " "$tmp/leaf0.log" || fail "restarted leaf0: $(cat "$tmp/leaf0.log")"
sleep 0.3	# listening
if $P lab exec mgmt --prefix "$PH" -- $P swctl --to "$listen" --key "/run/peregrine/lab-$PH/key" \
	--id 4294966784 --term "$term1" add 02:00:00:00:00:99 1 >"$tmp/swctl.out" 2>&1; then
	fail "restarted leaf0 took a request of the deposed leader's term $term1"
fi
murl=$($P lab status --prefix "$PH" --json | jget "[n['metrics_url']['switchd'] for n in d['nodes'] if n['name'] == 'leaf0'][0]")
fenced=$($P lab exec mgmt --prefix "$PH" -- curl -s -m 2 "$murl" | awk '$1 == "peregrine_switchd_fenced_total" { print $2 }')
[ "${fenced:-0}" -ge 1 ] || fail "restarted leaf0 counted no fenced request (${fenced:-none})"
echo "ok: restarted leaf0 kept term $term2 and refused the deposed leader's term $term1 ($fenced fenced)"
ping_ok || fail "no forwarding after leaf0's switchd restarted"

$P lab down --prefix "$PH"
snapshot >"$tmp/after"
diff "$tmp/before" "$tmp/after" || fail "up + down left something behind"

# A failure at each control-plane step of up (first and last of each
# kind) rolls back and leaves nothing, the etcd members included.
ends() { awk '!($2 in first) { first[$2] = $0; order[++n] = $2 } { last[$2] = $0 }
	END { for (i = 1; i <= n; i++) { k = order[i]; print first[k]; if (last[k] != first[k]) print last[k] } }' "$1"; }
for k in start-etcd wait-etcd; do
	grep -q "^[0-9]* $k " "$tmp/steps" || fail "no $k step: $(cat "$tmp/steps")"
done
grep -E -q "^[0-9]+ start-directory dir1$" "$tmp/steps" || fail "no start-directory dir1 step"
grep -E -q "^[0-9]+ start-ras ras1$" "$tmp/steps" || fail "no start-ras ras1 step"
n_inj=0
while read -r n kind name; do
	if out=$(PEREGRINE_LAB_FAIL_AFTER=$((n - 1)) $P lab up "$tmp/ha.yaml" --prefix "$PH" 2>&1); then
		fail "up with a failure injected at step $n ($kind $name) succeeded"
	fi
	echo "$out" | grep -q "injected failure at step $n, $kind $name .*rolled back" ||
		fail "step $n ($kind $name): $out"
	snapshot >"$tmp/after-fail"
	diff "$tmp/before" "$tmp/after-fail" || fail "a failure at step $n ($kind $name) left something behind"
	echo "ok: failure at step $n ($kind $name) rolled back"
	n_inj=$((n_inj + 1))
done < <(ends "$tmp/steps" | grep -E "^[0-9]+ (start-etcd|wait-etcd|start-directory|start-ras) ")
[ "$n_inj" -ge 6 ] || fail "only $n_inj steps injected"
echo "ok"
