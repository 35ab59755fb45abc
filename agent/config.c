/* The host agent's configuration file, read through lib/yconf (format in
 * docs/agent.md).  Every check happens here: the core trusts what it gets. */
#include "agent/config.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/parse.h"
#include "lib/yconf.h"
#include "wire/pgr.h"

/* "A.B.C.D:PORT" */
static bool read_addr(struct yconf *yc, ynode *n, const char *what, struct sockaddr_in *out)
{
	char host[32];
	const char *s, *colon;
	uint32_t port;

	if (!yconf_str(yc, n, what, &s))
		return false;
	colon = strrchr(s, ':');
	if (!colon || (size_t)(colon - s) >= sizeof(host) || !parse_u32(colon + 1, 65535, &port) ||
	    !port)
		return yconf_fail(yc, n, "%s: expected ADDRESS:PORT, got '%s'", what, s);
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = 0;
	memset(out, 0, sizeof(*out));
	out->sin_family = AF_INET;
	out->sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, host, &out->sin_addr) != 1)
		return yconf_fail(yc, n, "%s: '%s' is not an IPv4 address", what, host);
	return true;
}

/* directories: ["A.B.C.D:PORT", ...], the servers after `directory`. */
static bool read_more_dirs(struct yconf *yc, ynode *n, struct agent_config *c)
{
	size_t len;

	if (!yconf_is_seq(n))
		return yconf_fail(yc, n, "directories: expected a list of ADDRESS:PORT");
	len = yconf_seq_len(n);
	if (len > AGENT_MAX_MORE_DIRS)
		return yconf_fail(yc, n, "directories: at most %d", AGENT_MAX_MORE_DIRS);
	for (size_t i = 0; i < len; i++)
		if (!read_addr(yc, yconf_seq_at(yc, n, i), "directories", &c->more_dirs[i]))
			return false;
	c->nmore_dirs = (unsigned)len;
	return true;
}

static bool read_nics(struct yconf *yc, ynode *n, struct agent_config *c)
{
	size_t len = yconf_seq_len(n);

	if (!yconf_is_seq(n) || len < 1 || len > AGENT_MAX_NICS)
		return yconf_fail(yc, n, "nics: expected a list of 1 to %d interface names",
				  AGENT_MAX_NICS);
	for (size_t i = 0; i < len; i++)
		if (!yconf_name(yc, yconf_seq_at(yc, n, i), "nics[]", c->nic[i], AGENT_IFNAMSIZ))
			return false;
	c->nnics = (unsigned)len;
	return true;
}

/* plen, gateway, dns: what DHCP gives the VM (docs/tenant-network.md). */
static bool read_vm_dhcp(struct yconf *yc, ynode *n, struct agent_vm_cfg *vm)
{
	ynode *p = yconf_get(yc, n, "plen"), *g = yconf_get(yc, n, "gateway");
	ynode *d = yconf_get(yc, n, "dns");
	uint32_t plen = 0, mask;

	if (p && !yconf_u32(yc, p, "vms[].plen", 1, 30, &plen))
		return false;
	vm->plen = (uint8_t)plen;
	if ((g || d) && !p)
		return yconf_fail(yc, n, "vms[]: gateway and dns need plen");
	if (g && !yconf_ipv4(yc, g, "vms[].gateway", &vm->gateway))
		return false;
	mask = plen ? 0xffffffffu << (32 - plen) : 0;
	if (g && ((vm->gateway & mask) != (vm->ip & mask) || vm->gateway == vm->ip))
		return yconf_fail(yc, g, "vms[].gateway: not another address of the VM's prefix");
	if (!d)
		return true;
	if (!yconf_is_seq(d) || yconf_seq_len(d) > AGENT_MAX_DNS)
		return yconf_fail(yc, d, "vms[].dns: expected a list of at most %d addresses",
				  AGENT_MAX_DNS);
	vm->ndns = (unsigned)yconf_seq_len(d);
	for (unsigned i = 0; i < vm->ndns; i++)
		if (!yconf_ipv4(yc, yconf_seq_at(yc, d, i), "vms[].dns[]", &vm->dns[i]))
			return false;
	return true;
}

