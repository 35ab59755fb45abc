/* The host agent's core (agent/agent.h): the cache of directory entries
 * behind the GARP map, the local VMs, leases, pushes, NIC state and the
 * traffic reports.  No I/O: everything goes through struct agent_ops and the
 * caller's directory client. */
#include "agent/agent.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "lib/hash.h"
#include "lib/core.h"
#include "wire/frame.h"
#include "wire/pgr.h"
#include "wire/rasproto.h"
#include "wire/be.h"
#include "wire/frame.h"

enum entry_state { E_FREE, E_PENDING, E_VALID, E_NEGATIVE };

#define HOLD_NONE UINT32_MAX

/* A held frame: one slot of the pool, in its entry's queue (oldest first). */
struct held {
	uint32_t next;		/* next slot in the queue, HOLD_NONE: last */
	uint32_t ifindex;	/* the port it came from */
	uint64_t t_ns;		/* when it missed */
	uint16_t len;
	uint8_t frame[PGR_DP_HOLD_FRAME];
};

struct waiter {
	uint32_t ifindex;
	uint8_t mac[6];
	uint32_t ip;		/* host order */
};

struct entry {
	uint32_t slot;		/* its index */
	uint8_t state;
	bool used;		/* traffic since the last renewal */
	bool direct;
	bool via_default;	/* the VDC's default route answered it (docs/edge.md) */
	uint8_t direct_tree;
	uint8_t dir_avail;	/* the directory's availability */
	uint8_t nwait;
	uint8_t nhold;		/* frames held */
	int8_t nic[PGR_TREES];	/* NIC index per tree, -1: none */
	uint32_t hold_head, hold_tail;	/* held frames, HOLD_NONE: none */
	uint32_t vdc, ip;	/* host order */
	uint32_t dst_id;	/* the destination VM's primary ID */
	int64_t req;		/* LOOKUP/RENEW in flight, 0: none */
	uint64_t sent_ns;	/* when that request went out */
	uint64_t expire_ns, renew_ns;
	struct pgr_garp_entry g;	/* as written to the map */
	struct waiter wait[AGENT_WAITERS];
	struct agent_failover_entry fo;	/* agent/failover.h */
};

struct local_vm {
	struct agent_vm_cfg c;
	struct agent_dhcp_bucket dhcp;	/* its DHCP messages' rate */
	struct agent_mcast_state mcast;	/* its groups, its reports' rate */
	struct agent6_rs_bucket rs;	/* its router solicitations' rate */
	bool registered;
	bool seen;		/* in the configuration being applied */
};

struct prev {
	uint64_t key;		/* src << 32 | dst */
	uint64_t packets, bytes;
	uint32_t round;
};

struct agent {
	struct agent_ops ops;
	struct dirc *dirc;
	const struct auth_key *key;
	struct agent_stats st;
	struct agent_failover_hist fo_hist;	/* agent/failover.h */
	struct log_rl rl;
	uint64_t now_ns;

	/* the fabric (agent_topology) */
	const struct topo *t;
	struct route_trees *rt;
	bool rt_shared;			/* rt is the caller's (agent_topology_shared) */
	uint32_t self;			/* topology node id */

	/* the configuration */
	uint32_t node;
	unsigned nnics;
	uint32_t nic_ifindex[AGENT_MAX_NICS];
	bool nic_down[AGENT_MAX_NICS];

	struct local_vm *vms;
	unsigned nvms, cap_vms;
	struct agent6 v6;		/* IPv6: agent/agent6.c */
	struct agent_grps grps;		/* group replication: agent/grp.c */
	struct agent_grp_env genv;	/* what grps is lent (grp_env) */
	struct agent_grp_vm *gvms;	/* cap_vms */
	uint64_t next_register_ns;
	bool configured;

	/* the cache */
	struct entry **chunk;	/* slot i: chunk[i / ENT_CHUNK][i % ENT_CHUNK],
				 * allocated as slots are first taken: an
				 * agent holding a few entries costs a few
				 * KiB, not AGENT_CACHE_MAX slots */
	uint32_t nchunks;
	uint32_t *free_list;	/* freed slots (taken first), then nslots up */
	uint32_t nfree;
	uint32_t nslots;	/* slots ever taken: every slot from here up is
				 * free, so walks stop here (an idle agent with
				 * a few entries touches a few pages, not 10 MB
				 * a second) */
	struct hmap by_key;	/* vdc << 32 | ip -> slot */
	struct hmap by_dst;	/* destination VM id -> slot */
	struct hmap direct;	/* destination VM id -> tree + 1 (RAS DIRECT) */
	uint32_t *queue;	/* slots waiting for a LOOKUP (room for every slot) */
	uint32_t nqueue;

	/* held frames */
	struct held *hold;	/* AGENT_HOLD_MAX slots */
	uint32_t *hold_free;
	uint32_t nhold_free;
	size_t hold_bytes;

	/* traffic */
	struct hmap prev_at;	/* src << 32 | dst -> index into prev */
	struct prev *prev;
	uint32_t nprev, cap_prev, round;
	struct rasp_flow *flows;
	uint32_t nflows, cap_flows;
	uint64_t ras_seq;
	struct rasp_replay *ras_replay;
};

/* ---- helpers --------------------------------------------------------------- */

static uint64_t key64(uint32_t vdc, uint32_t ip)
{
	return (uint64_t)vdc << 32 | ip;
}

static void bad(struct agent *a, uint64_t *counter, const char *fmt, const char *what)
{
	(*counter)++;
	core_log_rl(&a->ops.log, &a->rl, a->now_ns, LOG_WARN, fmt, what);
}

enum { ENT_CHUNK = 256 };	/* cache slots allocated at a time */

static struct entry *ent_at(const struct agent *a, uint32_t slot)
{
	return &a->chunk[slot / ENT_CHUNK][slot % ENT_CHUNK];
}

/* A slot never taken before: nslots, with room for it. */
static bool grow_slots(struct agent *a)
{
	uint32_t cap = a->nchunks * ENT_CHUNK;

	if (a->nslots >= AGENT_CACHE_MAX)
		return false;
	if (a->nslots == cap) {
		a->chunk = xreallocarray(a->chunk, a->nchunks + 1, sizeof(*a->chunk));
		a->chunk[a->nchunks++] = xcalloc(ENT_CHUNK, sizeof(struct entry));
		cap += ENT_CHUNK;
		a->free_list = xreallocarray(a->free_list, cap, sizeof(*a->free_list));
		a->queue = xreallocarray(a->queue, cap, sizeof(*a->queue));
	}
	a->free_list[a->nfree++] = a->nslots;
	return true;
}

static struct entry *find(const struct agent *a, uint32_t vdc, uint32_t ip)
{
	uint64_t *v = hmap_get(&a->by_key, key64(vdc, ip));

	return v ? ent_at(a, *v) : NULL;
}

static struct entry *alloc_entry(struct agent *a, uint32_t vdc, uint32_t ip)
{
	struct entry *e;
	uint32_t slot;

	if (!a->nfree && !grow_slots(a))
		return NULL;
	slot = a->free_list[--a->nfree];
	a->nslots = MAX(a->nslots, slot + 1);
	e = ent_at(a, slot);
	memset(e, 0, sizeof(*e));
	e->slot = slot;
	e->vdc = vdc;
	e->ip = ip;
	e->nic[0] = e->nic[1] = -1;
	e->hold_head = e->hold_tail = HOLD_NONE;
	hmap_put(&a->by_key, key64(vdc, ip), slot);
	return e;
}

/* ---- held frames ------------------------------------------------------------ */

