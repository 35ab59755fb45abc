/* Fuzz the directory core with arbitrary event sequences.  The input is a
 * list of chunks [op][len][payload]:
 *   op % 4 == 0  payload as a raw datagram (mostly dropped by the decoder)
 *   op % 4 == 1  payload[0] is a type, the rest records: sent as a correctly
 *                authenticated, fresh message, so it reaches the handlers
 *   op % 4 == 2  time passes (payload[0] * 8 ms) and the timer runs
 *   op % 4 == 3  the clients acknowledge every push of the last output
 * (op >> 2) % 4 picks the sender.  A type byte of 0xfe makes a well-formed
 * policy request (POL_SET, POL_GET or POL_DEL) of the rest: a chunk of
 * fuzzed text for one of a few VMs, tagged with the shared key or with a
 * VDC's key (its own or another's), so that the assembly of chunks, the
 * policy parser behind it and the VDC check are reached.  The core must
 * never crash, and its counters must stay consistent. */
#include <assert.h>
#include <string.h>

#include "dir/dir.h"

static const struct auth_key key = { { 7, 7, 7 } };

struct fz {
	struct dir *d;
	struct dir_out out;
	uint64_t t, seq[4];
};

static struct dir_now now_of(const struct fz *f)
{
	return (struct dir_now){ .ns = f->t, .wall_ms = 1700000000000ull + f->t / 1000000 };
}

static uint64_t addr_of(unsigned who)
{
	return dir_addr(0x7f000001, (uint16_t)(5000 + who));
}

/* p: [kind][vm][offset lo][total lo][signer] then the chunk's data */
static void send_pol(struct fz *f, unsigned who, const uint8_t *p, size_t n)
{
	static const uint8_t types[3] = { DIRP_POL_SET, DIRP_POL_GET, DIRP_POL_DEL };
	uint8_t buf[DIRP_MAX_DGRAM];
	struct dirp_hdr h;
	struct dirp_writer w;
	struct dirp_pol r = { 0 };
	struct auth_key vk;

	if (n < 5)
		return;
	h = (struct dirp_hdr){ .type = types[p[0] % 3], .session = who + 1, .seq = ++f->seq[who],
			       .time_ms = now_of(f).wall_ms, .req_id = f->seq[who] };
	r.vdc = p[1] & 3;
	r.ip = p[1] >> 2;
	r.xfer = p[0] >> 2;
	if (h.type == DIRP_POL_SET) {
		r.len = (uint16_t)MIN(n - 5, (size_t)DIRP_POL_CHUNK);
		r.offset = (uint32_t)p[2] * 64;
		r.total = r.offset + r.len + p[3];
		r.data = p + 5;
	} else if (h.type == DIRP_POL_GET) {
		r.offset = (uint32_t)p[2] * 8;
	}
	dirp_begin(&w, buf, sizeof(buf), &h);
	dirp_put_pol(&w, &r);
	auth_vdc_key(&key, p[4] & 3, &vk);
	dir_input(f->d, now_of(f), addr_of(who), buf, dirp_finish(&w, p[4] & 4 ? &vk : &key),
		  &f->out);
}

static void send_signed(struct fz *f, unsigned who, const uint8_t *p, size_t n)
{
	uint8_t buf[DIRP_MAX_DGRAM];
	struct dirp_hdr h;
	struct dirp_writer w;
	size_t rl, len;

	if (n < 1)
		return;
	if (p[0] == 0xfe) {
		send_pol(f, who, p + 1, n - 1);
		return;
	}
	h = (struct dirp_hdr){ .type = p[0], .session = who + 1, .seq = ++f->seq[who],
			       .time_ms = now_of(f).wall_ms, .req_id = f->seq[who] };
	rl = dirp_record_len(p[0]);
	if (!rl)
		return;
	dirp_begin(&w, buf, sizeof(buf), &h);
	len = w.len;
	p++, n--;
	/* Copy whole records verbatim (whatever the fuzzer chose), as many as fit. */
	for (; n >= rl && dirp_room(&w); p += rl, n -= rl) {
		memcpy(buf + len, p, rl);
		len += rl;
		w.len = len;
		w.count++;
	}
	len = dirp_finish(&w, &key);
	dir_input(f->d, now_of(f), addr_of(who), buf, len, &f->out);
}

