# The server load balancer: Maglev tables, VC definitions, the control core, the ring
# (cmd/slb.c is the shell; docs/slb.md).
LIB_SRCS += slb/maglev.c slb/vc.c slb/slb.c slb/ring.c
TESTS    += slb/test_maglev slb/test_slb slb/test_ring
SH_TESTS += slb/test_netns.sh slb/test_lab.sh