/* Take the oldest frame off e's queue; the caller releases its slot. */
static struct held *hold_pop(struct agent *a, struct entry *e)
{
	struct held *h = &a->hold[e->hold_head];

	e->hold_head = h->next;
	if (e->hold_head == HOLD_NONE)
		e->hold_tail = HOLD_NONE;
	e->nhold--;
	return h;
}

static void hold_release(struct agent *a, struct held *h)
{
	a->hold_bytes -= h->len;
	a->hold_free[a->nhold_free++] = (uint32_t)(h - a->hold);
}

/* Drop every frame e holds, counted under *why. */
static void hold_drop_all(struct agent *a, struct entry *e, uint64_t *why)
{
	while (e->nhold) {
		hold_release(a, hold_pop(a, e));
		(*why)++;
	}
}

/* Drop the frames older than AGENT_HOLD_MS from the front of e's queue. */
static void hold_expire(struct agent *a, struct entry *e, uint64_t now_ns)
{
	while (e->nhold && now_ns - a->hold[e->hold_head].t_ns > AGENT_HOLD_MS * 1000000ull) {
		hold_release(a, hold_pop(a, e));
		a->st.held_drop_age++;
	}
}

static void hold_push(struct agent *a, struct entry *e, uint32_t ifindex, const uint8_t *frame,
		      size_t len, uint64_t now_ns)
{
	struct held *h;
	uint32_t slot;

	hold_expire(a, e, now_ns);
	if (e->nhold == AGENT_HOLD_PER_DST) {
		hold_release(a, hold_pop(a, e));
		a->st.held_drop_full++;
	}
	if (!a->nhold_free || a->hold_bytes + len > AGENT_HOLD_BYTES) {
		a->st.held_drop_pool++;
		return;
	}
	if (!a->hold)	/* the frames' room, on the first frame held */
		a->hold = xmalloc(AGENT_HOLD_MAX * sizeof(*a->hold));
	slot = a->hold_free[--a->nhold_free];
	h = &a->hold[slot];
	h->next = HOLD_NONE;
	h->ifindex = ifindex;
	h->t_ns = now_ns;
	h->len = (uint16_t)len;
	memcpy(h->frame, frame, len);
	a->hold_bytes += len;
	if (e->hold_tail == HOLD_NONE)
		e->hold_head = slot;
	else
		a->hold[e->hold_tail].next = slot;
	e->hold_tail = slot;
	e->nhold++;
	a->st.held++;
}

/* One frame back into the data plane, its checksum completed if the VM left
 * it to offload (the copy carries only the pseudo-header sum then). */
static void hold_send_one(struct agent *a, uint32_t ifindex, uint8_t *frame, size_t len)
{
	if (wire_l4_csum_complete(frame, len) == WIRE_L4_CSUM_COMPLETED)
		a->st.held_csum++;
	if (a->ops.resend(a->ops.arg, ifindex, frame, len))
		a->st.held_drop_send++;
	else
		a->st.held_sent++;
}

/* The entry is in the map now: send what it holds, oldest first. */
static void hold_flush(struct agent *a, struct entry *e)
{
	hold_expire(a, e, a->now_ns);
	while (e->nhold) {
		struct held *h = hold_pop(a, e);

		hold_send_one(a, h->ifindex, h->frame, h->len);
		hold_release(a, h);
	}
}

/* A frame the event says missed (vdc, ip): IPv4, to that address. */
static bool hold_frame_ok(const uint8_t *frame, size_t len, uint32_t ip_be)
{
	struct wire_frame f;

	return len <= PGR_DP_HOLD_FRAME && wire_frame_parse(frame, len, &f) == WIRE_OK && f.ip &&
	       f.ip->daddr == ip_be;
}

static void garp_key(const struct entry *e, struct pgr_garp_key *k)
{
	k->vdc = e->vdc;
	k->ip = htonl(e->ip);
}

static void free_entry(struct agent *a, struct entry *e)
{
	uint32_t slot = e->slot;
	uint64_t *d;

	if (e->state == E_VALID) {
		struct pgr_garp_key k;

		garp_key(e, &k);
		int ret = a->ops.garp_del(a->ops.arg, &k);

		if (ret && ret != -ENOENT)
			a->st.map_errors++;
		d = hmap_get(&a->by_dst, e->dst_id);
		if (d && *d == slot)
			hmap_del(&a->by_dst, e->dst_id);
	}
	hold_drop_all(a, e, &a->st.held_drop_unresolved);
	hmap_del(&a->by_key, key64(e->vdc, e->ip));
	e->state = E_FREE;
	a->free_list[a->nfree++] = slot;
}

static struct local_vm *vm_by_port(struct agent *a, uint32_t ifindex)
{
	for (unsigned i = 0; i < a->nvms; i++)
		if (a->vms[i].c.ifindex == ifindex)
			return &a->vms[i];
	return NULL;
}

/* ---- writing an entry ------------------------------------------------------ */

static const uint8_t tree_bits[PGR_TREES] = {
	PGR_AVAIL_VM_PRI | PGR_AVAIL_IM_PRI,
	PGR_AVAIL_VM_BAK | PGR_AVAIL_IM_BAK,
};

/* The directory's availability, less the trees whose NIC is down or
 * missing, less the primary when the RAS routes this pair direct on tree 1.
 *
 * The directory marks a tree unavailable while the RAS changes its routes:
 * "use the other one".  When it holds both of a destination's trees at once
 * (a recovery that moves both), sending on a tree being reprogrammed may
 * well arrive, while dropping surely loses everything: the entry then uses
 * what its own NICs allow (counted in both_held). */
static uint8_t effective_avail(struct agent *a, const struct entry *e)
{
	static const uint8_t pairs[2] = { PGR_AVAIL_IM_PRI | PGR_AVAIL_IM_BAK,
					  PGR_AVAIL_VM_PRI | PGR_AVAIL_VM_BAK };
	uint8_t usable = PGR_AVAIL_VM_PRI | PGR_AVAIL_VM_BAK | PGR_AVAIL_IM_PRI | PGR_AVAIL_IM_BAK;
	uint8_t avail = e->dir_avail;

	if (e->g.flags & PGR_GARP_LOCAL)
		return avail;
	for (unsigned t = 0; t < PGR_TREES; t++)
		if (e->nic[t] < 0 || a->nic_down[e->nic[t]])
			usable &= (uint8_t)~tree_bits[t];
	if (!(e->dir_avail & pairs[0]) || !(e->dir_avail & pairs[1]))
		a->st.both_held++;
	for (unsigned i = 0; i < 2; i++)
		if (!(e->dir_avail & pairs[i]))
			avail |= pairs[i];
	avail &= usable;
	if (e->direct && e->direct_tree == 1)
		avail &= (uint8_t)~PGR_AVAIL_VM_PRI;
	return avail;
}

static void write_entry(struct agent *a, struct entry *e)
{
	struct pgr_garp_key k;

	e->g.avail = effective_avail(a, e);
	e->g.flags = (uint8_t)((e->g.flags & PGR_GARP_LOCAL) | (e->direct ? PGR_GARP_DIRECT : 0));
	for (unsigned t = 0; t < PGR_TREES; t++)
		e->g.egress_ifindex[t] = e->nic[t] >= 0 ? a->nic_ifindex[e->nic[t]] : 0;
	garp_key(e, &k);
	if (a->ops.garp_set(a->ops.arg, &k, &e->g))
		a->st.map_errors++;
}

