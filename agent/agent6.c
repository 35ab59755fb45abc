/* The host agent's IPv6 control plane (agent/agent6.h). */
#include "agent/agent6.h"

#include <arpa/inet.h>
#include <string.h>

#include "agent/agent.h"
#include "wire/be.h"
#include "wire/eth.h"
#include "wire/ipv4.h"
#include "wire/ipv6.h"
#include "wire/pgr.h"

unsigned agent6_vm_addrs(const struct agent_vm_cfg *v, uint8_t out[2][16])
{
	uint8_t mac[6], iid[8];
	unsigned n = 0;

	pgr_mac_make(mac, pgr_id_of(v->node, PGR_PRIMARY));
	iid[0] = mac[0] ^ 0x02;
	iid[1] = mac[1];
	iid[2] = mac[2];
	iid[3] = 0xff;
	iid[4] = 0xfe;
	memcpy(iid + 5, mac + 3, 3);
	memset(out[n], 0, 16);
	out[n][0] = 0xfe;
	out[n][1] = 0x80;
	memcpy(out[n++] + 8, iid, 8);
	if (v->has_prefix6) {
		memcpy(out[n], v->prefix6, 8);
		memcpy(out[n++] + 8, iid, 8);
	}
	return n;
}

static void on_register6(void *arg, uint64_t req_id, const struct dirp_msg *m)
{
	struct agent6 *s = arg;

	(void)req_id;
	if (!m) {
		s->st.register6_fail++;
		return;
	}
	for (unsigned i = 0; i < m->h.count; i++) {
		struct dirp_entry6 r;

		dirp_get_entry6(m, i, &r);
		s->st.register6_fail += r.status != DIRP_OK;
	}
}

static void register_flush(struct agent6 *s, const struct agent6_env *env, struct dir_now now,
			   struct dirp_entry6 *recs, unsigned *n)
{
	if (!*n)
		return;
	if (dirc_request(env->dirc, now, DIRP_REGISTER6, recs, *n, on_register6, s) <= 0)
		s->st.register6_fail += *n;
	else
		s->st.registers6++;
	*n = 0;
}

void agent6_register(struct agent6 *s, const struct agent6_env *env, struct dir_now now,
		     const struct agent_vm_cfg *vms, unsigned nvms)
{
	struct dirp_entry6 recs[DIRP_MAX_RECORDS6];
	unsigned n = 0;

	s->env = *env;
	for (unsigned i = 0; i < nvms; i++) {
		uint8_t addr[2][16];
		unsigned na;

		if (!vms[i].ifindex || !vms[i].has_prefix6)
			continue;
		na = agent6_vm_addrs(&vms[i], addr);
		for (unsigned k = 0; k < na; k++) {
			struct dirp_entry6 *r = &recs[n++];

			memset(r, 0, sizeof(*r));
			r->vdc = vms[i].vdc;
			memcpy(r->ip6, addr[k], 16);
			r->avail = DIRP_AVAIL_ALL;
			r->server = env->node;
			for (unsigned t = 0; t < PGR_TREES; t++) {
				pgr_mac_make(r->mac[DIRP_VM_PRI + t], pgr_id_of(vms[i].node, t));
				pgr_mac_make(r->mac[DIRP_IM_PRI + t], pgr_id_of(env->node, t));
			}
			if (n == DIRP_MAX_RECORDS6)
				register_flush(s, env, now, recs, &n);
		}
	}
	register_flush(s, env, now, recs, &n);
}

/* The directory's record as the data plane's entry. */
static bool to_garp(const struct agent6_env *env, const struct dirp_entry6 *r,
		    struct pgr_garp_entry *g)
{
	uint32_t im_node;

	for (unsigned i = 0; i < DIRP_NMACS; i++)
		if (!pgr_mac_valid(r->mac[i]))
			return false;
	memset(g, 0, sizeof(*g));
	memcpy(g->vm_mac, r->mac[DIRP_VM_PRI], sizeof(g->vm_mac));
	memcpy(g->im_mac, r->mac[DIRP_IM_PRI], sizeof(g->im_mac));
	g->version = r->version;
	g->avail = r->avail & DIRP_AVAIL_ALL;
	im_node = pgr_id_node(pgr_mac_id(r->mac[DIRP_IM_PRI]));
	g->flags = im_node == env->node ? PGR_GARP_LOCAL : 0;
	for (unsigned t = 0; t < PGR_TREES && im_node != env->node; t++) {
		int nic = agent_tree_nic(env->a, im_node, t);

		g->egress_ifindex[t] = nic >= 0 && (unsigned)nic < env->nnics ?
				       env->nic_ifindex[nic] : 0;
	}
	return true;
}

