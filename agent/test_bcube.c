/* The BCube server daemon's core (agent/bcube.c) on a BCube(4, 1) as
 * server 0 = digits (0, 0): neighbour maintenance from hellos, paths as
 * NHAs and their reversal (against a naive walk on random paths), and BSR:
 * a miss asked once, the k+1 paths installed and probed, the flows moved
 * by the probes' answers and away from a path that stops answering. */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "agent/bcube.h"
#include "route/bcube.h"

#define MS 1000000ull
#define IP15 htonl(0x0ad20010u)

static struct topo *t;
static const uint8_t MACS[2][6] = { { 2, 0, 0, 0, 0, 0x10 }, { 2, 0, 0, 0, 0, 0x11 } };

static int setup(void **state)
{
	char err[128];

	(void)state;
	return topo_build_bcube(&t, 4, 1, err, sizeof(err));
}

static int teardown(void **state)
{
	(void)state;
	topo_free(t);
	return 0;
}

static struct bca *core(void)
{
	struct bca *c = calloc(1, sizeof(*c));

	bca_init(c, t, 0, MACS);
	return c;
}

static size_t frame(uint8_t *b, uint32_t src, uint32_t dst, uint8_t proto, const uint8_t *nha,
		    uint8_t len, const struct bcube_probe *pr, uint8_t mac_last)
{
	struct bcube_hdr h = { .dst = htonl(dst), .src = htonl(src), .proto = proto,
			       .hlen = BCUBE_HDR_BYTES, .nhi = len, .nha_len = len };
	uint8_t eth[14] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 1, mac_last,
			    BCUBE_ETH_P >> 8, BCUBE_ETH_P & 0xff };
	struct bcube_probe none = { 0 };

	if (len)
		memcpy(h.nha, nha, len);
	memcpy(b, eth, 14);
	memcpy(b + 14, &h, sizeof(h));
	memcpy(b + 14 + sizeof(h), pr ? pr : &none, sizeof(none));
	return BCA_FRAME;
}

static void hello(struct bca *c, uint64_t now, uint32_t level, uint32_t from, struct bca_out *o)
{
	uint8_t b[BCA_FRAME];

	frame(b, from, BCUBE_ADDR_ALL, BCUBE_P_HELLO, NULL, 0, NULL, (uint8_t)from);
	bca_on_frame(c, now, level, b, sizeof(b), o);
}

static unsigned count(const struct bca_out *o, enum bca_act_kind k)
{
	unsigned n = 0;

	for (unsigned i = 0; i < o->n; i++)
		n += o->a[i].kind == k;
	return n;
}

static const struct bca_act *find(const struct bca_out *o, enum bca_act_kind k)
{
	for (unsigned i = 0; i < o->n; i++)
		if (o->a[i].kind == k)
			return &o->a[i];
	return NULL;
}

/* Walk an NHA from src: the address it ends at, digit by digit. */
static uint32_t walk(uint32_t src, const struct bcube_path *p)
{
	uint8_t d[2] = { (uint8_t)(src % 4), (uint8_t)(src / 4) };

	for (unsigned i = 0; i < p->nha_len; i++)
		d[p->nha[i] >> 5] = p->nha[i] & 31;
	return d[0] + 4u * d[1];
}

static void test_paths(void **state)
{
	struct bca *c = core();
	struct route_path rp[BCUBE_MAX_PATHS];
	struct bcube_path p, back;
	uint32_t np;

	(void)state;
	/* 0 -> 15 = (3, 3): two paths, one starting on each level */
	np = route_bcube_path_set(t, 0, 15, rp);
	assert_int_equal(np, 2);
	for (uint32_t i = 0; i < np; i++) {
		assert_true(bca_path_nha(t, &rp[i], &p));
		assert_int_equal(p.nha_len, 2);
		assert_int_equal(walk(0, &p), 15);
		assert_int_equal(p.nha[0] >> 5, i);	/* path i starts on level i */
	}
	/* 0 -> 3 -> 15 back: 15 -> 3 (level 1, digit 0) -> 0 (level 0, digit 0) */
	p = (struct bcube_path){ 2, { bcube_nha_entry(0, 3), bcube_nha_entry(1, 3) } };
	bca_reverse(c, 0, &p, &back);
	assert_int_equal(back.nha_len, 2);
	assert_int_equal(back.nha[0], bcube_nha_entry(1, 0));
	assert_int_equal(back.nha[1], bcube_nha_entry(0, 0));
	/* random paths: the way back ends where the way there started */
	srand(7);
	for (int r = 0; r < 1000; r++) {
		uint32_t src = (uint32_t)rand() % 16, dst;

		p.nha_len = (uint8_t)(1 + rand() % 8);
		for (unsigned i = 0; i < p.nha_len; i++)
			p.nha[i] = bcube_nha_entry((uint32_t)rand() % 2, (uint32_t)rand() % 4);
		dst = walk(src, &p);
		bca_reverse(c, src, &p, &back);
		assert_int_equal(back.nha_len, p.nha_len);
		assert_int_equal(walk(dst, &back), src);
	}
	free(c);
}

