/* peregrine fabric gen: from one fabric file (a lab file, docs/lab.md, with
 * an optional `deploy:` section), everything each host of a real
 * deployment needs to run its part of Peregrine: the management key, the
 * host's fabric interfaces as an `ip -batch` script, the agent's
 * configuration, and systemd units whose command lines are the ones the
 * lab runs, with the deployment's paths and addresses (docs/deploy.md).
 *
 * The plan is the lab's own (lab/file.c, lab/script.c): the same node
 * numbers, MACs, NIC addresses and interface names, so that a fabric tried
 * in the lab is the fabric deployed, and so that lab/test_deploy.sh can run
 * the generated units in a lab's namespaces.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <dirent.h>
#include <ftw.h>
#include <sys/stat.h>

#include "agent/config.h"
#include "cmd/cli.h"
#include "lab/lab.h"
#include "lab/run.h"
#include "lib/auth.h"
#include "lib/yconf.h"

static const char fabric_help[] =
	"Usage: peregrine fabric gen FILE --out DIR [--prefix P] [--key KEYFILE] [--json]\n"
	"\n"
	"Write what every host of a Peregrine fabric needs to run it outside the\n"
	"lab.  FILE is a lab file (docs/lab.md) with an optional deploy: section\n"
	"(docs/deploy.md): the topology, VDCs and VMs it describes are the ones\n"
	"deployed, with the lab's node numbers, MACs, addresses and interface\n"
	"names.  For every switch, every server and the controller (the host of\n"
	"the directory and the RAS), DIR/HOST/ holds:\n"
	"\n"
	"  etc/peregrine/key             the management network's key (0600)\n"
	"  etc/peregrine/net.ip          the host's fabric interfaces (ip -batch)\n"
	"  etc/peregrine/agent.yaml      a server's agent configuration\n"
	"  etc/peregrine/topology.yaml   the topology, when FILE has it inline\n"
	"  etc/peregrine/policy/VM.pol   a VM's security group (policy:, docs/policy.md)\n"
	"  etc/systemd/system/*.service  peregrine-net and the host's daemons\n"
	"  etc/systemd/network/*.link    NIC renames (deploy.hosts.H.ports)\n"
	"\n"
	"and DIR/hosts.txt lists the hosts, their roles, management addresses and\n"
	"units.  DIR must not exist: it is written aside and renamed, so it\n"
	"appears whole or not at all.  Only the peregrine scheme is deployable\n"
	"this way.\n"
	"\n"
	"Options:\n"
	"  --out DIR     where to write (required)\n"
	"  --prefix P    interface, bridge and pin names start with P- as in the\n"
	"                lab (1-5 of a-z 0-9; default pg)\n"
	"  --key FILE    use this management key instead of a new one (adding\n"
	"                hosts to a running fabric)\n"
	"  --json        print the hosts as JSON\n"
	"  -h, --help\n";

enum {
	FAB_PATH_MAX = 200,
	FAB_MAX_PORTS = 64,	/* ports renamed per host */
	METRICS_DIRECTORY = 9461,
	METRICS_RAS = 9462,
	METRICS_SWITCHD = 9463,
	METRICS_AGENT = 9464,
};

struct fab_host {
	uint32_t mgmt;			/* host order */
	unsigned nports;		/* deploy.hosts.H.ports */
	char (*ports)[LAB_IFNAMSIZ];
};

struct fabric {
	struct lab l;
	char bin[FAB_PATH_MAX], etc[FAB_PATH_MAX], state[FAB_PATH_MAX];
	bool veth_nics, metrics;
	char ctl_name[64];
	struct fab_host ctl;
	struct fab_host *hosts;		/* one per topology node */
};