/* Take a directory record (status OK) into e: MACs, availability, NICs. */
static bool take_record(struct agent *a, struct entry *e, const struct dirp_entry *r)
{
	uint32_t im_node, slot = e->slot;
	uint32_t old_im = e->state == E_VALID ? pgr_id_node(pgr_mac_id(e->g.im_mac[PGR_PRIMARY])) : 0;
	uint64_t *dir;

	for (unsigned i = 0; i < DIRP_NMACS; i++)
		if (!pgr_mac_valid(r->mac[i])) {
			bad(a, &a->st.dir_bad, "directory: %s: a MAC is not Peregrine's", "record");
			return false;
		}
	memcpy(e->g.vm_mac, r->mac[DIRP_VM_PRI], sizeof(e->g.vm_mac));
	memcpy(e->g.im_mac, r->mac[DIRP_IM_PRI], sizeof(e->g.im_mac));
	e->g.version = r->version;
	e->via_default = r->flags & DIRP_ENTRY_DEFAULT;
	if (e->state == E_VALID)	/* a push or a renewal: a fail-over or back? */
		switch (agent_failover_update(&a->fo_hist, &e->fo, e->dir_avail, r->avail,
					      DIRP_AVAIL_ALL, a->now_ns)) {
		case 1: a->st.failovers++; break;
		case -1: a->st.failbacks++; break;
		}
	e->dir_avail = r->avail & DIRP_AVAIL_ALL;
	im_node = pgr_id_node(pgr_mac_id(r->mac[DIRP_IM_PRI]));
	/* The VM moved to another server: its direct route leads to the old
	 * one, so indirect at once, until the RAS routes it again. */
	if (old_im && old_im != im_node && hmap_del(&a->direct, pgr_mac_id(r->mac[DIRP_VM_PRI])))
		a->st.direct_moved++;
	e->g.flags = im_node == a->node ? PGR_GARP_LOCAL : 0;
	for (unsigned t = 0; t < PGR_TREES; t++) {
		int nic = im_node == a->node ? -1 : agent_tree_nic(a, im_node, t);

		e->nic[t] = (int8_t)(nic >= 0 && (unsigned)nic < a->nnics ? nic : -1);
	}
	if (e->state == E_VALID && e->dst_id != pgr_mac_id(e->g.vm_mac[PGR_PRIMARY])) {
		uint64_t *d = hmap_get(&a->by_dst, e->dst_id);

		if (d && *d == slot)
			hmap_del(&a->by_dst, e->dst_id);
	}
	e->dst_id = pgr_mac_id(e->g.vm_mac[PGR_PRIMARY]);
	hmap_put(&a->by_dst, e->dst_id, slot);
	dir = hmap_get(&a->direct, e->dst_id);
	e->direct = dir != NULL;
	e->direct_tree = dir ? (uint8_t)(*dir - 1) : 0;
	return true;
}

/* ---- ARP replies ----------------------------------------------------------- */

/* "target ip is at target_mac", to the asker. */
static void arp_reply(struct agent *a, const struct entry *e, const struct waiter *w)
{
	uint8_t f[AGENT_ARP_LEN];
	size_t len = wire_build_arp(f, sizeof(f), WIRE_ARP_REPLY, w->mac,
				    e->g.vm_mac[PGR_PRIMARY], htonl(e->ip), w->mac,
				    htonl(w->ip));

	assert(len == sizeof(f));
	if (a->ops.arp_reply(a->ops.arg, w->ifindex, f, len))
		a->st.map_errors++;
	else
		a->st.arp_replies++;
}

/* ---- DHCP (agent/dhcp.h) ------------------------------------------------------ */

static void dhcp_vm(const struct agent *a, const struct local_vm *vm, struct agent_dhcp_vm *d)
{
	d->c = &vm->c;
	pgr_mac_make(d->mac, pgr_id_of(vm->c.node, PGR_PRIMARY));
	pgr_mac_make(d->server_mac, pgr_id_of(a->node, PGR_PRIMARY));
}

static void dhcp_count(struct agent *a, enum agent_dhcp_verdict v)
{
	a->st.dhcp[v]++;
	if (v >= AGENT_DHCP_drop_frame)
		core_log_rl(&a->ops.log, &a->rl, a->now_ns, LOG_WARN,
			    "DHCP from a VM dropped: %s", agent_dhcp_desc(v));
}

/* A DHCP frame from the VM behind ev->ifindex (PGR_EV_DHCP). */
static void dhcp_input(struct agent *a, struct local_vm *vm, const uint8_t *frame, size_t len)
{
	uint8_t out[AGENT_DHCP_FRAME_MAX];
	struct agent_dhcp_vm d;
	enum agent_dhcp_verdict v;
	size_t n;

	if (!agent_dhcp_admit(&vm->dhcp, a->now_ns)) {
		dhcp_count(a, AGENT_DHCP_drop_rate);
		return;
	}
	dhcp_vm(a, vm, &d);
	v = agent_dhcp_answer(&d, frame, len, out, &n);
	if (n && a->ops.arp_reply(a->ops.arg, vm->c.ifindex, out, n))
		v = AGENT_DHCP_drop_send;
	dhcp_count(a, v);
}

/* An ARP request for the DHCP server's address (a client renews by unicast
 * to it) that the directory does not know: the server's MAC.  Asked only
 * after NOT FOUND, so that a VM holding that address stays reachable (a
 * renewal sent to it is still the agent's: from_vm hands every datagram to
 * port 67 over, whatever its destination MAC). */
static bool dhcp_arp(struct agent *a, const struct local_vm *vm, uint32_t ip)
{
	uint8_t f[AGENT_ARP_LEN];
	struct agent_dhcp_vm d;
	size_t len;

	if (!vm || !vm->c.plen || ip != agent_dhcp_server_id(&vm->c))
		return false;
	dhcp_vm(a, vm, &d);
	len = wire_build_arp(f, sizeof(f), WIRE_ARP_REPLY, d.mac, d.server_mac, htonl(ip), d.mac,
			     htonl(vm->c.ip));
	dhcp_count(a, a->ops.arp_reply(a->ops.arg, vm->c.ifindex, f, len) ? AGENT_DHCP_drop_send
									    : AGENT_DHCP_arp);
	return true;
}

/* ---- lookups ----------------------------------------------------------------- */

static void lookup_record(struct agent *a, const struct dirp_entry *r)
{
	struct entry *e = find(a, r->vdc, r->ip);
	bool was_valid;

	if (!e || e->state == E_FREE || !e->req) {
		a->st.pushes_stale++;	/* an answer nobody waits for any more */
		return;
	}
	was_valid = e->state == E_VALID;
	if (r->status != DIRP_OK) {
		a->st.not_found++;
		if (was_valid) {
			free_entry(a, e);
			return;
		}
		e->state = E_NEGATIVE;
		e->req = 0;
		for (unsigned i = 0; i < e->nwait; i++)	/* the DHCP server's address? */
			dhcp_arp(a, vm_by_port(a, e->wait[i].ifindex), e->ip);
		e->nwait = 0;
		hold_drop_all(a, e, &a->st.held_drop_unresolved);
		e->expire_ns = e->sent_ns + (uint64_t)(r->lease_ms ? r->lease_ms : DIR_NEG_LEASE_MS) * 1000000;
		return;
	}
	if (was_valid && r->version < e->g.version) {
		e->req = 0;	/* a push got here first; keep it, extend the lease */
	} else if (!take_record(a, e, r)) {
		if (!was_valid) {
			free_entry(a, e);
			return;
		}
	}
	e->expire_ns = e->sent_ns + (uint64_t)r->lease_ms * 1000000;
	e->renew_ns = e->expire_ns - (uint64_t)r->lease_ms * 1000000 / AGENT_RENEW_FRACTION;
	e->req = 0;
	e->state = E_VALID;
	write_entry(a, e);
	if (!was_valid)
		a->st.filled++;
	for (unsigned i = 0; i < e->nwait; i++)
		arp_reply(a, e, &e->wait[i]);
	e->nwait = 0;
	hold_flush(a, e);
}

