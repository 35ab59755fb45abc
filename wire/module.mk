LIB_SRCS += wire/rasproto.c wire/frame.c wire/scheme.c wire/dhcp.c
TESTS    += wire/test_rasproto wire/test_wire
FUZZERS  += wire/fuzz_rasproto wire/fuzz_frame
# The load balancer's control messages (docs/slb.md).
LIB_SRCS += wire/slbproto.c
TESTS    += wire/test_slbproto
FUZZERS  += wire/fuzz_slbproto
