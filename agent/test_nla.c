/* The NetLord agent's daemon core (agent/nla.c): NL-ARP through the
 * directory (a miss asked once, the answer into NetLord's table, the VM's
 * ARP request answered, pushes and leases), and re-selection from probes:
 * two NLAs under different edge switches exchange their probes through a
 * model of the fabric that delivers a frame as the edge switch does (tag
 * off, outer MACs rewritten) unless its VLAN is cut. */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "agent/nla.h"
#include "lib/common.h"

#define MS 1000000ull

struct fabric {
	struct topo *t;
	struct route_spain s;
	struct nla_plan plan[2];
	struct nla nla[2];
	uint32_t end[2];		/* the two NLAs' edge switch indices */
	bool cut[NL_VLAN_IDS];		/* VLANs that deliver nothing */
	unsigned delivered;
};

static struct fabric *fabric_new(void)
{
	struct fabric *f = calloc(1, sizeof(*f));
	const char *leaf[2] = { "leaf0", "leaf1" };
	char err[256];

	assert_non_null(f);
	assert_int_equal(topo_from_spec("leafspine:spines=2,leaves=2,servers=1", &f->t, err,
					sizeof(err)), 0);
	assert_int_equal(route_spain_build(f->t, 2, &f->s, err, sizeof(err)), 0);
	for (int i = 0; i < 2; i++) {
		uint8_t macs[8][6] = { { 0 } }, targets[8][NLA_TARGETS] = { { 0 } },
			ntargets[8] = { 0 };
		uint32_t sw = topo_find(f->t, leaf[i]);
		struct nla_cfg c = { .plan = &f->plan[i], .port = (uint8_t)(i + 1) };

		assert_true(f->s.nends <= 8);
		assert_int_equal(nla_plan_build(&f->plan[i], f->t, &f->s, sw, err, sizeof(err)), 0);
		for (uint32_t e = 0; e < f->s.nends; e++) {
			macs[e][0] = 0x02;
			macs[e][5] = (uint8_t)(0x10 + f->s.ends[e]);
			if (f->s.ends[e] == sw)
				f->end[i] = e;
		}
		/* the other NLA is the one server under the other leaf */
		for (uint32_t e = 0; e < f->s.nends; e++)
			if (f->s.ends[e] == topo_find(f->t, leaf[1 - i])) {
				targets[e][0] = (uint8_t)(2 - i);
				ntargets[e] = 1;
			}
		c.edge_mac = (const uint8_t (*)[6])macs;
		c.targets = (const uint8_t (*)[NLA_TARGETS])targets;
		c.ntargets = ntargets;
		nla_init(&f->nla[i], &c);
	}
	return f;
}

static void fabric_free(struct fabric *f)
{
	for (int i = 0; i < 2; i++) {
		nla_free(&f->nla[i]);
		nla_plan_free(&f->plan[i]);
	}
	route_spain_free(&f->s);
	topo_free(f->t);
	free(f);
}

/* Deliver one NIC frame of NLA `from` as the fabric would: to the NLA whose
 * port is the outer IPv4 destination's P, untagged, from its edge switch. */
static void deliver(struct fabric *f, int from, const struct nla_act *a, uint64_t now,
		    struct nla_out *more)
{
	uint8_t buf[NLA_PROBE_FRAME];
	uint16_t vid = (uint16_t)((a->frame[14] & 0x0f) << 8 | a->frame[15]);
	uint8_t p = a->frame[18 + 16];	/* first octet of the destination P.T */
	int to = p - 1;

	assert_int_equal(a->len, NLA_PROBE_FRAME);
	assert_int_equal(a->frame[12], 0x81);
	assert_int_equal(a->frame[18 + 9], 17);
	assert_memory_equal(a->frame + 6, f->nla[from].edge_mac[f->end[from]], 6);
	assert_true(to == 0 || to == 1);
	assert_int_not_equal(to, from);
	assert_memory_equal(a->frame, f->nla[to].edge_mac[f->end[to]], 6);
	if (f->cut[vid])
		return;
	memcpy(buf, a->frame, 12);	/* MACs: not checked by the receiver */
	memcpy(buf + 12, a->frame + 16, (size_t)a->len - 16);
	f->delivered++;
	nla_on_frame(&f->nla[to], now, buf, (size_t)a->len - 4, more);
}

/* One round: both NLAs tick; every frame is delivered (echoes too).
 * Returns the PATHS actions of NLA 0 for NLA 1's edge switch (the last). */
