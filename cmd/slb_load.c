/* peregrine slb load: a TCP server and a connection-rate client, for the
 * load balancer's lab figures (scripts/bench-slb-lab.sh, docs/slb.md).
 *
 * The exchange: the client connects, sends 8 bytes (big-endian: how many
 * bytes it wants, at most SLB_LOAD_MAX_BYTES), the server sends that many
 * zero bytes and closes, the client reads to the end and closes.  64 bytes
 * make a connection-rate test, 100 MB a download.  Both sides are one
 * thread on epoll, so a figure measures the path, not the tools.
 * Everything is bounded: the server by --duration, the client by
 * --duration and --count, each connection by SLB_LOAD_CONN_TIMEOUT_MS.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "cmd/cli.h"
#include "cmd/slb_load.h"
#include "lib/parse.h"
#include "lib/udp.h"
#include "wire/be.h"

enum slb_load_limits {
	SLB_LOAD_FDS = 65536,			/* connections a server holds at once */
	SLB_LOAD_BACKLOG = 4096,
	SLB_LOAD_MAX_CONC = 4096,		/* client connections in flight */
	SLB_LOAD_MAX_DURATION_S = 3600,
	SLB_LOAD_CONN_TIMEOUT_MS = 3000,	/* one connection, connect to EOF */
	SLB_LOAD_CHUNK = 65536,			/* bytes per send or receive call */
	SLB_LOAD_EVENTS = 256,
};

#define SLB_LOAD_MAX_BYTES (1ull << 30)

static const char load_help[] =
	"Usage: peregrine slb load serve --listen ADDR:PORT [--duration S] [--netns NS]\n"
	"       peregrine slb load connect --to ADDR:PORT [--concurrency C] [--duration S]\n"
	"                                  [--count N] [--bytes B] [--netns NS] [--json]\n"
	"\n"
	"serve    answers each connection's 8-byte request (how many bytes) with that\n"
	"         many bytes, then closes; stops after S seconds (default 60).\n"
	"connect  keeps C connections (default 32) in flight, each asking for B bytes\n"
	"         (default 64), for S seconds (default 3) or N completed connections;\n"
	"         prints connections per second, failures and the bytes' throughput.\n";

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- serve ------------------------------------------------------------------ */

struct serve_conn {
	uint64_t left;		/* bytes still to send */
	uint8_t req[8];
	uint8_t got;		/* request bytes received */
	bool open;
};

static const uint8_t zeros[SLB_LOAD_CHUNK];

static void serve_close(int ep, struct serve_conn *c, int fd)
{
	epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
	close(fd);
	c->open = false;
}

/* Read the request, then send; close when all is sent or on an error. */
static void serve_io(int ep, struct serve_conn *conns, int fd)
{
	struct serve_conn *c = &conns[fd];

	while (c->got < sizeof(c->req)) {
		ssize_t n = read(fd, c->req + c->got, sizeof(c->req) - c->got);

		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0)
			{ serve_close(ep, c, fd); return; }
		c->got += (uint8_t)n;
		if (c->got == sizeof(c->req)) {
			c->left = wire_get64(c->req);
			if (c->left > SLB_LOAD_MAX_BYTES)
				{ serve_close(ep, c, fd); return; }
			struct epoll_event ev = { .events = EPOLLOUT, .data.fd = fd };
			epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
		}
	}
	while (c->left) {
		size_t want = c->left < SLB_LOAD_CHUNK ? (size_t)c->left : SLB_LOAD_CHUNK;
		ssize_t n = send(fd, zeros, want, MSG_NOSIGNAL);

		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0)
			{ serve_close(ep, c, fd); return; }
		c->left -= (uint64_t)n;
	}
	serve_close(ep, c, fd);
}

static int serve(const char *listen_addr, uint32_t duration_s)
{
	struct serve_conn *conns = NULL;
	struct sockaddr_in sa;
	char err[128];
	int one = 1, lfd = -1, ep = -1, rc = 1;
	uint64_t end = now_ns() + (uint64_t)duration_s * 1000000000ull;

	if (udp_parse_addr(listen_addr, &sa, err, sizeof(err)))
		return cli_usage_error("slb", "--listen: %s", err);
	if ((lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0)) < 0 ||
	    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) || listen(lfd, SLB_LOAD_BACKLOG) ||
	    (ep = epoll_create1(0)) < 0) {
		cli_error("slb load: %s: %s", listen_addr, strerror(errno));
		goto out;
	}
	conns = xcalloc(SLB_LOAD_FDS, sizeof(*conns));
	struct epoll_event lev = { .events = EPOLLIN, .data.fd = lfd };
	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &lev);
	while (now_ns() < end) {
		struct epoll_event evs[SLB_LOAD_EVENTS];
		int n = epoll_wait(ep, evs, SLB_LOAD_EVENTS, 100);

		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd;

			if (fd != lfd) {
				serve_io(ep, conns, fd);
				continue;
			}
			for (int k = 0; k < SLB_LOAD_EVENTS; k++) {
				int cfd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK);

				if (cfd < 0)
					break;
				if (cfd >= SLB_LOAD_FDS) {
					close(cfd);
					continue;
				}
				conns[cfd] = (struct serve_conn){ .open = true };
				struct epoll_event cev = { .events = EPOLLIN, .data.fd = cfd };
				epoll_ctl(ep, EPOLL_CTL_ADD, cfd, &cev);
			}
		}
	}
	rc = 0;
