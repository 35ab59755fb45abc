/* peregrine dp: load, fill, inspect and unload the eBPF data plane.
 *
 * The host agent drives the same loader and tables itself; these commands
 * serve the lab, the tests and an operator looking at counters.  Each
 * data plane is pinned under /sys/fs/bpf/peregrine/NAME (docs/dataplane.md). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>

#include <bpf/libbpf.h>

#include "bpf/loader.h"
#include "cmd/cli.h"
#include "lib/parse.h"
#include "wire/frame.h"

static const char dp_help[] =
	"Usage: peregrine dp load NAME --server-mac MAC,MAC [--nic IF]... [--pass-foreign]\n"
	"                   [--no-peer] [--veth-nics] [--netns NS]\n"
	"       peregrine dp port NAME --port IF --mac MAC --backup-mac MAC --ip IP --vdc N\n"
	"                   [--netns NS]\n"
	"       peregrine dp garp NAME --vdc N --ip IP --vm-mac MAC,MAC --im-mac MAC,MAC\n"
	"                   --nic IF[,IF] [--avail BITS] [--direct] [--local] [--netns NS]\n"
	"       peregrine dp vip NAME --port IF --ip VIP --vdc N --edge-mac MAC,MAC --nic IF[,IF]\n"
	"                   [--im-mac MAC,MAC] [--netns NS]\n"
	"       peregrine dp stats [NAME] [--json] [--traffic]\n"
	"       peregrine dp events NAME [--count N] [--timeout MS] [--json]\n"
	"       peregrine dp unload NAME [--nic IF]... [--port IF]... [--netns NS]\n"
	"\n"
	"The Peregrine eBPF data plane of one server, pinned under\n"
	"/sys/fs/bpf/peregrine/NAME (bpffs is mounted there if it is not).\n"
	"\n"
	"  load    load both programs, pin their maps, attach from_net to each NIC\n"
	"  port    add a local VM: its port (the server side of its veth, where\n"
	"          from_vm is attached), its MACs (primary = interface), IP and VDC\n"
	"  garp    insert or replace a GARP entry (VDC, IP) -> VM MACs (primary,\n"
	"          (an IPv6 --ip goes to the GARP6 map, docs/tenant-network.md)\n"
	"          backup), intermediary MACs, egress NIC per tree\n"
	"  vip     let the VM behind --port answer from VIP --ip of a VC of VDC --vdc\n"
	"          (direct server return): such frames go to the Internet edge's\n"
	"          MACs (--edge-mac, one per tree) out of --nic (docs/slb.md); with\n"
	"          --im-mac the edge is a gateway leg VM (--edge-mac its MACs) on the\n"
	"          server of those MACs, and the frames are encapsulated to it\n"
	"  stats   every verdict counter (packets, bytes); --traffic adds the\n"
	"          traffic matrix.  NAME may be left out when only one is pinned\n"
	"  events  read the miss events of the ring buffer (ARP or IPv4 to an\n"
	"          unresolved address) until N arrived (default 1) or MS passed\n"
	"          (default 1000); exit 1 if none came.  The host agent is their\n"
	"          normal reader: do not run both\n"
	"  unload  detach from the given interfaces and remove the pins\n"
	"\n"
	"Options:\n"
	"  --netns NS      act inside network namespace NS (/run/netns/NS)\n"
	"  --avail BITS    comma list of vm-pri, vm-bak, im-pri, im-bak, or all\n"
	"                  (default) or none: the MACs that may be used\n"
	"  --direct        send direct (heavy pair) rather than indirect\n"
	"  --local         the destination VM is on this server\n"
	"  --pass-foreign  NIC frames not for this server go to the stack, not dropped\n"
	"  --no-peer       deliver to VMs with bpf_redirect, not bpf_redirect_peer\n"
	"  --veth-nics     the NICs are veths (a lab): transmit with bpf_redirect_peer\n"
	"                  straight to the far end's ingress\n"
	"  --json          machine-readable output\n"
	"  -h, --help\n";

enum { DP_IFS_MAX = 16 };

struct dp_args {
	const char *name, *netns, *port;
	const char *nics[DP_IFS_MAX], *ports[DP_IFS_MAX];
	int nnics, nports;
	uint8_t mac[6], backup_mac[6];
	uint8_t macs[2][6];		/* --server-mac / --vm-mac */
	uint8_t im[2][6];
	bool have_mac, have_backup, have_macs, have_im, have_ip, have_vdc, have_ip6;
	uint8_t ip6[16];		/* --ip, when IPv6 */
	uint32_t ip, vdc, count, timeout_ms;
	uint8_t avail, flags;
	bool json, traffic, pass_foreign, no_peer, veth_nics;
};

