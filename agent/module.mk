# The host agent: configuration file and core state machine (cmd/agent.c is the shell).
LIB_SRCS += agent/config.c agent/agent.c agent/vl2.c agent/bcube.c agent/netlord.c agent/policy.c
TESTS    += agent/test_agent agent/test_config agent/test_vl2 agent/test_bcube agent/test_netlord
FUZZERS  += agent/fuzz_config agent/fuzz_bcube agent/fuzz_policy
SH_TESTS += agent/test_lab.sh agent/test_hold.sh