static struct agent6_pending *pending_by_req(struct agent6 *s, uint64_t req)
{
	for (unsigned i = 0; i < AGENT6_PENDING; i++)
		if (s->p[i].used && (uint64_t)s->p[i].req == req)
			return &s->p[i];
	return NULL;
}

/* ---- the GARP6 entries written, and their leases ------------------------------- */

static struct agent6_cached *cached_find(struct agent6 *s, uint32_t vdc, const uint8_t ip6[16])
{
	for (unsigned i = 0; i < s->ncached; i++)
		if (s->c[i].used && s->c[i].vdc == vdc && !memcmp(s->c[i].ip6, ip6, 16))
			return &s->c[i];
	return NULL;
}

static void cached_del(struct agent6 *s, struct agent6_cached *c)
{
	struct pgr_garp6_key k = { .vdc = c->vdc };

	memcpy(k.ip, c->ip6, 16);
	if (s->env.ops->garp6_del && s->env.ops->garp6_del(s->env.ops->arg, &k))
		s->st.nd_map_fail++;
	c->used = false;
	while (s->ncached && !s->c[s->ncached - 1].used)
		s->ncached--;
}

/* A slot for (vdc, ip6): its own, a free one, or the one whose lease ends
 * first, removed. */
static struct agent6_cached *cached_slot(struct agent6 *s, uint32_t vdc, const uint8_t ip6[16])
{
	struct agent6_cached *c = cached_find(s, vdc, ip6), *oldest = NULL;

	if (c)
		return c;
	for (unsigned i = 0; i < AGENT6_CACHE; i++) {
		if (!s->c[i].used) {
			s->ncached = MAX(s->ncached, i + 1);
			return &s->c[i];
		}
		if (!oldest || s->c[i].expire_ns < oldest->expire_ns)
			oldest = &s->c[i];
	}
	s->st.nd_evicted++;
	cached_del(s, oldest);
	s->ncached = AGENT6_CACHE;
	return oldest;
}

/* The lease of an answer r to a request sent at ask_ns. */
static void cached_lease(struct agent6_cached *c, const struct dirp_entry6 *r, uint64_t ask_ns)
{
	uint64_t lease_ns = (uint64_t)r->lease_ms * 1000000;

	c->version = r->version;
	c->req = 0;
	c->renew_ns = ask_ns + lease_ns / 2;
	c->expire_ns = ask_ns + lease_ns;
}

static void cached_note(struct agent6 *s, uint32_t vdc, const uint8_t ip6[16],
			const struct dirp_entry6 *r, uint64_t ask_ns)
{
	struct agent6_cached *c = cached_slot(s, vdc, ip6);

	*c = (struct agent6_cached){ .used = true, .vdc = vdc };
	memcpy(c->ip6, ip6, 16);
	cached_lease(c, r, ask_ns);
}

static void on_lookup6(void *arg, uint64_t req_id, const struct dirp_msg *m)
{
	struct agent6 *s = arg;
	struct agent6_pending *p = pending_by_req(s, req_id);
	const struct agent6_env *env = &s->env;
	struct dirp_entry6 r;
	struct pgr_garp6_key k;
	struct pgr_garp_entry g;

	if (!p)
		return;
	p->used = false;
	if (!m) {
		s->st.nd_timeouts++;
		return;
	}
	dirp_get_entry6(m, 0, &r);
	if (r.status != DIRP_OK) {
		s->st.nd_not_found++;
		return;
	}
	if (!to_garp(env, &r, &g)) {
		s->st.nd_bad++;
		return;
	}
	k.vdc = p->vdc;
	memcpy(k.ip, p->target, 16);
	if (!env->ops->garp6_set || env->ops->garp6_set(env->ops->arg, &k, &g)) {
		s->st.nd_map_fail++;
		return;
	}
	cached_note(s, p->vdc, p->target, &r, p->ask_ns);
	if (env->ops->resend(env->ops->arg, p->ifindex, p->frame, p->len)) {
		s->st.nd_map_fail++;
		return;
	}
	s->st.nd_resolved++;
}

/* One renewed record: the entry's lease again, rewritten if it changed,
 * removed if the directory no longer holds it. */
