/* lib/etcd.c against a real etcd (/usr/bin/etcd) that the test starts on
 * loopback, with ports from the test's PID and a data directory of its own,
 * and stops by PID.  Also the error paths: an endpoint nobody listens on, one
 * that accepts and never answers, one that answers garbage. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lib/common.h"
#include "lib/etcd.h"

static pid_t etcd_pid;
static char url[64], dir[64];

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static int start_etcd(void **state)
{
	int port = 20000 + 2 * (getpid() % 10000);
	char client[64], peer[64], log[96], cluster[96];

	if (access("/usr/bin/etcd", X_OK))
		return -1;
	snprintf(dir, sizeof(dir), "/tmp/pg-etcd-test.%d", (int)getpid());
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", port);
	snprintf(client, sizeof(client), "http://127.0.0.1:%d", port);
	snprintf(peer, sizeof(peer), "http://127.0.0.1:%d", port + 1);
	snprintf(log, sizeof(log), "%s.log", dir);
	snprintf(cluster, sizeof(cluster), "pgtest=%s", peer);
	etcd_pid = fork();
	if (etcd_pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);	/* never outlives a crashed test */
		if (!freopen(log, "w", stderr) || !freopen("/dev/null", "w", stdout))
			_exit(127);
		execl("/usr/bin/etcd", "etcd", "--name", "pgtest", "--data-dir", dir,
		      "--listen-client-urls", client, "--advertise-client-urls", client,
		      "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
		      "--initial-cluster", cluster, NULL);
		_exit(127);
	}
	(void)state;
	return etcd_pid > 0 ? 0 : -1;
}

static int stop_etcd(void **state)
{
	char cmd[192];

	(void)state;
	if (etcd_pid > 0) {
		kill(etcd_pid, SIGTERM);
		waitpid(etcd_pid, NULL, 0);
	}
	snprintf(cmd, sizeof(cmd), "rm -rf %s %s.log", dir, dir);
	return system(cmd) == 0 ? 0 : -1;
}

static int range_count(void *arg, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl,
		       int64_t rev)
{
	(*(int *)arg)++;
	(void)k; (void)kl; (void)v; (void)vl; (void)rev;
	return 0;
}

static void test_kv(void **state)
{
	char err[128];
	struct etcd *e = etcd_new(url, 2000, err, sizeof(err));
	int64_t r1 = 0, r2 = 0, r3 = 0, cr, mr;
	uint8_t val[16];
	size_t vl;
	int n = 0;

	(void)state;
	assert_non_null(e);
	assert_int_equal(etcd_put(e, "/t/kv/a", 7, "one", 3, 0, &r1), 0);
	assert_int_equal(etcd_put(e, "/t/kv/b", 7, "two", 3, 0, &r2), 0);
	assert_true(r2 > r1 && r1 > 0);
	assert_int_equal(etcd_get(e, "/t/kv/a", 7, val, sizeof(val), &vl, &cr, &mr), 1);
	assert_int_equal(vl, 3);
	assert_memory_equal(val, "one", 3);
	assert_int_equal(cr, r1);
	assert_int_equal(mr, r1);
	assert_int_equal(etcd_range_prefix(e, "/t/kv/", 6, range_count, &n, &r3), 0);
	assert_int_equal(n, 2);
	assert_int_equal(r3, r2);
	assert_int_equal(etcd_del(e, "/t/kv/a", 7, &r3), 0);
	assert_true(r3 > r2);
	assert_int_equal(etcd_get(e, "/t/kv/a", 7, val, sizeof(val), &vl, NULL, NULL), 0);
	assert_int_equal(etcd_get(e, "/t/kv/b", 7, val, 2, &vl, NULL, NULL), -EPROTO);	/* too big */
	assert_int_equal(etcd_put(e, "", 0, "x", 1, 0, NULL), -EINVAL);
	etcd_free(e);
}

