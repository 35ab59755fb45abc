/* The chaos harness's invariants (docs/chaos.md, "Invariants").
 *
 * Continuously: every packet reaches the VM its (VDC, IP) names or nothing
 * (chaos_host.c arrive), never loops (chaos_host.c walk), and a REGISTER is
 * acknowledged only once its record is in the store (here, on every
 * directory output).  After the faults stop and the fabric settles: every
 * live switch's table equals a fresh computation over the live topology,
 * the availability bits the agents hold agree with the RAS's last word, the
 * directory still finds every acknowledged registration, and every
 * same-VDC pair delivers within CHAOS_PROBE_TRIES rounds. */
#include "sim/chaos_int.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "wire/be.h"
#include "wire/dirproto.h"
#include "route/failover.h"
#include "wire/pgr.h"

struct chaos_check {
	uint8_t *found;		/* per VM: the directory's lookup found it */
	uint8_t *pair_ok;	/* per (src, dst): delivered after settling */
	uint32_t lookups_sent;
};


static void chk_send(void *arg, const uint8_t *buf, size_t len)
{
	struct chaos *c = arg;

	chaos_send(c, chaos_ep_addr(CHAOS_EP_CHECK, CHAOS_PORT),
		   chaos_ep_addr(CHAOS_EP_DIR, CHAOS_PORT), buf, len);
}

void chaos_check_init(struct chaos *c)
{
	struct dirc_cfg dc = { .key = &c->key, .seed = rng_next(&c->q.rng), .send = chk_send,
			       .send_arg = c };

	c->ck = xcalloc(1, sizeof(*c->ck));
	c->ck->found = xcalloc(c->nvms, 1);
	if (!c->o->fail)	/* --fail checks no pairs: n^2 would not fit */
		c->ck->pair_ok = xcalloc((size_t)c->nvms * c->nvms, 1);
	c->chk = dirc_new(&dc);
	if (!c->chk)
		die("out of memory");
}

void chaos_check_free(struct chaos *c)
{
	if (c->chk)
		dirc_free(c->chk);
	c->chk = NULL;
	if (c->ck) {
		free(c->ck->found);
		free(c->ck->pair_ok);
		free(c->ck);
		c->ck = NULL;
	}
}

/* ---- durability: an acknowledgement follows the store write ----------------------------- */

static bool stored(const struct chaos *c, uint32_t vdc, uint32_t ip)
{
	uint8_t k[DIR_STORE_KEY_LEN];
	uint64_t v;

	wire_put32(k, vdc);
	wire_put32(k + 4, ip);
	memcpy(&v, k, sizeof(v));
	return hmap_get(&c->store.idx, v) != NULL;
}

void chaos_check_dir_out(struct chaos *c, const struct dir_out *o)
{
	for (size_t i = 0; i < o->nsends; i++) {
		struct dirp_msg m;

		if (dirp_decode(o->buf + o->sends[i].off, o->sends[i].len, &c->key, &m) ||
		    m.h.type != (DIRP_REGISTER | DIRP_REPLY_BIT))
			continue;
		for (unsigned k = 0; k < m.h.count; k++) {
			struct dirp_entry e;
			uint32_t vm;

			dirp_get_entry(&m, k, &e);
			if (e.status != DIRP_OK)
				continue;
			if (!stored(c, e.vdc, e.ip)) {
				chaos_violation(c, CHAOS_INV_durability, "REGISTER of (vdc %u, "
						"%08x) acknowledged with no record in the store",
						e.vdc, e.ip);
				return;
			}
			vm = chaos_vm_by_key(c, e.vdc, e.ip);
			if (vm != UINT32_MAX)
				c->vm_acked[vm] = 1;
		}
	}
}

/* ---- after settling: tables and availability --------------------------------------------- */