static void renewed(struct agent6 *s, uint64_t req_id, const struct dirp_entry6 *r)
{
	struct agent6_cached *c = cached_find(s, r->vdc, r->ip6);
	struct pgr_garp6_key k = { .vdc = r->vdc };
	struct pgr_garp_entry g;

	if (!c || (uint64_t)c->req != req_id)
		return;		/* removed, or asked again since */
	if (r->status != DIRP_OK || !to_garp(&s->env, r, &g)) {
		s->st.nd_expired++;
		cached_del(s, c);
		return;
	}
	memcpy(k.ip, r->ip6, 16);
	if (r->version != c->version) {
		if (!s->env.ops->garp6_set || s->env.ops->garp6_set(s->env.ops->arg, &k, &g)) {
			s->st.nd_map_fail++;
			c->req = 0;	/* the old entry stays until its lease ends */
			return;
		}
		s->st.nd_updated++;
	}
	s->st.nd_renewed++;
	cached_lease(c, r, c->ask_ns);
}

void agent6_on_push(struct agent6 *s, const struct dirp_entry6 *r)
{
	struct agent6_cached *c = cached_find(s, r->vdc, r->ip6);
	struct pgr_garp6_key k = { .vdc = r->vdc };
	struct pgr_garp_entry g;

	if (!c || (int32_t)(r->version - c->version) <= 0 || !s->env.ops) {
		s->st.nd_push_stale++;
		return;
	}
	s->st.nd_pushed++;
	if (r->status != DIRP_OK || !to_garp(&s->env, r, &g)) {
		cached_del(s, c);
		return;
	}
	memcpy(k.ip, r->ip6, 16);
	if (!s->env.ops->garp6_set || s->env.ops->garp6_set(s->env.ops->arg, &k, &g)) {
		s->st.nd_map_fail++;
		return;
	}
	c->version = r->version;
}

static void on_renew6(void *arg, uint64_t req_id, const struct dirp_msg *m)
{
	struct agent6 *s = arg;

	if (!m) {
		s->st.nd_timeouts++;
		for (unsigned i = 0; i < s->ncached; i++)
			if (s->c[i].used && (uint64_t)s->c[i].req == req_id) {
				s->c[i].req = 0;
				s->c[i].renew_ns = s->c[i].ask_ns +
						   AGENT6_RENEW_RETRY_MS * 1000000ull;
			}
		return;
	}
	for (unsigned i = 0; i < m->h.count; i++) {
		struct dirp_entry6 r;

		dirp_get_entry6(m, i, &r);
		renewed(s, req_id, &r);
	}
}

static void renew_flush(struct agent6 *s, const struct agent6_env *env, struct dir_now now,
			struct agent6_cached **due, unsigned *n)
{
	struct dirp_key6 keys[DIRP_MAX_RECORDS6];
	int64_t req;

	if (!*n)
		return;
	for (unsigned i = 0; i < *n; i++) {
		keys[i].vdc = due[i]->vdc;
		memcpy(keys[i].ip6, due[i]->ip6, 16);
	}
	req = dirc_request(env->dirc, now, DIRP_LOOKUP6, keys, *n, on_renew6, s);
	for (unsigned i = 0; i < *n && req > 0; i++) {
		due[i]->req = req;
		due[i]->ask_ns = now.ns;
	}
	if (req <= 0)		/* the client is busy: again at the next tick */
		s->st.nd_timeouts++;
	*n = 0;
}

uint64_t agent6_tick(struct agent6 *s, const struct agent6_env *env, struct dir_now now)
{
	struct agent6_cached *due[DIRP_MAX_RECORDS6];
	uint64_t next = UINT64_MAX;
	unsigned n = 0;

	s->env = *env;
	for (unsigned i = 0; i < s->ncached; i++) {
		struct agent6_cached *c = &s->c[i];

		if (!c->used)
			continue;
		if (now.ns >= c->expire_ns) {
			s->st.nd_expired++;
			cached_del(s, c);
			continue;
		}
		if (!c->req && now.ns >= c->renew_ns) {
			due[n++] = c;
			if (n == DIRP_MAX_RECORDS6)
				renew_flush(s, env, now, due, &n);
		}
		next = MIN(next, c->req ? c->expire_ns : MIN(c->renew_ns, c->expire_ns));
	}
	renew_flush(s, env, now, due, &n);
	return next <= now.ns ? now.ns + AGENT6_RENEW_RETRY_MS * 1000000ull : next;
}

