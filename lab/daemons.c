/* The daemons a lab starts on its nodes.
 *
 * One entry per daemon: where it runs and its command line.  switchd runs
 * on every switch.  The directory and the RAS (LAB_ON_MGMT, in the
 * management namespace at lab_mgmt_self_ip) and the host agent
 * (LAB_ON_SERVER) are added here when they exist; lab/run.c starts, records
 * and stops whatever this table lists, in table order.
 */
#include "lab/run.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <pwd.h>
#include <arpa/inet.h>

#include "agent/config.h"
#include "bpf/dp.h"
#include "lib/log.h"

/* "0,1": the ports of switch `node` that lead to other switches, if it
 * also has servers; false (no tracking) otherwise. */
bool lab_switch_uplinks(const struct topo *t, uint32_t node, char *buf, size_t len)
{
	bool servers = false;
	size_t off = 0;

	buf[0] = 0;
	for (uint32_t p = 0; p < t->nodes[node].degree; p++) {
		const struct topo_adj *a = topo_port(t, node, p);

		if (topo_is_server(t, a->peer)) {
			servers = true;
			continue;
		}
		if (off + 12 < len)
			off += (size_t)snprintf(buf + off, len - off, "%s%u", off ? "," : "", p);
	}
	return servers && off > 0;
}

static int switchd_args(const struct lab *l, const char *dir, uint32_t node, char **argv,
			char (*b)[128])
{
	char ip[16], ras[16];
	int n = 0;

	snprintf(b[0], 128, "%s:%u", lab_ip_str(lab_mgmt_ip(l, node), ip), l->switchd_port);
	snprintf(b[1], 128, "%s/key", dir);
	lab_ifname(l, b[2], "br");
	lab_ifname(l, b[3], "p");
	snprintf(b[4], 128, "%u", node);
	snprintf(b[5], 128, "%u", lab_switch_fib(l, node));
	snprintf(b[6], 128, "%s:%u", lab_ip_str(lab_mgmt_self_ip(l), ras), l->ras_port);
	lab_ns(l, l->topo->nodes[node].name, b[7], 128);
	argv[n++] = "--listen";
	argv[n++] = b[0];
	argv[n++] = "--key";
	argv[n++] = b[1];
	argv[n++] = "--bridge";
	argv[n++] = b[2];
	argv[n++] = "--port-prefix";
	argv[n++] = b[3];
	argv[n++] = "--id";
	argv[n++] = b[4];
	argv[n++] = "--fib";
	argv[n++] = b[5];
	argv[n++] = "--ras";
	argv[n++] = b[6];
	argv[n++] = "--name";	/* also how `lab down` recognises it */
	argv[n++] = b[7];
	argv[n++] = "--flush";	/* a (re)started switch begins empty */
	/* A switch with servers and other switches below it tracks its
	 * uplinks: cut off from every switch, it takes its server ports down
	 * so that dual-homed servers leave by their other NIC. */
	if (lab_ha_on(l)) {
		/* several RAS processes: link reports go to the leader */
		snprintf(b[6], 128, "%s:%u",
			 lab_ip_str(lab_ha_ip(l, lab_ha_which(LAB_HA_RAS, 0)), ras), l->ras_port);
		argv[n++] = "--ras-follow";
		/* a port going down is told to every directory server too,
		 * so agents fail over while no RAS leads (docs/ha.md) */
		lab_ha_dir_list(l, node, b[9], 128);
		argv[n++] = "--directory";
		argv[n++] = b[9];
		/* the highest RAS term survives a restart of switchd, which
		 * would otherwise take a deposed leader's requests again */
		snprintf(b[10], 128, "%s/%s.ras-term", dir, l->topo->nodes[node].name);
		argv[n++] = "--term-file";
		argv[n++] = b[10];
	}
	if (lab_switch_uplinks(l->topo, node, b[8], 128)) {
		argv[n++] = "--uplinks";
		argv[n++] = b[8];
	}
	return n;
}

