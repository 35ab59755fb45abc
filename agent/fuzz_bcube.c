/* libFuzzer: the BCube daemon's core (agent/bcube.c) on arbitrary frames
 * from its NICs.  Input: a level byte, 8 bytes of clock advance, then the
 * frame.  Whatever arrives, every action stays within the core's bounds:
 * frames out of an existing NIC and of the fixed size, neighbours that are
 * neighbours, routes within the path limits. */
#include <stdlib.h>
#include <string.h>

#include "agent/bcube.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct topo *t;
static struct bca *c;
static struct bca_out *out;
static uint64_t now = 1;

static void check(void)
{
	for (unsigned i = 0; i < out->n; i++) {
		const struct bca_act *a = &out->a[i];

		switch (a->kind) {
		case BCA_SEND:
			if (a->level > c->k || a->len != BCA_FRAME)
				abort();
			break;
		case BCA_NBR:
			if (a->level > c->k || a->digit >= c->n || a->digit == c->digits[a->level])
				abort();
			break;
		case BCA_ROUTE:
			if (a->route.npaths > BCUBE_MAX_PATHS)
				abort();
			break;
		case BCA_LOOKUP:
			break;
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t macs[2][6] = { { 2, 0, 0, 0, 0, 1 }, { 2, 0, 0, 0, 0, 2 } };
	uint64_t adv;
	char err[128];

	if (!t) {
		if (topo_build_bcube(&t, 4, 1, err, sizeof(err)))
			abort();
		c = calloc(1, sizeof(*c));
		out = calloc(1, sizeof(*out));
		bca_init(c, t, 5, macs);
		/* a destination to answer for: 15, resolved */
		bca_on_miss(c, now, 0x1000d20a, out);
		bca_on_resolved(c, now, 0x1000d20a, true, 15, out);
	}
	if (size < 9)
		return 0;
	memcpy(&adv, data + 1, 8);
	now += adv % 1000000000ull;
	out->n = 0;
	bca_on_frame(c, now, data[0], data + 9, size - 9, out);
	check();
	out->n = 0;
	bca_tick(c, now, out);
	check();
	return 0;
}
