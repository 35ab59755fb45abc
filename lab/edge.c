/* The lab's Internet edge (`edge:`, docs/edge.md): a client namespace
 * outside the fabric (P-inet) and a gateway namespace (P-edge) between it
 * and the VDCs.
 *
 *   P-inet                P-edge (the gateway)                       fabric
 *  +---------+        +--------------------------------+
 *  | P-wan   |--------| P-up       nftables: zones, NAT |
 *  | client  |        | 198.51.100.1   P-g0 (red leg)  |-- P-vID on the edge server
 *  +---------+        |                P-g1 (blue leg) |-- P-vID on the edge server
 *                     +--------------------------------+
 *
 * Each VDC's leg is a VM of that VDC (`VDC-gw`, its subnet's last host
 * address) on the edge server, with the router flag: its agent lets it
 * send any source address and registers it as the VDC's default route
 * (VDC, 0.0.0.0), which the directory answers for any address the VDC has
 * not registered.  `up` builds the leg's veth like any VM's, then moves
 * the VM end into the gateway.  The gateway keeps each VDC apart with a
 * conntrack zone (original direction only) and a routing table per leg;
 * source NAT to one shared public address allocates ports so that the
 * replies' tuples, which all VDCs share, never collide. */
#include "lab/lab.h"
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "agent/policy.h"
#include "lab/run.h"
#include "lib/yconf.h"

#define EDGE_CLIENT_DEFAULT 0xc6336407u	/* 198.51.100.7 */
#define EDGE_PUBLIC_DEFAULT 0xcb007100u	/* 203.0.113.0 */

/* ---- the lab file --------------------------------------------------------- */

static bool parse_prefix(const char *s, uint32_t *ip, uint8_t *plen)
{
	char buf[32], *slash, *end;
	struct in_addr a;
	long n;

	if (strlen(s) >= sizeof(buf))
		return false;
	snprintf(buf, sizeof(buf), "%s", s);
	if (!(slash = strchr(buf, '/')))
		return false;
	*slash = 0;
	n = strtol(slash + 1, &end, 10);
	if (*end || end == slash + 1 || n < 8 || n > 30 || inet_pton(AF_INET, buf, &a) != 1)
		return false;
	*ip = ntohl(a.s_addr);
	*plen = (uint8_t)n;
	return true;
}

static uint32_t mask_of(uint8_t plen)
{
	return 0xffffffffu << (32 - plen);
}

static int vm_by_name(const struct lab *l, const char *name)
{
	for (uint32_t i = 0; i < l->nvms; i++)
		if (!strcmp(l->vms[i].name, name))
			return (int)i;
	return -1;
}

static bool read_vdcs(struct yconf *yc, ynode *seq, struct lab *l, bool want[LAB_MAX_VDCS])
{
	const char *name;

	if (!seq) {
		for (uint32_t d = 0; d < l->nvdcs; d++)
			want[d] = true;
		return true;
	}
	if (!yconf_is_seq(seq) || !yconf_seq_len(seq))
		return yconf_fail(yc, seq, "edge.vdcs: expected a list of VDC names");
	for (size_t i = 0; i < yconf_seq_len(seq); i++) {
		ynode *v = yconf_seq_at(yc, seq, i);
		uint32_t d;

		if (!yconf_str(yc, v, "edge.vdcs[]", &name))
			return false;
		for (d = 0; d < l->nvdcs && strcmp(l->vdcs[d].name, name); d++)
			;
		if (d == l->nvdcs)
			return yconf_fail(yc, v, "edge.vdcs[]: no VDC '%s'", name);
		if (want[d])
			return yconf_fail(yc, v, "edge.vdcs[]: '%s' twice", name);
		want[d] = true;
	}
	return true;
}

/* Each wanted VDC's leg: VM `VDC-gw` on the edge server, at the subnet's
 * last host address. */