/* ---- the deploy: section ------------------------------------------------- */
static bool path_ok(const char *s)
{
	if (s[0] != '/' || strlen(s) >= FAB_PATH_MAX - 40)
		return false;
	for (; *s; s++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-+", *s))
			return false;
	return true;
}

static bool read_path(struct yconf *yc, ynode *m, const char *key, char *out)
{
	ynode *v = yconf_get(yc, m, key);
	const char *s;

	if (!v)
		return true;
	if (!yconf_str(yc, v, key, &s))
		return false;
	if (!path_ok(s))
		return yconf_fail(yc, v, "deploy.%s: an absolute path of A-Z a-z 0-9 / . _ - +, "
				  "shorter than %d", key, FAB_PATH_MAX - 40);
	snprintf(out, FAB_PATH_MAX, "%s", s);
	return true;
}

static bool read_bool(struct yconf *yc, ynode *m, const char *key, bool *out)
{
	ynode *v = yconf_get(yc, m, key);
	const char *s;

	if (!v)
		return true;
	if (!yconf_str(yc, v, key, &s))
		return false;
	if (!strcmp(s, "true") || !strcmp(s, "false")) {
		*out = !strcmp(s, "true");
		return true;
	}
	return yconf_fail(yc, v, "deploy.%s: true or false", key);
}

static bool ifname_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= LAB_IFNAMSIZ || !strcmp(s, ".") || !strcmp(s, ".."))
		return false;
	for (; *s; s++)
		if (*s == '/' || *s == ':' || *s <= ' ' || *s > '~')
			return false;
	return true;
}

static bool read_host(struct yconf *yc, ynode *m, const char *name, uint32_t degree,
		      struct fab_host *h)
{
	static const char *const keys[] = { "mgmt", "ports", NULL };
	char what[96];
	ynode *v;

	if (!yconf_is_map(m))
		return yconf_fail(yc, m, "deploy.hosts.%s: expected a mapping with mgmt, ports", name);
	snprintf(what, sizeof(what), "deploy.hosts.%s", name);
	if (!yconf_only_keys(yc, m, what, keys))
		return false;
	snprintf(what, sizeof(what), "deploy.hosts.%s.mgmt", name);
	if ((v = yconf_get(yc, m, "mgmt")) && !yconf_ipv4(yc, v, what, &h->mgmt))
		return false;
	if (!(v = yconf_get(yc, m, "ports")))
		return true;
	if (degree == 0)
		return yconf_fail(yc, v, "deploy.hosts.%s.ports: the controller has no fabric ports",
				  name);
	if (!yconf_is_seq(v) || yconf_seq_len(v) > degree || yconf_seq_len(v) > FAB_MAX_PORTS)
		return yconf_fail(yc, v, "deploy.hosts.%s.ports: a list of at most %u interface "
				  "names (the host's ports in the topology's order)", name,
				  MIN(degree, (uint32_t)FAB_MAX_PORTS));
	h->nports = (unsigned)yconf_seq_len(v);
	h->ports = xcalloc(h->nports ? h->nports : 1, sizeof(*h->ports));
	for (unsigned i = 0; i < h->nports; i++) {
		ynode *p = yconf_seq_at(yc, v, i);
		const char *s;

		snprintf(what, sizeof(what), "deploy.hosts.%s.ports[%u]", name, i);
		if (!yconf_str(yc, p, what, &s))
			return false;
		if (!ifname_ok(s))
			return yconf_fail(yc, p, "%s: an interface name of 1 to %d printable "
					  "characters without / or :", what, LAB_IFNAMSIZ - 1);
		for (unsigned j = 0; j < i; j++)
			if (!strcmp(h->ports[j], s))
				return yconf_fail(yc, p, "%s: %s is also port %u", what, s, j);
		snprintf(h->ports[i], LAB_IFNAMSIZ, "%s", s);
	}
	return true;
}

