/* `peregrine netlord`: load NetLord's data plane (docs/netlord.md) into the
 * current network namespace, fill its tables, rewrite a VLAN choice, print
 * its counters.  Programs stay attached to tc after the command exits; the
 * maps are pinned under DIR (in /sys/fs/bpf) so that later calls find them.
 *
 *   netlord switch DIR --mac MAC [--edge] --fib N --vlan VID=IF[,IF...]...
 *                      [--down P=IF,MAC]...
 *   netlord nla DIR --nic IF --nic-mac MAC --edge-mac MAC --port P
 *                   [--vm IF,TENANT,IP,MAC]... [--dir TENANT,IP,MAC,EDGE_MAC,P]...
 *                   [--path EDGE_MAC=VID[,VID...]]...
 *   netlord paths DIR EDGE_MAC=VID[,VID...]    (an empty list deletes)
 *   netlord stats DIR [--json]
 *   netlord plan TOPOLOGY [--k K]
 *   netlord reselect DIR TOPOLOGY --edge NAME [--k K] --mac NAME=MAC...
 *                    [--down A-B]...
 *
 * `plan` prints what route/spain.c and the NLA's plan (agent/netlord.c)
 * make of a topology: every VLAN's links ("vlan VID A-B ..."), and for
 * every pair of edge switches the VLANs the first spreads its flows to the
 * second over ("choice SRC DST VID,...", and "choice SRC SRC VID" for the
 * frames between two servers of one edge switch); the switches' --vlan and
 * the NLAs' --path arguments follow from it.
 *
 * The lab's bring-up is to call these; today bpf/test_netlord_netns.sh
 * does, on a fabric it builds by hand. */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "agent/netlord.h"
#include "bpf/loader.h"
#include "bpf/netlord.h"
#include "cmd/cli.h"
#include "netlord_decap.skel.h"
#include "netlord_encap.skel.h"
#include "netlord_switch.skel.h"
#include "wire/frame.h"

static const char *const stat_names[NL_STAT_COUNT] = {
#define NL_STAT_NAME(name, desc) #name,
	NL_STATS(NL_STAT_NAME)
#undef NL_STAT_NAME
};

static int usage_to(FILE *f)
{
	fprintf(f,
		"usage: peregrine netlord switch DIR --mac MAC [--edge] --fib N "
		"--vlan VID=IF[,IF...]... [--down P=IF,MAC]...\n"
		"       peregrine netlord nla DIR --nic IF --nic-mac MAC --edge-mac MAC --port P\n"
		"                 [--vm IF,TENANT,IP,MAC]... [--dir TENANT,IP,MAC,EDGE_MAC,P]...\n"
		"                 [--path EDGE_MAC=VID[,VID...]]...\n"
		"       peregrine netlord paths DIR EDGE_MAC=VID[,VID...]\n"
		"       peregrine netlord stats DIR [--json]\n"
		"       peregrine netlord plan TOPOLOGY [--k K]\n"
		"       peregrine netlord reselect DIR TOPOLOGY --edge NAME [--k K] --mac NAME=MAC...\n"
		"                 [--down A-B]...\n");
	return 2;
}

static int usage(void)
{
	return usage_to(stderr);
}

static int bad(const char *what, const char *arg)
{
	fprintf(stderr, "peregrine netlord: bad %s '%s'\n", what, arg);
	return 2;
}

static bool num(const char *s, unsigned long max, unsigned long *out)
{
	char *end;

	errno = 0;
	*out = strtoul(s, &end, 10);
	return !errno && end != s && !*end && *out <= max;
}

static bool ifindex_of(const char *name, uint32_t *out)
{
	*out = if_nametoindex(name);
	return *out != 0;
}

static int upd(int fd, const void *k, const void *v, const char *what)
{
	if (bpf_map_update_elem(fd, k, v, BPF_ANY)) {
		fprintf(stderr, "peregrine netlord: %s: %s\n", what, strerror(errno));
		return 1;
	}
	return 0;
}

/* Attach once per interface: a switch port is named by several --vlan and
 * --down arguments. */
static int attach(int prog_fd, uint32_t ifindex, const char *name)
{
	static uint32_t done[NL_VLAN_PORTS_MAX * 4];
	static size_t ndone;
	bool created;
	int err;

	for (size_t i = 0; i < ndone; i++)
		if (done[i] == ifindex)
			return 0;
	err = pgr_dp_tc_attach(prog_fd, ifindex, &created);
	if (!err && ndone < sizeof(done) / sizeof(done[0]))
		done[ndone++] = ifindex;

	if (err)
		fprintf(stderr, "peregrine netlord: attach to %s: %s\n", name, strerror(-err));
	return err ? 1 : 0;
}

