LIB_SRCS += lib/common.c lib/log.c lib/loop.c lib/arena.c lib/hash.c \
            lib/parse.c lib/json.c lib/yconf.c lib/auth.c lib/udp.c \
            lib/prefault.c lib/core.c lib/metrics.c lib/etcd.c
TESTS    += lib/test_lib lib/test_auth lib/test_prefault lib/test_metrics lib/test_etcd