static bool read_controller(struct yconf *yc, ynode *m, struct fabric *f)
{
	static const char *const keys[] = { "name", "mgmt", NULL };
	ynode *v;

	if (!yconf_is_map(m))
		return yconf_fail(yc, m, "deploy.controller: expected a mapping with name, mgmt");
	if (!yconf_only_keys(yc, m, "deploy.controller", keys))
		return false;
	if ((v = yconf_get(yc, m, "name"))) {
		const char *s;

		if (!yconf_str(yc, v, "deploy.controller.name", &s))
			return false;
		if (!*s || strlen(s) >= sizeof(f->ctl_name) || strspn(s,
		    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") != strlen(s))
			return yconf_fail(yc, v, "deploy.controller.name: 1 to 63 of A-Z a-z 0-9 - _ .");
		if (topo_find(f->l.topo, s) != UINT32_MAX)
			return yconf_fail(yc, v, "deploy.controller.name: %s is a node of the "
					  "topology", s);
		snprintf(f->ctl_name, sizeof(f->ctl_name), "%s", s);
	}
	if ((v = yconf_get(yc, m, "mgmt")) &&
	    !yconf_ipv4(yc, v, "deploy.controller.mgmt", &f->ctl.mgmt))
		return false;
	return true;
}

static bool read_deploy(struct yconf *yc, ynode *d, struct fabric *f)
{
	static const char *const keys[] = { "bin", "config_dir", "state_dir", "veth_nics",
					     "metrics", "controller", "hosts", NULL };
	ynode *v;

	if (!yconf_is_map(d))
		return yconf_fail(yc, d, "deploy: expected a mapping (docs/deploy.md)");
	if (!yconf_only_keys(yc, d, "deploy", keys) || !read_path(yc, d, "bin", f->bin) ||
	    !read_path(yc, d, "config_dir", f->etc) || !read_path(yc, d, "state_dir", f->state) ||
	    !read_bool(yc, d, "veth_nics", &f->veth_nics) ||
	    !read_bool(yc, d, "metrics", &f->metrics))
		return false;
	if ((v = yconf_get(yc, d, "controller")) && !read_controller(yc, v, f))
		return false;
	if (!(v = yconf_get(yc, d, "hosts")))
		return true;
	if (!yconf_is_map(v))
		return yconf_fail(yc, v, "deploy.hosts: expected a mapping of host names");
	for (size_t i = 0; i < yconf_map_len(v); i++) {
		ynode *k, *h;
		const char *name;
		uint32_t node;

		if (!yconf_map_at(yc, v, i, &k, &h) || !yconf_str(yc, k, "deploy.hosts", &name))
			return false;
		if (!strcmp(name, f->ctl_name)) {
			if (!read_host(yc, h, name, 0, &f->ctl))
				return false;
			continue;
		}
		if ((node = topo_find(f->l.topo, name)) == UINT32_MAX)
			return yconf_fail(yc, k, "deploy.hosts: %s is neither a node of the topology "
					  "nor the controller (%s)", name, f->ctl_name);
		if (!read_host(yc, h, name, f->l.topo->nodes[node].degree, &f->hosts[node]))
			return false;
	}
	return true;
}

/* Every host's management address: the lab's unless deploy says otherwise;
 * two hosts with one address would answer for each other. */
static bool check_addresses(struct yconf *yc, ynode *at, struct fabric *f)
{
	uint32_t n = f->l.topo->nnodes;

	for (uint32_t i = 0; i <= n; i++) {
		uint32_t a = i == n ? f->ctl.mgmt : f->hosts[i].mgmt;
		const char *an = i == n ? f->ctl_name : f->l.topo->nodes[i].name;

		if (a == 0 || a == 0xffffffffu || (a >> 24) == 127)
			return yconf_fail(yc, at, "deploy: %s: management address %u.%u.%u.%u is not "
					  "a host's", an, a >> 24, (a >> 16) & 255, (a >> 8) & 255,
					  a & 255);
		for (uint32_t j = 0; j < i; j++) {
			uint32_t b = f->hosts[j].mgmt;

			if (a == b)
				return yconf_fail(yc, at, "deploy: %s and %s have the same management "
						  "address", f->l.topo->nodes[j].name, an);
		}
	}
	return true;
}

static int fabric_load(struct fabric *f, const char *file, const char *prefix, char *err,
		       size_t errlen)
{
	struct yconf yc;
	char *text;
	size_t len;
	bool ok;
	FILE *in;

	memset(f, 0, sizeof(*f));
	if (!(in = fopen(file, "re"))) {
		snprintf(err, errlen, "%s: %s", file, strerror(errno));
		return -1;
	}
	text = xmalloc(1 << 24);
	len = fread(text, 1, 1 << 24, in);
	if (ferror(in) || !feof(in)) {
		snprintf(err, errlen, "%s: %s", file, ferror(in) ? "cannot read" :
			 "larger than 16 MiB");
		fclose(in);
		free(text);
		return -1;
	}
	fclose(in);
	if (lab_load_buf(&f->l, file, text, len, prefix, err, errlen)) {
		free(text);
		return -1;
	}
	if (f->l.scheme != PGR_SCHEME_PEREGRINE) {
		snprintf(err, errlen, "%s: scheme %s: only the peregrine scheme is deployable "
			 "by fabric gen (the others run in the lab)", file,
			 pgr_scheme_name(f->l.scheme));
		free(text);
		return -1;
	}
	if (lab_ha_on(&f->l)) {
		snprintf(err, errlen, "%s: ha: a replicated control plane is not deployable by "
			 "fabric gen yet (the lab runs it: docs/ha.md)", file);
		free(text);
		return -1;
	}
	snprintf(f->bin, sizeof(f->bin), "/usr/sbin/peregrine");
	snprintf(f->etc, sizeof(f->etc), "/etc/peregrine");
	snprintf(f->state, sizeof(f->state), "/var/lib/peregrine");
	snprintf(f->ctl_name, sizeof(f->ctl_name), "controller");
	f->metrics = true;
	f->ctl.mgmt = lab_mgmt_self_ip(&f->l);
	f->hosts = xcalloc(f->l.topo->nnodes, sizeof(*f->hosts));
	for (uint32_t n = 0; n < f->l.topo->nnodes; n++)
		f->hosts[n].mgmt = lab_mgmt_ip(&f->l, n);
	if (yconf_load_buf(&yc, file, text, len)) {
		snprintf(err, errlen, "%s", yc.err);
		yconf_free(&yc);
		free(text);
		return -1;
	}
	{
		ynode *d = yconf_get(&yc, yconf_root(&yc), "deploy");

		ok = (!d || read_deploy(&yc, d, f)) &&
		     check_addresses(&yc, d ? d : yconf_root(&yc), f);
	}
	if (!ok)
		snprintf(err, errlen, "%s", yc.err);
	yconf_free(&yc);
	free(text);
	return ok ? 0 : -1;
}

static void fabric_free(struct fabric *f)
{
	if (f->hosts)
		for (uint32_t n = 0; n < f->l.topo->nnodes; n++)
			free(f->hosts[n].ports);
	free(f->hosts);
	free(f->ctl.ports);
	lab_free(&f->l);
}

/* ---- writing --------------------------------------------------------------- */
struct out {
	char root[FAB_PATH_MAX + 64];	/* DIR.tmp-PID */
	char err[1024];
	bool failed;
};

static void mkdirs(struct out *o, const char *path)
{
	char buf[600];

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(buf, 0755) && errno != EEXIST && !o->failed) {
			snprintf(o->err, sizeof(o->err), "%s: %s", buf, strerror(errno));
			o->failed = true;
		}
		*p = '/';
	}
}

