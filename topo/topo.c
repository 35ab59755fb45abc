/* Topology construction, name lookup and spec dispatch. */
#include "topo/topo.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lib/parse.h"

static const char *const role_names[ROLE_COUNT] = {
	[ROLE_SERVER] = "server", [ROLE_LEAF] = "leaf", [ROLE_SPINE] = "spine",
	[ROLE_TOR] = "tor", [ROLE_AGG] = "agg", [ROLE_INT] = "int",
	[ROLE_EDGE] = "edge", [ROLE_CORE] = "core", [ROLE_BCUBE] = "bcube",
	[ROLE_SWITCH] = "switch",
};

static const char *const family_names[] = {
	[FAM_LEAFSPINE] = "leafspine", [FAM_VL2] = "vl2", [FAM_FATTREE] = "fattree",
	[FAM_BCUBE] = "bcube", [FAM_FILE] = "file",
};

const char *topo_role_name(enum topo_role role)
{
	return role < ROLE_COUNT ? role_names[role] : "?";
}

const char *topo_family_name(enum topo_family fam)
{
	return family_names[fam];
}

struct topo *topo_new(enum topo_family fam, const char *spec)
{
	struct topo *t = xcalloc(1, sizeof(*t));

	t->family = fam;
	snprintf(t->spec, sizeof(t->spec), "%s", spec);
	t->cap_nodes = 64;
	t->cap_links = 64;
	t->nodes = xmalloc(t->cap_nodes * sizeof(*t->nodes));
	t->links = xmalloc(t->cap_links * sizeof(*t->links));
	arena_init(&t->names, 256 * 1024);
	hmap_init(&t->by_name, 64, 0x7065726567726e65ull);
	return t;
}

void topo_free(struct topo *t)
{
	if (!t)
		return;
	free(t->nodes);
	free(t->links);
	free(t->adj);
	free(t->servers);
	free(t->switches);
	arena_free(&t->names);
	hmap_free(&t->by_name);
	free(t);
}

uint32_t topo_find(const struct topo *t, const char *name)
{
	uint64_t h = hash_bytes(name, strlen(name), 0);

	for (;; h++) {
		uint64_t *v = hmap_get(&t->by_name, h);

		if (!v)
			return UINT32_MAX;
		if (strcmp(t->nodes[*v].name, name) == 0)
			return (uint32_t)*v;
	}
}

uint32_t topo_link_between(const struct topo *t, uint32_t a, uint32_t b)
{
	if (a >= t->nnodes)
		return UINT32_MAX;
	for (uint32_t p = 0; p < t->nodes[a].degree; p++)
		if (topo_port(t, a, p)->peer == b)
			return topo_port(t, a, p)->link;
	return UINT32_MAX;
}

static void index_name(struct topo *t, uint32_t id)
{
	const char *name = t->nodes[id].name;
	uint64_t h = hash_bytes(name, strlen(name), 0);

	while (hmap_get(&t->by_name, h))
		h++;
	hmap_put(&t->by_name, h, id);
}

static uint32_t add_node(struct topo *t, const struct topo_node *n)
{
	size_t len = strlen(n->name);
	char *name;

	if (t->nnodes == t->cap_nodes) {
		t->cap_nodes *= 2;
		t->nodes = xreallocarray(t->nodes, t->cap_nodes, sizeof(*t->nodes));
	}
	name = arena_alloc(&t->names, len + 1);
	memcpy(name, n->name, len + 1);
	t->nodes[t->nnodes] = *n;
	t->nodes[t->nnodes].name = name;
	index_name(t, t->nnodes);
	return t->nnodes++;
}

uint32_t topo_add_switch(struct topo *t, enum topo_role role, uint8_t level,
			 uint16_t ports, uint32_t fib_cap, const char *name)
{
	struct topo_node n = {
		.kind = TOPO_SWITCH, .role = (uint8_t)role, .level = level,
		.ports = ports, .index = t->nswitches++, .fib_cap = fib_cap,
		.name = name,
	};

	return add_node(t, &n);
}

uint32_t topo_add_server(struct topo *t, uint16_t nics, const char *name)
{
	struct topo_node n = {
		.kind = TOPO_SERVER, .role = ROLE_SERVER, .level = 0,
		.ports = nics, .index = t->nservers++, .name = name,
	};

	return add_node(t, &n);
}

uint32_t topo_add_link(struct topo *t, uint32_t a, uint32_t b, uint32_t mbps)
{
	struct topo_link *l;

	if (t->nlinks == t->cap_links) {
		t->cap_links *= 2;
		t->links = xreallocarray(t->links, t->cap_links, sizeof(*t->links));
	}
	if (t->nodes[a].degree == UINT16_MAX || t->nodes[b].degree == UINT16_MAX)
		die("topo: node degree above %u", UINT16_MAX);
	l = &t->links[t->nlinks];
	l->a = a;
	l->b = b;
	l->pa = t->nodes[a].degree++;
	l->pb = t->nodes[b].degree++;
	l->mbps = mbps;
	return t->nlinks++;
}

void topo_finish(struct topo *t)
{
	uint32_t off = 0;

	t->adj = xcalloc((size_t)t->nlinks * 2, sizeof(*t->adj));
	t->servers = xmalloc((t->nservers ? t->nservers : 1) * sizeof(uint32_t));
	t->switches = xmalloc((t->nswitches ? t->nswitches : 1) * sizeof(uint32_t));
	for (uint32_t i = 0; i < t->nnodes; i++) {
		struct topo_node *n = &t->nodes[i];

		n->adj_start = off;
		off += n->degree;
		if (n->kind == TOPO_SERVER)
			t->servers[n->index] = i;
		else
			t->switches[n->index] = i;
	}
	for (uint32_t l = 0; l < t->nlinks; l++) {
		const struct topo_link *lk = &t->links[l];

		t->adj[t->nodes[lk->a].adj_start + lk->pa] =
			(struct topo_adj){ .link = l, .peer = lk->b };
		t->adj[t->nodes[lk->b].adj_start + lk->pb] =
			(struct topo_adj){ .link = l, .peer = lk->a };
	}
	t->finished = true;
}

