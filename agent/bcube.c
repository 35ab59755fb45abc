/* The BCube server daemon's core (agent/bcube.h, docs/bcube.md). */
#include "agent/bcube.h"

#include <assert.h>
#include <string.h>

#include "route/bcube.h"
#include "wire/be.h"

#define MS 1000000ull

static struct bca_act *act(struct bca *c, struct bca_out *out, enum bca_act_kind kind)
{
	struct bca_act *a;

	if (out->n == BCA_OUT) {
		c->st.full++;
		return NULL;
	}
	a = &out->a[out->n++];
	memset(a, 0, sizeof(*a));
	a->kind = kind;
	return a;
}

void bca_init(struct bca *c, const struct topo *t, uint32_t self, const uint8_t (*macs)[6])
{
	memset(c, 0, sizeof(*c));
	c->t = t;
	c->self = self;
	c->n = t->p.n;
	c->k = t->p.k;
	assert(c->n <= BCUBE_MAX_N && c->k < BCUBE_MAX_LEVELS);
	topo_bcube_digits(t, self, c->digits);
	for (uint32_t l = 0; l <= c->k; l++) {
		memcpy(c->nic_mac[l], macs[l], 6);
		c->cap[l] = c->avail[l] = BCA_LINK_MBPS;
	}
}

void bca_set_capacity(struct bca *c, uint32_t level, uint32_t mbps)
{
	if (level <= c->k && mbps)
		c->cap[level] = c->avail[level] = mbps;
}

uint32_t bca_on_tx(struct bca *c, uint64_t now, uint32_t level, uint64_t tx_bytes)
{
	uint64_t used;

	if (level > c->k)
		return 0;
	if (c->tx_ns[level] && now > c->tx_ns[level] && tx_bytes >= c->tx_bytes[level]) {
		/* bytes * 8 / ns = Gbit/s; * 1000 = Mbit/s */
		uint64_t free_now;

		used = (tx_bytes - c->tx_bytes[level]) * 8000 / (now - c->tx_ns[level]);
		free_now = used >= c->cap[level] ? 0 : c->cap[level] - used;
		c->avail[level] = (uint32_t)(((uint64_t)c->avail[level] * (BCA_AVAIL_AVG - 1) +
					      free_now) / BCA_AVAIL_AVG);
	}
	c->tx_bytes[level] = tx_bytes;
	c->tx_ns[level] = now;
	return c->avail[level];
}

uint32_t bca_addr(const struct bca *c, const uint8_t *digits)
{
	uint32_t a = 0;

	for (uint32_t l = c->k + 1; l-- > 0;)
		a = a * c->n + digits[l];
	return a;
}

bool bca_path_nha(const struct topo *t, const struct route_path *p, struct bcube_path *out)
{
	uint8_t d[BCUBE_MAX_LEVELS];

	memset(out, 0, sizeof(*out));
	if (p->len % 2 || p->len / 2 > BCUBE_NHA_MAX)
		return false;
	for (uint32_t i = 0; i + 2 <= p->len; i += 2) {
		uint32_t sw = p->nodes[i + 1], next = p->nodes[i + 2];
		uint32_t level = t->nodes[sw].level;

		if (topo_is_server(t, sw) || !topo_is_server(t, next))
			return false;
		topo_bcube_digits(t, t->nodes[next].index, d);
		out->nha[out->nha_len++] = bcube_nha_entry(level, d[level]);
	}
	return out->nha_len > 0;
}

void bca_reverse(const struct bca *c, uint32_t src, const struct bcube_path *there,
		 struct bcube_path *back)
{
	uint8_t d[BCUBE_MAX_LEVELS] = { 0 }, old[BCUBE_NHA_MAX];
	uint32_t h = there->nha_len;

