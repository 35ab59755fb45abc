BPF_PROGS += bpf/from_vm.bpf.c bpf/from_net.bpf.c
LIB_SRCS  += bpf/loader.c bpf/fwd_tables.c
TESTS     += bpf/test_dp bpf/test_fwd
SH_TESTS  += bpf/test_netns.sh
