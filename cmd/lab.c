/* peregrine lab: build, inspect, break and remove an emulated data center. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cmd/cli.h"
#include "cmd/lab_ha.h"
#include "cmd/lab_report.h"
#include "cmd/swctl.h"
#include "lab/run.h"
#include "wire/scheme.h"
#include "lib/parse.h"

static const char lab_help[] =
	"Usage: peregrine lab up [FILE] [--prefix P] [--no-daemons] [--json]\n"
	"       peregrine lab down [--prefix P] [--json]\n"
	"       peregrine lab status [--prefix P] [--json]\n"
	"       peregrine lab exec NODE [--prefix P] -- CMD [ARGS...]\n"
	"       peregrine lab link down|up A B [--prefix P] [--json]\n"
	"       peregrine lab node down|up NAME [--prefix P] [--json]\n"
	"       peregrine lab logs [NODE] [--prefix P]\n"
	"       peregrine lab migrate VM SERVER [--prefix P]\n"
	"       peregrine lab demo [--scheme peregrine|vl2|bcube|evpn|netlord | --ha | --policy\n"
	"                          | --slb]\n"
	"                          [--prefix P]\n"
	"                          [--json] [--report DIR]\n"
	"       peregrine lab compare [--prefix P] [--json]\n"
	"       peregrine lab report DIR\n"
	"       peregrine lab shuffle [--scheme S] [--bytes N] [--rate MBIT] [--prefix P]\n"
	"                             [--json]\n"
	"       peregrine lab one2all [--bytes N] [--rate MBIT] [--prefix P] [--json]\n"
	"       peregrine lab fib add SWITCH MAC PORT|NEIGHBOUR [MAC PORT...] [--json]\n"
	"       peregrine lab fib del SWITCH MAC [MAC...] [--json]\n"
	"       peregrine lab fib dump SWITCH [--json]\n"
	"\n"
	"Build a data center in network namespaces: a namespace per switch (a Linux\n"
	"bridge that learns and floods nothing, run by switchd), per server and per\n"
	"VM, and a management network.  FILE is a lab file (docs/lab.md); without\n"
	"one, the default: leafspine:spines=2,leaves=4,servers=2,homing=2, VDCs red\n"
	"and blue both on 10.0.0.0/24, one VM of each on every server.\n"
	"\n"
	"  up       build it and start its daemons (rolls back on failure)\n"
	"  down     remove everything the lab made, also after a crash\n"
	"  status   daemons, link states, FIB use per switch\n"
	"  exec     run a command in a node's namespace (NODE may be mgmt or a VM)\n"
	"  link     take the link between A and B down or up (both ends)\n"
	"  node     a switch failure: its daemons stop and its ports go down; up\n"
	"           restarts it with an empty FIB.  With --json, link and node\n"
	"           print when the links changed (at_ns: wall clock, ns, just\n"
	"           before the first one; done_ns: after the last)\n"
	"  logs     daemon logs, of one node or all\n"
	"  fib      install, remove and list entries through the switch's switchd\n"
	"  migrate  move a VM to another server: its port moves into the new\n"
	"           server, both agents re-read their VMs, the RAS is told; the\n"
	"           new agent registers it and the directory pushes the change\n"
	"  demo     build the default lab, start everything and measure it:\n"
	"           reachability and isolation, throughput, fail-over and migration\n"
	"           gaps, forwarding entries per switch; then tear it down\n"
	"           (scripts/lab-demo.sh; about a minute).  --scheme vl2: the\n"
	"           same for a VL2 lab (scripts/lab-demo-vl2.sh, docs/vl2.md);\n"
	"           --scheme bcube: a BCube(4,1) lab (scripts/lab-demo-bcube.sh,\n"
	"           docs/bcube.md)\n"
	"           --scheme evpn: for the BGP EVPN baseline (scripts/lab-demo-evpn.sh,\n"
	"           docs/evpn.md; UNDERLAY_MTU=9000 for a jumbo underlay)\n"
	"           --scheme netlord: NetLord on SPAIN's VLANs (scripts/lab-demo-netlord.sh,\n"
	"           docs/netlord.md)\n"
	"           --ha: a lab with a replicated control plane under kills and\n"
	"           a partition (scripts/lab-demo-ha.sh, docs/ha.md)\n"
	"           --policy: a lab that declares security groups and an edge\n"
	"           with a VC external limit: the policy, rate-limit and NAT\n"
	"           keys (scripts/lab-demo-policy.sh, docs/policy.md)\n"
	"           --slb: the server load balancer behind an Internet edge: requests\n"
	"           spread, stickiness, direct server return, an SLB server failure\n"
	"           (scripts/lab-demo-slb.sh, docs/slb.md; about a minute)\n"
	"  compare  every scheme's demo, EVPN first, and one table of what each\n"
	"           costs, with Peregrine's targets against EVPN as ratios\n"
	"           (scripts/lab-compare.sh, docs/evpn.md; about seven minutes)\n"
	"  report   DIR/index.html from the measurements a demo left in DIR/data\n"
	"           (docs/lab-report.md)\n"
	"  shuffle  all-to-all: every server (a VM of it; BCube: the server itself)\n"
	"           sends --bytes (default 2 MB) to every other at once over\n"
	"           links shaped to --rate Mbit/s (default 20); goodput against\n"
	"           the max-min optimum of `peregrine sim shuffle` for the same\n"
	"           topology, link rates and traffic (scripts/lab-shuffle.sh,\n"
	"           docs/lab-shuffle.md).  On the lab of --prefix if one runs\n"
	"           (its own scheme and links.mbps), else on one it brings up\n"
	"           for --scheme (vl2, peregrine or bcube) and takes down\n"
	"  one2all  BCube's one-to-all transfer: srv0 sends --bytes (default 4 MB)\n"
	"           to every other server over the k+1 one-to-all trees at once,\n"
	"           each server relaying to its children, and over one tree, in\n"
	"           the same run; goodput per receiver and aggregate, the speedup\n"
	"           against k+1, every byte checked (scripts/lab-one2all.sh,\n"
	"           docs/bcube.md).  On the BCube lab of --prefix if one runs,\n"
	"           else on a BCube(4,1) with links at --rate (default 20)\n"
	"\n"
	"Options:\n"
	"  --prefix P   names of everything the lab makes start with P (1-5 of\n"
	"               a-z 0-9); default pg.  Labs with different prefixes coexist\n"
	"  --json       machine-readable output\n"
	"  --scheme S   demo and shuffle only: which scheme's demo or shuffle lab\n"
	"               (the lab file names the scheme for everything else)\n"
	"  --report DIR demo (every scheme's, and --ha) and compare: also write\n"
	"               DIR/index.html, a report with the topology, each stream's\n"
	"               receive rate over time with the failures marked, and the\n"
	"               figures; compare's has every scheme's row, the targets'\n"
	"               ratios and each demo's report (docs/lab-report.md)\n"
	"  --bytes N    shuffle: bytes per server pair; one2all: bytes sent (1 .. 2^32)\n"
	"  --rate MBIT  shuffle, one2all: every link's tbf rate (1 .. 10000)\n"
	"  --no-daemons up only: namespaces, links and addresses, no daemon;\n"
	"               start them from `peregrine fabric gen`'s units\n"
	"               (docs/deploy.md)\n"
	"  -h, --help\n";

struct lab_cli {
	const char *prefix;
	enum pgr_scheme scheme;	/* --scheme: which demo or shuffle lab */
	bool have_scheme;
	const char *bytes, *rate;	/* shuffle --bytes, --rate (checked) */
	bool ha;		/* --ha: the replicated control plane's demo */
	bool policy;		/* --policy: the security group and edge demo */
	bool slb;		/* --slb: the load balancer's demo */
	bool json;
	bool no_daemons;	/* up --no-daemons */
	const char *report;	/* demo, compare --report DIR */
	int argc;		/* positional arguments */
	char **argv;
	char **cmd;		/* after "--" */
	int ncmd;
};