static int usage(const char *fmt, const char *arg)
{
	char msg[256];

	snprintf(msg, sizeof(msg), fmt, arg);
	return cli_usage_error("dp", "%s", msg);
}

static bool parse_mac_pair(const char *s, uint8_t out[2][6])
{
	char a[18], b[18];
	const char *comma = strchr(s, ',');

	if (!comma || comma - s != 17 || strlen(comma + 1) != 17)
		return false;
	memcpy(a, s, 17);
	a[17] = '\0';
	memcpy(b, comma + 1, 18);
	return wire_mac_parse(a, out[0]) && wire_mac_parse(b, out[1]);
}

static bool parse_avail(const char *s, uint8_t *out)
{
	static const struct { const char *name; uint8_t bit; } bits[] = {
		{ "vm-pri", PGR_AVAIL_VM_PRI }, { "vm-bak", PGR_AVAIL_VM_BAK },
		{ "im-pri", PGR_AVAIL_IM_PRI }, { "im-bak", PGR_AVAIL_IM_BAK },
	};
	char buf[64], *tok, *save;

	if (!strcmp(s, "all") || !strcmp(s, "none")) {
		*out = s[0] == 'a' ? 0x0f : 0;
		return true;
	}
	if (strlen(s) >= sizeof(buf))
		return false;
	strcpy(buf, s);
	*out = 0;
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		size_t i;

		for (i = 0; i < ARRAY_SIZE(bits) && strcmp(tok, bits[i].name); i++)
			;
		if (i == ARRAY_SIZE(bits))
			return false;
		*out |= bits[i].bit;
	}
	return true;
}

static int add_ifs(const char *s, const char **list, int *n)
{
	if (*n == DP_IFS_MAX)
		return -1;
	list[(*n)++] = s;
	return 0;
}

static int parse_opt(int c, const char *arg, struct dp_args *a)
{
	struct in_addr in;

	switch (c) {
	case 'n': a->netns = arg; return 0;
	case 'i': return add_ifs(arg, a->nics, &a->nnics);
	case 'p':
		a->port = arg;
		return add_ifs(arg, a->ports, &a->nports);
	case 'm': a->have_mac = wire_mac_parse(arg, a->mac); return a->have_mac ? 0 : -1;
	case 'b':
		a->have_backup = wire_mac_parse(arg, a->backup_mac);
		return a->have_backup ? 0 : -1;
	case 's': case 'V':
		a->have_macs = parse_mac_pair(arg, a->macs);
		return a->have_macs ? 0 : -1;
	case 'I': a->have_im = parse_mac_pair(arg, a->im); return a->have_im ? 0 : -1;
	case 'a':	/* garp also takes an IPv6 address (the GARP6 map) */
		a->have_ip6 = inet_pton(AF_INET6, arg, a->ip6) == 1;
		a->have_ip = a->have_ip6 || inet_pton(AF_INET, arg, &in) == 1;
		a->ip = a->have_ip6 ? 0 : in.s_addr;
		return a->have_ip ? 0 : -1;
	case 'v': a->have_vdc = parse_u32(arg, UINT32_MAX, &a->vdc); return a->have_vdc ? 0 : -1;
	case 'A': return parse_avail(arg, &a->avail) ? 0 : -1;
	case 'd': a->flags |= PGR_GARP_DIRECT; return 0;
	case 'l': a->flags |= PGR_GARP_LOCAL; return 0;
	case 'j': a->json = true; return 0;
	case 't': a->traffic = true; return 0;
	case 'P': a->pass_foreign = true; return 0;
	case 'N': a->no_peer = true; return 0;
	case 'E': a->veth_nics = true; return 0;
	case 'c': return parse_u32(arg, 1000000, &a->count) && a->count ? 0 : -1;
	case 'T': return parse_u32(arg, 3600000, &a->timeout_ms) ? 0 : -1;
	}
	return -1;
}

