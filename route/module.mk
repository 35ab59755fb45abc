LIB_SRCS += route/trees.c route/failover.c route/verify.c route/lbtree.c
TESTS    += route/test_trees route/test_failover route/test_lbtree
SH_TESTS += route/test_routes_cli.sh