	for (uint32_t l = 0; l <= c->k; l++, src /= c->n)
		d[l] = (uint8_t)(src % c->n);
	memset(back, 0, sizeof(*back));
	for (uint32_t i = 0; i < h; i++) {
		uint32_t level = there->nha[i] >> BCUBE_DP_SHIFT;

		level &= BCUBE_MAX_LEVELS - 1;
		old[i] = d[level];
		d[level] = there->nha[i] & BCUBE_DV_MASK;
	}
	for (uint32_t i = 0; i < h; i++) {
		uint32_t j = h - 1 - i;

		back->nha[i] = bcube_nha_entry(there->nha[j] >> BCUBE_DP_SHIFT, old[j]);
	}
	back->nha_len = (uint8_t)h;
}

/* ---- frames ------------------------------------------------------------------ */
static void put_frame(struct bca *c, struct bca_act *a, uint32_t level, const uint8_t *dst_mac,
		      const struct bcube_hdr *h, const struct bcube_probe *pr)
{
	struct wire_eth e;

	memcpy(e.dst, dst_mac, 6);
	memcpy(e.src, c->nic_mac[level], 6);
	e.type = WIRE_HTONS(BCUBE_ETH_P);
	memcpy(a->frame, &e, sizeof(e));
	memcpy(a->frame + sizeof(e), h, sizeof(*h));
	memcpy(a->frame + sizeof(e) + sizeof(*h), pr, sizeof(*pr));
	a->len = BCA_FRAME;
	a->level = (uint8_t)level;
}

static void send_hellos(struct bca *c, struct bca_out *out)
{
	static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	struct bcube_hdr h = { .dst = WIRE_HTONL(BCUBE_ADDR_ALL), .src = WIRE_HTONL(c->self),
			       .proto = BCUBE_P_HELLO, .hlen = BCUBE_HDR_BYTES };
	struct bcube_probe none = { 0 };

	for (uint32_t l = 0; l <= c->k; l++) {
		struct bca_act *a = act(c, out, BCA_SEND);

		if (a)
			put_frame(c, a, l, bcast, &h, &none);
	}
}

/* A source-routed frame along p (NHI 1 after this server's own hop);
 * false if the first hop is not up. */
static bool send_along(struct bca *c, struct bca_out *out, uint32_t dst, uint8_t proto,
		       const struct bcube_path *p, const struct bcube_probe *pr)
{
	uint32_t level = p->nha[0] >> BCUBE_DP_SHIFT, digit = p->nha[0] & BCUBE_DV_MASK;
	struct bcube_hdr h = { .dst = WIRE_HTONL(dst), .src = WIRE_HTONL(c->self),
			       .proto = proto, .hlen = BCUBE_HDR_BYTES, .nhi = 1,
			       .nha_len = p->nha_len };
	struct bca_act *a;

	if (!p->nha_len || level > c->k || digit >= c->n || !c->nbr[level][digit].up)
		return false;
	memcpy(h.nha, p->nha, sizeof(h.nha));
	if (!(a = act(c, out, BCA_SEND)))
		return false;
	put_frame(c, a, level, c->nbr[level][digit].mac, &h, pr);
	return true;
}

static void nbr_set(struct bca *c, struct bca_out *out, uint32_t level, uint32_t digit, bool up)
{
	struct bca_act *a;

	c->nbr[level][digit].up = up;
	if (!(a = act(c, out, BCA_NBR)))
		return;
	a->level = (uint8_t)level;
	a->digit = (uint8_t)digit;
	a->up = up;
	memcpy(a->mac, c->nbr[level][digit].mac, 6);
}

static void on_hello(struct bca *c, uint64_t now, uint32_t level, const struct wire_eth *e,
		     uint32_t src, struct bca_out *out)
{
	uint8_t d[BCUBE_MAX_LEVELS] = { 0 };
	uint32_t diff = 0;

	for (uint32_t l = 0; l <= c->k; l++, src /= c->n) {
		d[l] = (uint8_t)(src % c->n);
		diff += d[l] != c->digits[l];
	}
	/* a neighbour on this level differs in this digit and no other */
	if (src || diff != 1 || d[level] == c->digits[level] || wire_mac_is_group(e->src)) {
		c->st.bad_frames++;
		return;
	}
	c->st.hellos_in++;
	c->nbr[level][d[level]].seen_ns = now;
	if (!c->nbr[level][d[level]].up || memcmp(c->nbr[level][d[level]].mac, e->src, 6)) {
		memcpy(c->nbr[level][d[level]].mac, e->src, 6);
		nbr_set(c, out, level, d[level], true);
	}
}

