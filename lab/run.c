/* Running a lab (see run.h and docs/lab.md). */
#define _XOPEN_SOURCE 700
#include "lab/run.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bpf/loader.h"
#include "lab/swclient.h"
#include "lib/auth.h"

static void msleep(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

void lab_state_dir(const char *prefix, char *buf, size_t len)
{
	snprintf(buf, len, "%s/lab-%s", LAB_RUN_DIR, prefix);
}

static void state_path(const struct lab *l, char *buf, size_t len, const char *fmt, ...)
	PRINTF(4, 5);
static void state_path(const struct lab *l, char *buf, size_t len, const char *fmt, ...)
{
	char dir[256];
	va_list ap;
	int n;

	lab_state_dir(l->prefix, dir, sizeof(dir));
	n = snprintf(buf, len, "%s/", dir);
	va_start(ap, fmt);
	vsnprintf(buf + n, len - (size_t)n, fmt, ap);
	va_end(ap);
}

static int write_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	bool ok;

	if (fd < 0)
		return -errno;
	ok = write(fd, data, len) == (ssize_t)len;
	close(fd);
	return ok ? 0 : -EIO;
}

/* ---- commands ---------------------------------------------------------------- */
int lab_run(char *const argv[], char *err, size_t errlen)
{
	int pfd[2], status = 0;
	ssize_t n, got = 0;
	pid_t pid;

	if (pipe2(pfd, O_CLOEXEC))
		return -1;
	if ((pid = fork()) < 0)
		return -1;
	if (pid == 0) {
		int devnull = open("/dev/null", O_RDWR);

		dup2(devnull, 0);
		dup2(devnull, 1);
		dup2(pfd[1], 2);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(pfd[1]);
	if (err && errlen)
		err[0] = 0;
	while (err && (size_t)got + 1 < errlen &&
	       (n = read(pfd[0], err + got, errlen - (size_t)got - 1)) > 0)
		got += n;
	if (err && errlen) {
		err[got] = 0;
		while (got > 0 && err[got - 1] == '\n')
			err[--got] = 0;
	}
	close(pfd[0]);
	waitpid(pid, &status, 0);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

/* The steps of `up`, numbered from 1 and written to setup/steps as they
 * start ("N KIND NAME": "3 script-ip leaf0", "33 start-switchd spine0",
 * "49 wait-switchd leaf3"), so that a test can fail any of them.
 *
 * Fault injection for the rollback test: PEREGRINE_LAB_FAIL_AFTER=N makes
 * step N+1 fail (steps: each batch script, then each daemon start, then
 * each readiness wait). */
static struct {
	FILE *log;		/* setup/steps while `up` runs */
	unsigned n;
	long fail_after;	/* -2: not read yet, -1: none */
} steps = { NULL, 0, -2 };

static int fail_step(const char *kind, const char *name, char *err, size_t errlen)
{
	return lab_step(kind, name, err, errlen);
}

int lab_step(const char *kind, const char *name, char *err, size_t errlen)
{
	const char *s;

	steps.n++;
	if (steps.log) {
		fprintf(steps.log, "%u %s %s\n", steps.n, kind, name);
		fflush(steps.log);
	}
	if (steps.fail_after == -2)
		steps.fail_after = (s = getenv("PEREGRINE_LAB_FAIL_AFTER")) ? atol(s) : -1;
	if (steps.fail_after < 0 || steps.n <= (unsigned long)steps.fail_after)
		return 0;
	snprintf(err, errlen, "injected failure at step %u, %s %s (PEREGRINE_LAB_FAIL_AFTER)",
		 steps.n, kind, name);
	steps.fail_after = -1;
	return -1;
}

/* Run `TOOL [-n NS] -batch FILE` on a script kept in setup/. */
static int run_batch(const struct lab *l, const char *tool, const char *ns, const char *name,
		     const char *text, size_t len, char *err, size_t errlen)
{
	char path[512], out[1024];
	char *argv[] = { (char *)tool, "-n", (char *)ns, "-batch", path, NULL };
	char *argv_host[] = { (char *)tool, "-batch", path, NULL };
	char kind[32];

	state_path(l, path, sizeof(path), "setup/%s.%s", name, tool);
	snprintf(kind, sizeof(kind), "script-%s", tool);
	if (fail_step(kind, name, err, errlen))
		return -1;
	if (write_file(path, text, len)) {
		snprintf(err, errlen, "%s: cannot write", path);
		return -1;
	}
	if (lab_run(ns ? argv : argv_host, out, sizeof(out))) {
		snprintf(err, errlen, "%s %s: %s", tool, path, out);
		return -1;
	}
	return 0;
}

/* ---- batches in parallel --------------------------------------------------------
 * A namespace's script costs little CPU but a process start: run one after
 * another, hundreds of them made a large lab's bring-up slow (docs/lab.md,
 * "Lab at scale").  Up to LAB_SETUP_JOBS run at once; each one's stderr comes back through a
 * pipe, whose end-of-file says the process is done.  The child enters the
 * namespace itself and runs `ip -batch`, not `ip -n NS -batch`: `-n` makes
 * ip unshare the mount namespace, copying every mount, and the host holds
 * one per network namespace (/run/netns/...): a cost that grows with the
 * lab, paid once per namespace. */
struct batch_job {
	pid_t pid;
	int fd;			/* its stderr */
	char what[600];		/* "tool path", for the error */
	char out[512];
	size_t got;
};

struct batch_pool {
	struct batch_job job[LAB_SETUP_JOBS];
	int n;
	bool failed;
	char *err;
	size_t errlen;
};

/* Read what job j wrote; at end-of-file reap it.  true when it is done. */
static bool job_drain(struct batch_pool *p, int j)
{
	struct batch_job *b = &p->job[j];
	char sink[256];
	ssize_t n;
	int status = 0;

	if (b->got + 1 < sizeof(b->out))
		n = read(b->fd, b->out + b->got, sizeof(b->out) - b->got - 1);
	else
		n = read(b->fd, sink, sizeof(sink));
	if (n > 0 && b->got + 1 < sizeof(b->out))
		b->got += (size_t)n;
	if (n > 0 || (n < 0 && errno == EINTR))
		return false;
	close(b->fd);
	waitpid(b->pid, &status, 0);
	b->out[b->got] = 0;
	while (b->got > 0 && b->out[b->got - 1] == '\n')
		b->out[--b->got] = 0;
	if ((!WIFEXITED(status) || WEXITSTATUS(status)) && !p->failed) {
		p->failed = true;
		snprintf(p->err, p->errlen, "%s: %s", b->what, b->out);
	}
	p->job[j] = p->job[--p->n];
	return true;
}

/* Wait until at least one job is done. */
static void pool_wait_one(struct batch_pool *p)
{
	struct pollfd pf[LAB_SETUP_JOBS];

	for (;;) {
		for (int j = 0; j < p->n; j++)
			pf[j] = (struct pollfd){ .fd = p->job[j].fd, .events = POLLIN };
		if (poll(pf, (nfds_t)p->n, -1) < 0 && errno != EINTR)
			die("poll: %s", strerror(errno));
		for (int j = p->n - 1; j >= 0; j--)
			if (pf[j].revents && job_drain(p, j))
				return;
	}
}

/* Wait for every job; 0, or -1 with the first failure in p->err. */
static int pool_finish(struct batch_pool *p)
{
	while (p->n)
		pool_wait_one(p);
	return p->failed ? -1 : 0;
}

static int pool_start(struct batch_pool *p, const char *ns, char *const argv[],
		      const char *what)
{
	struct batch_job *b;
	int pfd[2];
	pid_t pid;

	while (p->n == LAB_SETUP_JOBS)
		pool_wait_one(p);
	if (pipe2(pfd, O_CLOEXEC))
		return -1;
	if ((pid = fork()) < 0) {
		close(pfd[0]);
		close(pfd[1]);
		return -1;
	}
	if (pid == 0) {
		int devnull = open("/dev/null", O_RDWR);

		dup2(devnull, 0);
		dup2(devnull, 1);
		dup2(pfd[1], 2);
		if (lab_enter_ns(ns)) {
			fprintf(stderr, "cannot enter namespace %s\n", ns);
			_exit(126);
		}
		execvp(argv[0], argv);
		_exit(127);
	}
	close(pfd[1]);
	b = &p->job[p->n++];
	*b = (struct batch_job){ .pid = pid, .fd = pfd[0] };
	snprintf(b->what, sizeof(b->what), "%s", what);
	return 0;
}

/* Like run_batch, in the pool: the script is written now, the tool started
 * when a slot is free; failures are found by pool_finish. */
static int pool_batch(struct batch_pool *p, const struct lab *l, const char *tool,
		      const char *ns, const char *name, const char *text, size_t len)
{
	char path[512], what[600], kind[32];
	char *argv[] = { (char *)tool, "-batch", path, NULL };
	bool failed = p->failed;

	if (failed)
		return -1;
	state_path(l, path, sizeof(path), "setup/%s.%s", name, tool);
	p->failed = true;	/* until it started: the first error stays in err */
	snprintf(kind, sizeof(kind), "script-%s", tool);
	if (fail_step(kind, name, p->err, p->errlen))
		return -1;
	if (write_file(path, text, len)) {
		snprintf(p->err, p->errlen, "%s: cannot write", path);
		return -1;
	}
	snprintf(what, sizeof(what), "%s %s", tool, path);
	p->failed = failed;
	if (pool_start(p, ns, argv, what)) {
		p->failed = true;
		snprintf(p->err, p->errlen, "%s: cannot start: %s", what, strerror(errno));
		return -1;
	}
	return 0;
}

/* ---- namespaces -------------------------------------------------------------- */
static int open_ns(const char *ns)
{
	char path[256];

	snprintf(path, sizeof(path), "/run/netns/%s", ns);
	return open(path, O_RDONLY | O_CLOEXEC);
}

int lab_enter_ns(const char *ns)
{
	int fd = open_ns(ns), rc;

	if (fd < 0)
		return -errno;
	rc = setns(fd, CLONE_NEWNET);
	close(fd);
	return rc ? -errno : 0;
}

bool lab_ns_exists(const char *ns)
{
	char path[256];

	snprintf(path, sizeof(path), "/run/netns/%s", ns);
	return access(path, F_OK) == 0;
}

int lab_write_sysctl(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	bool ok;

	if (fd < 0)
		return -errno;
	ok = write(fd, val, strlen(val)) == (ssize_t)strlen(val);
	close(fd);
	return ok ? 0 : -EIO;
}

int lab_multipath_seed(uint32_t node)
{
	char seed[16];
	int rc;

	snprintf(seed, sizeof(seed), "%u", (uint32_t)((node + 1) * 2654435761u) | 1u);
	rc = lab_write_sysctl("/proc/sys/net/ipv4/fib_multipath_hash_seed", seed);
	return rc == -ENOENT ? 0 : rc;
}

/* In a child: enter each namespace and switch IPv6 off, so that nothing
 * but what a test sends (router solicitations, DAD, MLD) ever moves. */
static void quiet_one(void *arg, const char *ns)
{
	int *bad = arg;

	if (lab_enter_ns(ns) ||
	    lab_write_sysctl("/proc/sys/net/ipv6/conf/all/disable_ipv6", "1") ||
	    lab_write_sysctl("/proc/sys/net/ipv6/conf/default/disable_ipv6", "1"))
		(*bad)++;
}

static int quiet_namespaces(const struct lab *l)
{
	int status;
	pid_t pid = fork();

	if (pid == 0) {
		int bad = 0;

		lab_each_ns(l, quiet_one, &bad);
		_exit(bad ? 1 : 0);
	}
	if (pid < 0 || waitpid(pid, &status, 0) < 0)
		return -1;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

/* ---- processes ----------------------------------------------------------------- */
bool lab_self_exe(char *buf, size_t len)
{
	ssize_t n = readlink("/proc/self/exe", buf, len - 1);

	if (n <= 0)
		return false;
	buf[n] = 0;
	return true;
}

/* Does /proc/PID/cmdline hold "--name" (FRR: "-N") followed by `name`? */
static bool proc_is(pid_t pid, const char *name)
{
	char path[64], buf[4096];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = 0;
	for (char *p = buf; p < buf + n; p += strlen(p) + 1)
		if ((!strcmp(p, "--name") || !strcmp(p, "-N")) && p + strlen(p) + 1 < buf + n &&
		    !strcmp(p + strlen(p) + 1, name))
			return true;
	return false;
}

static bool alive(pid_t pid)
{
	int st;

	/* Our own children linger as zombies until reaped. */
	if (waitpid(pid, &st, WNOHANG) == pid)
		return false;
	return kill(pid, 0) == 0;
}

/* SIGTERM, wait, SIGKILL. */
static void stop_pids(const pid_t *pids, size_t n)
{
	uint64_t deadline = mono_ns() + (uint64_t)LAB_STOP_WAIT_MS * 1000000;
	bool any;

	for (size_t i = 0; i < n; i++)
		kill(pids[i], SIGTERM);
	do {
		any = false;
		for (size_t i = 0; i < n; i++)
			any |= alive(pids[i]);
		if (any)
			msleep(10);
	} while (any && mono_ns() < deadline);
	for (size_t i = 0; i < n; i++)
		if (alive(pids[i]))
			kill(pids[i], SIGKILL);
}

static pid_t read_pidfile(const char *path)
{
	char buf[32] = { 0 };
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	return n > 0 ? (pid_t)atoi(buf) : 0;
}

pid_t lab_daemon_pid(const struct lab *l, const char *node, const char *daemon)
{
	char path[512], ns[128];
	pid_t pid;

	state_path(l, path, sizeof(path), "pids/%s.%s", node, daemon);
	lab_ns(l, node, ns, sizeof(ns));
	pid = read_pidfile(path);
	return pid > 0 && alive(pid) && proc_is(pid, ns) ? pid : 0;
}

static pid_t spawn(const struct lab *l, const char *ns, const char *node,
		   const struct lab_daemon *d, char **args, int nargs)
{
	char exe[512], logp[512], pidp[512], pidbuf[32];
	char *argv[LAB_MAX_ARGS + 3];
	pid_t pid;

	if (d->exe) {
		snprintf(exe, sizeof(exe), "%s", d->exe);
		argv[0] = (char *)d->name;
		memcpy(argv + 1, args, (size_t)nargs * sizeof(char *));
		argv[nargs + 1] = NULL;
	} else {
		if (!lab_self_exe(exe, sizeof(exe)))
			return -1;
		argv[0] = "peregrine";
		argv[1] = (char *)d->name;
		memcpy(argv + 2, args, (size_t)nargs * sizeof(char *));
		argv[nargs + 2] = NULL;
	}
	state_path(l, logp, sizeof(logp), "logs/%s.%s.log", node, d->name);
	state_path(l, pidp, sizeof(pidp), "pids/%s.%s", node, d->name);
	if ((pid = fork()) < 0)
		return -1;
	if (pid == 0) {
		int log = open(logp, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		int devnull = open("/dev/null", O_RDONLY);

		if (log < 0 || devnull < 0 || lab_enter_ns(ns))
			_exit(127);
		setsid();
		dup2(devnull, 0);
		dup2(log, 1);
		dup2(log, 2);
		execv(exe, argv);
		_exit(127);
	}
	snprintf(pidbuf, sizeof(pidbuf), "%d\n", (int)pid);
	write_file(pidp, pidbuf, strlen(pidbuf));
	return pid;
}

bool lab_daemon_runs_on(const struct lab *l, const struct lab_daemon *d, uint32_t node)
{
	if (!(d->schemes & LAB_IN(l->scheme)))
		return false;
	if (node & LAB_NS_HA)
		return (unsigned)d->where == LAB_ON_HA_ETCD + ((node >> 8) & 0xff);
	if (node == LAB_NS_MGMT)	/* a replicated control plane replaces it */
		return d->where == LAB_ON_MGMT && !lab_ha_on(l);
	if (topo_is_server(l->topo, node))
		return d->where == LAB_ON_SERVER ||
		       (d->where == LAB_ON_SLB && lab_slb_ring_id(l, node) &&
			!lab_slb_standby(l, node)) ||
		       (d->where == LAB_ON_SLB_EDGE && l->slb && l->edge->server == node);
	return d->where == LAB_ON_SWITCH;
}

const char *lab_node_name(const struct lab *l, uint32_t node, char *buf, size_t len)
{
	if (node == LAB_NS_MGMT)
		return "mgmt";
	if (node & LAB_NS_HA)
		return lab_ha_name(node, buf, len);
	return l->topo->nodes[node].name;
}

int lab_start_daemons(const struct lab *l, uint32_t node, char *err,
		      size_t errlen)
{
	char nbuf[16];
	const char *name = lab_node_name(l, node, nbuf, sizeof(nbuf));
	char dir[256], ns[128], bufs[LAB_MAX_ARGS][128];
	char *args[LAB_MAX_ARGS];

	if (l->no_daemons)	/* started from elsewhere (docs/deploy.md) */
		return 0;
	lab_state_dir(l->prefix, dir, sizeof(dir));
	lab_ns(l, name, ns, sizeof(ns));
	for (size_t i = 0; i < lab_ndaemons; i++) {
		const struct lab_daemon *d = &lab_daemons[i];
		char kind[32];
		int n;

		if (!lab_daemon_runs_on(l, d, node))
			continue;
		n = d->args(l, dir, node, args, bufs);
		if (n + 2 <= LAB_MAX_ARGS &&
		    lab_metrics_url(l, d, node, bufs[LAB_MAX_ARGS - 1], sizeof(bufs[0]))) {
			/* --metrics A.B.C.D:PORT, from the URL the status shows */
			char *u = bufs[LAB_MAX_ARGS - 1];

			memmove(u, u + strlen("http://"), strlen(u) - strlen("http://") + 1);
			*strchr(u, '/') = 0;
			args[n++] = "--metrics";
			args[n++] = u;
		}
		snprintf(kind, sizeof(kind), "start-%s", d->name);
		if (fail_step(kind, name, err, errlen))
			return -1;
		if (spawn(l, ns, name, d, args, n) < 0) {
			snprintf(err, errlen, "%s: cannot start %s: %s", name, d->name,
				 strerror(errno));
			return -1;
		}
	}
	return 0;
}

void lab_stop_daemons(const struct lab *l, const char *node)
{
	pid_t pids[LAB_MAX_DAEMONS_PER_NODE];
	size_t n = 0;

	for (size_t i = 0; i < lab_ndaemons && n < ARRAY_SIZE(pids); i++) {
		pid_t p = lab_daemon_pid(l, node, lab_daemons[i].name);
		char path[512];
		bool seen = false;

		/* a name may have two entries (EVPN's FRR on switches and servers) */
		for (size_t j = 0; j < n; j++)
			seen |= pids[j] == p;
		if (p && !seen)
			pids[n++] = p;
		state_path(l, path, sizeof(path), "pids/%s.%s", node, lab_daemons[i].name);
		unlink(path);
	}
	stop_pids(pids, n);
}

/* ---- waiting for switchd --------------------------------------------------------- */
static int load_key(const struct lab *l, struct auth_key *key)
{
	char path[512], err[256];

	state_path(l, path, sizeof(path), "key");
	return auth_key_load(path, key, err, sizeof(err));
}

/* Run fn inside the management namespace, then come back. */
int lab_in_mgmt(const struct lab *l, int (*fn)(const struct lab *, void *), void *arg)
{
	char ns[128];

	lab_ns(l, "mgmt", ns, sizeof(ns));
	return lab_in_ns(l, ns, fn, arg);
}

int lab_in_ns(const struct lab *l, const char *ns, int (*fn)(const struct lab *, void *),
	      void *arg)
{
	int self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC), rc;

	if (self < 0)
		return -errno;
	if ((rc = lab_enter_ns(ns)) == 0) {
		rc = fn(l, arg);
		if (setns(self, CLONE_NEWNET))
			die("cannot return to the original network namespace");
	}
	close(self);
	return rc;
}

struct wait_arg {
	uint32_t node;
	int timeout_ms;
};

int lab_switch_client(const struct lab *l, uint32_t node, struct swc *c)
{
	struct sockaddr_in to = { .sin_family = AF_INET };
	struct auth_key key;

	if (load_key(l, &key))
		return -ENOENT;
	to.sin_addr.s_addr = htonl(lab_mgmt_ip(l, node));
	to.sin_port = htons(l->switchd_port);
	return swc_open(c, &to, &key, LAB_TOOL_ID);
}

static int wait_fn(const struct lab *l, void *arg)
{
	struct wait_arg *w = arg;
	uint64_t deadline = mono_ns() + (uint64_t)w->timeout_ms * 1000000;
	struct swc c;
	uint32_t used, cap;
	int rc;

	if ((rc = lab_switch_client(l, w->node, &c)))
		return rc;
	c.tries = 1;
	c.timeout_ms = 50;
	do {
		rc = swc_fib_use(&c, &used, &cap);
	} while (rc && mono_ns() < deadline);
	swc_close(&c);
	return rc;
}

int lab_wait_switchd(const struct lab *l, uint32_t node, int timeout_ms)
{
	struct wait_arg w = { node, timeout_ms };

	return lab_in_mgmt(l, wait_fn, &w);
}

/* ---- links -------------------------------------------------------------------- */
int lab_set_links(const struct lab *l, uint32_t node, uint32_t peer, bool up,
		  char *err, size_t errlen)
{
	char *text = NULL, ns[128], ifn[LAB_IFNAMSIZ];
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	int rc;

	for (uint32_t p = 0; p < l->topo->nodes[node].degree; p++) {
		if (peer != UINT32_MAX && topo_port(l->topo, node, p)->peer != peer)
			continue;
		lab_port_ifname(l, node, p, ifn);
		fprintf(f, "link set %s %s\n", ifn, up ? "up" : "down");
	}
	fclose(f);
	lab_ns(l, l->topo->nodes[node].name, ns, sizeof(ns));
	rc = len ? run_batch(l, "ip", ns, "links", text, len, err, errlen) : 0;
	free(text);
	return rc;
}

int lab_restore_neighbours(const struct lab *l, uint32_t node, char *err, size_t errlen)
{
	char *text = NULL, ns[128];
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	int rc;

	if (lab_schemes[l->scheme].script_neigh)
		lab_schemes[l->scheme].script_neigh(l, node, f);
	fclose(f);
	lab_ns(l, l->topo->nodes[node].name, ns, sizeof(ns));
	rc = len ? run_batch(l, "ip", ns, "neigh", text, len, err, errlen) : 0;
	free(text);
	return rc;
}

/* ---- up ----------------------------------------------------------------------- */
static int mkdirs(const struct lab *l)
{
	static const char *const sub[] = { "", "pids", "logs", "setup" };
	char path[512];

	if (mkdir(LAB_RUN_DIR, 0755) && errno != EEXIST)
		return -errno;
	for (size_t i = 0; i < ARRAY_SIZE(sub); i++) {
		state_path(l, path, sizeof(path), "%s", sub[i]);
		if (mkdir(path, 0700) && (i > 0 || errno != EEXIST))
			return -errno;
	}
	return 0;
}

/* netem is optional in kernels: try it in a scratch namespace first. */
static int probe_netem(const struct lab *l, char *err, size_t errlen)
{
	char ns[128], out[512];
	int rc;

	lab_ns(l, "probe", ns, sizeof(ns));
	{
		char *add[] = { "ip", "netns", "add", ns, NULL };
		char *veth[] = { "ip", "-n", ns, "link", "add", "probe0", "type", "veth",
				 "peer", "name", "probe1", NULL };
		char *tc[] = { "tc", "-n", ns, "qdisc", "add", "dev", "probe0", "root",
			       "netem", "delay", "1ms", NULL };
		char *del[] = { "ip", "netns", "del", ns, NULL };

		if (lab_run(add, out, sizeof(out))) {
			snprintf(err, errlen, "cannot create namespace %s: %s", ns, out);
			return -1;
		}
		rc = lab_run(veth, out, sizeof(out)) || lab_run(tc, out, sizeof(out));
		lab_run(del, NULL, 0);
	}
	if (rc)
		snprintf(err, errlen, "links.delay_ms needs the netem qdisc, which this "
			 "kernel lacks (%s); drop delay_ms or use links.mbps alone", out);
	return rc ? -1 : 0;
}

struct setup_ctx {
	const struct lab *l;
	char *err;
	size_t errlen;
};

static int script_and_run(const struct lab *l, struct batch_pool *p, const char *tool,
			  uint32_t which)
{
	const char *name;
	char ns[128], *text = NULL, nbuf[16];
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	bool any = true;
	int rc;

	if (which & LAB_NS_VM)
		name = l->vms[which & ~(uint32_t)LAB_NS_VM].name;
	else
		name = lab_node_name(l, which, nbuf, sizeof(nbuf));
	if (!strcmp(tool, "tc"))
		any = lab_script_tc(l, which, f);
	else
		lab_script_ns(l, which, f);
	fclose(f);
	lab_ns(l, name, ns, sizeof(ns));
	rc = any ? pool_batch(p, l, tool, ns, name, text, len) : 0;
	free(text);
	return rc;
}

/* The namespaces' scripts are independent of each other (each touches
 * only its own namespace), so they run in parallel; a node's tc script
 * needs its links, so it runs after every ip script. */
static int build(const struct lab *l, char *err, size_t errlen)
{
	struct batch_pool p = { .err = err, .errlen = errlen };
	char *text = NULL;
	size_t len = 0;
	FILE *f;
	int rc;

	f = open_memstream(&text, &len);
	lab_script_host(l, f);
	fclose(f);
	rc = run_batch(l, "ip", NULL, "host", text, len, err, errlen);
	free(text);
	if (rc)
		return -1;
	if (quiet_namespaces(l)) {
		snprintf(err, errlen, "cannot switch IPv6 off in the lab's namespaces");
		return -1;
	}
	if (lab_ipv6_vms(l)) {
		snprintf(err, errlen, "cannot switch IPv6 on in the VMs of IPv6 VDCs");
		return -1;
	}
	rc = script_and_run(l, &p, "ip", LAB_NS_MGMT);
	for (uint32_t n = 0; !rc && n < l->topo->nnodes; n++)
		rc = script_and_run(l, &p, "ip", n);
	for (uint32_t v = 0; !rc && v < l->nvms; v++)
		rc = script_and_run(l, &p, "ip", LAB_NS_VM | v);
	for (unsigned k = 0; !rc && k < LAB_HA_KINDS; k++)
		for (uint32_t i = 0; !rc && i < l->ha.n[k]; i++)
			rc = script_and_run(l, &p, "ip", lab_ha_which(k, i));
	if (pool_finish(&p) || rc)
		return -1;
	for (uint32_t n = 0; !rc && n < l->topo->nnodes; n++)
		rc = script_and_run(l, &p, "tc", n);
	for (uint32_t v = 0; !rc && v < l->nvms; v++)	/* policy[].rate */
		rc = script_and_run(l, &p, "tc", LAB_NS_VM | v);
	if (pool_finish(&p) || rc)
		return -1;
	return 0;
}

static int wait_switchds(const struct lab *l, char *err, size_t errlen);

/* What differs between schemes when a lab runs: settings after the
 * scripts (NULL: none), then, once the daemons run, the wait until the
 * fabric forwards.  Indexed by enum pgr_scheme. */
static const struct {
	int (*prepare)(const struct lab *l, char *err, size_t errlen);
	int (*ready)(const struct lab *l, char *err, size_t errlen);
	/* one switch, after `lab node up`, and for how long */
	int (*switch_ready)(const struct lab *l, uint32_t node, int timeout_ms);
	int switch_wait_ms;
	/* `lab migrate` moved a VM's port; NULL: nothing more to do */
	int (*moved)(const struct lab *l, const struct lab_vm *vm, uint32_t from, uint32_t to,
		     char *err, size_t errlen);
} run_schemes[PGR_SCHEME_COUNT] = {
	[PGR_SCHEME_PEREGRINE] = { NULL, wait_switchds, lab_wait_switchd, LAB_READY_WAIT_MS,
				   NULL },
	[PGR_SCHEME_VL2] = { lab_vl2_prepare, lab_vl2_ready, lab_vl2_wait_ospf,
			     LAB_OSPF_WAIT_MS, lab_vl2_moved },
	[PGR_SCHEME_BCUBE] = { lab_bcube_prepare, lab_bcube_ready, lab_bcube_switch_ready, 0,
			       NULL },
	[PGR_SCHEME_EVPN] = { lab_evpn_prepare, lab_evpn_ready, lab_evpn_wait_bgp,
			      LAB_BGP_WAIT_MS, lab_evpn_moved },
	[PGR_SCHEME_NETLORD] = { lab_netlord_prepare, lab_netlord_ready,
				 lab_netlord_switch_ready, 0, NULL },
};

int lab_scheme_moved(const struct lab *l, const struct lab_vm *vm, uint32_t from, uint32_t to,
		     char *err, size_t errlen)
{
	if (!run_schemes[l->scheme].moved)
		return 0;
	return run_schemes[l->scheme].moved(l, vm, from, to, err, errlen);
}

int lab_wait_switch(const struct lab *l, uint32_t node)
{
	return run_schemes[l->scheme].switch_ready(l, node,
						   run_schemes[l->scheme].switch_wait_ms);
}

static int start_all(const struct lab *l, char *err, size_t errlen)
{
	if (run_schemes[l->scheme].prepare && run_schemes[l->scheme].prepare(l, err, errlen))
		return -1;
	if (lab_ha_start(l, err, errlen))
		return -1;
	if (lab_start_daemons(l, LAB_NS_MGMT, err, errlen) ||
	    lab_policies_to_directory(l, err, errlen))
		return -1;
	for (uint32_t n = 0; n < l->topo->nnodes; n++)
		if (lab_start_daemons(l, n, err, errlen))
			return -1;
	return run_schemes[l->scheme].ready(l, err, errlen);
}

static int wait_switchds(const struct lab *l, char *err, size_t errlen)
{
	for (uint32_t n = 0; n < l->topo->nnodes; n++) {
		if (topo_is_server(l->topo, n))
			continue;
		if (fail_step("wait-switchd", l->topo->nodes[n].name, err, errlen))
			return -1;
		if (lab_wait_switchd(l, n, LAB_READY_WAIT_MS)) {
			snprintf(err, errlen, "switchd on %s did not answer within %d ms "
				 "(see peregrine lab logs %s)", l->topo->nodes[n].name,
				 LAB_READY_WAIT_MS, l->topo->nodes[n].name);
			return -1;
		}
	}
	return 0;
}

static bool any_prefixed_ns(const char *prefix);

int lab_up(const struct lab *l, const char *yaml, size_t len, char *err, size_t errlen)
{
	char dir[256], path[512];
	int e;

	lab_state_dir(l->prefix, dir, sizeof(dir));
	if (access(dir, F_OK) == 0 || any_prefixed_ns(l->prefix)) {
		snprintf(err, errlen, "a lab with prefix '%s' exists (or its remains): "
			 "run 'peregrine lab down --prefix %s' first", l->prefix, l->prefix);
		return -1;
	}
	/* A kernel without netem is found out before anything is made. */
	if (l->delay_ms > 0 && probe_netem(l, err, errlen))
		return -1;
	if ((e = mkdirs(l))) {
		snprintf(err, errlen, "%s: %s", dir, strerror(-e));
		return -1;
	}
	state_path(l, path, sizeof(path), "lab.yaml");
	if (write_file(path, yaml, len)) {
		snprintf(err, errlen, "%s: cannot write", path);
		goto fail;
	}
	state_path(l, path, sizeof(path), "key");
	if (auth_key_generate(path, err, errlen))
		goto fail;
	if (l->no_daemons) {
		/* later commands (node up) must not start them either */
		state_path(l, path, sizeof(path), "no-daemons");
		if (write_file(path, "", 0)) {
			snprintf(err, errlen, "%s: cannot write", path);
			goto fail;
		}
	}
	state_path(l, path, sizeof(path), "setup/steps");
	steps.log = fopen(path, "we");
	if (build(l, err, errlen) || lab_edge_build(l, err, errlen) ||
	    (l->slb && lab_slb_files(l, err, errlen)) ||
	    (!l->no_daemons && start_all(l, err, errlen)) ||
	    (!l->no_daemons && lab_slb_build(l, err, errlen)))
		goto fail;
	if (steps.log)
		fclose(steps.log);
	steps.log = NULL;
	return 0;
fail:
	if (steps.log)
		fclose(steps.log);
	steps.log = NULL;
	lab_down(l->prefix, NULL, NULL);
	{
		size_t n = strlen(err);

		snprintf(err + n, errlen - n, " (rolled back: everything it made is removed)");
	}
	return -1;
}

/* ---- down --------------------------------------------------------------------- */
struct ns_list {
	char (*names)[128];
	size_t n, cap;
};

static void ns_list_add(void *arg, const char *ns)
{
	struct ns_list *nl = arg;

	for (size_t i = 0; i < nl->n; i++)
		if (!strcmp(nl->names[i], ns))
			return;
	if (nl->n == nl->cap) {
		nl->cap = nl->cap ? 2 * nl->cap : 64;
		nl->names = xreallocarray(nl->names, nl->cap, sizeof(*nl->names));
	}
	snprintf(nl->names[nl->n++], 128, "%s", ns);
}

/* Namespaces named "<prefix>-...": everything under the prefix is the lab's. */
static void sweep_prefixed(const char *prefix, struct ns_list *nl)
{
	DIR *d = opendir("/run/netns");
	struct dirent *e;
	size_t n = strlen(prefix);

	if (!d)
		return;
	while ((e = readdir(d)))
		if (!strncmp(e->d_name, prefix, n) && e->d_name[n] == '-')
			ns_list_add(nl, e->d_name);
	closedir(d);
}

static bool any_prefixed_ns(const char *prefix)
{
	struct ns_list nl = { 0 };

	sweep_prefixed(prefix, &nl);
	free(nl.names);
	return nl.n > 0;
}

/* Every process whose network namespace is one of the lab's. */
static size_t procs_in(const struct ns_list *nl, pid_t **out)
{
	ino_t *inos = xcalloc(nl->n + 1, sizeof(*inos));
	size_t n = 0, cap = 0;
	pid_t *pids = NULL;
	struct dirent *e;
	DIR *d;

	for (size_t i = 0; i < nl->n; i++) {
		char path[256];
		struct stat st;

		snprintf(path, sizeof(path), "/run/netns/%s", nl->names[i]);
		inos[i] = stat(path, &st) ? 0 : st.st_ino;
	}
	if ((d = opendir("/proc"))) {
		while ((e = readdir(d))) {
			char path[300];
			struct stat st;
			pid_t pid = (pid_t)atoi(e->d_name);

			if (pid <= 1 || pid == getpid())
				continue;
			snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)pid);
			if (stat(path, &st))
				continue;
			for (size_t i = 0; i < nl->n; i++) {
				if (inos[i] && inos[i] == st.st_ino) {
					if (n == cap)
						pids = xreallocarray(pids, cap = cap ? 2 * cap : 32,
								     sizeof(*pids));
					pids[n++] = pid;
					break;
				}
			}
		}
		closedir(d);
	}
	free(inos);
	*out = pids;
	return n;
}

/* Stop the recorded daemons first (they shut down cleanly), then anything
 * else still running inside the lab (started by `lab exec`). */
static unsigned stop_everything(const char *dir, const struct ns_list *nl)
{
	pid_t *pids = NULL;
	size_t n = 0, cap = 0, more;
	char path[512];
	struct dirent *e;
	DIR *d;

	snprintf(path, sizeof(path), "%s/pids", dir);
	if ((d = opendir(path))) {
		while ((e = readdir(d))) {
			char pf[800], name[256], *dot;
			pid_t pid;

			if (e->d_name[0] == '.')
				continue;
			snprintf(pf, sizeof(pf), "%s/%s", path, e->d_name);
			snprintf(name, sizeof(name), "%s", e->d_name);
			if ((dot = strrchr(name, '.')))
				*dot = 0;
			pid = read_pidfile(pf);
			if (n == cap)
				pids = xreallocarray(pids, cap = cap ? 2 * cap : 32, sizeof(*pids));
			if (pid > 0 && alive(pid))
				pids[n++] = pid;
		}
		closedir(d);
	}
	/* Only processes that run in one of the lab's namespaces are ours; a
	 * stale pid file must not kill a stranger. */
	{
		pid_t *inside;
		size_t ni = procs_in(nl, &inside), k = 0;

		for (size_t i = 0; i < n; i++)
			for (size_t j = 0; j < ni; j++)
				if (pids[i] == inside[j]) {
					pids[k++] = pids[i];
					break;
				}
		stop_pids(pids, k);
		free(inside);
		free(pids);
		n = k;
	}
	more = procs_in(nl, &pids);
	stop_pids(pids, more);
	free(pids);
	return (unsigned)(n + more);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* Data planes the lab's agents pinned (PIN_ROOT/P-srvN) and left behind:
 * an agent stopped with SIGKILL, or one that died, keeps its pins (that is
 * how a restarted agent takes over without disturbing traffic), so once
 * the lab is gone they are removed here. */
static void sweep_pins(const char *prefix)
{
	DIR *d = opendir(PGR_DP_PIN_ROOT);
	struct dirent *e;
	size_t n = strlen(prefix);

	if (!d)
		return;
	while ((e = readdir(d))) {
		char path[512];

		if (strncmp(e->d_name, prefix, n) || e->d_name[n] != '-')
			continue;
		snprintf(path, sizeof(path), "%s/%s", PGR_DP_PIN_ROOT, e->d_name);
		nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	}
	closedir(d);
}

/* Copy one file; best effort (the copy is for people reading a failure). */
static void copy_file(const char *from, const char *to)
{
	int in = open(from, O_RDONLY | O_CLOEXEC), out = -1;
	char buf[16384];
	ssize_t n;

	if (in >= 0)
		out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	while (out >= 0 && (n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n)
			break;
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
}

/* PEREGRINE_LAB_SAVE_LOGS=DIR: before the state directory goes, copy its
 * daemon logs to DIR/lab-P.N/ (N = 1, 2, ...: a test may bring a prefix up
 * and down several times), so that a test can look for sanitizer reports
 * in them and keep them when it fails (docs/building.md). */
static void save_logs(const char *prefix, const char *dir)
{
	const char *dest = getenv("PEREGRINE_LAB_SAVE_LOGS");
	char from[512], to[512];
	struct dirent *e;
	DIR *d;
	int n = snprintf(from, sizeof(from), "%s/logs", dir);

	if (!dest || !dest[0] || n < 0 || (size_t)n >= sizeof(from) || !(d = opendir(from)))
		return;
	mkdir(dest, 0755);
	for (unsigned i = 1; i <= LAB_SAVE_LOGS_MAX; i++) {
		snprintf(to, sizeof(to), "%s/lab-%s.%u", dest, prefix, i);
		if (!mkdir(to, 0755))
			break;
		if (errno != EEXIST || i == LAB_SAVE_LOGS_MAX) {
			closedir(d);
			return;
		}
	}
	while ((e = readdir(d))) {
		char src[800], dst[800];

		if (e->d_name[0] == '.')
			continue;
		snprintf(src, sizeof(src), "%s/%s", from, e->d_name);
		snprintf(dst, sizeof(dst), "%s/%s", to, e->d_name);
		copy_file(src, dst);
	}
	closedir(d);
}

int lab_load_running(const char *prefix, struct lab *l, char *err, size_t errlen)
{
	char dir[256], path[512], *buf;
	struct stat st;
	ssize_t n;
	int fd, rc;

	if (!lab_prefix_ok(prefix)) {
		snprintf(err, errlen, "prefix '%s': 1 to %d of a-z 0-9", prefix, LAB_MAX_PREFIX);
		return -EINVAL;
	}
	lab_state_dir(prefix, dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/lab.yaml", dir);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 || fstat(fd, &st)) {
		snprintf(err, errlen, "no lab with prefix '%s' is up (%s missing)", prefix, path);
		if (fd >= 0)
			close(fd);
		return -ENOENT;
	}
	buf = xmalloc((size_t)st.st_size + 1);
	n = read(fd, buf, (size_t)st.st_size);
	close(fd);
	rc = n == st.st_size ? lab_load_buf(l, path, buf, (size_t)n, prefix, err, errlen) : -EIO;
	if (rc == -EIO)
		snprintf(err, errlen, "%s: cannot read", path);
	free(buf);
	if (rc == 0 && (rc = lab_placement_load(l, err, errlen)))
		lab_free(l);
	snprintf(path, sizeof(path), "%s/no-daemons", dir);
	if (rc == 0)
		l->no_daemons = access(path, F_OK) == 0;
	return rc;
}

/* One `ip -force -batch` for all of them: a process per namespace made
 * `down` of a large lab take seconds. */
static void del_namespaces(const struct ns_list *nl)
{
	char path[] = LAB_RUN_DIR "/netns-del.XXXXXX";
	char *argv[] = { "ip", "-force", "-batch", path, NULL };
	FILE *f;
	int fd;

	mkdir(LAB_RUN_DIR, 0755);
	if ((fd = mkstemp(path)) < 0 || !(f = fdopen(fd, "w"))) {
		if (fd >= 0)
			close(fd);
		for (size_t i = 0; i < nl->n; i++) {
			char *del[] = { "ip", "netns", "del", nl->names[i], NULL };

			if (lab_ns_exists(nl->names[i]))
				lab_run(del, NULL, 0);
		}
		return;
	}
	for (size_t i = 0; i < nl->n; i++)
		if (lab_ns_exists(nl->names[i]))
			fprintf(f, "netns del %s\n", nl->names[i]);
	fclose(f);
	lab_run(argv, NULL, 0);
	unlink(path);
}

int lab_down(const char *prefix, unsigned *nprocs, unsigned *nns)
{
	struct ns_list nl = { 0 };
	char dir[256], err[512];
	struct lab l;
	unsigned procs;

	lab_state_dir(prefix, dir, sizeof(dir));
	if (lab_load_running(prefix, &l, err, sizeof(err)) == 0) {
		lab_each_ns(&l, ns_list_add, &nl);
		lab_free(&l);
	}
	sweep_prefixed(prefix, &nl);
	procs = stop_everything(dir, &nl);
	del_namespaces(&nl);
	save_logs(prefix, dir);
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	sweep_pins(prefix);
	if (nprocs)
		*nprocs = procs;
	if (nns)
		*nns = (unsigned)nl.n;
	free(nl.names);
	return 0;
}
