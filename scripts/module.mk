SH_TESTS += scripts/test_demo.sh
SH_TESTS += scripts/test_human.sh
SH_TESTS += scripts/test_demo_ha.sh
