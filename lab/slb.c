/* The lab's server load balancer (`slb:`, docs/slb.md "In the lab"): SLB
 * servers among the fabric's servers, and VCs whose backends are VMs of the
 * lab, behind the Internet edge (`edge:`, lab/edge.c).
 *
 *   P-inet        P-edge (gateway)          P-SRV (edge server)       fabric
 *  +-------+     +----------------+  P-sx  +---------------------+
 *  |client |-----| VIP/32 via sx  |--------| VIP/32 via the owner | P-nic0 -- SLB servers
 *  +-------+     | legs P-gN      |        | SLB's NIC address    |           (XDP, ring)
 *                +----------------+        +---------------------+
 *                        ^ the VMs' replies from the VIP: encapsulated to the
 *                          leg of their VDC (pgr_vip_src with im_mac), DSR
 *
 * The gateway sends a VIP to the edge server over a veth of their own
 * (P-sx), which routes it out of its fabric NIC to the NIC address of the
 * SLB server that owns the VIP (a plain frame to that server's MAC); the
 * SLB server's XDP program sends each connection to a backend through the
 * fabric's encapsulation.  The backend VM holds the VIP on its loopback and
 * answers through its default route, the gateway leg of its VDC; its agent
 * lets it answer from the VIPs of its VCs (the `vips` of its VM in the
 * agent's configuration, lab_slb_vm_vips: they move with the VM).
 * `peregrine slb run` runs on each SLB server (a ring: ids 1, 2, ... in
 * `servers` order), and one process on the edge server (scripts/
 * lab-slb-edge.py) stands in for the backends' agents' HEALTH messages and
 * for the gateway's routing: it follows the ring's assignment. */
#include "lab/lab.h"
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "agent/config.h"
#include "lab/run.h"
#include "lib/yconf.h"
#include "slb/vc.h"
#include "wire/pgr.h"

/* ---- the lab file --------------------------------------------------------- */

/* `servers` or `standby` (what): appended to server[]. */
static bool read_servers(struct yconf *yc, ynode *seq, struct lab *l, const char *what)
{
	struct lab_slb *s = l->slb;
	const char *name;

	if (!seq || !yconf_is_seq(seq) || !yconf_seq_len(seq) ||
	    s->nservers + yconf_seq_len(seq) > LAB_SLB_SERVERS_MAX)
		return yconf_fail(yc, seq, "slb.%s: a list of servers, at most %d SLB servers in all",
				  what, LAB_SLB_SERVERS_MAX);
	for (size_t i = 0; i < yconf_seq_len(seq); i++) {
		ynode *v = yconf_seq_at(yc, seq, i);
		uint32_t n;

		if (!yconf_str(yc, v, "slb.servers[]", &name))
			return false;
		n = topo_find(l->topo, name);
		if (n == UINT32_MAX || !topo_is_server(l->topo, n))
			return yconf_fail(yc, v, "slb.%s[]: '%s' is not a server", what, name);
		if (n == l->edge->server)
			return yconf_fail(yc, v, "slb.%s[]: '%s' is the edge server", what, name);
		for (uint32_t j = 0; j < s->nservers; j++)
			if (s->server[j] == n)
				return yconf_fail(yc, v, "slb.%s[]: '%s' twice", what, name);
		s->server[s->nservers++] = n;
	}
	return true;
}

/* scaling: {capacity_cps: N, high: PCT, low: PCT, hold: INTERVALS, min: N} */
static bool read_scaling(struct yconf *yc, ynode *m, struct lab_slb *s)
{
	static const char *const keys[] = { "capacity_cps", "high", "low", "hold", "min", NULL };
	static const uint32_t max[] = { 100000000, 100, 100, 100000, LAB_SLB_SERVERS_MAX };
	uint32_t v[5];

	if (!yconf_is_map(m) || !yconf_only_keys(yc, m, "slb.scaling", keys))
		return yconf_fail(yc, m, "slb.scaling: expected {capacity_cps, high, low, hold, min}");
	for (int i = 0; i < 5; i++) {
		char what[40];
		ynode *n = yconf_get(yc, m, keys[i]);

		snprintf(what, sizeof(what), "slb.scaling.%s", keys[i]);
		if (!n)
			return yconf_fail(yc, m, "%s: missing", what);
		if (!yconf_u32(yc, n, what, i == 1 || i == 2 ? 0 : 1, max[i], &v[i]))
			return false;
	}
	if (v[2] > v[1])
		return yconf_fail(yc, m, "slb.scaling.low: above high");
	if (v[4] > s->nservers - s->nstandby)
		return yconf_fail(yc, m, "slb.scaling.min: more than the servers powered on");
	s->capacity_cps = v[0];
	memcpy(s->scale, v + 1, sizeof(s->scale));
	return true;
}

