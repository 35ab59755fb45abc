/* The NetLord agent's VLAN plan (agent/netlord.c): every edge switch gets
 * the VLANs of its pair's SPAIN paths; a link failure takes out exactly the
 * VLANs whose path crosses it and changes no other destination; checked by
 * hand on a leaf-spine and against a naive model (a VLAN joins the pair iff
 * the two switches are connected in its tree without the down links) under
 * random failures on a fat-tree. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "agent/netlord.h"
#include "lib/common.h"
#include "lib/rng.h"

static struct topo *spec(const char *s)
{
	struct topo *t;
	char err[256];

	if (topo_from_spec(s, &t, err, sizeof(err)))
		fail_msg("%s: %s", s, err);
	return t;
}

static uint32_t node(const struct topo *t, const char *name)
{
	uint32_t n = topo_find(t, name);

	if (n == UINT32_MAX)
		fail_msg("no node %s", name);
	return n;
}

static uint32_t end_of(const struct route_spain *s, uint32_t n)
{
	for (uint32_t i = 0; i < s->nends; i++)
		if (s->ends[i] == n)
			return i;
	fail_msg("node %u is no edge switch", n);
	return 0;
}

static void test_leafspine(void **state)
{
	struct topo *t = spec("leafspine:spines=2,leaves=3,servers=1");
	struct route_spain s;
	struct nla_plan p;
	struct nl_vlan_choice c, c2;
	uint32_t leaf0 = node(t, "leaf0"), l1, l2, changed[8], n, up0, up1;
	char err[256];

	(void)state;
	assert_int_equal(route_spain_build(t, 2, &s, err, sizeof(err)), 0);
	assert_int_equal(nla_plan_build(&p, t, &s, leaf0, err, sizeof(err)), 0);
	l1 = end_of(&s, node(t, "leaf1"));
	l2 = end_of(&s, node(t, "leaf2"));
	nla_plan_choice(&p, l1, &c);
	assert_int_equal(c.n, 2);		/* one path over each spine */
	assert_int_not_equal(c.vid[0], c.vid[1]);
	assert_true(c.vid[0] >= 1 && c.vid[1] >= 1);
	nla_plan_choice(&p, end_of(&s, leaf0), &c2);
	assert_int_equal(c2.n, 1);		/* to our own edge switch */

	/* leaf0's uplink to spine0: both destinations lose that VLAN */
	up0 = topo_link_between(t, leaf0, node(t, "spine0"));
	n = nla_plan_link(&p, up0, false, changed, 8);
	assert_int_equal(n, 2);
	nla_plan_choice(&p, l1, &c2);
	assert_int_equal(c2.n, 1);
	nla_plan_choice(&p, l2, &c2);
	assert_int_equal(c2.n, 1);
	/* down again: nothing changes */
	assert_int_equal(nla_plan_link(&p, up0, false, changed, 8), 0);
	assert_int_equal(nla_plan_link(&p, up0, true, changed, 8), 2);
	nla_plan_choice(&p, l1, &c2);
	assert_memory_equal(&c, &c2, sizeof(c));

	/* leaf1's uplink to spine1: only leaf1 re-selects */
	up1 = topo_link_between(t, node(t, "leaf1"), node(t, "spine1"));
	n = nla_plan_link(&p, up1, false, changed, 8);
	assert_int_equal(n, 1);
	assert_int_equal(changed[0], l1);
	nla_plan_choice(&p, l1, &c2);
	assert_int_equal(c2.n, 1);
	/* both of leaf1's uplinks: leaf1 is cut off, leaf2 untouched */
	up0 = topo_link_between(t, node(t, "leaf1"), node(t, "spine0"));
	assert_int_equal(nla_plan_link(&p, up0, false, changed, 8), 1);
	nla_plan_choice(&p, l1, &c2);
	assert_int_equal(c2.n, 0);
	nla_plan_choice(&p, l2, &c2);
	assert_int_equal(c2.n, 2);
	assert_int_equal(p.reselections, 6);

	/* not an edge switch */
	nla_plan_free(&p);
	assert_int_equal(nla_plan_build(&p, t, &s, node(t, "spine0"), err, sizeof(err)), -EINVAL);
	route_spain_free(&s);
	topo_free(t);
}

