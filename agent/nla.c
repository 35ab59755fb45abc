/* The NetLord agent's daemon core (agent/nla.h). */
#include "agent/nla.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "lib/common.h"
#include "wire/eth.h"
#include "wire/ipv4.h"

#define MS 1000000ull

static void put(struct nla *n, struct nla_out *out, const struct nla_act *act)
{
	if (out->n < NLA_OUT)
		out->a[out->n++] = *act;
	else
		n->st.out_full++;
}

void nla_init(struct nla *n, const struct nla_cfg *cfg)
{
	uint32_t ends = cfg->plan->s->nends;

	memset(n, 0, sizeof(*n));
	n->plan = cfg->plan;
	n->nends = ends;
	n->self = cfg->plan->self;
	n->port = cfg->port;
	n->edge_mac = xcalloc(ends, sizeof(*n->edge_mac));
	n->targets = xcalloc(ends, sizeof(*n->targets));
	n->ntargets = xcalloc(ends, sizeof(*n->ntargets));
	n->vlan = xcalloc(ends, sizeof(*n->vlan));
	n->choice = xcalloc(ends, sizeof(*n->choice));
	memcpy(n->edge_mac, cfg->edge_mac, ends * sizeof(*n->edge_mac));
	memcpy(n->targets, cfg->targets, ends * sizeof(*n->targets));
	for (uint32_t e = 0; e < ends; e++)
		n->ntargets[e] = (uint8_t)MIN(cfg->ntargets[e], (uint8_t)NLA_TARGETS);
}

void nla_free(struct nla *n)
{
	free(n->edge_mac);
	free(n->targets);
	free(n->ntargets);
	free(n->vlan);
	free(n->choice);
	memset(n, 0, sizeof(*n));
}

/* The choice for edge switch e: the plan's VLANs not judged dead, or all
 * of them when every one is. */
static void choose(const struct nla *n, uint32_t e, struct nl_vlan_choice *c)
{
	const struct nla_dest *d = &n->plan->dest[e];

	if (e == n->self) {
		nla_plan_choice(n->plan, e, c);
		return;
	}
	memset(c, 0, sizeof(*c));
	for (uint32_t i = 0; i < d->n; i++)
		if (!n->vlan[e][i].dead)
			c->vid[c->n++] = d->vid[i];
	if (!c->n)
		for (uint32_t i = 0; i < d->n; i++)
			c->vid[c->n++] = d->vid[i];
}

static void paths(struct nla *n, uint32_t e, const struct nl_vlan_choice *c,
		  struct nla_out *out)
{
	struct nla_act a = { .kind = NLA_PATHS, .choice = *c };

	memcpy(a.edge_mac, n->edge_mac[e], 6);
	n->choice[e] = *c;
	put(n, out, &a);
}

void nla_start(struct nla *n, struct nla_out *out)
{
	for (uint32_t e = 0; e < n->nends; e++) {
		struct nl_vlan_choice c;

		choose(n, e, &c);
		paths(n, e, &c, out);
	}
}

/* Re-select for e if the judgement of its VLANs changed the choice. */
static void reselect(struct nla *n, uint32_t e, struct nla_out *out)
{
	struct nl_vlan_choice c;

	choose(n, e, &c);
	if (!memcmp(&c, &n->choice[e], sizeof(c)))
		return;
	n->st.reselections++;
	paths(n, e, &c, out);
}

/* ---- NL-ARP through the directory ---------------------------------------------- */

static int find_pending(const struct nla *n, uint32_t tenant, uint32_t ip)
{
	for (int i = 0; i < NLA_PENDING; i++)
		if (n->pending[i].asked_ns && n->pending[i].ip == ip &&
		    n->pending[i].tenant == tenant)
			return i;
	return -1;
}

static void wait_arp(struct nla *n, uint64_t now_ns, uint32_t tenant, uint32_t ip,
		     uint32_t ifindex)
{
	int slot = -1;

	for (int i = 0; i < NLA_ARP_WAIT; i++) {
		if (n->arp[i].since_ns && n->arp[i].tenant == tenant && n->arp[i].ip == ip &&
		    n->arp[i].ifindex == ifindex)
			return;		/* the VM asked again */
		if (slot < 0 && (!n->arp[i].since_ns ||
				 now_ns - n->arp[i].since_ns >= 10ull * NLA_RETRY_MS * MS))
			slot = i;
	}
	if (slot < 0) {
		n->st.arp_dropped++;	/* the VM's next request is answered from the cache */
		return;
	}
	n->arp[slot].tenant = tenant;
	n->arp[slot].ip = ip;
	n->arp[slot].ifindex = ifindex;
	n->arp[slot].since_ns = now_ns ? now_ns : 1;
}

