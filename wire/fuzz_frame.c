/* libFuzzer: the frame parser and the encapsulation on arbitrary bytes.
 * Properties checked, not just "does not crash": a parsed plain frame
 * encapsulates and decapsulates back to itself; an encapsulated source never
 * carries the group bit; decapsulation yields a plain frame. */
#include <assert.h>
#include <string.h>

#include "wire/frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_encap(const uint8_t *data, size_t size, const struct wire_frame *f)
{
	uint8_t buf[WIRE_FRAME_MAX], im[WIRE_MAC_LEN];
	struct wire_eth *e = (struct wire_eth *)buf;
	size_t n = MIN(size, sizeof(buf));

	memcpy(buf, data, n);
	if (f->src_kind == PGR_SRC_ENCAP) {
		assert(!wire_mac_is_group(e->src));
		assert(pgr_decap(e) == 0);
		assert(pgr_src_kind(e->src) == PGR_SRC_PLAIN && pgr_mac_valid(e->dst));
		return;
	}
	if (f->src_kind != PGR_SRC_PLAIN || !pgr_mac_valid(e->dst))
		return;
	pgr_mac_make(im, pgr_id_of(1 + (data[size - 1] % 1000), data[0] & 1));
	assert(pgr_encap(e, im, f->eth->dst) == 0);
	assert(pgr_src_kind(e->src) == PGR_SRC_ENCAP && !wire_mac_is_group(e->src));
	assert(wire_mac_eq(e->dst, im));
	assert(pgr_decap(e) == 0);
	assert(memcmp(buf, data, n) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char line[WIRE_DESCRIBE_MAX];
	struct wire_frame f;
	enum wire_err err;

	err = wire_frame_parse(data, size, &f);
	assert((unsigned)err < WIRE_ERR_COUNT && wire_err_name(err)[0]);
	if (err == WIRE_OK) {
		wire_frame_describe(&f, line, sizeof(line));
		assert(strlen(line) < sizeof(line));
		if (f.ip)
			assert(f.l4_off <= size);
	}
	if (size >= WIRE_ETH_HLEN && err != WIRE_ERR_BAD_SRC)
		check_encap(data, size, &f);
	return 0;
}
