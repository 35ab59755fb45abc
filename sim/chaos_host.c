/* The chaos harness's servers: one real agent core each, its directory
 * client, the data plane's maps it writes (which outlive an agent restart,
 * as pinned maps do), and the packets that follow them across the
 * simulated fabric (docs/chaos.md). */
#include "sim/chaos_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "wire/pgr.h"

enum {
	HOST_TICK_MS = 100, VM_IFINDEX = 1000, WALK_SHOWN = 12,
	HOST_SCALE_PENDING = 16,	/* --fail: a directory client's requests in
					 * flight (1.4 KiB each; a server asks for
					 * its VMs' peers in one or two datagrams) */
};

/* ---- the maps ---------------------------------------------------------------------------- */

static uint64_t garp_key(uint32_t vdc, uint32_t ip_net)
{
	return (uint64_t)vdc << 32 | ip_net;
}

const struct pgr_garp_entry *chaos_host_garp(const struct chaos_host *h, uint32_t vdc,
					     uint32_t ip)
{
	uint64_t *slot = hmap_get(&h->garp, garp_key(vdc, htonl(ip)));

	return slot ? &h->gent[*slot] : NULL;
}

static int op_garp_set(void *arg, const struct pgr_garp_key *k, const struct pgr_garp_entry *g)
{
	struct chaos_host *h = arg;
	uint64_t key = garp_key(k->vdc, k->ip), *slot = hmap_get(&h->garp, key);
	uint32_t i;


	if (slot) {
		h->gent[*slot] = *g;
		if (!h->in_push)	/* a push does not extend the lease */
			h->gset[*slot] = h->c->q.now;
		chaos_scale_garp(h->c, h, (uint32_t)*slot);
		return 0;
	}
	if (h->ngfree) {
		i = h->gfree[--h->ngfree];
	} else {
		if (h->ngent == h->gcap) {
			h->gcap = h->gcap ? h->gcap * 2 : 64;
			h->gent = realloc(h->gent, h->gcap * sizeof(*h->gent));
			h->gkey = realloc(h->gkey, h->gcap * sizeof(*h->gkey));
			h->gfree = realloc(h->gfree, h->gcap * sizeof(*h->gfree));
			h->gset = realloc(h->gset, h->gcap * sizeof(*h->gset));
			h->gsw = realloc(h->gsw, 3 * h->gcap * sizeof(*h->gsw));
			if (!h->gent || !h->gkey || !h->gfree || !h->gset || !h->gsw)
				die("out of memory");
		}
		i = h->ngent++;
	}
	h->gent[i] = *g;
	h->gkey[i] = key;
	h->gset[i] = h->c->q.now;
	h->gsw[3 * i] = h->gsw[3 * i + 1] = h->gsw[3 * i + 2] = 0;
	hmap_put(&h->garp, key, i);
	chaos_scale_garp(h->c, h, i);
	return 0;
}

static int op_garp_del(void *arg, const struct pgr_garp_key *k)
{
	struct chaos_host *h = arg;
	uint64_t key = garp_key(k->vdc, k->ip), *slot = hmap_get(&h->garp, key);

	if (!slot)
		return -ENOENT;
	h->gfree[h->ngfree++] = (uint32_t)*slot;
	h->gkey[*slot] = UINT64_MAX;
	hmap_del(&h->garp, key);
	return 0;
}

static int op_vm_add(void *arg, const struct pgr_vm *vm, uint32_t backup_id)
{
	struct chaos_host *h = arg;

	hmap_put(&h->vmtab, vm->id, 1);
	hmap_put(&h->vmtab, backup_id, 1);
	return 0;
}

static int op_vm_del(void *arg, const struct pgr_vm *vm, uint32_t backup_id)
{
	struct chaos_host *h = arg;

	hmap_del(&h->vmtab, vm->id);
	hmap_del(&h->vmtab, backup_id);
	return 0;
}