/* Write DIR.tmp/HOST/REL from a memstream's text. */
static void put(struct out *o, const char *host, const char *rel, const char *text, size_t len,
		mode_t mode)
{
	char path[600];
	int fd;

	if (o->failed)
		return;
	snprintf(path, sizeof(path), "%s/%s/%s", o->root, host, rel);
	mkdirs(o, path);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (fd < 0 || write(fd, text, len) != (ssize_t)len || fsync(fd)) {
		snprintf(o->err, sizeof(o->err), "%s: %s", path, strerror(errno ? errno : EIO));
		o->failed = true;
	}
	if (fd >= 0)
		close(fd);
}

struct text {
	char *buf;
	size_t len;
	FILE *f;
};

static FILE *text_open(struct text *t)
{
	t->buf = NULL;
	t->len = 0;
	if (!(t->f = open_memstream(&t->buf, &t->len)))
		die("out of memory");
	return t->f;
}

static void text_put(struct out *o, struct text *t, const char *host, const char *rel,
		     mode_t mode)
{
	fclose(t->f);
	put(o, host, rel, t->buf, t->len, mode);
	free(t->buf);
}

static const char *ip(uint32_t a, char buf[16])
{
	return lab_ip_str(a, buf);
}

/* One unit.  `cmd` is the command line after the binary; `after` another
 * unit it starts after, `extra` more [Service] lines. */
