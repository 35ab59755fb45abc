/* The BCube server daemon's core (agent/bcube.c) on a BCube(4, 1) as
 * server 0 = digits (0, 0): neighbour maintenance from hellos, paths as
 * NHAs and their reversal (against a naive walk on random paths), and BSR:
 * a miss asked once, the k+1 paths installed and probed, the flows moved
 * by the probes' answers and away from a path that stops answering; a
 * NIC's available bandwidth from its capacity, and ties to the shortest
 * path. */
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

static const struct bca_dest *dest_of(const struct bca *c, uint32_t ip)
{
	for (uint32_t i = 0; i < BCA_DESTS; i++)
		if (c->dest[i].ip == ip)
			return &c->dest[i];
	fail_msg("no destination %08x", ntohl(ip));
	return NULL;
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
	/* BSR's own path first (the one the first flow takes): DCRouting from
	 * the highest differing digit, 0 = (0, 0) to 15 = (3, 3): level 1 */
	assert_int_equal(first, bcube_nha_entry(1, 3));
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

/* A NIC's available bandwidth: its capacity (1000 Mbit/s until told;
 * the shell sets the lab's 20) less the rate its counter says it sent,
 * averaged; the probes start with it. */
static void test_capacity(void **state)
{
	struct bca *c = core();
	struct bca_out *o = calloc(1, sizeof(*o));
	struct bcube_probe pr;
	unsigned probes = 0;

	(void)state;
	assert_int_equal(c->cap[0], BCA_LINK_MBPS);
	bca_set_capacity(c, 0, 20);
	bca_set_capacity(c, 1, 0);		/* 0: left as it is */
	bca_set_capacity(c, 5, 20);		/* no such level: ignored */
	assert_int_equal(c->cap[1], BCA_LINK_MBPS);
	/* each reading moves the average a quarter of the way to capacity
	 * less the rate sent */
	assert_int_equal(bca_on_tx(c, 1 * MS, 0, 1000), 20);		/* first reading */
	assert_int_equal(bca_on_tx(c, 101 * MS, 0, 1000 + 125000), 17);	/* 10 free: (60+10)/4 */
	assert_int_equal(bca_on_tx(c, 201 * MS, 0, 1000 + 125000 + 300000), 12);	/* 24 sent: 0 free */
	assert_int_equal(bca_on_tx(c, 301 * MS, 0, 1000 + 425000 + 25000), 13);	/* 18 free */
	for (uint64_t ms = 401; ms < 2000; ms += 100)			/* saturated: to 0 */
		bca_on_tx(c, ms * MS, 0, 451000 + (ms - 301) / 100 * 250000);
	assert_int_equal(c->avail[0], 0);
	assert_int_equal(bca_on_tx(c, 1 * MS, 1, 0), BCA_LINK_MBPS);
	assert_int_equal(bca_on_tx(c, 101 * MS, 1, 1250000), 975);	/* 100 sent: (3000+900)/4 */
	/* a counter that went back (a NIC recreated): no rate, a new start */
	assert_int_equal(bca_on_tx(c, 201 * MS, 1, 10), 975);
	assert_int_equal(bca_on_tx(c, 301 * MS, 1, 10), 981);		/* (2925+1000)/4 */
	/* probes leave with their first NIC's available bandwidth */
	for (uint32_t d = 1; d < 4; d++) {
		hello(c, 400 * MS, 0, d, o);
		hello(c, 400 * MS, 1, 4 * d, o);
	}
	o->n = 0;
	bca_on_miss(c, 400 * MS, IP15, o);
	bca_on_resolved(c, 400 * MS, IP15, true, 15, o);
	for (unsigned i = 0; i < o->n; i++) {
		if (o->a[i].kind != BCA_SEND)
			continue;
		memcpy(&pr, o->a[i].frame + 14 + sizeof(struct bcube_hdr), sizeof(pr));
		assert_int_equal(ntohl(pr.bw_mbps), o->a[i].level ? 981 : 0);
		probes++;
	}
	assert_int_equal(probes, 2);
	free(o);
	free(c);
}

#define IP3 htonl(0x0ad20004u)

static void reply_from3(struct bca *c, uint64_t now, uint8_t path, uint32_t bw,
			struct bca_out *o)
{
	struct bcube_probe pr = { .seq = htonl(1), .bw_mbps = htonl(bw), .path = path,
				  .sent_ns = now - 1 * MS };
	uint8_t nha[1] = { bcube_nha_entry(0, 0) }, b[BCA_FRAME];

	frame(b, 3, 0, BCUBE_P_PROBE_REPLY, nha, 1, &pr, 3);
	bca_on_frame(c, now, 0, b, sizeof(b), o);
}

/* The paths of the last route to IP3: how many, and their hop counts. */
static unsigned route3(const struct bca_out *o, unsigned *hops)
{
	const struct bca_act *a = NULL;

	for (unsigned i = 0; i < o->n; i++)
		if (o->a[i].kind == BCA_ROUTE && o->a[i].ip == IP3)
			a = &o->a[i];
	if (!a)
		return 0;
	for (unsigned i = 0; i < a->route.npaths; i++)
		hops[i] = a->route.paths[i].nha_len;
	return a->route.npaths;
}

/* Bandwidths that tie go to the shortest path, as the paper's BSR does:
 * 0 -> 3 = (3, 0) has a 1-hop path (level 0) and a 3-hop one (0 -> 4 ->
 * 7 -> 3).  At 20 Mbit/s links, 2 against 6 Mbit/s is a tie (links the
 * shuffle fills read a few): the 1-hop path alone; 0 against 20 is not:
 * the 3-hop path.  Two paths of equal length that tie both carry. */
static void test_shortest_on_tie(void **state)
{
	struct bca *c = core();
	struct bca_out *o = calloc(1, sizeof(*o));
	uint64_t now = 10 * MS;
	unsigned hops[BCUBE_MAX_PATHS] = { 0 };
	uint8_t shrt = 0, lng = 0, first;

	(void)state;
	bca_set_capacity(c, 0, 20);
	bca_set_capacity(c, 1, 20);
	for (uint32_t d = 1; d < 4; d++) {
		hello(c, now, 0, d, o);
		hello(c, now, 1, 4 * d, o);
	}
	o->n = 0;
	bca_on_miss(c, now, IP3, o);
	bca_on_resolved(c, now, IP3, true, 3, o);
	assert_int_equal(route3(o, hops), 2);		/* both until the probes tell */
	assert_int_equal(hops[0], 1);	/* BSR's own (the 1-hop) path first: the first flow's */
	for (uint8_t i = 0; i < 2; i++) {
		const struct bcube_path *p = &dest_of(c, IP3)->paths[i].p;

		if (p->nha_len == 1)
			shrt = i;
		else
			lng = i;
	}
	assert_int_equal(dest_of(c, IP3)->paths[shrt].p.nha_len, 1);
	assert_int_equal(dest_of(c, IP3)->paths[lng].p.nha_len, 3);
	o->n = 0;
	reply_from3(c, now + 1 * MS, shrt, 2, o);
	reply_from3(c, now + 2 * MS, lng, 6, o);
	assert_int_equal(route3(o, hops), 1);
	assert_int_equal(hops[0], 1);
	o->n = 0;
	reply_from3(c, now + 3 * MS, lng, 20, o);	/* 2 against 20: the 3-hop path */
	reply_from3(c, now + 4 * MS, shrt, 0, o);
	assert_int_equal(route3(o, hops), 1);
	assert_int_equal(hops[0], 3);
	o->n = 0;
	reply_from3(c, now + 5 * MS, shrt, 16, o);	/* 16 against 20: a tie again */
	assert_int_equal(route3(o, hops), 1);
	assert_int_equal(hops[0], 1);
	/* 0 -> 15: both paths 2 hops; 3 and 7 tie: both carry */
	o->n = 0;
	bca_on_miss(c, now, IP15, o);
	bca_on_resolved(c, now, IP15, true, 15, o);
	o->n = 0;
	reply(c, now + 6 * MS, 0, 3, o);
	reply(c, now + 7 * MS, 1, 7, o);
	assert_int_equal(route_paths(o, &first), 0);	/* both carried already */
	o->n = 0;
	reply(c, now + 8 * MS, 0, 20, o);	/* 7 against 20 (> 10 apart): path 0 alone */
	assert_int_equal(route_paths(o, &first), 1);
	assert_int_equal(first >> 5, 0);
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
		cmocka_unit_test(test_capacity),
		cmocka_unit_test(test_shortest_on_tie),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