/* A Neighbour Solicitation from vm, as the data plane checked it: Ethernet
 * from the VM's MAC, IPv6 with ICMPv6 type 135 code 0, hop limit 255, a
 * unicast target.  The target address is copied to target. */
static bool ns_ok(const struct agent_vm_cfg *vm, const uint8_t *f, size_t len, uint8_t target[16])
{
	uint8_t mac[6];
	const uint8_t *ip = f + WIRE_ETH_HLEN, *nd = ip + 40;

	if (len < WIRE_ETH_HLEN + 40 + 24 || len > AGENT6_FRAME)
		return false;
	pgr_mac_make(mac, pgr_id_of(vm->node, PGR_PRIMARY));
	if (memcmp(f + 6, mac, 6) || f[12] != 0x86 || f[13] != 0xdd || (ip[0] >> 4) != 6 ||
	    ip[6] != 58 || ip[7] != 255 || nd[0] != 135 || nd[1] != 0 || nd[8] == 0xff)
		return false;
	memcpy(target, nd + 8, 16);
	return true;
}

void agent6_nd_miss(struct agent6 *s, const struct agent6_env *env, struct dir_now now,
		    const struct agent_vm_cfg *vm, const uint8_t *frame, size_t len)
{
	struct agent6_pending *p = NULL;
	struct dirp_key6 k;
	int64_t req;

	s->env = *env;
	s->st.nd_miss++;
	if (!vm || !frame || !ns_ok(vm, frame, len, k.ip6)) {
		s->st.nd_bad++;
		return;
	}
	k.vdc = vm->vdc;
	for (unsigned i = 0; i < AGENT6_PENDING; i++) {
		if (s->p[i].used && s->p[i].vdc == k.vdc && s->p[i].ifindex == vm->ifindex &&
		    !memcmp(s->p[i].target, k.ip6, 16))
			return;		/* asked already: the VM's NS retransmission */
		if (!s->p[i].used && !p)
			p = &s->p[i];
	}
	if (!p) {
		s->st.nd_busy++;
		return;
	}
	req = dirc_request(env->dirc, now, DIRP_LOOKUP6, &k, 1, on_lookup6, s);
	if (req <= 0) {
		s->st.nd_busy++;
		return;
	}
	*p = (struct agent6_pending){ .used = true, .vdc = k.vdc, .ifindex = vm->ifindex,
				      .len = (uint32_t)len, .req = req, .ask_ns = now.ns };
	memcpy(p->target, k.ip6, 16);
	memcpy(p->frame, frame, len);
}

/* ---- router advertisements ---------------------------------------------------- */

static void iid_of(uint8_t iid[8], const uint8_t mac[6])
{
	iid[0] = mac[0] ^ 0x02;
	iid[1] = mac[1];
	iid[2] = mac[2];
	iid[3] = 0xff;
	iid[4] = 0xfe;
	memcpy(iid + 5, mac + 3, 3);
}

/* The ICMPv6 checksum of the message at ip + 40 (RFC 8200 8.1). */
static uint16_t icmp6_csum(const uint8_t *ip, size_t mlen)
{
	uint8_t buf[40 + AGENT6_RA_LEN];

	memcpy(buf, ip + 8, 32);		/* source, destination */
	wire_put32(buf + 32, (uint32_t)mlen);
	memset(buf + 36, 0, 3);
	buf[39] = 58;
	memcpy(buf + 40, ip + 40, mlen);
	return wire_csum(buf, 40 + mlen);
}