static void unit(struct out *o, const struct fabric *f, const char *host, const char *daemon,
		 const char *what, const char *cmd, const char *after, const char *extra)
{
	struct text t;
	FILE *u = text_open(&t);
	char rel[128];
	bool net = strcmp(daemon, "directory") && strcmp(daemon, "ras");

	fprintf(u, "# Generated by `peregrine fabric gen` (docs/deploy.md): %s on %s.\n"
		"[Unit]\n"
		"Description=Peregrine %s (%s)\n"
		"After=network-online.target%s%s\n"
		"Wants=network-online.target\n"
		"%s"
		"\n[Service]\n"
		"ExecStart=%s %s\n"
		"Restart=always\n"
		"RestartSec=1\n"
		"%s"
		"\n[Install]\n"
		"WantedBy=multi-user.target\n",
		daemon, host, daemon, what, net ? " peregrine-net.service" : "", after ? after : "",
		net ? "Requires=peregrine-net.service\n" : "", f->bin, cmd, extra ? extra : "");
	snprintf(rel, sizeof(rel), "etc/systemd/system/peregrine-%s.service", daemon);
	text_put(o, &t, host, rel, 0644);
}

/* The fabric interfaces' set-up: the lab's own script for the node. */
static void net_files(struct out *o, const struct fabric *f, uint32_t node)
{
	const char *host = f->l.topo->nodes[node].name;
	const struct fab_host *h = &f->hosts[node];
	struct text t;
	FILE *s = text_open(&t);
	char cmd[FAB_PATH_MAX + 64];

	fprintf(s, "# %s's fabric interfaces, for `ip -batch` (peregrine-net.service).\n", host);
	lab_script_ns(&f->l, node, s);
	text_put(o, &t, host, "etc/peregrine/net.ip", 0644);
	/* `ip -force` goes on past what is already set (a second start) */
	snprintf(cmd, sizeof(cmd), "-force -batch %s/net.ip", f->etc);
	s = text_open(&t);
	fprintf(s, "# Generated by `peregrine fabric gen` (docs/deploy.md): %s's fabric "
		"interfaces.\n"
		"[Unit]\n"
		"Description=Peregrine fabric interfaces (%s)\n"
		"After=systemd-udevd.service network-pre.target\n"
		"Before=network-online.target\n"
		"\n[Service]\n"
		"Type=oneshot\n"
		"RemainAfterExit=yes\n"
		"ExecStart=-/sbin/ip %s\n"
		"\n[Install]\n"
		"WantedBy=multi-user.target\n", host, host, cmd);
	text_put(o, &t, host, "etc/systemd/system/peregrine-net.service", 0644);
	for (unsigned p = 0; p < h->nports; p++) {
		char ifn[LAB_IFNAMSIZ], rel[128];

		lab_port_ifname(&f->l, node, p, ifn);
		s = text_open(&t);
		fprintf(s, "# Generated by `peregrine fabric gen`: port %u of %s.\n"
			"[Match]\nOriginalName=%s\n\n[Link]\nName=%s\n", p, host, h->ports[p], ifn);
		snprintf(rel, sizeof(rel), "etc/systemd/network/10-peregrine-%s.link", ifn);
		text_put(o, &t, host, rel, 0644);
	}
}

static void metrics_arg(const struct fabric *f, uint32_t mgmt, unsigned port, char *buf,
			size_t len)
{
	char a[16];

	buf[0] = 0;
	if (f->metrics)
		snprintf(buf, len, " --metrics %s:%u", ip(mgmt, a), port);
}

static void switch_files(struct out *o, const struct fabric *f, uint32_t node)
{
	const struct lab *l = &f->l;
	const char *host = l->topo->nodes[node].name;
	char cmd[1024], a[16], c[16], br[LAB_IFNAMSIZ], pp[LAB_IFNAMSIZ], up[128], m[64];

	net_files(o, f, node);
	lab_ifname(l, br, "br");
	lab_ifname(l, pp, "p");
	metrics_arg(f, f->hosts[node].mgmt, METRICS_SWITCHD, m, sizeof(m));
	snprintf(cmd, sizeof(cmd), "switchd --listen %s:%u --key %s/key --bridge %s --port-prefix %s "
		 "--id %u --fib %u --ras %s:%u --name %s --flush%s%s%s", ip(f->hosts[node].mgmt, a),
		 l->switchd_port, f->etc, br, pp, node, lab_switch_fib(l, node),
		 ip(f->ctl.mgmt, c), l->ras_port, host,
		 lab_switch_uplinks(l->topo, node, up, sizeof(up)) ? " --uplinks " : "",
		 lab_switch_uplinks(l->topo, node, up, sizeof(up)) ? up : "", m);
	unit(o, f, host, "switchd", "switch", cmd, NULL, NULL);
}