static int op_arp_reply(void *arg, uint32_t ifindex, const uint8_t *frame, size_t len)
{
	return 0;
}

static int op_resend(void *arg, uint32_t ifindex, const uint8_t *frame, size_t len)
{
	return 0;	/* no frame is ever held: misses carry none */
}

static int op_ras_send(void *arg, const uint8_t *buf, size_t len)
{
	struct chaos_host *h = arg;

	chaos_send(h->c, chaos_ep_addr(CHAOS_EP_NODE + h->node, CHAOS_PORT_RAS),
		   chaos_ep_addr(CHAOS_EP_RAS, CHAOS_PORT), buf, len);
	return 0;
}


/* ---- the directory client ------------------------------------------------------------------ */

static void dc_send(void *arg, const uint8_t *buf, size_t len)
{
	struct chaos_host *h = arg;

	chaos_send(h->c, chaos_ep_addr(CHAOS_EP_NODE + h->node, CHAOS_PORT),
		   chaos_ep_addr(CHAOS_EP_DIR, CHAOS_PORT), buf, len);
}

static void dc_push(void *arg, uint8_t type, const struct dirp_entry *e)
{
	struct chaos_host *h = arg;

	if (h->a) {
		h->in_push = true;
		agent_on_push(h->a, type, e, chaos_now(h->c));
		h->in_push = false;
	}
}

/* ---- the agent ------------------------------------------------------------------------------ */

/* Room for one more VM in h's configuration. */
static void host_vm_room(struct chaos_host *h, uint32_t k)
{
	if (k < h->capvms)
		return;
	h->capvms = h->capvms ? 2 * h->capvms : 8;
	h->vms = realloc(h->vms, h->capvms * sizeof(*h->vms));
	if (!h->vms)
		die("out of memory");
}

static void host_config(struct chaos *c, struct chaos_host *h)
{
	const struct topo_node *n = &c->t->nodes[h->node];
	uint32_t k = 0, per = c->vms_per_server;
	/* until a VM moves, server s has VMs s * per .. s * per + per - 1 */
	uint32_t v0 = c->migrated ? 0 : h->index * per, v1 = c->migrated ? c->nvms : v0 + per;

	snprintf(h->cfg.server, sizeof(h->cfg.server), "%s", n->name);
	h->cfg.node = h->index + 1;
	h->cfg.nnics = n->degree;
	for (unsigned i = 0; i < n->degree; i++) {
		snprintf(h->cfg.nic[i], sizeof(h->cfg.nic[i]), "nic%u", i);
		h->cfg.nic_ifindex[i] = i + 1;
	}
	for (uint32_t v = v0; v < v1 && k < AGENT_MAX_VMS; v++) {
		struct agent_vm_cfg *vc;

		if (c->vm_at[v] != h->index)
			continue;
		host_vm_room(h, k);
		vc = &h->vms[k];
		memset(vc, 0, sizeof(*vc));
		snprintf(vc->name, sizeof(vc->name), "vm%u", v);
		snprintf(vc->port, sizeof(vc->port), "p%u", v);
		vc->vdc = c->vm_vdc[v];
		vc->ip = c->vm_ip[v];
		vc->node = chaos_vm_node(c, v);
		vc->ifindex = VM_IFINDEX + v;
		k++;
	}
	h->cfg.nvms = k;
	h->cfg.vms = h->vms;
}

static bool nic_up(const struct chaos *c, const struct chaos_host *h, unsigned nic)
{
	return chaos_link_live(c, topo_port(c->t, h->node, (uint16_t)nic)->link);
}