/* The directory, in the management namespace: its registrations persist in
 * the lab's state directory, so a restarted directory keeps them. */
static int directory_args(const struct lab *l, const char *dir, uint32_t node, char **argv,
			  char (*b)[128])
{
	char ip[16];
	int n = 0;

	(void)node;
	snprintf(b[0], 128, "%s:%u", lab_ip_str(lab_mgmt_self_ip(l), ip), LAB_DIR_PORT);
	snprintf(b[1], 128, "%s/directory.db", dir);
	snprintf(b[2], 128, "%s/key", dir);
	lab_ns(l, "mgmt", b[3], 128);
	argv[n++] = "--listen";
	argv[n++] = b[0];
	argv[n++] = "--db";
	argv[n++] = b[1];
	argv[n++] = "--key";
	argv[n++] = b[2];
	argv[n++] = "--name";
	argv[n++] = b[3];
	return n;
}

/* The RAS, in the management namespace: it reads the lab from its state
 * directory, listens on lab_mgmt_self_ip:ras_port (where switchd reports
 * links) and programs every switch (docs/ras.md). */
static int ras_args(const struct lab *l, const char *dir, uint32_t node, char **argv,
		    char (*b)[128])
{
	int n = 0;

	(void)dir;
	(void)node;
	snprintf(b[0], 128, "%s", l->prefix);
	lab_ns(l, "mgmt", b[1], 128);
	argv[n++] = "--lab";
	argv[n++] = b[0];
	argv[n++] = "--name";
	argv[n++] = b[1];
	return n;
}

/* A server's agent configuration (docs/agent.md) from the lab plan; also
 * `peregrine fabric gen`'s, which then sets its own paths and addresses. */
void lab_agent_config_of(const struct lab *l, const char *dir, uint32_t node,
			 struct agent_config *c)
{
	const struct topo_node *n = &l->topo->nodes[node];

	memset(c, 0, sizeof(*c));
	snprintf(c->server, sizeof(c->server), "%s", n->name);
	c->node = lab_server_node(n->index);
	c->nnics = MIN((unsigned)n->ports, (unsigned)AGENT_MAX_NICS);
	for (unsigned i = 0; i < c->nnics; i++)
		lab_ifname(l, c->nic[i], "nic%u", i);
	c->directory = (struct sockaddr_in){ .sin_family = AF_INET,
		.sin_port = htons(LAB_DIR_PORT), .sin_addr.s_addr = htonl(lab_mgmt_self_ip(l)) };
	c->ras = c->directory;
	c->ras.sin_port = htons(l->ras_port);
	if (lab_ha_on(l))
		lab_ha_agent_dirs(l, node, c);
	snprintf(c->key, sizeof(c->key), "%s/key", dir);
	snprintf(c->topology, sizeof(c->topology), "%s", l->topo->spec);
	c->nic_mbps = l->mbps;	/* every fabric link shaped to this (lab_script_tc) */
	/* containers attached at run time (docs/cni.md) */
	snprintf(c->workloads, sizeof(c->workloads), "%s/workloads/%s", dir, n->name);
	c->vms = calloc(l->nvms ? l->nvms : 1, sizeof(*c->vms));
	assert(c->vms);
	for (uint32_t v = 0; v < l->nvms; v++) {
		const struct lab_vm *vm = &l->vms[v];
		struct agent_vm_cfg *a;

		if (vm->server != node)
			continue;
		a = &c->vms[c->nvms++];
		snprintf(a->name, sizeof(a->name), "%s", vm->name);
		a->vdc = l->vdcs[vm->vdc].id;
		a->ip = vm->ip;
		a->node = lab_vm_node(l, vm);
		a->plen = l->vdcs[vm->vdc].plen;	/* DHCP (docs/tenant-network.md) */
		a->has_prefix6 = l->vdcs[vm->vdc].has_net6;	/* SLAAC */
		memcpy(a->prefix6, l->vdcs[vm->vdc].net6, sizeof(a->prefix6));
		lab_ifname(l, a->port, "v%u", vm->id);
		a->router = vm->router;	/* a gateway leg (lab/edge.c) */
		lab_slb_vm_vips(l, v, a);	/* a backend of VCs (lab/slb.c) */
		/* written by lab_agent_config_write, with ha: only (its
		 * replicated directory keeps no policies; otherwise they are
		 * the directory's, lab/policy.c); a path that does not fit
		 * leaves the VM without a policy */
		if (vm->rules && lab_ha_on(l) && snprintf(a->policy, sizeof(a->policy), "%s/policy/%s.pol", dir,
					  vm->name) >= (int)sizeof(a->policy))
			a->policy[0] = '\0';
	}
}