static void on_lookup_reply(void *arg, uint64_t req_id, const struct dirp_msg *m)
{
	struct agent *a = arg;

	if (!m) {
		a->st.lookup_timeouts++;
		for (uint32_t i = 0; i < a->nslots; i++) {
			struct entry *e = ent_at(a, i);

			if (e->state == E_FREE || e->req != (int64_t)req_id)
				continue;
			e->req = 0;
			if (e->state == E_PENDING)
				free_entry(a, e);	/* the next miss asks again */
		}
		return;
	}
	for (unsigned i = 0; i < m->h.count; i++) {
		struct dirp_entry r;

		dirp_get_entry(m, i, &r);
		lookup_record(a, &r);
	}
}

static void send_lookups(struct agent *a, struct dir_now now, uint8_t type, uint32_t *slots,
			 uint32_t n)
{
	struct dirp_key keys[DIRP_MAX_RECORDS];

	for (uint32_t done = 0; done < n;) {
		uint32_t k = MIN(n - done, (uint32_t)DIRP_MAX_RECORDS);
		int64_t id;

		for (uint32_t i = 0; i < k; i++) {
			keys[i].vdc = ent_at(a, slots[done + i])->vdc;
			keys[i].ip = ent_at(a, slots[done + i])->ip;
		}
		id = dirc_request(a->dirc, now, type, keys, k, on_lookup_reply, a);
		for (uint32_t i = 0; i < k; i++) {
			struct entry *e = ent_at(a, slots[done + i]);

			e->req = id > 0 ? id : 0;
			e->sent_ns = now.ns;
		}
		if (id <= 0) {
			a->st.lookup_timeouts++;
			for (uint32_t i = 0; i < k; i++)
				if (ent_at(a, slots[done + i])->state == E_PENDING)
					free_entry(a, ent_at(a, slots[done + i]));
		} else if (type == DIRP_LOOKUP) {
			a->st.lookups++;
			a->st.lookup_keys += k;
		} else {
			a->st.renews += k;
		}
		done += k;
	}
}

void agent_flush(struct agent *a, struct dir_now now)
{
	a->now_ns = now.ns;
	send_lookups(a, now, DIRP_LOOKUP, a->queue, a->nqueue);
	a->nqueue = 0;
}

static bool valid_event(const struct pgr_event *ev, const struct local_vm *vm)
{
	return (ev->type == PGR_EV_ARP_MISS || ev->type == PGR_EV_IP_MISS) && vm &&
	       ev->vm_id == pgr_id_of(vm->c.node, PGR_PRIMARY) && ev->vdc == vm->c.vdc &&
	       ev->ip != 0;
}

/* The frame of an IPv4 miss: held while the entry is pending, sent at once
 * if the entry is already written (the miss raced with the map write),
 * dropped if the directory said NOT FOUND. */
static void miss_frame(struct agent *a, struct entry *e, const struct pgr_event *ev,
		       const uint8_t *frame, size_t len)
{
	uint8_t copy[PGR_DP_HOLD_FRAME];

	if (!hold_frame_ok(frame, len, ev->ip)) {
		bad(a, &a->st.held_bad, "held frame dropped: %s", "not IPv4 to the missed address");
		return;
	}
	if (e->state == E_PENDING) {
		hold_push(a, e, ev->ifindex, frame, len, a->now_ns);
	} else if (e->state == E_VALID) {
		memcpy(copy, frame, len);
		hold_send_one(a, ev->ifindex, copy, len);
	} else {
		a->st.held_drop_unresolved++;
	}
}

static struct agent_mcast_env mcast_env(struct agent *a, const struct local_vm *vm)
{
	struct agent_mcast_env env = { .dirc = a->dirc, .vdc = vm->c.vdc, .server = a->node,
				       .st = a->st.mcast, .send_fail = &a->st.mcast_send_fail };

	pgr_mac_make(env.vm_mac, pgr_id_of(vm->c.node, PGR_PRIMARY));
	for (unsigned t = 0; t < PGR_TREES; t++)
		pgr_mac_make(env.server_mac[t], pgr_id_of(a->node, t));
	return env;
}

/* Every VM into its VDC's broadcast group, and its groups again. */
static void register_groups(struct agent *a, struct dir_now now)
{
	for (unsigned i = 0; i < a->nvms; i++) {
		struct agent_mcast_env env;

		if (!a->vms[i].c.ifindex)
			continue;
		env = mcast_env(a, &a->vms[i]);
		agent_mcast_refresh(&env, &a->vms[i].mcast, now);
	}
}

static int grp_tree_nic(const void *arg, uint32_t node, unsigned tree)
{
	return agent_tree_nic(arg, node, tree);
}

/* The group table's view of this agent, refreshed before every call. */
static const struct agent_grp_env *grp_env(struct agent *a)
{
	struct agent_grp_env *g = &a->genv;

	*g = (struct agent_grp_env){ .dirc = a->dirc, .node = a->node, .nnics = a->nnics,
				     .nic_ifindex = a->nic_ifindex, .nic_down = a->nic_down,
				     .tree_nic = grp_tree_nic, .tree_arg = a,
				     .set = a->ops.mcast_set, .del = a->ops.mcast_del,
				     .arg = a->ops.arg, .vms = a->gvms, .nvms = a->nvms };
	for (unsigned i = 0; i < a->nvms; i++)
		a->gvms[i] = (struct agent_grp_vm){ .vdc = a->vms[i].c.vdc,
						    .ifindex = a->vms[i].c.ifindex,
						    .m = &a->vms[i].mcast };
	return g;
}

static void grp_sync(struct agent *a)
{
	if (a->configured)
		agent_grps_sync(&a->grps, grp_env(a), (struct dir_now){ .ns = a->now_ns });
}

const struct agent_grps *agent_groups(const struct agent *a)
{
	return &a->grps;
}

static struct agent6_env env6(const struct agent *a)
{
	return (struct agent6_env){ .a = a, .ops = &a->ops, .dirc = a->dirc, .node = a->node,
				    .nnics = a->nnics, .nic_ifindex = a->nic_ifindex };
}

void agent_on_push6(struct agent *a, const struct dirp_entry6 *e)
{
	agent6_on_push(&a->v6, e);
}

const struct agent6_stats *agent_stats6(const struct agent *a)
{
	return &a->v6.st;
}

void agent_miss(struct agent *a, const struct pgr_event *ev, const uint8_t *frame, size_t len,
		struct dir_now now)
{
	struct local_vm *vm = vm_by_port(a, ev->ifindex);
	uint32_t ip = ntohl(ev->ip);
	struct entry *e;

