/* peregrine trace: explain the path a packet takes through a running lab
 * right now, as ovn-trace does for OVN.
 *
 * It reads what the fabric itself holds, not what it ought to hold: the
 * source agent's GARP entry in its pinned eBPF maps, run through the data
 * plane's own forwarding decision (bpf/fwd.h, the code the eBPF program
 * runs: local, direct or indirect, primary or backup by the availability
 * bits, the NIC of that tree, the rewritten addresses), then every switch's forwarding
 * table and port states through switchd, hop by hop, to the server that
 * decapsulates and the VM it delivers to.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>

#include "bpf/fwd.h"
#include "bpf/loader.h"
#include "cmd/cli.h"
#include "lab/lab.h"
#include "lab/run.h"
#include "lab/swclient.h"
#include "wire/frame.h"
#include "wire/pgr.h"

enum trace_limits {
	TRACE_MAX_HOPS = 32,
	TRACE_PORT = 1,		/* the source VM's port in the decision's tables */
};

struct trace {
	struct lab l;
	const struct lab_vm *src, *dst;
	uint32_t vdc_id, dst_ip;
	/* the agent's decision */
	bool cached, local, direct, dropped;
	struct pgr_garp_entry g;
	struct pgr_garp_key gkey;	/* where g was found */
	struct pgr_vm dst_local;	/* the local VM table's entry for g's VM ... */
	bool have_dst_local;		/* ... if there is one */
	uint32_t egress;		/* the NIC's ifindex */
	int tree;
	char nic[IF_NAMESIZE];
	uint32_t nic_port;
	uint8_t da[6], sa[6];
	/* the walk */
	json_t *hops;
	const char *verdict;
	char why[128];
	char where[64];
	bool human;
};

static const char trace_help[] =
	"Usage: peregrine trace VDC SRC_IP DST_IP [--prefix P] [--scheme S] [--json]\n"
	"\n"
	"Explain the path a packet from SRC_IP to DST_IP in VDC (a name or an id)\n"
	"takes through the running lab right now: the source agent's decision\n"
	"(read from its data plane's GARP table: local, direct or indirect, which\n"
	"tree by the availability bits, which NIC), the addresses on the wire,\n"
	"every switch hop (read from each switch's forwarding table and port\n"
	"states through switchd), and the delivery.  Nothing is sent.\n"
	"\n"
	"  --prefix P   the lab (default pg)\n"
	"  --scheme S   the scheme the lab must run (default: the lab's own);\n"
	"               only peregrine is traced so far (docs/lab.md, Schemes)\n"
	"  --json       machine-readable output\n";

