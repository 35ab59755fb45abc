SH_TESTS += scripts/test_demo.sh