	a->now_ns = now.ns;
	if (ev->type == PGR_EV_ND_MISS) {
		struct agent6_env env = env6(a);

		agent6_nd_miss(&a->v6, &env, now,
			       vm && ev->vm_id == pgr_id_of(vm->c.node, PGR_PRIMARY) ? &vm->c : NULL,
			       frame, frame ? len : 0);
		return;
	}
	if (ev->type == PGR_EV_RS) {
		struct agent6_env env = env6(a);
		bool own = vm && ev->vm_id == pgr_id_of(vm->c.node, PGR_PRIMARY);

		agent6_rs(&a->v6, &env, now, own ? &vm->c : NULL, own ? &vm->rs : NULL,
			  frame, frame ? len : 0);
		return;
	}
	if (ev->type == PGR_EV_MCAST && vm && ev->vm_id == pgr_id_of(vm->c.node, PGR_PRIMARY)) {
		struct agent_mcast_env env = mcast_env(a, vm);

		agent_mcast_input(&env, &vm->mcast, now, vm->c.ip, frame, frame ? len : 0);
		grp_sync(a);	/* its local copies follow its groups */
		return;
	}
	if (ev->type == PGR_EV_GROUP_MISS) {
		if (vm && ev->vm_id == pgr_id_of(vm->c.node, PGR_PRIMARY) && ev->vdc == vm->c.vdc &&
		    a->configured)
			agent_grps_miss(&a->grps, grp_env(a), ev->vdc, ev->ip, now);
		else
			a->grps.st[AGENT_GRP_miss_bad]++;
		return;
	}
	if (ev->type == PGR_EV_DHCP && vm && ev->vm_id == pgr_id_of(vm->c.node, PGR_PRIMARY)) {
		dhcp_input(a, vm, frame, frame ? len : 0);
		return;
	}
	a->st.misses++;
	if (!valid_event(ev, vm)) {
		bad(a, &a->st.miss_bad, "miss event dropped: %s", "bad type, port or VM");
		return;
	}
	e = find(a, ev->vdc, ip);
	if (e && e->state == E_NEGATIVE && now.ns >= e->expire_ns)
		free_entry(a, e), e = NULL;
	if (!e) {
		if (!(e = alloc_entry(a, ev->vdc, ip))) {
			bad(a, &a->st.miss_bad, "miss event dropped: %s", "cache full");
			return;
		}
		e->state = E_PENDING;
		a->queue[a->nqueue++] = e->slot;
	}
	if (ev->type == PGR_EV_IP_MISS && frame && len)
		miss_frame(a, e, ev, frame, len);
	if (ev->type == PGR_EV_ARP_MISS && e->state == E_NEGATIVE)
		dhcp_arp(a, vm, ip);	/* the DHCP server's address? */
	if (ev->type != PGR_EV_ARP_MISS || e->state == E_NEGATIVE)
		return;
	struct waiter w = { .ifindex = vm->c.ifindex, .ip = vm->c.ip };

	pgr_mac_make(w.mac, pgr_id_of(vm->c.node, PGR_PRIMARY));
	if (e->state == E_VALID) {
		arp_reply(a, e, &w);	/* raced with the map write: answer now */
		return;
	}
	for (unsigned i = 0; i < e->nwait; i++)
		if (e->wait[i].ifindex == w.ifindex)
			return;
	if (e->nwait < AGENT_WAITERS)
		e->wait[e->nwait++] = w;
}

/* ---- pushes ------------------------------------------------------------------ */

static void push_one(struct agent *a, struct entry *e, uint8_t type, const struct dirp_entry *r)
{
	if (!e || e->state != E_VALID || r->version <= e->g.version) {
		a->st.pushes_stale++;
		return;
	}
	a->st.pushes_applied++;
	if (type == DIRP_INVALIDATE) {
		free_entry(a, e);
		return;
	}
	if (take_record(a, e, r))
		write_entry(a, e);
}

void agent_on_push(struct agent *a, uint8_t type, const struct dirp_entry *r, struct dir_now now)
{
	a->now_ns = now.ns;
	if (r->vdc != DIR_VDC_SERVICE && r->ip == 0) {
		/* the VDC's default route changed: every address cached from it
		 * follows, under its own key (docs/edge.md) */
		for (uint32_t i = 0; i < a->nslots; i++) {
			struct entry *e = ent_at(a, i);
			struct dirp_entry c = *r;

			if (e->state != E_VALID || !e->via_default || e->vdc != r->vdc)
				continue;
			c.ip = e->ip;
			c.flags = DIRP_ENTRY_DEFAULT;
			push_one(a, e, type, &c);
		}
	}
	if (r->vdc != DIR_VDC_SERVICE) {
		push_one(a, find(a, r->vdc, r->ip), type, r);
		return;
	}
	/* the shared service range: that address in every VDC */
	for (uint32_t i = 0; i < a->nslots; i++)
		if (ent_at(a, i)->state == E_VALID && ent_at(a, i)->ip == r->ip)
			push_one(a, ent_at(a, i), type, r);
}

/* ---- registration and configuration ------------------------------------------ */

static void vm_struct(const struct agent *a, const struct local_vm *v, struct pgr_vm *out)
{
	(void)a;
	memset(out, 0, sizeof(*out));
	out->id = pgr_id_of(v->c.node, PGR_PRIMARY);
	pgr_mac_make(out->mac, out->id);
	out->ifindex = v->c.ifindex;
	out->vdc = v->c.vdc;
	out->ip = htonl(v->c.ip);
	out->flags = v->c.router ? PGR_VM_ROUTER : 0;
}

static void on_register_reply(void *arg, uint64_t req_id, const struct dirp_msg *m)
{
	struct agent *a = arg;

	(void)req_id;
	if (!m) {
		a->st.register_fail++;
		a->next_register_ns = a->now_ns;	/* try again at the next tick */
		return;
	}
	for (unsigned i = 0; i < m->h.count; i++) {
		struct dirp_entry r;

		dirp_get_entry(m, i, &r);
		if (r.status != DIRP_OK) {
			a->st.register_fail++;
			core_log_rl(&a->ops.log, &a->rl, a->now_ns, LOG_WARN, "register %u/%08x: %s", r.vdc, r.ip,
				   dirp_status_name(r.status));
			a->next_register_ns = a->now_ns + 1000000000ull;
		}
	}
}

static struct agent6_env env6(const struct agent *a);

static void register_all6(struct agent *a, struct dir_now now)
{
	struct agent_vm_cfg cfg[DIRP_MAX_RECORDS6 / 2];
	struct agent6_env env = env6(a);
	unsigned n = 0;

	for (unsigned i = 0; i <= a->nvms; i++) {
		if (i < a->nvms)
			cfg[n++] = a->vms[i].c;
		if (n && (n == ARRAY_SIZE(cfg) || i == a->nvms)) {
			agent6_register(&a->v6, &env, now, cfg, n);
			n = 0;
		}
	}
}

static void register_all(struct agent *a, struct dir_now now)
{
	struct dirp_entry recs[DIRP_MAX_RECORDS];
	unsigned n = 0;

	for (unsigned i = 0; i <= a->nvms; i++) {
		if (i < a->nvms && a->vms[i].c.ifindex) {
			const struct agent_vm_cfg *v = &a->vms[i].c;
			struct dirp_entry *r = &recs[n++];

			memset(r, 0, sizeof(*r));
			r->vdc = v->vdc;
			r->ip = v->ip;
			r->avail = DIRP_AVAIL_ALL;
			r->server = a->node;
			for (unsigned t = 0; t < PGR_TREES; t++) {
				pgr_mac_make(r->mac[DIRP_VM_PRI + t], pgr_id_of(v->node, t));
				pgr_mac_make(r->mac[DIRP_IM_PRI + t], pgr_id_of(a->node, t));
			}
			if (v->router) {	/* also the VDC's default route (docs/edge.md) */
				recs[n] = *r;
				recs[n++].ip = 0;
			}
		}
		if (n && (n >= DIRP_MAX_RECORDS - 1 || i == a->nvms)) {
			if (dirc_request(a->dirc, now, DIRP_REGISTER, recs, n, on_register_reply, a) <= 0)
				a->st.register_fail += n;
			else
				a->st.registers++;
			n = 0;
		}
	}
	a->next_register_ns = now.ns + (uint64_t)AGENT_REREG_MS * 1000000;
	register_all6(a, now);
	register_groups(a, now);
}

