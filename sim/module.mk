LIB_SRCS += sim/scheme.c sim/net.c sim/vlans.c sim/fib.c sim/plot.c sim/exp.c \
            sim/exp_fib.c sim/event.c sim/failover.c sim/exp_failover.c sim/lru.c sim/flood.c sim/exp_flood.c
TESTS    += sim/test_fib
TESTS    += sim/test_event sim/test_failover sim/test_flood
SH_TESTS += sim/test_cli.sh
LIB_SRCS += sim/maxmin.c sim/abt.c sim/shuffle.c
LIB_SRCS += sim/chaos.c sim/chaos_host.c sim/chaos_check.c sim/chaos_scale.c sim/exp_chaos.c
TESTS    += sim/test_maxmin sim/test_abt
SH_TESTS += sim/test_throughput.sh
SH_TESTS += sim/test_chaos.sh sim/test_chaos_scale.sh sim/test_mutants.sh

# make chaos: seeds with every kind of fault for CHAOS_SECONDS, failing
# seeds' traces kept in $(BUILD)/chaos/ (docs/chaos.md).
CHAOS_SECONDS ?= 600
CHAOS_ARGS ?=
.PHONY: chaos
chaos:
	@$(MAKE) --no-print-directory $(BUILD)/peregrine
	./scripts/chaos.sh $(BUILD)/peregrine $(CHAOS_SECONDS) $(BUILD)/chaos "$(CHAOS_SEED)" $(CHAOS_ARGS)

# make mutants: deliberate bugs in a scratch copy of the cores, one at a
# time, each to be flagged by sim chaos within 200 seeds (docs/chaos.md).
.PHONY: mutants
mutants:
	@$(MAKE) --no-print-directory $(BUILD)/peregrine
	./scripts/mutants.py $(BUILD) $(MUTANTS)