out:
	if (conns)
		for (int fd = 0; fd < SLB_LOAD_FDS; fd++)
			if (conns[fd].open)
				close(fd);
	free(conns);
	if (ep >= 0)
		close(ep);
	if (lfd >= 0)
		close(lfd);
	return rc;
}

/* ---- connect ------------------------------------------------------------------ */

struct client_conn {
	int fd;			/* -1: free */
	uint32_t slot;		/* index in the table: the epoll cookie */
	bool sent;
	uint64_t got, started;
};

struct client {
	struct sockaddr_in to;
	uint64_t bytes, ok, failed, received;
	uint64_t f_open, f_connect, f_short, f_timeout;	/* failures by reason */
	uint8_t req[8];
	int ep;
};

static int client_open(struct client *cl, struct client_conn *c, uint32_t slot)
{
	int one = 1;

	*c = (struct client_conn){ .fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0),
				   .slot = slot, .started = now_ns() };
	if (c->fd < 0)
		return -1;
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(c->fd, (struct sockaddr *)&cl->to, sizeof(cl->to)) && errno != EINPROGRESS) {
		close(c->fd);
		c->fd = -1;
		return -1;
	}
	struct epoll_event ev = { .events = EPOLLOUT | EPOLLIN, .data.u32 = slot };
	epoll_ctl(cl->ep, EPOLL_CTL_ADD, c->fd, &ev);
	return 0;
}

/* The server closes first; the client's close resets, so that neither side
 * keeps the connection in TIME_WAIT (a load test reuses the client's ports
 * within seconds, and a SYN that meets a TIME_WAIT entry waits for a
 * retransmission). */
static void client_done(struct client *cl, struct client_conn *c, bool ok)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	epoll_ctl(cl->ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	c->fd = -1;
	cl->received += c->got;
	if (ok)
		cl->ok++;
	else
		cl->failed++;
}

static void client_io(struct client *cl, struct client_conn *c, uint32_t events)
{
	static uint8_t buf[SLB_LOAD_CHUNK];

	if (!c->sent) {
		if (events & (EPOLLERR | EPOLLHUP)) {
			cl->f_connect++;
			client_done(cl, c, false);
			return;
		}
		if (send(c->fd, cl->req, sizeof(cl->req), MSG_NOSIGNAL) != (ssize_t)sizeof(cl->req))
			{ client_done(cl, c, false); return; }
		c->sent = true;
		struct epoll_event ev = { .events = EPOLLIN, .data.u32 = c->slot };
		epoll_ctl(cl->ep, EPOLL_CTL_MOD, c->fd, &ev);
	}
	for (;;) {
		ssize_t n = read(c->fd, buf, sizeof(buf));

		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0) {
			cl->f_short += c->got != cl->bytes || n < 0;
			client_done(cl, c, n == 0 && c->got == cl->bytes);
			return;
		}
		c->got += (uint64_t)n;
	}
}