/* "EDGE_MAC=VID,VID" into a key and a choice. */
static bool parse_path(const char *arg, struct nl_edge_key *k, struct nl_vlan_choice *c)
{
	char buf[128], *eq, *tok, *save;
	unsigned long v;

	memset(k, 0, sizeof(*k));
	memset(c, 0, sizeof(*c));
	if (strlen(arg) >= sizeof(buf))
		return false;
	strcpy(buf, arg);
	eq = strchr(buf, '=');
	if (!eq)
		return false;
	*eq = 0;
	if (!wire_mac_parse(buf, k->mac))
		return false;
	for (tok = strtok_r(eq + 1, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (c->n == NL_K_MAX || !num(tok, 4094, &v) || !v)
			return false;
		c->vid[c->n++] = (uint16_t)v;
	}
	return true;
}

static int pin_dir(const char *dir)
{
	if (mkdir(dir, 0700) && errno != EEXIST) {
		fprintf(stderr, "peregrine netlord: %s: %s\n", dir, strerror(errno));
		return 1;
	}
	return 0;
}

/* ---- switch ----------------------------------------------------------------- */
static int vlan_arg(struct netlord_switch *s, const char *arg)
{
	char buf[512], *eq, *tok, *save;
	struct nl_vlan_ports vp = { 0 };
	unsigned long vid;
	uint32_t key;

	if (strlen(arg) >= sizeof(buf))
		return bad("--vlan", arg);
	strcpy(buf, arg);
	eq = strchr(buf, '=');
	if (!eq)
		return bad("--vlan", arg);
	*eq = 0;
	if (!num(buf, 4094, &vid) || !vid)
		return bad("VLAN id", buf);
	for (tok = strtok_r(eq + 1, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (vp.n == NL_VLAN_PORTS_MAX || !ifindex_of(tok, &vp.ifindex[vp.n]))
			return bad("VLAN port", tok);
		if (s && attach(bpf_program__fd(s->progs.netlord_switch), vp.ifindex[vp.n], tok))
			return 1;
		vp.n++;
	}
	key = (uint32_t)vid;
	return s ? upd(bpf_map__fd(s->maps.nl_vlan_ports), &key, &vp, "nl_vlan_ports") : 0;
}

static int down_arg(struct netlord_switch *s, const char *arg)
{
	char buf[128], *eq, *comma;
	struct nl_downlink dl = { 0 };
	unsigned long p;
	uint32_t key;

	if (strlen(arg) >= sizeof(buf))
		return bad("--down", arg);
	strcpy(buf, arg);
	eq = strchr(buf, '=');
	comma = eq ? strchr(eq, ',') : NULL;
	if (!comma)
		return bad("--down", arg);
	*eq = *comma = 0;
	if (!num(buf, NL_EDGE_PORTS - 1, &p) || !p || !ifindex_of(eq + 1, &dl.ifindex) ||
	    !wire_mac_parse(comma + 1, dl.mac))
		return bad("--down", arg);
	key = (uint32_t)p;
	if (!s)
		return 0;
	if (attach(bpf_program__fd(s->progs.netlord_switch), dl.ifindex, eq + 1))
		return 1;
	return upd(bpf_map__fd(s->maps.nl_downlinks), &key, &dl, "nl_downlinks");
}

static int cmd_switch(int argc, char **argv)
{
	const char *dir = argv[0];
	struct netlord_switch *s;
	unsigned long fib = 0;
	uint8_t mac[6];
	bool have_mac = false, edge = false;
	int rc = 1;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--edge"))
			edge = true;
		else if (!strcmp(argv[i], "--mac") && i + 1 < argc) {
			if (!(have_mac = wire_mac_parse(argv[++i], mac)))
				return bad("MAC", argv[i]);
		} else if (!strcmp(argv[i], "--fib") && i + 1 < argc) {
			if (!num(argv[++i], UINT32_MAX, &fib))
				return bad("--fib", argv[i]);
		} else if ((strcmp(argv[i], "--vlan") && strcmp(argv[i], "--down")) || i + 1 == argc)
			return usage();
		else
			i++;
	}
	if (!have_mac)
		return usage();
	for (int i = 1; i < argc; i++) {	/* every argument checked before loading */
		if (!strcmp(argv[i], "--vlan") && vlan_arg(NULL, argv[++i]))
			return 2;
		if (!strcmp(argv[i], "--down") && down_arg(NULL, argv[++i]))
			return 2;
	}
	if (!(s = netlord_switch__open()))
		return 1;
	memcpy((void *)s->rodata->nl_sw_cfg.mac, mac, 6);
	s->rodata->nl_sw_cfg.edge = edge;
	s->rodata->nl_sw_cfg.fib_capacity = (uint32_t)fib;
	if (netlord_switch__load(s) || pin_dir(dir) || bpf_object__pin_maps(s->obj, dir)) {
		fprintf(stderr, "peregrine netlord: load or pin under %s failed\n", dir);
		goto out;
	}
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--vlan") && vlan_arg(s, argv[++i]))
			goto out;
		if (!strcmp(argv[i], "--down") && down_arg(s, argv[++i]))
			goto out;
	}
	rc = 0;
out:
	netlord_switch__destroy(s);	/* the programs stay attached */
	return rc;
}

