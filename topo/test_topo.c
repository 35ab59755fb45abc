/* Unit tests of topo/: closed-form counts, diameters, bridges against a naive
 * check, BCube addressing, and every kind of bad spec and bad file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "lib/rng.h"
#include "topo/analyze.h"

static struct topo *spec(const char *s)
{
	struct topo *t;
	char err[512];

	if (topo_from_spec(s, &t, err, sizeof(err)))
		fail_msg("%s: %s", s, err);
	return t;
}

static void expect_counts(const char *s, uint64_t servers, uint64_t switches,
			  uint64_t links, uint64_t nics)
{
	struct topo *t = spec(s);
	struct topo_stats st;

	topo_stats(t, &st);
	if (st.servers != servers || st.switches != switches || st.links != links ||
	    st.server_nics != nics)
		fail_msg("%s: got %u/%u/%u/%u servers/switches/links/nics, want "
			 "%llu/%llu/%llu/%llu", s, st.servers, st.switches, st.links,
			 st.server_nics, (unsigned long long)servers,
			 (unsigned long long)switches, (unsigned long long)links,
			 (unsigned long long)nics);
	/* Every port number is below the node's degree and the adjacency
	 * agrees with the link table. */
	for (uint32_t l = 0; l < t->nlinks; l++) {
		const struct topo_link *lk = &t->links[l];

		assert_int_equal(topo_port(t, lk->a, lk->pa)->link, l);
		assert_int_equal(topo_port(t, lk->b, lk->pb)->link, l);
		assert_int_equal(topo_port(t, lk->a, lk->pa)->peer, lk->b);
	}
	topo_free(t);
}

static void test_counts_leafspine(void **state)
{
	char s[128];

	(void)state;
	for (uint32_t sp = 1; sp <= 4; sp++)
		for (uint32_t l = 2; l <= 8; l += 2)
			for (uint32_t m = 1; m <= 5; m++)
				for (uint32_t h = 1; h <= 2; h++) {
					snprintf(s, sizeof(s), "leafspine:spines=%u,leaves=%u,"
						 "servers=%u,homing=%u", sp, l, m, h);
					expect_counts(s, l * m, sp + l, sp * l + l * m * h, l * m * h);
				}
}

static void test_counts_vl2(void **state)
{
	char s[128];

	(void)state;
	for (uint32_t da = 2; da <= 12; da += 2)
		for (uint32_t di = 2; di <= 12; di += 2)
			for (uint32_t t = 1; t <= 20; t += 19) {
				uint64_t tors = da * di / 4, srv = tors * t;

				snprintf(s, sizeof(s), "vl2:da=%u,di=%u,per_tor=%u", da, di, t);
				expect_counts(s, srv, da / 2 + di + tors,
					      da / 2 * di + 2 * tors + srv, srv);
			}
	expect_counts("vl2:da=144,di=144", 103680, 72 + 144 + 5184,
		      72 * 144 + 2 * 5184 + 103680, 103680);
}

static void test_counts_fattree(void **state)
{
	char s[64];

	(void)state;
	for (uint32_t k = 2; k <= 24; k += 2) {
		uint64_t srv = (uint64_t)k * k * k / 4;

		snprintf(s, sizeof(s), "fattree:k=%u", k);
		expect_counts(s, srv, 5 * k * k / 4, 3 * srv, srv);
	}
}

static void test_counts_bcube(void **state)
{
	char s[64];

	(void)state;
	for (uint32_t n = 2; n <= 8; n++)
		for (uint32_t k = 0; k <= 3; k++) {
			uint64_t srv = 1;

			for (uint32_t i = 0; i <= k; i++)
				srv *= n;
			snprintf(s, sizeof(s), "bcube:n=%u,k=%u", n, k);
			expect_counts(s, srv, (k + 1) * srv / n, (k + 1) * srv, (k + 1) * srv);
		}
}

