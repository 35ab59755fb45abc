# The server load balancer: Maglev tables, VC definitions, the control core
# (cmd/slb.c is the shell; docs/slb.md).
LIB_SRCS += slb/maglev.c slb/vc.c slb/slb.c
TESTS    += slb/test_maglev slb/test_slb
SH_TESTS += slb/test_netns.sh