/* ---- the NLA --------------------------------------------------------------------- */
static int vm_arg(struct netlord_encap *e, struct netlord_decap *d, const char *arg)
{
	char buf[128], *f[4], *save;
	struct nl_port port = { 0 };
	struct nl_vm_key vk = { 0 };
	unsigned long tenant;
	uint32_t ifindex;
	int n = 0;

	if (strlen(arg) >= sizeof(buf))
		return bad("--vm", arg);
	strcpy(buf, arg);
	for (char *t = strtok_r(buf, ",", &save); t && n < 4; t = strtok_r(NULL, ",", &save))
		f[n++] = t;
	if (n != 4 || !ifindex_of(f[0], &ifindex) || !num(f[1], NL_TENANT_MAX, &tenant) ||
	    !tenant || inet_pton(AF_INET, f[2], &port.ip) != 1 || !wire_mac_parse(f[3], port.mac))
		return bad("--vm", arg);
	port.tenant = vk.tenant = (uint32_t)tenant;
	memcpy(vk.mac, port.mac, 6);
	if (!e)
		return 0;
	if (upd(bpf_map__fd(e->maps.nl_ports), &ifindex, &port, "nl_ports") ||
	    upd(bpf_map__fd(d->maps.nl_vms), &vk, &ifindex, "nl_vms"))
		return 1;
	return attach(bpf_program__fd(e->progs.netlord_encap), ifindex, f[0]);
}

static int dir_arg(struct netlord_encap *e, const char *arg)
{
	char buf[128], *f[5], *save;
	struct nl_dir_key k = { 0 };
	struct nl_dir_entry v = { 0 };
	unsigned long tenant, port;
	int n = 0;

	if (strlen(arg) >= sizeof(buf))
		return bad("--dir", arg);
	strcpy(buf, arg);
	for (char *t = strtok_r(buf, ",", &save); t && n < 5; t = strtok_r(NULL, ",", &save))
		f[n++] = t;
	if (n != 5 || !num(f[0], NL_TENANT_MAX, &tenant) || !tenant ||
	    inet_pton(AF_INET, f[1], &k.ip) != 1 || !wire_mac_parse(f[2], v.mac) ||
	    !wire_mac_parse(f[3], v.edge_mac) || !num(f[4], NL_EDGE_PORTS - 1, &port) || !port)
		return bad("--dir", arg);
	k.tenant = (uint32_t)tenant;
	v.port = (uint8_t)port;
	return e ? upd(bpf_map__fd(e->maps.nl_dir), &k, &v, "nl_dir") : 0;
}

static int path_arg(int fd, const char *arg)
{
	struct nl_edge_key k;
	struct nl_vlan_choice c;

	if (!parse_path(arg, &k, &c))
		return bad("path", arg);
	if (fd < 0)
		return 0;
	if (!c.n) {
		if (bpf_map_delete_elem(fd, &k) && errno != ENOENT)
			return bad("path", arg);
		return 0;
	}
	return upd(fd, &k, &c, "nl_paths");
}

