/* Lab files: YAML read through lib/yconf (format in docs/lab.md).  Every
 * check happens here, before `lab up` creates anything. */
#include "lab/lab.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bpf/bcube.h"
#include "agent/policy.h"
#include "bpf/netlord.h"
#include "lib/yconf.h"
#include "wire/pgr.h"

const char lab_default_yaml[] =
	"# The default lab: 8 dual-homed servers under a 2x4 leaf-spine, two\n"
	"# tenants that use the same addresses, one VM of each on every server.\n"
	"name: default\n"
	"topology: leafspine:spines=2,leaves=4,servers=2,homing=2\n"
	"vdcs:\n"
	"  - {name: red, id: 1, subnet: 10.0.0.0/24, subnet6: \"fd00:0:0:1::/64\"}\n"
	"  - {name: blue, id: 2, subnet: 10.0.0.0/24, subnet6: \"fd00:0:0:1::/64\"}\n"
	"placement:\n"
	"  per_server: 1\n"
	"# One multicast group in each VDC, the same address (docs/multicast.md).\n"
	"groups:\n"
	"  - {vdc: red, group: 239.1.2.3, members: [red-srv1, red-srv5, red-srv6]}\n"
	"  - {vdc: blue, group: 239.1.2.3, members: [blue-srv1]}\n";

bool lab_prefix_ok(const char *p)
{
	size_t n = strlen(p);

	if (n == 0 || n > LAB_MAX_PREFIX || !(p[0] >= 'a' && p[0] <= 'z'))
		return false;
	for (; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9')))
			return false;
	return true;
}

static bool name_ok(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n == 0 || n > max)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '-' || *s == '_' || *s == '.'))
			return false;
	return true;
}

/* "a.b.c.d/len" */
static bool parse_subnet(const char *s, uint32_t *net, uint8_t *plen)
{
	char buf[32];
	const char *slash = strchr(s, '/');
	struct in_addr a;
	char *end;
	long len;

	if (!slash || (size_t)(slash - s) >= sizeof(buf))
		return false;
	memcpy(buf, s, (size_t)(slash - s));
	buf[slash - s] = 0;
	len = strtol(slash + 1, &end, 10);
	if (inet_pton(AF_INET, buf, &a) != 1 || *end || end == slash + 1 || len < 8 || len > 30)
		return false;
	*net = ntohl(a.s_addr);
	*plen = (uint8_t)len;
	return (*net & ~(0xffffffffu << (32 - len))) == 0;
}

static bool parse_ip(const char *s, uint32_t *ip)
{
	struct in_addr a;

	if (inet_pton(AF_INET, s, &a) != 1)
		return false;
	*ip = ntohl(a.s_addr);
	return true;
}

/* ---- the topology ---------------------------------------------------------- */
/* Re-emit a YAML subtree as flow-style text whose line numbers are those of
 * the lab file, so that topo/file.c's errors point at the right line. */
static void emit(FILE *f, struct yconf *yc, ynode *n, int *line)
{
	ynode *k, *v;

	while (*line < yconf_line(n) - 1) {
		fputc('\n', f);
		(*line)++;
	}
	if (yconf_is_scalar(n)) {
		const char *s = yconf_scalar(yc, n);

		fputc('"', f);
		for (size_t i = 0; i < yconf_scalar_len(n); i++) {
			unsigned char c = (unsigned char)s[i];

			if (c == '"' || c == '\\')
				fprintf(f, "\\%c", c);
			else if (c < 0x20)
				fprintf(f, "\\x%02x", c);
			else
				fputc(c, f);
		}
		fputc('"', f);
	} else if (yconf_is_seq(n)) {
		fputc('[', f);
		for (size_t i = 0; i < yconf_seq_len(n); i++) {
			if (i)
				fputc(',', f);
			emit(f, yc, yconf_seq_at(yc, n, i), line);
		}
		fputc(']', f);
	} else {
		fputc('{', f);
		for (size_t i = 0; yconf_map_at(yc, n, i, &k, &v); i++) {
			if (i)
				fputc(',', f);
			emit(f, yc, k, line);
			fputc(':', f);
			emit(f, yc, v, line);
		}
		fputc('}', f);
	}
}

