/* The directory client's choice of server (dir/client_udp.h) over loopback:
 * a server whose address refuses datagrams (its process died) is left at
 * once, not after the silence timeout, and a server given up is suspect: a
 * client on a silent server does not go back to it; a server slow to
 * answer writes (behind etcd) is not left as soon as one slow to answer
 * reads.  Hedged lookups (dir/client.h): in the core on a simulated clock
 * (when, how many, which answer counts), and over loopback (a silent
 * server's lookup answered by the other, without moving). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "dir/client_udp.h"
#include "wire/dirproto.h"

static const struct auth_key key = { { 7 } };

/* A UDP socket on a loopback port; *a its address. */
static int bound(struct sockaddr_in *a)
{
	socklen_t len = sizeof(*a);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);

	assert_true(fd >= 0);
	*a = (struct sockaddr_in){ .sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001) };
	assert_int_equal(bind(fd, (struct sockaddr *)a, sizeof(*a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)a, &len), 0);
	return fd;
}

/* An address nothing listens on: its port answers ICMP port unreachable. */
static void refusing(struct sockaddr_in *a)
{
	close(bound(a));
}

static void on_reply(void *arg, uint64_t id, const struct dirp_msg *m)
{
	(void)arg;
	(void)id;
	(void)m;
}

static struct dirc_udp *client(const struct sockaddr_in *first, const struct sockaddr_in *second,
			       uint32_t failover_ms)
{
	struct dirc_cfg cfg = { .key = &key, .seed = 42 };
	struct dirc_udp *u;
	int err = 0;

	u = dirc_udp_open(first, &cfg, &err);
	assert_non_null(u);
	assert_int_equal(dirc_udp_add_server(u, second), 0);
	dirc_udp_set_failover_ms(u, failover_ms);
	return u;
}

static void lookup(struct dirc_udp *u)
{
	struct dirp_key k = { .vdc = 1, .ip = 0x0a000001 };

	assert_true(dirc_request(dirc_udp_client(u), dir_now_sys(), DIRP_LOOKUP, &k, 1, on_reply,
				 NULL) > 0);
}

static bool has_datagram(void *arg)
{
	char b;

	return recv(*(int *)arg, &b, 1, MSG_DONTWAIT | MSG_PEEK) >= 0;
}

static bool never(void *arg)
{
	(void)arg;
	return false;
}

static bool on_second(void *arg)
{
	return dirc_udp_server(arg) == 1;
}

/* A server's answer to the request in buf (no records: the client matches
 * answers by id and type). */
static size_t answer(const uint8_t *buf, size_t len, uint8_t *out, size_t cap)
{
	struct dirp_msg m;
	struct dirp_hdr h;
	struct dirp_writer w;

	assert_int_equal(dirp_decode(buf, len, &key, &m), 0);
	h = (struct dirp_hdr){ .type = m.h.type | DIRP_REPLY_BIT, .session = 99,
			       .seq = m.h.seq, .time_ms = m.h.time_ms, .req_id = m.h.req_id };
	dirp_begin(&w, out, cap, &h);
	return dirp_finish(&w, &key);
}

/* ---- the core on a simulated clock ------------------------------------------- */

#define MS 1000000ull
#define T0 (1000 * MS)

/* Datagrams the core sent to the server in use (main) and as hedges. */
struct wire {
	unsigned nmain, nhedge;
	uint8_t main[64][DIRP_MAX_DGRAM], hedge[64][DIRP_MAX_DGRAM];
	size_t main_len[64], hedge_len[64];
	bool no_hedge_server;		/* the hedge callback finds none */
	unsigned answered;
};

static void wire_send(void *arg, const uint8_t *buf, size_t len)
{
	struct wire *w = arg;

	assert_true(w->nmain < 64);
	memcpy(w->main[w->nmain], buf, len);
	w->main_len[w->nmain++] = len;
}

static bool wire_hedge(void *arg, const uint8_t *buf, size_t len)
{
	struct wire *w = arg;

	if (w->no_hedge_server)
		return false;
	assert_true(w->nhedge < 64);
	memcpy(w->hedge[w->nhedge], buf, len);
	w->hedge_len[w->nhedge++] = len;
	return true;
}