static int nla_load(const char *dir, struct netlord_encap *e, struct netlord_decap *d)
{
	char sub[PATH_MAX];

	if (netlord_encap__load(e) || netlord_decap__load(d) || pin_dir(dir))
		return 1;
	snprintf(sub, sizeof(sub), "%s/enc", dir);
	if (pin_dir(sub) || bpf_object__pin_maps(e->obj, sub))
		return 1;
	snprintf(sub, sizeof(sub), "%s/dec", dir);
	return pin_dir(sub) || bpf_object__pin_maps(d->obj, sub);
}

static int cmd_nla(int argc, char **argv)
{
	const char *dir = argv[0], *nic = NULL;
	struct netlord_encap *e = netlord_encap__open();
	struct netlord_decap *d = netlord_decap__open();
	uint8_t nic_mac[6], edge_mac[6];
	unsigned long port = 0;
	uint32_t nic_ifindex = 0;
	int rc = 1;

	if (!e || !d)
		goto out;
	for (int i = 1; i + 1 < argc; i += 2) {
		const char *o = argv[i], *v = argv[i + 1];

		if (!strcmp(o, "--nic")) {
			nic = v;
			if (!ifindex_of(v, &nic_ifindex)) {
				rc = bad("--nic", v);
				goto out;
			}
		} else if ((!strcmp(o, "--nic-mac") && !wire_mac_parse(v, nic_mac)) ||
			   (!strcmp(o, "--edge-mac") && !wire_mac_parse(v, edge_mac)) ||
			   (!strcmp(o, "--port") &&
			    (!num(v, NL_EDGE_PORTS - 1, &port) || !port))) {
			rc = bad(o, v);
			goto out;
		}
	}
	if (!nic || !port || (argc - 1) % 2) {
		rc = usage();
		goto out;
	}
	for (int i = 1; i + 1 < argc; i += 2) {	/* checked before loading */
		if ((!strcmp(argv[i], "--vm") && vm_arg(NULL, NULL, argv[i + 1])) ||
		    (!strcmp(argv[i], "--dir") && dir_arg(NULL, argv[i + 1])) ||
		    (!strcmp(argv[i], "--path") && path_arg(-1, argv[i + 1]))) {
			rc = 2;
			goto out;
		}
	}
	memcpy((void *)e->rodata->nl_cfg.edge_mac, edge_mac, 6);
	e->rodata->nl_cfg.port = (uint8_t)port;
	e->rodata->nl_cfg.nic_ifindex = nic_ifindex;
	memcpy((void *)d->rodata->nl_cfg.nic_mac, nic_mac, 6);
	d->rodata->nl_cfg.port = (uint8_t)port;
	if (nla_load(dir, e, d)) {
		fprintf(stderr, "peregrine netlord: load or pin under %s failed\n", dir);
		goto out;
	}
	for (int i = 1; i + 1 < argc; i += 2) {
		if ((!strcmp(argv[i], "--vm") && vm_arg(e, d, argv[i + 1])) ||
		    (!strcmp(argv[i], "--dir") && dir_arg(e, argv[i + 1])) ||
		    (!strcmp(argv[i], "--path") &&
		     path_arg(bpf_map__fd(e->maps.nl_paths), argv[i + 1])))
			goto out;
	}
	rc = attach(bpf_program__fd(d->progs.netlord_decap), nic_ifindex, nic);
out:
	netlord_encap__destroy(e);
	netlord_decap__destroy(d);
	return rc;
}

/* ---- paths, stats ------------------------------------------------------------------ */
static int cmd_paths(int argc, char **argv)
{
	char path[PATH_MAX];
	int fd, rc = 0;

	if (argc < 2)
		return usage();
	snprintf(path, sizeof(path), "%s/enc/nl_paths", argv[0]);
	if ((fd = bpf_obj_get(path)) < 0) {
		fprintf(stderr, "peregrine netlord: %s: %s\n", path, strerror(errno));
		return 1;
	}
	for (int i = 1; i < argc && !rc; i++)
		rc = path_arg(fd, argv[i]);
	close(fd);
	return rc;
}

static int read_stats(const char *path, uint64_t *pk)
{
	int fd = bpf_obj_get(path), ncpu = libbpf_num_possible_cpus();
	struct nl_counter c[ncpu];

	if (fd < 0)
		return -1;
	for (uint32_t k = 0; k < NL_STAT_COUNT; k++) {
		if (bpf_map_lookup_elem(fd, &k, c))
			continue;
		for (int i = 0; i < ncpu; i++)
			pk[k] += c[i].packets;
	}
	close(fd);
	return 0;
}