static int vm_named(const struct lab *l, const char *name)
{
	for (uint32_t i = 0; i < l->nvms; i++)
		if (!strcmp(l->vms[i].name, name))
			return (int)i;
	return -1;
}

static bool is_slb_server(const struct lab *l, uint32_t node)
{
	for (uint32_t j = 0; j < l->slb->nservers; j++)
		if (l->slb->server[j] == node)
			return true;
	return false;
}

/* One VC's backends (VM names of its VDC) into the VC file's syntax. */
static bool read_backends(struct yconf *yc, ynode *seq, struct lab *l, uint16_t vdc,
			  struct lab_slb_vc *vc, FILE *f)
{
	char ip[16];

	if (!seq || !yconf_is_seq(seq) || !yconf_seq_len(seq) ||
	    yconf_seq_len(seq) > LAB_SLB_BACKENDS_MAX)
		return yconf_fail(yc, seq, "slb.vcs[].backends: a list of 1 to %d VM names",
				  LAB_SLB_BACKENDS_MAX);
	fprintf(f, "    backends:\n");
	for (size_t i = 0; i < yconf_seq_len(seq); i++) {
		ynode *v = yconf_seq_at(yc, seq, i);
		const char *name;
		int vi;

		if (!yconf_str(yc, v, "slb.vcs[].backends[]", &name))
			return false;
		if ((vi = vm_named(l, name)) < 0 || l->vms[vi].router || l->vms[vi].vdc != vdc)
			return yconf_fail(yc, v, "slb.vcs[].backends[]: '%s' is not a VM of the "
					  "VC's VDC", name);
		if (l->vms[vi].server == l->edge->server || is_slb_server(l, l->vms[vi].server))
			return yconf_fail(yc, v, "slb.vcs[].backends[]: '%s' is on the edge server "
					  "or an SLB server", name);
		for (uint32_t j = 0; j < vc->nbackends; j++)
			if (vc->backend[j] == (uint32_t)vi)
				return yconf_fail(yc, v, "slb.vcs[].backends[]: '%s' twice", name);
		vc->backend[vc->nbackends++] = (uint32_t)vi;
		fprintf(f, "      - { ip: %s, vm: %u, server: %u }\n", lab_ip_str(l->vms[vi].ip, ip),
			lab_vm_node(l, &l->vms[vi]),
			lab_server_node(l->topo->nodes[l->vms[vi].server].index));
	}
	return true;
}

/* A scalar or a flow of scalars copied into the VC file as it stands: the
 * VC file's own reader (slb/vc.c) checks it below. */
static bool copy_plain(struct yconf *yc, ynode *n, const char *key, FILE *f)
{
	if (!n)
		return true;
	if (yconf_is_scalar(n)) {
		fprintf(f, "    %s: \"%s\"\n", key, yconf_scalar(yc, n));
		return true;
	}
	fprintf(f, "    %s: %s", key, yconf_is_seq(n) ? "[" : "{");
	for (size_t i = 0; i < (yconf_is_seq(n) ? yconf_seq_len(n) : yconf_map_len(n)); i++) {
		ynode *k = NULL, *v;

		if (yconf_is_seq(n))
			v = yconf_seq_at(yc, n, i);
		else if (!yconf_map_at(yc, n, i, &k, &v))
			return false;
		if (!yconf_is_scalar(v) || (k && !yconf_is_scalar(k)))
			return yconf_fail(yc, v, "slb.vcs[].%s: plain values only", key);
		fprintf(f, "%s", i ? ", " : "");
		if (k)
			fprintf(f, "%s: ", yconf_scalar(yc, k));
		fprintf(f, "\"%s\"", yconf_scalar(yc, v));
	}
	fprintf(f, "%s\n", yconf_is_seq(n) ? "]" : "}");
	return true;
}

