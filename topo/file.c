/* Topology files: YAML (or JSON) read through lib/yconf.  The format is in
 * docs/topology-file.md.  Every error names the file, the line and the field. */
#include "topo/topo.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/yconf.h"

#define FILE_DEFAULT_PORTS 64
#define FILE_DEFAULT_GBPS 10.0
#define FILE_MAX_GBPS 100000.0

struct defaults {
	uint32_t ports, fib;
	double gbps;
};

static bool valid_name(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > TOPO_MAX_NAME)
		return false;
	for (; *s; s++) {
		char c = *s;

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.'))
			return false;
	}
	return true;
}

static bool node_name(struct yconf *yc, struct topo *t, ynode *n, const char *what,
		      const char **out)
{
	if (!yconf_str(yc, n, what, out))
		return false;
	if (!valid_name(*out))
		return yconf_fail(yc, n, "%s: '%s' is not a valid name (1 to %d of "
				  "A-Z a-z 0-9 - _ .)", what, *out, TOPO_MAX_NAME);
	if (topo_find(t, *out) != UINT32_MAX)
		return yconf_fail(yc, n, "%s: name '%s' used twice", what, *out);
	return true;
}

static bool read_defaults(struct yconf *yc, ynode *root, struct defaults *d)
{
	static const char *const keys[] = { "ports", "fib", "gbps", NULL };
	ynode *m = yconf_get(yc, root, "defaults"), *v;

	d->ports = FILE_DEFAULT_PORTS;
	d->fib = TOPO_DEFAULT_FIB;
	d->gbps = FILE_DEFAULT_GBPS;
	if (!m)
		return true;
	if (!yconf_only_keys(yc, m, "defaults", keys))
		return false;
	if ((v = yconf_get(yc, m, "ports")) &&
	    !yconf_u32(yc, v, "defaults.ports", 1, TOPO_MAX_PORTS, &d->ports))
		return false;
	if ((v = yconf_get(yc, m, "fib")) &&
	    !yconf_u32(yc, v, "defaults.fib", 0, UINT32_MAX, &d->fib))
		return false;
	if ((v = yconf_get(yc, m, "gbps")) &&
	    !yconf_double(yc, v, "defaults.gbps", 0.001, FILE_MAX_GBPS, &d->gbps))
		return false;
	return true;
}

/* The part every switch and server entry shares: a bare name, or a mapping
 * with `name` and only the allowed keys. */
static bool node_head(struct yconf *yc, struct topo *t, ynode *it, const char *what,
		      const char *const *keys, const char **name)
{
	ynode *n = it;

	if (t->nnodes >= TOPO_MAX_NODES)
		return yconf_fail(yc, it, "%s: more than %u nodes", what, TOPO_MAX_NODES);
	if (!yconf_is_scalar(it)) {
		if (!yconf_only_keys(yc, it, what, keys))
			return false;
		if (!(n = yconf_get(yc, it, "name")))
			return yconf_fail(yc, it, "%s: missing 'name'", what);
	}
	return node_name(yc, t, n, what, name);
}

/* An optional integer field of a mapping entry; absent leaves *out alone. */
static bool opt_u32(struct yconf *yc, ynode *it, const char *key, uint32_t min,
		    uint32_t max, uint32_t *out)
{
	ynode *v = yconf_is_map(it) ? yconf_get(yc, it, key) : NULL;

	return !v || yconf_u32(yc, v, key, min, max, out);
}

static bool read_switches(struct yconf *yc, ynode *seq, struct topo *t,
			  const struct defaults *d)
{
	static const char *const keys[] = { "name", "ports", "fib", "level", NULL };
	char what[64];

	for (size_t i = 0; i < yconf_seq_len(seq); i++) {
		ynode *it = yconf_seq_at(yc, seq, i);
		uint32_t ports = d->ports, fib = d->fib, level = 1;
		const char *name;

		snprintf(what, sizeof(what), "switches[%zu]", i);
		if (!node_head(yc, t, it, what, keys, &name) ||
		    !opt_u32(yc, it, "ports", 1, TOPO_MAX_PORTS, &ports) ||
		    !opt_u32(yc, it, "fib", 0, UINT32_MAX, &fib) ||
		    !opt_u32(yc, it, "level", 1, 7, &level))
			return false;
		topo_add_switch(t, ROLE_SWITCH, (uint8_t)level, (uint16_t)ports, fib, name);
	}
	return true;
}

