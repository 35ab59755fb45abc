/* peregrine probe relay: one server's part of BCube's one-to-all transfer
 * (`peregrine lab one2all`, docs/bcube.md "One-to-all").
 *
 * The source splits BYTES into one part per tree and sends part j down tree
 * j; every other server accepts its parent's connection in each tree and
 * relays what comes to its children in that tree, as the paper's servers do.
 * Which server is whose parent and child comes from route/bcube_relay.h, for
 * the topology, source and server given; server i's address is --base plus
 * i, and tree j's connections go to port --port plus j.  One thread per
 * tree, blocking sockets with a short timeout so that every thread sees the
 * deadline.
 *
 * The file's byte at offset i is a fixed function of i (pattern_byte), so a
 * receiver checks what it got byte for byte (`intact`) as well as reporting
 * its FNV-1a checksum, which must equal the one the source reports for the
 * same part.  Times are CLOCK_REALTIME ns, comparable across the lab's
 * namespaces.  Bounded: BYTES, --duration, and a fixed connect time.
 */
#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "cmd/cli.h"
#include "cmd/probe_relay.h"
#include "lib/json.h"
#include "lib/parse.h"
#include "route/bcube_relay.h"
#include "topo/topo.h"

enum probe_relay_limits {
	PR_BUF = 64 * 1024,			/* bytes per read */
	PR_IO_TIMEOUT_MS = 200,			/* socket timeouts: deadline checks */
	PR_CONNECT_S = 10,			/* children not listening by then: failed */
	PR_CONNECT_RETRY_MS = 50,
	PR_ACCEPT_S = 60,			/* a parent that never connects */
	PR_MAX_DURATION_S = 3600,
	PR_START_POLL_US = 1000,		/* --start-file: looked for every ms */
	PR_MAX_SERVERS = 65536,
};

static const char probe_relay_help[] =
	"Usage: peregrine probe relay --topo bcube:n=N,k=K --root R --server S\n"
	"                             --bytes N --base ADDR --port P [--trees T]\n"
	"                             [--ready-file F] [--start-file G]\n"
	"                             [--duration S] [--json]\n"
	"\n"
	"relay  server S's part of a one-to-all transfer of N bytes from server R\n"
	"       over the first T (default k+1) of BCube's one-to-all trees\n"
	"       (peregrine lab one2all): R sends part j of the bytes down tree j;\n"
	"       every other server accepts its parent's connection on ADDR+S, port\n"
	"       P+j, and relays to its children in tree j.  Creates F when every\n"
	"       connection is up; R starts when G exists.  Gives up after S seconds\n"
	"       (default 60).  Reports, per tree, the bytes, their FNV-1a checksum,\n"
	"       whether every byte was the one sent, and when the first and last\n"
	"       came (ns since the epoch).\n";

void probe_relay_help_print(void)
{
	fputs(probe_relay_help, stdout);
}

struct relay_opts {
	const char *topo, *ready_file, *start_file;
	uint32_t root, server, trees, port, duration_s;
	uint64_t bytes;
	struct in_addr base;
	bool json;
};

struct relay_tree {
	const struct relay_opts *o;
	struct route_bcube_relay plan;
	uint64_t offset, len;		/* this tree's part of the file */
	int lfd;			/* listening (not the root) */
	int child_fd[ROUTE_BCUBE_RELAY_MAX_CHILDREN];
	uint64_t deadline_ns;
	/* results */
	uint64_t bytes, fnv, first_ns, last_ns;
	bool intact, ok;
	const char *error;
};

static pthread_mutex_t ready_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ready_cond = PTHREAD_COND_INITIALIZER;
static uint32_t ready_count;
static uint64_t started_ns;

static uint64_t real_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The file: byte i is byte i % 8 of splitmix64(i / 8). */
static uint64_t splitmix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static void pattern_fill(uint8_t *buf, uint64_t at, size_t len)
{
	uint64_t w = splitmix64(at / 8);

	for (size_t i = 0; i < len; i++, at++) {
		if (at % 8 == 0)
			w = splitmix64(at / 8);
		buf[i] = (uint8_t)(w >> (8 * (at % 8)));
	}
}

static uint64_t fnv1a(uint64_t h, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	return h;
}

