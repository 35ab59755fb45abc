#!/bin/bash
# The policy and edge part of the demo, on a running lab that declares a
# policy (`policy:`) and an edge (`edge:`, with `limits:` for the VC
# external rate), docs/policy.md "In the demo".  Prints one JSON object:
#
#   policy_allowed_ok     a VM of the lab's policy, given the demo's rules
#                         (ICMP from one peer of its VDC), answers that peer
#   policy_denied_ok      ... and not a second peer, whose echo requests its
#                         agent's data plane counts as drop_rule
#   policy_update_ms      `policy apply --json`'s apply_ms for a new version
#                         of the rules, applied under a 50 pps ping train
#   policy_update_lost    echo requests of that train not answered (0 is the
#                         issue's "update without drops")
#   rate_limit_mbps       the VC external limit measured (edge.limits)
#   rate_limit_out_mbps, rate_limit_in_mbps: what its htb class (out of the
#                         VC) and its leg's tbf (into it) sent in a 3 s
#                         window of a 5 s iperf3 run each way
#   rate_limit_error_pct  the larger of the two errors against the limit
#   nat_connections_ok    NAT_CONNECTIONS (default 500) TCP connections from
#                         a VM of one VDC and as many from the same address
#                         and source ports in another VDC, all open at once
#                         to the Internet client: each gets its own echo, and
#                         no two share a public address and port
#
# The VM's declared policy is applied again at the end.  Usage:
# PEREGRINE=BIN PREFIX=P demo-policy-measure.sh.  Bounded: every ping and
# iperf3 run has a count or a duration, the NAT clients give up after 30 s.
set -euo pipefail
P=${PEREGRINE:-build/peregrine}
X=${PREFIX:-pg}
ST=/run/peregrine/lab-$X
N=${NAT_CONNECTIONS:-500}
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
tmp=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
	rm -rf "$tmp"
}
trap cleanup EXIT
ns() { ip netns exec "$X-$1" "${@:2}"; }
die() { echo "demo-policy-measure: $*" >&2; exit 1; }
T0=$(date +%s%N)
stamp() { echo "   [$(( ($(date +%s%N) - T0) / 1000000 )) ms] $*" >&2; }