static void test_txn(void **state)
{
	char err[128], keys[ETCD_TXN_OPS + 1][24];
	struct etcd_op ops[ETCD_TXN_OPS + 1];
	struct etcd *e = etcd_new(url, 2000, err, sizeof(err));
	int64_t rev = 0, rev2 = 0;
	int n = 0;

	(void)state;
	for (int i = 0; i <= ETCD_TXN_OPS; i++) {
		snprintf(keys[i], sizeof(keys[i]), "/t/txn/%04d", i);
		ops[i] = (struct etcd_op){ .key = keys[i], .klen = strlen(keys[i]), .val = "v",
					   .vlen = 1 };
	}
	assert_int_equal(etcd_txn(e, ops, ETCD_TXN_OPS + 1, &rev), -EINVAL);
	assert_int_equal(etcd_txn(e, ops, ETCD_TXN_OPS, &rev), 0);
	assert_int_equal(etcd_range_prefix(e, "/t/txn/", 7, range_count, &n, &rev2), 0);
	assert_int_equal(n, ETCD_TXN_OPS);
	assert_int_equal(rev, rev2);	/* one revision for all of them */
	/* Checked: only if the key has not moved on since rev. */
	ops[0].check = true;
	ops[0].expect_mod = rev - 1;
	assert_int_equal(etcd_txn(e, ops, 1, NULL), -ECANCELED);
	assert_int_equal(etcd_get_stats(e)->compare_failed, 1);
	ops[0].expect_mod = rev;
	ops[0].del = true;
	assert_int_equal(etcd_txn(e, ops, 1, NULL), 0);
	ops[0].expect_mod = 0;	/* gone: mod_revision 0 */
	ops[0].del = false;
	assert_int_equal(etcd_txn(e, ops, 1, &rev2), 0);
	ops[0].del = true;
	ops[0].expect_mod = rev2;
	assert_int_equal(etcd_txn(e, ops, 1, NULL), 0);
	n = 0;
	assert_int_equal(etcd_range_prefix(e, "/t/txn/", 7, range_count, &n, NULL), 0);
	assert_int_equal(n, ETCD_TXN_OPS - 1);
	etcd_free(e);
}

static void test_lease(void **state)
{
	char err[128];
	struct etcd *e = etcd_new(url, 2000, err, sizeof(err));
	int64_t id, ttl;
	uint8_t v[8];
	size_t vl;

	(void)state;
	assert_int_equal(etcd_lease_grant(e, 5, &id), 0);
	assert_true(id != 0);
	assert_int_equal(etcd_put(e, "/t/lease/k", 10, "v", 1, id, NULL), 0);
	assert_int_equal(etcd_lease_keepalive(e, id, &ttl), 0);
	assert_true(ttl > 0 && ttl <= 5);
	assert_int_equal(etcd_lease_revoke(e, id), 0);
	assert_int_equal(etcd_get(e, "/t/lease/k", 10, v, sizeof(v), &vl, NULL, NULL), 0);
	assert_int_equal(etcd_lease_keepalive(e, id, &ttl), -ENOENT);
	assert_int_equal(etcd_get_stats(e)->lease_lost, 1);
	etcd_free(e);
}

static void test_election(void **state)
{
	char err[128], other[32];
	struct etcd *a = etcd_new(url, 2000, err, sizeof(err));
	struct etcd *b = etcd_new(url, 2000, err, sizeof(err));
	int64_t la, lb, ta, ta2, tb;
	size_t ol = 0;

	(void)state;
	assert_int_equal(etcd_lease_grant(a, 5, &la), 0);
	assert_int_equal(etcd_lease_grant(b, 5, &lb), 0);
	assert_int_equal(etcd_campaign(a, "/t/leader", 9, "A", 1, la, &ta, NULL, 0, NULL), 1);
	assert_int_equal(etcd_campaign(b, "/t/leader", 9, "B", 1, lb, &tb, other, sizeof(other),
				       &ol), 0);
	assert_int_equal(ol, 1);
	assert_int_equal(other[0], 'A');
	assert_int_equal(tb, ta);
	assert_int_equal(etcd_campaign(a, "/t/leader", 9, "A", 1, la, &ta2, NULL, 0, NULL), 1);
	assert_int_equal(ta2, ta);
	/* The leader's lease ends (revoked: a crash, seconds early): B leads,
	 * with a higher term. */
	assert_int_equal(etcd_lease_revoke(a, la), 0);
	assert_int_equal(etcd_campaign(b, "/t/leader", 9, "B", 1, lb, &tb, NULL, 0, NULL), 1);
	assert_true(tb > ta);
	/* Resigning with a stale term deletes nothing. */
	assert_int_equal(etcd_resign(a, "/t/leader", 9, ta), 0);
	assert_int_equal(etcd_lease_grant(a, 5, &la), 0);
	assert_int_equal(etcd_campaign(a, "/t/leader", 9, "A", 1, la, &ta, NULL, 0, NULL), 0);
	assert_int_equal(etcd_lease_revoke(a, la), 0);
	assert_int_equal(etcd_resign(b, "/t/leader", 9, tb), 0);
	assert_int_equal(etcd_lease_revoke(b, lb), 0);
	etcd_free(a);
	etcd_free(b);
}

