LIB_SRCS += wire/rasproto.c
TESTS    += wire/test_rasproto
FUZZERS  += wire/fuzz_rasproto