static bool read_vc(struct yconf *yc, ynode *m, struct lab *l, FILE *f)
{
	static const char *const keys[] = { "name", "vdc", "vip", "ports", "sticky", "health",
					    "backends", NULL };
	struct lab_slb *s = l->slb;
	struct lab_slb_vc *vc = &s->vc[s->nvcs];
	const char *name, *vdc;
	ynode *v;
	uint32_t d;

	if (!yconf_is_map(m) || !yconf_only_keys(yc, m, "slb.vcs[]", keys))
		return yconf_fail(yc, m, "slb.vcs[]: expected {name, vdc, vip, ports, backends, ...}");
	if (!(v = yconf_get(yc, m, "name")) || !yconf_str(yc, v, "slb.vcs[].name", &name))
		return yconf_fail(yc, v ? v : m, "slb.vcs[].name: missing");
	if (!(v = yconf_get(yc, m, "vdc")) || !yconf_str(yc, v, "slb.vcs[].vdc", &vdc))
		return yconf_fail(yc, v ? v : m, "slb.vcs[].vdc: missing");
	for (d = 0; d < l->nvdcs && strcmp(l->vdcs[d].name, vdc); d++)
		;
	if (d == l->nvdcs)
		return yconf_fail(yc, v, "slb.vcs[].vdc: no VDC '%s'", vdc);
	for (uint32_t i = 0; i < l->edge->nlegs; i++)
		if (l->vms[l->edge->leg[i]].vdc == d)
			vc->leg = l->edge->leg[i] + 1;
	if (!vc->leg)
		return yconf_fail(yc, v, "slb.vcs[].vdc: '%s' has no gateway leg (edge.vdcs)", vdc);
	vc->leg--;
	vc->vdc = (uint16_t)d;
	if (!(v = yconf_get(yc, m, "vip")) || !yconf_ipv4(yc, v, "slb.vcs[].vip", &vc->vip))
		return yconf_fail(yc, v ? v : m, "slb.vcs[].vip: an IPv4 address");
	for (uint32_t i = 0; i < l->nvms; i++)
		if (l->vms[i].public_ip == vc->vip)
			return yconf_fail(yc, v, "slb.vcs[].vip: %s's public address", l->vms[i].name);
	if (vc->vip == l->edge->pub_net + 1 || vc->vip == l->edge->client)
		return yconf_fail(yc, v, "slb.vcs[].vip: the edge's shared or client address");
	fprintf(f, "  - name: \"%s\"\n    vdc: %u\n    vip: %s\n", name, l->vdcs[d].id,
		yconf_scalar(yc, v));
	if (!copy_plain(yc, yconf_get(yc, m, "ports"), "ports", f) ||
	    !copy_plain(yc, yconf_get(yc, m, "sticky"), "sticky", f) ||
	    !copy_plain(yc, yconf_get(yc, m, "health"), "health", f))
		return false;
	if (!read_backends(yc, yconf_get(yc, m, "backends"), l, (uint16_t)d, vc, f))
		return false;
	s->nvcs++;
	return true;
}