void nla_on_miss(struct nla *n, uint64_t now_ns, uint32_t tenant, uint32_t ip,
		 uint32_t arp_ifindex, struct nla_out *out)
{
	int i = find_pending(n, tenant, ip), free_slot = -1;

	n->st.misses++;
	if (arp_ifindex)
		wait_arp(n, now_ns, tenant, ip, arp_ifindex);
	if (i >= 0 && now_ns - n->pending[i].asked_ns < (uint64_t)NLA_RETRY_MS * MS) {
		n->st.suppressed++;
		return;
	}
	if (i < 0) {
		for (int k = 0; k < NLA_PENDING && free_slot < 0; k++)
			if (!n->pending[k].asked_ns ||
			    now_ns - n->pending[k].asked_ns >= 10ull * NLA_RETRY_MS * MS)
				free_slot = k;
		if (free_slot < 0) {
			n->st.busy++;
			return;
		}
		i = free_slot;
	}
	n->pending[i].tenant = tenant;
	n->pending[i].ip = ip;
	n->pending[i].asked_ns = now_ns ? now_ns : 1;
	n->st.lookups++;
	put(n, out, &(struct nla_act){ .kind = NLA_LOOKUP, .tenant = tenant, .ip = ip });
}

static void hold(struct nla *n, uint32_t tenant, uint32_t ip, uint64_t renew_ns)
{
	int slot = -1;

	for (int i = 0; i < NLA_HELD; i++) {
		if (n->held[i].renew_ns && n->held[i].tenant == tenant && n->held[i].ip == ip) {
			slot = i;
			break;
		}
		if (slot < 0 && !n->held[i].renew_ns)
			slot = i;
	}
	if (slot < 0) {
		n->st.unheld += renew_ns != 0;
		return;
	}
	n->held[slot].tenant = tenant;
	n->held[slot].ip = ip;
	n->held[slot].renew_ns = renew_ns;
}

void nla_dir_record(struct dirp_entry *e, uint32_t tenant, uint32_t ip, const uint8_t vm_mac[6],
		    const uint8_t vm_mac2[6], const uint8_t edge_mac[6], const uint8_t nic_mac[6],
		    uint8_t port)
{
	memset(e, 0, sizeof(*e));
	e->vdc = tenant;
	e->ip = ip;
	e->avail = 0x0f;
	e->server = port;
	memcpy(e->mac[0], vm_mac, 6);
	memcpy(e->mac[1], vm_mac2, 6);
	memcpy(e->mac[2], edge_mac, 6);
	memcpy(e->mac[3], nic_mac, 6);
}

/* Answer the VMs whose ARP request for (tenant, ip) waited. */
static void answer_arp(struct nla *n, uint32_t tenant, uint32_t ip,
		       const struct nl_dir_entry *d, struct nla_out *out)
{
	for (int i = 0; i < NLA_ARP_WAIT; i++) {
		struct nla_act a = { .kind = NLA_ARP_REPLY, .tenant = tenant, .ip = ip,
				     .dir = *d };

		if (!n->arp[i].since_ns || n->arp[i].tenant != tenant || n->arp[i].ip != ip)
			continue;
		a.ifindex = n->arp[i].ifindex;
		n->arp[i].since_ns = 0;
		n->st.arp_replies++;
		put(n, out, &a);
	}
}

static void forget_arp(struct nla *n, uint32_t tenant, uint32_t ip)
{
	for (int i = 0; i < NLA_ARP_WAIT; i++)
		if (n->arp[i].since_ns && n->arp[i].tenant == tenant && n->arp[i].ip == ip)
			n->arp[i].since_ns = 0;
}

void nla_on_entry(struct nla *n, uint64_t now_ns, const struct dirp_entry *e,
		  bool invalidate, struct nla_out *out)
{
	uint32_t ip = htonl(e->ip);
	int i = find_pending(n, e->vdc, ip);
	struct nla_act a = { .kind = NLA_SET, .tenant = e->vdc, .ip = ip };

	if (i >= 0)
		n->pending[i].asked_ns = 0;
	if (invalidate || e->status == DIRP_NOT_FOUND) {
		n->st.not_found += !invalidate;
		n->st.pushes += invalidate;
		hold(n, e->vdc, ip, 0);
		forget_arp(n, e->vdc, ip);
		put(n, out, &(struct nla_act){ .kind = NLA_DEL, .tenant = e->vdc, .ip = ip });
		return;
	}
	if (e->status != DIRP_OK)
		return;		/* busy, try later: the miss comes again */
	if (!e->server || e->server >= NL_EDGE_PORTS || !dirp_mac_ok(e->mac[0]) ||
	    !dirp_mac_ok(e->mac[2])) {
		n->st.bad_entries++;	/* not a NetLord record */
		return;
	}
	n->st.answers++;
	n->st.pushes += !e->lease_ms;
	if (e->lease_ms)	/* a push carries no lease: the one held goes on */
		hold(n, e->vdc, ip, (now_ns ? now_ns : 1) +
		     (uint64_t)e->lease_ms * NLA_RENEW_PCT / 100 * MS);
	memcpy(a.dir.mac, e->mac[0], 6);
	memcpy(a.dir.edge_mac, e->mac[2], 6);
	a.dir.port = (uint8_t)e->server;
	a.dir.version = e->version;
	put(n, out, &a);
	answer_arp(n, e->vdc, ip, &a.dir, out);
}