static int parse_cli(int argc, char **argv, struct lab_cli *c)
{
	c->prefix = "pg";
	c->argv = xcalloc((size_t)argc + 1, sizeof(char *));
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--")) {
			c->cmd = argv + i + 1;
			c->ncmd = argc - i - 1;
			break;
		} else if (!strcmp(argv[i], "--prefix") && i + 1 < argc) {
			c->prefix = argv[++i];
		} else if (!strncmp(argv[i], "--prefix=", 9)) {
			c->prefix = argv[i] + 9;
		} else if (!strcmp(argv[i], "--json")) {
			c->json = true;
		} else if (!strcmp(argv[i], "--no-daemons")) {
			c->no_daemons = true;
		} else if (!strcmp(argv[i], "--report") && i + 1 < argc) {
			c->report = argv[++i];
		} else if (!strcmp(argv[i], "--ha")) {
			c->ha = true;
		} else if (!strcmp(argv[i], "--policy")) {
			c->policy = true;
		} else if (!strcmp(argv[i], "--slb")) {
			c->slb = true;
		} else if (!strcmp(argv[i], "--bytes") && i + 1 < argc) {
			uint64_t v;

			if (!parse_u64(argv[++i], 1ull << 32, &v) || !v)
				return cli_usage_error("lab", "--bytes takes 1 .. 2^32");
			c->bytes = argv[i];
		} else if (!strcmp(argv[i], "--rate") && i + 1 < argc) {
			uint32_t v;

			if (!parse_u32(argv[++i], 10000, &v) || !v)
				return cli_usage_error("lab", "--rate takes 1 .. 10000 Mbit/s");
			c->rate = argv[i];
		} else if (!strcmp(argv[i], "--scheme") && i + 1 < argc) {
			c->have_scheme = true;
			if (!pgr_scheme_parse(argv[++i], &c->scheme))
				return cli_usage_error("lab", "--scheme '%s' is not peregrine, vl2, bcube, "
						       "evpn or netlord",
						       argv[i]);
		} else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			fputs(lab_help, stdout);
			return -1;
		} else if (argv[i][0] == '-' && argv[i][1]) {
			return cli_usage_error("lab", "unknown option '%s'", argv[i]);
		} else {
			c->argv[c->argc++] = argv[i];
		}
	}
	if (!lab_prefix_ok(c->prefix))
		return cli_usage_error("lab", "--prefix '%s': 1 to %d of a-z 0-9, starting "
				       "with a letter", c->prefix, LAB_MAX_PREFIX);
	return 0;
}

static bool need_root(void)
{
	if (geteuid() == 0)
		return true;
	cli_error("lab: needs root (network namespaces)");
	return false;
}