static bool read_topology(struct yconf *yc, ynode *n, struct lab *l)
{
	char err[512];
	char *text = NULL;
	size_t len = 0;
	int line = 0, rc;
	FILE *f;

	if (yconf_is_scalar(n)) {
		if (topo_from_spec(yconf_scalar(yc, n), &l->topo, err, sizeof(err)))
			return yconf_fail(yc, n, "topology: %s", err);
		return true;
	}
	if (!yconf_is_map(n))
		return yconf_fail(yc, n, "topology: expected a spec or a topology mapping");
	if (!(f = open_memstream(&text, &len)))
		die("out of memory");
	emit(f, yc, n, &line);
	fclose(f);
	rc = topo_load_buf(yc->name, text, len, &l->topo, err, sizeof(err));
	l->topo_text = text;	/* `fabric gen` writes it out for the daemons */
	if (rc) {
		/* topo's message already names the file and line */
		snprintf(yc->err, sizeof(yc->err), "%s", err);
		yc->failed = true;
		return false;
	}
	return true;
}

/* ---- sections -------------------------------------------------------------- */
static bool read_links(struct yconf *yc, ynode *m, struct lab *l)
{
	static const char *const keys[] = { "mbps", "delay_ms", NULL };
	ynode *v;

	if (!yconf_is_map(m))
		return yconf_fail(yc, m, "links: expected a mapping");
	if (!yconf_only_keys(yc, m, "links", keys))
		return false;
	if ((v = yconf_get(yc, m, "mbps")) &&
	    !yconf_u32(yc, v, "links.mbps", 1, 100000, &l->mbps))
		return false;
	if ((v = yconf_get(yc, m, "delay_ms")) &&
	    !yconf_double(yc, v, "links.delay_ms", 0, 10000, &l->delay_ms))
		return false;
	return true;
}

static bool read_mgmt(struct yconf *yc, ynode *m, struct lab *l)
{
	static const char *const keys[] = { "subnet", "switchd_port", "ras_port", NULL };
	ynode *v;
	const char *s;
	uint32_t port;

	if (!yconf_is_map(m))
		return yconf_fail(yc, m, "mgmt: expected a mapping");
	if (!yconf_only_keys(yc, m, "mgmt", keys))
		return false;
	if ((v = yconf_get(yc, m, "subnet"))) {
		if (!yconf_str(yc, v, "mgmt.subnet", &s))
			return false;
		if (!parse_subnet(s, &l->mgmt_net, &l->mgmt_plen))
			return yconf_fail(yc, v, "mgmt.subnet: '%s' is not a subnet a.b.c.d/8..30", s);
	}
	if ((v = yconf_get(yc, m, "switchd_port"))) {
		if (!yconf_u32(yc, v, "mgmt.switchd_port", 1, 65535, &port))
			return false;
		l->switchd_port = (uint16_t)port;
	}
	if ((v = yconf_get(yc, m, "ras_port"))) {
		if (!yconf_u32(yc, v, "mgmt.ras_port", 1, 65535, &port))
			return false;
		l->ras_port = (uint16_t)port;
	}
	return true;
}

/* ha: {etcd: N, directories: N, ras: N} (docs/ha.md, "In the lab"). */
static bool read_ha(struct yconf *yc, ynode *m, struct lab *l)
{
	static const char *const keys[] = { "etcd", "directories", "ras", NULL };
	/* etcd: its client URLs must fit one argument (lab/ha.c) */
	static const uint32_t max[LAB_HA_KINDS] = { 3, LAB_HA_MAX, LAB_HA_MAX };
	uint64_t hosts = 1ull << (32 - l->mgmt_plen);

	if (!yconf_is_map(m))
		return yconf_fail(yc, m, "ha: expected {etcd, directories, ras}");
	if (!yconf_only_keys(yc, m, "ha", keys))
		return false;
	for (unsigned k = 0; k < LAB_HA_KINDS; k++) {
		char what[32];
		ynode *v = yconf_get(yc, m, keys[k]);

		snprintf(what, sizeof(what), "ha.%s", keys[k]);
		if (!v)
			return yconf_fail(yc, m, "%s: missing (1 to %u)", what, max[k]);
		if (!yconf_u32(yc, v, what, 1, max[k], &l->ha.n[k]))
			return false;
	}
	if (l->scheme != PGR_SCHEME_PEREGRINE)
		return yconf_fail(yc, m, "ha: only in the peregrine scheme");
	if (l->topo->nnodes + 3 + LAB_HA_KINDS * LAB_HA_MAX > hosts)
		return yconf_fail(yc, m, "mgmt.subnet: too small for %u nodes and the ha "
				  "namespaces", l->topo->nnodes);
	return true;
}