static int cmd_stats(int argc, char **argv)
{
	static const char *const sub[] = { "", "/enc", "/dec" };
	uint64_t pk[NL_STAT_COUNT] = { 0 }, used = 0;
	bool json = argc > 1 && !strcmp(argv[1], "--json"), any = false;
	char path[PATH_MAX];
	uint32_t zero = 0;
	int fd;

	for (size_t i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s%s/nl_stats", argv[0], sub[i]);
		any |= read_stats(path, pk) == 0;
	}
	if (!any) {
		fprintf(stderr, "peregrine netlord: no counters under %s\n", argv[0]);
		return 1;
	}
	snprintf(path, sizeof(path), "%s/nl_fib_used", argv[0]);
	if ((fd = bpf_obj_get(path)) >= 0) {
		bpf_map_lookup_elem(fd, &zero, &used);
		close(fd);
	}
	printf(json ? "{\"fib_used\": %llu" : "fib_used %llu\n", (unsigned long long)used);
	for (uint32_t k = 0; k < NL_STAT_COUNT; k++)
		if (pk[k])
			printf(json ? ", \"%s\": %llu" : "%s %llu\n", stat_names[k],
			       (unsigned long long)pk[k]);
	if (json)
		printf("}\n");
	return 0;
}

/* ---- plan ----------------------------------------------------------------------- */
static void print_plan(const struct topo *t, const struct route_spain *s, const struct nla_plan *p)
{
	for (uint32_t j = 0; j < s->nends; j++) {
		struct nl_vlan_choice c;

		nla_plan_choice(p, j, &c);
		printf("choice %s %s ", t->nodes[s->ends[p->self]].name, t->nodes[s->ends[j]].name);
		for (uint32_t i = 0; i < c.n; i++)
			printf("%s%u", i ? "," : "", c.vid[i]);
		printf("\n");
	}
}

static int cmd_plan(int argc, char **argv)
{
	struct topo *t;
	struct route_spain s;
	unsigned long k = 2;
	char err[256];
	int rc = 1;

	if (argc == 3 && !strcmp(argv[1], "--k")) {
		if (!num(argv[2], NL_K_MAX, &k) || !k)
			return bad("--k", argv[2]);
	} else if (argc != 1) {
		return usage();
	}
	if (topo_from_spec(argv[0], &t, err, sizeof(err))) {
		fprintf(stderr, "peregrine netlord: %s\n", err);
		return 1;
	}
	if (route_spain_build(t, (uint32_t)k, &s, err, sizeof(err))) {
		fprintf(stderr, "peregrine netlord: %s\n", err);
		goto out_topo;
	}
	for (uint32_t v = 0; v < s.nvlans; v++) {
		printf("vlan %u", v + 1);
		for (uint32_t i = s.vlan_off[v]; i < s.vlan_off[v + 1]; i++) {
			const struct topo_link *l = &t->links[s.vlan_links[i]];

			printf(" %s-%s", t->nodes[l->a].name, t->nodes[l->b].name);
		}
		printf("\n");
	}
	for (uint32_t e = 0; e < s.nends; e++) {
		struct nla_plan p;

		if (nla_plan_build(&p, t, &s, s.ends[e], err, sizeof(err))) {
			fprintf(stderr, "peregrine netlord: %s\n", err);
			goto out;
		}
		print_plan(t, &s, &p);
		nla_plan_free(&p);
	}
	rc = 0;
out:
	route_spain_free(&s);
out_topo:
	topo_free(t);
	return rc;
}

/* ---- reselect ------------------------------------------------------------------- */
struct reselect_args {
	const char *dir, *topo, *edge;
	unsigned long k;
	int argc;
	char **argv;
};

/* "A-B": the link between the two nodes named. */
static uint32_t link_arg(const struct topo *t, const char *arg)
{
	char buf[128], *dash;

	if (strlen(arg) >= sizeof(buf) || !(dash = strchr(strcpy(buf, arg), '-')))
		return UINT32_MAX;
	*dash = 0;
	return topo_link_between(t, topo_find(t, buf), topo_find(t, dash + 1));
}

/* The MAC given for an edge switch's name with --mac NAME=MAC. */
static bool mac_of(const struct reselect_args *a, const char *name, uint8_t *mac)
{
	size_t n = strlen(name);

	for (int i = 0; i + 1 < a->argc; i++)
		if (!strcmp(a->argv[i], "--mac") && !strncmp(a->argv[i + 1], name, n) &&
		    a->argv[i + 1][n] == '=')
			return wire_mac_parse(a->argv[i + 1] + n + 1, mac);
	return false;
}

