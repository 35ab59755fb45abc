#!/bin/bash
# The lab's Internet edge (docs/edge.md): a client outside the fabric, a
# gateway with a leg in each VDC, source NAT with port allocation keyed on
# (VDC, address), a 1:1 public address, the edge firewall from the VM's
# policy.  A lab file with a bad edge section is refused with its line and
# field.  Then 10,000 concurrent TCP connections from red-srv1 (10.0.0.2)
# to the client, from source ports 30000-39999, while blue-srv1 (also
# 10.0.0.2, VDC blue) opens 200 from ports 30000-30199: the same original
# tuples in two VDCs.  Every connection must get its own echo back (a reply
# that leaked to the other VDC would not), all 10,200 must be open at once
# at the client, each from its own public port of the one shared address.
# red-srv2 has the public address 203.0.113.12: its policy lets the client
# in on TCP 8080, not 8081; its own outbound connections leave from it.
# Prints the demo keys nat_connections_ok, edge_inbound_allowed_ok,
# edge_inbound_denied_ok (and the connections' setup time) as JSON.
#
#            spine0        spine1
#           /      \      /      \
#        leaf0            leaf1
#        /   \            /   \
#     srv0   srv1      srv2   srv3        one agent each
#      |
#   red-gw, blue-gw (legs, 10.0.0.254)  -> moved into P-edge (the gateway)
#                                           P-edge: P-up 198.51.100.1
#                                                    |
#                                           P-inet: P-wan 198.51.100.7 (the client)
#     red-srvN / blue-srvN: 10.0.0.(N+1), default route via 10.0.0.254
set -eu
cd "$(dirname "$0")/.."
. tests/lib.sh
need_root
need_cmd ip
need_cmd nft
need_cmd python3
need_cmd iperf3
need_cmd jq
# Debian's interpreter, not a version manager's shim (one start costs seconds
# on a loaded machine, and the test starts a dozen)
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
P=$PEREGRINE_BIN
PT=$(test_prefix e)
L="--prefix ${PT}"
ST=/run/peregrine/lab-${PT}
N_RED=${EDGE_CONNECTIONS:-10000}
N_BLUE=200
tmp=
PIDS=
cleanup() {
	set +e
	for p in $PIDS; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	$P lab down $L >/dev/null 2>&1
	[ -n "$tmp" ] && rm -rf "$tmp"
}
trap cleanup EXIT
tmp=$(mktemp -d)
ns() { ip netns exec "${PT}-$1" "${@:2}"; }
T0=$(date +%s%N)
stamp() { echo "[$(awk -v a="$(date +%s%N)" -v b="$T0" 'BEGIN { printf "%.1f", (a - b) / 1e9 }') s] $*"; }

TOPO=leafspine:spines=2,leaves=2,servers=2
cat > "$tmp/lab.yaml" <<EOF2
name: edge
topology: $TOPO
vdcs:
  - {name: red, id: 1, subnet: 10.0.0.0/24}
  - {name: blue, id: 2, subnet: 10.0.0.0/24}
placement:
  per_server: 1
policy:
  - vm: red-srv2
    rules: ["in tcp 8080 from 198.51.100.0/24", "in tcp 8081 from 10.0.0.0/24"]
edge:
  server: srv0
  client: 198.51.100.7/24
  public: 203.0.113.0/24
  nat:
    - {vm: red-srv2, public: 203.0.113.12}
  limits:
    - {vdc: red, rate: 50m}
EOF2

# bad input: the file, the line and the field, before anything is made
sed 's|public: 203.0.113.12|public: 203.0.114.12|' "$tmp/lab.yaml" > "$tmp/bad.yaml"
! $P lab up "$tmp/bad.yaml" $L > "$tmp/bad.txt" 2>&1 || fail "a NAT address outside edge.public was accepted"
grep -q "bad.yaml:16: edge.nat\[\].public:" "$tmp/bad.txt" || fail "bad public address: $(cat "$tmp/bad.txt")"
sed 's|vm: red-srv2, public|vm: red-srv9, public|' "$tmp/lab.yaml" > "$tmp/bad.yaml"
! $P lab up "$tmp/bad.yaml" $L > "$tmp/bad.txt" 2>&1 || fail "a NAT entry for no VM was accepted"
grep -q "bad.yaml:16: edge.nat\[\].vm:" "$tmp/bad.txt" || fail "bad VM: $(cat "$tmp/bad.txt")"
ip netns list | grep -q "^${PT}-" && fail "a refused lab file left namespaces"