/* "fd00:0:0:1::/64": a unicast /64, not link-local. */
static bool parse_subnet6(const char *s, uint8_t net6[8])
{
	static const uint8_t zero[8];
	char buf[INET6_ADDRSTRLEN + 4];
	const char *slash = strchr(s, '/');
	uint8_t a[16];

	if (!slash || strcmp(slash, "/64") || (size_t)(slash - s) >= sizeof(buf))
		return false;
	memcpy(buf, s, (size_t)(slash - s));
	buf[slash - s] = 0;
	if (inet_pton(AF_INET6, buf, a) != 1 || memcmp(a + 8, zero, 8) || a[0] == 0xff ||
	    (a[0] == 0xfe && (a[1] & 0xc0) == 0x80) || !memcmp(a, zero, 8))
		return false;
	memcpy(net6, a, 8);
	return true;
}

static bool read_vdc(struct yconf *yc, ynode *it, size_t i, struct lab *l)
{
	static const char *const keys[] = { "name", "id", "subnet", "subnet6", NULL };
	struct lab_vdc *d = &l->vdcs[i];
	char what[48];
	const char *s;
	ynode *v;

	snprintf(what, sizeof(what), "vdcs[%zu]", i);
	if (!yconf_is_map(it))
		return yconf_fail(yc, it, "%s: expected {name, id, subnet}", what);
	if (!yconf_only_keys(yc, it, what, keys))
		return false;
	if (!(v = yconf_get(yc, it, "name")) || !yconf_str(yc, v, what, &s))
		return yconf_fail(yc, it, "%s: needs a name", what);
	if (!name_ok(s, LAB_MAX_VDC_NAME))
		return yconf_fail(yc, v, "%s.name: '%s': 1 to %d of A-Z a-z 0-9 - _ .",
				  what, s, LAB_MAX_VDC_NAME);
	snprintf(d->name, sizeof(d->name), "%s", s);
	for (size_t j = 0; j < i; j++)
		if (!strcmp(l->vdcs[j].name, s))
			return yconf_fail(yc, v, "%s.name: '%s' used twice", what, s);
	if (!(v = yconf_get(yc, it, "id")) || !yconf_u32(yc, v, "id", 1, 0xffffff, &d->id))
		return yconf_fail(yc, it, "%s: needs an id from 1 to 16777215", what);
	for (size_t j = 0; j < i; j++)
		if (l->vdcs[j].id == d->id)
			return yconf_fail(yc, v, "%s.id: %u used twice", what, d->id);
	if (!(v = yconf_get(yc, it, "subnet")) || !yconf_str(yc, v, what, &s) ||
	    !parse_subnet(s, &d->net, &d->plen))
		return yconf_fail(yc, v ? v : it, "%s.subnet: expected a.b.c.d/8..30", what);
	d->next_host = 1;
	if ((v = yconf_get(yc, it, "subnet6")) &&
	    (!yconf_str(yc, v, what, &s) || !parse_subnet6(s, d->net6)))
		return yconf_fail(yc, v, "%s.subnet6: expected a unicast IPv6 /64 (SLAAC)", what);
	d->has_net6 = v != NULL;
	return true;
}

static bool read_vdcs(struct yconf *yc, ynode *seq, struct lab *l)
{
	if (!yconf_is_seq(seq))
		return yconf_fail(yc, seq, "vdcs: expected a list");
	if (yconf_seq_len(seq) > LAB_MAX_VDCS)
		return yconf_fail(yc, seq, "vdcs: at most %d", LAB_MAX_VDCS);
	l->nvdcs = (uint32_t)yconf_seq_len(seq);
	l->vdcs = xcalloc(l->nvdcs + 1, sizeof(*l->vdcs));
	for (size_t i = 0; i < l->nvdcs; i++)
		if (!read_vdc(yc, yconf_seq_at(yc, seq, i), i, l))
			return false;
	return true;
}

/* ---- VMs ------------------------------------------------------------------- */
static int find_vdc(const struct lab *l, const char *name)
{
	for (uint32_t i = 0; i < l->nvdcs; i++)
		if (!strcmp(l->vdcs[i].name, name))
			return (int)i;
	return -1;
}

static bool vm_name_taken(const struct lab *l, const char *name)
{
	if (topo_find(l->topo, name) != UINT32_MAX || !strcmp(name, "mgmt"))
		return true;
	for (uint32_t i = 0; i < l->nvms; i++)
		if (!strcmp(l->vms[i].name, name))
			return true;
	return false;
}

static bool ip_in(const struct lab_vdc *d, uint32_t ip)
{
	uint32_t mask = 0xffffffffu << (32 - d->plen);

	return (ip & mask) == d->net && ip != d->net && ip != (d->net | ~mask);
}

static bool ip_taken(const struct lab *l, uint16_t vdc, uint32_t ip)
{
	for (uint32_t i = 0; i < l->nvms; i++)
		if (l->vms[i].vdc == vdc && l->vms[i].ip == ip)
			return true;
	return false;
}