static void expect_diameter(const char *s, uint32_t want)
{
	struct topo *t = spec(s);
	struct topo_stats st;

	topo_stats(t, &st);
	if (st.diameter != want)
		fail_msg("%s: diameter %u, want %u", s, st.diameter, want);
	/* The one-BFS shortcut agrees with a BFS from every server. */
	if (t->nservers <= 2000)
		assert_int_equal(topo_diameter_naive(t), want);
	/* And so does the grouped computation used for files. */
	t->server_symmetric = false;
	topo_stats(t, &st);
	assert_int_equal(st.diameter, want);
	topo_free(t);
}

static void test_diameters(void **state)
{
	char s[64];

	(void)state;
	expect_diameter("leafspine:spines=2,leaves=4,servers=2,homing=2", 4);
	expect_diameter("leafspine:spines=3,leaves=6,servers=4", 4);
	expect_diameter("leafspine:spines=1,leaves=2,servers=1", 4);
	expect_diameter("leafspine:spines=2,leaves=2,servers=3,homing=2", 2);
	for (uint32_t k = 2; k <= 12; k += 2) {
		snprintf(s, sizeof(s), "fattree:k=%u", k);
		expect_diameter(s, 6);
	}
	expect_diameter("vl2:da=4,di=4,per_tor=2", 6);
	expect_diameter("vl2:da=8,di=12,per_tor=3", 6);
	for (uint32_t n = 2; n <= 5; n++)
		for (uint32_t k = 0; k <= 3; k++) {
			snprintf(s, sizeof(s), "bcube:n=%u,k=%u", n, k);
			expect_diameter(s, 2 * (k + 1));
		}
}

/* Bridges by definition: a link whose removal increases the components. */
static uint32_t components(const struct topo *t, const uint8_t *dead)
{
	uint32_t *dist = malloc(t->nnodes * sizeof(*dist)), *q = malloc(t->nnodes * sizeof(*q));
	uint8_t *seen = calloc(t->nnodes, 1);
	uint32_t c = 0;

	for (uint32_t i = 0; i < t->nnodes; i++) {
		if (seen[i])
			continue;
		c++;
		topo_bfs(t, i, dead, true, dist, q);
		for (uint32_t j = 0; j < t->nnodes; j++)
			if (dist[j] != TOPO_UNREACHED)
				seen[j] = 1;
	}
	free(dist);
	free(q);
	free(seen);
	return c;
}

static void check_bridges_naive(const struct topo *t)
{
	uint8_t *dead = calloc(t->nlinks, 1), *is_bridge = calloc(t->nlinks, 1);
	uint32_t base = components(t, NULL), n;
	uint32_t *br = topo_bridges(t, NULL, &n);

	for (uint32_t i = 0; i < n; i++)
		is_bridge[br[i]] = 1;
	for (uint32_t l = 0; l < t->nlinks; l++) {
		dead[l] = 1;
		if ((components(t, dead) > base) != is_bridge[l])
			fail_msg("%s: link %u (%s-%s) bridge=%d but naive says %d", t->spec, l,
				 t->nodes[t->links[l].a].name, t->nodes[t->links[l].b].name,
				 is_bridge[l], !is_bridge[l]);
		dead[l] = 0;
	}
	free(br);
	free(dead);
	free(is_bridge);
}

static void test_bridges_random_vs_naive(void **state)
{
	struct rng r;
	char name[32];

	(void)state;
	rng_seed(&r, 1);
	for (int round = 0; round < 200; round++) {
		struct topo *t = topo_new(FAM_FILE, "random");
		uint32_t nsw = 2 + rng_below(&r, 12), nl = rng_below(&r, 3 * nsw);

		for (uint32_t i = 0; i < nsw; i++) {
			snprintf(name, sizeof(name), "s%u", i);
			topo_add_switch(t, ROLE_SWITCH, 1, 64, 100, name);
		}
		/* Parallel links included on purpose. */
		for (uint32_t i = 0; i < nl; i++) {
			uint32_t a = rng_below(&r, nsw), b = rng_below(&r, nsw);

			if (a != b)
				topo_add_link(t, a, b, 1000);
		}
		for (uint32_t i = 0; i < 3; i++) {
			uint32_t s;

			snprintf(name, sizeof(name), "h%u", i);
			s = topo_add_server(t, 2, name);
			topo_add_link(t, s, rng_below(&r, nsw), 1000);
			if (rng_below(&r, 2))
				topo_add_link(t, s, (t->links[t->nlinks - 1].b + 1) % nsw, 1000);
		}
		topo_finish(t);
		check_bridges_naive(t);
		topo_free(t);
	}
}