/* ---- up / down ------------------------------------------------------------------ */
static char *read_all(const char *path, size_t *len)
{
	struct stat st;
	char *buf;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || fstat(fd, &st) || st.st_size > (1 << 24)) {
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	buf = xmalloc((size_t)st.st_size + 1);
	if (read(fd, buf, (size_t)st.st_size) != st.st_size) {
		free(buf);
		close(fd);
		return NULL;
	}
	close(fd);
	*len = (size_t)st.st_size;
	return buf;
}

static int do_up(struct lab_cli *c)
{
	const char *file = c->argc > 1 ? c->argv[1] : NULL;
	char err[1024], *text;
	size_t len;
	struct lab l;
	uint64_t t0 = mono_ns();
	int rc;

	if (c->argc > 2)
		return cli_usage_error("lab", "up: at most one FILE");
	if (file) {
		if (!(text = read_all(file, &len)))
			return cli_error("%s: %s", file, strerror(errno ? errno : EIO));
	} else {
		text = xstrdup(lab_default_yaml);
		len = strlen(text);
	}
	if (lab_load_buf(&l, file ? file : "default", text, len, c->prefix, err, sizeof(err))) {
		free(text);
		return cli_error("%s", err);
	}
	if (!need_root()) {
		free(text);
		lab_free(&l);
		return 1;
	}
	l.no_daemons = c->no_daemons;
	rc = lab_up(&l, text, len, err, sizeof(err));
	if (rc)
		cli_error("lab up: %s", err);
	else if (c->json) {
		json_t *j = json_object();

		JSET(j, "name", JSTR(l.name));
		JSET(j, "prefix", JSTR(l.prefix));
		JSET(j, "switches", JINT(l.topo->nswitches));
		JSET(j, "servers", JINT(l.topo->nservers));
		JSET(j, "vms", JINT(l.nvms));
		JSET(j, "vdcs", JINT(l.nvdcs));
		JSET(j, "seconds", JREAL((double)(mono_ns() - t0) / 1e9));
		json_print(stdout, j);
	} else {
		printf("lab %s (prefix %s): %u switches, %u servers, %u VMs, %u VDCs up in %.2f s\n",
		       l.name, l.prefix, l.topo->nswitches, l.topo->nservers, l.nvms, l.nvdcs,
		       (double)(mono_ns() - t0) / 1e9);
	}
	free(text);
	lab_free(&l);
	return rc ? 1 : 0;
}

static int do_down(struct lab_cli *c)
{
	unsigned procs, ns;
	uint64_t t0 = mono_ns();

	if (!need_root())
		return 1;
	lab_down(c->prefix, &procs, &ns);
	if (c->json) {
		json_t *j = json_object();

		JSET(j, "prefix", JSTR(c->prefix));
		JSET(j, "processes_stopped", JINT(procs));
		JSET(j, "namespaces_removed", JINT(ns));
		JSET(j, "seconds", JREAL((double)(mono_ns() - t0) / 1e9));
		json_print(stdout, j);
	} else {
		printf("lab %s down: %u processes stopped, %u namespaces removed in %.2f s\n",
		       c->prefix, procs, ns, (double)(mono_ns() - t0) / 1e9);
	}
	return 0;
}

/* ---- helpers that need the running lab --------------------------------------------- */
static int load(struct lab_cli *c, struct lab *l)
{
	char err[1024];

	if (lab_load_running(c->prefix, l, err, sizeof(err)))
		return cli_error("%s", err);
	return 0;
}

/* A switch or server by name, with an error if not. */
static uint32_t node_arg(const struct lab *l, const char *name, bool switch_only)
{
	int vm;
	uint32_t n = lab_find(l, name, &vm);

	if (n == UINT32_MAX || (switch_only && topo_is_server(l->topo, n))) {
		cli_error("lab: '%s' is not a %s of this lab", name,
			  switch_only ? "switch" : "switch or server");
		return UINT32_MAX;
	}
	return n;
}

static int enter_mgmt(const struct lab *l)
{
	char ns[128];
	int rc;

	lab_ns(l, "mgmt", ns, sizeof(ns));
	if ((rc = lab_enter_ns(ns)))
		return cli_error("lab: cannot enter %s: %s", ns, strerror(-rc));
	return 0;
}

static int open_switch(const struct lab *l, uint32_t node, struct swc *sc)
{
	int rc = lab_switch_client(l, node, sc);

	if (rc)
		return cli_error("lab: switchd client: %s", strerror(-rc));
	return 0;
}

