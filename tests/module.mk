SH_TESTS += tests/test_logcheck.sh