/* prefix6: the VDC's IPv6 /64, "fd00:0:0:1::/64" (SLAAC needs a /64). */
static bool read_vm_prefix6(struct yconf *yc, ynode *n, struct agent_vm_cfg *vm)
{
	ynode *p = yconf_get(yc, n, "prefix6");
	const char *txt = p ? yconf_scalar(yc, p) : NULL;
	char buf[INET6_ADDRSTRLEN + 4], *slash;
	uint8_t a[16];
	static const uint8_t zero[8];

	if (!p)
		return true;
	if (!txt || strlen(txt) >= sizeof(buf))
		return yconf_fail(yc, p, "vms[].prefix6: expected an IPv6 /64 prefix");
	strcpy(buf, txt);
	slash = strchr(buf, '/');
	if (!slash || strcmp(slash, "/64"))
		return yconf_fail(yc, p, "vms[].prefix6: expected a /64 (SLAAC)");
	*slash = 0;
	if (inet_pton(AF_INET6, buf, a) != 1 || memcmp(a + 8, zero, 8) || a[0] == 0xff ||
	    (a[0] == 0xfe && (a[1] & 0xc0) == 0x80))
		return yconf_fail(yc, p, "vms[].prefix6: not a unicast /64 prefix");
	memcpy(vm->prefix6, a, 8);
	vm->has_prefix6 = true;
	return true;
}

/* vips: [{ip: VIP, edge: NODE, via: NODE}, ...]: the VCs' VIPs the VM
 * answers from (docs/slb.md, "The return path"). */
static bool read_vm_vips(struct yconf *yc, ynode *n, struct agent_vm_cfg *vm)
{
	static const char *const keys[] = { "ip", "edge", "via", NULL };
	ynode *l = yconf_get(yc, n, "vips");
	size_t len;

	if (!l)
		return true;
	len = yconf_seq_len(l);
	if (!yconf_is_seq(l) || len > AGENT_VM_MAX_VIPS)
		return yconf_fail(yc, l, "vms[].vips: expected a list of at most %d VIPs",
				  AGENT_VM_MAX_VIPS);
	for (size_t i = 0; i < len; i++) {
		struct agent_vip_cfg *p = &vm->vips[i];
		ynode *e = yconf_seq_at(yc, l, i), *v;

		if (!yconf_is_map(e))
			return yconf_fail(yc, e, "vms[].vips[]: expected {ip, edge, via}");
		if (!yconf_only_keys(yc, e, "vms[].vips[]", keys))
			return false;
		if (!(v = yconf_get(yc, e, "ip")))
			return yconf_fail(yc, e, "vms[].vips[].ip: missing");
		if (!yconf_ipv4(yc, v, "vms[].vips[].ip", &p->ip))
			return false;
		if (p->ip == 0 || p->ip == 0xffffffffu || p->ip >> 28 >= 14 || p->ip >> 24 == 127)
			return yconf_fail(yc, v, "vms[].vips[].ip: not a unicast host address");
		if (p->ip == vm->ip)
			return yconf_fail(yc, v, "vms[].vips[].ip: the VM's own address");
		for (size_t j = 0; j < i; j++)
			if (vm->vips[j].ip == p->ip)
				return yconf_fail(yc, v, "vms[].vips[].ip: listed twice");
		if (!(v = yconf_get(yc, e, "edge")))
			return yconf_fail(yc, e, "vms[].vips[].edge: missing");
		if (!yconf_u32(yc, v, "vms[].vips[].edge", 1, PGR_NODE_MAX, &p->edge))
			return false;
		if ((v = yconf_get(yc, e, "via")) &&
		    !yconf_u32(yc, v, "vms[].vips[].via", 1, PGR_NODE_MAX, &p->via))
			return false;
	}
	vm->nvips = (unsigned)len;
	return true;
}

