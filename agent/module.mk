# The host agent: configuration file and core state machine (cmd/agent.c is the shell).
LIB_SRCS += agent/config.c agent/agent.c agent/agent6.c agent/vl2.c agent/bcube.c agent/netlord.c agent/nla.c agent/policy.c agent/polfetch.c agent/dhcp.c agent/mcast.c agent/grp.c
TESTS    += agent/test_agent agent/test_polfetch agent/test_config agent/test_vl2 agent/test_bcube agent/test_netlord agent/test_nla agent/test_dhcp agent/test_agent6 agent/test_mcast
FUZZERS  += agent/fuzz_config agent/fuzz_bcube agent/fuzz_policy agent/fuzz_dhcp agent/fuzz_nd6 agent/fuzz_mcast
SH_TESTS += agent/test_lab.sh agent/test_hold.sh agent/test_dhcp.sh agent/test_ipv6.sh
# fail-over durations (agent/failover.h)
LIB_SRCS += agent/failover.c