bool lab_slb_read(struct yconf *yc, ynode *m, struct lab *l)
{
	static const char *const keys[] = { "servers", "standby", "scaling", "vcs", NULL };
	struct slb_config c;
	char err[600];
	size_t len = 0;
	ynode *vcs;
	FILE *f;
	bool ok = true;

	if (!yconf_is_map(m) || !yconf_only_keys(yc, m, "slb", keys))
		return yconf_fail(yc, m, "slb: expected {servers, vcs}");
	if (!l->edge)
		return yconf_fail(yc, m, "slb: needs an Internet edge (edge:)");
	l->slb = xcalloc(1, sizeof(*l->slb));
	if (!read_servers(yc, yconf_get(yc, m, "servers"), l, "servers"))
		return false;
	if ((vcs = yconf_get(yc, m, "standby"))) {
		uint32_t on = l->slb->nservers;

		if (!read_servers(yc, vcs, l, "standby"))
			return false;
		l->slb->nstandby = l->slb->nservers - on;
	}
	if ((vcs = yconf_get(yc, m, "scaling")) && !read_scaling(yc, vcs, l->slb))
		return false;
	vcs = yconf_get(yc, m, "vcs");
	if (!vcs || !yconf_is_seq(vcs) || !yconf_seq_len(vcs) ||
	    yconf_seq_len(vcs) > LAB_SLB_VCS_MAX)
		return yconf_fail(yc, vcs ? vcs : m, "slb.vcs: a list of 1 to %d VCs",
				  LAB_SLB_VCS_MAX);
	f = open_memstream(&l->slb->vc_yaml, &len);
	fprintf(f, "vcs:\n");
	for (size_t i = 0; ok && i < yconf_seq_len(vcs); i++)
		ok = read_vc(yc, yconf_seq_at(yc, vcs, i), l, f);
	fclose(f);
	if (!ok)
		return false;
	/* the VC file's own checks: ports, names, addresses, health */
	if (slb_config_load_buf(&c, "slb", l->slb->vc_yaml, len, err, sizeof(err)))
		return yconf_fail(yc, vcs, "slb.vcs: %s (in the VC file made of them)", err);
	slb_config_free(&c);
	return true;
}

void lab_slb_free(struct lab *l)
{
	if (l->slb)
		free(l->slb->vc_yaml);
	free(l->slb);
}

/* ---- names and files ------------------------------------------------------ */

int lab_slb_ring_id(const struct lab *l, uint32_t node)
{
	for (uint32_t j = 0; l->slb && j < l->slb->nservers; j++)
		if (l->slb->server[j] == node)
			return (int)j + 1;
	return 0;
}

void lab_slb_path(const struct lab *l, const char *file, char *buf, size_t len)
{
	char dir[256];

	lab_state_dir(l->prefix, dir, sizeof(dir));
	snprintf(buf, len, "%s/slb/%s", dir, file);
}

static int write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "we");

	if (!f)
		return -errno;
	if (fputs(text, f) < 0 || fclose(f))
		return -EIO;
	return 0;
}

/* A standby server's daemon, for the edge process to start in its
 * namespace when the ring asks (and to stop): "name", "ns", "argv",
 * "pidfile" (the lab's: `lab down` stops it), "log". */
static void standby_json(const struct lab *l, uint32_t node, FILE *f)
{
	char dir[256], exe[512], ns[128], bufs[LAB_MAX_ARGS][128], *args[LAB_MAX_ARGS];
	const char *name = l->topo->nodes[node].name;
	int n;

	lab_state_dir(l->prefix, dir, sizeof(dir));
	lab_ns(l, name, ns, sizeof(ns));
	n = lab_slb_args(l, dir, node, args, bufs);
	if (!lab_self_exe(exe, sizeof(exe)))
		return;
	fprintf(f, ", \"standby\": {\"name\": \"%s\", \"ns\": \"%s\", \"argv\": [\"%s\", \"slb\"",
		name, ns, exe);
	for (int i = 0; i < n; i++)
		fprintf(f, ", \"%s\"", args[i]);
	fprintf(f, "], \"pidfile\": \"%s/pids/%s.slb\", \"log\": \"%s/logs/%s.slb.log\"}", dir,
		name, dir, name);
}

/* STATE/slb/vcs.yaml (every SLB server's VC file) and STATE/slb/edge.json
 * (the edge process's: SLB servers, backends to probe). */