pol=$(ls "$ST"/policy/*.pol 2>/dev/null | head -1)
[ -n "$pol" ] || die "the lab declares no policy"
[ -e "/run/netns/$X-edge" ] || die "the lab declares no edge"
$P lab status --prefix "$X" --json | jq -c '.vm_list[] | select(.name | endswith("-gw") | not)' \
	> "$tmp/vms"
vm_field() { jq -r --arg n "$1" "select(.name == \$n) | .$2" "$tmp/vms"; }

# ---- security group: allowed, denied, update under a ping train ------------
V=$(basename "$pol" .pol)
vdc=$(vm_field "$V" vdc_id); srv=$(vm_field "$V" server); vip=$(vm_field "$V" ip)
mac=$(vm_field "$V" mac)
mapfile -t peers < <(jq -r --arg v "$V" --argjson d "$vdc" \
	'select(.vdc_id == $d and .name != $v) | "\(.name) \(.ip)"' "$tmp/vms")
[ "${#peers[@]}" -ge 2 ] || die "$V's VDC needs two more VMs"
A=${peers[0]% *}; a_ip=${peers[0]#* }; B=${peers[1]% *}; b_ip=${peers[1]#* }
printf 'in icmp from %s/32\n' "$a_ip" > "$tmp/v1.pol"
printf 'in icmp from %s/32\nin tcp 22 from %s/32\n' "$a_ip" "$a_ip" > "$tmp/v2.pol"
drop_rule() { $P policy stats "$X-$srv" --json | jq '.drop_rule // .counters.drop_rule // 0'; }
$P policy apply "$X-$srv" --mac "$mac" --file "$tmp/v1.pol" >/dev/null
allowed=false denied=false
ns "$A" ping -c 1 -W 2 -q "$vip" >/dev/null 2>&1 && allowed=true
d0=$(drop_rule)
ns "$B" ping -c 2 -i 0.2 -W 1 -q "$vip" >/dev/null 2>&1 || denied=true
[ "$(drop_rule)" -gt "$d0" ] || denied=false
ns "$A" ping -c 100 -i 0.02 -W 1 -q "$vip" > "$tmp/train" 2>&1 & train=$!
sleep 0.5
ms=$($P policy apply "$X-$srv" --mac "$mac" --file "$tmp/v2.pol" --json | jq .apply_ms)
wait "$train" || true
lost=$(awk '/packets transmitted/ { print $1 - $4 }' "$tmp/train")
$P policy apply "$X-$srv" --mac "$mac" --file "$pol" >/dev/null	# the declared one

stamp "policy"
# ---- the VC external limit: both ways through the edge -----------------------
rate_mbps=null out_mbps=null in_mbps=null err_pct=null
shape=$(ns edge nft list chain ip peregrine_edge shape 2>/dev/null |
	awk '/meta priority set/ { for (i = 1; i < NF; i++) if ($i == "mark") print $(i + 1), $NF; exit }')
if [ -n "$shape" ]; then
	read -r lvdc cls <<< "$shape"
	lvdc=$((lvdc))	# nft prints the mark in hex
	leg="g$(( 0x${cls#1:} - 1 ))"
	bps=$(ns edge tc -j qdisc show dev "$X-$leg" | jq '.[] | select(.kind == "tbf") | .options.rate')
	rate_mbps=$(jq -n "$bps * 8 / 1e6")
	U=$(jq -r --argjson d "$lvdc" 'select(.vdc_id == $d) | .name' "$tmp/vms" | head -1)
	client=$(ns inet ip -4 -o addr show | awk '$2 != "lo" { sub("/.*", "", $4); print $4; exit }')
	class_bytes() {	# tc prints htb classes as text only
		ns edge tc -s class show dev "$X-up" |
			awk -v c="$cls" '$1 == "class" { f = ($3 == c) } f && $1 == "Sent" { print $2; exit }'
	}
	leg_bytes() { ns edge tc -j -s qdisc show dev "$X-$leg" | jq '.[] | select(.kind == "tbf") | .bytes'; }
	# window RUN_FLAG PORT BYTES_FN: Mbit/s BYTES_FN grew by from 1 s to 4 s of a 5 s run
	window() {
		ip netns exec "$X-inet" iperf3 -s -1 -p "$2" >/dev/null 2>&1 & local s=$!
		sleep 0.3
		ip netns exec "$X-$U" iperf3 -c "$client" -p "$2" -t 5 $1 >/dev/null 2>&1 & local c=$!
		sleep 1
		local b0 t0 b1 t1 u
		# each read between two clocks, taken at their midpoint: on a
		# loaded machine starting tc can take a while
		u=$(date +%s%N); b0=$($3); t0=$(( (u + $(date +%s%N)) / 2 ))
		sleep 3
		u=$(date +%s%N); b1=$($3); t1=$(( (u + $(date +%s%N)) / 2 ))
		wait "$c" || true; kill "$s" 2>/dev/null || true; wait "$s" 2>/dev/null || true
		jq -n "($b1 - $b0) * 8 * 1000 / ($t1 - $t0)"
	}
	out_mbps=$(window "" 5301 class_bytes)
	in_mbps=$(window -R 5302 leg_bytes)
	err_pct=$(jq -n "[($out_mbps - $rate_mbps), ($in_mbps - $rate_mbps)] | map(fabs) | max / $rate_mbps * 100 | . * 100 | round / 100")
fi

stamp "rate limit"
# ---- NAT: the same tuples from two VDCs ------------------------------------
client=$(ns inet ip -4 -o addr show | awk '$2 != "lo" { sub("/.*", "", $4); print $4; exit }')
# a VM of another VDC with the same address as a VM of V's VDC, neither 1:1
nat_pair=$(jq -rs --argjson d "$vdc" '. as $all | [$all[] | select(.vdc_id == $d)] as $mine
	| [$mine[] | . as $m | $all[] | select(.vdc_id != $d and .ip == $m.ip) | "\($m.name) \(.name)"]
	| .[-1] // empty' "$tmp/vms")
cat > "$tmp/server.py" <<'EOF'
import selectors, socket, sys, time
sel = selectors.DefaultSelector(); end = time.time() + 40
ls = socket.socket(); ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("0.0.0.0", int(sys.argv[1]))); ls.listen(4096); ls.setblocking(False)
sel.register(ls, selectors.EVENT_READ); open(sys.argv[2], "w").close()
while time.time() < end:
    for k, _ in sel.select(0.2):
        if k.fileobj is ls:
            try:
                c, a = ls.accept()
            except BlockingIOError:
                continue
            c.setblocking(False); sel.register(c, selectors.EVENT_READ, a); continue
        try:
            d = k.fileobj.recv(64)
        except (BlockingIOError, ConnectionError):
            d = b""
        if d:
            k.fileobj.send(d[:6] + (" %s:%d" % k.data).encode())
        else:
            sel.unregister(k.fileobj); k.fileobj.close()
EOF
cat > "$tmp/client.py" <<'EOF'
import json, selectors, socket, sys, time, os
tag, n, dst, port, out, go = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), sys.argv[5], sys.argv[6]
sel = selectors.DefaultSelector(); end = time.time() + 30; ok = bad = 0; pub = []; socks = []; errs = {}
for i in range(n):
    s = socket.socket(); s.setblocking(False)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("0.0.0.0", 41000 + i))
    try:
        s.connect((dst, port))
    except BlockingIOError:
        pass
    sel.register(s, selectors.EVENT_WRITE, [("%s%05d" % (tag, i)).encode(), 0]); socks.append(s)
while ok + bad < n and time.time() < end:
    for k, _ in sel.select(0.2):
        s, st = k.fileobj, k.data
        if st[1] == 0:
            e = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if e:
                bad += 1; errs[e] = errs.get(e, 0) + 1; sel.unregister(s); continue
            s.send(st[0]); st[1] = 1; sel.modify(s, selectors.EVENT_READ, st); continue
        try:
            d = s.recv(64)
        except (BlockingIOError, ConnectionError):
            continue
        sel.unregister(s)
        if d[:6] == st[0]:
            ok += 1; pub.append(d[6:].decode().strip())
        else:
            bad += 1
json.dump({"ok": ok, "bad": bad, "errors": errs, "public": pub}, open(out + ".t", "w")); os.replace(out + ".t", out)
while not os.path.exists(go) and time.time() < end + 10:
    time.sleep(0.1)
EOF
nat_ok=false
ip netns exec "$X-inet" "$PY" "$tmp/server.py" 9100 "$tmp/listening" & pids+=($!)
for _ in $(seq 100); do [ -e "$tmp/listening" ] && break; sleep 0.1; done
vms_nat=("$A")
[ -n "$nat_pair" ] && read -ra vms_nat <<< "$nat_pair"
for i in "${!vms_nat[@]}"; do
	ip netns exec "$X-${vms_nat[$i]}" "$PY" "$tmp/client.py" "$(printf "\\x$(printf %x $((97 + i)))")" "$N" "$client" 9100 "$tmp/c$i.json" "$tmp/done" &
	pids+=($!)
done
for _ in $(seq 400); do	# 40 s at most; the clients give up after 30
	all=1
	for i in "${!vms_nat[@]}"; do [ -s "$tmp/c$i.json" ] || all=0; done
	[ $all = 1 ] && break
	sleep 0.1
done
touch "$tmp/done"
stamp "NAT"
if jq -se --argjson n "$N" 'length as $k | all(.ok == $n and .bad == 0) and
	([.[].public[]] | unique | length) == $n * $k' "$tmp"/c*.json >/dev/null 2>&1; then
	nat_ok=true
fi

jq -n --argjson a "$allowed" --argjson d "$denied" --argjson ms "$ms" --argjson l "$lost" \
	--argjson r "$rate_mbps" --argjson o "$out_mbps" --argjson i "$in_mbps" \
	--argjson e "$err_pct" --argjson n "$nat_ok" --argjson c "$N" --argjson k "${#vms_nat[@]}" \
	'{policy_allowed_ok: $a, policy_denied_ok: $d, policy_update_ms: $ms,
	  policy_update_lost: $l, rate_limit_mbps: $r, rate_limit_out_mbps: $o,
	  rate_limit_in_mbps: $i, rate_limit_error_pct: $e, nat_connections_ok: $n,
	  nat_connections: ($c * $k), nat_vdcs: $k}'