/* Servers whose NIC count is not given get their link count (set later);
 * explicit counts are remembered so that `topo check` holds them to it. */
static bool read_servers(struct yconf *yc, ynode *seq, struct topo *t, bool *explicit_nics)
{
	static const char *const keys[] = { "name", "nics", NULL };
	char what[64];

	for (size_t i = 0; i < yconf_seq_len(seq); i++) {
		ynode *it = yconf_seq_at(yc, seq, i);
		uint32_t nics = 0;
		const char *name;

		snprintf(what, sizeof(what), "servers[%zu]", i);
		if (!node_head(yc, t, it, what, keys, &name) ||
		    !opt_u32(yc, it, "nics", 1, TOPO_MAX_SERVER_NICS, &nics))
			return false;
		explicit_nics[t->nservers] = nics != 0;
		topo_add_server(t, (uint16_t)nics, name);
	}
	return true;
}

static bool link_end(struct yconf *yc, struct topo *t, ynode *n, const char *what,
		     uint32_t *id)
{
	const char *name;

	if (!yconf_str(yc, n, what, &name))
		return false;
	*id = topo_find(t, name);
	if (*id == UINT32_MAX)
		return yconf_fail(yc, n, "%s: unknown node '%s'", what, name);
	return true;
}

static bool check_link(struct yconf *yc, struct topo *t, ynode *it, const char *what,
		       uint32_t a, uint32_t b)
{
	uint32_t srv;

	if (a == b)
		return yconf_fail(yc, it, "%s: links '%s' to itself", what, t->nodes[a].name);
	if (topo_is_server(t, a) && topo_is_server(t, b))
		return yconf_fail(yc, it, "%s: joins two servers ('%s', '%s'); a link joins "
				  "a server to a switch or two switches", what,
				  t->nodes[a].name, t->nodes[b].name);
	if (!topo_is_server(t, a) && !topo_is_server(t, b))
		return true;
	srv = topo_is_server(t, a) ? a : b;
	if (t->nodes[srv].degree >= TOPO_MAX_SERVER_NICS)
		return yconf_fail(yc, it, "%s: server '%s' has more than %u links", what,
				  t->nodes[srv].name, TOPO_MAX_SERVER_NICS);
	return true;
}

typedef uint32_t srv_links_t[TOPO_MAX_SERVER_NICS];

static bool read_links(struct yconf *yc, ynode *seq, struct topo *t, const struct defaults *d,
		       srv_links_t *srv_links)
{
	static const char *const keys[] = { "a", "b", "gbps", NULL };
	char what[64];

	for (size_t i = 0; i < yconf_seq_len(seq); i++) {
		ynode *it = yconf_seq_at(yc, seq, i), *na, *nb, *v;
		double gbps = d->gbps;
		uint32_t a, b, srv;

		snprintf(what, sizeof(what), "links[%zu]", i);
		if (yconf_is_seq(it)) {
			if (yconf_seq_len(it) != 2)
				return yconf_fail(yc, it, "%s: expected [A, B]", what);
			na = yconf_seq_at(yc, it, 0);
			nb = yconf_seq_at(yc, it, 1);
		} else {
			if (!yconf_only_keys(yc, it, what, keys))
				return false;
			na = yconf_get(yc, it, "a");
			nb = yconf_get(yc, it, "b");
			if (!na || !nb)
				return yconf_fail(yc, it, "%s: needs 'a' and 'b'", what);
			if ((v = yconf_get(yc, it, "gbps")) &&
			    !yconf_double(yc, v, "gbps", 0.001, FILE_MAX_GBPS, &gbps))
				return false;
		}
		if (!link_end(yc, t, na, what, &a) || !link_end(yc, t, nb, what, &b))
			return false;
		if (!check_link(yc, t, it, what, a, b))
			return false;
		/* A server's NICs must reach different switches. */
		srv = topo_is_server(t, a) ? a : topo_is_server(t, b) ? b : UINT32_MAX;
		if (srv != UINT32_MAX) {
			uint32_t sw = srv == a ? b : a, idx = t->nodes[srv].index;

			for (uint32_t j = 0; j < t->nodes[srv].degree; j++)
				if (srv_links[idx][j] == sw)
					return yconf_fail(yc, it, "%s: server '%s' is already "
							  "attached to '%s'; its NICs must go "
							  "to different switches", what,
							  t->nodes[srv].name, t->nodes[sw].name);
		}
		if (t->nlinks >= TOPO_MAX_LINKS)
			return yconf_fail(yc, it, "%s: more than %u links", what, TOPO_MAX_LINKS);
		if (t->nodes[a].degree == TOPO_MAX_PORTS || t->nodes[b].degree == TOPO_MAX_PORTS)
			return yconf_fail(yc, it, "%s: more than %u links on one node", what,
					  TOPO_MAX_PORTS);
		if (srv != UINT32_MAX)
			srv_links[t->nodes[srv].index][t->nodes[srv].degree] = srv == a ? b : a;
		topo_add_link(t, a, b, (uint32_t)(gbps * 1000.0 + 0.5));
	}
	return true;
}