static int parse_args(int argc, char **argv, struct dp_args *a)
{
	static const struct option opts[] = {
		{ "netns", required_argument, 0, 'n' }, { "nic", required_argument, 0, 'i' },
		{ "port", required_argument, 0, 'p' }, { "mac", required_argument, 0, 'm' },
		{ "backup-mac", required_argument, 0, 'b' },
		{ "server-mac", required_argument, 0, 's' },
		{ "vm-mac", required_argument, 0, 'V' },
		{ "edge-mac", required_argument, 0, 'V' }, { "im-mac", required_argument, 0, 'I' },
		{ "ip", required_argument, 0, 'a' }, { "vdc", required_argument, 0, 'v' },
		{ "avail", required_argument, 0, 'A' }, { "direct", no_argument, 0, 'd' },
		{ "local", no_argument, 0, 'l' }, { "json", no_argument, 0, 'j' },
		{ "traffic", no_argument, 0, 't' }, { "pass-foreign", no_argument, 0, 'P' },
		{ "no-peer", no_argument, 0, 'N' }, { "veth-nics", no_argument, 0, 'E' },
		{ "count", required_argument, 0, 'c' }, { "timeout", required_argument, 0, 'T' },
		{ 0, 0, 0, 0 },
	};
	int c, idx;

	a->avail = 0x0f;
	a->count = 1;
	a->timeout_ms = 1000;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", opts, &idx)) != -1) {
		if (c == '?')
			return usage("unknown or incomplete option '%s'", argv[optind - 1]);
		if (parse_opt(c, optarg, a))
			return usage("bad option value '%s'", argv[optind - 1]);
	}
	if (optind < argc)
		a->name = argv[optind++];
	if (optind < argc)
		return usage("unexpected argument '%s'", argv[optind]);
	return 0;
}

static int ifindex_of(const char *name, uint32_t *out)
{
	*out = if_nametoindex(name);
	if (!*out)
		return cli_error("interface %s: %s", name, strerror(errno));
	return 0;
}

static int pin_dir(const char *name, char *dir, size_t len)
{
	if (!name)
		return usage("%s", "name the data plane (NAME)");
	if (!pgr_dp_pin_path(name, dir, len))
		return usage("bad data-plane name '%s'", name);
	return 0;
}

/* ---- load / unload --------------------------------------------------------- */