void chaos_host_start(struct chaos *c, uint32_t s)
{
	struct chaos_host *h = &c->host[s];
	struct agent_ops ops = { h, op_garp_set, op_garp_del, op_vm_add, op_vm_del, op_arp_reply,
				 op_resend, op_ras_send, { NULL, NULL }, NULL, NULL, NULL, NULL, NULL,
				 NULL };
	struct dirc_cfg dc = { .key = &c->key, .seed = rng_next(&c->q.rng), .send = dc_send,
			       .send_arg = h, .on_push = dc_push, .push_arg = h,
			       .max_pending = c->o->fail ? HOST_SCALE_PENDING : 0 };

	h->dc = dirc_new(&dc);
	char err[256];

	h->a = agent_new(&ops, h->dc, &c->key, chaos_now(c));
	if (!h->dc || !h->a)
		die("chaos: agent %u: out of memory", s);
	if (agent_topology_shared(h->a, c->agent_rt, c->t->nodes[h->node].name, s + 1, err,
				  sizeof(err)))
		die("chaos: agent %u: %s", s, err);
	host_config(c, h);
	agent_configure(h->a, &h->cfg, chaos_now(c));
	for (uint32_t i = 0; i < h->ngent; i++)
		if (h->gkey[i] != UINT64_MAX) {
			struct pgr_garp_key k = { (uint32_t)(h->gkey[i] >> 32), (uint32_t)h->gkey[i] };

			agent_adopt(h->a, &k, &h->gent[i], chaos_now(c));
		}
	for (unsigned i = 0; i < h->cfg.nnics; i++)
		if (!nic_up(c, h, i))
			agent_nic_state(h->a, i, false);
	h->last_tick = c->q.now;
	chaos_timer_at(c, CHAOS_EP_NODE + h->node, c->q.now + 1);
}

void chaos_host_stop(struct chaos *c, uint32_t s)
{
	struct chaos_host *h = &c->host[s];

	c->epgen[CHAOS_EP_NODE + h->node]++;
	agent_free(h->a);
	dirc_free(h->dc);
	h->a = NULL;
	h->dc = NULL;
}

void chaos_host_input(struct chaos *c, uint32_t s, uint16_t port, const uint8_t *buf, size_t len)
{
	struct chaos_host *h = &c->host[s];

	if (!h->a)
		return;
	agent_clock(h->a, chaos_now(c));
	if (port == CHAOS_PORT)
		dirc_input(h->dc, chaos_now(c), buf, len);
	else if (port == CHAOS_PORT_RAS)
		agent_ras_input(h->a, buf, len, chaos_now(c));
}

void chaos_host_timer(struct chaos *c, uint32_t s)
{
	struct chaos_host *h = &c->host[s];
	uint64_t next;

	agent_clock(h->a, chaos_now(c));
	next = dirc_tick(h->dc, chaos_now(c));
	if (c->q.now - h->last_tick >= AGENT_TRAFFIC_MS * CHAOS_MS) {
		h->last_tick = c->q.now;
		agent_tick(h->a, chaos_now(c));
		agent_flush(h->a, chaos_now(c));
	}
	if (next > c->q.now + HOST_TICK_MS * CHAOS_MS)
		next = c->q.now + HOST_TICK_MS * CHAOS_MS;
	chaos_timer_at(c, CHAOS_EP_NODE + h->node, next);
}

void chaos_host_nic(struct chaos *c, uint32_t s, unsigned nic, bool up)
{
	if (c->host[s].a)
		agent_nic_state(c->host[s].a, nic, up);
}

void chaos_host_reconfigure(struct chaos *c, uint32_t s)
{
	struct chaos_host *h = &c->host[s];

	host_config(c, h);
	if (h->a)
		agent_configure(h->a, &h->cfg, chaos_now(c));
}

int chaos_hosts_init(struct chaos *c)
{
	char err[256];

	/* every agent computes the same trees of the whole fabric (no
	 * failures): computed once, shared (agent_topology_shared) */
	if (route_trees_new(c->t, NULL, NULL, &c->agent_rt, err, sizeof(err)))
		die("chaos: agents' trees: %s", err);
	c->host = calloc(c->t->nservers, sizeof(*c->host));
	if (!c->host)
		die("out of memory");
	for (uint32_t s = 0; s < c->t->nservers; s++) {
		struct chaos_host *h = &c->host[s];

		h->c = c;
		h->index = s;
		h->node = c->t->servers[s];
		hmap_init(&h->garp, 64, 21);
		hmap_init(&h->vmtab, 16, 22);
	}
	return 0;
}