static bool read_vm(struct yconf *yc, ynode *n, struct agent_vm_cfg *vm)
{
	/* messages say vms[] for a workload file too: its lines are the same */
	static const char *const keys[] = { "name", "vdc", "ip", "node", "port", NULL };
	enum { REQUIRED = 5 };	/* all but the optional ones below */
	static const char *const all[] = { "name", "vdc", "ip", "node", "port", "policy",
					   "plen", "gateway", "dns", "prefix6", "router", "vips",
					   NULL };
	ynode *v;

	if (!yconf_is_map(n))
		return yconf_fail(yc, n, "vms[]: expected a mapping");
	if (!yconf_only_keys(yc, n, "vms[]", all))
		return false;
	for (size_t i = 0; i < REQUIRED; i++)
		if (!yconf_get(yc, n, keys[i]))
			return yconf_fail(yc, n, "vms[].%s: missing", keys[i]);
	if ((v = yconf_get(yc, n, "policy")) &&
	    !yconf_name(yc, v, "vms[].policy", vm->policy, sizeof(vm->policy)))
		return false;
	if (!yconf_name(yc, yconf_get(yc, n, "name"), "vms[].name", vm->name, sizeof(vm->name)) ||
	    !yconf_u32(yc, yconf_get(yc, n, "vdc"), "vms[].vdc", 1, 0xffffff, &vm->vdc) ||
	    !yconf_ipv4(yc, yconf_get(yc, n, "ip"), "vms[].ip", &vm->ip) ||
	    !yconf_u32(yc, yconf_get(yc, n, "node"), "vms[].node", 1, PGR_NODE_MAX, &vm->node) ||
	    !yconf_name(yc, yconf_get(yc, n, "port"), "vms[].port", vm->port, AGENT_IFNAMSIZ))
		return false;
	if ((v = yconf_get(yc, n, "router"))) {
		const char *b;

		if (!yconf_str(yc, v, "vms[].router", &b) || (strcmp(b, "true") && strcmp(b, "false")))
			return yconf_fail(yc, v, "vms[].router: true or false");
		vm->router = !strcmp(b, "true");
	}
	v = yconf_get(yc, n, "ip");
	if (vm->ip == 0 || vm->ip == 0xffffffffu)
		return yconf_fail(yc, v, "vms[].ip: not a host address");
	return read_vm_dhcp(yc, n, vm) && read_vm_prefix6(yc, n, vm) && read_vm_vips(yc, n, vm);
}

/* The index of a VM before i sharing i's node, port or (vdc, ip); -1. */
static int vm_clash(const struct agent_vm_cfg *vms, size_t i)
{
	for (size_t j = 0; j < i; j++)
		if (vms[j].node == vms[i].node || !strcmp(vms[j].port, vms[i].port) ||
		    (vms[j].vdc == vms[i].vdc && vms[j].ip == vms[i].ip))
			return (int)j;
	return -1;
}

static bool read_vms(struct yconf *yc, ynode *n, struct agent_config *c)
{
	size_t len;

	if (!n) {
		c->nvms = 0;
		return true;
	}
	len = yconf_seq_len(n);
	if (!yconf_is_seq(n) || len > AGENT_MAX_VMS)
		return yconf_fail(yc, n, "vms: expected a list of at most %d VMs", AGENT_MAX_VMS);
	c->vms = calloc(len ? len : 1, sizeof(*c->vms));
	if (!c->vms)
		return yconf_fail(yc, n, "vms: out of memory");
	for (size_t i = 0; i < len; i++) {
		int j;

		if (!read_vm(yc, yconf_seq_at(yc, n, i), &c->vms[i]))
			return false;
		if ((j = vm_clash(c->vms, i)) >= 0)
			return yconf_fail(yc, yconf_seq_at(yc, n, i),
					  "vms[%zu]: same node, port or (vdc, ip) as vms[%d]", i, j);
	}
	c->nvms = (unsigned)len;
	return true;
}

static bool read_root(struct yconf *yc, ynode *root, struct agent_config *c)
{
	static const char *const keys[] = { "server", "node", "nics", "directory", "ras",
					    "key", "topology", "vms", "workloads", "directories",
					    "nic_mbps", NULL };
	ynode *w;

	if (!root || !yconf_is_map(root))
		return yconf_fail(yc, root, "expected a mapping with server, node, nics, ...");
	if (!yconf_only_keys(yc, root, "agent configuration", keys))
		return false;
	for (size_t i = 0; keys[i + 4]; i++)	/* all but the last four are required */
		if (!yconf_get(yc, root, keys[i]))
			return yconf_fail(yc, root, "%s: missing", keys[i]);
	if ((w = yconf_get(yc, root, "workloads")) &&
	    !yconf_name(yc, w, "workloads", c->workloads, sizeof(c->workloads)))
		return false;
	if ((w = yconf_get(yc, root, "directories")) && !read_more_dirs(yc, w, c))
		return false;
	if ((w = yconf_get(yc, root, "nic_mbps")) &&
	    !yconf_u32(yc, w, "nic_mbps", 1, 1000000, &c->nic_mbps))
		return false;
	return yconf_name(yc, yconf_get(yc, root, "server"), "server", c->server,
			 sizeof(c->server)) &&
	       yconf_u32(yc, yconf_get(yc, root, "node"), "node", 1, PGR_NODE_MAX, &c->node) &&
	       read_nics(yc, yconf_get(yc, root, "nics"), c) &&
	       read_addr(yc, yconf_get(yc, root, "directory"), "directory", &c->directory) &&
	       read_addr(yc, yconf_get(yc, root, "ras"), "ras", &c->ras) &&
	       yconf_name(yc, yconf_get(yc, root, "key"), "key", c->key, sizeof(c->key)) &&
	       yconf_name(yc, yconf_get(yc, root, "topology"), "topology", c->topology,
			 sizeof(c->topology)) &&
	       read_vms(yc, yconf_get(yc, root, "vms"), c);
}

