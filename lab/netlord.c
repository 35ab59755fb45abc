/* The NetLord scheme's lab plan (docs/netlord.md, "In the lab"): switch
 * namespaces without bridges whose ports all run netlord_switch, VLAN
 * membership from route/spain.c's trees, and the NLA's programs on every
 * server.  The scripts only set addresses and bring links up; `prepare`
 * loads the programs by running `peregrine netlord switch` and
 * `peregrine netlord nla` in each namespace (the same commands a person
 * would use, docs/netlord.md), with the tables NL-ARP's answers fill. */
#include "lab/run.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "bpf/loader.h"
#include "bpf/netlord.h"
#include "route/spain.h"
#include "wire/swproto.h"

void lab_netlord_switch_mac(uint32_t node, uint8_t mac[6])
{
	mac[0] = 0x02;
	mac[1] = 0x4e;	/* 'N' */
	mac[2] = 0x4c;	/* 'L' */
	mac[3] = (uint8_t)(node >> 16);
	mac[4] = (uint8_t)(node >> 8);
	mac[5] = (uint8_t)node;
}

uint32_t lab_netlord_edge(const struct topo *t, uint32_t server, uint32_t *port)
{
	const struct topo_adj *a = topo_port(t, server, 0);
	const struct topo_link *lk = &t->links[a->link];

	*port = (lk->a == a->peer ? lk->pa : lk->pb) + 1;
	return a->peer;
}

int lab_netlord_check(const struct topo *t)
{
	for (uint32_t s = 0; s < t->nservers; s++) {
		uint32_t n = t->servers[s], port;

		if (t->nodes[n].degree != 1)
			return -EINVAL;
		lab_netlord_edge(t, n, &port);
		if (port >= NL_EDGE_PORTS)
			return -E2BIG;
	}
	for (uint32_t n = 0; n < t->nnodes; n++)
		if (!topo_is_server(t, n) && t->nodes[n].degree > NL_VLAN_PORTS_MAX)
			return -E2BIG;
	return 0;
}

/* Ports up, nothing forwarding until netlord_switch is attached. */
void lab_netlord_script_switch(const struct lab *l, uint32_t node, FILE *f)
{
	char ifn[LAB_IFNAMSIZ];

	for (uint32_t p = 0; p < l->topo->nodes[node].degree; p++) {
		lab_port_ifname(l, node, p, ifn);
		fprintf(f, "link set %s up\n", ifn);
	}
}

/* One NIC, no address (the NLA carries tenant frames only); VM ports up. */
void lab_netlord_script_server(const struct lab *l, uint32_t node, FILE *f)
{
	uint32_t idx = l->topo->nodes[node].index;
	char ifn[LAB_IFNAMSIZ], macs[18];
	uint8_t mac[6];

	lab_ifname(l, ifn, "nic0");
	lab_nic_mac(idx, 0, mac);
	fprintf(f, "link set %s address %s\n", ifn, swp_mac_str(mac, macs));
	fprintf(f, "link set %s up\n", ifn);
	for (uint32_t v = 0; v < l->nvms; v++) {
		if (l->vms[v].server != node)
			continue;
		lab_ifname(l, ifn, "v%u", l->vms[v].id);
		fprintf(f, "link set %s up\n", ifn);
	}
}

/* ---- the argument vectors ------------------------------------------------------ */
struct args {
	char **v;
	size_t n, cap;
};