/* Next free address of a VDC, or 0 when the subnet is full. */
static uint32_t next_ip(struct lab *l, uint16_t vdc)
{
	struct lab_vdc *d = &l->vdcs[vdc];

	for (; d->next_host < (1u << (32 - d->plen)) - 1; d->next_host++)
		if (!ip_taken(l, vdc, d->net + d->next_host))
			return d->net + d->next_host++;
	return 0;
}

static struct lab_vm *add_vm(struct yconf *yc, ynode *at, struct lab *l, const char *name,
			     uint16_t vdc, uint32_t server)
{
	struct lab_vm *vm;

	if (l->nvms == LAB_MAX_VMS)
		return yconf_fail(yc, at, "at most %d VMs", LAB_MAX_VMS), NULL;
	if (vm_name_taken(l, name))
		return yconf_fail(yc, at, "VM name '%s' is already a node or VM", name), NULL;
	vm = &l->vms[l->nvms];
	*vm = (struct lab_vm){ .vdc = vdc, .server = server, .id = l->nvms + 1 };
	snprintf(vm->name, sizeof(vm->name), "%s", name);
	l->nvms++;
	return vm;
}

static bool read_vm(struct yconf *yc, ynode *it, size_t i, struct lab *l)
{
	static const char *const keys[] = { "name", "vdc", "server", "ip", NULL };
	const char *name, *vdc, *server, *ip = NULL;
	char what[48];
	struct lab_vm *vm;
	uint32_t node;
	ynode *v;
	int di;

	snprintf(what, sizeof(what), "vms[%zu]", i);
	if (!yconf_is_map(it))
		return yconf_fail(yc, it, "%s: expected {name, vdc, server[, ip]}", what);
	if (!yconf_only_keys(yc, it, what, keys))
		return false;
	if (!(v = yconf_get(yc, it, "name")) || !yconf_str(yc, v, what, &name) ||
	    !name_ok(name, LAB_MAX_VM_NAME))
		return yconf_fail(yc, v ? v : it, "%s.name: 1 to %d of A-Z a-z 0-9 - _ .",
				  what, LAB_MAX_VM_NAME);
	if (!(v = yconf_get(yc, it, "vdc")) || !yconf_str(yc, v, what, &vdc) ||
	    (di = find_vdc(l, vdc)) < 0)
		return yconf_fail(yc, v ? v : it, "%s.vdc: not a VDC of this lab", what);
	if (!(v = yconf_get(yc, it, "server")) || !yconf_str(yc, v, what, &server) ||
	    (node = topo_find(l->topo, server)) == UINT32_MAX || !topo_is_server(l->topo, node))
		return yconf_fail(yc, v ? v : it, "%s.server: not a server of the topology", what);
	if (!(vm = add_vm(yc, it, l, name, (uint16_t)di, node)))
		return false;
	if ((v = yconf_get(yc, it, "ip"))) {
		if (!yconf_str(yc, v, what, &ip) || !parse_ip(ip, &vm->ip) ||
		    !ip_in(&l->vdcs[di], vm->ip))
			return yconf_fail(yc, v, "%s.ip: not a host address of VDC %s", what, vdc);
		l->nvms--;
		if (ip_taken(l, (uint16_t)di, vm->ip))
			return yconf_fail(yc, v, "%s.ip: %s used twice in VDC %s", what, ip, vdc);
		l->nvms++;
	}
	return true;
}

static bool read_vms(struct yconf *yc, ynode *seq, struct lab *l)
{
	if (!yconf_is_seq(seq))
		return yconf_fail(yc, seq, "vms: expected a list");
	for (size_t i = 0; i < yconf_seq_len(seq); i++)
		if (!read_vm(yc, yconf_seq_at(yc, seq, i), i, l))
			return false;
	return true;
}

static bool place_per_server(struct yconf *yc, ynode *m, struct lab *l)
{
	static const char *const keys[] = { "per_server", NULL };
	uint32_t per;
	ynode *v;

	if (!yconf_is_map(m))
		return yconf_fail(yc, m, "placement: expected {per_server: N}");
	if (!yconf_only_keys(yc, m, "placement", keys))
		return false;
	if (!(v = yconf_get(yc, m, "per_server")))
		return yconf_fail(yc, m, "placement: needs per_server");
	if (!yconf_u32(yc, v, "placement.per_server", 0, LAB_MAX_PER_SERVER, &per))
		return false;
	for (uint32_t s = 0; s < l->topo->nservers; s++) {
		uint32_t node = l->topo->servers[s];

		for (uint16_t d = 0; d < l->nvdcs; d++) {
			for (uint32_t k = 0; k < per; k++) {
				char name[LAB_MAX_VM_NAME + 16];
				struct lab_vm *vm;

				if (per == 1)
					snprintf(name, sizeof(name), "%s-%s", l->vdcs[d].name,
						 l->topo->nodes[node].name);
				else
					snprintf(name, sizeof(name), "%s-%s-%u", l->vdcs[d].name,
						 l->topo->nodes[node].name, k);
				if (strlen(name) > LAB_MAX_VM_NAME)
					return yconf_fail(yc, v, "VM name '%s' too long", name);
				if (!(vm = add_vm(yc, v, l, name, d, node)))
					return false;
			}
		}
	}
	return true;
}