static int finish(struct yconf *yc, struct agent_config *c, bool ok, char *err, size_t errlen)
{
	if (!ok) {
		snprintf(err, errlen, "%s", yc->err);
		yconf_free(yc);
		agent_config_free(c);
		return -EINVAL;
	}
	yconf_free(yc);
	return 0;
}

int agent_config_load_buf(struct agent_config *c, const char *name, const void *buf,
			  size_t len, char *err, size_t errlen)
{
	struct yconf yc;

	memset(c, 0, sizeof(*c));
	if (yconf_load_buf(&yc, name, buf, len))
		return finish(&yc, c, false, err, errlen);
	return finish(&yc, c, read_root(&yc, yconf_root(&yc), c), err, errlen);
}

int agent_workload_parse(struct agent_vm_cfg *vm, const char *name, const void *buf,
			 size_t len, char *err, size_t errlen)
{
	struct yconf yc;
	bool ok;

	memset(vm, 0, sizeof(*vm));
	ok = !yconf_load_buf(&yc, name, buf, len) && read_vm(&yc, yconf_root(&yc), vm);
	if (!ok)
		snprintf(err, errlen, "%s", yc.err);
	yconf_free(&yc);
	return ok ? 0 : -EINVAL;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

/* NAME.yaml, not hidden (a writer's temporary file is .NAME.tmp) */
static int workload_filter(const struct dirent *d)
{
	size_t n = strlen(d->d_name);

	return d->d_name[0] != '.' && n > 5 && !strcmp(d->d_name + n - 5, ".yaml");
}

/* Read one workload file (bounded) into vm. */
static int read_workload(const char *path, struct agent_vm_cfg *vm, char *err, size_t errlen)
{
	char buf[AGENT_WORKLOAD_MAX_BYTES];
	size_t len;
	FILE *f = fopen(path, "r");

	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -EINVAL;
	}
	len = fread(buf, 1, sizeof(buf), f);
	if (ferror(f) || (len == sizeof(buf) && fgetc(f) != EOF)) {
		snprintf(err, errlen, "%s: unreadable or larger than %d bytes", path,
			 AGENT_WORKLOAD_MAX_BYTES - 1);
		fclose(f);
		return -EINVAL;
	}
	fclose(f);
	return agent_workload_parse(vm, path, buf, len, err, errlen);
}

/* Append the workloads directory's VMs to c. */
static int load_workloads(struct agent_config *c, char *err, size_t errlen)
{
	struct dirent **names;
	struct agent_vm_cfg *vms;
	int n, ret = 0;

	n = scandir(c->workloads, &names, workload_filter, by_name);
	if (n < 0) {
		if (errno == ENOENT)	/* nothing attached yet */
			return 0;
		snprintf(err, errlen, "workloads: %s: %s", c->workloads, strerror(errno));
		return -EINVAL;
	}
	if ((size_t)c->nvms + (size_t)n > AGENT_MAX_VMS) {
		snprintf(err, errlen, "workloads: %s: %d workloads and %u VMs are more than %d",
			 c->workloads, n, c->nvms, AGENT_MAX_VMS);
		ret = -EINVAL;
	} else if (!(vms = realloc(c->vms, ((size_t)c->nvms + (size_t)n + 1) * sizeof(*vms)))) {
		snprintf(err, errlen, "workloads: out of memory");
		ret = -EINVAL;
	} else {
		c->vms = vms;
	}
	for (int i = 0; i < n; i++) {
		char path[AGENT_PATH_MAX + 300];
		int j;

		if (!ret) {
			snprintf(path, sizeof(path), "%s/%s", c->workloads, names[i]->d_name);
			ret = read_workload(path, &c->vms[c->nvms], err, errlen);
			if (!ret && (j = vm_clash(c->vms, c->nvms)) >= 0) {
				snprintf(err, errlen, "%s: same node, port or (vdc, ip) as %s", path,
					 c->vms[j].name);
				ret = -EINVAL;
			}
			if (!ret) {
				c->nvms++;
				c->nworkloads++;
			}
		}
		free(names[i]);
	}
	free(names);
	return ret;
}