static int dp_load(struct dp_args *a)
{
	struct pgr_dp_opts o = { 0 };
	char dir[PGR_DP_PATH_MAX], err[256];
	struct pgr_dp *dp;
	int ret;

	if ((ret = pin_dir(a->name, dir, sizeof(dir))))
		return ret;
	if (!a->have_macs)
		return usage("%s", "load needs --server-mac MAC,MAC");
	if (!pgr_mac_valid(a->macs[0]) || !pgr_mac_valid(a->macs[1]))
		return usage("%s", "server MACs must be Peregrine MACs (02:00:00:ID)");
	if ((ret = cli_enter_netns(a->netns)))
		return ret;
	if ((ret = pgr_dp_mount_bpffs()))
		return cli_error("bpffs on /sys/fs/bpf: %s", strerror(-ret));
	if (access(dir, F_OK) == 0)
		return cli_error("%s exists: unload it first", dir);
	memcpy(o.cfg.server_mac, a->macs, sizeof(o.cfg.server_mac));
	o.cfg.flags = (a->pass_foreign ? PGR_CFG_PASS_FOREIGN : 0) | (a->no_peer ? 0 : PGR_CFG_PEER) |
		      (a->veth_nics ? PGR_CFG_NIC_PEER : 0);
	o.pin_dir = dir;
	if (pgr_dp_open(&dp, &o, err, sizeof(err)))
		return cli_error("%s", err);
	for (int i = 0; i < a->nnics; i++) {
		uint32_t ifindex;

		if ((ret = ifindex_of(a->nics[i], &ifindex)) ||
		    (ret = pgr_dp_attach_nic(dp, ifindex) ? cli_error("attach %s: %s",
			a->nics[i], strerror(errno)) : 0)) {
			pgr_dp_close(dp);	/* detaches what was attached */
			pgr_dp_unpin(dir);
			return ret;
		}
	}
	pgr_dp_keep(dp);
	pgr_dp_close(dp);
	printf("loaded %s (%d NIC%s)\n", dir, a->nnics, a->nnics == 1 ? "" : "s");
	return 0;
}

static int dp_unload(struct dp_args *a)
{
	char dir[PGR_DP_PATH_MAX];
	int ret, fails = 0;

	if ((ret = pin_dir(a->name, dir, sizeof(dir))) || (ret = cli_enter_netns(a->netns)))
		return ret;
	for (int i = 0; i < a->nnics + a->nports; i++) {
		const char *ifname = i < a->nnics ? a->nics[i] : a->ports[i - a->nnics];
		uint32_t ifindex = if_nametoindex(ifname);

		if (!ifindex || pgr_dp_tc_detach(ifindex, false))
			fails += cli_error("detach %s: %s", ifname, "not attached or gone") != 0;
	}
	if ((ret = pgr_dp_unpin(dir)))
		return cli_error("unpin %s: %s", dir, strerror(-ret));
	return fails ? 1 : 0;
}

/* ---- tables ------------------------------------------------------------------ */

static int open_maps(const char *dir, struct pgr_dp_maps *m)
{
	char err[320];

	if (pgr_dp_maps_open_pinned(dir, m, err, sizeof(err)))
		return cli_error("%s (is the data plane loaded?)", err);
	return 0;
}

static int dp_port(struct dp_args *a)
{
	char dir[PGR_DP_PATH_MAX];
	struct pgr_dp_maps m;
	struct pgr_vm vm = { 0 };
	int prog, egress, ret;
	bool created;

	if ((ret = pin_dir(a->name, dir, sizeof(dir))))
		return ret;
	if (!a->port || !a->have_mac || !a->have_backup || !a->have_ip || !a->have_vdc)
		return usage("%s", "port needs --port, --mac, --backup-mac, --ip and --vdc");
	if (a->have_ip6)
		return usage("%s", "port --ip is the VM's IPv4 address (its IPv6 addresses carry "
			     "its MAC's interface identifier)");
	if (!pgr_mac_valid(a->mac) || !pgr_mac_valid(a->backup_mac))
		return usage("%s", "VM MACs must be Peregrine MACs (02:00:00:ID)");
	if ((ret = cli_enter_netns(a->netns)) || (ret = ifindex_of(a->port, &vm.ifindex)) ||
	    (ret = open_maps(dir, &m)))
		return ret;
	memcpy(vm.mac, a->mac, 6);
	vm.id = pgr_mac_id(a->mac);
	vm.vdc = a->vdc;
	vm.ip = a->ip;
	if ((ret = pgr_dp_vm_add(&m, &vm, pgr_mac_id(a->backup_mac)))) {
		pgr_dp_maps_close(&m);
		return cli_error("add VM: %s", strerror(-ret));
	}
	pgr_dp_maps_close(&m);
	prog = pgr_dp_prog_open_pinned(dir, "from_vm");
	if (prog < 0)
		return cli_error("%s/from_vm: %s", dir, strerror(-prog));
	egress = pgr_dp_prog_open_pinned(dir, "to_vm");
	if (egress < 0) {
		close(prog);
		return cli_error("%s/to_vm: %s", dir, strerror(-egress));
	}
	ret = pgr_dp_tc_attach_port(prog, egress, vm.ifindex, &created);
	close(egress);
	close(prog);
	if (ret)
		return cli_error("attach %s: %s", a->port, strerror(-ret));
	return 0;
}

