LIB_SRCS += lab/file.c lab/addr.c lab/script.c lab/run.c lab/daemons.c lab/swclient.c lab/migrate.c
TESTS    += lab/test_lab
SH_TESTS += lab/test_updown.sh
SH_TESTS += lab/test_fabric.sh
SH_TESTS += lab/test_recovery.sh
SH_TESTS += lab/test_metrics.sh
FUZZERS  += lab/fuzz_lab_file