static void set_timeouts(int fd)
{
	struct timeval tv = { 0, PR_IO_TIMEOUT_MS * 1000 };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

static struct sockaddr_in server_addr(const struct relay_opts *o, uint32_t server, uint32_t tree)
{
	struct sockaddr_in a = { .sin_family = AF_INET };

	a.sin_addr.s_addr = htonl(ntohl(o->base.s_addr) + server);
	a.sin_port = htons((uint16_t)(o->port + tree));
	return a;
}

/* Connect to every child, retrying while it does not listen yet. */
static bool connect_children(struct relay_tree *t)
{
	uint64_t by = real_ns() + (uint64_t)PR_CONNECT_S * 1000000000ull;

	for (uint32_t c = 0; c < t->plan.nchildren; c++) {
		struct sockaddr_in to = server_addr(t->o, t->plan.child[c], t->plan.tree);

		for (;;) {
			int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

			if (fd < 0)
				return t->error = "socket", false;
			if (!connect(fd, (struct sockaddr *)&to, sizeof(to))) {
				set_timeouts(fd);
				t->child_fd[c] = fd;
				break;
			}
			close(fd);
			if (real_ns() > by || real_ns() > t->deadline_ns)
				return t->error = "a child did not accept the connection", false;
			usleep(PR_CONNECT_RETRY_MS * 1000);
		}
	}
	return true;
}

static bool accept_parent(struct relay_tree *t, int *fd)
{
	uint64_t by = real_ns() + (uint64_t)PR_ACCEPT_S * 1000000000ull;

	for (;;) {
		*fd = accept4(t->lfd, NULL, NULL, SOCK_CLOEXEC);
		if (*fd >= 0)
			break;
		if ((errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) ||
		    real_ns() > by || real_ns() > t->deadline_ns)
			return t->error = "the parent did not connect", false;
	}
	set_timeouts(*fd);
	return true;
}

/* Write all of buf to every child, within the deadline. */
static bool send_children(struct relay_tree *t, const uint8_t *buf, size_t n)
{
	for (uint32_t c = 0; c < t->plan.nchildren; c++) {
		size_t off = 0;

		while (off < n) {
			ssize_t w = send(t->child_fd[c], buf + off, n - off, MSG_NOSIGNAL);

			if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
				if (real_ns() > t->deadline_ns)
					return t->error = "deadline while sending", false;
				continue;
			}
			if (w < 0)
				return t->error = "a child's connection failed", false;
			off += (size_t)w;
		}
	}
	return true;
}

static void tree_ready(const struct relay_tree *t)
{
	const struct relay_opts *o = t->o;

	pthread_mutex_lock(&ready_lock);
	if (++ready_count == o->trees) {
		if (o->ready_file) {
			int fd = open(o->ready_file, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);

			if (fd >= 0)
				close(fd);
		}
		if (o->server == o->root) {
			while (o->start_file && access(o->start_file, F_OK) &&
			       real_ns() < t->deadline_ns)
				usleep(PR_START_POLL_US);
			started_ns = real_ns();
		}
		pthread_cond_broadcast(&ready_cond);
	}
	while (ready_count < o->trees)
		pthread_cond_wait(&ready_cond, &ready_lock);
	pthread_mutex_unlock(&ready_lock);
}

static bool run_source(struct relay_tree *t, uint8_t *buf)
{
	uint64_t at = t->offset, end = t->offset + t->len;

	t->first_ns = real_ns();
	while (at < end) {
		size_t n = end - at < PR_BUF ? (size_t)(end - at) : PR_BUF;

		pattern_fill(buf, at, n);
		t->fnv = fnv1a(t->fnv, buf, n);
		if (!send_children(t, buf, n))
			return false;
		at += n;
		t->bytes += n;
	}
	t->last_ns = real_ns();
	return true;
}

static bool run_relay(struct relay_tree *t, int pfd, uint8_t *buf, uint8_t *want)
{
	for (;;) {
		ssize_t n = recv(pfd, buf, PR_BUF, 0);

		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
			if (real_ns() > t->deadline_ns)
				return t->error = "deadline while receiving", false;
			continue;
		}
		if (n < 0)
			return t->error = "the parent's connection failed", false;
		if (n == 0)
			break;
		if (!t->first_ns)
			t->first_ns = real_ns();
		if (t->bytes + (uint64_t)n > t->len)
			return t->error = "more bytes than the part has", false;
		pattern_fill(want, t->offset + t->bytes, (size_t)n);
		if (memcmp(buf, want, (size_t)n))
			t->intact = false;
		t->fnv = fnv1a(t->fnv, buf, (size_t)n);
		t->bytes += (uint64_t)n;
		t->last_ns = real_ns();
		if (!send_children(t, buf, (size_t)n))
			return false;
	}
	if (t->bytes != t->len)
		return t->error = "the parent closed before the part's end", false;
	return true;
}