int agent_config_load_file(struct agent_config *c, const char *path, char *err,
			   size_t errlen)
{
	struct yconf yc;
	int ret;

	memset(c, 0, sizeof(*c));
	if (yconf_load_file(&yc, path))
		return finish(&yc, c, false, err, errlen);
	if ((ret = finish(&yc, c, read_root(&yc, yconf_root(&yc), c), err, errlen)))
		return ret;
	if (c->workloads[0] && (ret = load_workloads(c, err, errlen)))
		agent_config_free(c);
	return ret;
}

void agent_config_free(struct agent_config *c)
{
	free(c->vms);
	c->vms = NULL;
	c->nvms = 0;
	c->nworkloads = 0;
}

static const char *addr_str(const struct sockaddr_in *a, char *buf, size_t len)
{
	char ip[INET_ADDRSTRLEN];

	inet_ntop(AF_INET, &a->sin_addr, ip, sizeof(ip));
	snprintf(buf, len, "%s:%u", ip, ntohs(a->sin_port));
	return buf;
}

static const char *ipv4_str(uint32_t host, char buf[INET_ADDRSTRLEN])
{
	struct in_addr a = { htonl(host) };

	return inet_ntop(AF_INET, &a, buf, INET_ADDRSTRLEN);
}

int agent_workload_write(const struct agent_vm_cfg *v, FILE *f)
{
	char ip[INET_ADDRSTRLEN];
	struct in_addr a = { htonl(v->ip) };

	inet_ntop(AF_INET, &a, ip, sizeof(ip));
	fprintf(f, "{ name: %s, vdc: %u, ip: %s, node: %u, port: %s", v->name, v->vdc, ip,
		v->node, v->port);
	if (v->policy[0])
		fprintf(f, ", policy: \"%s\"", v->policy);
	if (v->router)
		fprintf(f, ", router: true");
	if (v->plen)
		fprintf(f, ", plen: %u", v->plen);
	if (v->gateway)
		fprintf(f, ", gateway: %s", ipv4_str(v->gateway, ip));
	for (unsigned i = 0; i < v->ndns; i++)
		fprintf(f, "%s%s", i ? ", " : ", dns: [", ipv4_str(v->dns[i], ip));
	fprintf(f, "%s", v->ndns ? "]" : "");
	if (v->has_prefix6) {
		uint8_t a6[16] = { 0 };
		char p6[INET6_ADDRSTRLEN];

		memcpy(a6, v->prefix6, 8);
		fprintf(f, ", prefix6: \"%s/64\"", inet_ntop(AF_INET6, a6, p6, sizeof(p6)));
	}
	for (unsigned i = 0; i < v->nvips; i++) {
		fprintf(f, "%s{ip: %s, edge: %u", i ? ", " : ", vips: [", ipv4_str(v->vips[i].ip, ip),
			v->vips[i].edge);
		if (v->vips[i].via)
			fprintf(f, ", via: %u", v->vips[i].via);
		fprintf(f, "}%s", i + 1 == v->nvips ? "]" : "");
	}
	fprintf(f, " }\n");
	return ferror(f) ? -EIO : 0;
}

int agent_config_write(const struct agent_config *c, FILE *f)
{
	unsigned own = c->nvms - c->nworkloads;
	char b1[32], b2[32];

	fprintf(f, "# peregrine agent configuration (docs/agent.md)\n");
	fprintf(f, "server: %s\nnode: %u\nnics: [", c->server, c->node);
	for (unsigned i = 0; i < c->nnics; i++)
		fprintf(f, "%s%s", i ? ", " : "", c->nic[i]);
	fprintf(f, "]\ndirectory: \"%s\"\nras: \"%s\"\nkey: %s\ntopology: \"%s\"\n",
		addr_str(&c->directory, b1, sizeof(b1)), addr_str(&c->ras, b2, sizeof(b2)),
		c->key, c->topology);
	if (c->workloads[0])
		fprintf(f, "workloads: \"%s\"\n", c->workloads);
	if (c->nic_mbps)
		fprintf(f, "nic_mbps: %u\n", c->nic_mbps);
	for (unsigned i = 0; i < c->nmore_dirs; i++)
		fprintf(f, "%s\"%s\"%s", i ? ", " : "directories: [",
			addr_str(&c->more_dirs[i], b1, sizeof(b1)), i + 1 == c->nmore_dirs ? "]\n" : "");
	fprintf(f, "vms:%s\n", own ? "" : " []");
	for (unsigned i = 0; i < own; i++) {
		fputs("  - ", f);
		agent_workload_write(&c->vms[i], f);
	}
	return ferror(f) ? -EIO : 0;
}