$P lab up "$tmp/lab.yaml" $L >/dev/null
stamp "lab up"
for i in $(seq 100); do	# every agent attached (10 s at most)
	n=$(cat "$ST"/logs/srv*.agent.log 2>/dev/null | grep -c "VMs, 1 NICs" || true)
	[ "$n" = 4 ] && break
	sleep 0.1
done
[ "$n" = 4 ] || fail "only $n of 4 agents started"
lab_tree_fib $TOPO "$PT" || fail "cannot install the tree FIBs"
stamp "agents ready"
grep -q "router: true" "$ST/agents/srv0.yaml" || fail "srv0's agent configuration has no gateway leg"

# ---- the client's server: echo each connection's token and its peer --------
cat > "$tmp/server.py" <<'EOF2'
import json, selectors, socket, sys, time
port, stats, deadline = int(sys.argv[1]), sys.argv[2], time.time() + float(sys.argv[3])
sel = selectors.DefaultSelector()
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("0.0.0.0", port)); ls.listen(16384); ls.setblocking(False)
sel.register(ls, selectors.EVENT_READ)
peers, open_now, open_max, last = set(), 0, 0, 0
while time.time() < deadline:
    for k, _ in sel.select(0.2):
        s = k.fileobj
        if s is ls:
            while True:
                try:
                    c, a = ls.accept()
                except BlockingIOError:
                    break
                c.setblocking(False); sel.register(c, selectors.EVENT_READ, a)
                peers.add(a); open_now += 1; open_max = max(open_max, open_now)
            continue
        try:
            d = s.recv(64)
        except BlockingIOError:
            continue
        except ConnectionError:
            d = b""
        if not d:
            sel.unregister(s); s.close(); open_now -= 1
            continue
        s.send(d[:6] + (" %s:%d" % k.data).encode().ljust(26))
    if time.time() - last > 0.5:
        last = time.time()
        ips = sorted({a for a, _ in peers})
        with open(stats + ".tmp", "w") as f:
            json.dump({"accepted": len(peers), "open_max": open_max, "open": open_now,
                       "ports": len({p for _, p in peers}), "ips": ips}, f)
        import os; os.replace(stats + ".tmp", stats)
EOF2

# ---- a VM's client: COUNT connections from ports LO.., each sends its token
# and must read its own echo; all held open until the release file appears
cat > "$tmp/client.py" <<'EOF2'
import json, selectors, socket, sys, time, os
tag, lo, count, dst, port, out, release = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), \
    sys.argv[4], int(sys.argv[5]), sys.argv[6], sys.argv[7]
t0 = time.time(); deadline = t0 + 50
sel = selectors.DefaultSelector()
socks, ok, bad, failed, nxt, inflight, public = [], 0, 0, 0, 0, 0, set()
while (ok + bad + failed) < count and time.time() < deadline:
    while nxt < count and inflight < 512:
        s = socket.socket(); s.setblocking(False)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("0.0.0.0", lo + nxt))
        tok = ("%s%05d" % (tag, nxt)).encode()
        try:
            s.connect((dst, port))
        except BlockingIOError:
            pass
        sel.register(s, selectors.EVENT_WRITE, [tok, 0]); socks.append(s)
        nxt += 1; inflight += 1
    for k, ev in sel.select(0.2):
        s, st = k.fileobj, k.data
        if st[1] == 0:
            if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
                failed += 1; inflight -= 1; sel.unregister(s); continue
            s.send(st[0]); st[1] = 1; sel.modify(s, selectors.EVENT_READ, st); continue
        try:
            d = s.recv(64)
        except (BlockingIOError, ConnectionError):
            continue
        inflight -= 1; sel.unregister(s)
        if d[:6] == st[0]:
            ok += 1; public.add(d[6:].strip().decode())
        else:
            bad += 1