/* ---- status ------------------------------------------------------------------------- */
/* Interface name -> "up"/"down"/"absent" of one namespace, from `ip -j link`. */
static json_t *ns_links(const struct lab *l, const char *node)
{
	char ns[128], out[1 << 16], *argv[] = { "ip", "-j", "-n", ns, "link", "show", NULL };
	json_t *arr, *res = json_object(), *it;
	json_error_t je;
	size_t i;
	int pfd[2];
	pid_t pid;
	ssize_t n, got = 0;

	lab_ns(l, node, ns, sizeof(ns));
	if (pipe(pfd) || (pid = fork()) < 0)
		return res;
	if (pid == 0) {
		dup2(pfd[1], 1);
		close(pfd[0]);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(pfd[1]);
	while ((size_t)got < sizeof(out) - 1 && (n = read(pfd[0], out + got, sizeof(out) - 1 - (size_t)got)) > 0)
		got += n;
	close(pfd[0]);
	waitpid(pid, NULL, 0);
	out[got] = 0;
	if (!(arr = json_loads(out, 0, &je)))
		return res;
	json_array_foreach(arr, i, it) {
		const char *name = json_string_value(json_object_get(it, "ifname"));
		json_t *flags = json_object_get(it, "flags"), *f;
		bool up = false, carrier = true;
		size_t k;

		json_array_foreach(flags, k, f) {
			up |= !strcmp(json_string_value(f) ? json_string_value(f) : "", "UP");
			carrier &= strcmp(json_string_value(f) ? json_string_value(f) : "", "NO-CARRIER") != 0;
		}
		if (name)
			JSET(res, name, JSTR(up && carrier ? "up" : "down"));
	}
	json_decref(arr);
	return res;
}

static json_t *status_daemons(const struct lab *l, uint32_t node)
{
	json_t *d = json_object();
	const char *name = node == LAB_NS_MGMT ? "mgmt" : l->topo->nodes[node].name;

	for (size_t i = 0; i < lab_ndaemons; i++) {
		bool here = node == LAB_NS_MGMT ? lab_daemons[i].where == LAB_ON_MGMT && !lab_ha_on(l)
			: topo_is_server(l->topo, node) ? lab_daemons[i].where == LAB_ON_SERVER
			: lab_daemons[i].where == LAB_ON_SWITCH;
		pid_t pid;

		if (!here)
			continue;
		pid = lab_daemon_pid(l, name, lab_daemons[i].name);
		JSET(d, lab_daemons[i].name, pid ? JINT(pid) : json_null());
	}
	return d;
}

/* {daemon: its metrics URL} of the daemons that run on node. */
static json_t *status_metrics(const struct lab *l, uint32_t node)
{
	json_t *d = json_object();
	char url[128];

	for (size_t i = 0; i < lab_ndaemons; i++) {
		bool here = node == LAB_NS_MGMT ? lab_daemons[i].where == LAB_ON_MGMT
			: topo_is_server(l->topo, node) ? lab_daemons[i].where == LAB_ON_SERVER
			: lab_daemons[i].where == LAB_ON_SWITCH;

		if (here && lab_metrics_url(l, &lab_daemons[i], node, url, sizeof(url)))
			JSET(d, lab_daemons[i].name, JSTR(url));
	}
	return d;
}

/* Every VM with its VDC, address, MAC and current server (after migrations). */
static json_t *vm_list(const struct lab *l)
{
	json_t *a = json_array();

	for (uint32_t v = 0; v < l->nvms; v++) {
		const struct lab_vm *vm = &l->vms[v];
		char ip[16], mac[18];
		uint8_t m[6];

		lab_vm_mac(l, vm, m);
		snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2],
			 m[3], m[4], m[5]);
		json_array_append_new(a, json_pack("{s:s, s:s, s:i, s:s, s:s, s:s}", "name",
						   vm->name, "vdc", l->vdcs[vm->vdc].name,
						   "vdc_id", (int)l->vdcs[vm->vdc].id, "ip",
						   lab_ip_str(vm->ip, ip), "mac", mac, "server",
						   l->topo->nodes[vm->server].name));
	}
	return a;
}

static json_t *status_json(const struct lab *l)
{
	json_t *j = json_object(), *nodes = json_array(), *links = json_array();
	json_t **ifs = xcalloc(l->topo->nnodes, sizeof(*ifs));
	const struct topo *t = l->topo;
	char ns[128], ifn[LAB_IFNAMSIZ];

	JSET(j, "name", JSTR(l->name));
	JSET(j, "prefix", JSTR(l->prefix));
	JSET(j, "topology", JSTR(t->spec));
	JSET(j, "scheme", JSTR(pgr_scheme_name(l->scheme)));
	JSET(j, "links_mbps", JINT(l->mbps));
	for (uint32_t n = 0; n < t->nnodes; n++) {
		json_t *o = json_object();

		lab_ns(l, t->nodes[n].name, ns, sizeof(ns));
		ifs[n] = ns_links(l, t->nodes[n].name);
		JSET(o, "name", JSTR(t->nodes[n].name));
		JSET(o, "kind", JSTR(topo_is_server(t, n) ? "server" : "switch"));
		JSET(o, "namespace", lab_ns_exists(ns) ? JSTR(ns) : json_null());
		JSET(o, "daemons", status_daemons(l, n));
		JSET(o, "metrics_url", status_metrics(l, n));
		if (l->scheme == PGR_SCHEME_BCUBE && topo_is_server(t, n)) {
			char ip[16];

			JSET(o, "ip", JSTR(lab_ip_str(lab_bcube_ip(t->nodes[n].index), ip)));
		}
		if (!topo_is_server(t, n)) {
			struct swc sc;
			uint32_t used, cap;

			JSET(o, "fib_capacity", JINT(lab_switch_fib(l, n)));
			if (l->scheme == PGR_SCHEME_NETLORD) {	/* no switchd: its program's count */
				JSET(o, "fib_used", lab_netlord_fib_used(l, n, &used) == 0 ? JINT(used)
											: json_null());
			} else if (l->scheme == PGR_SCHEME_BCUBE) {
				/* a plain bridge, no switchd to ask (asking cost two
				 * timeouts a switch: 3.3 s for BCube(4,1)) */
				JSET(o, "fib_used", json_null());
			} else if (open_switch(l, n, &sc) == 0) {
				sc.tries = 2;
				if (swc_fib_use(&sc, &used, &cap) == 0)
					JSET(o, "fib_used", JINT(used));
				else
					JSET(o, "fib_used", json_null());
				swc_close(&sc);
			}
		}
		json_array_append_new(nodes, o);
	}
	for (uint32_t i = 0; i < t->nlinks; i++) {
		const struct topo_link *k = &t->links[i];
		json_t *o = json_object();
		const char *sa, *sb;

		lab_port_ifname(l, k->a, k->pa, ifn);
		sa = json_string_value(json_object_get(ifs[k->a], ifn));
		lab_port_ifname(l, k->b, k->pb, ifn);
		sb = json_string_value(json_object_get(ifs[k->b], ifn));
		JSET(o, "a", JSTR(t->nodes[k->a].name));
		JSET(o, "a_port", JINT(k->pa));
		JSET(o, "b", JSTR(t->nodes[k->b].name));
		JSET(o, "b_port", JINT(k->pb));
		JSET(o, "state", JSTR(sa && sb && !strcmp(sa, "up") && !strcmp(sb, "up") ? "up"
				      : sa && sb ? "down" : "absent"));
		json_array_append_new(links, o);
	}
	for (uint32_t n = 0; n < t->nnodes; n++)
		json_decref(ifs[n]);
	free(ifs);
	JSET(j, "mgmt_daemons", status_daemons(l, LAB_NS_MGMT));
	JSET(j, "mgmt_metrics_url", status_metrics(l, LAB_NS_MGMT));
	JSET(j, "nodes", nodes);
	JSET(j, "links", links);
	JSET(j, "vms", JINT(l->nvms));
	JSET(j, "vm_list", vm_list(l));
	if (lab_ha_on(l))
		JSET(j, "ha", lab_ha_status_json(l));
	return j;
}