void chaos_hosts_free(struct chaos *c)
{
	for (uint32_t s = 0; c->host && s < c->t->nservers; s++) {
		struct chaos_host *h = &c->host[s];

		if (h->a)
			agent_free(h->a);
		if (h->dc)
			dirc_free(h->dc);
		free(h->vms);
		free(h->gent);
		free(h->gkey);
		free(h->gfree);
		free(h->gset);
		free(h->gsw);
		hmap_free(&h->garp);
		hmap_free(&h->vmtab);
	}
	free(c->host);
	route_trees_free(c->agent_rt);
}

/* ---- the data plane ---------------------------------------------------------------------------
 * What from_vm, the switches and from_net do with one IPv4 packet, reduced
 * to the decisions: which entry, which tree and NIC, which port at each
 * switch, which VM at the end.  (To be replaced by the data plane's shared
 * forwarding decision once it exists as one piece of C.) */

static bool vm_here(const struct chaos *c, const struct chaos_host *h, uint32_t id)
{
	uint32_t vm = chaos_vm_of_id(c, id);

	return vm != UINT32_MAX && hmap_get(&h->vmtab, id) && c->vm_at[vm] == h->index;
}

static bool arrive(struct chaos *c, uint32_t src, uint32_t dst, const struct chaos_host *h,
		   uint32_t id)
{
	uint32_t got = chaos_vm_of_id(c, id);

	if (!vm_here(c, h, id))
		return false;	/* from_net: no such VM here (it moved) */
	if (got != dst)
		chaos_violation(c, CHAOS_INV_isolation,
				"vm%u (vdc %u) sent to 10.%u.%u.%u, vm%u's address, and vm%u "
				"(vdc %u) received it", src, c->vm_vdc[src], c->vm_ip[dst] >> 16 & 255,
				c->vm_ip[dst] >> 8 & 255, c->vm_ip[dst] & 255, dst, got,
				c->vm_vdc[got]);
	return got == dst;
}

/* Across the fabric from server node `from` out of port `port` toward
 * intermediary `im`; the server it reaches, or UINT32_MAX when dropped. */
static uint32_t walk(struct chaos *c, uint32_t from, uint16_t port, const uint8_t im[6],
		     uint32_t src)
{
	uint32_t node = from, hops = 0, path[WALK_SHOWN];
	uint32_t id = pgr_mac_id(im), owner = pgr_id_node(id);

	if (owner < 1 || owner > c->t->nservers)
		return UINT32_MAX;
	for (;;) {
		const struct topo_adj *a;

		if (port >= c->t->nodes[node].degree)
			return UINT32_MAX;
		a = topo_port(c->t, node, port);
		if (!chaos_link_live(c, a->link))
			return UINT32_MAX;
		node = a->peer;
		if (topo_is_server(c->t, node))
			return c->t->nodes[node].index;
		if (hops < WALK_SHOWN)
			path[hops] = node;
		if (++hops > c->t->nswitches) {
			char buf[160];
			size_t n = 0;

			for (uint32_t i = 0; i < hops - 1 && i < WALK_SHOWN && n < sizeof(buf) - 20; i++)
				n += (size_t)snprintf(buf + n, sizeof(buf) - n, " %s",
						      c->t->nodes[path[i]].name);
			if (!c->o->strict_loops && (!c->ras || !ras_stats(c->ras)->converged ||
			    chaos_ras_intent(c, owner - 1, pgr_id_tree(id)) == 0)) {
				/* while the RAS reprograms the fabric, or on a tree it
				 * withdrew: counted, not a violation (docs/chaos.md) */
				c->res->loops_transient++;
				chaos_trace(c, "transient loop: %s tree %u:%s",
					    c->t->nodes[c->t->servers[owner - 1]].name,
					    pgr_id_tree(id), buf);
				return UINT32_MAX;
			}
			chaos_violation(c, CHAOS_INV_loop, "vm%u's packet from %s to %s tree %u "
					"loops:%s", src, c->t->nodes[from].name,
					c->t->nodes[c->t->servers[owner - 1]].name, pgr_id_tree(id),
					buf);
			return UINT32_MAX;
		}
		port = c->sw[node].fib[(owner - 1) * 2 + pgr_id_tree(id)];
		if (port == ROUTE_NO_PORT)
			return UINT32_MAX;
	}
}


