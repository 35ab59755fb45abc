/* Fuzz the RAS core with arbitrary event sequences from its switches.  The
 * topology is the default lab's (6 switches, 8 dual-homed servers).  The
 * input is a list of chunks [op][who][len][payload]:
 *   op % 4 == 0  payload as a raw datagram from switch `who`
 *   op % 4 == 1  a correctly signed LINK report: payload[0] port,
 *                payload[1] state, payload[2] seq step
 *   op % 4 == 2  a correctly signed FIB_ACK or DUMP_FIB answering the
 *                switch's request in flight (or not), with counts and
 *                entries from the payload
 *   op % 8 == 3  time passes (payload[0] * 8 ms) and the timer runs
 *   op % 8 == 4  a signed TRAFFIC from agent `who`: 4 payload bytes a flow
 *                (source VM, destination VM, Mbit, destination server)
 *   op % 8 == 5  a signed MOVED: payload[0] VM, payload[1] node
 *   op % 8 == 6  a signed ACK from agent `who` of its DIRECT in flight
 *                (payload[0] odd) or of a seq from the payload
 *   op % 8 == 7  time passes (payload[0] * 64 ms): direct routes computed
 * The core must never crash; its routes must stay what route/ computes. */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "ras/ras.h"
#include "route/failover.h"
#include "wire/pgr.h"
#include "wire/rasproto.h"

static const struct auth_key key = { { 3, 1, 4 } };

struct fz {
	struct topo *t;
	struct ras_addr *addr;
	struct ras *r;
	struct ras_out o;
	uint64_t now, seq[64], aseq;
};

#define AGENT_IP 0x0b000001u

static uint32_t fz_vm(const struct fz *f, uint8_t b)
{
	return pgr_id_of(f->t->nservers + 1 + b % 20, 0);
}

static void traffic(struct fz *f, uint32_t srv, const uint8_t *p, size_t n)
{
	struct rasp_flow fl[64];
	struct rasp_hdr h = { RASP_TRAFFIC, srv + 1, ++f->aseq, 0 };
	uint8_t buf[RASP_MAX_DGRAM];
	uint16_t k = 0;
	size_t len;

	for (size_t i = 0; i + 3 < n && k < 64; i += 4, k++)
		fl[k] = (struct rasp_flow){ fz_vm(f, p[i]), fz_vm(f, p[i + 1]),
					    (uint64_t)p[i + 2] * 125000, 100,
					    p[i + 3] % (f->t->nservers + 2) };
	len = rasp_enc_traffic(buf, sizeof(buf), &h, 1000, 0, 1, fl, k, &key);
	if (len)
		ras_input(f->r, (struct ras_addr){ AGENT_IP + srv, 9000 }, buf, len, f->now, &f->o);
}

static void moved(struct fz *f, const uint8_t *p, size_t n)
{
	struct rasp_hdr h = { RASP_MOVED, 0xffffff00u, ++f->aseq, 0 };
	struct rasp_moved mv;
	uint8_t buf[256];
	size_t len;

	if (n < 2)
		return;
	mv = (struct rasp_moved){ fz_vm(f, p[0]), 0, p[1] % (f->t->nnodes + 1) };
	len = rasp_enc_moved(buf, sizeof(buf), &h, &mv, &key);
	ras_input(f->r, (struct ras_addr){ 0x0c000001, 4000 }, buf, len, f->now, &f->o);
}

static void agent_ack(struct fz *f, uint32_t srv, const uint8_t *p, size_t n)
{
	struct rasp_hdr h = { RASP_ACK, srv + 1, ++f->aseq, 0 };
	uint64_t acked = n > 1 ? p[1] : 0;
	uint8_t buf[256];
	size_t len;

	for (size_t i = f->o.ndg; n && (p[0] & 1) && i-- > 0;) {
		struct rasp_msg m;

		if (f->o.dg[i].to.ip == AGENT_IP + srv &&
		    !rasp_decode(f->o.dg[i].buf, f->o.dg[i].len, &key, &m) &&
		    m.h.type == RASP_DIRECT) {
			acked = m.h.seq;
			break;
		}
	}
	len = rasp_enc_ack(buf, sizeof(buf), &h, acked, &key);
	ras_input(f->r, (struct ras_addr){ AGENT_IP + srv, 9000 }, buf, len, f->now, &f->o);
}