int lab_slb_files(const struct lab *l, char *err, size_t errlen)
{
	struct slb_config c;
	char path[400], ip[16], nh[16], ns[128], key[300], st[400];
	char *text = NULL;
	size_t len = 0;
	FILE *f;
	int e;

	lab_slb_path(l, "", path, sizeof(path));
	mkdir(path, 0755);
	lab_slb_path(l, "vcs.yaml", path, sizeof(path));
	if ((e = write_text(path, l->slb->vc_yaml))) {
		snprintf(err, errlen, "%s: %s", path, strerror(-e));
		return -1;
	}
	lab_state_dir(l->prefix, key, sizeof(key));
	strncat(key, "/key", sizeof(key) - strlen(key) - 1);
	f = open_memstream(&text, &len);
	lab_ns(l, l->topo->nodes[l->edge->server].name, ns, sizeof(ns));
	fprintf(f, "{\"key\": \"%s\", \"edge_ns\": \"%s\", \"port\": %u,\n \"slbs\": [", key, ns,
		LAB_SLB_PORT);
	for (uint32_t j = 0; j < l->slb->nservers; j++) {
		const struct topo_node *n = &l->topo->nodes[l->slb->server[j]];
		char nic[LAB_IFNAMSIZ];

		lab_slb_path(l, n->name, st, sizeof(st));
		lab_ifname(l, nic, "nic0");
		fprintf(f, "%s{\"id\": %u, \"mgmt\": \"%s\", \"status\": \"%s.json\", "
			"\"nexthop\": \"%s\", \"dev\": \"%s\"", j ? ",\n  " : "", j + 1,
			lab_ip_str(lab_mgmt_ip(l, l->slb->server[j]), ip), st,
			lab_ip_str(lab_nic_ip(n->index, 0), nh), nic);
		if (lab_slb_standby(l, l->slb->server[j]))
			standby_json(l, l->slb->server[j], f);
		fprintf(f, "}");
	}
	fprintf(f, "],\n \"backends\": [");
	/* read when the file was: cannot fail */
	if (slb_config_load_buf(&c, "slb", l->slb->vc_yaml, strlen(l->slb->vc_yaml), err, errlen))
		abort();
	for (uint32_t v = 0, k = 0; v < l->slb->nvcs; v++) {
		const struct lab_slb_vc *vc = &l->slb->vc[v];

		for (uint32_t b = 0; b < vc->nbackends; b++) {
			const struct lab_vm *vm = &l->vms[vc->backend[b]];

			lab_ns(l, vm->name, ns, sizeof(ns));
			fprintf(f, "%s{\"vdc\": %u, \"ip\": \"%s\", \"ns\": \"%s\", \"proto\": %u, "
				"\"port\": %u}", k++ ? ",\n  " : "", l->vdcs[vm->vdc].id,
				lab_ip_str(vm->ip, ip), ns, c.vcs[v].ports[0].proto,
				c.vcs[v].ports[0].port);
		}
	}
	slb_config_free(&c);
	fprintf(f, "],\n \"vips\": [");
	for (uint32_t v = 0; v < l->slb->nvcs; v++)
		fprintf(f, "%s\"%s\"", v ? ", " : "", lab_ip_str(l->slb->vc[v].vip, ip));
	fprintf(f, "]}\n");
	fclose(f);
	lab_slb_path(l, "edge.json", path, sizeof(path));
	e = write_text(path, text);
	free(text);
	if (e) {
		snprintf(err, errlen, "%s: %s", path, strerror(-e));
		return -1;
	}
	return 0;
}

/* ---- up ------------------------------------------------------------------- */

static int run(char *err, size_t errlen, const char *what, char *const argv[])
{
	char out[512];

	if (lab_run(argv, out, sizeof(out))) {
		snprintf(err, errlen, "slb: %s: %s", what, out);
		return -1;
	}
	return 0;
}