static struct bca_dest *dest_by_ip(struct bca *c, uint32_t ip)
{
	for (uint32_t i = 0; i < BCA_DESTS; i++)
		if (c->dest[i].ip == ip)
			return &c->dest[i];
	return NULL;
}

static struct bca_dest *dest_by_addr(struct bca *c, uint32_t addr)
{
	for (uint32_t i = 0; i < BCA_DESTS; i++)
		if (c->dest[i].ip && c->dest[i].resolved && c->dest[i].addr == addr)
			return &c->dest[i];
	return NULL;
}

static bool pending(const struct bca_dest *d, const struct bca_path *p, uint64_t now)
{
	return !p->alive && p->last_reply_ns <= d->since_ns &&
	       now - d->since_ns <= BCA_PATH_DEAD_MS * MS;
}

/* Bandwidths that tie: within 1/BCA_TIE_DIV of this server's largest NIC
 * capacity (at 20 Mbit/s, 10).  Links that a shuffle fills all read a
 * few Mbit/s, up and down: with a quarter of the capacity as the
 * tolerance, the flows of a one-hop destination still moved to its 3-hop
 * path and back several times a second. */
static uint32_t tie_mbps(const struct bca *c)
{
	uint32_t cap = 0;

	for (uint32_t l = 0; l <= c->k; l++)
		cap = cap > c->cap[l] ? cap : c->cap[l];
	return cap / BCA_TIE_DIV;
}

/* Install the flows' paths: of the alive paths about as good as the best
 * (within 1/BCA_GOOD_DIV of its bandwidth, or tied with it), the shortest
 * ones; and the pending ones (not answered yet since probing started: no
 * reason to move flows off them before their answer is due); none: all
 * of them (traffic finds out, and the first replies choose again). */
static void choose(struct bca *c, struct bca_dest *d, uint64_t now, struct bca_out *out,
		   bool force)
{
	uint32_t best = 0, tie = tie_mbps(c), hops = BCUBE_NHA_MAX + 1;
	uint8_t good = 0, chosen = 0;
	struct bca_act *a;

	for (uint32_t i = 0; i < d->npaths; i++)
		if (d->paths[i].alive && d->paths[i].bw_mbps > best)
			best = d->paths[i].bw_mbps;
	for (uint32_t i = 0; i < d->npaths; i++) {
		const struct bca_path *p = &d->paths[i];

		if (p->alive && (p->bw_mbps * BCA_GOOD_DIV >= best || best - p->bw_mbps <= tie)) {
			good |= (uint8_t)(1u << i);
			hops = p->p.nha_len < hops ? p->p.nha_len : hops;
		}
	}
	for (uint32_t i = 0; i < d->npaths; i++)
		if (((good & (1u << i)) && d->paths[i].p.nha_len == hops) ||
		    pending(d, &d->paths[i], now))
			chosen |= (uint8_t)(1u << i);
	if (!chosen) {
		if (d->chosen && !force)
			return;		/* keep what was chosen until something answers */
		chosen = (uint8_t)((1u << d->npaths) - 1);
	}
	if (chosen == d->chosen && !force)
		return;
	if (d->chosen && chosen != d->chosen)
		c->st.path_changes++;
	d->chosen = chosen;
	if (!(a = act(c, out, BCA_ROUTE)))
		return;
	a->ip = d->ip;
	a->route.dst = WIRE_HTONL(d->addr);
	/* BSR's own path first (the first flow takes it), then the others
	 * from the next lower level down */
	for (uint32_t j = 0; j < d->npaths; j++) {
		uint32_t i = (d->first + d->npaths - j) % d->npaths;

		if (chosen & (1u << i))
			a->route.paths[a->route.npaths++] = d->paths[i].p;
	}
}