static void topology_arg(const struct fabric *f, char *buf, size_t len)
{
	if (f->l.topo_text)
		snprintf(buf, len, "file:%s/topology.yaml", f->etc);
	else
		snprintf(buf, len, "%s", f->l.topo->spec);
}

static void server_files(struct out *o, const struct fabric *f, uint32_t node)
{
	const struct lab *l = &f->l;
	const char *host = l->topo->nodes[node].name;
	struct agent_config c;
	struct text t;
	char cmd[1024], pin[128], m[64];
	FILE *s;

	net_files(o, f, node);
	lab_agent_config_of(l, f->state, node, &c);
	snprintf(c.key, sizeof(c.key), "%s/key", f->etc);
	topology_arg(f, c.topology, sizeof(c.topology));
	snprintf(c.workloads, sizeof(c.workloads), "%s/workloads", f->state);
	c.directory.sin_addr.s_addr = htonl(f->ctl.mgmt);
	c.ras.sin_addr.s_addr = htonl(f->ctl.mgmt);
	/* security groups (docs/policy.md): one file per VM beside agent.yaml
	 * (the lab sets them in its running directory instead; a generated
	 * fabric has no directory to set them in yet) */
	for (unsigned i = 0; i < c.nvms && !o->failed; i++) {
		struct agent_vm_cfg *a = &c.vms[i];
		char rel[160];

		for (uint32_t v = 0; v < l->nvms; v++) {
			if (strcmp(l->vms[v].name, a->name) || !l->vms[v].nrules)
				continue;
			if (snprintf(a->policy, sizeof(a->policy), "%s/policy/%s.pol", f->etc,
				     a->name) >= (int)sizeof(a->policy)) {
				snprintf(o->err, sizeof(o->err), "%s: the policy path of %s is too "
					 "long", host, a->name);
				o->failed = true;
				break;
			}
			s = text_open(&t);
			for (uint32_t r = 0; r < l->vms[v].nrules; r++)
				fprintf(s, "%s\n", l->vms[v].rules[r]);
			snprintf(rel, sizeof(rel), "etc/peregrine/policy/%s.pol", a->name);
			text_put(o, &t, host, rel, 0600);
		}
	}
	s = text_open(&t);
	fprintf(s, "# %s's agent (docs/agent.md), generated by `peregrine fabric gen`.\n", host);
	agent_config_write(&c, s);
	text_put(o, &t, host, "etc/peregrine/agent.yaml", 0644);
	agent_config_free(&c);
	lab_ns(l, host, pin, sizeof(pin));
	metrics_arg(f, f->hosts[node].mgmt, METRICS_AGENT, m, sizeof(m));
	snprintf(cmd, sizeof(cmd), "agent --config %s/agent.yaml --name %s%s --traffic-pairs %u%s",
		 f->etc, pin, f->veth_nics ? " --veth-nics" : "", lab_traffic_pairs(l), m);
	/* SIGUSR1 leaves the data plane forwarding: a restart (an upgrade)
	 * does not stop the VMs' traffic (docs/agent.md) */
	unit(o, f, host, "agent", "host agent", cmd, NULL,
	     "ExecReload=/bin/kill -HUP $MAINPID\nKillSignal=SIGUSR1\n");
}

static void controller_files(struct out *o, const struct fabric *f)
{
	const struct lab *l = &f->l;
	char cmd[65536], a[16], m[64], topo[300], fib[32];
	size_t n;

	metrics_arg(f, f->ctl.mgmt, METRICS_DIRECTORY, m, sizeof(m));
	snprintf(cmd, sizeof(cmd), "directory --listen %s:%u --db %s/directory.db --key %s/key "
		 "--name %s%s", ip(f->ctl.mgmt, a), LAB_DIR_PORT, f->state, f->etc, f->ctl_name, m);
	unit(o, f, f->ctl_name, "directory", "directory server", cmd, NULL, NULL);
	topology_arg(f, topo, sizeof(topo));
	fib[0] = 0;
	if (l->fib)
		snprintf(fib, sizeof(fib), " --fib-capacity %u", l->fib);
	n = (size_t)snprintf(cmd, sizeof(cmd), "ras --topo %s --key %s/key --listen %s:%u "
			     "--directory %s:%u --status-file %s/ras-status.json --name %s-ras%s",
			     topo, f->etc, ip(f->ctl.mgmt, a), l->ras_port, a, LAB_DIR_PORT,
			     f->state, f->ctl_name, fib);
	for (uint32_t i = 0; i < l->topo->nnodes && n < sizeof(cmd) - 200; i++)
		if (!topo_is_server(l->topo, i))
			n += (size_t)snprintf(cmd + n, sizeof(cmd) - n, " --switch %s=%s:%u",
					      l->topo->nodes[i].name, ip(f->hosts[i].mgmt, a),
					      l->switchd_port);
	metrics_arg(f, f->ctl.mgmt, METRICS_RAS, m, sizeof(m));
	snprintf(cmd + n, sizeof(cmd) - n, "%s", m);
	unit(o, f, f->ctl_name, "ras", "route algorithm server", cmd,
	     " peregrine-directory.service", NULL);
}

