BPF_PROGS += bpf/from_vm.bpf.c bpf/from_net.bpf.c bpf/vl2_encap.bpf.c bpf/vl2_decap.bpf.c
LIB_SRCS  += bpf/loader.c
TESTS     += bpf/test_dp bpf/test_vl2
SH_TESTS  += bpf/test_netns.sh