static void check_tables(struct chaos *c, int inv)
{
	uint8_t *ldead = calloc(c->t->nlinks, 1), *ndead = calloc(c->t->nnodes, 1);
	struct route_trees *fresh;
	char err[256];

	if (!ldead || !ndead)
		die("out of memory");
	for (uint32_t l = 0; l < c->t->nlinks; l++)
		ldead[l] = !chaos_link_live(c, l);
	for (uint32_t i = 0; i < c->t->nswitches; i++) {
		uint32_t n = c->t->switches[i];
		bool any = false;

		for (uint16_t p = 0; p < c->t->nodes[n].degree; p++)
			any |= !ldead[topo_port(c->t, n, p)->link];
		ndead[n] = c->sw[n].dead || !any;
	}
	if (route_trees_new(c->t, ldead, ndead, &fresh, err, sizeof(err)))
		die("chaos: fresh routes: %s", err);
	if (c->ras) {
		const struct route_trees *cur = ras_routes(c->ras);

		for (uint32_t l = 0; l < c->t->nlinks; l++)
			if (route_link_dead(cur)[l] != ldead[l])
				chaos_trace(c, "the RAS has link %u %s", l,
					    ldead[l] ? "up, it is down" : "down, it is up");
		for (uint32_t n = 0; n < c->t->nnodes; n++)
			if (route_node_dead(cur)[n] != ndead[n])
				chaos_trace(c, "the RAS has %s %s", c->t->nodes[n].name,
					    ndead[n] ? "up, it is down" : "down, it is up");
	}
	for (uint32_t i = 0; i < c->t->nswitches && !c->stop; i++) {
		uint32_t n = c->t->switches[i];

		if (ndead[n])
			continue;
		for (uint32_t s = 0; s < c->t->nservers && !c->stop; s++)
			for (unsigned tr = 0; tr < 2; tr++) {
				uint16_t want = route_egress(fresh, n, c->t->servers[s], tr);
				uint16_t have = c->sw[n].fib[s * 2 + tr];

				if (want != have) {
					int ras = c->ras ? route_egress(ras_routes(c->ras), n,
									c->t->servers[s], tr) : -2;

					chaos_violation(c, inv, "%s: %s tree %u: port %d, "
							"a fresh computation says %d (the RAS's "
							"routes %d, converged %d)",
							c->t->nodes[n].name,
							c->t->nodes[c->t->servers[s]].name, tr,
							have == ROUTE_NO_PORT ? -1 : have,
							want == ROUTE_NO_PORT ? -1 : want,
							ras == ROUTE_NO_PORT ? -1 : ras,
							c->ras ? ras_stats(c->ras)->converged : -1);
					break;
				}
			}
	}
	route_trees_free(fresh);
	free(ldead);
	free(ndead);
}

/* The directory's records as stored: each intermediary bit is the RAS's. */
static void check_store_avail(struct chaos *c, int inv)
{
	for (uint32_t i = 0; i < c->store.n && !c->stop; i++) {
		const uint8_t *val = c->store.val[i];

		for (unsigned tr = 0; tr < 2; tr++) {
			const uint8_t *mac = val + 12 + 6 * (DIRP_IM_PRI + tr);
			uint32_t owner = pgr_mac_valid(mac) ? pgr_id_node(pgr_mac_id(mac)) : 0;
			int want, have = !!(val[1] & (1 << (DIRP_IM_PRI + tr)));

			if (owner < 1 || owner > c->t->nservers)
				continue;
			want = chaos_ras_intent(c, owner - 1, pgr_id_tree(pgr_mac_id(mac)));
			if (want >= 0 && want != have) {
				chaos_violation(c, inv, "the directory holds (vdc "
						"%u, %08x) with %s's tree %u MAC %savailable; the RAS "
						"says %savailable", wire_get32(c->store.key[i]),
						wire_get32(c->store.key[i] + 4),
						c->t->nodes[c->t->servers[owner - 1]].name, tr,
						have ? "" : "un", want ? "" : "un");
				return;
			}
		}
	}
}