static void ack_all(struct fz *f)
{
	struct dir_out o = f->out;

	dir_out_init(&f->out);
	for (size_t i = 0; i < o.nsends; i++) {
		const uint8_t *b = o.buf + o.sends[i].off;
		uint8_t rec[1 + DIRP_ACK_LEN] = { DIRP_ACK };
		struct dirp_msg m;
		struct dirp_entry e;

		/* we sent it: with the shared key, or a tenant's reply with its own */
		if (dirp_decode(b, o.sends[i].len, &key, &m)) {
			assert(dirp_decode(b, o.sends[i].len, NULL, &m) == 0);
			assert(m.h.type == (DIRP_POL_SET | DIRP_REPLY_BIT) ||
			       m.h.type == (DIRP_POL_GET | DIRP_REPLY_BIT) ||
			       m.h.type == (DIRP_POL_DEL | DIRP_REPLY_BIT));
			continue;
		}
		if (m.h.type != DIRP_UPDATE && m.h.type != DIRP_INVALIDATE)
			continue;
		dirp_get_entry(&m, 0, &e);
		for (int k = 0; k < 4; k++) {
			rec[1 + k] = (uint8_t)(e.vdc >> (24 - 8 * k));
			rec[5 + k] = (uint8_t)(e.ip >> (24 - 8 * k));
			rec[9 + k] = (uint8_t)(e.version >> (24 - 8 * k));
		}
		for (uint32_t j = 0; j < o.sends[i].ndst; j++)
			send_signed(f, (unsigned)((o.dsts[o.sends[i].dst + j] & 0xffff) - 5000) & 3,
				    rec, sizeof(rec));
	}
	dir_out_free(&o);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dir_cfg cfg = { .key = &key, .seed = 1, .lease_ms = 500, .neg_lease_ms = 50,
			       .service_net = 0x0afe0000, .service_mask = 0xffff0000,
			       .max_entries = 64, .max_leases = 64 };
	struct fz f = { .t = 1000000 };
	uint64_t st[DIR_STAT_COUNT];

	f.d = dir_new(&cfg);
	dir_out_init(&f.out);
	while (size >= 2) {
		unsigned op = data[0], n = MIN((size_t)data[1] * 8, size - 2);
		const uint8_t *p = data + 2;

		data += 2 + n;
		size -= 2 + n;
		if (op % 4 != 3)
			dir_out_reset(&f.out);
		switch (op % 4) {
		case 0: dir_input(f.d, now_of(&f), addr_of((op >> 2) & 3), p, n, &f.out); break;
		case 1: send_signed(&f, (op >> 2) & 3, p, n); break;
		case 2:
			f.t += (uint64_t)(n ? p[0] : 1) * 8000000ull;
			dir_tick(f.d, now_of(&f), &f.out);
			break;
		case 3: ack_all(&f); break;
		}
		for (size_t i = 0; i < f.out.nsends; i++)
			assert(f.out.sends[i].len <= DIRP_MAX_DGRAM && f.out.sends[i].ndst > 0);
		dir_get_stats(f.d, st);
		assert(st[DIR_STAT_pending_pushes] <= st[DIR_STAT_leases]);
		assert(st[DIR_STAT_entries] + st[DIR_STAT_draining] <= 64);
		assert(st[DIR_STAT_leases] <= 64);
		assert(st[DIR_STAT_v6_entries] <= 64);
		assert(st[DIR_STAT_pol_policies] <= 4 * 64);	/* 4 VDCs, 64 addresses */
		for (size_t i = 0; i < f.out.npops; i++)
			assert(f.out.pops[i].off + f.out.pops[i].len <= f.out.plen);
	}
	dir_out_free(&f.out);
	dir_free(f.d);
	return 0;
}