static const struct agent_vm_cfg *cfg_vm(const struct agent_config *cfg, const char *port)
{
	for (unsigned i = 0; i < cfg->nvms; i++)
		if (!strcmp(cfg->vms[i].port, port))
			return &cfg->vms[i];
	return NULL;
}

static bool same_vm(const struct agent_vm_cfg *x, const struct agent_vm_cfg *y)
{
	return x->vdc == y->vdc && x->ip == y->ip && x->node == y->node &&
	       x->ifindex == y->ifindex && !strcmp(x->port, y->port) && x->router == y->router;
}

/* The VM's VIP sources (docs/slb.md, "The return path"): from VIP i of its
 * VCs it may send to the edge's MACs, out of this server's NIC per tree;
 * through the leg's server (encapsulated) when the edge is a gateway leg. */
static void vip_entry(const struct agent *a, const struct agent_vm_cfg *c, unsigned i,
		      struct pgr_vip_src_key *k, struct pgr_vip_src *v)
{
	const struct agent_vip_cfg *p = &c->vips[i];

	memset(k, 0, sizeof(*k));
	memset(v, 0, sizeof(*v));
	k->ifindex = c->ifindex;
	k->vip = htonl(p->ip);
	v->vdc = c->vdc;
	v->avail = PGR_VIP_SRC_PRI | PGR_VIP_SRC_BAK;
	for (unsigned t = 0; t < PGR_TREES; t++) {
		pgr_mac_make(v->edge_mac[t], pgr_id_of(p->edge, t));
		if (p->via)
			pgr_mac_make(v->im_mac[t], pgr_id_of(p->via, t));
		v->egress_ifindex[t] = a->nic_ifindex[a->nnics > 1 ? t : 0];
	}
}

static bool has_vip(const struct agent_vm_cfg *c, uint32_t ip)
{
	for (unsigned i = 0; i < c->nvips; i++)
		if (c->vips[i].ip == ip)
			return true;
	return false;
}

/* Write (add) or remove c's VIP sources; removing, those that keep stays
 * lists (NULL: none) are left alone. */
static void vips_set(struct agent *a, const struct agent_vm_cfg *c, bool add,
		     const struct agent_vm_cfg *stays)
{
	struct pgr_vip_src_key k;
	struct pgr_vip_src v;

	if (!c->ifindex || (add && !a->ops.vip_set) || (!add && !a->ops.vip_del))
		return;
	for (unsigned i = 0; i < c->nvips; i++) {
		if (!add && stays && has_vip(stays, c->vips[i].ip))
			continue;
		vip_entry(a, c, i, &k, &v);
		if (add ? a->ops.vip_set(a->ops.arg, &k, &v) : a->ops.vip_del(a->ops.arg, &k)) {
			a->st.map_errors++;
			continue;
		}
		if (add)
			a->st.vips++;
		else
			a->st.vips_removed++;
		core_log(&a->ops.log, LOG_INFO, "VIP source %s: %s may answer from %u.%u.%u.%u",
			 add ? "written" : "removed", c->name, c->vips[i].ip >> 24,
			 (c->vips[i].ip >> 16) & 0xff, (c->vips[i].ip >> 8) & 0xff,
			 c->vips[i].ip & 0xff);
	}
}

static void vm_detach(struct agent *a, struct local_vm *v)
{
	struct pgr_vm pv;

	vips_set(a, &v->c, false, NULL);
	vm_struct(a, v, &pv);
	if (v->c.ifindex && a->ops.vm_del(a->ops.arg, &pv, pgr_id_of(v->c.node, PGR_BACKUP)))
		a->st.map_errors++;
}

static void vm_attach(struct agent *a, struct local_vm *v)
{
	struct pgr_vm pv;

	vm_struct(a, v, &pv);
	if (v->c.ifindex && a->ops.vm_add(a->ops.arg, &pv, pgr_id_of(v->c.node, PGR_BACKUP)))
		a->st.map_errors++;
	vips_set(a, &v->c, true, NULL);
}

void agent_configure(struct agent *a, const struct agent_config *cfg, struct dir_now now)
{
	unsigned kept = 0;

	a->now_ns = now.ns;
	a->node = cfg->node;
	a->nnics = cfg->nnics;
	memcpy(a->nic_ifindex, cfg->nic_ifindex, sizeof(a->nic_ifindex));
	/* detach what is gone or changed */
	for (unsigned i = 0; i < a->nvms; i++) {
		const struct agent_vm_cfg *c = cfg_vm(cfg, a->vms[i].c.port);

		if (c && same_vm(c, &a->vms[i].c) && a->configured) {
			/* its DHCP options and VIPs may change */
			vips_set(a, &a->vms[i].c, false, c);
			if (a->vms[i].c.nvips || c->nvips)
				vips_set(a, c, true, NULL);
			a->vms[kept] = a->vms[i];
			a->vms[kept++].c = *c;
		} else
			vm_detach(a, &a->vms[i]);
	}
	a->nvms = kept;
	if (cfg->nvms > a->cap_vms) {
		struct local_vm *n = realloc(a->vms, cfg->nvms * sizeof(*n));
		struct agent_grp_vm *gv = realloc(a->gvms, cfg->nvms * sizeof(*gv));

		assert(n && gv);	/* out of memory in a daemon is fatal */
		a->vms = n;
		a->gvms = gv;
		a->cap_vms = cfg->nvms;
	}
	/* attach what is new (and, the first time, everything: maps may be
	 * stale from a previous run) */
	for (unsigned i = 0; i < cfg->nvms; i++) {
		bool have = false;

		for (unsigned j = 0; j < kept; j++)
			have |= !strcmp(a->vms[j].c.port, cfg->vms[i].port);
		if (have)
			continue;
		a->vms[a->nvms] = (struct local_vm){ .c = cfg->vms[i] };
		vm_attach(a, &a->vms[a->nvms++]);
	}
	a->configured = true;
	agent6_ra_restart(&a->v6);
	register_all(a, now);
	grp_sync(a);
}

/* ---- leases -------------------------------------------------------------------- */

/* IPv6 (agent/agent6.c): the GARP6 leases, router advertisements to the
 * VMs. */
static uint64_t tick6(struct agent *a, struct dir_now now)
{
	struct agent6_env env = env6(a);
	uint64_t leases = agent6_tick(&a->v6, &env, now), next_ra;
	bool any = false;

	for (unsigned i = 0; i < a->nvms && !any; i++)
		any = a->vms[i].c.has_prefix6;
	if (!a->configured || !any)	/* no VM with an IPv6 prefix: nothing to advertise */
		return leases;
	if (!agent6_ra_due(&a->v6, now))
		return MIN(leases, a->v6.next_ra_ns);
	for (unsigned i = 0; i < a->nvms; i++)
		agent6_ra_vm(&a->v6, &env, &a->vms[i].c);
	next_ra = agent6_ra_done(&a->v6, now);	/* once: MIN evaluates twice */
	return MIN(leases, next_ra);
}

uint64_t agent_tick(struct agent *a, struct dir_now now)
{
	uint64_t next = now.ns + AGENT_TRAFFIC_MS * 1000000ull;

	uint32_t renew[AGENT_CACHE_MAX < 4096 ? AGENT_CACHE_MAX : 4096];
	uint32_t nrenew = 0;

	a->now_ns = now.ns;
	for (uint32_t i = 0; i < a->nslots; i++) {
		struct entry *e = ent_at(a, i);

		if (e->nhold)
			hold_expire(a, e, now.ns);
		if (e->state == E_NEGATIVE && now.ns >= e->expire_ns) {
			free_entry(a, e);
		} else if (e->state == E_VALID && !e->req) {
			if (e->used && now.ns >= e->renew_ns && nrenew < ARRAY_SIZE(renew)) {
				e->used = false;
				renew[nrenew++] = i;
			} else if (!e->used && now.ns >= e->expire_ns) {
				a->st.expired++;
				free_entry(a, e);
			}
		}
	}
	send_lookups(a, now, DIRP_RENEW, renew, nrenew);
	grp_sync(a);	/* leases of member servers, idle groups */
	if (a->configured && now.ns >= a->next_register_ns)
		register_all(a, now);
	if (a->configured && a->next_register_ns < next)
		next = a->next_register_ns;
	return MIN(next, tick6(a, now));
}

