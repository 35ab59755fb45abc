/* The security-group check alone, for fixtures and benchmarks
 * (bpf/test_policy.c, `peregrine bench policy`): BPF_PROG_TEST_RUN hands it
 * a frame and, in the context's cb[], the direction (cb[0]), the local VM's
 * primary ID (cb[1]), its address (cb[2], network order) and whether to
 * track new flows (cb[3] != 0).  It returns the verdict (enum
 * pgr_pol_stat).  The data plane runs the same pgr_pol_check() from
 * from_vm.bpf.c and from_net.bpf.c.  docs/policy.md. */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

#include "bpf/policy.h"

char LICENSE[] SEC("license") = "GPL";

SEC("tc")
int pgr_policy_fixture(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	struct pgr_vm vm = { .id = skb->cb[1], .ip = skb->cb[2] };

	return (int)pgr_pol_check(data, end, skb->len, &vm, (uint8_t)(skb->cb[0] & 1),
				  skb->cb[3] != 0);
}

/* The same frame through nothing but the program's entry and exit: the floor
 * the policy's cost is measured above. */
SEC("tc")
int pgr_policy_floor(struct __sk_buff *skb)
{
	return skb->cb[0] == 7 ? TC_ACT_SHOT : TC_ACT_OK;
}