static int add(struct args *a, const char *fmt, ...) PRINTF(2, 3);
static int add(struct args *a, const char *fmt, ...)
{
	va_list ap;
	char *s;

	if (a->n + 2 > a->cap) {
		size_t cap = a->cap ? 2 * a->cap : 32;
		char **v = realloc(a->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		a->v = v;
		a->cap = cap;
	}
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	if (!s)
		return -ENOMEM;
	a->v[a->n++] = s;
	a->v[a->n] = NULL;
	return 0;
}

static void args_free(struct args *a)
{
	for (size_t i = 0; i < a->n; i++)
		free(a->v[i]);
	free(a->v);
	*a = (struct args){ 0 };
}

static void pin_of(const struct lab *l, uint32_t node, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s-%s-nl", PGR_DP_PIN_ROOT, l->prefix, l->topo->nodes[node].name);
}

int lab_netlord_fib_used(const struct lab *l, uint32_t node, uint32_t *used)
{
	char pin[256], path[300];
	uint64_t v = 0;
	uint32_t zero = 0;
	int fd, rc;

	pin_of(l, node, pin, sizeof(pin));
	snprintf(path, sizeof(path), "%s/nl_fib_used", pin);
	if ((fd = bpf_obj_get(path)) < 0)
		return -errno;
	rc = bpf_map_lookup_elem(fd, &zero, &v) ? -errno : 0;
	close(fd);
	*used = v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
	return rc;
}

static bool is_end(const struct route_spain *s, uint32_t node)
{
	for (uint32_t e = 0; e < s->nends; e++)
		if (s->ends[e] == node)
			return true;
	return false;
}

static int switch_args(const struct lab *l, const struct route_spain *s, uint32_t node,
		       struct args *a)
{
	const struct topo *t = l->topo;
	bool edge = is_end(s, node);
	uint32_t nv = s->nvlans ? s->nvlans : 1;
	char pin[256], ifn[LAB_IFNAMSIZ], macs[18];
	uint8_t mac[6];
	int rc = 0;

	pin_of(l, node, pin, sizeof(pin));
	lab_netlord_switch_mac(node, mac);
	rc |= add(a, "netlord") | add(a, "switch") | add(a, "%s", pin);
	rc |= add(a, "--mac") | add(a, "%s", swp_mac_str(mac, macs));
	rc |= add(a, "--fib") | add(a, "%u", lab_switch_fib(l, node));
	if (edge)
		rc |= add(a, "--edge");
	for (uint32_t v = 0; v < nv; v++) {
		char list[NL_VLAN_PORTS_MAX * (LAB_IFNAMSIZ + 1)] = "";
		size_t off = 0;

		for (uint32_t p = 0; p < t->nodes[node].degree; p++) {
			const struct topo_adj *ad = topo_port(t, node, p);
			bool member = topo_is_server(t, ad->peer);

			for (uint32_t i = s->nvlans ? s->vlan_off[v] : 0;
			     !member && s->nvlans && i < s->vlan_off[v + 1]; i++)
				member = s->vlan_links[i] == ad->link;
			if (!member)
				continue;
			lab_port_ifname(l, node, p, ifn);
			off += (size_t)snprintf(list + off, sizeof(list) - off, "%s%s",
						off ? "," : "", ifn);
		}
		if (off)
			rc |= add(a, "--vlan") | add(a, "%u=%s", v + 1, list);
	}
	for (uint32_t p = 0; edge && p < t->nodes[node].degree; p++) {
		const struct topo_adj *ad = topo_port(t, node, p);

		if (!topo_is_server(t, ad->peer))
			continue;
		lab_port_ifname(l, node, p, ifn);
		lab_nic_mac(t->nodes[ad->peer].index, 0, mac);
		rc |= add(a, "--down") | add(a, "%u=%s,%s", p + 1, ifn, swp_mac_str(mac, macs));
	}
	return rc ? -ENOMEM : 0;
}

/* Run `peregrine netlord ARGS` in node's namespace and wait for it. */
static int run_in(const struct lab *l, uint32_t node, struct args *a)
{
	char ns[128];
	int status = 0;
	pid_t pid;

	lab_ns(l, l->topo->nodes[node].name, ns, sizeof(ns));
	if ((pid = fork()) == 0) {
		char *argv[a->n + 2];

		argv[0] = (char *)"peregrine";
		memcpy(argv + 1, a->v, (a->n + 1) * sizeof(*argv));
		if (lab_enter_ns(ns))
			_exit(126);
		execv("/proc/self/exe", argv);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &status, 0) < 0)
		return -1;
	return WIFEXITED(status) && !WEXITSTATUS(status) ? 0 : -1;
}

