LIB_SRCS += ras/ras.c ras/direct.c ras/avail.c
TESTS    += ras/test_ras ras/test_direct
SH_TESTS += ras/test_ras.sh ras/test_direct.sh
FUZZERS  += ras/fuzz_ras
SH_TESTS += ras/test_ha.sh