static void print_status(const json_t *j)
{
	json_t *nodes = json_object_get(j, "nodes"), *links = json_object_get(j, "links"), *o;
	size_t i, down = 0;

	printf("lab %s (prefix %s): %s, %lld VMs\n", json_string_value(json_object_get(j, "name")),
	       json_string_value(json_object_get(j, "prefix")),
	       json_string_value(json_object_get(j, "topology")),
	       (long long)json_integer_value(json_object_get(j, "vms")));
	printf("%-12s %-7s %-10s %s\n", "node", "kind", "fib", "daemons");
	json_array_foreach(nodes, i, o) {
		json_t *d = json_object_get(o, "daemons"), *v;
		const char *k;
		char fib[32] = "-";

		if (json_object_get(o, "fib_capacity")) {
			json_t *u = json_object_get(o, "fib_used");
			long long cap = (long long)json_integer_value(json_object_get(o, "fib_capacity"));

			if (json_is_integer(u))
				snprintf(fib, sizeof(fib), "%lld/%lld", (long long)json_integer_value(u), cap);
			else
				snprintf(fib, sizeof(fib), "?/%lld", cap);
		}
		printf("%-12s %-7s %-10s", json_string_value(json_object_get(o, "name")),
		       json_string_value(json_object_get(o, "kind")), fib);
		json_object_foreach(d, k, v) {
			if (json_is_integer(v))
				printf(" %s(%lld)", k, (long long)json_integer_value(v));
			else
				printf(" %s(stopped)", k);
		}
		if (json_is_null(json_object_get(o, "namespace")))
			printf(" [no namespace]");
		printf("\n");
	}
	json_array_foreach(links, i, o) {
		if (strcmp(json_string_value(json_object_get(o, "state")), "up")) {
			if (!down++)
				printf("links down:\n");
			printf("  %s:%lld -- %s:%lld (%s)\n",
			       json_string_value(json_object_get(o, "a")),
			       (long long)json_integer_value(json_object_get(o, "a_port")),
			       json_string_value(json_object_get(o, "b")),
			       (long long)json_integer_value(json_object_get(o, "b_port")),
			       json_string_value(json_object_get(o, "state")));
		}
	}
	printf("links: %zu, %zu down\n", json_array_size(links), down);
	lab_ha_status_print(json_object_get(j, "ha"));
}

static int do_status(struct lab_cli *c)
{
	struct lab l;
	json_t *j;
	int self;

	if (!need_root() || load(c, &l))
		return 1;
	/* The switchds answer on the management network only. */
	self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (enter_mgmt(&l)) {
		lab_free(&l);
		return 1;
	}
	j = status_json(&l);
	if (self >= 0) {
		setns(self, CLONE_NEWNET);
		close(self);
	}
	if (c->json)
		json_print(stdout, j);
	else {
		print_status(j);
		json_decref(j);
	}
	lab_free(&l);
	return 0;
}

/* ---- exec, link, node, logs -------------------------------------------------------- */
static int do_exec(struct lab_cli *c)
{
	struct lab l;
	char ns[128];
	int vm, rc;

	if (c->argc != 2 || !c->cmd || c->ncmd == 0)
		return cli_usage_error("lab", "exec NODE -- CMD [ARGS...]");
	if (!need_root() || load(c, &l))
		return 1;
	if (strcmp(c->argv[1], "mgmt") && lab_find(&l, c->argv[1], &vm) == UINT32_MAX && vm < 0) {
		lab_free(&l);
		return cli_error("lab: no node, VM or 'mgmt' called '%s'", c->argv[1]);
	}
	lab_ns(&l, c->argv[1], ns, sizeof(ns));
	lab_free(&l);
	if ((rc = lab_enter_ns(ns)))
		return cli_error("lab: cannot enter %s: %s", ns, strerror(-rc));
	execvp(c->cmd[0], c->cmd);
	return cli_error("lab exec: %s: %s", c->cmd[0], strerror(errno));
}