/* STATE/policy/VM.pol for each VM of node with a `policy:` (docs/policy.md):
 * what the lab declared, for tools (scripts/demo-policy-measure.sh); the
 * agents get the rules from the directory (lab/policy.c), or, with ha:,
 * from these files, a server's agent its own VMs' only. */
static void policy_files_write(const struct lab *l, const char *dir, uint32_t node)
{
	char path[400];

	snprintf(path, sizeof(path), "%s/policy", dir);
	mkdir(path, 0700);
	for (uint32_t v = 0; v < l->nvms; v++) {
		const struct lab_vm *vm = &l->vms[v];
		FILE *f;

		if (vm->server != node || !vm->rules)
			continue;
		snprintf(path, sizeof(path), "%s/policy/%s.pol", dir, vm->name);
		f = fopen(path, "w");
		if (!f) {
			log_warn("%s: %s", path, strerror(errno));
			continue;
		}
		for (uint32_t r = 0; r < vm->nrules; r++)
			fprintf(f, "%s\n", vm->rules[r]);
		if (fclose(f))
			log_warn("%s: %s", path, strerror(errno));
	}
}

/* STATE/agents/NAME.yaml from the lab plan (with STATE/placement applied),
 * written to a temporary file and renamed, so that an agent never reads
 * half of it.  0 or -errno. */
int lab_agent_config_write(const struct lab *l, uint32_t node)
{
	char dir[200], path[320], tmp[330];
	struct agent_config c;
	int ret = 0;
	FILE *f;

	lab_state_dir(l->prefix, dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/agents", dir);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/agents/%s.yaml", dir, l->topo->nodes[node].name);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	lab_agent_config_of(l, dir, node, &c);
	policy_files_write(l, dir, node);
	if (!(f = fopen(tmp, "w")))
		ret = -errno;
	else if (agent_config_write(&c, f) | fclose(f))
		ret = -EIO;
	else if (rename(tmp, path))
		ret = -errno;
	agent_config_free(&c);
	return ret;
}

/* The traffic matrix of each agent is an LRU map the kernel preallocates:
 * 65,536 pairs cost about 7 MB per agent.  Room for four local VMs with
 * every VM of the lab (a migration may bring more VMs to a server) is
 * enough; LRU eviction covers the rest. */
uint32_t lab_traffic_pairs(const struct lab *l)
{
	uint64_t n = (uint64_t)l->nvms * 4;

	return (uint32_t)MIN(MAX(n, (uint64_t)PGR_DP_TRAFFIC_MIN), (uint64_t)PGR_DP_TRAFFIC_MAX);
}

