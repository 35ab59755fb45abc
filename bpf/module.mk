BPF_PROGS += bpf/from_vm.bpf.c bpf/from_net.bpf.c bpf/vl2_encap.bpf.c bpf/vl2_decap.bpf.c
# NetLord: the commodity switch and the NLA (docs/netlord.md).
BPF_PROGS += bpf/netlord_switch.bpf.c bpf/netlord_encap.bpf.c bpf/netlord_decap.bpf.c
TESTS     += bpf/test_netlord
# Security groups: the check alone, for fixtures and benchmarks (docs/policy.md).
BPF_PROGS += bpf/policy.bpf.c
TESTS     += bpf/test_policy
LIB_SRCS  += bpf/loader.c bpf/fwd_tables.c bpf/policy_maps.c
TESTS     += bpf/test_dp bpf/test_fwd bpf/test_vl2
FUZZERS   += bpf/fuzz_fwd
SH_TESTS  += bpf/test_netns.sh bpf/test_netlord_netns.sh bpf/test_policy_netns.sh bpf/test_netns6.sh
# The server load balancer's XDP program and its floor (docs/slb.md).
BPF_PROGS += bpf/slb.bpf.c bpf/slb_floor.bpf.c
LIB_SRCS  += bpf/slb_loader.c
TESTS     += bpf/test_slb
# The BCube scheme (docs/bcube.md).
BPF_PROGS += bpf/bcube_send.bpf.c bpf/bcube_fwd.bpf.c
TESTS     += bpf/test_bcube