static bool add_legs(struct yconf *yc, ynode *at, struct lab *l, const bool want[LAB_MAX_VDCS])
{
	struct lab_edge *e = l->edge;

	for (uint32_t d = 0; d < l->nvdcs; d++) {
		const struct lab_vdc *vdc = &l->vdcs[d];
		uint32_t ip = (vdc->net | ~mask_of(vdc->plen)) - 1;
		char name[LAB_MAX_VM_NAME + 8];
		struct lab_vm *vm;

		if (!want[d])
			continue;
		snprintf(name, sizeof(name), "%s-gw", vdc->name);
		if (strlen(name) > LAB_MAX_VM_NAME || vm_by_name(l, name) >= 0 ||
		    topo_find(l->topo, name) != UINT32_MAX)
			return yconf_fail(yc, at, "edge: the gateway leg's name '%s' is taken or "
					  "too long", name);
		for (uint32_t i = 0; i < l->nvms; i++)
			if (l->vms[i].vdc == d && l->vms[i].ip == ip)
				return yconf_fail(yc, at, "edge: VDC %s: the gateway's address (the "
						  "subnet's last host) is VM %s's", vdc->name,
						  l->vms[i].name);
		if (l->nvms == LAB_MAX_VMS)
			return yconf_fail(yc, at, "edge: at most %d VMs", LAB_MAX_VMS);
		vm = &l->vms[l->nvms];
		*vm = (struct lab_vm){ .vdc = (uint16_t)d, .server = e->server, .id = l->nvms + 1,
				       .ip = ip, .router = true };
		memcpy(vm->name, name, strlen(name) + 1);	/* fits: checked above */
		e->leg[e->nlegs++] = l->nvms++;
	}
	return true;
}

static bool leg_of_vdc(const struct lab *l, uint16_t vdc)
{
	for (uint32_t i = 0; i < l->edge->nlegs; i++)
		if (l->vms[l->edge->leg[i]].vdc == vdc)
			return true;
	return false;
}

/* nat: [{vm: NAME, public: ADDRESS}, ...] */
static bool read_nat(struct yconf *yc, ynode *seq, struct lab *l)
{
	static const char *const keys[] = { "vm", "public", NULL };
	const struct lab_edge *e = l->edge;
	const char *name, *pub;

	if (!yconf_is_seq(seq) || yconf_seq_len(seq) > LAB_EDGE_NAT_MAX)
		return yconf_fail(yc, seq, "edge.nat: expected a list of at most %d "
				  "{vm, public}", LAB_EDGE_NAT_MAX);
	for (size_t i = 0; i < yconf_seq_len(seq); i++) {
		ynode *it = yconf_seq_at(yc, seq, i), *v, *p;
		struct in_addr a;
		uint32_t ip;
		int vi;

		if (!yconf_is_map(it) || !yconf_only_keys(yc, it, "edge.nat[]", keys))
			return yconf_fail(yc, it, "edge.nat[]: expected {vm: NAME, public: ADDRESS}");
		if (!(v = yconf_get(yc, it, "vm")) || !yconf_str(yc, v, "edge.nat[].vm", &name) ||
		    (vi = vm_by_name(l, name)) < 0 || l->vms[vi].router)
			return yconf_fail(yc, v ? v : it, "edge.nat[].vm: not a VM of the lab");
		if (!leg_of_vdc(l, l->vms[vi].vdc))
			return yconf_fail(yc, v, "edge.nat[].vm: %s's VDC has no way out "
					  "(edge.vdcs)", name);
		if (l->vms[vi].public_ip)
			return yconf_fail(yc, v, "edge.nat[].vm: %s has a public address already",
					  name);
		if (!(p = yconf_get(yc, it, "public")) ||
		    !yconf_str(yc, p, "edge.nat[].public", &pub) ||
		    inet_pton(AF_INET, pub, &a) != 1)
			return yconf_fail(yc, p ? p : it, "edge.nat[].public: an IPv4 address");
		ip = ntohl(a.s_addr);
		if ((ip & mask_of(e->pub_plen)) != e->pub_net || ip == e->pub_net ||
		    ip == e->pub_net + 1 || ip == (e->pub_net | ~mask_of(e->pub_plen)))
			return yconf_fail(yc, p, "edge.nat[].public: %s is not a host address of "
					  "edge.public other than its first (the shared one)", pub);
		for (uint32_t j = 0; j < l->nvms; j++)
			if (l->vms[j].public_ip == ip)
				return yconf_fail(yc, p, "edge.nat[].public: %s is %s's already",
						  pub, l->vms[j].name);
		l->vms[vi].public_ip = ip;
	}
	return true;
}

