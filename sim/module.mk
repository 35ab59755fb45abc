LIB_SRCS += sim/scheme.c
