/* VC definitions, read through lib/yconf (format in docs/slb.md). */
#include "slb/vc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bpf/slb.h"
#include "lib/yconf.h"
#include "wire/pgr.h"

/* A unicast host address (network order): not 0/8, 127/8, multicast, class E. */
static bool read_ip(struct yconf *yc, ynode *n, const char *what, uint32_t *out)
{
	uint32_t h;

	if (!yconf_ipv4(yc, n, what, &h))
		return false;
	if (h >> 24 == 0 || h >> 24 == 127 || h >> 24 >= 224)
		return yconf_fail(yc, n, "%s: '%s' is not a unicast host address", what,
				  yconf_scalar(yc, n));
	*out = htonl(h);
	return true;
}

static bool read_bool(struct yconf *yc, ynode *n, const char *what, bool *out)
{
	const char *s;

	if (!yconf_str(yc, n, what, &s))
		return false;
	if (!strcmp(s, "true") || !strcmp(s, "yes"))
		*out = true;
	else if (!strcmp(s, "false") || !strcmp(s, "no"))
		*out = false;
	else
		return yconf_fail(yc, n, "%s: expected true or false, got '%s'", what, s);
	return true;
}

/* "tcp/80", "udp/53" */
static bool read_port(struct yconf *yc, ynode *n, struct slb_port_cfg *p)
{
	const char *s;
	char *end;
	unsigned long v;

	if (!yconf_str(yc, n, "ports[]", &s))
		return false;
	if (!strncmp(s, "tcp/", 4))
		p->proto = 6;
	else if (!strncmp(s, "udp/", 4))
		p->proto = 17;
	else
		return yconf_fail(yc, n, "ports[]: expected tcp/PORT or udp/PORT, got '%s'", s);
	errno = 0;
	v = strtoul(s + 4, &end, 10);
	if (errno || *end || end == s + 4 || !v || v > 65535 || s[4] == '-' || s[4] == '+')
		return yconf_fail(yc, n, "ports[]: '%s': port must be 1 to 65535", s);
	p->port = (uint16_t)v;
	return true;
}

static bool read_ports(struct yconf *yc, ynode *n, struct slb_vc_cfg *vc)
{
	size_t len = yconf_seq_len(n);

	if (!yconf_is_seq(n) || len < 1 || len > SLB_VC_PORTS_MAX)
		return yconf_fail(yc, n, "ports: expected a list of 1 to %d ports", SLB_VC_PORTS_MAX);
	for (size_t i = 0; i < len; i++) {
		ynode *p = yconf_seq_at(yc, n, i);

		if (!read_port(yc, p, &vc->ports[i]))
			return false;
		for (size_t j = 0; j < i; j++)
			if (vc->ports[j].proto == vc->ports[i].proto &&
			    vc->ports[j].port == vc->ports[i].port)
				return yconf_fail(yc, p, "ports[%zu]: listed twice", i);
	}
	vc->nports = (unsigned)len;
	return true;
}

static bool read_health(struct yconf *yc, ynode *n, struct slb_vc_cfg *vc)
{
	static const char *const keys[] = { "interval_ms", "fails", NULL };
	ynode *v;

	if (!n)
		return true;
	if (!yconf_is_map(n))
		return yconf_fail(yc, n, "health: expected a mapping with interval_ms, fails");
	if (!yconf_only_keys(yc, n, "health", keys))
		return false;
	if ((v = yconf_get(yc, n, "interval_ms")) &&
	    !yconf_u32(yc, v, "health.interval_ms", SLB_HEALTH_INTERVAL_MIN_MS,
		       SLB_HEALTH_INTERVAL_MAX_MS, &vc->health_interval_ms))
		return false;
	if ((v = yconf_get(yc, n, "fails")) &&
	    !yconf_u32(yc, v, "health.fails", 1, SLB_HEALTH_FAILS_MAX, &vc->health_fails))
		return false;
	return true;
}

