# switchd/: the switch-side core; wire/swproto.*: its protocol (the rest of
# wire/ lists itself in wire/module.mk).
LIB_SRCS += switchd/switchd.c switchd/notice.c wire/swproto.c
TESTS    += switchd/test_switchd wire/test_swproto
FUZZERS  += wire/fuzz_swproto