/* Addresses for VMs that did not name one, in order. */
static bool assign_ips(struct yconf *yc, ynode *root, struct lab *l)
{
	for (uint32_t i = 0; i < l->nvms; i++) {
		struct lab_vm *vm = &l->vms[i];

		if (vm->ip)
			continue;
		if (!(vm->ip = next_ip(l, vm->vdc)))
			return yconf_fail(yc, root, "VDC %s: subnet too small for its VMs",
					  l->vdcs[vm->vdc].name);
	}
	return true;
}

/* ---- the whole file -------------------------------------------------------- */
static bool check_size(struct yconf *yc, ynode *root, struct lab *l)
{
	uint64_t hosts = 1ull << (32 - l->mgmt_plen);

	_Static_assert(LAB_MAX_NODES + LAB_MAX_VMS < PGR_NODE_MAX, "node numbers fit a MAC");
	if (l->topo->nnodes > LAB_MAX_NODES)
		return yconf_fail(yc, root, "topology: %u nodes; a lab holds at most %d",
				  l->topo->nnodes, LAB_MAX_NODES);
	if (l->topo->nnodes + 3 > hosts)
		return yconf_fail(yc, root, "mgmt.subnet: too small for %u nodes", l->topo->nnodes);
	return true;
}

/* `scheme:` and what the scheme asks of the topology. */
static bool read_scheme(struct yconf *yc, ynode *v, struct lab *l)
{
	char names[128];
	const char *s;

	pgr_scheme_list(names, sizeof(names));
	if (!yconf_str(yc, v, "scheme", &s) || !pgr_scheme_parse(s, &l->scheme))
		return yconf_fail(yc, v, "scheme: '%s' is not one of %s",
				  yconf_is_scalar(v) ? yconf_scalar(yc, v) : "?", names);
	return true;
}

/* BCube: a bcube: topology; no VMs (BCube has no tenants: its servers
 * are the endpoints, docs/bcube.md), checked once they are read. */
static bool check_bcube(struct yconf *yc, ynode *at, struct lab *l)
{
	if (lab_bcube_check(l->topo) < 0)
		return yconf_fail(yc, at, "scheme: bcube needs a BCube topology (bcube:n=N,k=K, "
				  "n <= %u, k <= %u)", BCUBE_MAX_N, BCUBE_MAX_LEVELS - 1);
	return true;
}

static bool check_scheme(struct yconf *yc, ynode *root, struct lab *l)
{
	ynode *at = yconf_get(yc, root, "scheme");

	if (l->underlay_mtu && l->scheme != PGR_SCHEME_EVPN)
		return yconf_fail(yc, yconf_get(yc, root, "underlay_mtu"),
				  "underlay_mtu: only for scheme: evpn");
	if (l->scheme == PGR_SCHEME_EVPN && lab_evpn_check(l->topo) < 0)
		return yconf_fail(yc, at ? at : root, "scheme: evpn needs a two-tier fabric: "
				  "servers on leaves, spines between leaves only (as in a "
				  "leafspine: topology)");
	if (l->scheme == PGR_SCHEME_BCUBE)
		return check_bcube(yc, at ? at : root, l);
	if (l->scheme == PGR_SCHEME_NETLORD && lab_netlord_check(l->topo) < 0)
		return yconf_fail(yc, at ? at : root, "scheme: netlord needs every server on one "
				  "edge switch port (below %u) and switches of at most %u ports",
				  NL_EDGE_PORTS, NL_VLAN_PORTS_MAX);
	if (l->scheme != PGR_SCHEME_VL2)
		return true;
	if (lab_vl2_check(l->topo) < 0)
		return yconf_fail(yc, at ? at : root, "scheme: vl2 needs intermediate switches "
				  "(level 3, as in a vl2: topology) and every server on one "
				  "switch (its ToR)");
	/* VL2 carries no tenant id: a ToR delivers by AA alone */
	for (uint32_t i = 0; i < l->nvdcs; i++)
		for (uint32_t j = 0; j < i; j++) {
			const struct lab_vdc *a = &l->vdcs[i], *b = &l->vdcs[j];
			uint8_t plen = MIN(a->plen, b->plen);
			uint32_t mask = 0xffffffffu << (32 - plen);

			if ((a->net & mask) == (b->net & mask))
				return yconf_fail(yc, at ? at : root, "scheme: vl2: VDCs %s and %s "
						  "overlap; VL2's AA spaces must not (docs/vl2.md)",
						  b->name, a->name);
		}
	return true;
}