static bool read_backend(struct yconf *yc, ynode *n, struct slb_backend_cfg *b)
{
	static const char *const keys[] = { "ip", "vm", "server", "weight", "drain", NULL };
	ynode *v;

	if (!yconf_is_map(n))
		return yconf_fail(yc, n, "backends[]: expected a mapping with ip, vm, server");
	if (!yconf_only_keys(yc, n, "backends[]", keys))
		return false;
	for (size_t i = 0; i < 3; i++)
		if (!yconf_get(yc, n, keys[i]))
			return yconf_fail(yc, n, "backends[].%s: missing", keys[i]);
	b->weight = SLB_WEIGHT_DEFAULT;
	if (!read_ip(yc, yconf_get(yc, n, "ip"), "backends[].ip", &b->ip) ||
	    !yconf_u32(yc, yconf_get(yc, n, "vm"), "backends[].vm", 1, PGR_NODE_MAX, &b->vm) ||
	    !yconf_u32(yc, yconf_get(yc, n, "server"), "backends[].server", 1, PGR_NODE_MAX,
		       &b->server))
		return false;
	if (b->vm == b->server)
		return yconf_fail(yc, n, "backends[].vm: the VM and its server are one node");
	if ((v = yconf_get(yc, n, "weight")) &&
	    !yconf_u32(yc, v, "backends[].weight", 1, SLB_WEIGHT_MAX, &b->weight))
		return false;
	if ((v = yconf_get(yc, n, "drain")) && !read_bool(yc, v, "backends[].drain", &b->drain))
		return false;
	return true;
}

static bool read_backends(struct yconf *yc, ynode *n, struct slb_vc_cfg *vc)
{
	size_t len = yconf_seq_len(n);

	if (!yconf_is_seq(n) || len > SLB_VC_BACKENDS_MAX)
		return yconf_fail(yc, n, "backends: expected a list of at most %d backends",
				  SLB_VC_BACKENDS_MAX);
	vc->backends = xcalloc(len ? len : 1, sizeof(*vc->backends));
	for (size_t i = 0; i < len; i++) {
		ynode *b = yconf_seq_at(yc, n, i);

		if (!read_backend(yc, b, &vc->backends[i]))
			return false;
		for (size_t j = 0; j < i; j++) {
			if (vc->backends[j].ip == vc->backends[i].ip)
				return yconf_fail(yc, b, "backends[%zu].ip: listed twice", i);
			if (vc->backends[j].vm == vc->backends[i].vm)
				return yconf_fail(yc, b, "backends[%zu].vm: listed twice", i);
		}
		if (vc->backends[i].ip == vc->vip)
			return yconf_fail(yc, b, "backends[%zu].ip: the VIP itself", i);
	}
	vc->nbackends = (unsigned)len;
	return true;
}

static bool read_vc(struct yconf *yc, ynode *n, struct slb_vc_cfg *vc)
{
	static const char *const keys[] = { "name", "vdc", "vip", "ports", "backends", "sticky",
					    "health", NULL };
	ynode *v;

	if (!yconf_is_map(n))
		return yconf_fail(yc, n, "vcs[]: expected a mapping");
	if (!yconf_only_keys(yc, n, "vcs[]", keys))
		return false;
	for (size_t i = 0; i < 5; i++)
		if (!yconf_get(yc, n, keys[i]))
			return yconf_fail(yc, n, "vcs[].%s: missing", keys[i]);
	vc->health_interval_ms = SLB_HEALTH_INTERVAL_DEFAULT_MS;
	vc->health_fails = SLB_HEALTH_FAILS_DEFAULT;
	if (!yconf_name(yc, yconf_get(yc, n, "name"), "vcs[].name", vc->name, sizeof(vc->name)) ||
	    !yconf_u32(yc, yconf_get(yc, n, "vdc"), "vcs[].vdc", 1, 0xffffff, &vc->vdc) ||
	    !read_ip(yc, yconf_get(yc, n, "vip"), "vcs[].vip", &vc->vip) ||
	    !read_ports(yc, yconf_get(yc, n, "ports"), vc) ||
	    !read_health(yc, yconf_get(yc, n, "health"), vc))
		return false;
	if ((v = yconf_get(yc, n, "sticky")) && !read_bool(yc, v, "vcs[].sticky", &vc->sticky))
		return false;
	return read_backends(yc, yconf_get(yc, n, "backends"), vc);
}