/* The gateway's link to the edge server and the VIPs' routes over it. */
static int build_edge_link(const struct lab *l, char *err, size_t errlen)
{
	char gw[128], srv[128], sx[LAB_IFNAMSIZ], ip[16], vip[24];

	lab_ns(l, "edge", gw, sizeof(gw));
	lab_ns(l, l->topo->nodes[l->edge->server].name, srv, sizeof(srv));
	lab_ifname(l, sx, "sx");
	char *mk[] = { "ip", "link", "add", sx, "netns", gw, "type", "veth", "peer", "name", sx,
		       "netns", srv, NULL };
	char *gup[] = { "ip", "-n", gw, "addr", "add", LAB_SLB_GW_ADDR "/30", "dev", sx, NULL };
	char *gup2[] = { "ip", "-n", gw, "link", "set", sx, "up", NULL };
	char *sup[] = { "ip", "-n", srv, "addr", "add", LAB_SLB_SRV_ADDR "/30", "dev", sx, NULL };
	char *sup2[] = { "ip", "-n", srv, "link", "set", sx, "up", NULL };
	char *fw[] = { "ip", "netns", "exec", srv, "sysctl", "-qw", "net.ipv4.ip_forward=1",
		       "net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.default.rp_filter=0", NULL };

	if (lab_step("slb", "edge-link", err, errlen) || run(err, errlen, "veth", mk) ||
	    run(err, errlen, "address", gup) || run(err, errlen, "link", gup2) ||
	    run(err, errlen, "address", sup) || run(err, errlen, "link", sup2) ||
	    run(err, errlen, "sysctl", fw))
		return -1;
	for (uint32_t v = 0; v < l->slb->nvcs; v++) {
		snprintf(vip, sizeof(vip), "%s/32", lab_ip_str(l->slb->vc[v].vip, ip));
		char *g[] = { "ip", "-n", gw, "route", "add", vip, "via", LAB_SLB_SRV_ADDR, NULL };

		/* the edge server's route to the owning SLB server is the edge
		 * process's (scripts/lab-slb-edge.py): it follows the ring */
		if (run(err, errlen, "route", g))
			return -1;
	}
	return 0;
}

void lab_slb_vm_vips(const struct lab *l, uint32_t vm, struct agent_vm_cfg *a)
{
	a->nvips = 0;
	for (uint32_t v = 0; l->slb && v < l->slb->nvcs; v++) {
		const struct lab_slb_vc *vc = &l->slb->vc[v];

		for (uint32_t k = 0; k < vc->nbackends && a->nvips < AGENT_VM_MAX_VIPS; k++)
			if (vc->backend[k] == vm)
				a->vips[a->nvips++] = (struct agent_vip_cfg){
					.ip = vc->vip,
					.edge = lab_vm_node(l, &l->vms[vc->leg]),
					.via = lab_server_node(l->topo->nodes[l->edge->server].index),
				};
	}
}

/* Each backend VM holds its VCs' VIPs on its loopback; its agent lets it
 * answer from them (lab_slb_vm_vips). */
static int build_backends(const struct lab *l, char *err, size_t errlen)
{
	char ns[128], ip[16], vip[24];

	for (uint32_t v = 0; v < l->slb->nvcs; v++) {
		const struct lab_slb_vc *vc = &l->slb->vc[v];

		lab_ip_str(vc->vip, ip);
		snprintf(vip, sizeof(vip), "%s/32", ip);
		for (uint32_t k = 0; k < vc->nbackends; k++) {
			const struct lab_vm *vm = &l->vms[vc->backend[k]];

			lab_ns(l, vm->name, ns, sizeof(ns));
			char *lo[] = { "ip", "-n", ns, "addr", "replace", vip, "dev", "lo", NULL };
			/* ARP from the VM's own address, never from the VIP (its
			 * agent answers only that) */
			char *arp[] = { "ip", "netns", "exec", ns, "sysctl", "-qw",
					"net.ipv4.conf.all.arp_announce=2", NULL };

			if (run(err, errlen, "VIP on a backend", lo) ||
			    run(err, errlen, "arp_announce", arp))
				return -1;
		}
	}
	return 0;
}

int lab_slb_build(const struct lab *l, char *err, size_t errlen)
{
	if (!l->slb)
		return 0;
	return build_edge_link(l, err, errlen) || build_backends(l, err, errlen) ? -1 : 0;
}

/* ---- the daemons ------------------------------------------------------------ */

/* `peregrine slb run` on an SLB server: ring id k (its place in
 * slb.servers), every other SLB server a ring peer. */
