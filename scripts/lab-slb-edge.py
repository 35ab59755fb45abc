#!/usr/bin/env python3
"""The load balancer's edge in a lab (lab/slb.c, docs/slb.md "In the lab").

Started by `peregrine lab up` on the edge server of a lab with `slb:`, with
--config STATE/slb/edge.json.  It stands in for two things the project does
not have yet, and carries out the ring's auto scaling:

- the backends' agents' HEALTH messages: every 50 ms it connects to each
  backend VM's first service port from inside the VM's namespace and, when
  the VM answers, sends a HEALTH message (wire/slbproto.h; tag
  HMAC-SHA-512 cut to 16 bytes, lib/auth.c) to every SLB server;
- the gateway's routing: every 2 ms it reads the SLB servers' status files
  and routes each VIP (in this, the edge server's namespace) to the NIC
  address of the SLB server the newest ring assignment names (through one
  long-running `ip -batch -`).  Each change is logged, once handed to it,
  as "REALTIME VIP -> ID";
- the SLB servers' power: when the ring's master asks for a standby server
  (lab `slb: {standby: [...]}`) it starts that server's daemon, and stops
  it when the master releases it (docs/slb.md, "Auto scaling").
"""
import argparse, ctypes, hashlib, hmac, json, os, socket, struct, subprocess, time

CLONE_NEWNET = 0x40000000
HEALTH_S, ROUTE_S = 0.05, 0.002

ap = argparse.ArgumentParser()
ap.add_argument("--config", required=True)
ap.add_argument("--name")  # how the lab knows this process
args = ap.parse_args()
cfg = json.load(open(args.config))
key = bytes.fromhex("".join(open(cfg["key"]).read().split()))
libc = ctypes.CDLL(None, use_errno=True)
home = os.open("/proc/self/ns/net", os.O_RDONLY)
nsfd = {}
try:
    os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(10))
except OSError:
    pass


def probe(b):
    """A TCP connection to the backend, opened inside its namespace."""
    if b["proto"] != 6:
        return True  # no UDP probe: taken as answering
    if b["ns"] not in nsfd:
        nsfd[b["ns"]] = os.open("/run/netns/" + b["ns"], os.O_RDONLY)
    if libc.setns(nsfd[b["ns"]], CLONE_NEWNET):
        return False
    try:
        s = socket.socket()
    finally:
        libc.setns(home, CLONE_NEWNET)
    s.settimeout(0.2)
    try:
        s.connect((b["ip"], b["port"]))
        return True
    except OSError:
        return False
    finally:
        s.close()


def health(sock, b, seq):
    msg = struct.pack(">HBBIQQ", 0x5053, 1, 1, os.getpid(), seq, seq)
    msg += struct.pack(">I", b["vdc"]) + socket.inet_aton(b["ip"]) + bytes([1, 0, 0, 0])
    msg += hmac.new(key, msg, hashlib.sha512).digest()[:16]
    for s in cfg["slbs"]:
        try:
            sock.sendto(msg, (s["mgmt"], cfg["port"]))
        except OSError:
            pass


cache = {}  # status path -> ((inode, mtime), ring)


def rings():
    """Each SLB server's ring object, from its status file.  A file is parsed
    again only when it was replaced (the daemons write a new one and rename
    it): this loop runs every 2 ms at real-time priority, beside the
    daemons whose heartbeats must stay on time, and a stat costs far less
    than parsing the JSON."""
    out = []
    for s in cfg["slbs"]:
        try:
            st = os.stat(s["status"])
            key = (st.st_ino, st.st_mtime_ns)
            if cache.get(s["status"], (None,))[0] != key:
                with open(s["status"]) as f:
                    cache[s["status"]] = (key, json.load(f)["ring"])
            out.append(cache[s["status"]][1])
        except (OSError, ValueError, KeyError):
            continue
    return out


def newest_ring(rs):
    best = None
    for r in rs:
        if r["id"] in r["live"] and (best is None or r["version"] > best["version"]):
            best = r
    return best


def power(rs, by_id, seen, running):
    """The master's auto-scaling asks (its status: ring.scale, seq growing
    with each), carried out: a standby SLB server's daemon is started in its
    namespace ("power on", its pid in the lab's pid file, so that `lab down`
    stops it) or stopped ("power off").  Each step is logged as
    "REALTIME scale on|off ID NAME"."""
    for k, p in list(running.items()):
        if p.poll() is not None:
            del running[k]  # it exited by itself: it may be asked for again
    for r in rs:
        sc = r.get("scale")
        if r.get("master") != r.get("id") or not sc or seen.get(r["id"], 0) >= sc["seq"]:
            continue
        seen[r["id"]] = sc["seq"]
        sb = by_id.get(sc["id"], {}).get("standby")
        if not sb:
            continue  # not ours to power (a failed server stays down)
        if sc["action"] == "on" and sc["id"] not in running:
            with open(sb["log"], "ab") as log:
                running[sc["id"]] = subprocess.Popen(
                    ["ip", "netns", "exec", sb["ns"]] + sb["argv"], stdin=subprocess.DEVNULL,
                    stdout=log, stderr=log, start_new_session=True)
            with open(sb["pidfile"], "w") as f:
                f.write("%d\n" % running[sc["id"]].pid)
        elif sc["action"] == "off" and sc["id"] in running:
            p = running.pop(sc["id"])
            p.terminate()
            stopping[sc["id"]] = p
            try:
                os.unlink(sb["pidfile"])
            except OSError:
                pass
        else:
            continue
        print("%.6f scale %s %d %s" % (time.time(), sc["action"], sc["id"], sb["name"]),
              flush=True)
    for k, p in list(stopping.items()):
        if p.poll() is not None:
            del stopping[k]


stopping = {}


def main():
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    by_id = {s["id"]: s for s in cfg["slbs"]}
    now_owner, next_health, seen, running = {}, 0.0, {}, {}
    # one `ip` process for every route change: a process start per change
    # took 10 ms, and up to 100 ms on a loaded machine, on the failure's path
    ipb = subprocess.Popen(["ip", "-force", "-batch", "-"], stdin=subprocess.PIPE, text=True)
    while True:
        t = time.monotonic()
        if t >= next_health:
            next_health = t + HEALTH_S
            for b in cfg["backends"]:
                if probe(b):
                    health(sock, b, time.time_ns())
        rs = rings()
        power(rs, by_id, seen, running)
        for vc in (newest_ring(rs) or {}).get("vcs", []):
            s = by_id.get(vc["owner"])
            if s and now_owner.get(vc["vip"]) != s["id"]:
                ipb.stdin.write("route replace %s/32 via %s dev %s\n" % (vc["vip"], s["nexthop"],
                                                                          s["dev"]))
                ipb.stdin.flush()
                now_owner[vc["vip"]] = s["id"]
                print("%.6f %s -> %d" % (time.time(), vc["vip"], s["id"]), flush=True)
        time.sleep(ROUTE_S)


main()