void nla_on_timeout(struct nla *n, uint32_t tenant, uint32_t ip)
{
	int i = find_pending(n, tenant, ip);

	if (i >= 0)
		n->pending[i].asked_ns = 0;
}

static uint64_t renew(struct nla *n, uint64_t now_ns, struct nla_out *out)
{
	uint64_t next = UINT64_MAX;

	for (int i = 0; i < NLA_HELD; i++) {
		uint64_t due = n->held[i].renew_ns;

		if (!due)
			continue;
		if (due <= now_ns && out->n < NLA_OUT) {
			n->st.renewals++;
			n->held[i].renew_ns = now_ns + (uint64_t)NLA_RETRY_MS * MS;
			put(n, out, &(struct nla_act){ .kind = NLA_LOOKUP,
						       .tenant = n->held[i].tenant,
						       .ip = n->held[i].ip });
			due = n->held[i].renew_ns;
		}
		next = MIN(next, due);
	}
	return next;
}

/* ---- probes ------------------------------------------------------------------------ */

size_t nla_probe_build(uint8_t *buf, bool echo, uint16_t vid, uint32_t seq,
		       const uint8_t dst_edge[6], uint8_t to, const uint8_t src_edge[6],
		       uint8_t port)
{
	uint8_t *ip = buf + WIRE_ETH_HLEN + NL_TAG_BYTES, *udp = ip + WIRE_IPV4_HLEN;
	uint8_t *p = udp + 8;
	uint32_t a;
	uint16_t v, csum;

	memset(buf, 0, NLA_PROBE_FRAME);
	memcpy(buf, dst_edge, 6);
	memcpy(buf + 6, src_edge, 6);
	buf[12] = 0x81;
	buf[13] = 0x00;
	buf[14] = (uint8_t)(vid >> 8 & 0x0f);
	buf[15] = (uint8_t)vid;
	buf[16] = 0x08;
	buf[17] = 0x00;
	ip[0] = 0x45;
	v = htons(WIRE_IPV4_HLEN + 8 + NLA_PROBE_PAYLOAD);
	memcpy(ip + 2, &v, 2);
	ip[6] = 0x40;			/* DF */
	ip[8] = NL_TTL;
	ip[9] = 17;			/* UDP */
	a = NL_ADDR(port, 0);
	memcpy(ip + 12, &a, 4);
	a = NL_ADDR(to, 0);
	memcpy(ip + 16, &a, 4);
	csum = wire_csum(ip, WIRE_IPV4_HLEN);
	memcpy(ip + 10, &csum, 2);
	v = htons(NLA_PROBE_UDP);
	memcpy(udp, &v, 2);
	memcpy(udp + 2, &v, 2);
	v = htons(8 + NLA_PROBE_PAYLOAD);
	memcpy(udp + 4, &v, 2);		/* checksum 0: none */
	a = htonl(NLA_PROBE_MAGIC);
	memcpy(p, &a, 4);
	p[4] = echo ? 2 : 1;
	p[5] = port;
	v = htons(vid);
	memcpy(p + 6, &v, 2);
	a = htonl(seq);
	memcpy(p + 8, &a, 4);
	memcpy(p + 12, src_edge, 6);
	return NLA_PROBE_FRAME;
}

static void send_probe(struct nla *n, bool echo, uint16_t vid, uint32_t seq,
		       const uint8_t dst_edge[6], uint8_t to, struct nla_out *out)
{
	struct nla_act a = { .kind = NLA_SEND_NIC };

	a.len = (uint16_t)nla_probe_build(a.frame, echo, vid, seq, dst_edge, to,
					  n->edge_mac[n->self], n->port);
	put(n, out, &a);
}

static uint32_t end_of(const struct nla *n, const uint8_t mac[6])
{
	for (uint32_t e = 0; e < n->nends; e++)
		if (!memcmp(n->edge_mac[e], mac, 6))
			return e;
	return UINT32_MAX;
}

