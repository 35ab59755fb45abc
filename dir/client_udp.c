#include "dir/client_udp.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/udp.h"

#define NO_SERVER UINT32_MAX

struct dirc_udp {
	int fd;				/* connected to the server in use */
	int hfd;			/* connected to the hedge server, hcur */
	int efd;			/* epoll of both: dirc_udp_fd() */
	unsigned hcur;			/* NO_SERVER before the first hedge */
	struct dirc *c;
	struct udp_batch rx;
	struct sockaddr_in servers[DIRC_UDP_SERVERS];
	unsigned nservers, cur;
	uint32_t failover_ms;
	uint64_t heard_ns;		/* mono ns: the last datagram from the server
					 * in use, or the move to it */
	uint64_t suspect_until[DIRC_UDP_SERVERS];	/* mono ns; 0: never given up */
	bool dead[DIRC_UDP_SERVERS];	/* suspect because its address refused */
	bool refused;			/* the server's address refused a datagram */
	uint64_t failovers, refusals;
	void (*on_failover)(void *arg, unsigned server);
	void *failover_arg;
};

struct dir_now dir_now_sys(void)
{
	return (struct dir_now){ .ns = mono_ns(), .wall_ms = wall_ns() / 1000000ull };
}

static void send_cb(void *arg, const uint8_t *buf, size_t len)
{
	struct dirc_udp *u = arg;

	/* UDP: a datagram the kernel refuses is lost and retransmitted later.
	 * ECONNREFUSED is an earlier datagram's ICMP port unreachable. */
	if (send(u->fd, buf, len, MSG_DONTWAIT) < 0 && errno == ECONNREFUSED)
		u->refused = true;
}

static void suspect(struct dirc_udp *u, unsigned i, uint64_t now, bool refused)
{
	u->suspect_until[i] = now + (uint64_t)DIRC_UDP_SUSPECT_MS * 1000000ull;
	u->dead[i] = refused;
}

/* The hedge server: the next after the one in use that is not suspect;
 * else the next one left only for its silence (it may well be alive: a
 * hedge costs one datagram, and its answer clears it), never one whose
 * address refused datagrams within DIRC_UDP_SUSPECT_MS. */
static unsigned pick_hedge(const struct dirc_udp *u, uint64_t now)
{
	unsigned silent = NO_SERVER;

	for (unsigned k = 1; k < u->nservers; k++) {
		unsigned i = (u->cur + k) % u->nservers;

		if (u->suspect_until[i] <= now)
			return i;
		if (!u->dead[i] && silent == NO_SERVER)
			silent = i;
	}
	return silent;
}

/* A hedged lookup (or the ack of a push from the hedge server) on the
 * second socket, so that the one in use stays connected to its server.  A
 * hedge server whose address refuses datagrams is suspect (it died too). */
static bool hedge_cb(void *arg, const uint8_t *buf, size_t len)
{
	struct dirc_udp *u = arg;
	uint64_t now = mono_ns();
	unsigned h = pick_hedge(u, now);

	if (len > 3 && buf[3] == DIRP_ACK)	/* of a push: to the server that sent it */
		return u->hcur != NO_SERVER && send(u->hfd, buf, len, MSG_DONTWAIT) == (ssize_t)len;
	if (h == NO_SERVER)
		return false;
	if (h != u->hcur) {
		if (connect(u->hfd, (const struct sockaddr *)&u->servers[h], sizeof(u->servers[h])))
			return false;
		u->hcur = h;
	}
	if (send(u->hfd, buf, len, MSG_DONTWAIT) == (ssize_t)len)
		return true;
	if (errno == ECONNREFUSED)
		suspect(u, h, now, true);
	return false;
}