/* --nic IF[,IF]: the NIC of each tree (one name: both). */
static int nic_pair(const char *arg, uint32_t ifindex[PGR_TREES])
{
	for (int t = 0; t < PGR_TREES; t++) {
		char nic[IF_NAMESIZE + 1];
		const char *s = arg, *comma = strchr(s, ',');
		int ret;

		if (t == 1 && comma)
			s = comma + 1;
		snprintf(nic, sizeof(nic), "%.*s", (int)(t == 0 && comma ? comma - s : (long)strlen(s)), s);
		if ((ret = ifindex_of(nic, &ifindex[t])))
			return ret;
	}
	return 0;
}

/* Let the VM behind --port answer from VIP --ip of a VC of VDC --vdc,
 * straight to the Internet edge's MACs (docs/slb.md, "Return path"). */
static int dp_vip(struct dp_args *a)
{
	struct pgr_vip_src v = { .avail = PGR_VIP_SRC_PRI | PGR_VIP_SRC_BAK };
	struct pgr_vip_src_key k = { 0 };
	char dir[PGR_DP_PATH_MAX];
	struct pgr_dp_maps m;
	int ret;

	if ((ret = pin_dir(a->name, dir, sizeof(dir))))
		return ret;
	if (!a->port || !a->have_ip || a->have_ip6 || !a->have_vdc || !a->vdc || !a->have_macs ||
	    !a->nnics)
		return usage("%s", "vip needs --port, --ip (IPv4), --vdc, --edge-mac and --nic");
	if ((ret = cli_enter_netns(a->netns)) || (ret = ifindex_of(a->port, &k.ifindex)) ||
	    (ret = nic_pair(a->nics[0], v.egress_ifindex)))
		return ret;
	k.vip = a->ip;
	v.vdc = a->vdc;
	memcpy(v.edge_mac, a->macs, sizeof(v.edge_mac));
	if (a->have_im)
		memcpy(v.im_mac, a->im, sizeof(v.im_mac));
	if ((ret = open_maps(dir, &m)))
		return ret;
	ret = pgr_dp_vip_src_set(&m, &k, &v);
	pgr_dp_maps_close(&m);
	if (ret)
		return cli_error("set VIP source: %s", ret == -EINVAL ?
				 "edge MACs must be unicast" : strerror(-ret));
	return 0;
}

static int dp_garp(struct dp_args *a)
{
	struct pgr_garp_entry g = { 0 };
	struct pgr_garp_key k;
	char dir[PGR_DP_PATH_MAX];
	struct pgr_dp_maps m;
	int ret;

	if ((ret = pin_dir(a->name, dir, sizeof(dir))))
		return ret;
	if (!a->have_vdc || !a->have_ip || !a->have_macs || !a->have_im || !a->nnics)
		return usage("%s", "garp needs --vdc, --ip, --vm-mac, --im-mac and --nic");
	if ((ret = cli_enter_netns(a->netns)))
		return ret;
	if ((ret = nic_pair(a->nics[0], g.egress_ifindex)))
		return ret;
	memcpy(g.vm_mac, a->macs, sizeof(g.vm_mac));
	memcpy(g.im_mac, a->im, sizeof(g.im_mac));
	g.avail = a->avail;
	g.flags = a->flags;
	k = (struct pgr_garp_key){ .vdc = a->vdc, .ip = a->ip };
	if ((ret = open_maps(dir, &m)))
		return ret;
	if (a->have_ip6) {	/* bpf/fwd6.h */
		struct pgr_garp6_key k6 = { .vdc = a->vdc };

		memcpy(k6.ip, a->ip6, sizeof(k6.ip));
		ret = pgr_dp_garp6_set(&m, &k6, &g);
	} else {
		ret = pgr_dp_garp_set(&m, &k, &g);
	}
	pgr_dp_maps_close(&m);
	if (ret)
		return cli_error("set GARP entry: %s", ret == -EINVAL ?
				 "every MAC must be a Peregrine MAC" : strerror(-ret));
	return 0;
}