static void *tree_main(void *arg)
{
	struct relay_tree *t = arg;
	uint8_t *buf = xmalloc(PR_BUF), *want = xmalloc(PR_BUF);
	int pfd = -1;
	bool src = t->plan.parent == UINT32_MAX, ok;

	ok = connect_children(t) && (src || accept_parent(t, &pfd));
	tree_ready(t);
	if (ok)
		ok = src ? run_source(t, buf) : run_relay(t, pfd, buf, want);
	t->ok = ok && t->intact;
	if (ok && !t->intact)
		t->error = "bytes differ from the ones sent";
	for (uint32_t c = 0; c < t->plan.nchildren; c++)
		if (t->child_fd[c] >= 0)
			close(t->child_fd[c]);
	if (pfd >= 0)
		close(pfd);
	free(want);
	free(buf);
	return NULL;
}

static int listen_on(const struct relay_opts *o, uint32_t tree)
{
	struct sockaddr_in a = server_addr(o, o->server, tree);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
	struct timeval tv = { 0, PR_IO_TIMEOUT_MS * 1000 };

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, 4)) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

static void print_result(const struct relay_opts *o, const struct relay_tree *tr)
{
	json_t *j = json_object(), *arr = json_array();
	char hex[17];

	JSET(j, "server", JINT(o->server));
	JSET(j, "root", JINT(o->root));
	JSET(j, "bytes", JINT(o->bytes));
	if (o->server == o->root)
		JSET(j, "started_ns", JINT(started_ns));
	for (uint32_t i = 0; i < o->trees; i++) {
		const struct relay_tree *t = &tr[i];
		json_t *e = json_object(), *ch = json_array();

		for (uint32_t c = 0; c < t->plan.nchildren; c++)
			json_array_append_new(ch, JINT(t->plan.child[c]));
		snprintf(hex, sizeof(hex), "%016" PRIx64, t->fnv);
		JSET(e, "tree", JINT(i));
		JSET(e, "parent", t->plan.parent == UINT32_MAX ? json_null() : JINT(t->plan.parent));
		JSET(e, "level", JINT(t->plan.level));
		JSET(e, "children", ch);
		JSET(e, "part_offset", JINT(t->offset));
		JSET(e, "part_bytes", JINT(t->len));
		JSET(e, "bytes", JINT(t->bytes));
		JSET(e, "fnv1a", JSTR(hex));
		JSET(e, "intact", JBOOL(t->intact));
		JSET(e, "ok", JBOOL(t->ok));
		JSET(e, "error", t->error ? JSTR(t->error) : json_null());
		JSET(e, "first_ns", JINT(t->first_ns));
		JSET(e, "last_ns", JINT(t->last_ns));
		json_array_append_new(arr, e);
	}
	JSET(j, "trees", arr);
	json_print(stdout, j);
}

static int relay_run(const struct relay_opts *o, const struct route_bcube_trees *trees)
{
	struct relay_tree tr[ROUTE_BCUBE_RELAY_MAX_CHILDREN];
	pthread_t th[ROUTE_BCUBE_RELAY_MAX_CHILDREN];
	uint64_t deadline = real_ns() + (uint64_t)o->duration_s * 1000000000ull;
	int rc = 0;

	memset(tr, 0, sizeof(tr));
	for (uint32_t j = 0; j < o->trees; j++) {
		struct relay_tree *t = &tr[j];

		t->o = o;
		t->lfd = -1;
		t->intact = true;
		t->fnv = 0xcbf29ce484222325ull;
		t->deadline_ns = deadline;
		memset(t->child_fd, -1, sizeof(t->child_fd));
		route_bcube_relay_plan(trees, j, o->server, &t->plan);
		route_bcube_relay_part(o->bytes, o->trees, j, &t->offset, &t->len);
		if (t->plan.parent != UINT32_MAX && (t->lfd = listen_on(o, j)) < 0) {
			rc = cli_error("probe relay: cannot listen on tree %u's port %u: %s", j,
				       o->port + j, strerror(errno));
			goto out;
		}
	}
	for (uint32_t j = 0; j < o->trees; j++)
		if (pthread_create(&th[j], NULL, tree_main, &tr[j]))
			abort();
	for (uint32_t j = 0; j < o->trees; j++) {
		pthread_join(th[j], NULL);
		if (!tr[j].ok) {
			fprintf(stderr, "probe relay: server %u, tree %u: %s\n", o->server, j,
				tr[j].error ? tr[j].error : "failed");
			rc = 1;
		}
	}
	if (o->json)
		print_result(o, tr);
	else
		for (uint32_t j = 0; j < o->trees; j++)
			printf("tree %u: %" PRIu64 " of %" PRIu64 " bytes, fnv1a %016" PRIx64 "%s\n",
			       j, tr[j].bytes, tr[j].len, tr[j].fnv, tr[j].ok ? "" : " FAILED");
out:
	for (uint32_t j = 0; j < o->trees; j++)
		if (tr[j].lfd >= 0)
			close(tr[j].lfd);
	return rc;
}

