/* libFuzzer: the agent's DHCP server on arbitrary frames from a VM.  The
 * parser never reads past the frame (ASan), and whatever it answers is a
 * well-formed frame to the VM's MAC that gives the VM its own address and
 * nothing else. */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "agent/dhcp.h"
#include "wire/frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct agent_vm_cfg c = { .name = "vm", .vdc = 1, .ip = 0x0a000005,
					       .node = 13, .port = "v", .plen = 24,
					       .gateway = 0x0a000001, .dns = { 0x0a000002 },
					       .ndns = 1 };
	struct agent_dhcp_vm vm = { .c = &c, .mac = { 0x02, 0, 0, 0, 0, 0x1a },
				    .server_mac = { 0x02, 0, 0, 0, 0, 0x02 } };
	uint8_t out[AGENT_DHCP_FRAME_MAX];
	struct wire_dhcp_msg m;
	struct wire_frame f;
	size_t n;
	enum agent_dhcp_verdict v;

	wire_dhcp_parse(data, size, &m);	/* the message alone */
	v = agent_dhcp_answer(&vm, data, size, out, &n);
	if ((unsigned)v >= AGENT_DHCP_COUNT || n > sizeof(out))
		abort();
	if (!n)
		return 0;
	if (v != AGENT_DHCP_offer && v != AGENT_DHCP_ack && v != AGENT_DHCP_nak)
		abort();
	if (wire_frame_parse(out, n, &f) || !f.ip || memcmp(f.eth->dst, vm.mac, 6) ||
	    f.ip->saddr != htonl(c.gateway))
		abort();
	/* the address given is the VM's own or none */
	if (memcmp(out + f.l4_off + 8 + 16, "\0\0\0\0", 4)) {
		uint32_t yi;

		memcpy(&yi, out + f.l4_off + 8 + 16, 4);
		if (yi != htonl(c.ip))
			abort();
	}
	return 0;
}