/* ---- stats --------------------------------------------------------------------- */

/* The only pinned data plane, when NAME was left out. */
static int only_pinned(char *name, size_t len)
{
	DIR *d = opendir(PGR_DP_PIN_ROOT);
	struct dirent *de;
	int n = 0;

	if (!d)
		return cli_error("no data plane is loaded (%s: %s)", PGR_DP_PIN_ROOT, strerror(errno));
	while ((de = readdir(d)))
		if (de->d_name[0] != '.' && n++ == 0)
			snprintf(name, len, "%.*s", (int)MIN(len - 1, (size_t)NAME_MAX), de->d_name);
	closedir(d);
	if (n == 1)
		return 0;
	if (n == 0)
		return cli_error("no data plane is loaded under %s", PGR_DP_PIN_ROOT);
	return cli_error("%d data planes are loaded under %s: name one", n, PGR_DP_PIN_ROOT);
}

struct traffic_out {
	json_t *arr;
	bool json;
};

static int print_pair(const struct pgr_pair *p, const struct pgr_counter *c, void *arg)
{
	struct traffic_out *o = arg;

	if (o->json) {
		json_t *j = json_object();

		JSET(j, "src_id", JINT(p->src_id));
		JSET(j, "dst_id", JINT(p->dst_id));
		JSET(j, "packets", JINT(c->packets));
		JSET(j, "bytes", JINT(c->bytes));
		json_array_append_new(o->arr, j);
	} else {
		printf("  %06x -> %06x  %12llu packets %16llu bytes\n", p->src_id, p->dst_id,
		       (unsigned long long)c->packets, (unsigned long long)c->bytes);
	}
	return 0;
}

static int dp_stats(struct dp_args *a)
{
	struct pgr_counter c[PGR_STAT_COUNT];
	char name[256], dir[PGR_DP_PATH_MAX];
	struct traffic_out to = { .json = a->json };
	struct pgr_dp_maps m;
	json_t *j;
	int ret;

	if (!a->name) {
		if ((ret = only_pinned(name, sizeof(name))))
			return ret;
		a->name = name;
	}
	if ((ret = pin_dir(a->name, dir, sizeof(dir))) || (ret = open_maps(dir, &m)))
		return ret;
	if ((ret = pgr_dp_stats_read(&m, c))) {
		pgr_dp_maps_close(&m);
		return cli_error("read counters: %s", strerror(-ret));
	}
	j = json_object();
	if (!a->json)
		printf("data plane %s\n", dir);
	for (int s = 0; s < PGR_STAT_COUNT; s++) {
		json_t *e = json_object();

		JSET(e, "packets", JINT(c[s].packets));
		JSET(e, "bytes", JINT(c[s].bytes));
		JSET(j, pgr_dp_stat_name(s), e);
		if (!a->json)
			printf("  %-20s %12llu packets %16llu bytes  %s\n", pgr_dp_stat_name(s),
			       (unsigned long long)c[s].packets, (unsigned long long)c[s].bytes,
			       pgr_dp_stat_desc(s));
	}
	if (a->traffic) {
		to.arr = json_array();
		if (!a->json)
			printf("traffic matrix (source ID -> destination ID)\n");
		pgr_dp_traffic_walk(&m, print_pair, &to);
		JSET(j, "traffic", to.arr);
	}
	pgr_dp_maps_close(&m);
	if (a->json) {
		json_t *top = json_object();

		JSET(top, "name", JSTR(a->name));
		JSET(top, "counters", j);
		json_print(stdout, top);
	} else {
		json_decref(j);
	}
	return 0;
}