static void judge(struct nla *n, uint64_t now_ns, uint32_t e, struct nla_out *out)
{
	const struct nla_dest *d = &n->plan->dest[e];
	bool changed = false;

	for (uint32_t i = 0; i < d->n; i++) {
		struct nla_vlan *v = &n->vlan[e][i];
		bool dead = v->unanswered > NLA_DEAD_PROBES &&
			    now_ns - v->last_echo_ns >= (uint64_t)NLA_DEAD_MS * MS;

		if (dead != v->dead) {
			v->dead = dead;
			changed = true;
			if (dead)
				n->st.vlan_dead++;
			else
				n->st.vlan_alive++;
		}
	}
	if (changed)
		reselect(n, e, out);
}

/* An echo of our probe on VLAN vid from a server under edge switch e. */
static void on_echo(struct nla *n, uint64_t now_ns, uint32_t e, uint16_t vid,
		    struct nla_out *out)
{
	const struct nla_dest *d = &n->plan->dest[e];

	for (uint32_t i = 0; i < d->n; i++) {
		if (d->vid[i] != vid)
			continue;
		n->st.echoes_in++;
		n->vlan[e][i].last_echo_ns = now_ns;
		n->vlan[e][i].unanswered = 0;
		judge(n, now_ns, e, out);
		return;
	}
	n->st.probe_unknown++;
}

void nla_on_frame(struct nla *n, uint64_t now_ns, const uint8_t *buf, size_t len,
		  struct nla_out *out)
{
	const uint8_t *ip, *p;
	size_t off = WIRE_ETH_HLEN;
	uint16_t vid, port;
	uint32_t magic, seq, e;

	if (len >= WIRE_ETH_HLEN + NL_TAG_BYTES && buf[12] == 0x81 && buf[13] == 0x00)
		off += NL_TAG_BYTES;	/* delivered still tagged */
	if (len < off + WIRE_IPV4_HLEN + 8 + NLA_PROBE_PAYLOAD) {
		n->st.probe_short++;
		return;
	}
	ip = buf + off;
	p = ip + WIRE_IPV4_HLEN + 8;
	memcpy(&port, ip + WIRE_IPV4_HLEN + 2, 2);
	memcpy(&magic, p, 4);
	if (buf[off - 2] != 0x08 || buf[off - 1] != 0x00 || ip[0] != 0x45 || ip[9] != 17 ||
	    ntohs(port) != NLA_PROBE_UDP || ntohl(magic) != NLA_PROBE_MAGIC ||
	    (p[4] != 1 && p[4] != 2) || !p[5] || p[5] >= NL_EDGE_PORTS) {
		n->st.probe_not_ours++;
		return;
	}
	memcpy(&vid, p + 6, 2);
	vid = ntohs(vid);
	memcpy(&seq, p + 8, 4);
	seq = ntohl(seq);
	if (p[4] == 1) {	/* a request: echo it on its VLAN to its sender */
		if (!vid || vid >= NL_VLAN_IDS - 1 || !dirp_mac_ok(p + 12)) {
			n->st.probe_not_ours++;
			return;
		}
		n->st.echoes_sent++;
		send_probe(n, true, vid, seq, p + 12, p[5], out);
		return;
	}
	if ((e = end_of(n, p + 12)) == UINT32_MAX || e == n->self) {
		n->st.probe_unknown++;
		return;
	}
	on_echo(n, now_ns, e, vid, out);
}

static void probe_all(struct nla *n, uint64_t now_ns, struct nla_out *out)
{
	n->seq++;
	for (uint32_t e = 0; e < n->nends; e++) {
		const struct nla_dest *d = &n->plan->dest[e];

		if (e == n->self || !n->ntargets[e])
			continue;
		for (uint32_t i = 0; i < d->n; i++) {
			uint8_t to = n->targets[e][(n->seq + i) % n->ntargets[e]];

			if (!n->vlan[e][i].last_echo_ns)
				n->vlan[e][i].last_echo_ns = now_ns;	/* alive until shown dead */
			n->vlan[e][i].unanswered++;
			n->st.probes_sent++;
			send_probe(n, false, d->vid[i], n->seq, n->edge_mac[e], to, out);
		}
		judge(n, now_ns, e, out);
	}
}

uint64_t nla_tick(struct nla *n, uint64_t now_ns, struct nla_out *out)
{
	uint64_t next;

	if (now_ns >= n->next_probe_ns) {
		probe_all(n, now_ns, out);
		n->next_probe_ns = now_ns + (uint64_t)NLA_PROBE_MS * MS;
	}
	next = renew(n, now_ns, out);
	return MIN(next, n->next_probe_ns);
}