struct seen {
	int n, resyncs;
	enum etcd_ev_type type[16];
	char key[16][16];
	int64_t rev[16];
};

static void on_event(void *arg, const struct etcd_event *ev)
{
	struct seen *s = arg;

	if (ev->type == ETCD_EV_RESYNC) {
		s->resyncs++;
		return;
	}
	if (s->n < 16) {
		s->type[s->n] = ev->type;
		snprintf(s->key[s->n], sizeof(s->key[0]), "%.*s", (int)ev->klen, ev->key);
		s->rev[s->n] = ev->mod_rev;
		s->n++;
	}
}

static void wait_events(struct etcd_watch *w, struct seen *s, int n, int resyncs)
{
	for (int i = 0; i < 500 && (s->n < n || s->resyncs < resyncs); i++) {
		struct pollfd p = { .fd = etcd_watch_fd(w), .events = POLLIN };

		poll(&p, 1, 10);
		etcd_watch_read(w, on_event, s, 0);
	}
}

static void test_watch(void **state)
{
	char err[128];
	struct etcd *e = etcd_new(url, 2000, err, sizeof(err));
	struct etcd_watch *w;
	struct etcd_watch_stats st;
	struct seen s = { 0 };
	int64_t r0, r1, r2, r3;

	(void)state;
	assert_int_equal(etcd_put(e, "/t/w/before", 11, "x", 1, 0, &r0), 0);
	assert_int_equal(etcd_put(e, "/t/other", 8, "x", 1, 0, NULL), 0);
	/* From r0: the put just made is the first event. */
	w = etcd_watch_start(url, "/t/w/", 5, r0, err, sizeof(err));
	assert_non_null(w);
	assert_int_equal(etcd_put(e, "/t/w/a", 6, "1", 1, 0, &r1), 0);
	assert_int_equal(etcd_put(e, "/t/not-w", 8, "1", 1, 0, NULL), 0);
	assert_int_equal(etcd_del(e, "/t/w/a", 6, &r2), 0);
	wait_events(w, &s, 3, 0);
	assert_int_equal(s.n, 3);
	assert_string_equal(s.key[0], "/t/w/before");
	assert_int_equal(s.rev[0], r0);
	assert_string_equal(s.key[1], "/t/w/a");
	assert_int_equal(s.type[1], ETCD_EV_PUT);
	assert_int_equal(s.rev[1], r1);
	assert_int_equal(s.type[2], ETCD_EV_DELETE);
	assert_int_equal(s.rev[2], r2);
	etcd_watch_stop(w);

	/* From a compacted revision: a RESYNC; resumed, it goes on. */
	assert_int_equal(etcd_put(e, "/t/w/b", 6, "2", 1, 0, &r3), 0);
	assert_int_equal(etcd_compact(e, r3), 0);
	memset(&s, 0, sizeof(s));
	w = etcd_watch_start(url, "/t/w/", 5, r0, err, sizeof(err));
	wait_events(w, &s, 0, 1);
	assert_int_equal(s.resyncs, 1);
	assert_int_equal(s.n, 0);
	etcd_watch_resume(w, r3 + 1);
	assert_int_equal(etcd_put(e, "/t/w/c", 6, "3", 1, 0, NULL), 0);
	wait_events(w, &s, 1, 1);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.key[0], "/t/w/c");
	etcd_watch_get_stats(w, &st);
	assert_int_equal(st.resyncs, 1);
	etcd_watch_stop(w);
	etcd_free(e);
}

/* A TCP listener on loopback; mode 0: accept and never answer, 1: answer
 * garbage with 200 OK. */
struct fake {
	int fd, mode;
	pthread_t t;
	char url[64];
};

