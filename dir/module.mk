# The directory server: wire format, core state machine, client library.
LIB_SRCS += wire/dirproto.c dir/dir.c dir/dir6.c dir/dirgrp.c dir/dirpol.c dir/client.c dir/client_udp.c
TESTS    += dir/test_dir wire/test_dirproto dir/test_client_udp
FUZZERS  += wire/fuzz_dirproto dir/fuzz_dir
SH_TESTS += dir/test_directory.sh
SH_TESTS += dir/test_crash.sh
SH_TESTS += dir/test_bench_directory.sh
SH_TESTS += dir/test_ha.sh
