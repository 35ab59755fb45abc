#!/usr/bin/env python3
"""The load balancer's failure clock (slb/test_netns.sh, scripts/lab-demo-slb.sh).

slb-connect.py GO VIP [PORT]: waits until the file GO holds the failure's
moment (realtime seconds, as bash's $EPOCHREALTIME), then from that moment
starts a new TCP connection to VIP:PORT (default 80) every 2 ms, each given
200 ms, at most 100 in flight, non-blocking, and prints, when the first one
completes, "MS_AFTER_FAILURE STARTED_MS T0 FIRST_MS" (T0: the failure's
moment on the monotonic clock; FIRST_MS: when the first attempt began, after
the failure: attempts begin only once GO is written); exit 1 if none completed within 5 s.  One connection
at a time would add its timeout to the figure.  It creates GO.ready once it
runs (a loaded machine may take seconds to start Python): fail only then.
"""
import errno, os, selectors, socket, sys, time
go, vip = sys.argv[1], sys.argv[2]
port = int(sys.argv[3]) if len(sys.argv) > 3 else 80
open(go + ".ready", "w").close()
while not os.path.exists(go) or not open(go).read().strip():
    time.sleep(0.0005)
# the failure's moment (realtime, $EPOCHREALTIME): the clock starts there,
# before the NIC goes down and the daemon is killed, not when we hear of it
t0 = time.monotonic() - (time.time() - float(open(go).read()))
sel = selectors.DefaultSelector()
next_start = t0
first = None
while time.monotonic() - t0 < 5:
    now = time.monotonic()
    if now >= next_start:
        s = socket.socket()
        s.setblocking(False)
        if s.connect_ex((vip, port)) not in (0, errno.EINPROGRESS):
            s.close()
        else:
            sel.register(s, selectors.EVENT_WRITE, now)
        if first is None:
            first = now  # attempts begin only once GO is written
        next_start += 0.002
    for key, _ in sel.select(timeout=max(0, next_start - time.monotonic())):
        s = key.fileobj
        sel.unregister(s)
        ok = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0
        s.close()
        if ok:
            done = time.monotonic()
            print("%.1f %.1f %.6f %.1f" % ((done - t0) * 1000, (key.data - t0) * 1000, t0,
                                         (first - t0) * 1000))
            sys.exit(0)
    for key in list(sel.get_map().values()):
        if time.monotonic() - key.data > 0.2:
            sel.unregister(key.fileobj)
            key.fileobj.close()
sys.exit(1)