static void answer(struct fz *f, uint32_t sw, const uint8_t *p, size_t n)
{
	uint8_t buf[SWP_MAX_DGRAM], st[SWP_MAX_OPS];
	struct swp_fib_entry e[64];
	struct swp_hdr h = { .sender = sw };
	uint16_t k = 0;
	bool ports = false;
	size_t len;

	/* Answer the last datagram sent to this switch, by its seq. */
	for (size_t i = f->o.ndg; i-- > 0;) {
		struct swp_msg m;

		if (f->o.dg[i].to.ip != f->addr[sw].ip ||
		    swp_decode(f->o.dg[i].buf, f->o.dg[i].len, &key, &m))
			continue;
		h.seq = m.h.seq;
		if (m.h.type == SWP_FIB_OPS)
			k = m.u.fib_ops.n;
		ports = m.h.type == SWP_DUMP_REQ && m.u.dump_req.what == SWP_WHAT_PORTS;
		break;
	}
	if (n < 2)
		return;
	if (ports) {
		/* its port states: payload[1] bit i set = port i down */
		struct swp_port ps[8];
		uint16_t np = (uint16_t)MIN(f->t->nodes[sw].degree, 8u);

		h.type = SWP_DUMP_PORTS;
		for (uint16_t i = 0; i < np; i++)
			ps[i] = (struct swp_port){ i, (p[1] >> i) & 1 ? SWP_PORT_DOWN : SWP_PORT_UP };
		len = swp_enc_dump_ports(buf, sizeof(buf), &h, np, 0, ps, np, &key);
	} else if (p[0] & 1) {
		h.type = SWP_FIB_ACK;
		for (uint16_t i = 0; i < k; i++)
			st[i] = i + 2 < n ? p[i + 2] % (SWP_STATUS_MAX + 1) : 0;
		len = swp_enc_fib_ack(buf, sizeof(buf), &h, p[1], 1000, n > 2 ? p[2] : 0, st, k, &key);
	} else {
		uint16_t ne = 0;

		h.type = SWP_DUMP_FIB;
		for (size_t i = 2; i + 7 < n && ne < 64; i += 8, ne++) {
			memcpy(e[ne].mac, p + i, 6);
			e[ne].mac[0] &= 0xfe;
			e[ne].mac[5] |= 1;
			e[ne].port = (uint16_t)(p[i + 6] % 8);
		}
		len = swp_enc_dump_fib(buf, sizeof(buf), &h, p[1], 1000, n > 2 ? p[2] : 0, 0, e, ne, &key);
	}
	if (len)
		ras_input(f->r, f->addr[sw], buf, len, f->now, &f->o);
}

static void link_report(struct fz *f, uint32_t sw, const uint8_t *p, size_t n)
{
	uint8_t buf[SWP_MAX_DGRAM];
	struct swp_hdr h = { .type = SWP_LINK, .sender = sw };
	size_t len;

	if (n < 3)
		return;
	f->seq[sw] += (uint64_t)p[2] - 8;	/* sometimes older */
	h.seq = f->seq[sw];
	len = swp_enc_link(buf, sizeof(buf), &h, p[0] % 8, p[1] & 1, f->now, &key);
	assert(len);
	ras_input(f->r, f->addr[sw], buf, len, f->now, &f->o);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = { .now = 1000000000ull };
	struct ras_cfg c = { .key = key, .seq_base = 1 };
	char err[256];
	int rc;

	log_set_level(LOG_ERR);
	rc = topo_from_spec("leafspine:spines=2,leaves=4,servers=2,homing=2", &f.t, err,
			    sizeof(err));
	assert(rc == 0);
	f.addr = xcalloc(f.t->nnodes, sizeof(*f.addr));
	for (uint32_t i = 0; i < f.t->nnodes; i++) {
		if (!topo_is_server(f.t, i))
			f.addr[i] = (struct ras_addr){ 0x0a000001 + i, 7400 };
		f.seq[i % 64] = 1000;
	}
	c.t = f.t;
	c.sw = f.addr;
	rc = ras_new(&c, f.now, &f.r, err, sizeof(err));
	assert(rc == 0);
	ras_out_init(&f.o);
	ras_start(f.r, f.now, &f.o);
	while (size >= 3) {
		uint8_t op = data[0], len = data[2];
		uint32_t sw = f.t->switches[data[1] % f.t->nswitches];
		uint32_t srv = data[1] % f.t->nservers;

		data += 3;
		size -= 3;
		if (len > size)
			len = (uint8_t)size;
		switch (op % 8) {
		case 0: ras_input(f.r, f.addr[sw], data, len, f.now, &f.o); break;
		case 1: link_report(&f, sw, data, len); break;
		case 2: answer(&f, sw, data, len); break;
		case 4: traffic(&f, srv, data, len); break;
		case 5: moved(&f, data, len); break;
		case 6: agent_ack(&f, srv, data, len); break;
		default:
			f.now += (uint64_t)(len ? data[0] : 1) * (op % 8 == 7 ? 64 : 8) * 1000000ull;
			ras_tick(f.r, f.now, &f.o);
			break;
		}
		if (f.o.ndg > 256)
			ras_out_reset(&f.o);
		assert(ras_stats(f.r)->pairs_direct <= 20u * f.t->nservers);
		data += len;
		size -= len;
	}
	/* The incremental routes equal a computation from scratch. */
	{
		const struct route_trees *cur = ras_routes(f.r);
		struct route_trees *fresh;

		rc = route_trees_new(f.t, route_link_dead(cur), route_node_dead(cur), &fresh, err,
				     sizeof(err));
		assert(rc == 0);
		for (uint32_t sw = 0; sw < f.t->nnodes; sw++)
			assert(route_fib_count(fresh, sw) == route_fib_count(cur, sw));
		route_trees_free(fresh);
	}
	ras_out_free(&f.o);
	ras_free(f.r);
	free(f.addr);
	topo_free(f.t);
	return 0;
}
