/* The load balancer's control core (see slb.h). */
#include "slb/slb.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "slb/maglev.h"

struct backend {
	uint32_t vc;
	struct slb_backend_cfg cfg;
	enum slb_be_state state;
	bool drain;
	uint64_t last_ok, next_probe;
	uint32_t load_pct;
	uint32_t weight;	/* configured weight scaled by load */
};

struct service {
	uint32_t vc;
	struct pgr_slb_vip_key key;
	struct pgr_slb_vip vip;
	uint32_t *table;	/* PGR_SLB_RING slots */
};

struct slb_core {
	struct slb_config cfg;		/* our copy */
	struct backend *be;
	uint32_t nbe;
	uint32_t *first_be;		/* per VC: index of its first backend */
	struct service *svc;
	uint32_t nsvc;
	struct slb_maglev_member *scratch;
	uint64_t ctr[SLB_CTR_COUNT];
	bool started;
};

static uint32_t scaled_weight(uint32_t weight, uint32_t load_pct)
{
	uint32_t pct = 100 - (load_pct > 100 ? 100 : load_pct);

	pct -= pct % SLB_LOAD_STEP_PCT;
	if (pct < SLB_LOAD_FLOOR_PCT)
		pct = SLB_LOAD_FLOOR_PCT;
	return weight * pct;
}

struct slb_core *slb_core_new(const struct slb_config *cfg)
{
	struct slb_core *c = xcalloc(1, sizeof(*c));
	uint32_t b = 0, s = 0;

	c->cfg.nvcs = cfg->nvcs;
	c->cfg.vcs = xcalloc(cfg->nvcs ? cfg->nvcs : 1, sizeof(*c->cfg.vcs));
	c->first_be = xcalloc(cfg->nvcs + 1, sizeof(*c->first_be));
	for (unsigned v = 0; v < cfg->nvcs; v++) {
		c->cfg.vcs[v] = cfg->vcs[v];
		c->cfg.vcs[v].backends = xcalloc(cfg->vcs[v].nbackends + 1, sizeof(struct slb_backend_cfg));
		memcpy(c->cfg.vcs[v].backends, cfg->vcs[v].backends,
		       cfg->vcs[v].nbackends * sizeof(struct slb_backend_cfg));
		c->nbe += cfg->vcs[v].nbackends;
		c->nsvc += cfg->vcs[v].nports;
	}
	c->be = xcalloc(c->nbe + 1, sizeof(*c->be));
	c->svc = xcalloc(c->nsvc + 1, sizeof(*c->svc));
	c->scratch = xcalloc(c->nbe + 1, sizeof(*c->scratch));
	for (unsigned v = 0; v < cfg->nvcs; v++) {
		const struct slb_vc_cfg *vc = &c->cfg.vcs[v];

		c->first_be[v] = b;
		for (unsigned i = 0; i < vc->nbackends; i++, b++) {
			c->be[b] = (struct backend){ .vc = v, .cfg = vc->backends[i],
						     .drain = vc->backends[i].drain };
			c->be[b].weight = scaled_weight(c->be[b].cfg.weight, 0);
		}
		for (unsigned p = 0; p < vc->nports; p++, s++) {
			c->svc[s] = (struct service){
				.vc = v,
				.key = { .ip = vc->vip, .port = WIRE_HTONS(vc->ports[p].port),
					 .proto = vc->ports[p].proto },
				.vip = { .table = s, .vdc = vc->vdc,
					 .flags = vc->sticky ? PGR_SLB_VIP_STICKY : 0 },
				.table = xcalloc(PGR_SLB_RING, sizeof(uint32_t)),
			};
		}
	}
	c->first_be[cfg->nvcs] = b;
	return c;
}

void slb_core_free(struct slb_core *c)
{
	if (!c)
		return;
	for (uint32_t s = 0; s < c->nsvc; s++)
		free(c->svc[s].table);
	slb_config_free(&c->cfg);
	free(c->first_be);
	free(c->be);
	free(c->svc);
	free(c->scratch);
	free(c);
}

void slb_out_free(struct slb_out *out)
{
	free(out->acts);
	*out = (struct slb_out){ 0 };
}

static struct slb_action *emit(struct slb_out *out, enum slb_action_type t, uint32_t index)
{
	struct slb_action *a;