/* limits: [{vdc: NAME, rate: RATE}, ...]: a VC's external bandwidth, shaped
 * both ways on its leg (docs/policy.md, "The VC's external limit"). */
static bool read_limits(struct yconf *yc, ynode *seq, struct lab *l)
{
	static const char *const keys[] = { "vdc", "rate", NULL };
	struct lab_edge *e = l->edge;
	const char *name, *rate;

	if (!yconf_is_seq(seq))
		return yconf_fail(yc, seq, "edge.limits: expected a list of {vdc, rate}");
	for (size_t i = 0; i < yconf_seq_len(seq); i++) {
		ynode *it = yconf_seq_at(yc, seq, i), *v, *r;
		struct pol_tbf t;
		struct pol_error pe;
		uint32_t g;

		if (!yconf_is_map(it) || !yconf_only_keys(yc, it, "edge.limits[]", keys))
			return yconf_fail(yc, it, "edge.limits[]: expected {vdc: NAME, rate: RATE}");
		if (!(v = yconf_get(yc, it, "vdc")) || !yconf_str(yc, v, "edge.limits[].vdc", &name))
			return yconf_fail(yc, v ? v : it, "edge.limits[].vdc: a VDC's name");
		for (g = 0; g < e->nlegs && strcmp(l->vdcs[l->vms[e->leg[g]].vdc].name, name); g++)
			;
		if (g == e->nlegs)
			return yconf_fail(yc, v, "edge.limits[].vdc: '%s' is not a VDC with a "
					  "leg (edge.vdcs)", name);
		if (e->limit[g].rate_bps)
			return yconf_fail(yc, v, "edge.limits[].vdc: '%s' twice", name);
		if (!(r = yconf_get(yc, it, "rate")) || !yconf_str(yc, r, "edge.limits[].rate", &rate))
			return yconf_fail(yc, r ? r : it, "edge.limits[].rate: a rate (200m, 1g)");
		if (pol_tbf_parse(rate, &t, &pe))
			return yconf_fail(yc, r, "edge.limits[].rate: %s", pe.msg);
		e->limit[g] = (struct lab_edge_limit){ t.rate_bps, t.burst, t.limit };
	}
	return true;
}

