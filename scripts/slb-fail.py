#!/usr/bin/env python3
"""An SLB server's failure, at once (slb/test_netns.sh, scripts/lab-demo-slb.sh).

slb-fail.py IFNAME FIFO GO, started in the failing server's namespace before
the failure: it creates FIFO.ready, waits until a line is written to FIFO (the
failure's moment, realtime seconds, as bash's $EPOCHREALTIME), takes IFNAME
down with one ioctl and then writes that moment to GO, which starts
scripts/slb-connect.py's attempts.  A command started at the failure (ip
link set ... down) took 10 to 120 ms on a loaded machine, all of it counted
in the failure's time; this process is running already and does no more
than the kernel call.  Bounded: exits after 120 s without a failure.
"""
import fcntl, os, signal, socket, struct, sys

SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1
ifname, fifo, go = sys.argv[1].encode(), sys.argv[2], sys.argv[3]
signal.alarm(120)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
flags = struct.unpack("16sH", fcntl.ioctl(s, SIOCGIFFLAGS, struct.pack("16sH14x", ifname, 0))[:18])[1]
open(fifo + ".ready", "w").close()
with open(fifo) as f:  # blocks until the writer opens it
    t = f.readline().strip()
fcntl.ioctl(s, SIOCSIFFLAGS, struct.pack("16sH14x", ifname, flags & ~IFF_UP))
with open(go + ".tmp", "w") as f:
    f.write(t + "\n")
os.rename(go + ".tmp", go)
