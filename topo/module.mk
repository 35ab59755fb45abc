LIB_SRCS += topo/topo.c topo/build.c topo/file.c topo/analyze.c topo/dot.c
TESTS    += topo/test_topo
FUZZERS  += topo/fuzz_topo_file
SH_TESTS += topo/test_cli.sh