static bool round_at(struct fabric *f, uint64_t now, struct nl_vlan_choice *paths)
{
	static struct nla_out out[2], echo[2], none;
	bool got = false;

	for (int i = 0; i < 2; i++) {
		out[i].n = 0;
		nla_tick(&f->nla[i], now, &out[i]);
	}
	for (int i = 0; i < 2; i++) {
		echo[1 - i].n = 0;
		for (unsigned k = 0; k < out[i].n; k++)
			if (out[i].a[k].kind == NLA_SEND_NIC)
				deliver(f, i, &out[i].a[k], now, &echo[1 - i]);
		for (unsigned k = 0; k < echo[1 - i].n; k++) {
			none.n = 0;
			assert_int_equal(echo[1 - i].a[k].kind, NLA_SEND_NIC);
			deliver(f, 1 - i, &echo[1 - i].a[k], now + MS, &none);
			for (unsigned j = 0; j < none.n; j++) {
				if (none.a[j].kind == NLA_PATHS && i == 0) {
					*paths = none.a[j].choice;
					got = true;
				}
			}
		}
		for (unsigned k = 0; k < out[i].n; k++)
			if (out[i].a[k].kind == NLA_PATHS && i == 0 &&
			    !memcmp(out[i].a[k].edge_mac, f->nla[1].edge_mac[f->end[1]], 6)) {
				*paths = out[i].a[k].choice;
				got = true;
			}
	}
	return got;
}

/* Run rounds every probe interval from *now until a PATHS for the other
 * edge switch, at most `max` rounds; returns the rounds it took (0: none). */
static unsigned until_paths(struct fabric *f, uint64_t *now, unsigned max,
			    struct nl_vlan_choice *c)
{
	for (unsigned r = 1; r <= max; r++) {
		*now += NLA_PROBE_MS * MS;
		if (round_at(f, *now, c))
			return r;
	}
	return 0;
}

static void test_probes_reselect(void **state)
{
	struct fabric *f = fabric_new();
	struct nla_out *out = calloc(1, sizeof(*out));
	struct nl_vlan_choice c, first;
	const struct nla_dest *d;
	uint64_t now = 1000 * MS;
	unsigned r;

	(void)state;
	d = &f->plan[0].dest[f->end[1]];
	assert_int_equal(d->n, 2);
	nla_start(&f->nla[0], out);
	assert_int_equal(out->n, f->s.nends);	/* a choice for every edge switch */
	first = f->nla[0].choice[f->end[1]];
	assert_int_equal(first.n, 2);

	/* all up: probes answered, no re-selection in 40 rounds */
	assert_int_equal(until_paths(f, &now, 40, &c), 0);
	assert_true(f->nla[0].st.echoes_in >= 70);
	assert_int_equal(f->nla[0].st.reselections, 0);
	assert_int_equal(f->nla[1].st.echoes_sent, f->nla[0].st.probes_sent);

	/* VLAN d->vid[0] cut: taken out within the dead time and a probe */
	f->cut[d->vid[0]] = true;
	r = until_paths(f, &now, 20, &c);
	assert_true(r > 0);
	assert_true(r * NLA_PROBE_MS >= NLA_DEAD_MS);
	assert_true(r * NLA_PROBE_MS <= NLA_DEAD_MS + 2 * NLA_PROBE_MS);
	assert_int_equal(c.n, 1);
	assert_int_equal(c.vid[0], d->vid[1]);
	/* and it stays so */
	assert_int_equal(until_paths(f, &now, 20, &c), 0);

	/* healed: back at the first echo */
	f->cut[d->vid[0]] = false;
	r = until_paths(f, &now, 5, &c);
	assert_int_equal(r, 1);
	assert_memory_equal(&c, &first, sizeof(c));

	/* both cut: nothing proves one better, both kept */
	f->cut[d->vid[0]] = true;
	r = until_paths(f, &now, 20, &c);
	assert_true(r > 0);
	assert_int_equal(c.n, 1);
	f->cut[d->vid[1]] = true;
	r = until_paths(f, &now, 20, &c);
	assert_true(r > 0);
	assert_memory_equal(&c, &first, sizeof(c));
	assert_int_equal(f->nla[0].st.reselections, 4);
	free(out);
	fabric_free(f);
}