/* policy[].rate: the VM's egress limit, sized as pol_tbf_parse() sizes it. */
static bool read_vm_rate(struct yconf *yc, ynode *r, struct lab_vm *vm)
{
	struct pol_error e;
	struct pol_tbf t;
	const char *rate;

	if (!yconf_str(yc, r, "policy[].rate", &rate))
		return yconf_fail(yc, r, "policy[].rate: a rate (200m, 1g)");
	if (pol_tbf_parse(rate, &t, &e))
		return yconf_fail(yc, r, "policy[].rate: %s", e.msg);
	vm->rate_bps = t.rate_bps;
	vm->rate_burst = t.burst;
	vm->rate_queue = t.limit;
	return true;
}

/* policy: a list of { vm: NAME, rules: [RULE, ...], rate: RATE }
 * (docs/policy.md), rules or rate or both; every rule checked as the agent
 * will check it. */
static bool read_policy_entry(struct yconf *yc, ynode *it, struct lab *l)
{
	static const char *const keys[] = { "vm", "rules", "rate", NULL };
	ynode *v = yconf_get(yc, it, "vm"), *r = yconf_get(yc, it, "rules");
	ynode *rate = yconf_get(yc, it, "rate");
	struct lab_vm *vm = NULL;
	struct pol_policy p;
	struct pol_error e;
	const char *name, *rule;
	size_t n;

	if (!yconf_is_map(it) || !yconf_only_keys(yc, it, "policy[]", keys))
		return yconf_fail(yc, it, "policy[]: expected { vm: NAME, rules: [...], rate: RATE }");
	if (!v || !yconf_str(yc, v, "policy[].vm", &name))
		return yconf_fail(yc, it, "policy[].vm: missing");
	for (uint32_t i = 0; i < l->nvms && !vm; i++)
		if (!strcmp(l->vms[i].name, name))
			vm = &l->vms[i];
	if (!vm)
		return yconf_fail(yc, v, "policy[].vm: no VM '%s'", name);
	if (vm->rules || vm->rate_bps)
		return yconf_fail(yc, v, "policy[].vm: '%s' has a policy already", name);
	if (rate && !read_vm_rate(yc, rate, vm))
		return false;
	if (!r && rate)
		return true;	/* a limit alone: no security group */
	n = r ? yconf_seq_len(r) : 0;
	if (!r || !yconf_is_seq(r) || n > PGR_POL_RULES_MAX)
		return yconf_fail(yc, r ? r : it, "policy[].rules: expected a list of at most %d rules",
				  PGR_POL_RULES_MAX);
	vm->rules = xcalloc(n ? n : 1, sizeof(*vm->rules));
	pol_init(&p);
	for (size_t i = 0; i < n; i++) {
		ynode *x = yconf_seq_at(yc, r, i);

		if (!yconf_str(yc, x, "policy[].rules[]", &rule))
			goto bad;
		if (pol_rule_add(&p, rule, (uint32_t)yconf_line(x), &e)) {
			yconf_fail(yc, x, "policy[].rules[]: %s: %s", e.field, e.msg);
			goto bad;
		}
		vm->rules[vm->nrules++] = strdup(rule);
	}
	pol_free(&p);
	return true;
bad:
	pol_free(&p);
	return false;
}

static bool read_policy(struct yconf *yc, ynode *seq, struct lab *l)
{
	if (!yconf_is_seq(seq))
		return yconf_fail(yc, seq, "policy: expected a list of { vm: NAME, rules: [...] }");
	for (size_t i = 0; i < yconf_seq_len(seq); i++)
		if (!read_policy_entry(yc, yconf_seq_at(yc, seq, i), l))
			return false;
	return true;
}

/* groups: a list of { vdc: NAME, group: A.B.C.D, members: [VM, ...] }: the
 * members (VMs of that VDC) join the group when the lab comes up
 * (lab/script.c), as a tenant's program would (docs/multicast.md). */