static void wire_answered(void *arg, uint64_t id, const struct dirp_msg *m)
{
	(void)id;
	if (m)
		((struct wire *)arg)->answered++;
}

static struct dir_now at(uint64_t ns)
{
	return (struct dir_now){ .ns = ns, .wall_ms = 1700000000000ull + ns / MS };
}

static struct dirc *core(struct wire *w)
{
	struct dirc_cfg cfg = { .key = &key, .seed = 5, .send = wire_send, .send_arg = w,
				.hedge = wire_hedge, .hedge_arg = w };

	memset(w, 0, sizeof(*w));
	return dirc_new(&cfg);
}

static void core_lookup(struct dirc *c, struct wire *w, uint64_t t)
{
	struct dirp_key k = { .vdc = 1, .ip = 0x0a000001 };

	assert_true(dirc_request(c, at(t), DIRP_LOOKUP, &k, 1, wire_answered, w) > 0);
}

/* Feed the answer to datagram i of main (or of hedge) back to the core. */
static void core_answer(struct dirc *c, struct wire *w, bool hedge, unsigned i, uint64_t t)
{
	uint8_t out[DIRP_MAX_DGRAM];
	size_t n;

	if (hedge) {
		n = answer(w->hedge[i], w->hedge_len[i], out, sizeof(out));
		dirc_hedge_input(c, at(t), out, n);
	} else {
		n = answer(w->main[i], w->main_len[i], out, sizeof(out));
		dirc_input(c, at(t), out, n);
	}
}

/* A lookup the server in use leaves unanswered is hedged after the delay
 * (the longest before any answer), answered by the hedge server; the
 * silent server's late answer is dropped and counted; until the server in
 * use says anything, that lookup still counts as its silence. */
static void test_hedge_silent_server(void **state)
{
	struct wire w;
	struct dirc *c = core(&w);
	const struct dirc_stats *st = dirc_get_stats(c);
	uint64_t due;

	(void)state;
	assert_int_equal(dirc_hedge_delay(c), DIRC_HEDGE_MAX_MS * MS);
	core_lookup(c, &w, T0);
	due = dirc_tick(c, at(T0));
	assert_int_equal(due, T0 + DIRC_HEDGE_MAX_MS * MS);	/* before the RTO */
	dirc_tick(c, at(due - 1));
	assert_int_equal(w.nhedge, 0);
	dirc_tick(c, at(due));
	assert_int_equal(w.nhedge, 1);
	assert_int_equal(st->hedged, 1);
	assert_int_equal(w.nmain, 1);		/* not moved, not retransmitted */
	core_answer(c, &w, true, 0, due + MS);
	assert_int_equal(w.answered, 1);
	assert_int_equal(st->hedge_won, 1);
	assert_int_equal(dirc_in_flight(c), 0);
	assert_int_equal(dirc_oldest(c, false), T0);	/* still owed by main */
	/* No second hedge for it, no retransmission: nothing in flight. */
	assert_int_equal(dirc_tick(c, at(due + 200 * MS)), UINT64_MAX);
	assert_int_equal(w.nhedge, 1);
	core_answer(c, &w, false, 0, due + 201 * MS);
	assert_int_equal(w.answered, 1);
	assert_int_equal(st->hedge_dropped, 1);
	assert_int_equal(st->late_replies, 0);
	assert_int_equal(dirc_oldest(c, false), 0);	/* main spoke */
	dirc_free(c);
}

/* Answers that come quickly: the delay follows them down to its floor, and
 * no lookup is hedged; one slower than the delay is. */
static void test_hedge_not_when_quick(void **state)
{
	struct wire w;
	struct dirc *c = core(&w);
	uint64_t t = T0;

	(void)state;
	for (unsigned i = 0; i < 20; i++, t += 10 * MS) {
		core_lookup(c, &w, t);
		dirc_tick(c, at(t));
		dirc_tick(c, at(t + MS));
		core_answer(c, &w, false, i, t + MS);
	}
	assert_int_equal(w.answered, 20);
	assert_int_equal(w.nhedge, 0);
	assert_int_equal(dirc_get_stats(c)->hedged, 0);
	assert_int_equal(dirc_hedge_delay(c), DIRC_HEDGE_MIN_MS * MS);
	core_lookup(c, &w, t);
	dirc_tick(c, at(t + DIRC_HEDGE_MIN_MS * MS));
	assert_int_equal(w.nhedge, 1);
	/* Answered by the server in use first: the hedge's answer is dropped. */
	core_answer(c, &w, false, 20, t + DIRC_HEDGE_MIN_MS * MS + 1);
	core_answer(c, &w, true, 0, t + DIRC_HEDGE_MIN_MS * MS + 2);
	assert_int_equal(w.answered, 21);
	assert_int_equal(dirc_get_stats(c)->hedge_won, 0);
	assert_int_equal(dirc_get_stats(c)->hedge_dropped, 1);
	dirc_free(c);
}