int lab_slb_args(const struct lab *l, const char *dir, uint32_t node, char **argv,
		 char (*b)[128])
{
	int n = 0, id = lab_slb_ring_id(l, node), k = 6;
	char ip[16];

	(void)dir;
	snprintf(b[0], 128, "%s/slb/vcs.yaml", dir);
	snprintf(b[1], 128, "%u", lab_server_node(l->topo->nodes[node].index));
	lab_ifname(l, b[2], "nic0");
	snprintf(b[3], 128, "%s:%u", lab_ip_str(lab_mgmt_ip(l, node), ip), LAB_SLB_PORT);
	snprintf(b[4], 128, "%s/key", dir);
	snprintf(b[5], 128, "%s/slb/%s.json", dir, l->topo->nodes[node].name);
	snprintf(b[6], 128, "%d", id);
	lab_ns(l, l->topo->nodes[node].name, b[7], 128);
	argv[n++] = "run";
	argv[n++] = "--config";
	argv[n++] = b[0];
	argv[n++] = "--node";
	argv[n++] = b[1];
	argv[n++] = "--nic";
	argv[n++] = b[2];
	argv[n++] = "--listen";
	argv[n++] = b[3];
	argv[n++] = "--key";
	argv[n++] = b[4];
	argv[n++] = "--status";
	argv[n++] = b[5];
	argv[n++] = "--xdp-generic";	/* XDP_TX on a veth whose peer runs no XDP */
	argv[n++] = "--ring-misses";
	argv[n++] = LAB_SLB_RING_MISSES;
	argv[n++] = "--rt-priority";
	argv[n++] = "10";
	argv[n++] = "--name";
	argv[n++] = b[7];
	argv[n++] = "--ring-id";
	argv[n++] = b[6];
	for (uint32_t j = 0; j < l->slb->nservers && n + 2 <= LAB_MAX_ARGS - 2; j++) {
		if ((int)j + 1 == id)
			continue;
		k++;
		snprintf(b[k + 1], 128, "%u=%s:%u", j + 1,
			 lab_ip_str(lab_mgmt_ip(l, l->slb->server[j]), ip), LAB_SLB_PORT);
		argv[n++] = "--ring-peer";
		argv[n++] = b[k + 1];
	}
	/* the servers powered off at start, and the ring's auto scaling */
	for (uint32_t j = l->slb->nservers - l->slb->nstandby; j < l->slb->nservers &&
	     n + 2 <= LAB_MAX_ARGS - 2 && k + 2 < LAB_MAX_ARGS - 1; j++) {
		snprintf(b[++k + 1], 128, "%u", j + 1);
		argv[n++] = "--ring-standby";
		argv[n++] = b[k + 1];
	}
	if (l->slb->capacity_cps && n + 4 <= LAB_MAX_ARGS - 2 && k + 3 < LAB_MAX_ARGS - 1) {
		const uint32_t *w = l->slb->scale;

		snprintf(b[++k + 1], 128, "%u", l->slb->capacity_cps);
		argv[n++] = "--capacity-cps";
		argv[n++] = b[k + 1];
		snprintf(b[++k + 1], 128, "%u,%u,%u,%u", w[0], w[1], w[2], w[3]);
		argv[n++] = "--scale";
		argv[n++] = b[k + 1];
	}
	return n;
}

bool lab_slb_standby(const struct lab *l, uint32_t node)
{
	int id = lab_slb_ring_id(l, node);

	return id && (uint32_t)id > l->slb->nservers - l->slb->nstandby;
}

/* scripts/lab-slb-edge.py on the edge server (python3 SCRIPT --config
 * STATE/slb/edge.json --name P-SRV). */
int lab_slb_edge_args(const struct lab *l, const char *dir, uint32_t node, char **argv,
		      char (*b)[128])
{
	char exe[512], *slash;
	int n = 0;

	if (!lab_self_exe(exe, sizeof(exe)) || !(slash = strrchr(exe, '/')))
		return 0;
	*slash = 0;
	if (strlen(exe) > 90)	/* b[0] holds 128 */
		return 0;
	snprintf(b[0], 128, "%.90s/../scripts/lab-slb-edge.py", exe);
	if (access(b[0], R_OK))
		snprintf(b[0], 128, "%.90s/../../scripts/lab-slb-edge.py", exe);
	snprintf(b[1], 128, "%s/slb/edge.json", dir);
	lab_ns(l, l->topo->nodes[node].name, b[2], 128);
	argv[n++] = b[0];
	argv[n++] = "--config";
	argv[n++] = b[1];
	argv[n++] = "--name";
	argv[n++] = b[2];
	return n;
}