static bool read_group_members(struct yconf *yc, ynode *m, struct lab *l,
			       const struct lab_group *g)
{
	const char *name;
	size_t n = yconf_is_seq(m) ? yconf_seq_len(m) : 0;

	if (!n)
		return yconf_fail(yc, m, "groups[].members: expected a list of VM names");
	for (size_t i = 0; i < n; i++) {
		ynode *x = yconf_seq_at(yc, m, i);
		struct lab_vm *vm = NULL;

		if (!yconf_str(yc, x, "groups[].members[]", &name))
			return false;
		for (uint32_t k = 0; k < l->nvms && !vm; k++)
			if (!strcmp(l->vms[k].name, name))
				vm = &l->vms[k];
		if (!vm)
			return yconf_fail(yc, x, "groups[].members: no VM '%s'", name);
		if (vm->vdc != g->vdc)
			return yconf_fail(yc, x, "groups[].members: '%s' is a VM of VDC %s, not %s",
					  name, l->vdcs[vm->vdc].name, l->vdcs[g->vdc].name);
		for (unsigned k = 0; k < vm->ngroups; k++)
			if (vm->group[k] == g->group)
				return yconf_fail(yc, x, "groups[].members: '%s' listed twice", name);
		if (vm->ngroups >= LAB_VM_GROUPS_MAX)
			return yconf_fail(yc, x, "groups[].members: '%s' is in %d groups already "
					  "(a VM's limit)", name, LAB_VM_GROUPS_MAX);
		vm->group[vm->ngroups++] = g->group;
	}
	return true;
}

static bool read_group(struct yconf *yc, ynode *it, struct lab *l)
{
	static const char *const keys[] = { "vdc", "group", "members", NULL };
	struct lab_group *g = &l->groups[l->ngroups];
	ynode *v;
	const char *s;
	int d;

	if (!yconf_is_map(it) || !yconf_only_keys(yc, it, "groups[]", keys))
		return yconf_fail(yc, it, "groups[]: expected { vdc: NAME, group: A.B.C.D, "
				  "members: [VM, ...] }");
	if (!(v = yconf_get(yc, it, "vdc")) || !yconf_str(yc, v, "groups[].vdc", &s))
		return yconf_fail(yc, v ? v : it, "groups[].vdc: missing");
	if ((d = find_vdc(l, s)) < 0)
		return yconf_fail(yc, v, "groups[].vdc: no VDC '%s'", s);
	g->vdc = (uint16_t)d;
	if (!(v = yconf_get(yc, it, "group")) || !yconf_str(yc, v, "groups[].group", &s) ||
	    !parse_ip(s, &g->group) || (g->group >> 28) != 0xe || (g->group >> 8) == 0xe00000)
		return yconf_fail(yc, v ? v : it, "groups[].group: expected an IPv4 multicast "
				  "address, 224.0.1.0 to 239.255.255.255 (224.0.0.0/24 is the "
				  "link's own)");
	for (uint32_t i = 0; i < l->ngroups; i++)
		if (l->groups[i].vdc == g->vdc && l->groups[i].group == g->group)
			return yconf_fail(yc, v, "groups[].group: '%s' of VDC %s listed twice", s,
					  l->vdcs[g->vdc].name);
	if (!(v = yconf_get(yc, it, "members")))
		return yconf_fail(yc, it, "groups[].members: missing");
	if (!read_group_members(yc, v, l, g))
		return false;
	l->ngroups++;
	return true;
}

static bool read_groups(struct yconf *yc, ynode *seq, struct lab *l)
{
	if (l->scheme != PGR_SCHEME_PEREGRINE)
		return yconf_fail(yc, seq, "groups: only the peregrine scheme replicates groups");
	if (!yconf_is_seq(seq) || yconf_seq_len(seq) > LAB_GROUPS_MAX)
		return yconf_fail(yc, seq, "groups: expected a list of at most %d "
				  "{ vdc, group, members }", LAB_GROUPS_MAX);
	for (size_t i = 0; i < yconf_seq_len(seq); i++)
		if (!read_group(yc, yconf_seq_at(yc, seq, i), l))
			return false;
	return true;
}