/* At most DIRC_HEDGE_FLIGHT hedges in flight; one answered frees a place.
 * Writes are never hedged, and a lookup with no server to hedge to is not
 * counted nor tried again. */
static void test_hedge_cap(void **state)
{
	struct dirp_entry e = { .vdc = 1, .ip = 0x0a000002, .server = 3 };
	struct wire w;
	struct dirc *c = core(&w);
	const struct dirc_stats *st = dirc_get_stats(c);

	(void)state;
	for (unsigned i = 0; i < DIRC_HEDGE_FLIGHT + 4; i++)
		core_lookup(c, &w, T0);
	e.mac[DIRP_VM_PRI][0] = e.mac[DIRP_VM_BAK][0] = 2;
	e.mac[DIRP_IM_PRI][0] = e.mac[DIRP_IM_BAK][0] = 2;
	assert_true(dirc_request(c, at(T0), DIRP_REGISTER, &e, 1, wire_answered, &w) > 0);
	dirc_tick(c, at(T0 + 20 * MS));
	assert_int_equal(w.nhedge, DIRC_HEDGE_FLIGHT);
	assert_int_equal(st->hedged, DIRC_HEDGE_FLIGHT);
	dirc_tick(c, at(T0 + 21 * MS));
	assert_int_equal(w.nhedge, DIRC_HEDGE_FLIGHT);
	core_answer(c, &w, true, 0, T0 + 22 * MS);
	dirc_tick(c, at(T0 + 22 * MS));
	assert_int_equal(w.nhedge, DIRC_HEDGE_FLIGHT + 1);
	for (unsigned i = 1; i <= DIRC_HEDGE_FLIGHT; i++)
		core_answer(c, &w, true, i, T0 + 23 * MS);
	w.no_hedge_server = true;
	dirc_tick(c, at(T0 + 23 * MS));
	w.no_hedge_server = false;
	dirc_tick(c, at(T0 + 24 * MS));
	/* The 3 lookups left found no hedge server, and the write is not hedged. */
	assert_int_equal(w.nhedge, DIRC_HEDGE_FLIGHT + 1);
	assert_int_equal(st->hedged, DIRC_HEDGE_FLIGHT + 1);
	assert_int_equal(st->hedge_won, DIRC_HEDGE_FLIGHT + 1);
	assert_int_equal(dirc_in_flight(c), 4);
	for (unsigned i = 0; i < w.nhedge; i++) {
		struct dirp_msg m;

		assert_int_equal(dirp_decode(w.hedge[i], w.hedge_len[i], &key, &m), 0);
		assert_int_equal(m.h.type, DIRP_LOOKUP);
	}
	dirc_free(c);
}

/* ---- over loopback --------------------------------------------------------- */

struct responder {
	int fd;				/* the live server's socket */
	bool mute;			/* reads, does not answer */
	bool done;
};

/* Answer what reached the live server; done when the client has its answer. */
static bool respond(void *arg)
{
	struct responder *r = arg;
	uint8_t buf[DIRP_MAX_DGRAM], out[DIRP_MAX_DGRAM];
	struct sockaddr_in from;
	socklen_t fl = sizeof(from);
	ssize_t n;

	while ((n = recvfrom(r->fd, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&from,
			     &fl)) > 0) {
		size_t len;

		if (r->mute)
			continue;
		len = answer(buf, (size_t)n, out, sizeof(out));
		assert_int_equal(sendto(r->fd, out, len, 0, (struct sockaddr *)&from, fl),
				 (ssize_t)len);
	}
	return r->done;
}