static void expect_bridges(const char *s, bool server_links_only, uint32_t count)
{
	struct topo *t = spec(s);
	struct topo_check c;

	topo_check(t, &c);
	assert_true(c.connected);
	assert_true(c.ports_ok);
	if (c.nbridges != count)
		fail_msg("%s: %u bridges, want %u", s, c.nbridges, count);
	assert_int_equal(c.two_edge_connected, count == 0);
	for (uint32_t i = 0; i < c.nbridges && server_links_only; i++) {
		const struct topo_link *l = &t->links[c.bridges[i]];

		assert_true(topo_is_server(t, l->a) || topo_is_server(t, l->b));
	}
	if (t->nlinks <= 600)
		check_bridges_naive(t);
	topo_check_free(&c);
	topo_free(t);
}

static void test_bridges_builders(void **state)
{
	(void)state;
	expect_bridges("leafspine:spines=2,leaves=4,servers=3", true, 12);
	expect_bridges("leafspine:spines=2,leaves=4,servers=3,homing=2", true, 0);
	expect_bridges("leafspine:spines=1,leaves=3,servers=2", false, 9);
	expect_bridges("fattree:k=4", true, 16);
	expect_bridges("fattree:k=8", true, 128);
	expect_bridges("vl2:da=4,di=4,per_tor=3", true, 12);
	expect_bridges("bcube:n=4,k=1", true, 0);
	expect_bridges("bcube:n=3,k=2", true, 0);
	expect_bridges("bcube:n=4,k=0", true, 4);
}

static void test_bcube_addresses(void **state)
{
	struct topo *t = spec("bcube:n=3,k=2");
	uint8_t d[TOPO_BCUBE_MAX_K + 1], e[TOPO_BCUBE_MAX_K + 1];

	(void)state;
	/* NIC l of a server reaches a level-l switch whose servers differ from
	 * it in digit l only, at the port equal to their digit l. */
	for (uint32_t s = 0; s < t->nservers; s++) {
		uint32_t node = t->servers[s];

		topo_bcube_digits(t, s, d);
		for (uint32_t l = 0; l <= t->p.k; l++) {
			const struct topo_adj *a = topo_port(t, node, l);
			const struct topo_node *sw = &t->nodes[a->peer];

			assert_int_equal(sw->level, l);
			for (uint32_t p = 0; p < sw->degree; p++) {
				uint32_t o = topo_port(t, a->peer, p)->peer;

				topo_bcube_digits(t, t->nodes[o].index, e);
				assert_int_equal(e[l], p);
				for (uint32_t i = 0; i <= t->p.k; i++)
					if (i != l)
						assert_int_equal(e[i], d[i]);
			}
		}
	}
	topo_free(t);
}

