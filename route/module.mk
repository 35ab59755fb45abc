LIB_SRCS += route/trees.c route/failover.c route/verify.c route/lbtree.c route/pathseq.c route/vlb.c route/bcube.c route/bcube_relay.c route/spain.c
TESTS    += route/test_trees route/test_failover route/test_lbtree route/test_bcube route/test_bcube_relay route/test_vlb route/test_spain
SH_TESTS += route/test_routes_cli.sh