static int parse_relay(int argc, char **argv, struct relay_opts *o)
{
	static const struct option opts[] = {
		{ "topo", required_argument, NULL, 't' }, { "root", required_argument, NULL, 'r' },
		{ "server", required_argument, NULL, 's' }, { "bytes", required_argument, NULL, 'b' },
		{ "base", required_argument, NULL, 'a' }, { "port", required_argument, NULL, 'p' },
		{ "trees", required_argument, NULL, 'T' },
		{ "ready-file", required_argument, NULL, 'R' },
		{ "start-file", required_argument, NULL, 'S' },
		{ "duration", required_argument, NULL, 'd' }, { "json", no_argument, NULL, 'j' },
		{ 0 }
	};
	bool have_root = false, have_server = false, have_bytes = false, have_port = false;
	int c;

	memset(o, 0, sizeof(*o));
	o->duration_s = 60;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 't': o->topo = optarg; break;
		case 'r': if (!parse_u32(optarg, PR_MAX_SERVERS - 1, &o->root))
				return cli_usage_error("probe", "--root takes a server index");
			have_root = true; break;
		case 's': if (!parse_u32(optarg, PR_MAX_SERVERS - 1, &o->server))
				return cli_usage_error("probe", "--server takes a server index");
			have_server = true; break;
		case 'b': if (!parse_u64(optarg, 1ull << 40, &o->bytes) || !o->bytes)
				return cli_usage_error("probe", "--bytes takes 1 .. 2^40");
			have_bytes = true; break;
		case 'a': if (inet_pton(AF_INET, optarg, &o->base) != 1)
				return cli_usage_error("probe", "--base %s: not an IPv4 address", optarg);
			break;
		case 'p': if (!parse_u32(optarg, 65535 - TOPO_BCUBE_MAX_K, &o->port) || !o->port)
				return cli_usage_error("probe", "--port takes 1 .. %u", 65535 - TOPO_BCUBE_MAX_K);
			have_port = true; break;
		case 'T': if (!parse_u32(optarg, TOPO_BCUBE_MAX_K + 1, &o->trees) || !o->trees)
				return cli_usage_error("probe", "--trees takes 1 .. k+1");
			break;
		case 'R': o->ready_file = optarg; break;
		case 'S': o->start_file = optarg; break;
		case 'd': if (!parse_u32(optarg, PR_MAX_DURATION_S, &o->duration_s) || !o->duration_s)
				return cli_usage_error("probe", "--duration takes 1 .. %d s", PR_MAX_DURATION_S);
			break;
		case 'j': o->json = true; break;
		default: return cli_usage_error("probe", "relay: unknown option");
		}
	}
	if (optind != argc || !o->topo || !have_root || !have_server || !have_bytes ||
	    !have_port || !o->base.s_addr)
		return cli_usage_error("probe", "relay needs --topo, --root, --server, --bytes, "
					"--base and --port");
	return 0;
}

int probe_relay_main(int argc, char **argv)
{
	struct relay_opts o;
	struct topo *t = NULL;
	struct route_bcube_trees trees;
	char err[256];
	int rc = parse_relay(argc, argv, &o);

	if (rc)
		return rc;
	if (topo_from_spec(o.topo, &t, err, sizeof(err)))
		return cli_usage_error("probe", "--topo %s: %s", o.topo, err);
	if (t->family != FAM_BCUBE || o.root >= t->nservers || o.server >= t->nservers) {
		topo_free(t);
		return cli_usage_error("probe", "--topo must be a BCube holding --root and --server");
	}
	if (!o.trees)
		o.trees = t->p.k + 1;
	if (o.trees > t->p.k + 1) {
		topo_free(t);
		return cli_usage_error("probe", "--trees: BCube(%u,%u) has %u trees", t->p.n,
				       t->p.k, t->p.k + 1);
	}
	rc = route_bcube_trees_build(t, o.root, &trees);
	assert(rc == 0);
	rc = relay_run(&o, &trees);
	route_bcube_trees_free(&trees);
	topo_free(t);
	return rc;
}