bool lab_edge_read(struct yconf *yc, ynode *m, struct lab *l)
{
	static const char *const keys[] = { "server", "client", "public", "vdcs", "nat",
					    "limits", NULL };
	bool want[LAB_MAX_VDCS] = { false };
	const char *s;
	ynode *v;

	if (!yconf_is_map(m))
		return yconf_fail(yc, m, "edge: expected {server, client, public, vdcs, nat, limits}");
	if (!yconf_only_keys(yc, m, "edge", keys))
		return false;
	if (l->scheme != PGR_SCHEME_PEREGRINE)
		return yconf_fail(yc, m, "edge: the peregrine scheme only");
	l->edge = xcalloc(1, sizeof(*l->edge));
	l->edge->server = l->topo->servers[0];
	l->edge->client = EDGE_CLIENT_DEFAULT;
	l->edge->client_plen = 24;
	l->edge->pub_net = EDGE_PUBLIC_DEFAULT;
	l->edge->pub_plen = 24;
	if ((v = yconf_get(yc, m, "server")) &&
	    (!yconf_str(yc, v, "edge.server", &s) ||
	     (l->edge->server = topo_find(l->topo, s)) == UINT32_MAX ||
	     !topo_is_server(l->topo, l->edge->server)))
		return yconf_fail(yc, v, "edge.server: not a server of the topology");
	if ((v = yconf_get(yc, m, "client"))) {
		uint32_t net;

		if (!yconf_str(yc, v, "edge.client", &s) ||
		    !parse_prefix(s, &l->edge->client, &l->edge->client_plen))
			return yconf_fail(yc, v, "edge.client: ADDRESS/LEN (8..30)");
		net = l->edge->client & mask_of(l->edge->client_plen);
		if (l->edge->client == net || l->edge->client == net + 1 ||
		    l->edge->client == (net | ~mask_of(l->edge->client_plen)))
			return yconf_fail(yc, v, "edge.client: a host address other than the "
					  "prefix's first (the gateway's)");
	}
	if ((v = yconf_get(yc, m, "public")) &&
	    (!yconf_str(yc, v, "edge.public", &s) ||
	     !parse_prefix(s, &l->edge->pub_net, &l->edge->pub_plen) ||
	     (l->edge->pub_net & ~mask_of(l->edge->pub_plen))))
		return yconf_fail(yc, v, "edge.public: a prefix NET/LEN (8..30), no host bits");
	if (!read_vdcs(yc, yconf_get(yc, m, "vdcs"), l, want) || !add_legs(yc, m, l, want))
		return false;
	if ((v = yconf_get(yc, m, "nat")) && !read_nat(yc, v, l))
		return false;
	return !(v = yconf_get(yc, m, "limits")) || read_limits(yc, v, l);
}

/* ---- up ------------------------------------------------------------------- */

static const char *ipstr(uint32_t ip, char buf[16])
{
	return lab_ip_str(ip, buf);
}

static int run(char *err, size_t errlen, const char *what, char *const argv[])
{
	char out[512];

	if (lab_run(argv, out, sizeof(out))) {
		snprintf(err, errlen, "edge: %s: %s", what, out);
		return -1;
	}
	return 0;
}

/* `ip [-n NS] -batch FILE`, `tc -n NS -batch FILE` or `ip netns exec NS nft
 * -f FILE` of text. */