/* What `lab link` and `lab node` print with --json: when the links changed,
 * so that a measurement can match loss to the moment of the failure (for
 * `node down` that is after its daemons stopped, which takes a while). */
static void print_change(const struct lab_cli *c, const char *what, uint64_t at_ns)
{
	if (c->json)
		json_print(stdout, json_pack("{s:s, s:s, s:I, s:I}", what, c->argv[2],
					     "state", c->argv[1], "at_ns", (json_int_t)at_ns,
					     "done_ns", (json_int_t)wall_ns()));
}

static int do_link(struct lab_cli *c)
{
	struct lab l;
	uint32_t a, b;
	bool up, found = false;
	char err[1024];
	uint64_t at_ns;
	int rc = 0;

	if (c->argc != 4 || (strcmp(c->argv[1], "down") && strcmp(c->argv[1], "up")))
		return cli_usage_error("lab", "link down|up A B");
	if (!need_root() || load(c, &l))
		return 1;
	up = !strcmp(c->argv[1], "up");
	if ((a = node_arg(&l, c->argv[2], false)) == UINT32_MAX ||
	    (b = node_arg(&l, c->argv[3], false)) == UINT32_MAX) {
		lab_free(&l);
		return 1;
	}
	for (uint32_t p = 0; p < l.topo->nodes[a].degree; p++)
		found |= topo_port(l.topo, a, p)->peer == b;
	at_ns = wall_ns();
	if (!found)
		rc = cli_error("lab: no link between %s and %s", c->argv[2], c->argv[3]);
	/* Switch ends only: the far end loses carrier, as when a cable is cut
	 * (a server's own interface going admin-down would also flush its
	 * neighbour table, which no cable cut does). */
	else if ((!topo_is_server(l.topo, a) && lab_set_links(&l, a, b, up, err, sizeof(err))) ||
		 (!topo_is_server(l.topo, b) && lab_set_links(&l, b, a, up, err, sizeof(err))))
		rc = cli_error("lab link: %s", err);
	else
		print_change(c, "link", at_ns);
	lab_free(&l);
	return rc;
}

static int do_node(struct lab_cli *c)
{
	struct lab l;
	uint32_t n;
	char err[1024];
	uint64_t at_ns;
	int rc = 0;
	bool up;

	if (c->argc != 3 || (strcmp(c->argv[1], "down") && strcmp(c->argv[1], "up")))
		return cli_usage_error("lab", "node down|up NAME");
	if (!need_root() || load(c, &l))
		return 1;
	up = !strcmp(c->argv[1], "up");
	if ((n = node_arg(&l, c->argv[2], false)) == UINT32_MAX) {
		lab_free(&l);
		return 1;
	}
	if (!up)
		lab_stop_daemons(&l, l.topo->nodes[n].name);
	at_ns = wall_ns();
	if (lab_set_links(&l, n, UINT32_MAX, up, err, sizeof(err)) ||
	    (up && topo_is_server(l.topo, n) && lab_restore_neighbours(&l, n, err, sizeof(err)))) {
		rc = cli_error("lab node: %s", err);
	} else if (up) {
		lab_stop_daemons(&l, l.topo->nodes[n].name);
		if (lab_start_daemons(&l, n, err, sizeof(err)))
			rc = cli_error("lab node: %s", err);
		else if (!topo_is_server(l.topo, n) && lab_wait_switch(&l, n))
			rc = cli_error("lab node: %s does not forward yet (its %s daemons)",
				       c->argv[2], pgr_scheme_name(l.scheme));
	}
	if (!rc)
		print_change(c, "node", at_ns);
	lab_free(&l);
	return rc;
}

static int do_migrate(struct lab_cli *c)
{
	struct lab l;
	struct lab_migration m;
	char err[1024];
	uint64_t t0;
	double moved_ms;
	int rc = 0;

	if (c->argc != 3)
		return cli_usage_error("lab", "migrate VM SERVER");
	if (!need_root() || load(c, &l))
		return 1;
	t0 = mono_ns();
	if (lab_migrate(&l, c->argv[1], c->argv[2], &m, err, sizeof(err))) {
		rc = cli_error("lab migrate: %s", err);
		lab_free(&l);
		return rc;
	}
	moved_ms = (double)(m.attach_ns - m.detach_ns) / 1e6;
	if (c->json)
		json_print(stdout, json_pack("{s:s, s:s, s:f, s:f, s:I, s:I, s:I, s:b, s:b}",
					     "vm", c->argv[1], "server", c->argv[2],
					     "seconds", (double)(mono_ns() - t0) / 1e9,
					     "port_move_ms", moved_ms,
					     "detach_ns", (json_int_t)m.detach_ns,
					     "attach_ns", (json_int_t)m.attach_ns,
					     "signal_ns", (json_int_t)m.signal_ns,
					     "ras_told", m.ras_told, "ras_acked", m.ras_acked));
	else
		printf("%s now runs on %s (%.1f ms in all; its port moved in %.1f ms)\n",
		       c->argv[1], c->argv[2], (double)(mono_ns() - t0) / 1e6, moved_ms);
	lab_free(&l);
	return rc;
}

/* The demo is a script beside the binary's tree, one per scheme: it
 * orchestrates commands and measures, which is what shell is for. */