void chaos_host_miss(struct chaos *c, uint32_t src, uint32_t vdc, uint32_t ip)
{
	struct chaos_host *h = &c->host[c->vm_at[src]];
	struct pgr_event ev = { .type = PGR_EV_IP_MISS, .vdc = vdc, .ip = htonl(ip),
				.vm_id = pgr_id_of(chaos_vm_node(c, src), PGR_PRIMARY),
				.ifindex = VM_IFINDEX + src };

	if (h->a)
		agent_miss(h->a, &ev, NULL, 0, chaos_now(c));
}

void chaos_host_flush(struct chaos *c, uint32_t s)
{
	if (c->host[s].a)
		agent_flush(c->host[s].a, chaos_now(c));
}

static void miss(struct chaos *c, struct chaos_host *h, uint32_t src, uint32_t vdc, uint32_t ip)
{
	struct pgr_event ev = { .type = PGR_EV_IP_MISS, .vdc = vdc, .ip = htonl(ip),
				.vm_id = pgr_id_of(chaos_vm_node(c, src), PGR_PRIMARY),
				.ifindex = VM_IFINDEX + src };

	if (!h->a)
		return;
	agent_miss(h->a, &ev, NULL, 0, chaos_now(c));
	agent_flush(h->a, chaos_now(c));
}

bool chaos_packet(struct chaos *c, uint32_t src, uint32_t dst_any, bool resolve)
{
	struct chaos_host *h = &c->host[c->vm_at[src]];
	uint32_t vdc = c->vm_vdc[src], ip = c->vm_ip[dst_any];
	uint32_t dst = chaos_vm_by_key(c, vdc, ip), to, tree;
	const struct pgr_garp_entry *g;
	bool ok;

	if (dst == UINT32_MAX || dst == src)
		return false;
	c->res->packets++;
	if (!vm_here(c, h, pgr_id_of(chaos_vm_node(c, src), PGR_PRIMARY)))
		return false;	/* its port is not attached yet */
	if (!(g = chaos_host_garp(h, vdc, ip))) {
		if (resolve)
			miss(c, h, src, vdc, ip);
		return false;
	}
	if (g->flags & PGR_GARP_LOCAL) {
		ok = arrive(c, src, dst, h, pgr_mac_id(g->vm_mac[PGR_PRIMARY]));
	} else {
		if (g->avail & PGR_AVAIL_IM_PRI)
			tree = PGR_PRIMARY;
		else if (g->avail & PGR_AVAIL_IM_BAK)
			tree = PGR_BACKUP;
		else
			return false;
		if (!g->egress_ifindex[tree] || g->egress_ifindex[tree] > h->cfg.nnics)
			return false;
		to = walk(c, h->node, (uint16_t)(g->egress_ifindex[tree] - 1), g->im_mac[tree], src);
		if (to == UINT32_MAX || to + 1 != pgr_id_node(pgr_mac_id(g->im_mac[tree])))
			return false;	/* from_net: not addressed to this server */
		ok = arrive(c, src, dst, &c->host[to], pgr_mac_id(g->vm_mac[tree]));
	}
	c->res->delivered += ok;
	return ok;
}
