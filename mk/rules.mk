# Rules generated from the lists that each */module.mk appends to:
#
#   LIB_SRCS   sources of libperegrine.a (everything but the command shells)
#   CMD_SRCS   sources of the peregrine binary's command shells (cmd/)
#   TESTS      unit tests: X/test_Y names X/test_Y.c, linked with the library
#   FUZZERS    libFuzzer targets: X/fuzz_Y names X/fuzz_Y.c; its seed corpus
#              lives in X/corpus/fuzz_Y/
#   BPF_PROGS  eBPF programs X/name.bpf.c; each yields build/bpf/name.bpf.o and
#              the libbpf skeleton build/bpf/name.skel.h
#   SH_TESTS   shell tests (namespaces, end to end), run by tests/run.sh
#
# Variants: $(BUILD)/ is the optimised build, $(BUILD)/asan/ the sanitizer
# build for `make check`, $(BUILD)/fuzz/ the clang libFuzzer build.

# Quiet by default; `make V=1` shows whole commands.
ifeq ($(V),1)
say =
else
say = @printf '  %-8s %s\n' '$(1)' '$(2)';
endif

ASAN := $(BUILD)/asan
FUZZ := $(BUILD)/fuzz

BPF_OBJS  := $(patsubst %.bpf.c,$(BUILD)/bpf/%.bpf.o,$(notdir $(BPF_PROGS)))
BPF_SKELS := $(BPF_OBJS:.bpf.o=.skel.h)

lib_objs  = $(patsubst %.c,$(1)/obj/%.o,$(LIB_SRCS))
cmd_objs  = $(patsubst %.c,$(1)/obj/%.o,$(CMD_SRCS))

.PHONY: all check check-build check-run bench fuzz fuzz-build demo deps clean
.DELETE_ON_ERROR:
.SECONDARY:

all: $(BUILD)/peregrine

# ---- optimised build -------------------------------------------------------
$(BUILD)/obj/%.o: %.c | $(BPF_SKELS)
	@mkdir -p $(dir $@)
	$(call say,CC,$<)$(CC) $(CSTD) $(WARN) $(OPT) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

$(BUILD)/libperegrine.a: $(call lib_objs,$(BUILD))
	@rm -f $@
	$(call say,AR,$@)ar rcs $@ $^

$(BUILD)/peregrine: $(call cmd_objs,$(BUILD)) $(BUILD)/libperegrine.a
	$(call say,LINK,$@)$(CC) $(OPT) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# ---- sanitizer build and tests --------------------------------------------
$(ASAN)/obj/%.o: %.c | $(BPF_SKELS)
	@mkdir -p $(dir $@)
	$(call say,CC-SAN,$<)$(CC) $(CSTD) $(WARN) -O1 -g $(SAN_FLAGS) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

$(ASAN)/libperegrine.a: $(call lib_objs,$(ASAN))
	@rm -f $@
	$(call say,AR,$@)ar rcs $@ $^

$(ASAN)/peregrine: $(call cmd_objs,$(ASAN)) $(ASAN)/libperegrine.a
	$(call say,LINK,$@)$(CC) $(SAN_FLAGS) -o $@ $^ $(LDLIBS)

$(ASAN)/tests/%: $(ASAN)/obj/%.o $(ASAN)/libperegrine.a
	@mkdir -p $(dir $@)
	$(call say,LINK,$@)$(CC) $(SAN_FLAGS) -o $@ $^ $(TEST_LIBS) $(LDLIBS)

TEST_BINS := $(patsubst %,$(ASAN)/tests/%,$(TESTS))

check-build: $(ASAN)/peregrine $(TEST_BINS) $(BUILD)/peregrine fuzz-build

check-run:
	@ASAN_BIN=$(ASAN) FUZZ_BIN=$(FUZZ) TESTS="$(TESTS)" FUZZERS="$(FUZZERS)" \
	  SH_TESTS="$(SH_TESTS)" ./tests/run.sh

# The build runs one job per CPU unless MAKEFLAGS already says how many
# (make -jN check): the suite has a time budget (docs/building.md).
CHECK_JOBS ?= $(if $(filter -j%,$(MAKEFLAGS)),,-j$(shell nproc))

check: deps
	@$(MAKE) --no-print-directory $(CHECK_JOBS) check-build
	@$(MAKE) --no-print-directory check-run

# ---- fuzzers ---------------------------------------------------------------
$(FUZZ)/obj/%.o: %.c | $(BPF_SKELS)
	@mkdir -p $(dir $@)
	$(call say,CC-FUZZ,$<)$(CLANG) $(CSTD) $(WARN) -fsanitize=fuzzer-no-link,address,undefined -O1 -g \
	  $(CPPFLAGS) $(CFLAGS) -c $< -o $@

$(FUZZ)/libperegrine.a: $(call lib_objs,$(FUZZ))
	@rm -f $@
	$(call say,AR,$@)ar rcs $@ $^

$(FUZZ)/%: $(FUZZ)/obj/%.o $(FUZZ)/libperegrine.a
	@mkdir -p $(dir $@)
	$(call say,LINK,$@)$(CLANG) $(FUZZ_FLAGS) -o $@ $^ $(LDLIBS)

FUZZ_BINS := $(patsubst %,$(FUZZ)/%,$(FUZZERS))
fuzz-build: $(FUZZ_BINS)

fuzz: deps
	@$(MAKE) --no-print-directory fuzz-build
	@for f in $(FUZZERS); do \
	  mkdir -p $(FUZZ)/corpus/$$f; \
	  echo "fuzz: $$f for $(FUZZ_SECONDS)s"; \
	  $(FUZZ)/$$f -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	    $(FUZZ)/corpus/$$f $$(dirname $$f)/corpus/$$(basename $$f) 2>&1 | tail -4 || exit 1; \
	done

# ---- eBPF -------------------------------------------------------------------
BPF_CFLAGS := -target bpf -O2 -g -Wall -Werror -I. -I/usr/include/$(shell uname -m)-linux-gnu

$(BUILD)/bpf/%.bpf.o: $(filter %.bpf.c,$(BPF_PROGS)) $(wildcard bpf/*.h wire/*.h)
	@mkdir -p $(dir $@)
	$(call say,BPF,$@)$(CLANG) $(BPF_CFLAGS) -c $(filter %/$*.bpf.c,$(BPF_PROGS)) -o $@

$(BUILD)/bpf/%.skel.h: $(BUILD)/bpf/%.bpf.o
	$(call say,SKEL,$@)$(BPFTOOL) gen skeleton $< name $(subst -,_,$*) > $@

# ---- benchmarks and demo ---------------------------------------------------
bench: deps
	@$(MAKE) --no-print-directory $(BUILD)/peregrine
	$(BUILD)/peregrine bench all $(BENCH_ARGS)

demo: deps
	@$(MAKE) --no-print-directory $(BUILD)/peregrine
	./scripts/demo.sh $(BUILD)/peregrine
	$(BUILD)/peregrine lab demo
	$(BUILD)/peregrine lab demo --policy

deps:
	@if [ "$$(id -u)" = 0 ]; then ./scripts/deps.sh; fi

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