static const char *const demo_scripts[PGR_SCHEME_COUNT] = {
	[PGR_SCHEME_PEREGRINE] = "lab-demo.sh",
	[PGR_SCHEME_VL2] = "lab-demo-vl2.sh",
	[PGR_SCHEME_BCUBE] = "lab-demo-bcube.sh",
	[PGR_SCHEME_EVPN] = "lab-demo-evpn.sh",
	[PGR_SCHEME_NETLORD] = "lab-demo-netlord.sh",
};

/* --report DIR: made if need be, given to the script as an absolute path
 * in PEREGRINE_REPORT (docs/lab-report.md). */
static int report_dir(const char *dir)
{
	char abs[4096];

	if (mkdir(dir, 0755) && errno != EEXIST)
		return cli_error("lab: --report %s: %s", dir, strerror(errno));
	if (!realpath(dir, abs))
		return cli_error("lab: --report %s: %s", dir, strerror(errno));
	setenv("PEREGRINE_REPORT", abs, 1);
	return 0;
}

/* Run scripts/NAME (cli_find_script) with PEREGRINE and PREFIX. */
static int run_script(struct lab_cli *c, const char *what, const char *name)
{
	char exe[4096], script[4300];

	if (c->argc != 1)
		return cli_usage_error("lab", "%s takes no arguments", what);
	if (!need_root())
		return 1;
	if (cli_find_script(name, exe, sizeof(exe), script, sizeof(script)))
		return cli_error("lab %s: scripts/%s not found (set PEREGRINE_SCRIPTS to the "
				 "scripts directory)", what, name);
	if (c->report && report_dir(c->report))
		return 1;
	setenv("PEREGRINE", exe, 1);
	setenv("PREFIX", c->prefix, 1);
	execl("/bin/bash", "bash", script, c->json ? "--json" : NULL, (char *)NULL);
	return cli_error("lab %s: cannot run %s: %s", what, script, strerror(errno));
}

static int do_demo(struct lab_cli *c)
{
	if (c->slb && (c->ha || c->have_scheme || c->report || c->policy))
		return cli_usage_error("lab", "--slb: a demo of its own (no --ha, --scheme, --report, --policy)");
	if (c->policy && (c->ha || c->scheme != PGR_SCHEME_PEREGRINE))
		return cli_usage_error("lab", "--policy: the Peregrine scheme's demo only");
	if (c->policy)
		return c->report ? cli_usage_error("lab", "--policy writes no report")
				 : run_script(c, "demo", "lab-demo-policy.sh");
	return run_script(c, "demo", c->slb ? "lab-demo-slb.sh" : c->ha ? "lab-demo-ha.sh"
				   : demo_scripts[c->scheme]);
}

/* The all-to-all shuffle against the simulator's optimum
 * (scripts/lab-shuffle.sh, docs/lab-shuffle.md). */
static int do_shuffle(struct lab_cli *c)
{
	setenv("SHUFFLE_SCHEME", c->have_scheme ? pgr_scheme_name(c->scheme) : "", 1);
	setenv("SHUFFLE_BYTES", c->bytes ? c->bytes : "", 1);
	setenv("SHUFFLE_RATE", c->rate ? c->rate : "", 1);
	return run_script(c, "shuffle", "lab-shuffle.sh");
}

/* BCube's one-to-all transfer over its k+1 trees against one tree
 * (scripts/lab-one2all.sh, docs/bcube.md). */
static int do_one2all(struct lab_cli *c)
{
	if (c->have_scheme)
		return cli_usage_error("lab", "one2all: BCube only, no --scheme");
	setenv("ONE2ALL_BYTES", c->bytes ? c->bytes : "", 1);
	setenv("ONE2ALL_RATE", c->rate ? c->rate : "", 1);
	return run_script(c, "one2all", "lab-one2all.sh");
}

/* Every scheme's demo and one table (scripts/lab-compare.sh, docs/evpn.md). */
static int do_compare(struct lab_cli *c)
{
	return run_script(c, "compare", "lab-compare.sh");
}

static int do_report(struct lab_cli *c)
{
	if (c->argc != 2)
		return cli_usage_error("lab", "report DIR");
	return lab_report(c->argv[1]);
}

static int cat_file(const char *path, const char *title)
{
	char buf[4096];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	printf("==> %s <==\n", title);
	fflush(stdout);
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		if (write(1, buf, (size_t)n) != n)
			break;
	close(fd);
	return 0;
}

static int do_logs(struct lab_cli *c)
{
	struct lab l;
	char dir[256], path[512], title[256];
	int shown = 0;

	if (c->argc > 2)
		return cli_usage_error("lab", "logs [NODE]");
	if (load(c, &l))
		return 1;
	lab_state_dir(l.prefix, dir, sizeof(dir));
	for (uint32_t n = 0; n <= l.topo->nnodes + LAB_HA_KINDS * LAB_HA_MAX; n++) {
		uint32_t h = n - l.topo->nnodes - 1, which = lab_ha_which(h / LAB_HA_MAX, h % LAB_HA_MAX);
		char hbuf[16];
		const char *name = n == l.topo->nnodes ? "mgmt" : n < l.topo->nnodes
			? l.topo->nodes[n].name : lab_ha_name(which, hbuf, sizeof(hbuf));

		if (n > l.topo->nnodes && h % LAB_HA_MAX >= l.ha.n[h / LAB_HA_MAX])
			continue;	/* a replicated control plane's namespaces */
		if (c->argc == 2 && strcmp(c->argv[1], name))
			continue;
		for (size_t i = 0; i < lab_ndaemons; i++) {
			if (i > 0 && lab_daemon_first(lab_daemons[i].name) != i)
				continue;	/* a name in the table twice: one log */
			snprintf(path, sizeof(path), "%s/logs/%s.%s.log", dir, name,
				 lab_daemons[i].name);
			snprintf(title, sizeof(title), "%s %s", name, lab_daemons[i].name);
			shown += cat_file(path, title) == 0;
		}
	}
	lab_free(&l);
	if (c->argc == 2 && !shown)
		return cli_error("lab: no logs for '%s'", c->argv[1]);
	return 0;
}