/* ---- NIC state ----------------------------------------------------------------- */

void agent_nic_state(struct agent *a, unsigned nic, bool up)
{
	if (nic >= a->nnics || a->nic_down[nic] == !up)
		return;
	a->nic_down[nic] = !up;
	a->st.nic_changes++;
	for (uint32_t i = 0; i < a->nslots; i++) {
		struct entry *e = ent_at(a, i);

		if (e->state == E_VALID && (e->nic[0] == (int)nic || e->nic[1] == (int)nic))
			write_entry(a, e);
	}
	grp_sync(a);	/* replicas leave by the other tree */
}

/* ---- traffic --------------------------------------------------------------------- */

void agent_traffic_begin(struct agent *a)
{
	a->round++;
	a->nflows = 0;
}

static void grow(void **p, uint32_t *cap, size_t size)
{
	uint32_t ncap = *cap ? *cap * 2 : 64;
	void *n = realloc(*p, ncap * size);

	assert(n);
	*p = n;
	*cap = ncap;
}

void agent_traffic_pair(struct agent *a, const struct pgr_pair *p, const struct pgr_counter *c)
{
	uint64_t k = (uint64_t)p->src_id << 32 | p->dst_id;
	uint64_t *at = hmap_get(&a->prev_at, k);
	struct prev *pv;
	uint64_t dp, db;

	if (!at) {
		if (a->nprev == a->cap_prev)
			grow((void **)&a->prev, &a->cap_prev, sizeof(*a->prev));
		a->prev[a->nprev] = (struct prev){ .key = k };
		hmap_put(&a->prev_at, k, a->nprev);
		pv = &a->prev[a->nprev++];
		/* The first round after a start only takes the counters as they
		 * are: a data plane reused from a previous run holds its totals,
		 * which are not this second's traffic (reported as one second
		 * they made a 0.8 Mbit/s stream look like several Mbit/s and
		 * sent it direct at every agent restart). */
		if (a->round == 1) {
			pv->packets = c->packets;
			pv->bytes = c->bytes;
			pv->round = a->round;
			return;
		}
	} else {
		pv = &a->prev[*at];
	}
	/* an LRU eviction restarts a counter: count it from zero */
	dp = c->packets >= pv->packets ? c->packets - pv->packets : c->packets;
	db = c->bytes >= pv->bytes ? c->bytes - pv->bytes : c->bytes;
	pv->packets = c->packets;
	pv->bytes = c->bytes;
	pv->round = a->round;
	if (!dp)
		return;
	at = hmap_get(&a->by_dst, p->dst_id);
	if (at)
		ent_at(a, *at)->used = true;
	if (a->nflows == a->cap_flows)
		grow((void **)&a->flows, &a->cap_flows, sizeof(*a->flows));
	/* the destination's server: the node of its intermediary MAC */
	a->flows[a->nflows++] = (struct rasp_flow){
		p->src_id, p->dst_id, db, dp,
		at ? pgr_id_node(pgr_mac_id(ent_at(a, *at)->g.im_mac[PGR_PRIMARY])) : RASP_NO_SERVER };
}

/* Forget pairs the map no longer holds. */
static void prune_prev(struct agent *a)
{
	uint32_t kept = 0;

	hmap_clear(&a->prev_at);
	for (uint32_t i = 0; i < a->nprev; i++)
		if (a->prev[i].round == a->round) {
			a->prev[kept] = a->prev[i];
			hmap_put(&a->prev_at, a->prev[kept].key, kept);
			kept++;
		}
	a->nprev = kept;
}

static uint64_t ras_seq(struct agent *a)
{
	return ++a->ras_seq;
}

void agent_traffic_end(struct agent *a, struct dir_now now)
{
	uint16_t parts = (uint16_t)((a->nflows + RASP_MAX_FLOWS - 1) / RASP_MAX_FLOWS);
	uint8_t buf[RASP_MAX_DGRAM];

	a->now_ns = now.ns;
	if (a->nprev > 2 * a->nflows + 4096)
		prune_prev(a);
	for (uint16_t part = 0; part < parts; part++) {
		uint32_t off = (uint32_t)part * RASP_MAX_FLOWS;
		uint16_t n = (uint16_t)MIN(a->nflows - off, (uint32_t)RASP_MAX_FLOWS);
		struct rasp_hdr h = { RASP_TRAFFIC, a->node, ras_seq(a), now.wall_ms * 1000000 };
		size_t len = rasp_enc_traffic(buf, sizeof(buf), &h, AGENT_TRAFFIC_MS, part, parts,
					      a->flows + off, n, a->key);

		if (len && !a->ops.ras_send(a->ops.arg, buf, len))
			a->st.ras_sent++;
	}
}

/* ---- the RAS ---------------------------------------------------------------------- */

static void apply_direct(struct agent *a, const struct rasp_direct *d)
{
	uint64_t *at;

	if (d->on)
		hmap_put(&a->direct, d->vm_id, (uint64_t)d->tree + 1);
	else
		hmap_del(&a->direct, d->vm_id);
	a->st.direct_applied++;
	if (!(at = hmap_get(&a->by_dst, d->vm_id)))
		return;
	ent_at(a, *at)->direct = d->on;
	ent_at(a, *at)->direct_tree = d->tree;
	write_entry(a, ent_at(a, *at));
}

void agent_ras_input(struct agent *a, const uint8_t *buf, size_t len, struct dir_now now)
{
	struct rasp_msg m;
	uint8_t out[RASP_HDR_BYTES + 8 + AUTH_TAG_BYTES + 8];
	int err;

	a->now_ns = now.ns;
	if ((err = rasp_decode(buf, len, a->key, &m))) {
		bad(a, &a->st.ras_bad, "RAS datagram dropped: %s", rasp_err_name(err));
		return;
	}
	if (m.h.type == RASP_ACK)
		return;		/* our TRAFFIC arrived; nothing is retransmitted */
	if (m.h.type != RASP_DIRECT) {
		bad(a, &a->st.ras_bad, "RAS datagram dropped: unexpected %s",
		    rasp_type_name(m.h.type));
		return;
	}
	if (!rasp_replay_accept(a->ras_replay, m.h.sender, m.h.seq)) {
		/* a retransmission of what we applied: acknowledge it again */
		a->st.ras_bad++;
	} else {
		for (uint16_t i = 0; i < m.u.direct.n; i++) {
			struct rasp_direct d;

			rasp_direct_at(&m, i, &d);
			apply_direct(a, &d);
		}
	}
	struct rasp_hdr h = { RASP_ACK, a->node, ras_seq(a), now.wall_ms * 1000000 };
	size_t n = rasp_enc_ack(out, sizeof(out), &h, m.h.seq, a->key);

	if (n && !a->ops.ras_send(a->ops.arg, out, n))
		a->st.ras_sent++;
}

/* ---- life --------------------------------------------------------------------------- */

static int check_server(const struct topo *t, const char *server, uint32_t node,
			char *err, size_t errlen)
{
	uint32_t self = topo_find(t, server);

	if (self == UINT32_MAX || !topo_is_server(t, self) || node < 1 || node > t->nservers ||
	    t->servers[node - 1] != self) {
		snprintf(err, errlen, "server %s is not server node %u of the topology", server,
			 node);
		return -EINVAL;
	}
	return 0;
}