/* ---- events ------------------------------------------------------------------ */

struct events_out {
	bool json;
	uint32_t seen;
};

static int print_event(void *ctx, void *data, size_t size)
{
	struct events_out *o = ctx;
	struct pgr_event ev;
	char ip[INET_ADDRSTRLEN];
	const char *type;

	if (size < sizeof(ev))
		return 0;
	memcpy(&ev, data, sizeof(ev));
	inet_ntop(AF_INET, &ev.ip, ip, sizeof(ip));
	type = ev.type == PGR_EV_ARP_MISS ? "arp_miss" : ev.type == PGR_EV_IP_MISS ? "ip_miss" :
	       ev.type == PGR_EV_DHCP ? "dhcp" : ev.type == PGR_EV_ND_MISS ? "nd_miss" :
	       ev.type == PGR_EV_MCAST ? "mcast" : ev.type == PGR_EV_GROUP_MISS ? "group_miss" : "?";
	if (o->json)
		printf("{\"type\": \"%s\", \"vdc\": %u, \"ip\": \"%s\", \"vm_id\": %u, "
		       "\"ifindex\": %u, \"frame_len\": %u}\n", type, ev.vdc, ip, ev.vm_id,
		       ev.ifindex, ev.frame_len);
	else
		printf("%-8s vdc %u ip %s from VM %06x (port ifindex %u, %u bytes of frame)\n", type,
		       ev.vdc, ip, ev.vm_id, ev.ifindex, ev.frame_len);
	o->seen++;
	return 0;
}

static int dp_events(struct dp_args *a)
{
	struct events_out out = { .json = a->json };
	char dir[PGR_DP_PATH_MAX];
	struct ring_buffer *rb;
	struct pgr_dp_maps m;
	uint64_t deadline;
	int ret;

	if ((ret = pin_dir(a->name, dir, sizeof(dir))) || (ret = open_maps(dir, &m)))
		return ret;
	rb = ring_buffer__new(m.events, print_event, &out, NULL);
	if (!rb) {
		pgr_dp_maps_close(&m);
		return cli_error("ring buffer: %s", strerror(errno));
	}
	deadline = mono_ns() + (uint64_t)a->timeout_ms * 1000000;
	while (out.seen < a->count) {
		uint64_t now = mono_ns();

		if (now >= deadline)
			break;
		ret = ring_buffer__poll(rb, (int)MIN((deadline - now) / 1000000 + 1, 100));
		if (ret < 0 && ret != -EINTR)
			break;
		fflush(stdout);
	}
	ring_buffer__free(rb);
	pgr_dp_maps_close(&m);
	return out.seen ? 0 : 1;
}

int cmd_dp(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(struct dp_args *);
	} subs[] = {
		{ "load", dp_load }, { "unload", dp_unload }, { "port", dp_port },
		{ "garp", dp_garp }, { "vip", dp_vip }, { "stats", dp_stats }, { "events", dp_events },
	};
	struct dp_args a = { 0 };
	int ret;

	if (argc < 2)
		return cli_usage_error("dp", "expected a command: load, port, garp, stats, events, "
				       "unload");
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		fputs(dp_help, stdout);
		return 0;
	}
	for (size_t i = 0; i < ARRAY_SIZE(subs); i++) {
		if (strcmp(argv[1], subs[i].name))
			continue;
		for (int k = 2; k < argc; k++)
			if (!strcmp(argv[k], "-h") || !strcmp(argv[k], "--help")) {
				fputs(dp_help, stdout);
				return 0;
			}
		if ((ret = parse_args(argc - 1, argv + 1, &a)))
			return ret;
		return subs[i].fn(&a);
	}
	return cli_usage_error("dp", "unknown command '%s'", argv[1]);
}
