/* peregrine probe blast / probe sink: bulk TCP transfers for the lab's
 * all-to-all shuffle (`peregrine lab shuffle`, docs/lab-shuffle.md).
 *
 * One sender per server connects to every other server's sink at once and
 * writes --bytes to each connection, then closes it; one sink per server
 * accepts --flows connections and reads each to its end.  The sink reports
 * when each flow's first and last byte arrived (CLOCK_REALTIME ns, so that
 * sinks in different namespaces of one machine can be set against one
 * another), which is where the shuffle's goodput comes from: bytes that
 * arrived over the time from the common start to the last flow's end.
 * Everything is bounded: the sender by --bytes and --duration, the sink by
 * --flows and --duration.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cmd/cli.h"
#include "cmd/probe_tcp.h"
#include "lib/json.h"
#include "lib/parse.h"
#include "lib/udp.h"

enum probe_tcp_limits {
	PTCP_MAX_FLOWS = 1024,			/* connections per sender or sink */
	PTCP_MAX_DURATION_S = 3600,
	PTCP_BUF = 64 * 1024,			/* bytes per read or write call */
	PTCP_POLL_MS = 50,			/* poll timeout: deadline checks */
	PTCP_CONNECT_TRIES = 50,		/* a sink not yet listening: 100 ms apart */
	PTCP_START_POLL_US = 1000,		/* --start-file: looked for every ms */
	PTCP_CONNECT_S = 10,			/* flows not connected by then fail */
};

static const char probe_tcp_help[] =
	"Usage: peregrine probe blast --to ADDR:PORT[,ADDR:PORT...] --bytes N\n"
	"                             [--start-at NS | --ready-file F --start-file G]\n"
	"                             [--duration S] [--json]\n"
	"       peregrine probe sink --listen ADDR:PORT --flows N [--duration S] [--json]\n"
	"\n"
	"Bulk TCP for the lab's shuffle (peregrine lab shuffle).\n"
	"\n"
	"blast  connects to every sink at once, creates --ready-file F, waits until\n"
	"       --start-file G exists (looked for every ms) or until --start-at\n"
	"       (CLOCK_REALTIME ns; default: as soon as all are connected), writes\n"
	"       N bytes to each (1 .. 2^40) and closes; gives up after --duration S\n"
	"       (default 120).  It reports when it started (started_ns) and when\n"
	"       each flow's last byte was written.\n"
	"sink   accepts N connections (1 .. 1024) and reads each to its end, or\n"
	"       until --duration S (default 120) has passed.  It reports the bytes\n"
	"       of every flow and when its first and last bytes came (ns since the\n"
	"       epoch).\n"
	"\n"
	"Send only to addresses of your own lab or to loopback.\n";

static uint64_t real_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int parse_targets(const char *s, struct sockaddr_in *to, uint32_t *n)
{
	char *copy = xstrdup(s), *save = NULL, err[128];
	int rc = 0;

	*n = 0;
	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (*n == PTCP_MAX_FLOWS) {
			rc = cli_usage_error("probe", "--to: at most %d sinks", PTCP_MAX_FLOWS);
			break;
		}
		if (udp_parse_addr(tok, &to[*n], err, sizeof(err))) {
			rc = cli_usage_error("probe", "--to %s: %s", tok, err);
			break;
		}
		(*n)++;
	}
	free(copy);
	if (!rc && !*n)
		rc = cli_usage_error("probe", "--to needs at least one ADDR:PORT");
	return rc;
}

struct blast_flow {
	int fd;
	uint64_t left;
	uint64_t done_ns;
	uint32_t tries;
	bool connected;
};

static int blast_connect(struct blast_flow *f, const struct sockaddr_in *to)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	if (connect(fd, (const struct sockaddr *)to, sizeof(*to)) && errno != EINPROGRESS) {
		int e = errno;

		close(fd);
		return -e;
	}
	f->fd = fd;
	f->connected = false;
	f->tries++;
	return 0;
}

/* One writable or connected event; before the start (!sending) only the
 * connection is completed.  Returns false when the flow failed. */