/* A server with a NIC whose link is down marks what it cannot send on as
 * unavailable itself, whatever the RAS says. */
static bool nic_down(const struct chaos *c, uint32_t node)
{
	for (uint16_t p = 0; p < c->t->nodes[node].degree; p++)
		if (!chaos_link_live(c, topo_port(c->t, node, p)->link))
			return true;
	return false;
}

static void check_avail(struct chaos *c, int inv)
{
	check_store_avail(c, inv);
	for (uint32_t s = 0; s < c->t->nservers && !c->stop; s++) {
		const struct chaos_host *h = &c->host[s];

		if (inv == CHAOS_INV_repair && nic_down(c, h->node))
			continue;

		for (uint32_t i = 0; i < h->ngent && !c->stop; i++) {
			const struct pgr_garp_entry *g = &h->gent[i];
			uint32_t owner;

			if (h->gkey[i] == UINT64_MAX || (g->flags & PGR_GARP_LOCAL) ||
			    !pgr_mac_valid(g->im_mac[0]))
				continue;
			owner = pgr_id_node(pgr_mac_id(g->im_mac[0]));
			if (owner < 1 || owner > c->t->nservers)
				continue;
			for (unsigned tr = 0; tr < 2; tr++) {
				int want = chaos_ras_intent(c, owner - 1, tr);
				int have = !!(g->avail & (PGR_AVAIL_IM_PRI << tr));

				if (want >= 0 && want != have) {
					chaos_violation(c, inv, "%s caches %s's "
							"tree %u MAC as %savailable; the RAS says "
							"%savailable",
							c->t->nodes[h->node].name,
							c->t->nodes[c->t->servers[owner - 1]].name, tr,
							have ? "" : "un", want ? "" : "un");
					break;
				}
			}
		}
	}
}

void chaos_check_final(struct chaos *c)
{
	check_tables(c, CHAOS_INV_tables);
	if (!c->stop)
		check_avail(c, CHAOS_INV_availability);
}

/* The same, CHAOS_REPAIR_MS after one link failure in the settled fabric:
 * the RAS has heard of it, reprogrammed and given the MACs back, long
 * before its port audit would have found a report that never came. */
void chaos_check_repair(struct chaos *c)
{
	check_tables(c, CHAOS_INV_repair);
	if (!c->stop)
		check_avail(c, CHAOS_INV_repair);
}

/* ---- after settling: registrations ---------------------------------------------------------- */

static void on_lookup(void *arg, uint64_t req_id, const struct dirp_msg *m)
{
	struct chaos *c = arg;

	if (!m || m->h.type != (DIRP_LOOKUP | DIRP_REPLY_BIT))
		return;
	for (unsigned i = 0; i < m->h.count; i++) {
		struct dirp_entry e;
		uint32_t vm;

		dirp_get_entry(m, i, &e);
		vm = chaos_vm_by_key(c, e.vdc, e.ip);
		if (e.status == DIRP_OK && vm != UINT32_MAX)
			c->ck->found[vm] = 1;
	}
}

void chaos_check_final_send(struct chaos *c)
{
	unsigned max = dirp_max_records(DIRP_LOOKUP);
	struct dirp_key keys[DIRP_MAX_RECORDS * 4];
	unsigned n = 0;

	for (uint32_t v = 0; v <= c->nvms && !c->stop; v++) {
		if (n && (n == max || v == c->nvms)) {
			dirc_request(c->chk, chaos_now(c), DIRP_LOOKUP, keys, n, on_lookup, c);
			n = 0;
		}
		if (v < c->nvms && c->vm_acked[v])
			keys[n++] = (struct dirp_key){ c->vm_vdc[v], c->vm_ip[v] };
	}
}

/* ---- after settling: every same-VDC pair delivers ------------------------------------------- */