size_t agent6_ra_frame(uint32_t node, const struct agent_vm_cfg *vm, uint8_t f[AGENT6_RA_LEN])
{
	uint8_t mac[6], *ip = f + WIRE_ETH_HLEN, *ra = ip + 40, *o = ra + 16;
	uint16_t csum;

	memset(f, 0, AGENT6_RA_LEN);
	pgr_mac_make(mac, pgr_id_of(node, PGR_PRIMARY));
	memcpy(f, "\x33\x33\x00\x00\x00\x01", 6);
	memcpy(f + 6, mac, 6);
	f[12] = 0x86, f[13] = 0xdd;
	ip[0] = 0x60;
	wire_put16(ip + 4, AGENT6_RA_LEN - WIRE_ETH_HLEN - 40);
	ip[6] = 58;
	ip[7] = 255;
	ip[8] = 0xfe, ip[9] = 0x80;
	iid_of(ip + 16, mac);
	ip[24] = 0xff, ip[25] = 0x02, ip[39] = 1;
	ra[0] = 134;			/* router advertisement, code 0 */
	ra[4] = 64;			/* cur hop limit; flags 0; router lifetime 0 */
	o[0] = 1, o[1] = 1;		/* source link-layer address */
	memcpy(o + 2, mac, 6);
	o += 8;
	o[0] = 5, o[1] = 1;		/* MTU */
	wire_put32(o + 4, 1500);
	o += 8;
	o[0] = 3, o[1] = 4;		/* prefix information */
	o[2] = 64;
	o[3] = 0xc0;			/* on-link, autonomous */
	wire_put32(o + 4, AGENT6_VALID_S);
	wire_put32(o + 8, AGENT6_PREFERRED_S);
	memcpy(o + 16, vm->prefix6, 8);
	csum = icmp6_csum(ip, AGENT6_RA_LEN - WIRE_ETH_HLEN - 40);
	memcpy(ra + 2, &csum, 2);
	return AGENT6_RA_LEN;
}

bool agent6_ra_due(const struct agent6 *s, struct dir_now now)
{
	return now.ns >= s->next_ra_ns;
}

void agent6_ra_vm(struct agent6 *s, const struct agent6_env *env, const struct agent_vm_cfg *vm)
{
	uint8_t f[AGENT6_RA_LEN];

	if (!vm->has_prefix6 || !vm->ifindex)
		return;
	agent6_ra_frame(env->node, vm, f);
	if (env->ops->arp_reply(env->ops->arg, vm->ifindex, f, sizeof(f)))
		s->st.ra_fail++;
	else
		s->st.ra_sent++;
}

uint64_t agent6_ra_done(struct agent6 *s, struct dir_now now)
{
	uint32_t ms = ++s->ra_rounds < AGENT6_RA_INITIAL ? AGENT6_RA_INITIAL_MS : AGENT6_RA_MS;

	s->next_ra_ns = now.ns + (uint64_t)ms * 1000000;
	return s->next_ra_ns;
}

void agent6_ra_restart(struct agent6 *s)
{
	s->ra_rounds = 0;
	s->next_ra_ns = 0;
}

/* ---- router solicitations ------------------------------------------------------ */

static bool rs_admit(struct agent6_rs_bucket *b, uint64_t now_ns)
{
	uint64_t step = AGENT6_RS_MS * 1000000ull;

	if (!b->started || now_ns < b->at_ns) {
		*b = (struct agent6_rs_bucket){ .at_ns = now_ns, .tokens = AGENT6_RS_BURST,
						.started = true };
	} else if (now_ns - b->at_ns >= step) {
		uint64_t add = (now_ns - b->at_ns) / step;

		b->tokens = (uint32_t)MIN((uint64_t)AGENT6_RS_BURST, b->tokens + add);
		b->at_ns += add * step;
	}
	if (!b->tokens)
		return false;
	b->tokens--;
	return true;
}

/* A Router Solicitation from vm, as the data plane checked it: Ethernet
 * from the VM's MAC, IPv6 with ICMPv6 type 133 code 0, hop limit 255. */
static bool rs_ok(const struct agent_vm_cfg *vm, const uint8_t *f, size_t len)
{
	uint8_t mac[6];
	const uint8_t *ip = f + WIRE_ETH_HLEN, *rs = ip + 40;

	if (len < WIRE_ETH_HLEN + 40 + 8)
		return false;
	pgr_mac_make(mac, pgr_id_of(vm->node, PGR_PRIMARY));
	return !memcmp(f + 6, mac, 6) && f[12] == 0x86 && f[13] == 0xdd && (ip[0] >> 4) == 6 &&
	       ip[6] == 58 && ip[7] == 255 && rs[0] == 133 && rs[1] == 0;
}

void agent6_rs(struct agent6 *s, const struct agent6_env *env, struct dir_now now,
	       const struct agent_vm_cfg *vm, struct agent6_rs_bucket *b,
	       const uint8_t *frame, size_t len)
{
	uint64_t sent;

	s->env = *env;
	if (!vm || !frame || !b || !vm->has_prefix6 || !rs_ok(vm, frame, len)) {
		s->st.rs_bad++;
		return;
	}
	if (!rs_admit(b, now.ns)) {
		s->st.rs_rate++;
		return;
	}
	sent = s->st.ra_sent;
	agent6_ra_vm(s, env, vm);
	s->st.rs_answered += s->st.ra_sent != sent;
}