setup = time.time() - t0
with open(out + ".tmp", "w") as f:
    json.dump({"ok": ok, "bad": bad, "failed": failed, "setup_s": round(setup, 3),
               "public": sorted(public)}, f)
os.replace(out + ".tmp", out)
while not os.path.exists(release) and time.time() < deadline + 20:
    time.sleep(0.1)
EOF2

cat > "$tmp/listen.py" <<'EOF2'
import socket, sys, threading
def serve(port):
    ls = socket.socket(); ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("0.0.0.0", port)); ls.listen(8)
    while True:
        c, _ = ls.accept(); c.send(sys.argv[1].encode()); c.close()
for p in (8080, 8081):
    threading.Thread(target=serve, args=(p,), daemon=True).start()
open(sys.argv[2], "w").close()
threading.Event().wait(90)
EOF2

ulimit -n "$(ulimit -Hn)"	# the client's server holds every connection in one process
[ "$(ulimit -n)" = unlimited ] || [ "$(ulimit -n)" -ge $((N_RED + N_BLUE + 100)) ] ||
	fail "open-file limit $(ulimit -n) is below the $((N_RED + N_BLUE)) connections"
ns inet sysctl -qw net.core.somaxconn=16384 net.ipv4.tcp_max_syn_backlog=16384
# each started by ip netns exec itself, so that $! is the program: a kill reaches it
ip netns exec "${PT}-inet" "$PY" "$tmp/server.py" 9000 "$tmp/server.json" 90 & PIDS="$PIDS $!"
# red-srv2 (public 203.0.113.12) and blue-srv2 (the same private address)
ip netns exec "${PT}-red-srv2" "$PY" "$tmp/listen.py" red-srv2 "$tmp/red-listen" & PIDS="$PIDS $!"
ip netns exec "${PT}-blue-srv2" "$PY" "$tmp/listen.py" blue-srv2 "$tmp/blue-listen" & PIDS="$PIDS $!"
for i in $(seq 100); do
	[ -e "$tmp/server.json" ] && [ -e "$tmp/red-listen" ] && [ -e "$tmp/blue-listen" ] && break
	sleep 0.1
done
ip netns exec "${PT}-red-srv1" "$PY" "$tmp/client.py" r 30000 "$N_RED" 198.51.100.7 9000 "$tmp/red.json" "$tmp/release" & PIDS="$PIDS $!"
ip netns exec "${PT}-blue-srv1" "$PY" "$tmp/client.py" b 30000 "$N_BLUE" 198.51.100.7 9000 "$tmp/blue.json" "$tmp/release" & PIDS="$PIDS $!"
for i in $(seq 700); do	# 70 s at most; the clients give up after 50
	[ -s "$tmp/red.json" ] && [ -s "$tmp/blue.json" ] && break
	sleep 0.1
done
for i in $(seq 30); do	# the server's stats with every connection open (3 s at most)
	"$PY" -c 'import json,sys; sys.exit(json.load(open(sys.argv[1]))["open_max"] < int(sys.argv[2]))' \
		"$tmp/server.json" $((N_RED + N_BLUE)) 2>/dev/null && break
	sleep 0.1
done
stamp "connections done"
[ -s "$tmp/red.json" ] && [ -s "$tmp/blue.json" ] || fail "the clients did not finish"
"$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); d["public"]=len(d["public"]); print("red:", d)' "$tmp/red.json"
"$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); d["public"]=len(d["public"]); print("blue:", d)' "$tmp/blue.json"
cat "$tmp/server.json"; echo
nat_ok=$("$PY" - "$tmp" "$N_RED" "$N_BLUE" <<'EOF2'
import json, sys
t, nr, nb = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
r, b, s = (json.load(open("%s/%s.json" % (t, n))) for n in ("red", "blue", "server"))
pub = set(r["public"]) | set(b["public"])
ok = (r["ok"] == nr and b["ok"] == nb and r["bad"] == 0 and b["bad"] == 0 and
      len(pub) == nr + nb and s["open_max"] >= nr + nb and s["ips"] == ["203.0.113.1"] and
      all(p.startswith("203.0.113.1:") for p in pub))
print("true" if ok else "false")
EOF2
)
ns edge nft list counter ip peregrine_edge leak_drop | grep packets
[ "$nat_ok" = true ] || fail "NAT: not every connection of both VDCs got its own echo from its own public port"

