BPF_PROGS += bpf/from_vm.bpf.c bpf/from_net.bpf.c
LIB_SRCS  += bpf/loader.c
TESTS     += bpf/test_dp
SH_TESTS  += bpf/test_netns.sh