/* Both sockets in one epoll set, whose fd the caller polls. */
static int sockets_open(struct dirc_udp *u, const struct sockaddr_in *server)
{
	int buf = 1 << 20;

	/* Not udp_open(): it sets SO_REUSEADDR, with which an ephemeral port
	 * may be one a server already listens on, and the client would take
	 * that server's traffic.  connect() picks a free port. */
	u->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (u->fd < 0)
		goto err;
	setsockopt(u->fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
	if (connect(u->fd, (const struct sockaddr *)server, sizeof(*server)) < 0)
		goto err_fd;
	u->hfd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (u->hfd < 0)
		goto err_fd;
	u->efd = epoll_create1(EPOLL_CLOEXEC);
	if (u->efd < 0)
		goto err_hfd;
	if (epoll_ctl(u->efd, EPOLL_CTL_ADD, u->fd,
		      &(struct epoll_event){ .events = EPOLLIN, .data.fd = u->fd }) ||
	    epoll_ctl(u->efd, EPOLL_CTL_ADD, u->hfd,
		      &(struct epoll_event){ .events = EPOLLIN, .data.fd = u->hfd }))
		goto err_efd;
	return 0;
err_efd:
	close(u->efd);
err_hfd:
	close(u->hfd);
err_fd:
	close(u->fd);
err:
	return -errno;
}

struct dirc_udp *dirc_udp_open(const struct sockaddr_in *server, struct dirc_cfg *cfg, int *err)
{
	struct dirc_udp *u = xcalloc(1, sizeof(*u));

	if ((*err = sockets_open(u, server))) {
		free(u);
		return NULL;
	}
	udp_batch_init(&u->rx);
	cfg->send = send_cb;
	cfg->send_arg = u;
	cfg->hedge = hedge_cb;
	cfg->hedge_arg = u;
	u->hcur = NO_SERVER;
	u->c = dirc_new(cfg);
	u->servers[0] = *server;
	u->nservers = 1;
	u->failover_ms = DIRC_UDP_FAILOVER_MS;
	return u;
}

void dirc_udp_close(struct dirc_udp *u)
{
	if (!u)
		return;
	dirc_free(u->c);
	close(u->efd);
	close(u->hfd);
	close(u->fd);
	free(u);
}

struct dirc *dirc_udp_client(struct dirc_udp *u)
{
	return u->c;
}

int dirc_udp_fd(const struct dirc_udp *u)
{
	return u->efd;
}

int dirc_udp_local(const struct dirc_udp *u, struct sockaddr_in *a)
{
	socklen_t len = sizeof(*a);

	return getsockname(u->fd, (struct sockaddr *)a, &len) < 0 ? -errno : 0;
}

int dirc_udp_add_server(struct dirc_udp *u, const struct sockaddr_in *server)
{
	if (u->nservers == DIRC_UDP_SERVERS)
		return -ENOSPC;
	u->servers[u->nservers++] = *server;
	return 0;
}

void dirc_udp_set_failover_ms(struct dirc_udp *u, uint32_t ms)
{
	u->failover_ms = ms ? ms : DIRC_UDP_FAILOVER_MS;
}

void dirc_udp_on_failover(struct dirc_udp *u, void (*fn)(void *arg, unsigned server), void *arg)
{
	u->on_failover = fn;
	u->failover_arg = arg;
}

unsigned dirc_udp_server(const struct dirc_udp *u)
{
	return u->cur;
}

uint64_t dirc_udp_failovers(const struct dirc_udp *u)
{
	return u->failovers;
}

uint64_t dirc_udp_refusals(const struct dirc_udp *u)
{
	return u->refusals;
}

static void failover(struct dirc_udp *u, uint64_t now, bool refused);

/* Answers to hedged lookups, and pushes from the hedge server.  A server
 * that answers a hedge is alive: no longer suspect (the client may move
 * there; before, a client that had left it for 30 ms of silence stayed on
 * a hung server until the suspicion ran out). */
static void hedge_readable(struct dirc_udp *u)
{
	uint64_t won = dirc_get_stats(u->c)->hedge_won;
	int n;

	while ((n = udp_recv_batch(u->hfd, &u->rx)) != 0) {
		struct dir_now now = dir_now_sys();

		if (n == -ECONNREFUSED)
			suspect(u, u->hcur, now.ns, true);	/* no further hedges there */
		if (n < 0)
			break;
		for (int i = 0; i < n; i++)
			dirc_hedge_input(u->c, now, u->rx.bufs[i], u->rx.msgs[i].msg_len);
	}
	if (dirc_get_stats(u->c)->hedge_won != won && u->hcur != u->cur)
		u->suspect_until[u->hcur] = 0;
}

void dirc_udp_readable(struct dirc_udp *u)
{
	int n;

	if (u->hcur != NO_SERVER)
		hedge_readable(u);
	for (;;) {
		struct dir_now now = dir_now_sys();

		n = udp_recv_batch(u->fd, &u->rx);
		if (n == -ECONNREFUSED)
			u->refused = true;
		if (u->refused && u->nservers > 1) {
			failover(u, now.ns, true);
			continue;	/* the new server's socket may hold data */
		}
		u->refused = false;	/* alone: keep asking it */
		if (n <= 0)
			break;
		for (int i = 0; i < n; i++)
			dirc_input(u->c, now, u->rx.bufs[i], u->rx.msgs[i].msg_len);
		/* The server is alive: what is still in flight waits anew. */
		u->heard_ns = now.ns;
	}
}

/* The server to move to from cur: the next in turn that is not suspect;
 * when every other one is, cur itself if it was only silent, else the one
 * suspected longest ago. */
static unsigned pick_next(const struct dirc_udp *u, uint64_t now, bool refused)
{
	unsigned best = u->cur;

	for (unsigned k = 1; k < u->nservers; k++) {
		unsigned i = (u->cur + k) % u->nservers;

		if (u->suspect_until[i] <= now)
			return i;
		if (best == u->cur || u->suspect_until[i] < u->suspect_until[best])
			best = i;
	}
	return refused ? best : u->cur;
}

/* Move to another server: connect the socket to it (replies and pushes
 * from the old one are no longer received). */
static void failover(struct dirc_udp *u, uint64_t now, bool refused)
{
	unsigned next = pick_next(u, now, refused);

	u->refused = false;
	if (next == u->cur) {	/* every other one is suspect: wait here */
		u->heard_ns = now;
		return;
	}
	if (connect(u->fd, (const struct sockaddr *)&u->servers[next], sizeof(u->servers[next])))
		return;	/* tried again at the next tick */
	suspect(u, u->cur, now, refused);
	u->suspect_until[next] = 0;
	u->cur = next;
	u->failovers++;
	u->refusals += refused;
	dirc_expedite(u->c, now);
	u->heard_ns = now;
	if (u->on_failover)
		u->on_failover(u->failover_arg, next);
}

/* When the server in use has been silent too long: failover_ms after the
 * oldest read in flight was sent (or after we last heard from it, if
 * later), DIRC_UDP_WRITE_FAILOVER_MS after the oldest write; UINT64_MAX
 * with nothing in flight. */
static uint64_t silence_due(const struct dirc_udp *u)
{
	uint64_t r = dirc_oldest(u->c, false), w = dirc_oldest(u->c, true), due = UINT64_MAX;
	uint64_t wms = MAX(u->failover_ms, (uint32_t)DIRC_UDP_WRITE_FAILOVER_MS);

	if (r)
		due = MAX(r, u->heard_ns) + (uint64_t)u->failover_ms * 1000000ull;
	if (w)
		due = MIN(due, MAX(w, u->heard_ns) + wms * 1000000ull);
	return due;
}

uint64_t dirc_udp_tick(struct dirc_udp *u)
{
	struct dir_now now = dir_now_sys();
	uint64_t next;

	if (u->nservers > 1 && u->refused)
		failover(u, now.ns, true);
	else if (u->nservers > 1 && now.ns >= silence_due(u))
		failover(u, now.ns, false);
	next = dirc_tick(u->c, now);
	if (u->nservers > 1)
		next = MIN(next, silence_due(u));
	return next;
}

int dirc_udp_wait(struct dirc_udp *u, bool (*cond)(void *arg), void *arg, int timeout_ms)
{
	uint64_t end = mono_ns() + (uint64_t)timeout_ms * 1000000ull;

	while (!cond(arg)) {
		uint64_t now = mono_ns(), next = dirc_udp_tick(u);
		struct pollfd pfd = { .fd = u->efd, .events = POLLIN };
		int ms;

		if (cond(arg))
			break;
		if (now >= end)
			return -ETIMEDOUT;
		next = MIN(next, end);
		ms = next > now ? (int)((next - now + 999999) / 1000000) : 0;
		if (poll(&pfd, 1, ms) > 0)
			dirc_udp_readable(u);
	}
	return 0;
}

/* ---- policies, blocking ------------------------------------------------------ */

struct pol_call {
	bool done, answered;
	struct dirp_pol r;		/* r.data points into data */
	uint8_t data[DIRP_POL_CHUNK];
};

static void pol_reply(void *arg, uint64_t id, const struct dirp_msg *m)
{
	struct pol_call *c = arg;

	(void)id;
	c->done = true;
	if (!m || m->h.count != 1)
		return;
	dirp_get_pol(m, 0, &c->r);
	memcpy(c->data, c->r.data, c->r.len);
	c->r.data = c->data;
	c->answered = true;
}

static bool pol_done(void *arg)
{
	return ((struct pol_call *)arg)->done;
}

/* One request and its answer: 0 (answer in c->r and *a), or -errno. */
static int pol_call(struct dirc_udp *u, uint8_t type, const struct dirp_pol *rq, int timeout_ms,
		    struct pol_call *c, struct dirc_pol_answer *a)
{
	int64_t id;

	memset(c, 0, sizeof(*c));
	id = dirc_request(dirc_udp_client(u), dir_now_sys(), type, rq, 1, pol_reply, c);
	if (id < 0)
		return (int)id;
	if (dirc_udp_wait(u, pol_done, c, timeout_ms) || !c->answered)
		return -ETIMEDOUT;
	a->status = c->r.status;
	a->version = c->r.version;
	a->why[0] = 0;
	if (c->r.status != DIRP_OK) {
		memcpy(a->why, c->data, c->r.len);
		a->why[c->r.len] = 0;
	}
	return 0;
}

int dirc_udp_pol_set(struct dirc_udp *u, uint32_t vdc, uint32_t ip, const char *text,
		     uint32_t len, int timeout_ms, struct dirc_pol_answer *a)
{
	uint32_t off = 0, xfer = (uint32_t)(dir_now_sys().ns ^ (uint64_t)(uintptr_t)u) | 2;
	struct pol_call c;
	int ret;

	if (len > DIRP_POL_TEXT_MAX)
		return -EINVAL;
	do {
		struct dirp_pol rq = { .vdc = vdc, .ip = ip, .total = len, .offset = off,
				       .xfer = xfer, .data = (const uint8_t *)text + off };

		rq.len = (uint16_t)MIN(len - off, (uint32_t)DIRP_POL_CHUNK);
		if ((ret = pol_call(u, DIRP_POL_SET, &rq, timeout_ms, &c, a)))
			return ret;
		off += rq.len;
	} while (a->status == DIRP_OK && off < len);
	return 0;
}

int dirc_udp_pol_get(struct dirc_udp *u, uint32_t vdc, uint32_t ip, int timeout_ms,
		     char **text, uint32_t *len, struct dirc_pol_answer *a)
{
	uint32_t off = 0, version = 0;
	struct pol_call c;
	char *t = NULL;
	int ret = 0;

	*text = NULL;
	*len = 0;
	for (int restarts = 0; restarts < 4;) {
		struct dirp_pol rq = { .vdc = vdc, .ip = ip, .offset = off };

		if ((ret = pol_call(u, DIRP_POL_GET, &rq, timeout_ms, &c, a)))
			break;
		if (a->status != DIRP_OK)
			break;
		if (off && (c.r.version != version || c.r.total != *len || c.r.offset != off)) {
			off = 0;		/* it changed while being read */
			restarts++;
			continue;
		}
		if (!off) {
			free(t);
			t = xmalloc((size_t)c.r.total + 1);
			version = c.r.version;
			*len = c.r.total;
		}
		memcpy(t + off, c.data, c.r.len);
		off += c.r.len;
		if (off >= *len) {
			t[*len] = 0;
			*text = t;
			return 0;
		}
		if (!c.r.len)
			break;
	}
	free(t);
	*len = 0;
	return ret ? ret : (a->status == DIRP_OK ? -EAGAIN : 0);
}

int dirc_udp_pol_del(struct dirc_udp *u, uint32_t vdc, uint32_t ip, int timeout_ms,
		     struct dirc_pol_answer *a)
{
	struct dirp_pol rq = { .vdc = vdc, .ip = ip };
	struct pol_call c;

	return pol_call(u, DIRP_POL_DEL, &rq, timeout_ms, &c, a);
}