static void on_probe(struct bca *c, const struct bcube_hdr *h, const struct bcube_probe *pr,
		     struct bca_out *out)
{
	struct bcube_path there = { h->nha_len, { 0 } }, back;

	c->st.probes_in++;
	memcpy(there.nha, h->nha, sizeof(there.nha));
	bca_reverse(c, WIRE_NTOHL(h->src), &there, &back);
	send_along(c, out, WIRE_NTOHL(h->src), BCUBE_P_PROBE_REPLY, &back, pr);
}

static void on_reply(struct bca *c, uint64_t now, const struct bcube_hdr *h,
		     const struct bcube_probe *pr, struct bca_out *out)
{
	struct bca_dest *d = dest_by_addr(c, WIRE_NTOHL(h->src));
	struct bca_path *p;

	if (!d || pr->path >= d->npaths || pr->sent_ns > now) {
		c->st.bad_frames++;
		return;
	}
	c->st.replies_in++;
	p = &d->paths[pr->path];
	p->bw_mbps = WIRE_NTOHL(pr->bw_mbps);
	p->rtt_ns = now - pr->sent_ns;
	p->last_reply_ns = now;
	p->alive = true;
	choose(c, d, now, out, false);
}

void bca_on_frame(struct bca *c, uint64_t now, uint32_t level, const uint8_t *frame, size_t len,
		  struct bca_out *out)
{
	struct wire_eth e;
	struct bcube_hdr h;
	struct bcube_probe pr;

	if (len < BCA_FRAME || level > c->k) {
		c->st.bad_frames++;
		return;
	}
	memcpy(&e, frame, sizeof(e));
	memcpy(&h, frame + sizeof(e), sizeof(h));
	memcpy(&pr, frame + sizeof(e) + sizeof(h), sizeof(pr));
	if (e.type != WIRE_HTONS(BCUBE_ETH_P) || h.hlen != BCUBE_HDR_BYTES ||
	    h.nha_len > BCUBE_NHA_MAX) {
		c->st.bad_frames++;
		return;
	}
	if (h.proto == BCUBE_P_HELLO && h.dst == WIRE_HTONL(BCUBE_ADDR_ALL)) {
		on_hello(c, now, level, &e, WIRE_NTOHL(h.src), out);
		return;
	}
	if (h.dst != WIRE_HTONL(c->self) || !h.nha_len || h.nhi != h.nha_len) {
		c->st.bad_frames++;
		return;
	}
	if (h.proto == BCUBE_P_PROBE)
		on_probe(c, &h, &pr, out);
	else if (h.proto == BCUBE_P_PROBE_REPLY)
		on_reply(c, now, &h, &pr, out);
	else
		c->st.bad_frames++;
}

/* ---- resolution and probing ---------------------------------------------------- */
void bca_on_miss(struct bca *c, uint64_t now, uint32_t ip, struct bca_out *out)
{
	struct bca_dest *d = dest_by_ip(c, ip);
	struct bca_act *a;

	c->st.misses++;
	if (d && (d->resolved || now - d->asked_ns < BCA_LOOKUP_RETRY_MS * MS))
		return;
	if (!d && !(d = dest_by_ip(c, 0))) {
		c->st.full++;
		return;
	}
	d->ip = ip;
	d->asked_ns = now;
	if ((a = act(c, out, BCA_LOOKUP))) {
		a->ip = ip;
		c->st.lookups++;
	}
}