/* STATE/netlord-macs: "NAME=MAC" for every switch, the --mac arguments of
 * `peregrine netlord reselect` (docs/netlord.md). */
static int write_macs(const struct lab *l, char *err, size_t errlen)
{
	char path[256], macs[18];
	uint8_t mac[6];
	FILE *f;

	lab_state_dir(l->prefix, path, sizeof(path) - 16);
	strcat(path, "/netlord-macs");
	if (!(f = fopen(path, "w"))) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	for (uint32_t n = 0; n < l->topo->nnodes; n++) {
		if (topo_is_server(l->topo, n))
			continue;
		lab_netlord_switch_mac(n, mac);
		fprintf(f, "%s=%s\n", l->topo->nodes[n].name, swp_mac_str(mac, macs));
	}
	if (fclose(f)) {
		snprintf(err, errlen, "%s: cannot write", path);
		return -1;
	}
	return 0;
}

int lab_netlord_prepare(const struct lab *l, char *err, size_t errlen)
{
	const struct topo *t = l->topo;
	struct route_spain s;
	int rc = -1;

	if (route_spain_build(t, LAB_NETLORD_K, &s, err, errlen))
		return -1;
	if (write_macs(l, err, errlen))
		goto out;
	if (mkdir(PGR_DP_PIN_ROOT, 0700) && errno != EEXIST) {
		snprintf(err, errlen, "%s: %s", PGR_DP_PIN_ROOT, strerror(errno));
		goto out;
	}
	for (uint32_t n = 0; n < t->nnodes; n++) {
		struct args a = { 0 };
		int r;

		if (topo_is_server(t, n))
			continue;	/* the NLA is the agent's (cmd/agent_netlord.c) */
		if (lab_step("netlord-switch", t->nodes[n].name, err, errlen))
			goto out;
		r = switch_args(l, &s, n, &a);
		if (!r)
			r = run_in(l, n, &a);
		args_free(&a);
		if (r) {
			if (r != -EINVAL)
				snprintf(err, errlen, "cannot load NetLord's programs on %s "
					 "(peregrine netlord's message is above)", t->nodes[n].name);
			goto out;
		}
	}
	rc = 0;
out:
	route_spain_free(&s);
	return rc;
}

/* The switches forward as soon as `prepare` attached their program; a
 * server is ready once its agent pinned the NLA's maps, which it does last,
 * after attaching its programs and registering its VMs. */
int lab_netlord_ready(const struct lab *l, char *err, size_t errlen)
{
	struct timespec ts = { 0, 20 * 1000000 };

	for (uint32_t n = 0; n < l->topo->nnodes; n++) {
		char pin[256], path[300];
		struct stat st;
		int waited = 0;

		if (!topo_is_server(l->topo, n))
			continue;
		if (lab_step("wait-nla", l->topo->nodes[n].name, err, errlen))
			return -1;
		pin_of(l, n, pin, sizeof(pin));
		snprintf(path, sizeof(path), "%s/dec/nl_stats", pin);
		while (stat(path, &st) && waited < LAB_READY_WAIT_MS) {
			nanosleep(&ts, NULL);
			waited += 20;
		}
		if (waited >= LAB_READY_WAIT_MS) {
			snprintf(err, errlen, "the NetLord agent on %s did not load its programs "
				 "within %d ms (see peregrine lab logs %s)", l->topo->nodes[n].name,
				 LAB_READY_WAIT_MS, l->topo->nodes[n].name);
			return -1;
		}
	}
	return 0;
}

int lab_netlord_switch_ready(const struct lab *l, uint32_t node, int timeout_ms)
{
	(void)l;
	(void)node;
	(void)timeout_ms;
	return 0;
}