void chaos_check_fresh(struct chaos *c)
{
	for (uint32_t s = 0; s < c->t->nservers && !c->stop; s++) {
		const struct chaos_host *h = &c->host[s];

		for (uint32_t i = 0; i < h->ngent && !c->stop; i++) {
			uint8_t k[DIR_STORE_KEY_LEN];
			uint64_t v, *slot;
			uint32_t want;

			/* only entries whose lease the directory surely still
			 * holds: written by a reply well within a lease ago */
			if (h->gkey[i] == UINT64_MAX ||
			    h->gset[i] + (CHAOS_LEASE_MS - 500) * CHAOS_MS < c->q.now)
				continue;
			wire_put32(k, (uint32_t)(h->gkey[i] >> 32));
			wire_put32(k + 4, ntohl((uint32_t)h->gkey[i]));
			memcpy(&v, k, sizeof(v));
			slot = hmap_get(&c->store.idx, v);
			want = slot ? wire_get32(c->store.val[*slot] + 4) : 0;
			if (slot && h->gent[i].version != want)
				chaos_violation(c, CHAOS_INV_failover, "%u ms after the quiet failure, %s "
						"holds (vdc %u, %08x) at version %u, the directory's "
						"is %u", CHAOS_FRESH_MS, c->t->nodes[h->node].name,
						wire_get32(k), wire_get32(k + 4), h->gent[i].version,
						want);
		}
	}
}

bool chaos_check_cached_pairs(struct chaos *c)
{
	for (uint32_t s = 0; s < c->nvms; s++) {
		const struct chaos_host *h = &c->host[c->vm_at[s]];

		for (uint32_t d = 0; d < c->nvms; d++)
			if (s != d && c->vm_vdc[s] == c->vm_vdc[d] &&
			    chaos_host_garp(h, c->vm_vdc[s], c->vm_ip[d]) &&
			    !chaos_packet(c, s, d, false))
				return false;
	}
	return true;
}

/* A round of probes between every same-VDC pair not yet delivered; the
 * last round's failures break inv.  inv < 0: forget the pairs delivered. */
void chaos_check_probe(struct chaos *c, bool last, int inv)
{
	uint32_t nv = c->nvms;

	if (inv < 0) {
		memset(c->ck->pair_ok, 0, (size_t)nv * nv);
		return;
	}
	if (inv == CHAOS_INV_delivery && c->ck->lookups_sent++ == 0)
		for (uint32_t v = 0; v < nv && !c->stop; v++)
			if (c->vm_acked[v] && !c->ck->found[v])
				chaos_violation(c, CHAOS_INV_registration, "vm%u (vdc %u, %08x): "
						"registration acknowledged, directory does not "
						"find it", v, c->vm_vdc[v], c->vm_ip[v]);
	for (uint32_t s = 0; s < nv && !c->stop; s++)
		for (uint32_t d = 0; d < nv && !c->stop; d++) {
			uint8_t *ok = &c->ck->pair_ok[(size_t)s * nv + d];

			if (s == d || c->vm_vdc[s] != c->vm_vdc[d] || *ok)
				continue;
			*ok = chaos_packet(c, s, d, true);
			if (!*ok && last)
				chaos_violation(c, inv, "vm%u (on %s) does not reach vm%u (on %s) "
						"%u s after the %s", s,
						c->t->nodes[c->t->servers[c->vm_at[s]]].name, d,
						c->t->nodes[c->t->servers[c->vm_at[d]]].name,
						inv == CHAOS_INV_delivery ? (c->o->settle_ms ?
						c->o->settle_ms : CHAOS_SETTLE_MS) / 1000 +
						CHAOS_PROBE_TRIES : CHAOS_PROBE_TRIES,
						inv == CHAOS_INV_delivery ? "faults stopped" :
						"quiet failure");
		}
}

void chaos_check_chk_input(struct chaos *c, const uint8_t *buf, size_t len)
{
	dirc_input(c->chk, chaos_now(c), buf, len);
}