/* A daemon that did not run (no probes sent) judges nothing dead. */
static void test_probes_pause(void **state)
{
	struct fabric *f = fabric_new();
	struct nla_out *out = calloc(1, sizeof(*out));
	struct nl_vlan_choice c;
	uint64_t now = 1000 * MS;

	(void)state;
	nla_start(&f->nla[0], out);
	assert_int_equal(until_paths(f, &now, 5, &c), 0);
	now += 5000 * MS;	/* asleep for 5 s: replies not counted, probes not sent */
	assert_int_equal(until_paths(f, &now, 5, &c), 0);
	assert_int_equal(f->nla[0].st.vlan_dead, 0);
	free(out);
	fabric_free(f);
}

/* Frames that are not probes, or cut short anywhere: counted, no action. */
static void test_frames_bad(void **state)
{
	struct fabric *f = fabric_new();
	struct nla_out *out = calloc(1, sizeof(*out));
	uint8_t full[NLA_PROBE_FRAME], buf[NLA_PROBE_FRAME];
	uint8_t edge[6] = { 2, 0, 0, 0, 0, 0x55 };
	size_t len;

	(void)state;
	len = nla_probe_build(full, false, 1, 7, f->nla[0].edge_mac[f->end[0]], 1, edge, 3);
	memcpy(buf, full, 12);
	memcpy(buf + 12, full + 16, len - 16);
	len -= 4;
	for (size_t l = 0; l < len; l++) {
		out->n = 0;
		nla_on_frame(&f->nla[0], 1, buf, l, out);
		assert_int_equal(out->n, 0);
	}
	assert_int_equal(f->nla[0].st.probe_short, len);
	/* the whole one is a request: echoed to its sender's edge switch and port */
	out->n = 0;
	nla_on_frame(&f->nla[0], 1, buf, len, out);
	assert_int_equal(out->n, 1);
	assert_memory_equal(out->a[0].frame, edge, 6);
	assert_int_equal(out->a[0].frame[18 + 16], 3);
	assert_int_equal(out->a[0].frame[15], 1);
	/* each field spoiled in turn: not ours */
	static const size_t at[] = { 12, 14, 14 + 9, 14 + 22, 14 + 28, 14 + 32, 14 + 33 };
	for (size_t i = 0; i < ARRAY_SIZE(at); i++) {
		uint8_t bad[NLA_PROBE_FRAME];

		memcpy(bad, buf, len);
		bad[at[i]] ^= 0x80;
		out->n = 0;
		nla_on_frame(&f->nla[0], 1, bad, len, out);
		assert_int_equal(out->n, 0);
	}
	assert_int_equal(f->nla[0].st.probe_not_ours, ARRAY_SIZE(at));
	/* an echo from an edge switch it does not know */
	len = nla_probe_build(full, true, 1, 7, f->nla[0].edge_mac[f->end[0]], 1, edge, 3);
	memcpy(buf + 12, full + 16, len - 16);
	out->n = 0;
	nla_on_frame(&f->nla[0], 1, buf, len - 4, out);
	assert_int_equal(out->n, 0);
	assert_int_equal(f->nla[0].st.probe_unknown, 1);
	free(out);
	fabric_free(f);
}

static struct dirp_entry answer(uint32_t tenant, uint32_t ip, uint8_t port, uint32_t lease)
{
	uint8_t vm[6] = { 2, 1, 1, 1, 1, 1 }, vm2[6] = { 2, 1, 1, 1, 1, 2 },
		edge[6] = { 2, 0x4e, 0x4c, 0, 0, 9 }, nic[6] = { 2, 3, 3, 3, 3, 3 };
	struct dirp_entry e;

	nla_dir_record(&e, tenant, ip, vm, vm2, edge, nic, port);
	e.status = DIRP_OK;
	e.lease_ms = lease;
	e.version = 5;
	return e;
}