static void probe_dest(struct bca *c, uint64_t now, struct bca_dest *d, struct bca_out *out)
{
	for (uint32_t i = 0; i < d->npaths; i++) {
		uint32_t first = d->paths[i].p.nha[0] >> BCUBE_DP_SHIFT;
		struct bcube_probe pr = { .seq = WIRE_HTONL(++c->seq),
					  .bw_mbps = WIRE_HTONL(c->avail[first & (BCUBE_MAX_LEVELS - 1)]),
					  .path = (uint8_t)i, .sent_ns = now };

		send_along(c, out, d->addr, BCUBE_P_PROBE, &d->paths[i].p, &pr);
	}
}

void bca_on_resolved(struct bca *c, uint64_t now, uint32_t ip, bool found, uint32_t addr,
		     struct bca_out *out)
{
	struct bca_dest *d = dest_by_ip(c, ip);
	struct route_path paths[BCUBE_MAX_PATHS];
	uint32_t np;

	if (!d || d->resolved)
		return;
	if (!found || addr >= c->t->nservers || addr == c->self) {
		c->st.not_found++;
		return;		/* asked again on the next miss after the retry time */
	}
	np = route_bcube_path_set(c->t, c->self, addr, paths);
	d->npaths = 0;
	for (uint32_t i = 0; i < np && i < BCUBE_MAX_PATHS; i++) {
		memset(&d->paths[d->npaths], 0, sizeof(d->paths[0]));
		if (bca_path_nha(c->t, &paths[i], &d->paths[d->npaths].p))
			d->npaths++;
	}
	if (!d->npaths) {
		c->st.not_found++;
		return;
	}
	d->addr = addr;
	d->first = 0;
	for (uint32_t l = 0, a = addr, me = c->self; l <= c->k; l++, a /= c->n, me /= c->n)
		if (a % c->n != me % c->n && l < d->npaths)
			d->first = (uint8_t)l;
	d->resolved = true;
	d->chosen = 0;
	d->since_ns = now;
	choose(c, d, now, out, true);	/* every path until the probes tell */
	probe_dest(c, now, d, out);
}

void bca_on_used(struct bca *c, uint64_t now, uint32_t ip, uint64_t used_ns)
{
	struct bca_dest *d = dest_by_ip(c, ip);
	bool idle;

	if (!d || !d->resolved)
		return;
	idle = used_ns < now && now - used_ns > BCA_IDLE_MS * MS;
	if (d->idle && !idle) {	/* in use again: the paths get a fresh period */
		for (uint32_t i = 0; i < d->npaths; i++)
			if (d->paths[i].alive)
				d->paths[i].last_reply_ns = now;
		d->since_ns = now;
	}
	d->idle = idle;
}

uint32_t bca_dest_ip(const struct bca *c, uint32_t i)
{
	return i < BCA_DESTS && c->dest[i].resolved ? c->dest[i].ip : 0;
}

uint64_t bca_tick(struct bca *c, uint64_t now, struct bca_out *out)
{
	if (now >= c->next_hello_ns) {
		send_hellos(c, out);
		for (uint32_t l = 0; l <= c->k; l++)
			for (uint32_t d = 0; d < c->n; d++)
				if (c->nbr[l][d].up &&
				    now - c->nbr[l][d].seen_ns > BCA_NBR_DEAD_MS * MS)
					nbr_set(c, out, l, d, false);
		c->next_hello_ns = now + BCA_HELLO_MS * MS;
	}
	if (now >= c->next_probe_ns) {
		for (uint32_t i = 0; i < BCA_DESTS; i++) {
			struct bca_dest *d = &c->dest[i];

			if (!d->ip || !d->resolved || d->idle)
				continue;
			for (uint32_t p = 0; p < d->npaths; p++)
				if (d->paths[p].alive &&
				    now - d->paths[p].last_reply_ns > BCA_PATH_DEAD_MS * MS) {
					d->paths[p].alive = false;
				}
			choose(c, d, now, out, false);	/* also: pending paths expire */
			probe_dest(c, now, d, out);
		}
		c->next_probe_ns = now + BCA_PROBE_MS * MS;
	}
	return c->next_hello_ns < c->next_probe_ns ? c->next_hello_ns : c->next_probe_ns;
}