static void test_bad_specs(void **state)
{
	static const struct { const char *spec, *msg; } cases[] = {
		{ "nosuch:x=1", "unknown topology" },
		{ "leafspine:spines=2,leaves=3,servers=1,homing=2", "leaves must be even" },
		{ "leafspine:spines=2,leaves=4", "missing parameter 'servers'" },
		{ "leafspine:spines=0,leaves=4,servers=1", "'spines' must be" },
		{ "leafspine:spines=2,leaves=4,servers=1,homing=3", "'homing' must be" },
		{ "leafspine:spines=2,leaves=4,servers=1,color=red", "unknown parameter 'color'" },
		{ "leafspine:spines=2,leaves=4,servers=x", "'servers' must be" },
		{ "leafspine:spines=2,,leaves=4", "expected key=value" },
		{ "leafspine:spines=2,spines=3", "given twice" },
		{ "vl2:da=3,di=4", "must be even" },
		{ "vl2:da=4", "missing parameter 'di'" },
		{ "fattree:k=3", "must be even" },
		{ "fattree:k=0", "'k' must be" },
		{ "fattree:k=100000", "'k' must be" },
		{ "bcube:n=1,k=1", "'n' must be" },
		{ "bcube:n=200,k=7", "too large" },
		{ "bcube:n=4,k=99", "'k' must be" },
		{ "file:/nonexistent/t.yaml", "No such file" },
		{ "", "unknown topology" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct topo *t = (struct topo *)1;
		char err[512] = "";

		if (topo_from_spec(cases[i].spec, &t, err, sizeof(err)) == 0)
			fail_msg("'%s' accepted", cases[i].spec);
		assert_null(t);
		if (!strstr(err, cases[i].msg))
			fail_msg("'%s': error '%s' lacks '%s'", cases[i].spec, err, cases[i].msg);
		assert_null(strchr(err, '\n'));
	}
}

static const char good_file[] =
	"# a small dual-homed fabric\n"
	"name: mini\n"
	"defaults: {ports: 8, gbps: 25}\n"
	"switches:\n"
	"  - spine\n"
	"  - {name: l1, fib: 100}\n"
	"  - {name: l2, ports: 3}\n"
	"servers: [h1, {name: h2, nics: 2}]\n"
	"links:\n"
	"  - [spine, l1]\n"
	"  - {a: spine, b: l2, gbps: 100}\n"
	"  - [h1, l1]\n"
	"  - [h1, l2]\n"
	"  - [h2, l1]\n"
	"  - [h2, l2]\n";

static void test_file_good(void **state)
{
	struct topo *t;
	struct topo_check c;
	char err[512];

	(void)state;
	assert_int_equal(topo_load_buf("mini.yaml", good_file, sizeof(good_file) - 1, &t,
				       err, sizeof(err)), 0);
	assert_int_equal(t->nservers, 2);
	assert_int_equal(t->nswitches, 3);
	assert_int_equal(t->nlinks, 6);
	assert_int_equal(t->nodes[topo_find(t, "l1")].fib_cap, 100);
	assert_int_equal(t->nodes[topo_find(t, "l2")].ports, 3);
	assert_int_equal(t->nodes[topo_find(t, "spine")].ports, 8);
	assert_int_equal(t->nodes[topo_find(t, "h1")].ports, 2);	/* from its links */
	assert_int_equal(t->links[0].mbps, 25000);
	assert_int_equal(t->links[1].mbps, 100000);
	assert_int_equal(topo_find(t, "nope"), UINT32_MAX);
	/* links in file order: [h2, l2] is link 5, seen from either end */
	assert_int_equal(topo_link_between(t, topo_find(t, "h2"), topo_find(t, "l2")), 5);
	assert_int_equal(topo_link_between(t, topo_find(t, "l2"), topo_find(t, "h2")), 5);
	assert_int_equal(topo_link_between(t, topo_find(t, "l1"), topo_find(t, "l2")), UINT32_MAX);
	assert_int_equal(topo_link_between(t, UINT32_MAX, topo_find(t, "l2")), UINT32_MAX);
	topo_check(t, &c);
	assert_true(c.connected);
	assert_true(c.ports_ok);
	assert_true(c.two_edge_connected);
	topo_check_free(&c);
	topo_free(t);
}

static void test_file_errors(void **state)
{
	static const struct { const char *text, *msg; } cases[] = {
		{ "switches: [a]\nservers: [b]\nlinks: [[a, c]]\n", "t.yaml:3: links[0]: unknown node 'c'" },
		{ "switches: [a]\nservers: [b]\nlinks:\n  - [a, a]\n", "t.yaml:4: links[0]: links 'a' to itself" },
		{ "switches: [a, a]\nservers: []\nlinks: []\n", "t.yaml:1: switches[1]: name 'a' used twice" },
		{ "switches: [a]\nservers: [a]\nlinks: []\n", "t.yaml:2: servers[0]: name 'a' used twice" },
		{ "switches: [a]\nservers: [b, c]\nlinks: [[b, c]]\n", "joins two servers" },
		{ "switches: [a]\nservers: [b]\nlinks: [[a, b], [b, a]]\n", "already attached to 'a'" },
		{ "switches:\n  - {name: a, ports: many}\nservers: []\nlinks: []\n", "t.yaml:2: ports: expected an integer" },
		{ "switches:\n  - {name: a, colour: red}\nservers: []\nlinks: []\n", "t.yaml:2: switches[0]: unknown key 'colour'" },
		{ "switches: [a]\nservers: []\nlinks: []\nextra: 1\n", "t.yaml:4: top level: unknown key 'extra'" },
		{ "servers: []\nlinks: []\n", "switches: expected a list" },
		{ "switches: [a]\nlinks: []\n", "servers: expected a list" },
		{ "switches: [a]\nservers: []\n", "links: expected a list" },
		{ "switches: [a]\nservers: []\nlinks: [[a]]\n", "expected [A, B]" },
		{ "switches: [{ports: 3}]\nservers: []\nlinks: []\n", "switches[0]: missing 'name'" },
		{ "switches: [a]\nservers: []\nlinks: [{a: a}]\n", "needs 'a' and 'b'" },
		{ "switches: ['a b']\nservers: []\nlinks: []\n", "not a valid name" },
		{ "switches: [a]\nservers: [{name: h, nics: 9}]\nlinks: []\n", "nics: expected an integer from 1 to 8" },
		{ "defaults: {gbps: -1}\nswitches: []\nservers: []\nlinks: []\n", "defaults.gbps" },
		{ "switches: [a\n", "t.yaml:2:" },
		{ "- just\n- a list\n", "top level: expected a mapping" },
		{ "", "empty document" },
		{ "[1, 2", "flow sequence" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct topo *t = (struct topo *)1;
		char err[512] = "";

		if (topo_load_buf("t.yaml", cases[i].text, strlen(cases[i].text), &t, err,
				  sizeof(err)) == 0)
			fail_msg("case %zu accepted", i);
		assert_null(t);
		if (!strstr(err, cases[i].msg))
			fail_msg("case %zu: error '%s' lacks '%s'", i, err, cases[i].msg);
	}
}

static void test_file_port_violation_reported(void **state)
{
	static const char text[] =
		"switches: [{name: s, ports: 1}, t]\nservers: [{name: h, nics: 1}]\n"
		"links: [[s, t], [h, s], [h, t]]\n";
	struct topo *t;
	struct topo_check c;
	char err[256];

	(void)state;
	assert_int_equal(topo_load_buf("p.yaml", text, sizeof(text) - 1, &t, err, sizeof(err)), 0);
	topo_check(t, &c);
	assert_false(c.ports_ok);
	assert_int_equal(c.port_violations, 2);	/* s has 2 links, h has 2 */
	topo_check_free(&c);
	topo_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_counts_leafspine),
		cmocka_unit_test(test_counts_vl2),
		cmocka_unit_test(test_counts_fattree),
		cmocka_unit_test(test_counts_bcube),
		cmocka_unit_test(test_diameters),
		cmocka_unit_test(test_bridges_random_vs_naive),
		cmocka_unit_test(test_bridges_builders),
		cmocka_unit_test(test_bcube_addresses),
		cmocka_unit_test(test_bad_specs),
		cmocka_unit_test(test_file_good),
		cmocka_unit_test(test_file_errors),
		cmocka_unit_test(test_file_port_violation_reported),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
