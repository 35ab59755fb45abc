#include "lab/swclient.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/udp.h"

int swc_open(struct swc *c, const struct sockaddr_in *to, const struct auth_key *key,
	     uint32_t id)
{
	struct sockaddr_in any = { .sin_family = AF_INET };

	memset(c, 0, sizeof(*c));
	c->to = *to;
	c->key = *key;
	c->id = id;
	c->seq = wall_ns();	/* increasing across runs: switchd drops old seqs */
	c->timeout_ms = SWC_TIMEOUT_MS;
	c->tries = SWC_TRIES;
	c->fd = udp_open(&any, 0);
	return c->fd < 0 ? c->fd : 0;
}

void swc_close(struct swc *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

/* Send req (len bytes) and wait for a reply of `type` with our seq. */
static int transact(struct swc *c, const uint8_t *req, size_t len, uint8_t type,
		    uint8_t *rbuf, struct swp_msg *m)
{
	for (int t = 0; t < c->tries; t++) {
		uint64_t deadline = mono_ns() + (uint64_t)c->timeout_ms * 1000000;

		if (sendto(c->fd, req, len, 0, (const struct sockaddr *)&c->to,
			   sizeof(c->to)) < 0 && errno != ECONNREFUSED)
			return -errno;
		for (;;) {
			uint64_t now = mono_ns();
			struct pollfd p = { .fd = c->fd, .events = POLLIN };
			struct sockaddr_in from;
			socklen_t fl = sizeof(from);
			ssize_t n;

			if (now >= deadline)
				break;
			if (poll(&p, 1, (int)((deadline - now) / 1000000) + 1) <= 0)
				continue;
			n = recvfrom(c->fd, rbuf, SWP_MAX_DGRAM, 0, (struct sockaddr *)&from, &fl);
			if (n < 0 || from.sin_addr.s_addr != c->to.sin_addr.s_addr ||
			    from.sin_port != c->to.sin_port)
				continue;
			if (swp_decode(rbuf, (size_t)n, &c->key, m) == 0 &&
			    m->h.type == type && m->h.seq == c->seq)
				return 0;
		}
	}
	return -ETIMEDOUT;
}

int swc_fib_ops(struct swc *c, const struct swp_op *ops, uint16_t n, uint8_t *status,
		uint32_t *used, uint32_t *cap)
{
	uint8_t req[SWP_MAX_DGRAM], rbuf[SWP_MAX_DGRAM];
	struct swp_hdr h = { .sender = c->id, .seq = ++c->seq };
	struct swp_msg m;
	size_t len = swp_enc_fib_ops(req, sizeof(req), &h, ops, n, &c->key);
	int err;

	if (!len)
		return -EINVAL;
	if ((err = transact(c, req, len, SWP_FIB_ACK, rbuf, &m)))
		return err;
	if (m.u.fib_ack.n != n)
		return -EIO;
	memcpy(status, m.u.fib_ack.status, n);
	*used = m.u.fib_ack.used;
	*cap = m.u.fib_ack.cap;
	return 0;
}

static int dump_page(struct swc *c, uint8_t what, uint32_t off, uint8_t *rbuf,
		     struct swp_msg *m)
{
	uint8_t req[64];
	struct swp_hdr h = { .sender = c->id, .seq = ++c->seq };
	size_t len = swp_enc_dump_req(req, sizeof(req), &h, what, off, &c->key);

	return transact(c, req, len, what == SWP_WHAT_FIB ? SWP_DUMP_FIB : SWP_DUMP_PORTS,
			rbuf, m);
}

int swc_fib_use(struct swc *c, uint32_t *used, uint32_t *cap)
{
	uint8_t rbuf[SWP_MAX_DGRAM];
	struct swp_msg m;
	int err = dump_page(c, SWP_WHAT_FIB, UINT32_MAX, rbuf, &m);

	if (err)
		return err;
	*used = m.u.dump_fib.used;
	*cap = m.u.dump_fib.cap;
	return 0;
}

int swc_dump_fib(struct swc *c, struct swp_fib_entry **out, uint32_t *n, uint32_t *used,
		 uint32_t *cap)
{
	uint8_t rbuf[SWP_MAX_DGRAM];
	struct swp_fib_entry *e = NULL;
	uint32_t got = 0;
	struct swp_msg m;
	int err;

	do {
		if ((err = dump_page(c, SWP_WHAT_FIB, got, rbuf, &m))) {
			free(e);
			return err;
		}
		if (got + m.u.dump_fib.n > SWC_MAX_DUMP) {
			free(e);
			return -EIO;
		}
		e = xreallocarray(e, got + m.u.dump_fib.n + 1, sizeof(*e));
		for (uint16_t i = 0; i < m.u.dump_fib.n; i++)
			swp_fib_entry_at(&m, i, &e[got + i]);
		got += m.u.dump_fib.n;
	} while (m.u.dump_fib.n == SWP_MAX_DUMP_FIB);
	*out = e;
	*n = got;
	*used = m.u.dump_fib.used;
	*cap = m.u.dump_fib.cap;
	return 0;
}

int swc_dump_ports(struct swc *c, struct swp_port **out, uint32_t *n)
{
	uint8_t rbuf[SWP_MAX_DGRAM];
	struct swp_port *p = NULL;
	uint32_t got = 0;
	struct swp_msg m;
	int err;

	do {
		if ((err = dump_page(c, SWP_WHAT_PORTS, got, rbuf, &m))) {
			free(p);
			return err;
		}
		p = xreallocarray(p, got + m.u.dump_ports.n + 1, sizeof(*p));
		for (uint16_t i = 0; i < m.u.dump_ports.n; i++)
			swp_port_at(&m, i, &p[got + i]);
		got += m.u.dump_ports.n;
	} while (m.u.dump_ports.n && got < m.u.dump_ports.total);
	*out = p;
	*n = got;
	return 0;
}
