/* libFuzzer: IGMP and MLD reports from a VM (agent/mcast.c) on arbitrary
 * frames.  The parser never reads past the frame (ASan: libFuzzer hands a
 * heap block of exactly its length), returns a known verdict, never more
 * than AGENT_MCAST_OPS changes, changes only for a report, and only of
 * groups a VM may join. */
#include <stdlib.h>

#include "agent/mcast.h"
#include "wire/dirproto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct agent_mcast_vm vm = { .mac = { 0x02, 0, 0, 0, 0, 0x1a },
						  .ip = 0x0a000005 };
	static struct agent_mcast_state s;
	struct agent_mcast_op ops[AGENT_MCAST_OPS];
	enum agent_mcast_verdict v;
	unsigned n = 99;

	v = agent_mcast_parse(&vm, data, size, ops, &n);
	if ((unsigned)v >= AGENT_MCAST_COUNT || n > AGENT_MCAST_OPS)
		abort();
	if (v != AGENT_MCAST_report && n)
		abort();
	for (unsigned i = 0; i < n; i++) {
		if (!dirp_group_ok(ops[i].group))
			abort();
		v = agent_mcast_apply(&s, &ops[i]);
		if (s.n > AGENT_MCAST_VM_GROUPS)
			abort();
	}
	return 0;
}