static void set_trees(struct agent *a, const struct topo *t, const char *server,
		      struct route_trees *rt, bool shared)
{
	if (!a->rt_shared)
		route_trees_free(a->rt);
	a->rt = rt;
	a->rt_shared = shared;
	a->t = t;
	a->self = topo_find(t, server);
}

int agent_topology(struct agent *a, const struct topo *t, const char *server, uint32_t node,
		   char *err, size_t errlen)
{
	struct route_trees *rt;
	int rc;

	if ((rc = check_server(t, server, node, err, errlen)))
		return rc;
	if ((rc = route_trees_new(t, NULL, NULL, &rt, err, errlen)))
		return rc;
	set_trees(a, t, server, rt, false);
	return 0;
}

int agent_topology_shared(struct agent *a, struct route_trees *rt, const char *server,
			  uint32_t node, char *err, size_t errlen)
{
	const struct topo *t = route_topo(rt);
	int rc;

	if ((rc = check_server(t, server, node, err, errlen)))
		return rc;
	set_trees(a, t, server, rt, true);
	return 0;
}

int agent_tree_nic(const struct agent *a, uint32_t pgr_node, unsigned tree)
{
	uint16_t port;

	if (!a->rt || pgr_node < 1 || pgr_node > a->t->nservers)
		return -1;
	/* A server's ports are its NICs, in the configuration's order. */
	port = route_egress(a->rt, a->self, a->t->servers[pgr_node - 1], tree);
	return port == ROUTE_NO_PORT ? -1 : port;
}

struct agent *agent_new(const struct agent_ops *ops, struct dirc *dirc,
			const struct auth_key *key, struct dir_now now)
{
	struct agent *a = calloc(1, sizeof(*a));

	assert(a);
	a->ops = *ops;
	a->dirc = dirc;
	a->key = key;
	a->rl = (struct log_rl)LOG_RL_INIT(1000, 10);
	a->ras_replay = rasp_replay_new();
	a->hold_free = malloc(AGENT_HOLD_MAX * sizeof(*a->hold_free));
	assert(a->ras_replay && a->hold_free);
	for (uint32_t i = 0; i < AGENT_HOLD_MAX; i++)
		a->hold_free[i] = AGENT_HOLD_MAX - 1 - i;
	a->nhold_free = AGENT_HOLD_MAX;
	/* small to start, grown as entries come (nothing walks them, so the
	 * size changes no order): thousands of agents run in one simulator */
	hmap_init(&a->by_key, 64, 0x5eed);
	hmap_init(&a->by_dst, 64, 0x5eee);
	hmap_init(&a->direct, 16, 0x5eef);
	hmap_init(&a->prev_at, 64, 0x5ef0);
	/* sequence numbers start at our start time (ns) and only grow */
	a->ras_seq = now.wall_ms * 1000000;
	a->now_ns = now.ns;
	return a;
}

void agent_free(struct agent *a)
{
	if (!a)
		return;
	if (!a->rt_shared)
		route_trees_free(a->rt);
	hmap_free(&a->by_key);
	hmap_free(&a->by_dst);
	hmap_free(&a->direct);
	hmap_free(&a->prev_at);
	rasp_replay_free(a->ras_replay);
	for (uint32_t i = 0; i < a->nchunks; i++)
		free(a->chunk[i]);
	free(a->chunk);
	free(a->free_list);
	free(a->queue);
	free(a->hold);
	free(a->hold_free);
	free(a->vms);
	free(a->gvms);
	agent_grps_free(&a->grps);
	free(a->prev);
	free(a->flows);
	free(a);
}

void agent_adopt(struct agent *a, const struct pgr_garp_key *k, const struct pgr_garp_entry *g,
		 struct dir_now now)
{
	struct entry *e;
	uint32_t ip = ntohl(k->ip);

	a->now_ns = now.ns;
	if (find(a, k->vdc, ip) || !pgr_mac_valid(g->vm_mac[0]) || !(e = alloc_entry(a, k->vdc, ip)))
		return;
	e->state = E_VALID;
	e->g = *g;
	e->dir_avail = g->avail;
	e->dst_id = pgr_mac_id(g->vm_mac[PGR_PRIMARY]);
	for (unsigned t = 0; t < PGR_TREES; t++)
		for (unsigned n = 0; n < a->nnics; n++)
			if (g->egress_ifindex[t] && g->egress_ifindex[t] == a->nic_ifindex[n])
				e->nic[t] = (int8_t)n;
	hmap_put(&a->by_dst, e->dst_id, e->slot);
	e->used = true;		/* refresh it now; it expires if nothing uses it */
	e->renew_ns = now.ns;
	e->expire_ns = now.ns + (uint64_t)AGENT_ADOPT_MS * 1000000;
}

void agent_directory_changed(struct agent *a, struct dir_now now)
{
	for (uint32_t i = 0; i < a->nslots; i++) {
		struct entry *e = ent_at(a, i);

		if (e->state == E_VALID) {
			e->used = true;
			e->renew_ns = now.ns;
		}
	}
}

void agent_clock(struct agent *a, struct dir_now now)
{
	a->now_ns = now.ns;
}

const struct agent_failover_hist *agent_get_failover_hist(const struct agent *a)
{
	return &a->fo_hist;
}

const struct agent_stats *agent_get_stats(const struct agent *a)
{
	return &a->st;
}

size_t agent_cache_size(const struct agent *a)
{
	return a->nslots - a->nfree;
}

size_t agent_held_frames(const struct agent *a)
{
	return AGENT_HOLD_MAX - a->nhold_free;
}

size_t agent_held_bytes(const struct agent *a)
{
	return a->hold_bytes;
}

size_t agent_vm_count(const struct agent *a)
{
	return a->nvms;
}

const struct pgr_garp_entry *agent_cached(const struct agent *a, uint32_t vdc, uint32_t ip)
{
	const struct entry *e = find(a, vdc, ip);

	return e && e->state == E_VALID ? &e->g : NULL;
}

void agent_stats_foreach(const struct agent *a, agent_stat_fn fn, void *arg)
{
#define AGENT_STAT_CALL(name, desc) fn(arg, #name, desc, a->st.name);
	AGENT_STATS(AGENT_STAT_CALL)
#undef AGENT_STAT_CALL
	for (unsigned v = 0; v < AGENT_DHCP_COUNT; v++) {
		char name[48];

		snprintf(name, sizeof(name), "dhcp_%s", agent_dhcp_name(v));
		fn(arg, name, agent_dhcp_desc(v), a->st.dhcp[v]);
	}
	for (unsigned v = 0; v < AGENT_MCAST_COUNT; v++) {
		char name[48];

		snprintf(name, sizeof(name), "mcast_%s", agent_mcast_verdict_name((int)v));
		fn(arg, name, agent_mcast_desc((int)v), a->st.mcast[v]);
	}
	fn(arg, "mcast_send_fail", "JOIN/LEAVE records the directory client refused",
	   a->st.mcast_send_fail);
#define AGENT6_STAT_CALL(name, desc) fn(arg, #name, desc, a->v6.st.name);
	AGENT6_STATS(AGENT6_STAT_CALL)	/* agent/agent6.h */
#undef AGENT6_STAT_CALL
	for (int v = 0; v < AGENT_GRP_COUNT; v++) {
		char name[48];

		snprintf(name, sizeof(name), "grp_%s", agent_grp_stat_name(v));
		fn(arg, name, agent_grp_stat_desc(v), a->grps.st[v]);
	}
}