static int copy_key(struct out *o, const struct fabric *f, const char *key_file)
{
	struct auth_key k;
	char path[600], err[256];
	char *text;
	size_t len;
	FILE *in;

	/* one key for every host: a new one, or the operator's */
	snprintf(path, sizeof(path), "%s/key", o->root);
	if (key_file) {
		if (auth_key_load(key_file, &k, err, sizeof(err))) {
			snprintf(o->err, sizeof(o->err), "--key: %s", err);
			o->failed = true;
			return -1;
		}
	} else if (auth_key_generate(path, err, sizeof(err))) {
		snprintf(o->err, sizeof(o->err), "%s", err);
		o->failed = true;
		return -1;
	}
	if (!(in = fopen(key_file ? key_file : path, "re"))) {
		snprintf(o->err, sizeof(o->err), "%s: %s", key_file ? key_file : path,
			 strerror(errno));
		o->failed = true;
		return -1;
	}
	text = xmalloc(4096);
	len = fread(text, 1, 4096, in);
	fclose(in);
	for (uint32_t n = 0; n < f->l.topo->nnodes; n++)
		put(o, f->l.topo->nodes[n].name, "etc/peregrine/key", text, len, 0600);
	put(o, f->ctl_name, "etc/peregrine/key", text, len, 0600);
	free(text);
	if (!key_file)
		unlink(path);
	return o->failed ? -1 : 0;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path) && errno != ENOENT ? -1 : 0;
}

/* The hosts table: text for people in DIR/hosts.txt, and on stdout. */
static void hosts_table(const struct fabric *f, FILE *t, json_t *j)
{
	const struct topo *tp = f->l.topo;
	char a[16];

	fprintf(t, "%-20s %-10s %-15s %s\n", "host", "role", "mgmt", "units");
	fprintf(t, "%-20s %-10s %-15s %s\n", f->ctl_name, "controller", ip(f->ctl.mgmt, a),
		"peregrine-directory peregrine-ras");
	if (j) {
		json_t *h = json_object();

		JSET(h, "host", JSTR(f->ctl_name));
		JSET(h, "role", JSTR("controller"));
		JSET(h, "mgmt", JSTR(ip(f->ctl.mgmt, a)));
		json_array_append_new(j, h);
	}
	for (uint32_t n = 0; n < tp->nnodes; n++) {
		bool srv = topo_is_server(tp, n);

		fprintf(t, "%-20s %-10s %-15s %s\n", tp->nodes[n].name, srv ? "server" : "switch",
			ip(f->hosts[n].mgmt, a), srv ? "peregrine-net peregrine-agent" :
			"peregrine-net peregrine-switchd");
		if (j) {
			json_t *h = json_object();

			JSET(h, "host", JSTR(tp->nodes[n].name));
			JSET(h, "role", JSTR(srv ? "server" : "switch"));
			JSET(h, "mgmt", JSTR(ip(f->hosts[n].mgmt, a)));
			json_array_append_new(j, h);
		}
	}
}