static void test_neighbours(void **state)
{
	struct bca *c = core();
	struct bca_out *o = calloc(1, sizeof(*o));
	const struct bca_act *a;

	(void)state;
	/* the first tick says hello on both NICs */
	bca_tick(c, 1 * MS, o);
	assert_int_equal(count(o, BCA_SEND), 2);
	o->n = 0;
	hello(c, 2 * MS, 0, 3, o);	/* 3 = (3, 0): level 0, digit 3 */
	assert_non_null(a = find(o, BCA_NBR));
	assert_int_equal(a->level, 0);
	assert_int_equal(a->digit, 3);
	assert_true(a->up);
	assert_int_equal(a->mac[5], 3);
	o->n = 0;
	hello(c, 3 * MS, 0, 3, o);	/* nothing new */
	assert_int_equal(o->n, 0);
	hello(c, 3 * MS, 0, 5, o);	/* 5 = (1, 1): two digits differ */
	hello(c, 3 * MS, 0, 4, o);	/* 4 = (0, 1): a level-1 neighbour on NIC 0 */
	hello(c, 3 * MS, 1, 99, o);	/* no such server */
	assert_int_equal(o->n, 0);
	assert_int_equal(c->st.bad_frames, 3);
	/* heard last at 3 ms: still up at 3 + 350 ms, down after */
	bca_tick(c, 200 * MS, o);
	assert_int_equal(count(o, BCA_NBR), 0);
	o->n = 0;
	bca_tick(c, 400 * MS, o);
	assert_non_null(a = find(o, BCA_NBR));
	assert_false(a->up);
	assert_int_equal(a->digit, 3);
	free(o);
	free(c);
}

static void reply(struct bca *c, uint64_t now, uint8_t path, uint32_t bw, struct bca_out *o)
{
	struct bcube_probe pr = { .seq = htonl(1), .bw_mbps = htonl(bw), .path = path,
				  .sent_ns = now - 1 * MS };
	uint8_t nha[2] = { bcube_nha_entry(path ? 0 : 1, 0), bcube_nha_entry(path ? 1 : 0, 0) };
	uint8_t b[BCA_FRAME];

	frame(b, 15, 0, BCUBE_P_PROBE_REPLY, nha, 2, &pr, 15);
	bca_on_frame(c, now, path ? 1 : 0, b, sizeof(b), o);
}

static unsigned route_paths(const struct bca_out *o, uint8_t *first)
{
	const struct bca_act *a = NULL;

	for (unsigned i = 0; i < o->n; i++)
		if (o->a[i].kind == BCA_ROUTE)
			a = &o->a[i];	/* the last one counts */
	if (!a)
		return 0;
	assert_int_equal(a->ip, IP15);
	assert_int_equal(ntohl(a->route.dst), 15);
	*first = a->route.paths[0].nha[0];
	return a->route.npaths;
}