/* Naive: is `a` connected to `b` in VLAN v without the down links?  Label
 * propagation over the VLAN's link list. */
static bool naive_joins(const struct topo *t, const struct route_spain *s, uint32_t v,
			const uint8_t *down, uint32_t a, uint32_t b)
{
	uint8_t *seen = xcalloc(t->nnodes, 1);
	bool changed = true, ok;

	seen[a] = 1;
	while (changed) {
		changed = false;
		for (uint32_t i = s->vlan_off[v]; i < s->vlan_off[v + 1]; i++) {
			const struct topo_link *l = &t->links[s->vlan_links[i]];

			if (down[s->vlan_links[i]] || seen[l->a] == seen[l->b])
				continue;
			seen[l->a] = seen[l->b] = 1;
			changed = true;
		}
	}
	ok = seen[b];
	free(seen);
	return ok;
}

static void naive_choice(const struct topo *t, const struct route_spain *s, const uint8_t *down,
			 uint32_t self, uint32_t j, struct nl_vlan_choice *c)
{
	uint32_t pair = route_spain_pair(s, self, j);

	memset(c, 0, sizeof(*c));
	for (uint32_t q = s->pair_off[pair]; q < s->pair_off[pair + 1]; q++)
		if (naive_joins(t, s, s->path_vlan[q], down, s->ends[self], s->ends[j]))
			c->vid[c->n++] = (uint16_t)(s->path_vlan[q] + 1);
}

static void test_random_failures(void **state)
{
	struct topo *t = spec("fattree:k=4");
	struct route_spain s;
	struct nla_plan p;
	struct rng r;
	uint8_t *down = xcalloc(t->nlinks, 1);
	uint32_t self, *changed, cut_off = 0;
	char err[256];

	(void)state;
	assert_int_equal(route_spain_build(t, 4, &s, err, sizeof(err)), 0);
	self = 0;
	assert_int_equal(nla_plan_build(&p, t, &s, s.ends[self], err, sizeof(err)), 0);
	changed = xcalloc(s.nends, sizeof(*changed));
	rng_seed(&r, 18);
	for (int step = 0; step < 300; step++) {
		uint32_t l = (uint32_t)(rng_next(&r) % t->nlinks), n;
		bool up = down[l] ? rng_next(&r) % 3 != 0 : false;	/* failures pile up */
		struct nl_vlan_choice before[64], got, want;

		assert_true(s.nends <= 64);
		if (topo_is_server(t, t->links[l].a) || topo_is_server(t, t->links[l].b))
			continue;
		for (uint32_t j = 0; j < s.nends; j++)
			if (j != self)
				naive_choice(t, &s, down, self, j, &before[j]);
		down[l] = !up;
		n = nla_plan_link(&p, l, up, changed, s.nends);
		for (uint32_t j = 0, k = 0; j < s.nends; j++) {
			if (j == self)
				continue;
			nla_plan_choice(&p, j, &got);
			naive_choice(t, &s, down, self, j, &want);
			assert_memory_equal(&got, &want, sizeof(got));
			if (memcmp(&before[j], &want, sizeof(want))) {
				assert_true(k < n);
				assert_int_equal(changed[k++], j);
			}
			if (j == s.nends - 1)
				assert_int_equal(k, n);
			cut_off += !want.n;
		}
	}
	printf("# 300 link changes: %llu re-selections, %u cut-off destination states\n",
	       (unsigned long long)p.reselections, cut_off);
	assert_true(p.reselections > 0);
	free(changed);
	free(down);
	nla_plan_free(&p);
	route_spain_free(&s);
	topo_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_leafspine),
		cmocka_unit_test(test_random_failures),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