/* The host agent, in every server namespace, pinned as P-NAME. */
static int agent_args(const struct lab *l, const char *dir, uint32_t node, char **argv,
		      char (*b)[128])
{
	int n = 0;

	lab_agent_config_write(l, node);
	snprintf(b[0], 128, "%s/agents/%s.yaml", dir, l->topo->nodes[node].name);
	lab_ns(l, l->topo->nodes[node].name, b[1], 128);
	snprintf(b[2], 128, "%u", lab_traffic_pairs(l));
	snprintf(b[3], 128, "%s", l->prefix);
	argv[n++] = "--lab";
	argv[n++] = b[3];
	argv[n++] = "--config";
	argv[n++] = b[0];
	argv[n++] = "--name";
	argv[n++] = b[1];
	argv[n++] = "--veth-nics";
	argv[n++] = "--traffic-pairs";	/* kernel memory: docs/lab.md */
	argv[n++] = b[2];
	if (l->scheme != PGR_SCHEME_PEREGRINE) {
		argv[n++] = "--scheme";
		argv[n++] = (char *)pgr_scheme_name(l->scheme);
	}
	return n;
}

/* FRR in a VL2 lab's switches (docs/vl2.md): each daemon in the
 * foreground (the lab records its pid), its configuration, pid file and
 * sockets in STATE/frr/NODE/, its log on stdout (STATE/logs/), marked with
 * FRR's pathspace "-N P-NODE" so that the lab knows it.  It runs as FRR's
 * own user (frr, in group frrvty), which owns STATE/frr/NODE/. */
static int frr_args(const struct lab *l, const char *dir, uint32_t node, char **argv,
		    char (*b)[128], const char *daemon)
{
	const char *name = l->topo->nodes[node].name;
	struct passwd *pw;
	char path[300];
	int n = 0;
	FILE *f;

	/* frr must pass through the state directory (0700) to its own:
	 * search, not read, for others; the files there stay 0600. */
	chmod(dir, 0711);
	snprintf(path, sizeof(path), "%s/frr", dir);
	mkdir(path, 0755);
	snprintf(b[0], 128, "%s/frr/%s", dir, name);
	mkdir(b[0], 0755);
	if ((pw = getpwnam("frr")))
		chown(b[0], pw->pw_uid, pw->pw_gid);
	snprintf(b[1], 128, "%s/frr/%s/%s.conf", dir, name, daemon);
	snprintf(b[2], 128, "%s/frr/%s/%s.pid", dir, name, daemon);
	snprintf(b[3], 128, "%s/frr/%s/zserv.api", dir, name);
	lab_ns(l, name, b[4], 128);
	snprintf(b[5], 128, "%s/frr/%s/bfdd.sock", dir, name);
	if ((f = fopen(b[1], "w"))) {
		if (l->scheme == PGR_SCHEME_EVPN)
			lab_evpn_frr_conf(l, node, daemon, f);
		else
			lab_vl2_frr_conf(l, node, daemon, f);
		fclose(f);
	}
	argv[n++] = "-N";		/* also how `lab down` recognises it */
	argv[n++] = b[4];
	argv[n++] = "-f";
	argv[n++] = b[1];
	argv[n++] = "-i";
	argv[n++] = b[2];
	argv[n++] = "-z";
	argv[n++] = b[3];
	argv[n++] = "--vty_socket";
	argv[n++] = b[0];
	argv[n++] = "-P";		/* no vty on TCP */
	argv[n++] = "0";
	argv[n++] = "--log";
	argv[n++] = "stdout";
	if (!strcmp(daemon, "bfdd")) {
		argv[n++] = "--bfdctl";
		argv[n++] = b[5];
	}
	return n;
}

static int zebra_args(const struct lab *l, const char *dir, uint32_t node, char **argv,
		      char (*b)[128])
{
	return frr_args(l, dir, node, argv, b, "zebra");
}

static int bfdd_args(const struct lab *l, const char *dir, uint32_t node, char **argv,
		     char (*b)[128])
{
	return frr_args(l, dir, node, argv, b, "bfdd");
}

static int bgpd_args(const struct lab *l, const char *dir, uint32_t node, char **argv,
		     char (*b)[128])
{
	return frr_args(l, dir, node, argv, b, "bgpd");
}

static int ospfd_args(const struct lab *l, const char *dir, uint32_t node, char **argv,
		      char (*b)[128])
{
	return frr_args(l, dir, node, argv, b, "ospfd");
}