# ---- the 1:1 address and the edge firewall ---------------------------------
get() { ns inet "$PY" -c '
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=float(sys.argv[3]))
print(s.recv(64).decode())' "$@" 2>/dev/null || true; }
allowed=false denied=false
get 203.0.113.12 8081 1 > "$tmp/denied.txt" & dpid=$!	# a drop costs its whole timeout (1 s; the counter below confirms it)
[ "$(get 203.0.113.12 8080 3)" = red-srv2 ] && allowed=true
wait $dpid
[ -z "$(cat "$tmp/denied.txt")" ] && denied=true
ns edge nft list counter ip peregrine_edge inbound_drop | grep -q "packets [1-9]" || denied=false
# red-srv2's own outbound connections leave from its public address
ns red-srv2 "$PY" -c '
import socket
s = socket.create_connection(("198.51.100.7", 9000), timeout=3)
s.send(b"x00001"); print(s.recv(64)[6:].decode().strip())' > "$tmp/oneone.txt" || true
grep -q "^203.0.113.12:" "$tmp/oneone.txt" || fail "red-srv2's connection left from '$(cat "$tmp/oneone.txt")', not 203.0.113.12"
[ "$allowed" = true ] || fail "inbound TCP 8080 to red-srv2's public address was not let in"
[ "$denied" = true ] || fail "inbound TCP 8081 to red-srv2's public address was not stopped at the edge"
touch "$tmp/release"
stamp "edge firewall checked"
setup=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["setup_s"])' "$tmp/red.json")
echo "{\"nat_connections_ok\": $nat_ok, \"nat_connections\": $N_RED, \"nat_setup_s\": $setup, \"edge_inbound_allowed_ok\": $allowed, \"edge_inbound_denied_ok\": $denied}"

# ---- the demo's policy and edge keys, measured on this lab -----------------
# (scripts/demo-policy-measure.sh, what `peregrine lab demo --policy` runs):
# red-srv2's policy swapped for the demo's and back, red's external limit
# (edge.limits) both ways, 500 + 500 connections with the same tuples
for p in $PIDS; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
PIDS=
PEREGRINE=$P PREFIX=$PT NAT_CONNECTIONS=500 scripts/demo-policy-measure.sh > "$tmp/demo.json"
stamp "demo keys measured"
cat "$tmp/demo.json"
dj() { jq -r "$1" "$tmp/demo.json"; }
[ "$(dj .policy_allowed_ok)" = true ] || fail "demo: the allowed peer did not get through"
[ "$(dj .policy_denied_ok)" = true ] || fail "demo: the denied peer was not dropped by rule"
[ "$(dj '.policy_update_ms > 0')" = true ] || fail "demo: no policy_update_ms"
[ "$(dj .policy_update_lost)" = 0 ] || fail "demo: the update under a ping train lost $(dj .policy_update_lost)"
[ "$(dj .rate_limit_mbps)" = 50 ] || fail "demo: red's external limit not found at the gateway"
[ "$(dj '.rate_limit_error_pct < 5')" = true ] ||
	fail "red's external limit: out $(dj .rate_limit_out_mbps), in $(dj .rate_limit_in_mbps) Mbit/s against 50"
[ "$(dj .nat_connections_ok)" = true ] || fail "demo: NAT connections"
[ "$(dj .nat_vdcs)" = 2 ] || fail "demo: NAT from one VDC only"
# the declared policy is back: the client reaches red-srv2 on 8080 again
rm -f "$tmp/red-listen"
ip netns exec "${PT}-red-srv2" "$PY" "$tmp/listen.py" red-srv2 "$tmp/red-listen" & PIDS="$PIDS $!"
for i in $(seq 50); do [ -e "$tmp/red-listen" ] && break; sleep 0.1; done
[ "$(get 203.0.113.12 8080 3)" = red-srv2 ] || fail "demo: red-srv2's own policy was not restored"
stamp "done"
