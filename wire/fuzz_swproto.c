/* libFuzzer target: the switchd protocol decoder.  Each input is decoded as
 * it is (what an attacker without the key can send) and again with a valid
 * tag appended (what the body parsers see), and every element it accepts is
 * read back and re-encoded. */
#include <stdint.h>
#include <stddef.h>
#include <string.h>

#include "wire/swproto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct auth_key key = { { 0x42 } };

static void walk(const struct swp_msg *m)
{
	static uint8_t out[SWP_MAX_DGRAM];
	struct swp_op ops[SWP_MAX_OPS];
	struct swp_fib_entry e;
	struct swp_port p;

	switch (m->h.type) {
	case SWP_FIB_OPS:
		for (uint16_t i = 0; i < m->u.fib_ops.n; i++)
			swp_op_at(m, i, &ops[i]);
		if (!swp_enc_fib_ops(out, sizeof(out), &m->h, ops, m->u.fib_ops.n, &key))
			__builtin_trap();
		break;
	case SWP_DUMP_FIB:
		for (uint16_t i = 0; i < m->u.dump_fib.n; i++)
			swp_fib_entry_at(m, i, &e);
		break;
	case SWP_DUMP_PORTS:
		for (uint16_t i = 0; i < m->u.dump_ports.n; i++)
			swp_port_at(m, i, &p);
		break;
	default:
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t buf[SWP_MAX_DGRAM + AUTH_TAG_BYTES];
	struct swp_msg m;

	if (swp_decode(data, size, &key, &m) == 0)
		walk(&m);
	if (size + AUTH_TAG_BYTES <= SWP_MAX_DGRAM) {
		memcpy(buf, data, size);
		auth_tag(&key, buf, size, buf + size);
		if (swp_decode(buf, size + AUTH_TAG_BYTES, &key, &m) == 0)
			walk(&m);
	}
	return 0;
}
