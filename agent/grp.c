/* The agent's group table (agent/grp.h). */
#include "agent/grp.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "dir/dirgrp.h"

struct agent_grp {
	struct pgr_mcast_key k;
	bool known;			/* member servers answered at least once */
	bool written;			/* an entry is in the map */
	uint8_t nsrv;
	uint32_t srv_node[PGR_MCAST_SERVERS];
	uint8_t srv_im[PGR_MCAST_SERVERS][PGR_TREES][6];
	uint8_t srv_vm[PGR_MCAST_SERVERS][6];
	int64_t req;			/* MEMBERS in flight, 0: none */
	uint64_t lease_ns;		/* member servers good until */
	uint64_t used_ns;		/* the last miss */
	struct pgr_mcast_entry e;	/* as written */
};

static const char *const stat_names[] = {
#define AGENT_GRP_NAME(name, desc) #name,
	AGENT_GRP_STATS(AGENT_GRP_NAME)
#undef AGENT_GRP_NAME
};
static const char *const stat_descs[] = {
#define AGENT_GRP_DESC(name, desc) desc,
	AGENT_GRP_STATS(AGENT_GRP_DESC)
#undef AGENT_GRP_DESC
};

const char *agent_grp_stat_name(int s)
{
	return s >= 0 && s < AGENT_GRP_COUNT ? stat_names[s] : "?";
}

const char *agent_grp_stat_desc(int s)
{
	return s >= 0 && s < AGENT_GRP_COUNT ? stat_descs[s] : "?";
}

void agent_grps_free(struct agent_grps *t)
{
	free(t->g);
	t->g = NULL;
	t->n = 0;
}

static struct agent_grp *find(const struct agent_grps *t, uint32_t vdc, uint32_t group)
{
	for (unsigned i = 0; i < t->n; i++)
		if (t->g[i].k.vdc == vdc && t->g[i].k.group == group)
			return &t->g[i];
	return NULL;
}

static struct agent_grp *add(struct agent_grps *t, uint32_t vdc, uint32_t group)
{
	struct agent_grp *g = find(t, vdc, group);

	if (g)
		return g;
	if (t->n >= AGENT_GRP_MAX) {
		t->st[AGENT_GRP_full]++;
		return NULL;
	}
	if (!t->g)
		t->g = xcalloc(AGENT_GRP_MAX, sizeof(*t->g));
	g = &t->g[t->n++];
	memset(g, 0, sizeof(*g));
	g->k.vdc = vdc;
	g->k.group = group;
	return g;
}

/* ---- the entry ------------------------------------------------------------ */

static bool vm_in(const struct agent_grp_vm *v, uint32_t group)
{
	uint8_t g16[16];

	if (group == 0xffffffffu)
		return true;		/* every VM is in its VDC's broadcast */
	dirp_group4(g16, ntohl(group));
	for (unsigned i = 0; i < v->m->n; i++)
		if (!memcmp(v->m->group[i], g16, 16))
			return true;
	return false;
}

static void locals(struct agent_grps *t, const struct agent_grp *g, struct pgr_mcast_entry *e)
{
	const struct agent_grp_env *env = t->env;

	for (unsigned i = 0; i < env->nvms; i++) {
		const struct agent_grp_vm *v = &env->vms[i];

		if (!v->ifindex || v->vdc != g->k.vdc || !vm_in(v, g->k.group))
			continue;
		if (e->nlocal >= PGR_MCAST_LOCAL) {
			t->st[AGENT_GRP_too_many_local]++;
			continue;
		}
		e->local_ifindex[e->nlocal++] = v->ifindex;
	}
}

static void servers(struct agent_grps *t, const struct agent_grp *g, struct pgr_mcast_entry *e)
{
	const struct agent_grp_env *env = t->env;

	for (unsigned i = 0; i < g->nsrv; i++) {
		struct pgr_mcast_srv *s = &e->srv[e->nsrv];

		memset(s, 0, sizeof(*s));
		memcpy(s->im_mac, g->srv_im[i], sizeof(s->im_mac));
		memcpy(s->vm_mac, g->srv_vm[i], 6);
		for (unsigned tr = 0; tr < PGR_TREES; tr++) {
			int nic = env->tree_nic ? env->tree_nic(env->tree_arg, g->srv_node[i], tr) : -1;

			if (nic < 0 || (unsigned)nic >= env->nnics || env->nic_down[nic])
				continue;
			s->egress_ifindex[tr] = env->nic_ifindex[nic];
			s->avail |= tr == PGR_PRIMARY ? PGR_AVAIL_IM_PRI : PGR_AVAIL_IM_BAK;
		}
		e->nsrv++;
	}
}

/* The entry g should have now; false if it should have none. */
static bool build(struct agent_grps *t, const struct agent_grp *g, struct pgr_mcast_entry *e)
{
	memset(e, 0, sizeof(*e));
	locals(t, g, e);
	if (g->known)
		servers(t, g, e);
	if (!g->known)
		e->flags |= PGR_MCAST_NO_SERVERS;
	else if (t->now_ns >= g->lease_ns)
		e->flags |= PGR_MCAST_STALE;
	return e->nlocal || e->nsrv || g->used_ns + AGENT_GRP_IDLE_MS * 1000000ull > t->now_ns;
}