static void on_answer(void *arg, uint64_t id, const struct dirp_msg *m)
{
	(void)id;
	((struct responder *)arg)->done = m != NULL;
}

/* The server in use is silent (a process not yet dead, its socket open):
 * the lookup is answered by the other server after the hedge delay, long
 * before the 10 s that would move the client, which stays where it is. */
static void test_hedge_over_udp(void **state)
{
	struct sockaddr_in silent, live;
	int fs = bound(&silent);
	struct responder r = { .fd = bound(&live) };
	struct dirp_key k = { .vdc = 1, .ip = 0x0a000001 };
	struct dirc_udp *u;
	uint64_t t0;

	(void)state;
	u = client(&silent, &live, 10000);
	t0 = mono_ns();
	assert_true(dirc_request(dirc_udp_client(u), dir_now_sys(), DIRP_LOOKUP, &k, 1,
				 on_answer, &r) > 0);
	assert_int_equal(dirc_udp_wait(u, respond, &r, 2000), 0);
	/* after the hedge delay, well before the first retransmission */
	assert_true(mono_ns() - t0 >= DIRC_HEDGE_MAX_MS * MS);
	assert_true(mono_ns() - t0 < DIRC_RTO_MS * MS);
	assert_int_equal(dirc_udp_server(u), 0);
	assert_int_equal(dirc_udp_failovers(u), 0);
	assert_int_equal(dirc_get_stats(dirc_udp_client(u))->hedge_won, 1);
	assert_true(has_datagram(&fs));
	dirc_udp_close(u);
	close(fs);
	close(r.fd);
}

/* The first server's process is gone: the request reaches the second long
 * before the 10 s of silence that would move the client otherwise. */
static void test_refusal_moves_at_once(void **state)
{
	struct sockaddr_in dead, alive;
	int fd = bound(&alive);
	struct dirc_udp *u;

	(void)state;
	refusing(&dead);
	u = client(&dead, &alive, 10000);
	lookup(u);
	assert_int_equal(dirc_udp_wait(u, has_datagram, &fd, 2000), 0);
	assert_int_equal(dirc_udp_server(u), 1);
	assert_int_equal(dirc_udp_failovers(u), 1);
	assert_int_equal(dirc_udp_refusals(u), 1);
	dirc_udp_close(u);
	close(fd);
}

/* On the second server, silent for many failover periods (a server slowed
 * by etcd's commits): the client stays, instead of going back to the dead
 * one every 20 ms and losing that time there each time. */
static void test_no_return_to_suspect(void **state)
{
	struct sockaddr_in dead, slow;
	int fd = bound(&slow);
	struct dirc_udp *u;

	(void)state;
	refusing(&dead);
	u = client(&dead, &slow, 20);
	lookup(u);
	assert_int_equal(dirc_udp_wait(u, never, NULL, 300), -ETIMEDOUT);
	assert_int_equal(dirc_udp_server(u), 1);
	assert_int_equal(dirc_udp_failovers(u), 1);
	assert_true(has_datagram(&fd));
	dirc_udp_close(u);
	close(fd);
}

/* Two servers, both silent: the client still moves between them (neither
 * is known dead), once per failover period at most. */
static void test_silent_servers_alternate(void **state)
{
	struct sockaddr_in a, b;
	int fa = bound(&a), fb = bound(&b);
	struct dirc_udp *u;

	(void)state;
	u = client(&a, &b, 20);
	lookup(u);
	assert_int_equal(dirc_udp_wait(u, on_second, u, 2000), 0);
	assert_int_equal(dirc_udp_refusals(u), 0);
	assert_true(has_datagram(&fa));
	dirc_udp_close(u);
	close(fa);
	close(fb);
}

/* A server that holds a registration's answer (until etcd commits it) is
 * not left for that after failover_ms, only after
 * DIRC_UDP_WRITE_FAILOVER_MS; a lookup it leaves unanswered meanwhile
 * moves the client after failover_ms. */
