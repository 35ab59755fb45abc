#include "dir/client_udp.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/udp.h"

struct dirc_udp {
	int fd;
	struct dirc *c;
	struct udp_batch rx;
};

struct dir_now dir_now_sys(void)
{
	return (struct dir_now){ .ns = mono_ns(), .wall_ms = wall_ns() / 1000000ull };
}

static void send_cb(void *arg, const uint8_t *buf, size_t len)
{
	struct dirc_udp *u = arg;

	/* UDP: a datagram the kernel refuses is lost and retransmitted later. */
	(void)!send(u->fd, buf, len, MSG_DONTWAIT);
}

struct dirc_udp *dirc_udp_open(const struct sockaddr_in *server, struct dirc_cfg *cfg, int *err)
{
	struct dirc_udp *u = xcalloc(1, sizeof(*u));
	int buf = 1 << 20;

	/* Not udp_open(): it sets SO_REUSEADDR, with which an ephemeral port
	 * may be one a server already listens on, and the client would take
	 * that server's traffic.  connect() picks a free port. */
	u->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (u->fd < 0) {
		*err = -errno;
		free(u);
		return NULL;
	}
	setsockopt(u->fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
	if (connect(u->fd, (const struct sockaddr *)server, sizeof(*server)) < 0) {
		*err = -errno;
		close(u->fd);
		free(u);
		return NULL;
	}
	udp_batch_init(&u->rx);
	cfg->send = send_cb;
	cfg->send_arg = u;
	u->c = dirc_new(cfg);
	return u;
}

void dirc_udp_close(struct dirc_udp *u)
{
	if (!u)
		return;
	dirc_free(u->c);
	close(u->fd);
	free(u);
}

struct dirc *dirc_udp_client(struct dirc_udp *u)
{
	return u->c;
}

int dirc_udp_fd(const struct dirc_udp *u)
{
	return u->fd;
}

int dirc_udp_local(const struct dirc_udp *u, struct sockaddr_in *a)
{
	socklen_t len = sizeof(*a);

	return getsockname(u->fd, (struct sockaddr *)a, &len) < 0 ? -errno : 0;
}

void dirc_udp_readable(struct dirc_udp *u)
{
	int n;

	while ((n = udp_recv_batch(u->fd, &u->rx)) > 0) {
		struct dir_now now = dir_now_sys();

		for (int i = 0; i < n; i++)
			dirc_input(u->c, now, u->rx.bufs[i], u->rx.msgs[i].msg_len);
	}
}

uint64_t dirc_udp_tick(struct dirc_udp *u)
{
	return dirc_tick(u->c, dir_now_sys());
}

int dirc_udp_wait(struct dirc_udp *u, bool (*cond)(void *arg), void *arg, int timeout_ms)
{
	uint64_t end = mono_ns() + (uint64_t)timeout_ms * 1000000ull;

	while (!cond(arg)) {
		uint64_t now = mono_ns(), next = dirc_udp_tick(u);
		struct pollfd pfd = { .fd = u->fd, .events = POLLIN };
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