static bool read_root(struct yconf *yc, ynode *root, struct slb_config *c)
{
	static const char *const keys[] = { "vcs", NULL };
	ynode *n;
	size_t len;
	unsigned services = 0, backends = 0;

	if (!root || !yconf_is_map(root))
		return yconf_fail(yc, root, "expected a mapping with vcs");
	if (!yconf_only_keys(yc, root, "slb configuration", keys))
		return false;
	n = yconf_get(yc, root, "vcs");
	if (!n)
		return yconf_fail(yc, root, "vcs: missing");
	len = yconf_seq_len(n);
	if (!yconf_is_seq(n) || len > SLB_VCS_MAX)
		return yconf_fail(yc, n, "vcs: expected a list of at most %d VCs", SLB_VCS_MAX);
	c->vcs = xcalloc(len ? len : 1, sizeof(*c->vcs));
	for (size_t i = 0; i < len; i++) {
		ynode *v = yconf_seq_at(yc, n, i);
		struct slb_vc_cfg *vc = &c->vcs[i];

		c->nvcs = (unsigned)i + 1;	/* so that free() sees its backends */
		if (!read_vc(yc, v, vc))
			return false;
		for (size_t j = 0; j < i; j++) {
			if (!strcmp(c->vcs[j].name, vc->name))
				return yconf_fail(yc, v, "vcs[%zu].name: '%s' listed twice", i, vc->name);
			if (c->vcs[j].vip == vc->vip)
				return yconf_fail(yc, v, "vcs[%zu].vip: another VC's VIP", i);
		}
		services += vc->nports;
		backends += vc->nbackends;
		if (services > PGR_SLB_VIPS_MAX)
			return yconf_fail(yc, v, "vcs[%zu].ports: more than %d services in all", i,
					  PGR_SLB_VIPS_MAX);
		if (backends > PGR_SLB_BACKENDS_MAX)
			return yconf_fail(yc, v, "vcs[%zu].backends: more than %d backends in all", i,
					  PGR_SLB_BACKENDS_MAX);
	}
	return true;
}

static int finish(struct yconf *yc, struct slb_config *c, bool ok, char *err, size_t errlen)
{
	if (!ok) {
		snprintf(err, errlen, "%s", yc->err);
		yconf_free(yc);
		slb_config_free(c);
		return -EINVAL;
	}
	yconf_free(yc);
	return 0;
}

int slb_config_load_buf(struct slb_config *c, const char *name, const void *buf, size_t len,
			char *err, size_t errlen)
{
	struct yconf yc;

	memset(c, 0, sizeof(*c));
	if (yconf_load_buf(&yc, name, buf, len))
		return finish(&yc, c, false, err, errlen);
	return finish(&yc, c, read_root(&yc, yconf_root(&yc), c), err, errlen);
}

int slb_config_load_file(struct slb_config *c, const char *path, char *err, size_t errlen)
{
	struct yconf yc;

	memset(c, 0, sizeof(*c));
	if (yconf_load_file(&yc, path))
		return finish(&yc, c, false, err, errlen);
	return finish(&yc, c, read_root(&yc, yconf_root(&yc), c), err, errlen);
}

void slb_config_free(struct slb_config *c)
{
	for (unsigned i = 0; i < c->nvcs; i++)
		free(c->vcs[i].backends);
	free(c->vcs);
	c->vcs = NULL;
	c->nvcs = 0;
}

unsigned slb_config_services(const struct slb_config *c)
{
	unsigned n = 0;

	for (unsigned i = 0; i < c->nvcs; i++)
		n += c->vcs[i].nports;
	return n;
}
