LIB_SRCS += sim/scheme.c sim/net.c sim/vlans.c sim/fib.c sim/plot.c sim/exp.c \
            sim/exp_fib.c
TESTS    += sim/test_fib