/* Write g's entry if it changed; false if g is gone (removed). */
static bool write_one(struct agent_grps *t, struct agent_grp *g)
{
	const struct agent_grp_env *env = t->env;
	struct pgr_mcast_entry e;

	if (!build(t, g, &e)) {
		if (g->written && env->del && env->del(env->arg, &g->k))
			t->st[AGENT_GRP_map_errors]++;
		if (g->written)
			t->st[AGENT_GRP_removed]++;
		g->written = false;
		return g->req != 0;	/* kept until its answer comes */
	}
	if (g->written && !memcmp(&e, &g->e, sizeof(e)))
		return true;
	if (env->set && env->set(env->arg, &g->k, &e)) {
		t->st[AGENT_GRP_map_errors]++;
		return true;
	}
	g->e = e;
	g->written = true;
	t->st[AGENT_GRP_written]++;
	return true;
}

/* ---- MEMBERS ---------------------------------------------------------------- */

static void take_answer(struct agent_grps *t, struct agent_grp *g, const struct dirp_msg *m)
{
	uint8_t want[16];

	dirp_group4(want, ntohl(g->k.group));
	g->nsrv = 0;
	g->known = true;
	g->lease_ns = t->now_ns + DIRGRP_LEASE_MS * 1000000ull;
	for (unsigned i = 0; i < m->h.count; i++) {
		struct dirp_member r;

		dirp_get_member(m, i, &r);
		if (r.vdc != g->k.vdc || memcmp(r.group, want, 16)) {
			t->st[AGENT_GRP_members_bad]++;
			continue;
		}
		if (i == 0 && r.lease_ms)
			g->lease_ns = t->now_ns + (uint64_t)r.lease_ms * 1000000ull;
		if (r.status != DIRP_OK || r.server == t->env->node)
			continue;	/* none, or this server: its copies are local */
		if (!dirp_mac_ok(r.im[0]) || !dirp_mac_ok(r.im[1]) || !dirp_mac_ok(r.vm) ||
		    g->nsrv >= PGR_MCAST_SERVERS) {
			t->st[AGENT_GRP_members_bad]++;
			continue;
		}
		g->srv_node[g->nsrv] = r.server;
		memcpy(g->srv_im[g->nsrv], r.im, sizeof(r.im));
		memcpy(g->srv_vm[g->nsrv], r.vm, 6);
		g->nsrv++;
	}
}

static void on_members(void *arg, uint64_t req_id, const struct dirp_msg *m)
{
	struct agent_grps *t = arg;

	for (unsigned i = 0; i < t->n; i++) {
		struct agent_grp *g = &t->g[i];

		if (g->req != (int64_t)req_id)
			continue;
		g->req = 0;
		if (!m)
			t->st[AGENT_GRP_members_fail]++;	/* the next use asks again */
		else
			take_answer(t, g, m);
		if (!write_one(t, g))
			t->g[i] = t->g[--t->n];
		return;
	}
}

static void ask(struct agent_grps *t, struct agent_grp *g, struct dir_now now)
{
	struct dirp_key6 k = { .vdc = g->k.vdc };
	int64_t id;

	dirp_group4(k.ip6, ntohl(g->k.group));
	id = dirc_request(t->env->dirc, now, DIRP_MEMBERS, &k, 1, on_members, t);
	if (id <= 0) {
		t->st[AGENT_GRP_members_fail]++;
		return;
	}
	g->req = id;
	t->st[AGENT_GRP_members_sent]++;
}

void agent_grps_miss(struct agent_grps *t, const struct agent_grp_env *env, uint32_t vdc,
		     uint32_t group, struct dir_now now)
{
	struct agent_grp *g;
	bool local = false;

	t->env = env;
	t->now_ns = now.ns;
	t->st[AGENT_GRP_misses]++;
	for (unsigned i = 0; i < env->nvms && !local; i++)
		local = env->vms[i].vdc == vdc;
	if (!((ntohl(group) >> 28) == 0xe || group == 0xffffffffu) || !local) {
		t->st[AGENT_GRP_miss_bad]++;
		return;
	}
	if (!(g = add(t, vdc, group)))
		return;
	g->used_ns = now.ns;
	if (!g->req && (!g->known || now.ns >= g->lease_ns))
		ask(t, g, now);
}

void agent_grps_sync(struct agent_grps *t, const struct agent_grp_env *env, struct dir_now now)
{
	t->env = env;
	t->now_ns = now.ns;
	/* every group a local VM is in */
	for (unsigned i = 0; i < env->nvms; i++) {
		const struct agent_grp_vm *v = &env->vms[i];

		if (!v->ifindex)
			continue;
		add(t, v->vdc, 0xffffffffu);
		for (unsigned j = 0; j < v->m->n; j++) {
			static const uint8_t mapped[12] = { [10] = 0xff, [11] = 0xff };
			uint32_t ip;

			if (memcmp(v->m->group[j], mapped, 12))
				continue;	/* IPv6 groups: not replicated yet */
			memcpy(&ip, v->m->group[j] + 12, 4);
			add(t, v->vdc, ip);
		}
	}
	for (unsigned i = 0; i < t->n;) {
		struct agent_grp *g = &t->g[i];

		if (g->known && g->used_ns + AGENT_GRP_IDLE_MS * 1000000ull <= now.ns) {
			g->known = false;	/* not sent to: forget its servers */
			g->nsrv = 0;
		}
		if (write_one(t, g))
			i++;
		else
			t->g[i] = t->g[--t->n];
	}
}

unsigned agent_grps_count(const struct agent_grps *t)
{
	return t->n;
}

const struct pgr_mcast_entry *agent_grps_entry(const struct agent_grps *t, uint32_t vdc,
					       uint32_t group)
{
	const struct agent_grp *g = find(t, vdc, group);

	return g && g->written ? &g->e : NULL;
}