static void test_nl_arp(void **state)
{
	struct fabric *f = fabric_new();
	struct nla *n = &f->nla[0];
	struct nla_out *out = calloc(1, sizeof(*out));
	uint32_t ip = 0x0a000005, nip = htonl(ip);
	struct dirp_entry e = answer(7, ip, 4, 1000);

	(void)state;
	/* an ARP request misses: one lookup; the same miss soon after: none */
	nla_on_miss(n, 100 * MS, 7, nip, 33, out);
	assert_int_equal(out->n, 1);
	assert_int_equal(out->a[0].kind, NLA_LOOKUP);
	assert_int_equal(out->a[0].tenant, 7);
	assert_int_equal(out->a[0].ip, nip);
	nla_on_miss(n, 150 * MS, 7, nip, 0, out);
	assert_int_equal(out->n, 1);
	assert_int_equal(n->st.suppressed, 1);
	/* the answer: NetLord's entry, and the VM's ARP request answered */
	out->n = 0;
	nla_on_entry(n, 160 * MS, &e, false, out);
	assert_int_equal(out->n, 2);
	assert_int_equal(out->a[0].kind, NLA_SET);
	assert_memory_equal(out->a[0].dir.mac, e.mac[0], 6);
	assert_memory_equal(out->a[0].dir.edge_mac, e.mac[2], 6);
	assert_int_equal(out->a[0].dir.port, 4);
	assert_int_equal(out->a[0].dir.version, 5);
	assert_int_equal(out->a[1].kind, NLA_ARP_REPLY);
	assert_int_equal(out->a[1].ifindex, 33);
	assert_int_equal(out->a[1].ip, nip);
	/* answered once only */
	out->n = 0;
	nla_on_entry(n, 170 * MS, &e, false, out);
	assert_int_equal(out->n, 1);
	/* the lease is renewed at 80% (a LOOKUP among the probes) */
	out->n = 0;
	nla_tick(n, 170 * MS + 790 * MS, out);
	for (unsigned i = 0; i < out->n; i++)
		assert_int_not_equal(out->a[i].kind, NLA_LOOKUP);
	out->n = 0;
	nla_tick(n, 170 * MS + 800 * MS, out);
	bool renewed = false;
	for (unsigned i = 0; i < out->n; i++)
		renewed |= out->a[i].kind == NLA_LOOKUP && out->a[i].ip == nip;
	assert_true(renewed);
	/* a push (no lease): the new place */
	e = answer(7, ip, 9, 0);
	out->n = 0;
	nla_on_entry(n, 2000 * MS, &e, false, out);
	assert_int_equal(out->n, 1);
	assert_int_equal(out->a[0].kind, NLA_SET);
	assert_int_equal(out->a[0].dir.port, 9);
	/* an invalidation and a miss answered "not found": deleted */
	out->n = 0;
	nla_on_entry(n, 2100 * MS, &e, true, out);
	assert_int_equal(out->n, 1);
	assert_int_equal(out->a[0].kind, NLA_DEL);
	e.status = DIRP_NOT_FOUND;
	out->n = 0;
	nla_on_entry(n, 2200 * MS, &e, false, out);
	assert_int_equal(out->a[0].kind, NLA_DEL);
	/* not a NetLord record (no port, port 128, group MAC): ignored */
	for (int i = 0; i < 3; i++) {
		e = answer(7, ip, i == 1 ? 128 : 4, 1000);
		if (i == 0)
			e.server = 0;
		if (i == 2)
			e.mac[2][0] = 1;
		out->n = 0;
		nla_on_entry(n, 2300 * MS, &e, false, out);
		assert_int_equal(out->n, 0);
	}
	assert_int_equal(n->st.bad_entries, 3);
	free(out);
	fabric_free(f);
}

/* Many VMs' misses: bounded tables, every pending lookup answered. */
static void test_nl_arp_bounds(void **state)
{
	struct fabric *f = fabric_new();
	struct nla *n = &f->nla[0];
	struct nla_out *out = calloc(1, sizeof(*out));

	(void)state;
	for (uint32_t i = 0; i < 2 * NLA_PENDING; i++) {
		out->n = 0;
		nla_on_miss(n, 10 * MS, 1, htonl(0x0a000000 + i), 5, out);
	}
	assert_int_equal(n->st.lookups, NLA_PENDING);
	assert_int_equal(n->st.busy, NLA_PENDING);
	assert_int_equal(n->st.arp_dropped, 2 * NLA_PENDING - NLA_ARP_WAIT);
	/* much later the slots are free again */
	out->n = 0;
	nla_on_miss(n, 10 * MS + 10ull * NLA_RETRY_MS * MS, 1, htonl(0x0b000000), 0, out);
	assert_int_equal(out->n, 1);
	free(out);
	fabric_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_probes_reselect),
		cmocka_unit_test(test_probes_pause),
		cmocka_unit_test(test_frames_bad),
		cmocka_unit_test(test_nl_arp),
		cmocka_unit_test(test_nl_arp_bounds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
