/* Fuzz the directory protocol decoder: nothing it accepts may be read out of
 * bounds, and everything it accepts must re-encode to the same bytes. */
#include <assert.h>
#include <string.h>

#include "wire/dirproto.h"

static void reencode(const uint8_t *data, size_t size, const struct dirp_msg *m)
{
	static const struct auth_key key;
	uint8_t out[DIRP_MAX_DGRAM];
	struct dirp_writer w;
	size_t len;

	dirp_begin(&w, out, sizeof(out), &m->h);
	for (unsigned i = 0; i < m->h.count; i++) {
		switch (m->rec_len) {
		case DIRP_ENTRY_LEN: { struct dirp_entry e; dirp_get_entry(m, i, &e); dirp_put_entry(&w, &e); break; }
		case DIRP_KEY_LEN: {
			if (m->h.type == (DIRP_STATS | DIRP_REPLY_BIT)) {
				dirp_put_stat(&w, dirp_get_stat(m, i));
			} else if (m->h.type == DIRP_SET_AVAIL) {
				struct dirp_avail a;

				dirp_get_avail(m, i, &a);
				dirp_put_avail(&w, &a);
			} else {
				struct dirp_key k;

				dirp_get_key(m, i, &k);
				dirp_put_key(&w, &k);
			}
			break;
		}
		case DIRP_ACK_LEN:
			if (m->h.type == DIRP_ACK) {
				struct dirp_ack a;

				dirp_get_ack(m, i, &a);
				dirp_put_ack(&w, &a);
			} else {
				struct dirp_avail_res r;

				dirp_get_avail_res(m, i, &r);
				dirp_put_avail_res(&w, &r);
			}
			break;
		case DIRP_MOVE_LEN: { struct dirp_move mv; dirp_get_move(m, i, &mv); dirp_put_move(&w, &mv); break; }
		case DIRP_ENTRY6_LEN: { struct dirp_entry6 e; dirp_get_entry6(m, i, &e); dirp_put_entry6(&w, &e); break; }
		case DIRP_MEMBER_LEN: { struct dirp_member g; dirp_get_member(m, i, &g); dirp_put_member(&w, &g); break; }
		case DIRP_KEY6_LEN: { struct dirp_key6 k; dirp_get_key6(m, i, &k); dirp_put_key6(&w, &k); break; }
		case DIRP_POL_LEN: { struct dirp_pol p; dirp_get_pol(m, i, &p); dirp_put_pol(&w, &p); break; }
		default: assert(!"unknown record length");
		}
	}
	len = dirp_finish(&w, &key);
	assert(len == size);
	assert(!memcmp(out, data, size - DIRP_TAG_LEN));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct auth_key key = { { 9 } };
	struct dirp_msg m;

	if (dirp_decode(data, size, &key, &m) == 0)
		reencode(data, size, &m);
	if (dirp_decode(data, size, NULL, &m) == 0)
		reencode(data, size, &m);
	{
		struct auth_key vk;
		bool by_vdc;

		/* the directory's decoder: a VDC's key for policy requests */
		if (dirp_decode_auth(data, size, &key, &m, &by_vdc, &vk) == 0)
			assert(by_vdc ? dirp_is_pol_request(m.h.type) : true);
	}
	return 0;
}