	if (out->n == out->cap) {
		out->cap = out->cap ? out->cap * 2 : 16;
		out->acts = xrealloc(out->acts, out->cap * sizeof(*out->acts));
	}
	a = &out->acts[out->n++];
	memset(a, 0, sizeof(*a));
	a->type = t;
	a->index = index;
	return a;
}

static void emit_backend(struct slb_core *c, uint32_t i, struct slb_out *out)
{
	const struct backend *b = &c->be[i];
	struct slb_action *a = emit(out, SLB_ACT_BACKEND, i);

	a->be.vdc = c->cfg.vcs[b->vc].vdc;
	a->be.avail = PGR_SLB_AVAIL_PRI | PGR_SLB_AVAIL_BAK;
	a->be.flags = b->state == SLB_BE_DOWN ? PGR_SLB_BE_DOWN : 0;
	for (uint32_t t = 0; t < PGR_TREES; t++) {
		pgr_mac_make(a->be.vm_mac[t], pgr_id_of(b->cfg.vm, t));
		pgr_mac_make(a->be.im_mac[t], pgr_id_of(b->cfg.server, t));
	}
}

static bool in_tables(const struct backend *b)
{
	return b->state == SLB_BE_UP && !b->drain;
}

/* Rebuild every table of VC v from its backends that take new flows. */
static void rebuild_vc(struct slb_core *c, uint32_t v, struct slb_out *out)
{
	uint32_t n = 0, vdc = c->cfg.vcs[v].vdc;

	for (uint32_t i = c->first_be[v]; i < c->first_be[v + 1]; i++)
		c->scratch[n++] = (struct slb_maglev_member){
			.key = slb_maglev_key(vdc, c->be[i].cfg.ip),
			.weight = in_tables(&c->be[i]) ? c->be[i].weight : 0, .value = i };
	for (uint32_t s = 0; s < c->nsvc; s++) {
		if (c->svc[s].vc != v)
			continue;
		/* members come from a checked configuration: no error possible */
		if (slb_maglev_build(c->scratch, n, PGR_SLB_RING, c->svc[s].table))
			abort();
		emit(out, SLB_ACT_TABLE, s)->slots = c->svc[s].table;
		c->ctr[SLB_CTR_rebuilds]++;
	}
}

static void start(struct slb_core *c, uint64_t now, struct slb_out *out)
{
	for (uint32_t i = 0; i < c->nbe; i++) {
		c->be[i].last_ok = now;	/* up until proven down */
		c->be[i].next_probe = now;
		emit_backend(c, i, out);
	}
	for (uint32_t v = 0; v < c->cfg.nvcs; v++)
		rebuild_vc(c, v, out);
	for (uint32_t s = 0; s < c->nsvc; s++) {
		struct slb_action *a = emit(out, SLB_ACT_VIP, s);

		a->key = c->svc[s].key;
		a->vip = c->svc[s].vip;
	}
	c->started = true;
}

static uint64_t interval_ns(const struct slb_core *c, const struct backend *b)
{
	return (uint64_t)c->cfg.vcs[b->vc].health_interval_ms * 1000000;
}

static uint64_t down_after(const struct slb_core *c, const struct backend *b)
{
	return b->last_ok + c->cfg.vcs[b->vc].health_fails * interval_ns(c, b);
}

/* Probes due, backends found down, and the next deadline. */
static void timer(struct slb_core *c, uint64_t now, struct slb_out *out)
{
	uint64_t next = UINT64_MAX;

	for (uint32_t i = 0; i < c->nbe; i++) {
		struct backend *b = &c->be[i];
		const struct slb_vc_cfg *vc = &c->cfg.vcs[b->vc];

		if (b->next_probe <= now) {
			struct slb_action *a = emit(out, SLB_ACT_PROBE, i);

			a->ip = b->cfg.ip;
			a->port = vc->ports[0].port;
			a->proto = vc->ports[0].proto;
			c->ctr[SLB_CTR_probes]++;
			b->next_probe = now + interval_ns(c, b);
		}
		if (b->state == SLB_BE_UP && now > down_after(c, b)) {
			b->state = SLB_BE_DOWN;
			c->ctr[SLB_CTR_backend_down]++;
			emit_backend(c, i, out);
			rebuild_vc(c, b->vc, out);
		}
		next = MIN(next, b->next_probe);
		if (b->state == SLB_BE_UP)
			next = MIN(next, down_after(c, b) + 1);
	}
	out->deadline_ns = next;
}

