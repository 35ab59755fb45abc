/* The NetLord agent's core (agent/netlord.h). */
#include "agent/netlord.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/common.h"

static uint32_t end_index(const struct route_spain *s, uint32_t node)
{
	for (uint32_t i = 0; i < s->nends; i++)
		if (s->ends[i] == node)
			return i;
	return UINT32_MAX;
}

int nla_plan_build(struct nla_plan *p, const struct topo *t, const struct route_spain *s,
		   uint32_t self_node, char *err, size_t errlen)
{
	uint32_t self = end_index(s, self_node);

	memset(p, 0, sizeof(*p));
	if (self == UINT32_MAX) {
		snprintf(err, errlen, "node %u is not an edge switch", self_node);
		return -EINVAL;
	}
	if (s->k > NL_K_MAX) {
		snprintf(err, errlen, "k %u: at most %d VLANs per pair", s->k, NL_K_MAX);
		return -EINVAL;
	}
	p->t = t;
	p->s = s;
	p->self = self;
	p->dest = xcalloc(s->nends, sizeof(*p->dest));
	p->down = xcalloc(t->nlinks ? t->nlinks : 1, 1);
	for (uint32_t j = 0; j < s->nends; j++) {
		uint32_t pair;

		if (j == self)
			continue;
		pair = route_spain_pair(s, self, j);
		for (uint32_t q = s->pair_off[pair]; q < s->pair_off[pair + 1]; q++) {
			struct nla_dest *d = &p->dest[j];

			assert(d->n < NL_K_MAX);
			d->path[d->n] = q;
			d->vid[d->n++] = (uint16_t)(s->path_vlan[q] + 1);
		}
	}
	return 0;
}

void nla_plan_free(struct nla_plan *p)
{
	free(p->dest);
	free(p->down);
	memset(p, 0, sizeof(*p));
}

static bool path_up(const struct nla_plan *p, uint32_t q)
{
	const struct route_path *r = &p->s->paths[q];

	for (uint32_t i = 0; i < r->len; i++)
		if (p->down[r->links[i]])
			return false;
	return true;
}

static uint16_t local_vid(const struct nla_plan *p)
{
	const struct route_spain *s = p->s;
	uint32_t node = s->ends[p->self];

	for (uint32_t v = 0; v < s->nvlans; v++)
		for (uint32_t i = s->vlan_off[v]; i < s->vlan_off[v + 1]; i++) {
			const struct topo_link *l = &p->t->links[s->vlan_links[i]];

			if (l->a == node || l->b == node)
				return (uint16_t)(v + 1);
		}
	return 1;
}

void nla_plan_choice(const struct nla_plan *p, uint32_t end, struct nl_vlan_choice *c)
{
	const struct nla_dest *d = &p->dest[end];

	memset(c, 0, sizeof(*c));
	if (end == p->self) {
		c->n = 1;
		c->vid[0] = local_vid(p);
		return;
	}
	for (uint32_t i = 0; i < d->n; i++)
		if (path_up(p, d->path[i]))
			c->vid[c->n++] = d->vid[i];
}

static bool uses(const struct nla_plan *p, const struct nla_dest *d, uint32_t link)
{
	for (uint32_t i = 0; i < d->n; i++) {
		const struct route_path *r = &p->s->paths[d->path[i]];

		for (uint32_t h = 0; h < r->len; h++)
			if (r->links[h] == link)
				return true;
	}
	return false;
}

uint32_t nla_plan_link(struct nla_plan *p, uint32_t link, bool up, uint32_t *changed,
		       uint32_t max)
{
	uint32_t n = 0;

	if (link >= p->t->nlinks || p->down[link] == !up)
		return 0;
	for (uint32_t j = 0; j < p->s->nends; j++) {
		struct nl_vlan_choice before, after;

		if (j == p->self || !uses(p, &p->dest[j], link))
			continue;
		nla_plan_choice(p, j, &before);
		p->down[link] = !up;
		nla_plan_choice(p, j, &after);
		p->down[link] = up;
		if (memcmp(&before, &after, sizeof(before)) && n < max) {
			changed[n++] = j;
			p->reselections++;
		}
	}
	p->down[link] = !up;
	return n;
}
