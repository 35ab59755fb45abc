LIB_SRCS += route/trees.c route/failover.c route/verify.c
TESTS    += route/test_trees
TESTS    += route/test_failover