#define PGR LAB_IN(PGR_SCHEME_PEREGRINE)
#define VL2 LAB_IN(PGR_SCHEME_VL2)
#define BCUBE LAB_IN(PGR_SCHEME_BCUBE)
#define EVPN LAB_IN(PGR_SCHEME_EVPN)
#define NETLORD LAB_IN(PGR_SCHEME_NETLORD)
#define FRR_DIR "/usr/lib/frr/"

/* In start order; the last field is the metrics port (docs/metrics.md).  A new scheme adds its bit to the daemons it shares and
 * its own entries. */
const struct lab_daemon lab_daemons[] = {
	{ "directory", LAB_ON_MGMT, directory_args, PGR | VL2 | BCUBE | NETLORD, NULL, 9461 },
	{ "switchd", LAB_ON_SWITCH, switchd_args, PGR, NULL, 9463 },
	{ "ras", LAB_ON_MGMT, ras_args, PGR, NULL, 9462 },
	{ "agent", LAB_ON_SERVER, agent_args, PGR | VL2 | BCUBE | NETLORD, NULL, 9464 },
	{ "etcd", LAB_ON_HA_ETCD, lab_ha_etcd_args, PGR, "/usr/bin/etcd", 0 },
	{ "directory", LAB_ON_HA_DIR, lab_ha_directory_args, PGR, NULL, 9461 },
	{ "ras", LAB_ON_HA_RAS, lab_ha_ras_args, PGR, NULL, 9462 },
	{ "zebra", LAB_ON_SWITCH, zebra_args, VL2 | EVPN, FRR_DIR "zebra", 0 },
	{ "bfdd", LAB_ON_SWITCH, bfdd_args, VL2 | EVPN, FRR_DIR "bfdd", 0 },
	{ "ospfd", LAB_ON_SWITCH, ospfd_args, VL2, FRR_DIR "ospfd", 0 },
	{ "bgpd", LAB_ON_SWITCH, bgpd_args, EVPN, FRR_DIR "bgpd", 0 },
	/* an EVPN server is a VTEP with FRR of its own (docs/evpn.md) */
	{ "zebra", LAB_ON_SERVER, zebra_args, EVPN, FRR_DIR "zebra", 0 },
	{ "bfdd", LAB_ON_SERVER, bfdd_args, EVPN, FRR_DIR "bfdd", 0 },
	{ "bgpd", LAB_ON_SERVER, bgpd_args, EVPN, FRR_DIR "bgpd", 0 },
	/* the load balancer (`slb:`, lab/slb.c): after the agents */
	{ "slb", LAB_ON_SLB, lab_slb_args, PGR, NULL, 0 },
	{ "slb-edge", LAB_ON_SLB_EDGE, lab_slb_edge_args, PGR, "/usr/bin/python3", 0 },
};

bool lab_metrics_url(const struct lab *l, const struct lab_daemon *d, uint32_t node, char *buf,
		     size_t len)
{
	char ip[16];

	/* not in this lab's scheme; the VL2 and BCube agents serve no metrics yet */
	if (!d->metrics_port || !(d->schemes & LAB_IN(l->scheme)) ||
	    (l->scheme != PGR_SCHEME_PEREGRINE && !strcmp(d->name, "agent")))
		return false;
	lab_ip_str(node == LAB_NS_MGMT ? lab_mgmt_self_ip(l)
		   : node & LAB_NS_HA ? lab_ha_ip(l, node) : lab_mgmt_ip(l, node), ip);
	snprintf(buf, len, "http://%s:%u/metrics", ip, d->metrics_port);
	return true;
}
const size_t lab_ndaemons = ARRAY_SIZE(lab_daemons);

size_t lab_daemon_first(const char *name)
{
	size_t i = 0;

	while (i < lab_ndaemons && strcmp(lab_daemons[i].name, name))
		i++;
	return i;
}
