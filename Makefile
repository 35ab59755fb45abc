# Peregrine: top-level Makefile.
#
# Each directory lists its sources, tests, fuzzers and eBPF programs in its
# own module.mk; mk/rules.mk turns those lists into rules.  See
# docs/building.md.
#
#   make            build/peregrine (optimised, -Werror)
#   make check      install deps (as root), build with ASan+UBSan, run every test
#   make bench      benchmarks, human output (BENCH_ARGS=--json for machines)
#   make fuzz       build the libFuzzer targets and run each for FUZZ_SECONDS
#   make demo       the main job (see README)

all:

include mk/config.mk
include $(sort $(wildcard */module.mk))
include mk/rules.mk