void topo_bcube_digits(const struct topo *t, uint32_t server_index, uint8_t *digits)
{
	for (uint32_t i = 0; i <= t->p.k; i++) {
		digits[i] = (uint8_t)(server_index % t->p.n);
		server_index /= t->p.n;
	}
}

/* ---- specs ---------------------------------------------------------------- */

static int param_u32(struct kv *kv, const char *key, uint32_t def, uint32_t min,
		     uint32_t max, uint32_t *out, char *err, size_t errlen)
{
	const char *s = kv_get(kv, key);

	if (!s) {
		if (def == UINT32_MAX) {
			snprintf(err, errlen, "missing parameter '%s'", key);
			return -EINVAL;
		}
		*out = def;
		return 0;
	}
	if (!parse_u32(s, max, out) || *out < min) {
		snprintf(err, errlen, "parameter '%s' must be an integer from %u to %u, got '%s'",
			 key, min, max, s);
		return -EINVAL;
	}
	return 0;
}

#define REQ UINT32_MAX

static int spec_leafspine(struct kv *kv, struct topo **out, char *err, size_t el)
{
	uint32_t s, l, m, h;

	if (param_u32(kv, "spines", REQ, 1, 4096, &s, err, el) ||
	    param_u32(kv, "leaves", REQ, 1, 65535, &l, err, el) ||
	    param_u32(kv, "servers", REQ, 1, 4096, &m, err, el) ||
	    param_u32(kv, "homing", 1, 1, 2, &h, err, el))
		return -EINVAL;
	return topo_build_leafspine(out, s, l, m, h, err, el);
}

static int spec_vl2(struct kv *kv, struct topo **out, char *err, size_t el)
{
	uint32_t da, di, t;

	if (param_u32(kv, "da", REQ, 2, 1024, &da, err, el) ||
	    param_u32(kv, "di", REQ, 2, 1024, &di, err, el) ||
	    param_u32(kv, "per_tor", 20, 1, 1024, &t, err, el))
		return -EINVAL;
	return topo_build_vl2(out, da, di, t, err, el);
}

static int spec_fattree(struct kv *kv, struct topo **out, char *err, size_t el)
{
	uint32_t k;

	if (param_u32(kv, "k", REQ, 2, 512, &k, err, el))
		return -EINVAL;
	return topo_build_fattree(out, k, err, el);
}

static int spec_bcube(struct kv *kv, struct topo **out, char *err, size_t el)
{
	uint32_t n, k;

	if (param_u32(kv, "n", REQ, 2, 255, &n, err, el) ||
	    param_u32(kv, "k", REQ, 0, TOPO_BCUBE_MAX_K, &k, err, el))
		return -EINVAL;
	return topo_build_bcube(out, n, k, err, el);
}

static const struct {
	const char *name;
	int (*build)(struct kv *kv, struct topo **out, char *err, size_t errlen);
	const char *usage;
} builders[] = {
	{ "leafspine", spec_leafspine, "leafspine:spines=S,leaves=L,servers=M[,homing=1|2]" },
	{ "vl2", spec_vl2, "vl2:da=DA,di=DI[,per_tor=T]" },
	{ "fattree", spec_fattree, "fattree:k=K" },
	{ "bcube", spec_bcube, "bcube:n=N,k=K" },
};

static bool looks_like_path(const char *spec)
{
	struct stat st;

	return strchr(spec, '/') || strstr(spec, ".yaml") || strstr(spec, ".yml") ||
	       strstr(spec, ".json") || stat(spec, &st) == 0;
}

int topo_from_spec(const char *spec, struct topo **out, char *err, size_t errlen)
{
	const char *colon = strchr(spec, ':');
	size_t nlen = colon ? (size_t)(colon - spec) : strlen(spec);
	struct kv kv;
	char kverr[200];
	int ret;

	*out = NULL;
	if (strncmp(spec, "file:", 5) == 0)
		return topo_load_file(spec + 5, out, err, errlen);
	for (size_t i = 0; i < ARRAY_SIZE(builders); i++) {
		const char *unused;

		if (strlen(builders[i].name) != nlen || strncmp(spec, builders[i].name, nlen))
			continue;
		if (!kv_parse(colon ? colon + 1 : "", &kv, kverr, sizeof(kverr))) {
			snprintf(err, errlen, "%s: %s (usage: %s)", spec, kverr, builders[i].usage);
			return -EINVAL;
		}
		ret = builders[i].build(&kv, out, kverr, sizeof(kverr));
		if (ret == 0 && (unused = kv_unused(&kv))) {
			topo_free(*out);
			*out = NULL;
			snprintf(kverr, sizeof(kverr), "unknown parameter '%s'", unused);
			ret = -EINVAL;
		}
		if (ret) {
			snprintf(err, errlen, "%s: %s (usage: %s)", spec, kverr, builders[i].usage);
			return ret;
		}
		snprintf((*out)->spec, sizeof((*out)->spec), "%s", spec);
		return 0;
	}
	if (looks_like_path(spec))
		return topo_load_file(spec, out, err, errlen);
	snprintf(err, errlen, "%s: unknown topology (expected leafspine:, vl2:, fattree:, "
		 "bcube:, file:PATH or a file name)", spec);
	return -EINVAL;
}