static int load(struct yconf *yc, struct topo **out, char *err, size_t errlen)
{
	static const char *const keys[] = { "name", "defaults", "switches", "servers",
					    "links", NULL };
	ynode *root = yconf_root(yc), *sw, *srv, *lk;
	struct topo *t = topo_new(FAM_FILE, yc->name);
	struct defaults d;
	bool *explicit_nics = NULL;
	srv_links_t *srv_links = NULL;
	bool ok = false;

	if (!yconf_only_keys(yc, root, "top level", keys) || !read_defaults(yc, root, &d))
		goto out;
	sw = yconf_get(yc, root, "switches");
	srv = yconf_get(yc, root, "servers");
	lk = yconf_get(yc, root, "links");
	if (!sw || !yconf_is_seq(sw)) {
		yconf_fail(yc, sw ? sw : root, "switches: expected a list of switches");
		goto out;
	}
	if (!srv || !yconf_is_seq(srv)) {
		yconf_fail(yc, srv ? srv : root, "servers: expected a list of servers");
		goto out;
	}
	if (!lk || !yconf_is_seq(lk)) {
		yconf_fail(yc, lk ? lk : root, "links: expected a list of links");
		goto out;
	}
	explicit_nics = xcalloc(yconf_seq_len(srv) + 1, sizeof(bool));
	srv_links = xcalloc(yconf_seq_len(srv) + 1, sizeof(*srv_links));
	if (!read_switches(yc, sw, t, &d) || !read_servers(yc, srv, t, explicit_nics) ||
	    !read_links(yc, lk, t, &d, srv_links))
		goto out;
	ok = true;
out:
	if (!ok) {
		snprintf(err, errlen, "%s", yc->err);
		topo_free(t);
		free(explicit_nics);
		free(srv_links);
		return -EINVAL;
	}
	for (uint32_t i = 0; i < t->nnodes; i++) {
		struct topo_node *n = &t->nodes[i];

		if (n->kind == TOPO_SERVER && !explicit_nics[n->index])
			n->ports = n->degree ? n->degree : 1;
	}
	free(explicit_nics);
	free(srv_links);
	topo_finish(t);
	*out = t;
	return 0;
}

int topo_load_buf(const char *name, const void *buf, size_t len, struct topo **out,
		  char *err, size_t errlen)
{
	struct yconf yc;
	int ret;

	*out = NULL;
	if (yconf_load_buf(&yc, name, buf, len)) {
		snprintf(err, errlen, "%s", yc.err);
		yconf_free(&yc);
		return -EINVAL;
	}
	ret = load(&yc, out, err, errlen);
	yconf_free(&yc);
	return ret;
}

int topo_load_file(const char *path, struct topo **out, char *err, size_t errlen)
{
	struct yconf yc;
	int ret;

	*out = NULL;
	if ((ret = yconf_load_file(&yc, path))) {
		snprintf(err, errlen, "%s", yc.err);
		yconf_free(&yc);
		return ret;
	}
	ret = load(&yc, out, err, errlen);
	yconf_free(&yc);
	return ret;
}