static int gen(const char *file, const char *out_dir, const char *prefix, const char *key_file,
	       bool json)
{
	struct fabric f;
	struct out o = { 0 };
	char err[1024];
	struct text t;
	json_t *hosts = json ? json_array() : NULL;

	if (fabric_load(&f, file, prefix, err, sizeof(err))) {
		fabric_free(&f);
		json_decref(hosts);
		return cli_error("fabric gen: %s", err);
	}
	if (access(out_dir, F_OK) == 0) {
		fabric_free(&f);
		json_decref(hosts);
		return cli_error("fabric gen: %s exists: choose a new directory", out_dir);
	}
	if (strlen(out_dir) >= FAB_PATH_MAX) {
		fabric_free(&f);
		json_decref(hosts);
		return cli_error("fabric gen: --out: longer than %d characters", FAB_PATH_MAX - 1);
	}
	snprintf(o.root, sizeof(o.root), "%s.tmp-%d", out_dir, (int)getpid());
	if (mkdir(o.root, 0700)) {
		fabric_free(&f);
		json_decref(hosts);
		return cli_error("fabric gen: %s: %s", o.root, strerror(errno));
	}
	if (copy_key(&o, &f, key_file) == 0) {
		for (uint32_t n = 0; n < f.l.topo->nnodes && !o.failed; n++) {
			if (topo_is_server(f.l.topo, n))
				server_files(&o, &f, n);
			else
				switch_files(&o, &f, n);
			if (f.l.topo_text)
				put(&o, f.l.topo->nodes[n].name, "etc/peregrine/topology.yaml",
				    f.l.topo_text, strlen(f.l.topo_text), 0644);
		}
		controller_files(&o, &f);
		if (f.l.topo_text)
			put(&o, f.ctl_name, "etc/peregrine/topology.yaml", f.l.topo_text,
			    strlen(f.l.topo_text), 0644);
		hosts_table(&f, text_open(&t), hosts);
		fclose(t.f);
		put(&o, ".", "hosts.txt", t.buf, t.len, 0644);
		if (!json && !o.failed)
			fwrite(t.buf, 1, t.len, stdout);
		free(t.buf);
	}
	if (!o.failed && rename(o.root, out_dir)) {
		snprintf(o.err, sizeof(o.err), "%s: %s", out_dir, strerror(errno));
		o.failed = true;
	}
	if (o.failed) {
		nftw(o.root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
		fabric_free(&f);
		json_decref(hosts);
		return cli_error("fabric gen: %s (nothing written)", o.err);
	}
	if (json) {
		json_t *j = json_object();

		JSET(j, "out", JSTR(out_dir));
		JSET(j, "hosts", hosts);
		json_print(stdout, j);
	} else {
		printf("%u hosts written to %s (docs/deploy.md: what to copy where)\n",
		       f.l.topo->nnodes + 1, out_dir);
	}
	fabric_free(&f);
	return 0;
}

int cmd_fabric(int argc, char **argv)
{
	const char *file = NULL, *out = NULL, *prefix = "pg", *key = NULL;
	bool json = false;

	if (argc < 2)
		return cli_usage_error("fabric", "expected a subcommand: gen");
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		fputs(fabric_help, stdout);
		return 0;
	}
	if (strcmp(argv[1], "gen"))
		return cli_usage_error("fabric", "unknown subcommand '%s' (expected gen)", argv[1]);
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			fputs(fabric_help, stdout);
			return 0;
		} else if (!strcmp(a, "--json")) {
			json = true;
		} else if ((!strcmp(a, "--out") || !strcmp(a, "--prefix") || !strcmp(a, "--key"))) {
			if (i + 1 >= argc)
				return cli_usage_error("fabric", "%s needs a value", a);
			if (!strcmp(a, "--out"))
				out = argv[++i];
			else if (!strcmp(a, "--prefix"))
				prefix = argv[++i];
			else
				key = argv[++i];
		} else if (a[0] == '-' && a[1]) {
			return cli_usage_error("fabric", "unknown option '%s'", a);
		} else if (file) {
			return cli_usage_error("fabric", "gen: one FILE only ('%s' and '%s')", file, a);
		} else {
			file = a;
		}
	}
	if (!file)
		return cli_usage_error("fabric", "gen: expected a fabric FILE");
	if (!out || !*out)
		return cli_usage_error("fabric", "gen: --out DIR is required");
	if (!lab_prefix_ok(prefix))
		return cli_usage_error("fabric", "--prefix '%s': 1 to %d of a-z 0-9, starting "
				       "with a letter", prefix, LAB_MAX_PREFIX);
	return gen(file, out, prefix, key, json);
}