static void *fake_main(void *arg)
{
	struct fake *f = arg;
	static const char junk[] = "HTTP/1.1 200 OK\r\nContent-Length: 9\r\nConnection: close\r\n\r\nnot json!";
	int c;

	while ((c = accept(f->fd, NULL, NULL)) >= 0) {
		char buf[4096];

		if (f->mode == 1) {
			if (read(c, buf, sizeof(buf)) > 0 && write(c, junk, sizeof(junk) - 1) < 0)
				break;
			close(c);
		}	/* mode 0: leak the connection open until the test ends */
	}
	return NULL;
}

static void fake_start(struct fake *f, int mode)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);

	f->mode = mode;
	f->fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(f->fd >= 0);
	assert_int_equal(bind(f->fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(f->fd, 4), 0);
	getsockname(f->fd, (struct sockaddr *)&a, &al);
	snprintf(f->url, sizeof(f->url), "http://127.0.0.1:%d", ntohs(a.sin_port));
	pthread_create(&f->t, NULL, fake_main, f);
}

static void fake_stop(struct fake *f)
{
	shutdown(f->fd, SHUT_RDWR);
	close(f->fd);
	pthread_join(f->t, NULL);
}

static void test_errors(void **state)
{
	char err[128], urls[256];
	struct fake silent, junk;
	struct etcd *e;
	uint64_t t0;
	int64_t rev;

	(void)state;
	assert_null(etcd_new("127.0.0.1:1", 0, err, sizeof(err)));
	assert_null(etcd_new("", 0, err, sizeof(err)));
	fake_start(&silent, 0);
	fake_start(&junk, 1);

	e = etcd_new(silent.url, 300, err, sizeof(err));
	t0 = mono_ns();
	assert_int_equal(etcd_put(e, "/t/x", 4, "v", 1, 0, &rev), -ETIMEDOUT);
	assert_true(mono_ns() - t0 < 2000000000ull);	/* bounded by the timeout */
	assert_int_equal(etcd_get_stats(e)->timeouts, 1);
	assert_int_equal(etcd_get_stats(e)->errors, 1);
	etcd_free(e);

	e = etcd_new(junk.url, 1000, err, sizeof(err));
	assert_int_equal(etcd_put(e, "/t/x", 4, "v", 1, 0, &rev), -EPROTO);
	assert_int_equal(etcd_get_stats(e)->bad_replies, 1);
	etcd_free(e);

	e = etcd_new("http://127.0.0.1:1", 1000, err, sizeof(err));
	assert_int_equal(etcd_put(e, "/t/x", 4, "v", 1, 0, &rev), -EHOSTUNREACH);
	assert_int_equal(etcd_get_stats(e)->unreachable, 1);
	etcd_free(e);

	/* Dead and silent endpoints first, the real one last: it is found. */
	snprintf(urls, sizeof(urls), "http://127.0.0.1:1,%s,%s", junk.url, url);
	e = etcd_new(urls, 1000, err, sizeof(err));
	assert_int_equal(etcd_put(e, "/t/x", 4, "v", 1, 0, &rev), 0);
	assert_int_equal(etcd_get_stats(e)->failovers, 2);
	assert_string_equal(etcd_endpoint(e), url);
	assert_int_equal(etcd_put(e, "/t/x", 4, "w", 1, 0, &rev), 0);	/* stays there */
	assert_int_equal(etcd_get_stats(e)->failovers, 2);
	etcd_free(e);
	fake_stop(&silent);
	fake_stop(&junk);
}

/* Wait until etcd answers (it takes a second or two to elect itself). */
static void test_ready(void **state)
{
	char err[128];
	struct etcd *e = etcd_new(url, 500, err, sizeof(err));
	int rc = -1;

	(void)state;
	for (int i = 0; i < 200 && rc; i++) {
		rc = etcd_put(e, "/t/ready", 8, "1", 1, 0, NULL);
		if (rc)
			sleep_ms(50);
	}
	assert_int_equal(rc, 0);
	etcd_free(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ready),
		cmocka_unit_test(test_kv),
		cmocka_unit_test(test_txn),
		cmocka_unit_test(test_lease),
		cmocka_unit_test(test_election),
		cmocka_unit_test(test_watch),
		cmocka_unit_test(test_errors),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, start_etcd, stop_etcd);
}
