LIB_SRCS += ras/ras.c
TESTS    += ras/test_ras
SH_TESTS += ras/test_ras.sh
FUZZERS  += ras/fuzz_ras