static const char *mac_str(const uint8_t *m, char *buf)
{
	snprintf(buf, 18, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
	return buf;
}

static const struct lab_vm *find_vm(const struct lab *l, uint32_t vdc, uint32_t ip)
{
	for (uint32_t v = 0; v < l->nvms; v++)
		if (l->vms[v].vdc == vdc && l->vms[v].ip == ip)
			return &l->vms[v];
	return NULL;
}

static int find_vdc(const struct lab *l, const char *s)
{
	char *end;
	unsigned long id = strtoul(s, &end, 10);

	for (uint32_t i = 0; i < l->nvdcs; i++)
		if (!strcmp(l->vdcs[i].name, s) || (!*end && l->vdcs[i].id == id))
			return (int)i;
	return -1;
}

/* The tables the data plane holds for this frame: the source VM's port, the
 * GARP entry under the key it was found by, the local VM it names. */
static void decision_tables(const struct trace *t, struct pgr_fwd_tables *tab,
			    struct pgr_vm *vm)
{
	*vm = (struct pgr_vm){ .ifindex = TRACE_PORT, .vdc = t->vdc_id, .ip = htonl(t->src->ip) };
	lab_vm_mac(&t->l, t->src, vm->mac);
	vm->id = pgr_mac_id(vm->mac);
	pgr_fwd_tables_init(tab);
	if (pgr_fwd_port_put(tab, TRACE_PORT, vm) || pgr_fwd_garp_put(tab, &t->gkey, &t->g) ||
	    (t->have_dst_local &&
	     pgr_fwd_vm_put(tab, pgr_mac_id(t->g.vm_mac[PGR_PRIMARY]), &t->dst_local)))
		die("trace: tables of three entries full");
}

/* The agent's decision: the data plane's own (bpf/fwd.h) on the frame the
 * source VM would send to the destination's primary MAC. */
static void decide(struct trace *t)
{
	struct pgr_fwd_tables tab;
	struct pgr_vm vm;
	uint8_t f[WIRE_FRAME_MAX];
	size_t len;
	struct pgr_fwd r;

	decision_tables(t, &tab, &vm);
	len = wire_build_udp4(f, sizeof(f), t->g.vm_mac[PGR_PRIMARY], vm.mac, vm.ip,
			      htonl(t->dst_ip), 9, 9, NULL, 0);
	r = pgr_fwd_from_vm(&tab, f, f + len, (uint32_t)len, TRACE_PORT, false);
	pgr_fwd_tables_free(&tab);
	t->local = t->g.flags & PGR_GARP_LOCAL;
	t->direct = t->g.flags & PGR_GARP_DIRECT;
	if (r.act == PGR_FWD_TRANSMIT) {
		t->tree = r.tree;
		t->egress = r.ifindex;
		memcpy(t->da, f, 6);
		memcpy(t->sa, f + 6, 6);
	} else if (r.act != PGR_FWD_DELIVER) {
		const char *d = pgr_dp_stat_desc(r.stat), *c = strchr(d, ':');

		t->dropped = true;
		snprintf(t->why, sizeof(t->why), "dropped by the agent: %s", c ? c + 2 : d);
		t->verdict = t->why;
	}
}

/* In the source server's namespace: its pinned GARP table and its NICs. */
static int read_agent(const struct lab *l, void *arg)
{
	struct trace *t = arg;
	uint32_t srv = t->src->server;
	struct pgr_garp_key k = { .vdc = t->vdc_id, .ip = htonl(t->dst_ip) };
	struct pgr_dp_maps m;
	char ns[128], dir[256], err[256];

	lab_ns(l, l->topo->nodes[srv].name, ns, sizeof(ns));
	if (!pgr_dp_pin_path(ns, dir, sizeof(dir)) ||
	    pgr_dp_maps_open_pinned(dir, &m, err, sizeof(err)))
		return -ENOENT;
	t->cached = bpf_map_lookup_elem(m.garp, &k, &t->g) == 0;
	if (!t->cached) {
		k.vdc = PGR_VDC_SERVICE;
		t->cached = bpf_map_lookup_elem(m.garp, &k, &t->g) == 0;
	}
	if (t->cached) {
		uint32_t id = pgr_mac_id(t->g.vm_mac[PGR_PRIMARY]);

		t->gkey = k;
		t->have_dst_local = bpf_map_lookup_elem(m.vms, &id, &t->dst_local) == 0;
	}
	pgr_dp_maps_close(&m);
	if (!t->cached)
		return 0;
	decide(t);
	if (t->local || t->dropped)
		return 0;
	if_indextoname(t->egress, t->nic);
	t->nic_port = UINT32_MAX;
	for (uint32_t p = 0; p < t->l.topo->nodes[srv].degree; p++) {
		char ifn[LAB_IFNAMSIZ];

		lab_port_ifname(&t->l, srv, p, ifn);
		if (!strcmp(ifn, t->nic))
			t->nic_port = p;
	}
	return 0;
}

static void hop(struct trace *t, const char *node, int in_port, int out_port,
		const char *next, const char *note)
{
	json_t *h = json_object();

	JSET(h, "node", JSTR(node));
	JSET(h, "in_port", in_port < 0 ? json_null() : JINT(in_port));
	JSET(h, "out_port", out_port < 0 ? json_null() : JINT(out_port));
	JSET(h, "next", next ? JSTR(next) : json_null());
	if (note)
		JSET(h, "note", JSTR(note));
	json_array_append_new(t->hops, h);
	if (!t->human)
		return;
	printf("  hop %-2zu   %-8s in port %d", json_array_size(t->hops), node, in_port);
	if (out_port >= 0)
		printf(", out port %d", out_port);
	if (next)
		printf(" -> %s", next);
	printf("%s%s\n", note ? ": " : "", note ? note : "");
}

/* The egress port for da in a switch's table, or -1. */
static int fib_port(struct swc *c, const uint8_t *da, bool *port_up, uint32_t *nports_out)
{
	struct swp_fib_entry *e = NULL;
	struct swp_port *p = NULL;
	uint32_t n = 0, np = 0, used, cap;
	int port = -1;

	if (swc_dump_fib(c, &e, &n, &used, &cap) == 0)
		for (uint32_t i = 0; i < n && port < 0; i++)
			if (!memcmp(e[i].mac, da, 6))
				port = e[i].port;
	*port_up = false;
	if (port >= 0 && swc_dump_ports(c, &p, &np) == 0)
		for (uint32_t i = 0; i < np; i++)
			if (p[i].port == port)
				*port_up = p[i].state == SWP_PORT_UP;
	*nports_out = np;
	free(e);
	free(p);
	return port;
}

/* In the management namespace: follow da from switch to switch. */
static int walk(const struct lab *l, void *arg)
{
	struct trace *t = arg;
	const struct topo *tp = l->topo;
	const struct topo_adj *a = topo_port(tp, t->src->server, t->nic_port);
	uint32_t node = a->peer, in_link = a->link;
	char mac[18], note[160];

	for (int h = 0; h < TRACE_MAX_HOPS; h++) {
		const struct topo_link *lk = &tp->links[in_link];
		int in_port = lk->a == node ? lk->pa : lk->pb, port;
		uint32_t np;
		bool up;
		struct swc c;

		if (topo_is_server(tp, node)) {
			snprintf(t->where, sizeof(t->where), "%s", tp->nodes[node].name);
			return 0;
		}
		if (lab_switch_client(&t->l, node, &c)) {
			t->verdict = "cannot reach the switch's switchd";
			return 0;
		}
		port = fib_port(&c, t->da, &up, &np);
		swc_close(&c);
		if (port < 0) {
			snprintf(note, sizeof(note), "no entry for %s: dropped (switches flood nothing)",
				 mac_str(t->da, mac));
			hop(t, tp->nodes[node].name, in_port, -1, NULL, note);
			t->verdict = "dropped at a switch: no forwarding entry";
			return 0;
		}
		if (!up) {
			hop(t, tp->nodes[node].name, in_port, port, NULL, "port is down: dropped");
			t->verdict = "dropped at a switch: the egress port is down";
			return 0;
		}
		a = topo_port(tp, node, (uint32_t)port);
		hop(t, tp->nodes[node].name, in_port, port, tp->nodes[a->peer].name, NULL);
		node = a->peer;
		in_link = a->link;
	}
	t->verdict = "loop: more than 32 hops";
	return 0;
}

static void print_agent(const struct trace *t)
{
	char m1[18], m2[18], ip[16];
	const struct topo *tp = t->l.topo;

	printf("trace %s %s -> %s\n", t->l.vdcs[t->src->vdc].name,
	       lab_ip_str(t->src->ip, ip), lab_ip_str(t->dst_ip, (char[16]){ 0 }));
	printf("  source   %s on %s\n", t->src->name, tp->nodes[t->src->server].name);
	if (!t->cached) {
		printf("  agent    no GARP entry cached: the VM's ARP request would miss, the\n"
		       "           agent would ask the directory and answer; nothing to follow yet\n");
		return;
	}
	printf("  agent    GARP: VM %s / %s, server %s / %s, avail 0x%x, %s%s\n",
	       mac_str(t->g.vm_mac[0], m1), mac_str(t->g.vm_mac[1], m2),
	       mac_str(t->g.im_mac[0], (char[18]){ 0 }), mac_str(t->g.im_mac[1], (char[18]){ 0 }),
	       t->g.avail, t->local ? "local" : t->direct ? "direct" : "indirect",
	       t->dropped ? ", dropped" : "");
	if (t->local || t->dropped)
		return;
	printf("           -> tree %d (%s), out of %s\n", t->tree,
	       t->tree == PGR_PRIMARY ? "primary" : "backup", t->nic);
	printf("  frame    dst %s  src %s%s\n", mac_str(t->da, m1), mac_str(t->sa, m2),
	       t->direct ? "" : "  (src = destination id : source id)");
}

static json_t *trace_json(const struct trace *t)
{
	json_t *j = json_object(), *ag = json_object();
	char m[18], ip[16];

	JSET(j, "vdc", JSTR(t->l.vdcs[t->src->vdc].name));
	JSET(j, "src_vm", JSTR(t->src->name));
	JSET(j, "src_server", JSTR(t->l.topo->nodes[t->src->server].name));
	JSET(j, "dst_ip", JSTR(lab_ip_str(t->dst_ip, ip)));
	JSET(ag, "cached", JBOOL(t->cached));
	if (t->cached) {
		JSET(ag, "mode", JSTR(t->local ? "local" : t->direct ? "direct" : "indirect"));
		JSET(ag, "avail", JINT(t->g.avail));
		JSET(ag, "tree", t->tree >= 0 && !t->local ? JINT(t->tree) : json_null());
		JSET(ag, "nic", t->nic[0] ? JSTR(t->nic) : json_null());
		if (!t->local && !t->dropped) {
			JSET(ag, "dst_mac", JSTR(mac_str(t->da, m)));
			JSET(ag, "src_mac", JSTR(mac_str(t->sa, m)));
		}
	}
	JSET(j, "agent", ag);
	JSET(j, "hops", json_incref(t->hops));
	JSET(j, "delivered_to", t->where[0] ? JSTR(t->where) : json_null());
	JSET(j, "dst_vm", t->dst && t->where[0] ? JSTR(t->dst->name) : json_null());
	JSET(j, "verdict", JSTR(t->verdict));
	return j;
}

static void deliver(struct trace *t);

static int run_trace(struct trace *t, const char *vdc, const char *sip, const char *dip)
{
	char ns[128];
	struct in_addr a;
	int v;

	if ((v = find_vdc(&t->l, vdc)) < 0)
		return cli_error("trace: no VDC '%s' in the lab", vdc);
	t->vdc_id = t->l.vdcs[v].id;
	if (inet_pton(AF_INET, sip, &a) != 1 || !(t->src = find_vm(&t->l, (uint32_t)v, ntohl(a.s_addr))))
		return cli_error("trace: no VM with address '%s' in VDC %s", sip, vdc);
	if (inet_pton(AF_INET, dip, &a) != 1)
		return cli_error("trace: '%s' is not an IPv4 address", dip);
	t->dst_ip = ntohl(a.s_addr);
	t->dst = find_vm(&t->l, (uint32_t)v, t->dst_ip);
	lab_ns(&t->l, t->l.topo->nodes[t->src->server].name, ns, sizeof(ns));
	if (lab_in_ns(&t->l, ns, read_agent, t))
		return cli_error("trace: no data plane pinned for %s (is its agent running?)", ns);
	if (t->human)
		print_agent(t);
	t->verdict = t->verdict ? t->verdict : "not cached";
	if (t->cached && t->local && !t->dropped) {
		snprintf(t->where, sizeof(t->where), "%s", t->l.topo->nodes[t->src->server].name);
		t->verdict = "delivered on the same server without leaving it";
	} else if (t->cached && !t->dropped) {
		if (t->nic_port == UINT32_MAX)
			return cli_error("trace: egress interface %s is not a NIC of the server", t->nic);
		t->verdict = NULL;
		if (lab_in_mgmt(&t->l, walk, t))
			return cli_error("trace: cannot enter the lab's management namespace");
		deliver(t);
	}
	return 0;
}

/* The server the frame reached: does it take it, and for which VM? */
static void deliver(struct trace *t)
{
	const struct topo *tp = t->l.topo;
	uint32_t node, srv_index;
	uint8_t m0[6], m1[6];

	if (!t->where[0])
		return;
	node = topo_find(tp, t->where);
	srv_index = tp->nodes[node].index;
	pgr_mac_make(m0, pgr_id_of(lab_server_node(srv_index), PGR_PRIMARY));
	pgr_mac_make(m1, pgr_id_of(lab_server_node(srv_index), PGR_BACKUP));
	if (t->direct) {
		t->verdict = t->dst && t->dst->server == node
			? "delivered direct to the destination VM's server"
			: "reached a server that does not host the destination VM: dropped";
	} else if (memcmp(t->da, m0, 6) && memcmp(t->da, m1, 6)) {
		t->verdict = "reached a server whose MACs the frame is not for: dropped";
	} else if (!t->dst || t->dst->server != node) {
		t->verdict = "decapsulated, but the destination VM is not on this server: dropped";
	} else {
		t->verdict = "decapsulated and delivered to the destination VM";
	}
	if (t->human)
		printf("  deliver  %s: %s%s%s\n", t->where, t->verdict,
		       t->dst ? " " : "", t->dst ? t->dst->name : "");
}

int cmd_trace(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "prefix", required_argument, NULL, 'p' }, { "json", no_argument, NULL, 'j' },
		{ "scheme", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' }, { 0 }
	};
	struct trace t = { .human = true, .tree = -1 };
	const char *prefix = "pg", *scheme = NULL;
	enum pgr_scheme want;
	char names[128];
	char err[512];
	int c, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'p': prefix = optarg; break;
		case 'j': t.human = false; break;
		case 's': scheme = optarg; break;
		case 'h': fputs(trace_help, stdout); return 0;
		default: return cli_usage_error("trace", "bad option");
		}
	}
	pgr_scheme_list(names, sizeof(names));
	if (scheme && !pgr_scheme_parse(scheme, &want))
		return cli_usage_error("trace", "--scheme: '%s' is not one of %s", scheme, names);
	if (argc - optind != 3)
		return cli_usage_error("trace", "expected VDC SRC_IP DST_IP");
	if (lab_load_running(prefix, &t.l, err, sizeof(err)))
		return cli_error("trace: %s", err);
	rc = 0;
	if (scheme && want != t.l.scheme)
		rc = cli_error("trace: lab %s runs scheme %s, not %s", prefix,
			       pgr_scheme_name(t.l.scheme), scheme);
	else if (t.l.scheme != PGR_SCHEME_PEREGRINE)
		rc = cli_error("trace: lab %s runs scheme %s, which trace does not follow yet "
			       "(docs/vl2.md)", prefix, pgr_scheme_name(t.l.scheme));
	if (rc) {
		lab_free(&t.l);
		return rc;
	}
	t.hops = json_array();
	rc = run_trace(&t, argv[optind], argv[optind + 1], argv[optind + 2]);
	if (rc == 0 && !t.human)
		json_print(stdout, trace_json(&t));
	else if (rc == 0 && t.verdict && !t.where[0] && t.cached)
		printf("  verdict  %s\n", t.verdict);
	json_decref(t.hops);
	lab_free(&t.l);
	return rc;
}