static int connect_run(const char *to, uint32_t conc, uint32_t duration_s, uint64_t count,
		       uint64_t bytes, bool json)
{
	struct client cl = { .bytes = bytes };
	struct client_conn *conns;
	char err[128];
	uint64_t t0, end, last_scan, opened = 0;
	double secs;

	if (udp_parse_addr(to, &cl.to, err, sizeof(err)))
		return cli_usage_error("slb", "--to: %s", err);
	wire_put64(cl.req, bytes);
	if ((cl.ep = epoll_create1(0)) < 0)
		return cli_error("slb load: epoll: %s", strerror(errno));
	conns = xcalloc(conc, sizeof(*conns));
	t0 = last_scan = now_ns();
	end = t0 + (uint64_t)duration_s * 1000000000ull;
	for (uint32_t i = 0; i < conc; i++)
		conns[i].fd = -1;
	for (;;) {
		struct epoll_event evs[SLB_LOAD_EVENTS];
		uint64_t now = now_ns();
		bool stop = now >= end || (count && opened >= count);
		uint32_t busy = 0;
		int n;

		for (uint32_t i = 0; i < conc; i++) {
			if (conns[i].fd < 0 && !stop) {
				if (client_open(&cl, &conns[i], i) == 0)
					opened++;
				else
					cl.failed++, cl.f_open++;
				stop = count && opened >= count;
			}
			busy += conns[i].fd >= 0;
		}
		if (!busy)
			break;
		if (now - last_scan > 100000000ull) {	/* connections past their time */
			for (uint32_t i = 0; i < conc; i++)
				if (conns[i].fd >= 0 && now > conns[i].started &&
				    now - conns[i].started > SLB_LOAD_CONN_TIMEOUT_MS * 1000000ull) {
					cl.f_timeout++;
					client_done(&cl, &conns[i], false);
				}
			last_scan = now;
		}
		n = epoll_wait(cl.ep, evs, SLB_LOAD_EVENTS, 50);
		for (int i = 0; i < n; i++) {
			struct client_conn *c = &conns[evs[i].data.u32];

			if (c->fd >= 0)
				client_io(&cl, c, evs[i].events);
		}
	}
	secs = (double)(now_ns() - t0) / 1e9;
	close(cl.ep);
	free(conns);
	if (json)
		printf("{\"connections\": %llu, \"failed\": %llu, \"seconds\": %.3f, "
		       "\"cps\": %.1f, \"bytes\": %llu, \"mbit_s\": %.1f, \"failed_open\": %llu, "
		       "\"failed_connect\": %llu, \"failed_short\": %llu, \"failed_timeout\": %llu}\n",
		       (unsigned long long)cl.ok, (unsigned long long)cl.failed, secs, cl.ok / secs,
		       (unsigned long long)cl.received, cl.received * 8 / secs / 1e6,
		       (unsigned long long)cl.f_open, (unsigned long long)cl.f_connect,
		       (unsigned long long)cl.f_short, (unsigned long long)cl.f_timeout);
	else
		printf("%llu connections in %.3f s: %.1f per second, %llu failed; "
		       "%llu bytes, %.1f Mbit/s\n",
		       (unsigned long long)cl.ok, secs, cl.ok / secs, (unsigned long long)cl.failed,
		       (unsigned long long)cl.received, cl.received * 8 / secs / 1e6);
	return cl.ok ? 0 : 1;
}

int slb_load_main(int argc, char **argv)
{
	static const struct option longs[] = {
		{ "listen", 1, 0, 'l' }, { "to", 1, 0, 't' }, { "concurrency", 1, 0, 'c' },
		{ "duration", 1, 0, 'd' }, { "count", 1, 0, 'n' }, { "bytes", 1, 0, 'b' },
		{ "netns", 1, 0, 'N' }, { "json", 0, 0, 'j' }, { "help", 0, 0, 'h' }, { 0 },
	};
	const char *listen_addr = NULL, *to = NULL, *netns = NULL, *sub;
	uint32_t conc = 32, duration = 0, count = 0;
	uint64_t bytes = 64;
	bool json = false;
	int c;

	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		fputs(load_help, argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	sub = argv[1];
	argc--;
	argv++;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
		switch (c) {
		case 'l': listen_addr = optarg; break;
		case 't': to = optarg; break;
		case 'N': netns = optarg; break;
		case 'j': json = true; break;
		case 'c':
			if (!parse_u32(optarg, SLB_LOAD_MAX_CONC, &conc) || !conc)
				return cli_usage_error("slb", "--concurrency: 1 to %d", SLB_LOAD_MAX_CONC);
			break;
		case 'd':
			if (!parse_u32(optarg, SLB_LOAD_MAX_DURATION_S, &duration) || !duration)
				return cli_usage_error("slb", "--duration: 1 to %d", SLB_LOAD_MAX_DURATION_S);
			break;
		case 'n':
			if (!parse_u32(optarg, UINT32_MAX, &count))
				return cli_usage_error("slb", "--count: a number");
			break;
		case 'b': {
			uint32_t kb;

			/* bytes below 1 GiB: take it as a u32 */
			if (!parse_u32(optarg, (uint32_t)SLB_LOAD_MAX_BYTES, &kb))
				return cli_usage_error("slb", "--bytes: 0 to %llu", SLB_LOAD_MAX_BYTES);
			bytes = kb;
			break;
		}
		case 'h': fputs(load_help, stdout); return 0;
		default: return 2;
		}
	}
	if (optind != argc)
		return cli_usage_error("slb", "load: unexpected argument '%s'", argv[optind]);
	if (cli_enter_netns(netns))
		return 1;
	if (!strcmp(sub, "serve")) {
		if (!listen_addr)
			return cli_usage_error("slb", "load serve needs --listen ADDR:PORT");
		return serve(listen_addr, duration ? duration : 60);
	}
	if (!strcmp(sub, "connect")) {
		if (!to)
			return cli_usage_error("slb", "load connect needs --to ADDR:PORT");
		return connect_run(to, conc, duration ? duration : 3, count, bytes, json);
	}
	return cli_usage_error("slb", "load: unknown subcommand '%s'", sub);
}