/* ---- fib ---------------------------------------------------------------------------- */
/* PORT as a number, or the name of the neighbour on the other end. */
static bool port_arg(const struct lab *l, uint32_t sw, const char *s, uint16_t *port)
{
	uint32_t v, peer;
	int vm;

	if (parse_u32(s, SWP_MAX_PORT, &v)) {
		*port = (uint16_t)v;
		return true;
	}
	if ((peer = lab_find(l, s, &vm)) == UINT32_MAX)
		return false;
	for (uint32_t p = 0; p < l->topo->nodes[sw].degree; p++) {
		if (topo_port(l->topo, sw, p)->peer == peer) {
			*port = (uint16_t)p;
			return true;
		}
	}
	return false;
}

static int fib_ops(struct lab_cli *c, const struct lab *l, uint32_t sw, bool add,
		   struct swc *sc)
{
	int step = add ? 2 : 1, nargs = c->argc - 3, n = 0, rc;
	struct swp_op *ops;

	if (nargs <= 0 || nargs % step)
		return cli_usage_error("lab", add ? "fib add SWITCH MAC PORT [MAC PORT...]"
				       : "fib del SWITCH MAC [MAC...]");
	ops = xcalloc((size_t)nargs + 1, sizeof(*ops));
	for (int i = 3; i < c->argc; i += step, n++) {
		ops[n].kind = add ? SWP_OP_ADD : SWP_OP_DEL;
		if (!swp_mac_parse(c->argv[i], ops[n].mac) ||
		    (add && !port_arg(l, sw, c->argv[i + 1], &ops[n].port))) {
			free(ops);
			return cli_usage_error("lab", "'%s%s%s': expected a MAC%s", c->argv[i],
					       add ? " " : "", add ? c->argv[i + 1] : "",
					       add ? " and a port number or neighbour of the switch" : "");
		}
	}
	rc = swctl_apply(sc, ops, (uint32_t)n, c->json);
	free(ops);
	return rc;
}

static int do_fib(struct lab_cli *c)
{
	const char *sub = c->argc > 1 ? c->argv[1] : "";
	struct lab l;
	struct swc sc;
	uint32_t sw;
	int rc;

	if (c->argc < 3 || (strcmp(sub, "add") && strcmp(sub, "del") && strcmp(sub, "dump")))
		return cli_usage_error("lab", "fib add|del|dump SWITCH ...");
	if (!need_root() || load(c, &l))
		return 1;
	if ((sw = node_arg(&l, c->argv[2], true)) == UINT32_MAX || enter_mgmt(&l) ||
	    open_switch(&l, sw, &sc)) {
		lab_free(&l);
		return 1;
	}
	if (!strcmp(sub, "dump"))
		rc = c->argc == 3 ? swctl_dump(&sc, false, c->json)
				  : cli_usage_error("lab", "fib dump SWITCH");
	else
		rc = fib_ops(c, &l, sw, !strcmp(sub, "add"), &sc);
	swc_close(&sc);
	lab_free(&l);
	return rc;
}

int cmd_lab(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(struct lab_cli *);
	} subs[] = {
		{ "up", do_up }, { "down", do_down }, { "status", do_status },
		{ "exec", do_exec }, { "link", do_link }, { "node", do_node },
		{ "logs", do_logs }, { "fib", do_fib }, { "migrate", do_migrate },
		{ "demo", do_demo }, { "compare", do_compare }, { "report", do_report },
		{ "demo", do_demo }, { "compare", do_compare }, { "shuffle", do_shuffle },
		{ "one2all", do_one2all },
	};
	struct lab_cli c = { 0 };
	int rc;

	if ((rc = parse_cli(argc, argv, &c))) {
		free(c.argv);
		return rc < 0 ? 0 : rc;
	}
	if (c.argc == 0) {
		free(c.argv);
		return cli_usage_error("lab", "expected a subcommand");
	}
	if (c.report && strcmp(c.argv[0], "demo") && strcmp(c.argv[0], "compare")) {
		free(c.argv);
		return cli_usage_error("lab", "--report is an option of 'demo' and 'compare' only");
	}
	if (c.no_daemons && strcmp(c.argv[0], "up")) {
		free(c.argv);
		return cli_usage_error("lab", "--no-daemons is an option of 'up' only");
	}
	for (size_t i = 0; i < ARRAY_SIZE(subs); i++) {
		if (!strcmp(subs[i].name, c.argv[0])) {
			rc = subs[i].fn(&c);
			free(c.argv);
			return rc;
		}
	}
	rc = cli_usage_error("lab", "unknown subcommand '%s'", c.argv[0]);
	free(c.argv);
	return rc;
}