/* Write every destination's choice, with the given links down, into the
 * NLA's nl_paths. */
static int apply_plan(const struct reselect_args *a, const struct topo *t, struct nla_plan *p)
{
	char path[PATH_MAX];
	uint32_t changed[64];
	int fd, rc = 0;

	for (int i = 0; i + 1 < a->argc; i++) {
		uint32_t l;

		if (strcmp(a->argv[i], "--down"))
			continue;
		if ((l = link_arg(t, a->argv[i + 1])) == UINT32_MAX)
			return bad("--down", a->argv[i + 1]);
		nla_plan_link(p, l, false, changed, 64);
	}
	snprintf(path, sizeof(path), "%s/enc/nl_paths", a->dir);
	if ((fd = bpf_obj_get(path)) < 0) {
		fprintf(stderr, "peregrine netlord: %s: %s\n", path, strerror(errno));
		return 1;
	}
	for (uint32_t j = 0; j < p->s->nends && !rc; j++) {
		const char *name = t->nodes[p->s->ends[j]].name;
		struct nl_edge_key k = { 0 };
		struct nl_vlan_choice c;

		if (!mac_of(a, name, k.mac)) {
			rc = bad("--mac (none for this edge switch)", name);
			break;
		}
		nla_plan_choice(p, j, &c);
		if (c.n)
			rc = upd(fd, &k, &c, "nl_paths");
		else if (bpf_map_delete_elem(fd, &k) && errno != ENOENT)
			rc = bad("nl_paths delete", name);
		printf("choice %s %s", t->nodes[p->s->ends[p->self]].name, name);
		for (uint32_t i = 0; i < c.n; i++)
			printf("%s%u", i ? "," : " ", c.vid[i]);
		printf("\n");
	}
	close(fd);
	return rc;
}

static int cmd_reselect(int argc, char **argv)
{
	struct reselect_args a = { .k = 2 };
	struct topo *t;
	struct route_spain s;
	struct nla_plan p;
	char err[256];
	int rc = 1;

	if (argc < 4)
		return usage();
	a.dir = argv[0];
	a.topo = argv[1];
	a.argc = argc - 2;
	a.argv = argv + 2;
	for (int i = 0; i + 1 < a.argc; i += 2) {
		if (!strcmp(a.argv[i], "--edge"))
			a.edge = a.argv[i + 1];
		else if (!strcmp(a.argv[i], "--k") && (!num(a.argv[i + 1], NL_K_MAX, &a.k) || !a.k))
			return bad("--k", a.argv[i + 1]);
	}
	if (!a.edge || a.argc % 2)
		return usage();
	if (topo_from_spec(a.topo, &t, err, sizeof(err))) {
		fprintf(stderr, "peregrine netlord: %s\n", err);
		return 1;
	}
	if (route_spain_build(t, (uint32_t)a.k, &s, err, sizeof(err))) {
		fprintf(stderr, "peregrine netlord: %s\n", err);
		goto out_topo;
	}
	if (nla_plan_build(&p, t, &s, topo_find(t, a.edge), err, sizeof(err))) {
		fprintf(stderr, "peregrine netlord: %s\n", err);
		goto out_spain;
	}
	rc = apply_plan(&a, t, &p);
	nla_plan_free(&p);
out_spain:
	route_spain_free(&s);
out_topo:
	topo_free(t);
	return rc;
}

int cmd_netlord(int argc, char **argv)
{
	if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		usage_to(stdout);
		return 0;
	}
	if (argc >= 3 && !strcmp(argv[1], "plan"))
		return cmd_plan(argc - 2, argv + 2);
	if (argc < 3)
		return usage();
	libbpf_set_strict_mode(LIBBPF_STRICT_ALL);
	if (!strcmp(argv[1], "switch"))
		return cmd_switch(argc - 2, argv + 2);
	if (!strcmp(argv[1], "nla"))
		return cmd_nla(argc - 2, argv + 2);
	if (!strcmp(argv[1], "paths"))
		return cmd_paths(argc - 2, argv + 2);
	if (!strcmp(argv[1], "stats"))
		return cmd_stats(argc - 2, argv + 2);
	if (!strcmp(argv[1], "reselect"))
		return cmd_reselect(argc - 2, argv + 2);
	return usage();
}
