/* The floor of an XDP measurement: a program that sends every frame back
 * out as it came (XDP_TX) and does nothing else.  `peregrine bench slb`
 * times it next to the load balancer in the same run (docs/slb.md). */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

SEC("xdp")
int pgr_xdp_tx(struct xdp_md *ctx)
{
	return XDP_TX;
}