static int run_text(const struct lab *l, const char *ns, const char *tool, const char *text,
		    char *err, size_t errlen)
{
	char dir[256], path[400];
	FILE *f;

	lab_state_dir(l->prefix, dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/setup/edge.%s.%s", dir, ns ? ns : "host", tool);
	if (!(f = fopen(path, "we")) || fputs(text, f) < 0 || fclose(f)) {
		snprintf(err, errlen, "edge: %s: %s", path, strerror(errno));
		return -1;
	}
	if (!strcmp(tool, "nft")) {
		char *argv[] = { "ip", "netns", "exec", (char *)ns, "nft", "-f", path, NULL };

		return run(err, errlen, path, argv);
	}
	if (!strcmp(tool, "tc")) {
		char *argv[] = { "tc", "-n", (char *)ns, "-batch", path, NULL };

		return run(err, errlen, path, argv);
	}
	if (ns) {
		char *argv[] = { "ip", "-n", (char *)ns, "-batch", path, NULL };

		return run(err, errlen, path, argv);
	}
	char *argv[] = { "ip", "-batch", path, NULL };

	return run(err, errlen, path, argv);
}

static int sysctls(const char *ns, const char *const *kv, char *err, size_t errlen)
{
	for (; *kv; kv++) {
		char *argv[] = { "ip", "netns", "exec", (char *)ns, "sysctl", "-qw", (char *)*kv, NULL };

		if (run(err, errlen, *kv, argv))
			return -1;
	}
	return 0;
}

static void leg_ifname(const struct lab *l, uint32_t i, char buf[LAB_IFNAMSIZ])
{
	lab_ifname(l, buf, "g%u", i);
}

/* The VM's `in` rules as nftables matches for new inbound connections to
 * its public address (after DNAT: its private one).  Rules that the parser
 * accepted are well-formed; groups expand to an anonymous set. */
static void nft_in_rules(FILE *f, const struct lab *l, const struct lab_vm *vm, const char *leg)
{
	struct pol_policy p;
	struct pol_error e;
	char ip[16], peer[16];

	pol_init(&p);
	for (uint32_t r = 0; r < vm->nrules; r++)
		if (pol_rule_add(&p, vm->rules[r], r + 1, &e))
			break;	/* cannot happen: checked when the file was read */
	for (size_t r = 0; r < p.nrules; r++) {
		const struct pol_rule *x = &p.rules[r];

		if (x->dir != PGR_POL_IN)
			continue;
		fprintf(f, "\t\toifname \"%s\" ct mark %u ip daddr %s ", leg,
			l->vdcs[vm->vdc].id, ipstr(vm->ip, ip));
		if (x->group >= 0) {
			const struct pol_group *g = &p.groups[x->group];

			fprintf(f, "ip saddr { ");
			for (size_t k = 0; k < g->n; k++)
				fprintf(f, "%s%s/%u", k ? ", " : "",
					ipstr(ntohl(g->members[k].net), peer), g->members[k].plen);
			fprintf(f, " } ");
		} else if (x->peer.plen) {
			fprintf(f, "ip saddr %s/%u ", ipstr(ntohl(x->peer.net), peer), x->peer.plen);
		}
		if (x->proto == 6 || x->proto == 17)
			fprintf(f, "meta l4proto %s th dport %u-%u ", x->proto == 6 ? "tcp" : "udp",
				x->port_lo, x->port_hi);
		else if (x->proto != POL_PROTO_ANY)
			fprintf(f, "meta l4proto %u ", x->proto);
		fprintf(f, "counter accept\n");
	}
	pol_free(&p);
}

/* The gateway's ruleset: table ip peregrine_edge. */
static void nft_script(const struct lab *l, FILE *f)
{
	const struct lab_edge *e = l->edge;
	char up[LAB_IFNAMSIZ], leg[LAB_IFNAMSIZ], a[16], b[16];

	lab_ifname(l, up, "up");
	fprintf(f, "table ip peregrine_edge {\n"
		"\tcounter leak_drop {}\n\tcounter inbound_drop {}\n\tcounter invalid_drop {}\n");
	/* each VDC's connections in a zone of their own, in the original
	 * direction only: the replies' tuples (public address and port) are
	 * looked up in the shared zone, where NAT keeps them unique */
	fprintf(f, "\tchain raw {\n\t\ttype filter hook prerouting priority raw; policy accept;\n");
	for (uint32_t i = 0; i < e->nlegs; i++) {
		leg_ifname(l, i, leg);
		fprintf(f, "\t\tiifname \"%s\" ct original zone set %u\n", leg, i + 1);
	}
	fprintf(f, "\t}\n");
	/* the connection's VDC: its ct mark (the VDC id), copied to the packet
	 * mark of replies and inbound packets so that routing picks the leg */
	fprintf(f, "\tchain mangle {\n\t\ttype filter hook prerouting priority mangle; "
		"policy accept;\n");
	for (uint32_t i = 0; i < e->nlegs; i++) {
		leg_ifname(l, i, leg);
		fprintf(f, "\t\tiifname \"%s\" ct state new ct mark set %u\n", leg,
			l->vdcs[l->vms[e->leg[i]].vdc].id);
	}
	for (uint32_t v = 0; v < l->nvms; v++)
		if (l->vms[v].public_ip)
			fprintf(f, "\t\tiifname \"%s\" ip daddr %s ct state new ct mark set %u\n", up,
				ipstr(l->vms[v].public_ip, a), l->vdcs[l->vms[v].vdc].id);
	/* a connection to a VIP of the load balancer is its VC's VDC's: its
	 * replies come back from the backends through that VDC's leg */
	for (uint32_t v = 0; l->slb && v < l->slb->nvcs; v++)
		fprintf(f, "\t\tiifname \"%s\" ip daddr %s ct state new ct mark set %u\n", up,
			ipstr(l->slb->vc[v].vip, a), l->vdcs[l->slb->vc[v].vdc].id);
	fprintf(f, "\t\tiifname \"%s\" meta mark set ct mark\n\t}\n", up);
	fprintf(f, "\tchain inbound_nat {\n\t\ttype nat hook prerouting priority dstnat; "
		"policy accept;\n");
	for (uint32_t v = 0; v < l->nvms; v++)
		if (l->vms[v].public_ip)
			fprintf(f, "\t\tiifname \"%s\" ip daddr %s dnat to %s\n", up,
				ipstr(l->vms[v].public_ip, a), ipstr(l->vms[v].ip, b));
	fprintf(f, "\t}\n");
	/* the firewall: a packet from a leg must belong to that leg's VDC's
	 * connections; inbound connections only as the VM's policy allows */
	fprintf(f, "\tchain forward {\n\t\ttype filter hook forward priority filter; "
		"policy drop;\n");
	for (uint32_t i = 0; i < e->nlegs; i++) {
		leg_ifname(l, i, leg);
		fprintf(f, "\t\tiifname \"%s\" ct mark != %u counter name leak_drop drop\n", leg,
			l->vdcs[l->vms[e->leg[i]].vdc].id);
		fprintf(f, "\t\toifname \"%s\" ct mark != %u counter name leak_drop drop\n", leg,
			l->vdcs[l->vms[e->leg[i]].vdc].id);
	}
	fprintf(f, "\t\tct state invalid counter name invalid_drop drop\n"
		"\t\tct state established,related accept\n");
	for (uint32_t i = 0; i < e->nlegs; i++) {
		leg_ifname(l, i, leg);
		fprintf(f, "\t\tiifname \"%s\" oifname \"%s\" accept\n", leg, up);
	}
	for (uint32_t i = 0; i < e->nlegs; i++) {
		leg_ifname(l, i, leg);
		for (uint32_t v = 0; v < l->nvms; v++)
			if (l->vms[v].public_ip && l->vms[v].vdc == l->vms[e->leg[i]].vdc)
				nft_in_rules(f, l, &l->vms[v], leg);
	}
	if (l->slb) {	/* to the VIPs, by the edge server (lab/slb.c) */
		char sx[LAB_IFNAMSIZ];

		lab_ifname(l, sx, "sx");
		fprintf(f, "\t\tiifname \"%s\" oifname \"%s\" accept\n", up, sx);
	}
	fprintf(f, "\t\tiifname \"%s\" counter name inbound_drop drop\n\t}\n", up);
	fprintf(f, "\tchain outbound_nat {\n\t\ttype nat hook postrouting priority srcnat; "
		"policy accept;\n");
	for (uint32_t v = 0; v < l->nvms; v++)
		if (l->vms[v].public_ip)
			fprintf(f, "\t\toifname \"%s\" ct mark %u ip saddr %s snat to %s\n", up,
				l->vdcs[l->vms[v].vdc].id, ipstr(l->vms[v].ip, a),
				ipstr(l->vms[v].public_ip, b));
	fprintf(f, "\t\toifname \"%s\" snat to %s\n\t}\n", up, ipstr(e->pub_net + 1, a));
	/* each limited VC's way out: its class of the uplink's htb (leg_limits) */
	fprintf(f, "\tchain shape {\n\t\ttype filter hook postrouting priority filter; "
		"policy accept;\n");
	for (uint32_t i = 0; i < e->nlegs; i++)
		if (e->limit[i].rate_bps)
			fprintf(f, "\t\toifname \"%s\" ct mark %u meta priority set 1:%x\n", up,
				l->vdcs[l->vms[e->leg[i]].vdc].id, i + 1);
	fprintf(f, "\t}\n}\n");
}

static int build_host(const struct lab *l, char *err, size_t errlen)
{
	char gw[128], inet[128], up[LAB_IFNAMSIZ], wan[LAB_IFNAMSIZ], text[1024];

	lab_ns(l, "edge", gw, sizeof(gw));
	lab_ns(l, "inet", inet, sizeof(inet));
	lab_ifname(l, up, "up");
	lab_ifname(l, wan, "wan");
	snprintf(text, sizeof(text), "netns add %s\nnetns add %s\n"
		 "link add %s netns %s type veth peer name %s netns %s\n", gw, inet, up, gw, wan,
		 inet);
	return run_text(l, NULL, "ip", text, err, errlen);
}

/* Move each leg's VM end into the gateway, renamed P-gN. */
static int move_legs(const struct lab *l, char *err, size_t errlen)
{
	char gw[128], ns[128], eth[LAB_IFNAMSIZ], leg[LAB_IFNAMSIZ];

	lab_ns(l, "edge", gw, sizeof(gw));
	lab_ifname(l, eth, "eth0");
	for (uint32_t i = 0; i < l->edge->nlegs; i++) {
		char *argv[] = { "ip", "-n", ns, "link", "set", eth, "netns", gw, "name", leg, NULL };

		lab_ns(l, l->vms[l->edge->leg[i]].name, ns, sizeof(ns));
		leg_ifname(l, i, leg);
		if (run(err, errlen, "moving a gateway leg", argv))
			return -1;
	}
	return 0;
}

static int build_gateway(const struct lab *l, char *err, size_t errlen)
{
	const struct lab_edge *e = l->edge;
	static const char *const kv[] = { "net.ipv4.ip_forward=1", "net.ipv4.conf.all.rp_filter=0",
					  "net.ipv4.conf.default.rp_filter=0",
					  "net.ipv4.conf.all.arp_announce=2",
					  "net.ipv6.conf.all.disable_ipv6=1", NULL };
	char gw[128], up[LAB_IFNAMSIZ], leg[LAB_IFNAMSIZ], a[16], b[16], *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	int rc;

	lab_ns(l, "edge", gw, sizeof(gw));
	lab_ifname(l, up, "up");
	fprintf(f, "link set lo up\naddr add %s/%u dev %s\nlink set %s up\n",
		ipstr((e->client & mask_of(e->client_plen)) + 1, a), e->client_plen, up, up);
	for (uint32_t i = 0; i < e->nlegs; i++) {
		const struct lab_vm *vm = &l->vms[e->leg[i]];
		const struct lab_vdc *vdc = &l->vdcs[vm->vdc];

		leg_ifname(l, i, leg);
		/* no prefix route in the main table: the VDCs' subnets overlap */
		fprintf(f, "addr add %s/%u dev %s noprefixroute\nlink set %s up\n",
			ipstr(vm->ip, a), vdc->plen, leg, leg);
		fprintf(f, "route add %s/%u dev %s src %s table %u\n", ipstr(vdc->net, a),
			vdc->plen, leg, ipstr(vm->ip, b), LAB_EDGE_TABLE0 + i);
		fprintf(f, "rule add fwmark %u table %u\n", vdc->id, LAB_EDGE_TABLE0 + i);
	}
	fclose(f);
	rc = sysctls(gw, kv, err, errlen) || run_text(l, gw, "ip", text, err, errlen);
	free(text);
	if (rc)
		return -1;
	text = NULL;
	len = 0;
	f = open_memstream(&text, &len);
	nft_script(l, f);
	fclose(f);
	rc = run_text(l, gw, "nft", text, err, errlen);
	free(text);
	return rc;
}

static int build_client(const struct lab *l, char *err, size_t errlen)
{
	static const char *const kv[] = { "net.ipv6.conf.all.disable_ipv6=1", NULL };
	const struct lab_edge *e = l->edge;
	char inet[128], wan[LAB_IFNAMSIZ], a[16], b[16], text[512];

	lab_ns(l, "inet", inet, sizeof(inet));
	lab_ifname(l, wan, "wan");
	snprintf(text, sizeof(text), "link set lo up\naddr add %s/%u dev %s\nlink set %s up\n"
		 "route add default via %s\n", ipstr(e->client, a), e->client_plen, wan, wan,
		 ipstr((e->client & mask_of(e->client_plen)) + 1, b));
	return sysctls(inet, kv, err, errlen) || run_text(l, inet, "ip", text, err, errlen);
}

/* Every VM of a VDC with a leg: default route through the leg. */
static int vm_routes(const struct lab *l, char *err, size_t errlen)
{
	char ns[128], a[16];

	for (uint32_t v = 0; v < l->nvms; v++) {
		const struct lab_vm *vm = &l->vms[v];
		uint32_t gwip = 0;

		if (vm->router)
			continue;
		for (uint32_t i = 0; i < l->edge->nlegs; i++)
			if (l->vms[l->edge->leg[i]].vdc == vm->vdc)
				gwip = l->vms[l->edge->leg[i]].ip;
		if (!gwip)
			continue;
		lab_ns(l, vm->name, ns, sizeof(ns));
		char *argv[] = { "ip", "-n", ns, "route", "add", "default", "via",
				 (char *)ipstr(gwip, a), NULL };
		if (run(err, errlen, "a VM's default route", argv))
			return -1;
	}
	return 0;
}

static bool any_limit(const struct lab_edge *e)
{
	for (uint32_t i = 0; i < e->nlegs; i++)
		if (e->limit[i].rate_bps)
			return true;
	return false;
}

/* A VC's external limit, both ways, in the gateway.  Into the VC: tbf on
 * its leg (P-gN sends only what comes from the Internet to that VC).  Out
 * of it: the uplink P-up carries every VC's traffic from one shared public
 * address, so it gets an htb with a class per limited VC (1:N for leg N-1,
 * rate = ceil = the limit); nftables puts each packet in its VC's class
 * from the connection's mark (`meta priority`, chain shape), and traffic
 * of VCs without a limit goes through htb's direct queue, unshaped.  (The
 * edge server's end of the leg cannot shape the way out: its agent hands
 * frames to the leg with bpf_redirect_peer, past that device's qdisc.) */
static int leg_limits(const struct lab *l, char *err, size_t errlen)
{
	char gw[128], leg[LAB_IFNAMSIZ], up[LAB_IFNAMSIZ], *text = NULL;
	size_t len = 0;
	FILE *f;
	int rc;

	if (!any_limit(l->edge))
		return 0;
	lab_ns(l, "edge", gw, sizeof(gw));
	lab_ifname(l, up, "up");
	f = open_memstream(&text, &len);
	fprintf(f, "qdisc replace dev %s root handle 1: htb default 0\n", up);
	for (uint32_t i = 0; i < l->edge->nlegs; i++) {
		const struct lab_edge_limit *x = &l->edge->limit[i];

		if (!x->rate_bps)
			continue;
		leg_ifname(l, i, leg);
		fprintf(f, "qdisc replace dev %s root tbf rate %llubit burst %u limit %u\n", leg,
			(unsigned long long)x->rate_bps, x->burst, x->queue);
		fprintf(f, "class add dev %s parent 1: classid 1:%x htb rate %llubit ceil %llubit "
			"burst %u cburst %u\n", up, i + 1, (unsigned long long)x->rate_bps,
			(unsigned long long)x->rate_bps, x->burst, x->burst);
		fprintf(f, "qdisc add dev %s parent 1:%x handle %x: pfifo limit %u\n", up, i + 1,
			i + 2, x->queue / 1500 + 1);
	}
	fclose(f);
	rc = run_text(l, gw, "tc", text, err, errlen);
	free(text);
	return rc;
}

int lab_edge_build(const struct lab *l, char *err, size_t errlen)
{
	if (!l->edge)
		return 0;
	if (lab_step("edge", "gateway", err, errlen))
		return -1;
	return build_host(l, err, errlen) || move_legs(l, err, errlen) ||
	       build_gateway(l, err, errlen) || build_client(l, err, errlen) ||
	       vm_routes(l, err, errlen) || leg_limits(l, err, errlen) ? -1 : 0;
}