static void probe_ok(struct slb_core *c, uint64_t now, uint32_t i, struct slb_out *out)
{
	struct backend *b = &c->be[i];

	b->last_ok = now;
	if (b->state != SLB_BE_DOWN)
		return;
	b->state = SLB_BE_UP;
	c->ctr[SLB_CTR_backend_up]++;
	emit_backend(c, i, out);
	rebuild_vc(c, b->vc, out);
}

static void load(struct slb_core *c, uint32_t i, uint32_t cpu, uint32_t net, struct slb_out *out)
{
	struct backend *b = &c->be[i];
	uint32_t w;

	b->load_pct = MAX(cpu, net);
	w = scaled_weight(b->cfg.weight, b->load_pct);
	if (w == b->weight)
		return;
	b->weight = w;
	c->ctr[SLB_CTR_weight_changes]++;
	if (in_tables(b))
		rebuild_vc(c, b->vc, out);
}

static void drain(struct slb_core *c, uint32_t i, bool on, struct slb_out *out)
{
	struct backend *b = &c->be[i];

	if (b->drain == on)
		return;
	b->drain = on;
	if (b->state == SLB_BE_UP)
		rebuild_vc(c, b->vc, out);
}

int slb_input(struct slb_core *c, uint64_t now, const struct slb_event *ev, struct slb_out *out)
{
	out->n = 0;
	out->deadline_ns = UINT64_MAX;
	if (ev->type != SLB_EV_START && ev->type != SLB_EV_TIMER &&
	    (!c->started || ev->backend >= c->nbe || ev->cpu_pct > 100 || ev->net_pct > 100)) {
		c->ctr[SLB_CTR_bad_event]++;
		goto refuse;
	}
	switch (ev->type) {
	case SLB_EV_START:
		if (c->started) {
			c->ctr[SLB_CTR_bad_event]++;
			goto refuse;
		}
		start(c, now, out);
		break;
	case SLB_EV_TIMER:
		break;
	case SLB_EV_PROBE_OK:
		probe_ok(c, now, ev->backend, out);
		break;
	case SLB_EV_LOAD:
		load(c, ev->backend, ev->cpu_pct, ev->net_pct, out);
		break;
	case SLB_EV_DRAIN:
		drain(c, ev->backend, ev->on, out);
		break;
	default:
		c->ctr[SLB_CTR_bad_event]++;
		goto refuse;
	}
	if (c->started)
		timer(c, now, out);
	return 0;
refuse:
	if (c->started)
		timer(c, now, out);
	return -EINVAL;
}

uint32_t slb_core_nbackends(const struct slb_core *c)
{
	return c->nbe;
}

int64_t slb_core_find(const struct slb_core *c, uint32_t vdc, uint32_t ip, uint32_t from)
{
	for (uint32_t i = from; i < c->nbe; i++)
		if (c->be[i].cfg.ip == ip && c->cfg.vcs[c->be[i].vc].vdc == vdc)
			return i;
	return -1;
}

void slb_core_backend(const struct slb_core *c, uint32_t i, struct slb_backend_view *v)
{
	const struct backend *b = &c->be[i];
	const struct service *s = NULL;

	for (uint32_t k = 0; k < c->nsvc && !s; k++)
		if (c->svc[k].vc == b->vc)
			s = &c->svc[k];
	*v = (struct slb_backend_view){
		.vc = c->cfg.vcs[b->vc].name, .vdc = c->cfg.vcs[b->vc].vdc, .ip = b->cfg.ip,
		.vm = b->cfg.vm, .server = b->cfg.server, .state = b->state, .drain = b->drain,
		.load_pct = b->load_pct, .weight = in_tables(b) ? b->weight : 0,
	};
	for (uint32_t k = 0; s && c->started && k < PGR_SLB_RING; k++)
		v->slots += s->table[k] == i;
}

uint64_t slb_core_counter(const struct slb_core *c, enum slb_counter k)
{
	return (unsigned)k < SLB_CTR_COUNT ? c->ctr[k] : 0;
}

const char *slb_counter_name(enum slb_counter k)
{
	static const char *const names[] = {
#define SLB_CTR_NAME(name, desc) #name,
		SLB_COUNTERS(SLB_CTR_NAME)
#undef SLB_CTR_NAME
	};

	return (unsigned)k < SLB_CTR_COUNT ? names[k] : "?";
}
