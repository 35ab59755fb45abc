LIB_SRCS += lab/file.c lab/addr.c lab/script.c lab/run.c lab/daemons.c lab/swclient.c lab/migrate.c lab/vl2.c lab/vl2_run.c
TESTS    += lab/test_lab
SH_TESTS += lab/test_updown.sh
SH_TESTS += lab/test_fabric.sh
SH_TESTS += lab/test_recovery.sh
SH_TESTS += lab/test_vl2_fabric.sh
SH_TESTS += lab/test_vl2_tenants.sh
FUZZERS  += lab/fuzz_lab_file
