BPF_PROGS += bpf/from_vm.bpf.c bpf/from_net.bpf.c bpf/vl2_encap.bpf.c bpf/vl2_decap.bpf.c
LIB_SRCS  += bpf/loader.c bpf/fwd_tables.c
TESTS     += bpf/test_dp bpf/test_fwd bpf/test_vl2
FUZZERS   += bpf/fuzz_fwd
SH_TESTS  += bpf/test_netns.sh bpf/test_netns6.sh
# The server load balancer's XDP program and its floor (docs/slb.md).
BPF_PROGS += bpf/slb.bpf.c bpf/slb_floor.bpf.c
LIB_SRCS  += bpf/slb_loader.c
TESTS     += bpf/test_slb