static void test_bsr(void **state)
{
	struct bca *c = core();
	struct bca_out *o = calloc(1, sizeof(*o));
	uint8_t first = 0;
	uint64_t now = 10 * MS;

	(void)state;
	for (uint32_t d = 1; d < 4; d++) {
		hello(c, now, 0, d, o);
		hello(c, now, 1, 4 * d, o);
	}
	o->n = 0;
	/* a miss: one lookup; again within the retry time: none */
	bca_on_miss(c, now, IP15, o);
	bca_on_miss(c, now + 100 * MS, IP15, o);
	assert_int_equal(count(o, BCA_LOOKUP), 1);
	assert_int_equal(o->a[0].ip, IP15);
	o->n = 0;
	/* resolved: both paths at once, and a probe along each */
	bca_on_resolved(c, now, IP15, true, 15, o);
	assert_int_equal(route_paths(o, &first), 2);
	assert_int_equal(count(o, BCA_SEND), 2);
	for (unsigned i = 0; i < o->n; i++) {
		const struct bca_act *a = &o->a[i];
		struct bcube_hdr h;

		if (a->kind != BCA_SEND)
			continue;
		memcpy(&h, a->frame + 14, sizeof(h));
		assert_int_equal(h.proto, BCUBE_P_PROBE);
		assert_int_equal(ntohl(h.dst), 15);
		assert_int_equal(h.nhi, 1);
		assert_int_equal(a->level, h.nha[0] >> 5);
		/* to the neighbour's MAC the hello gave (3 or 12) */
		assert_int_equal(a->frame[5], (h.nha[0] >> 5) ? 12 : 3);
	}
	/* path 1 answers (500): path 0 has not yet, but its answer is not
	 * due yet either: both keep carrying */
	o->n = 0;
	reply(c, now + 1 * MS, 1, 500, o);
	assert_int_equal(route_paths(o, &first), 0);
	/* path 0 never answers: once its answer is overdue, path 1 alone */
	o->n = 0;
	bca_tick(c, now + 100 * MS, o);
	assert_int_equal(route_paths(o, &first), 0);
	reply(c, now + 150 * MS, 1, 500, o);
	o->n = 0;
	bca_tick(c, now + 200 * MS, o);
	assert_int_equal(route_paths(o, &first), 1);
	assert_int_equal(first >> 5, 1);
	now += 200 * MS;
	/* path 0 answers with 900: 500 is within half of it, both carry */
	o->n = 0;
	reply(c, now + 2 * MS, 0, 900, o);
	assert_int_equal(route_paths(o, &first), 2);
	/* path 1 falls to 300: below half of 900, path 0 alone */
	o->n = 0;
	reply(c, now + 3 * MS, 1, 300, o);
	assert_int_equal(route_paths(o, &first), 1);
	assert_int_equal(first >> 5, 0);
	/* path 0 stops answering (a relay failed), path 1 keeps on: the flows
	 * move to path 1 within BCA_PATH_DEAD_MS and a probe period */
	for (uint64_t ms = 50; ms <= 250; ms += 50) {
		for (uint32_t d = 1; d < 4; d++) {
			hello(c, now + ms * MS, 0, d, o);
			hello(c, now + ms * MS, 1, 4 * d, o);
		}
		reply(c, now + ms * MS, 1, 300, o);
		o->n = 0;
		bca_tick(c, now + ms * MS + 1, o);
		if (route_paths(o, &first))
			break;
	}
	assert_int_equal(first >> 5, 1);
	assert_int_equal(c->st.path_changes, 4);
	free(o);
	free(c);
}

/* A probe for this server is answered along the reversed path, out of the
 * NIC of its first hop, with the bandwidth it arrived with. */
static void test_probe_answered(void **state)
{
	struct bca *c = core();
	struct bca_out *o = calloc(1, sizeof(*o));
	struct bcube_probe pr = { .seq = htonl(9), .bw_mbps = htonl(700), .path = 1 };
	uint8_t nha[2] = { bcube_nha_entry(1, 0), bcube_nha_entry(0, 0) };	/* 15 -> 3 -> 0 */
	uint8_t b[BCA_FRAME];
	const struct bca_act *a;
	struct bcube_hdr h;
	struct bcube_probe got;

	(void)state;
	hello(c, 1, 0, 3, o);
	o->n = 0;
	frame(b, 15, 0, BCUBE_P_PROBE, nha, 2, &pr, 3);
	bca_on_frame(c, 2, 0, b, sizeof(b), o);
	assert_non_null(a = find(o, BCA_SEND));
	memcpy(&h, a->frame + 14, sizeof(h));
	memcpy(&got, a->frame + 14 + sizeof(h), sizeof(got));
	assert_int_equal(h.proto, BCUBE_P_PROBE_REPLY);
	assert_int_equal(ntohl(h.dst), 15);
	assert_int_equal(h.nha[0], bcube_nha_entry(0, 3));
	assert_int_equal(h.nha[1], bcube_nha_entry(1, 3));
	assert_int_equal(a->level, 0);
	assert_int_equal(a->frame[5], 3);
	assert_int_equal(ntohl(got.bw_mbps), 700);
	assert_int_equal(got.path, 1);
	/* a truncated frame is counted and ignored */
	o->n = 0;
	bca_on_frame(c, 3, 0, b, 20, o);
	assert_int_equal(o->n, 0);
	free(o);
	free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_paths),
		cmocka_unit_test(test_neighbours),
		cmocka_unit_test(test_bsr),
		cmocka_unit_test(test_probe_answered),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