static void test_writes_wait_longer(void **state)
{
	struct sockaddr_in a, b;
	int fa = bound(&a), fb = bound(&b);
	struct dirp_entry e = { .vdc = 1, .ip = 0x0a000002, .server = 3 };
	struct dirc_udp *u;
	uint64_t t0;

	(void)state;
	e.mac[DIRP_VM_PRI][0] = 2;
	e.mac[DIRP_VM_BAK][0] = 2;
	e.mac[DIRP_IM_PRI][0] = 2;
	e.mac[DIRP_IM_BAK][0] = 2;
	u = client(&a, &b, 20);
	assert_true(dirc_request(dirc_udp_client(u), dir_now_sys(), DIRP_REGISTER, &e, 1, on_reply,
				 NULL) > 0);
	assert_int_equal(dirc_udp_wait(u, never, NULL, 150), -ETIMEDOUT);
	assert_int_equal(dirc_udp_failovers(u), 0);	/* 7 failover periods */
	assert_false(has_datagram(&fb));		/* nor hedged */
	t0 = mono_ns();
	lookup(u);
	assert_int_equal(dirc_udp_wait(u, on_second, u, 2000), 0);
	/* well before the write's own limit, counted from its send */
	assert_true(mono_ns() - t0 < (DIRC_UDP_WRITE_FAILOVER_MS - 150) * 1000000ull);
	dirc_udp_close(u);
	close(fa);
	close(fb);
}

/* Alone, a refusing server is kept (there is nowhere else to go). */
static void test_single_server_kept(void **state)
{
	struct sockaddr_in dead;
	struct dirc_cfg cfg = { .key = &key, .seed = 42 };
	struct dirc_udp *u;
	int err = 0;

	(void)state;
	refusing(&dead);
	u = dirc_udp_open(&dead, &cfg, &err);
	assert_non_null(u);
	lookup(u);
	assert_int_equal(dirc_udp_wait(u, never, NULL, 100), -ETIMEDOUT);
	assert_int_equal(dirc_udp_server(u), 0);
	assert_int_equal(dirc_udp_failovers(u), 0);
	dirc_udp_close(u);
}

/* A server left for its silence is suspect for DIRC_UDP_SUSPECT_MS, but
 * still hedged to when the one moved to is silent too (a hung process:
 * its socket stays open, nothing refuses); its answer shows it alive, and
 * the client moves back to it after failover_ms, not after the suspicion. */
static void test_hedge_to_silent_suspect(void **state)
{
	struct sockaddr_in hung, slow;
	int fh = bound(&hung);
	struct responder r = { .fd = bound(&slow), .mute = true };
	struct dirp_key k = { .vdc = 1, .ip = 0x0a000001 };
	struct dirc_udp *u;
	uint64_t t0;

	(void)state;
	u = client(&slow, &hung, 20);
	assert_true(dirc_request(dirc_udp_client(u), dir_now_sys(), DIRP_LOOKUP, &k, 1,
				 on_answer, &r) > 0);
	assert_int_equal(dirc_udp_wait(u, on_second, u, 2000), 0);	/* left slow */
	/* That lookup had its hedge; the next one is hedged to slow. */
	r.mute = false;
	t0 = mono_ns();
	assert_true(dirc_request(dirc_udp_client(u), dir_now_sys(), DIRP_LOOKUP, &k, 1,
				 on_answer, &r) > 0);
	assert_int_equal(dirc_udp_wait(u, respond, &r, 2000), 0);
	assert_int_equal(dirc_get_stats(dirc_udp_client(u))->hedge_won, 1);
	/* The first lookup, still on hung: answered once the client is back. */
	r.done = false;
	assert_int_equal(dirc_udp_wait(u, respond, &r, 2000), 0);
	assert_true(mono_ns() - t0 < DIRC_UDP_SUSPECT_MS / 2 * MS);
	assert_int_equal(dirc_udp_server(u), 0);	/* back on the live one */
	assert_int_equal(dirc_udp_refusals(u), 0);
	dirc_udp_close(u);
	close(fh);
	close(r.fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_refusal_moves_at_once),
		cmocka_unit_test(test_no_return_to_suspect),
		cmocka_unit_test(test_silent_servers_alternate),
		cmocka_unit_test(test_single_server_kept),
		cmocka_unit_test(test_writes_wait_longer),
		cmocka_unit_test(test_hedge_silent_server),
		cmocka_unit_test(test_hedge_not_when_quick),
		cmocka_unit_test(test_hedge_cap),
		cmocka_unit_test(test_hedge_over_udp),
		cmocka_unit_test(test_hedge_to_silent_suspect),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