static bool blast_step(struct blast_flow *f, const struct sockaddr_in *to, short rev,
		       const uint8_t *buf, bool sending)
{
	if (!f->connected) {
		int soerr = 0;
		socklen_t len = sizeof(soerr);

		getsockopt(f->fd, SOL_SOCKET, SO_ERROR, &soerr, &len);
		if (soerr || (rev & (POLLERR | POLLHUP))) {
			close(f->fd);
			f->fd = -1;
			/* the sink may not listen yet: try again a little later */
			if (soerr == ECONNREFUSED && f->tries < PTCP_CONNECT_TRIES) {
				usleep(100 * 1000);
				return blast_connect(f, to) == 0;
			}
			return false;
		}
		f->connected = true;
	}
	if (!sending)
		return true;
	while (f->left) {
		size_t want = f->left < PTCP_BUF ? (size_t)f->left : PTCP_BUF;
		ssize_t n = send(f->fd, buf, want, MSG_NOSIGNAL);

		if (n < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
		f->left -= (uint64_t)n;
	}
	close(f->fd);
	f->fd = -1;
	f->done_ns = real_ns();
	return true;
}

struct blast_opts {
	struct sockaddr_in to[PTCP_MAX_FLOWS];
	uint32_t n, duration_s;
	uint64_t bytes, start_at;
	const char *ready_file, *start_file;
	bool json;
};

/* Before the start: say that every flow is connected (create ready_file),
 * then wait for start_file to appear or for start_at.  A start file lets
 * many senders start within a millisecond however long each took to be
 * launched. */
static void blast_wait_start(const struct blast_opts *o, uint64_t deadline)
{
	uint64_t now = real_ns();

	if (o->ready_file) {
		int fd = open(o->ready_file, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);

		if (fd >= 0)
			close(fd);
	}
	if (o->start_file) {
		while (access(o->start_file, F_OK) && real_ns() < deadline)
			usleep(PTCP_START_POLL_US);
		return;
	}
	if (o->start_at > now)
		usleep((useconds_t)MIN((o->start_at - now) / 1000, 60000000ull));
}

static int blast_run(const struct blast_opts *o)
{
	struct blast_flow *fl = xcalloc(o->n, sizeof(*fl));
	struct pollfd *pfd = xcalloc(o->n, sizeof(*pfd));
	uint32_t *idx = xcalloc(o->n, sizeof(*idx)), open_flows = 0, failed = 0;
	uint8_t *buf = xcalloc(1, PTCP_BUF);
	uint64_t started = 0, deadline = real_ns() + (uint64_t)o->duration_s * 1000000000ull;
	uint64_t connect_by = real_ns() + (uint64_t)PTCP_CONNECT_S * 1000000000ull;
	bool sending = false;

	/* Connections first, the bytes from the start on: a lost SYN waits
	 * out TCP's 1 s retransmission timer, which is not transfer time. */
	for (uint32_t i = 0; i < o->n; i++) {
		fl[i].left = o->bytes;
		if (blast_connect(&fl[i], &o->to[i])) {
			fl[i].fd = -1;
			failed++;
		}
	}
	for (;;) {
		uint32_t np = 0;

		for (uint32_t i = 0; i < o->n; i++)
			if (fl[i].fd >= 0 && (sending || !fl[i].connected)) {
				pfd[np] = (struct pollfd){ .fd = fl[i].fd, .events = POLLOUT };
				idx[np++] = i;
			}
		if (!sending && np && real_ns() >= connect_by) {
			/* a sink that never answers: start without it */
			for (uint32_t k = 0; k < np; k++) {
				close(fl[idx[k]].fd);
				fl[idx[k]].fd = -1;
				failed++;
			}
			np = 0;
		}
		if (!np && !sending) {
			blast_wait_start(o, deadline);
			sending = true;
			started = real_ns();
			continue;
		}
		if (!np || real_ns() >= deadline)
			break;
		if (poll(pfd, np, PTCP_POLL_MS) < 0 && errno != EINTR)
			break;
		for (uint32_t k = 0; k < np; k++)
			if (pfd[k].revents && !blast_step(&fl[idx[k]], &o->to[idx[k]],
							  pfd[k].revents, buf, sending)) {
				if (fl[idx[k]].fd >= 0)
					close(fl[idx[k]].fd);
				fl[idx[k]].fd = -1;
				failed++;
			}
	}
	for (uint32_t i = 0; i < o->n; i++) {
		if (fl[i].fd >= 0) {
			close(fl[i].fd);
			failed++;
		}
		open_flows += fl[i].left == 0;
	}
	if (o->json) {
		json_t *j = json_object(), *done = json_array();

		for (uint32_t i = 0; i < o->n; i++)
			json_array_append_new(done, JINT(fl[i].done_ns));
		JSET(j, "flows", JINT(o->n));
		JSET(j, "completed", JINT(open_flows));
		JSET(j, "failed", JINT(failed));
		JSET(j, "started_ns", JINT(started));
		JSET(j, "done_ns", done);
		json_print(stdout, j);
	} else {
		printf("%u of %u flows sent, %u failed\n", open_flows, o->n, failed);
	}
	free(fl);
	free(pfd);
	free(idx);
	free(buf);
	return open_flows == o->n ? 0 : 1;
}

static int cmd_probe_blast(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "to", required_argument, NULL, 't' }, { "bytes", required_argument, NULL, 'b' },
		{ "start-at", required_argument, NULL, 's' },
		{ "ready-file", required_argument, NULL, 'r' },
		{ "start-file", required_argument, NULL, 'F' },
		{ "duration", required_argument, NULL, 'd' }, { "json", no_argument, NULL, 'j' },
		{ 0 }
	};
	struct blast_opts *o = xcalloc(1, sizeof(*o));
	bool have_to = false;
	int c, rc = 0;

	o->duration_s = 120;
	optind = 1;
	opterr = 0;
	while (!rc && (c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 't': rc = parse_targets(optarg, o->to, &o->n); have_to = true; break;
		case 'b':
			if (!parse_u64(optarg, 1ull << 40, &o->bytes) || !o->bytes)
				rc = cli_usage_error("probe", "--bytes takes 1 .. 2^40");
			break;
		case 's':
			if (!parse_u64(optarg, UINT64_MAX, &o->start_at))
				rc = cli_usage_error("probe", "--start-at takes ns since the epoch");
			break;
		case 'd':
			if (!parse_u32(optarg, PTCP_MAX_DURATION_S, &o->duration_s) || !o->duration_s)
				rc = cli_usage_error("probe", "--duration takes 1 .. %d s",
						     PTCP_MAX_DURATION_S);
			break;
		case 'r': o->ready_file = optarg; break;
		case 'F': o->start_file = optarg; break;
		case 'j': o->json = true; break;
		default: rc = cli_usage_error("probe", "bad option");
		}
	}
	if (!rc && (!have_to || !o->bytes || optind != argc))
		rc = cli_usage_error("probe", "blast needs --to and --bytes and nothing else");
	if (!rc)
		rc = blast_run(o);
	free(o);
	return rc;
}