static bool read_root(struct yconf *yc, struct lab *l)
{
	static const char *const keys[] = { "name", "scheme", "topology", "fib", "links", "mgmt",
					     "vdcs", "vms", "placement", "deploy", "underlay_mtu",
					     "policy", "ha", "edge", "slb", "groups", NULL };
	ynode *root = yconf_root(yc), *v;
	const char *s;

	if (!root || !yconf_is_map(root))
		return yconf_fail(yc, root, "expected a mapping with topology, vdcs, ...");
	/* `deploy:` is read by `peregrine fabric gen` (cmd/fabric.c,
	 * docs/deploy.md); the lab itself does not use it. */
	if (!yconf_only_keys(yc, root, "lab", keys))
		return false;
	if ((v = yconf_get(yc, root, "name"))) {
		if (!yconf_str(yc, v, "name", &s) || !name_ok(s, 63))
			return yconf_fail(yc, v, "name: 1 to 63 of A-Z a-z 0-9 - _ .");
		snprintf(l->name, sizeof(l->name), "%s", s);
	}
	if (!(v = yconf_get(yc, root, "topology")))
		return yconf_fail(yc, root, "topology: missing");
	if (!read_topology(yc, v, l))
		return false;
	if ((v = yconf_get(yc, root, "scheme")) && !read_scheme(yc, v, l))
		return false;
	if ((v = yconf_get(yc, root, "fib")) && !yconf_u32(yc, v, "fib", 0, UINT32_MAX, &l->fib))
		return false;
	if ((v = yconf_get(yc, root, "underlay_mtu")) &&
	    !yconf_u32(yc, v, "underlay_mtu", LAB_EVPN_MTU_MIN, LAB_EVPN_MTU_MAX, &l->underlay_mtu))
		return false;
	if ((v = yconf_get(yc, root, "links")) && !read_links(yc, v, l))
		return false;
	if ((v = yconf_get(yc, root, "mgmt")) && !read_mgmt(yc, v, l))
		return false;
	if (!check_size(yc, root, l))
		return false;
	if ((v = yconf_get(yc, root, "vdcs")) && !read_vdcs(yc, v, l))
		return false;
	if (!check_scheme(yc, root, l))
		return false;
	if ((v = yconf_get(yc, root, "ha")) && !read_ha(yc, v, l))
		return false;
	l->vms = xcalloc(LAB_MAX_VMS, sizeof(*l->vms));
	if ((v = yconf_get(yc, root, "vms")) && !read_vms(yc, v, l))
		return false;
	if ((v = yconf_get(yc, root, "placement")) && !place_per_server(yc, v, l))
		return false;
	if (l->scheme == PGR_SCHEME_BCUBE && l->nvms) {
		v = yconf_get(yc, root, "scheme");
		return yconf_fail(yc, v ? v : root, "scheme: bcube runs no VMs (BCube has no "
				  "tenants: its servers are the endpoints); drop vms and placement");
	}
	if (!assign_ips(yc, root, l))
		return false;
	if ((v = yconf_get(yc, root, "policy")) && !read_policy(yc, v, l))
		return false;
	if ((v = yconf_get(yc, root, "groups")) && !read_groups(yc, v, l))
		return false;
	if ((v = yconf_get(yc, root, "edge")) && !lab_edge_read(yc, v, l))	/* lab/edge.c */
		return false;
	return !(v = yconf_get(yc, root, "slb")) || lab_slb_read(yc, v, l);	/* lab/slb.c */
}

int lab_load_buf(struct lab *l, const char *name, const void *buf, size_t len,
		 const char *prefix, char *err, size_t errlen)
{
	struct yconf yc;
	bool ok;

	memset(l, 0, sizeof(*l));
	if (!lab_prefix_ok(prefix)) {
		snprintf(err, errlen, "prefix '%s': 1 to %d of a-z 0-9, starting with a letter",
			 prefix, LAB_MAX_PREFIX);
		return -EINVAL;
	}
	snprintf(l->prefix, sizeof(l->prefix), "%s", prefix);
	snprintf(l->name, sizeof(l->name), "lab");
	l->mgmt_net = LAB_MGMT_NET;
	l->mgmt_plen = LAB_MGMT_PLEN;
	l->switchd_port = LAB_SWITCHD_PORT;
	l->ras_port = LAB_RAS_PORT;
	if (yconf_load_buf(&yc, name, buf, len)) {
		snprintf(err, errlen, "%s", yc.err);
		yconf_free(&yc);
		return -EINVAL;
	}
	ok = read_root(&yc, l);
	if (!ok)
		snprintf(err, errlen, "%s", yc.err);
	yconf_free(&yc);
	if (!ok) {
		lab_free(l);
		return -EINVAL;
	}
	return 0;
}

void lab_free(struct lab *l)
{
	topo_free(l->topo);
	free(l->topo_text);
	free(l->vdcs);
	for (uint32_t i = 0; l->vms && i < LAB_MAX_VMS; i++) {
		for (uint32_t r = 0; r < l->vms[i].nrules; r++)
			free(l->vms[i].rules[r]);
		free(l->vms[i].rules);
	}
	free(l->vms);
	free(l->edge);
	lab_slb_free(l);
	memset(l, 0, sizeof(*l));
}
