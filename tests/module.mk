# The runner's own test (it builds a throw-away cmocka program).
SH_TESTS += tests/test_run.sh
SH_TESTS += tests/test_logcheck.sh