struct sink_flow {
	int fd;
	uint64_t bytes, first_ns, last_ns;
	struct sockaddr_in peer;
	bool ended;
};

struct sink_opts {
	struct sockaddr_in listen;
	uint32_t flows, duration_s;
	bool json;
};

static int sink_listen(const struct sockaddr_in *a)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1;

	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)a, sizeof(*a)) || listen(fd, PTCP_MAX_FLOWS)) {
		int e = errno;

		close(fd);
		return -e;
	}
	return fd;
}

static void sink_accept(int lfd, struct sink_flow *fl, uint32_t *n, uint32_t max)
{
	while (*n < max) {
		socklen_t len = sizeof(fl[*n].peer);
		int fd = accept4(lfd, (struct sockaddr *)&fl[*n].peer, &len,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0)
			return;
		fl[*n].fd = fd;
		(*n)++;
	}
}

static void sink_read(struct sink_flow *f, uint8_t *buf)
{
	for (;;) {
		ssize_t n = recv(f->fd, buf, PTCP_BUF, 0);

		if (n > 0) {
			uint64_t t = real_ns();

			if (!f->bytes)
				f->first_ns = t;
			f->bytes += (uint64_t)n;
			f->last_ns = t;
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
			return;
		close(f->fd);	/* the end, or a reset */
		f->fd = -1;
		f->ended = n == 0;
		return;
	}
}

static void sink_report(const struct sink_opts *o, const struct sink_flow *fl, uint32_t n)
{
	uint64_t bytes = 0, first = UINT64_MAX, last = 0;
	uint32_t ended = 0;
	json_t *j, *arr;
	char a[32];

	for (uint32_t i = 0; i < n; i++) {
		bytes += fl[i].bytes;
		ended += fl[i].ended;
		if (fl[i].bytes) {
			first = MIN(first, fl[i].first_ns);
			last = MAX(last, fl[i].last_ns);
		}
	}
	if (!o->json) {
		printf("%u of %u flows ended, %llu bytes\n", ended, o->flows,
		       (unsigned long long)bytes);
		return;
	}
	j = json_object();
	arr = json_array();
	for (uint32_t i = 0; i < n; i++) {
		json_t *f = json_object();

		JSET(f, "from", JSTR(inet_ntop(AF_INET, &fl[i].peer.sin_addr, a, sizeof(a))));
		JSET(f, "bytes", JINT(fl[i].bytes));
		JSET(f, "first_ns", JINT(fl[i].first_ns));
		JSET(f, "last_ns", JINT(fl[i].last_ns));
		JSET(f, "ended", json_boolean(fl[i].ended));
		json_array_append_new(arr, f);
	}
	JSET(j, "flows", JINT(n));
	JSET(j, "ended", JINT(ended));
	JSET(j, "bytes", JINT(bytes));
	JSET(j, "first_ns", JINT(first == UINT64_MAX ? 0 : first));
	JSET(j, "last_ns", JINT(last));
	JSET(j, "flow_list", arr);
	json_print(stdout, j);
}

static int sink_run(const struct sink_opts *o)
{
	struct sink_flow *fl = xcalloc(o->flows, sizeof(*fl));
	struct pollfd *pfd = xcalloc(o->flows + 1, sizeof(*pfd));
	uint32_t *idx = xcalloc(o->flows + 1, sizeof(*idx)), n = 0, ended = 0;
	uint8_t *buf = xcalloc(1, PTCP_BUF);
	uint64_t deadline = real_ns() + (uint64_t)o->duration_s * 1000000000ull;
	int lfd = sink_listen(&o->listen), rc = 1;

	if (lfd < 0) {
		fprintf(stderr, "peregrine probe sink: cannot listen: %s\n", strerror(-lfd));
		goto out;
	}
	while (ended < o->flows && real_ns() < deadline) {
		uint32_t np = 0;

		if (n < o->flows) {
			pfd[np] = (struct pollfd){ .fd = lfd, .events = POLLIN };
			idx[np++] = UINT32_MAX;
		}
		for (uint32_t i = 0; i < n; i++)
			if (fl[i].fd >= 0) {
				pfd[np] = (struct pollfd){ .fd = fl[i].fd, .events = POLLIN };
				idx[np++] = i;
			}
		if (poll(pfd, np, PTCP_POLL_MS) < 0 && errno != EINTR)
			break;
		for (uint32_t k = 0; k < np; k++) {
			if (!pfd[k].revents)
				continue;
			if (idx[k] == UINT32_MAX) {
				sink_accept(lfd, fl, &n, o->flows);
				continue;
			}
			sink_read(&fl[idx[k]], buf);
			ended += fl[idx[k]].fd < 0;
		}
	}
	close(lfd);
	for (uint32_t i = 0; i < n; i++)
		if (fl[i].fd >= 0)
			close(fl[i].fd);
	sink_report(o, fl, n);
	rc = ended == o->flows ? 0 : 1;
out:
	free(fl);
	free(pfd);
	free(idx);
	free(buf);
	return rc;
}

static int cmd_probe_sink(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "listen", required_argument, NULL, 'l' }, { "flows", required_argument, NULL, 'f' },
		{ "duration", required_argument, NULL, 'd' }, { "json", no_argument, NULL, 'j' },
		{ 0 }
	};
	struct sink_opts o = { .duration_s = 120 };
	bool have_listen = false;
	char err[128];
	int c;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'l':
			if (udp_parse_addr(optarg, &o.listen, err, sizeof(err)))
				return cli_usage_error("probe", "--listen %s", err);
			have_listen = true;
			break;
		case 'f':
			if (!parse_u32(optarg, PTCP_MAX_FLOWS, &o.flows) || !o.flows)
				return cli_usage_error("probe", "--flows takes 1 .. %d", PTCP_MAX_FLOWS);
			break;
		case 'd':
			if (!parse_u32(optarg, PTCP_MAX_DURATION_S, &o.duration_s) || !o.duration_s)
				return cli_usage_error("probe", "--duration takes 1 .. %d s",
						       PTCP_MAX_DURATION_S);
			break;
		case 'j': o.json = true; break;
		default: return cli_usage_error("probe", "bad option");
		}
	}
	if (!have_listen || !o.flows || optind != argc)
		return cli_usage_error("probe", "sink needs --listen and --flows and nothing else");
	return sink_run(&o);
}

void probe_tcp_help_print(void)
{
	fputs(probe_tcp_help, stdout);
}

bool probe_tcp_dispatch(int argc, char **argv, int *rc)
{
	if (!strcmp(argv[1], "blast"))
		*rc = cmd_probe_blast(argc - 1, argv + 1);
	else if (!strcmp(argv[1], "sink"))
		*rc = cmd_probe_sink(argc - 1, argv + 1);
	else
		return false;
	return true;
}
