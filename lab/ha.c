/* A replicated control plane in the lab (docs/ha.md, "In the lab").
 *
 * A lab file's `ha: {etcd: 3, directories: 2, ras: 2}` runs etcd members,
 * directory servers (`directory --etcd`) and RAS processes (`ras --etcd`),
 * each in a namespace of its own (P-etcd0, P-dir0, P-ras0, ...) with a veth
 * to the management bridge and an address on the management network after
 * the nodes' ones.  The management namespace then runs no daemon: agents
 * know every directory server, switchd follows the leading RAS
 * (--ras-follow).  The lab starts, records and stops these daemons like
 * every other (lab/daemons.c's table, lab/run.c).
 */
#include "lab/run.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "agent/config.h"
#include "lib/etcd.h"

enum {
	LAB_HA_ETCD_CLIENT = 2379,	/* etcd's own ports */
	LAB_HA_ETCD_PEER = 2380,
	/* etcd's raft timing: a dead etcd leader is replaced within about
	 * 0.5 s, and its shortest lease (1.5 election timeouts) is 0.75 s,
	 * so the RAS's 1 s lease is allowed */
	LAB_HA_ETCD_HEARTBEAT_MS = 50,
	LAB_HA_ETCD_ELECTION_MS = 500,
	LAB_HA_RAS_TTL_S = 1,
	LAB_HA_ETCD_WAIT_MS = 20000,	/* a new etcd cluster elects a leader within this */
	LAB_HA_ETCD_TRY_MS = 300,	/* one try's timeout */
};

static const char *const kind_name[LAB_HA_KINDS] = { "etcd", "dir", "ras" };

bool lab_ha_on(const struct lab *l)
{
	return l->ha.n[LAB_HA_ETCD] > 0;
}

uint32_t lab_ha_which(enum lab_ha_kind kind, uint32_t i)
{
	return LAB_NS_HA | (uint32_t)kind << 8 | i;
}

static enum lab_ha_kind which_kind(uint32_t which)
{
	return (enum lab_ha_kind)((which >> 8) & 0xff);
}

const char *lab_ha_name(uint32_t which, char *buf, size_t len)
{
	snprintf(buf, len, "%s%u", kind_name[which_kind(which) % LAB_HA_KINDS], which & 0xff);
	return buf;
}

/* After the nodes' addresses (lab_mgmt_ip: mgmt_net + 2 + node); lab/file.c
 * checks that they fit the subnet. */
uint32_t lab_ha_ip(const struct lab *l, uint32_t which)
{
	return l->mgmt_net + 2 + l->topo->nnodes + which_kind(which) * LAB_HA_MAX + (which & 0xff);
}

void lab_ha_each_ns(const struct lab *l, lab_ns_fn fn, void *arg)
{
	char name[16], ns[128];

	for (unsigned k = 0; k < LAB_HA_KINDS; k++)
		for (uint32_t i = 0; i < l->ha.n[k]; i++) {
			lab_ns(l, lab_ha_name(lab_ha_which(k, i), name, sizeof(name)), ns,
			       sizeof(ns));
			fn(arg, ns);
		}
}

void lab_ha_script_host(const struct lab *l, FILE *f, uint32_t *k,
			void (*veth)(FILE *, uint32_t, const char *, const char *, const char *,
				     const char *))
{
	char a_ns[128], b_ns[128], a_if[LAB_IFNAMSIZ], b_if[LAB_IFNAMSIZ], name[16];

	lab_ns(l, "mgmt", b_ns, sizeof(b_ns));
	for (unsigned kind = 0; kind < LAB_HA_KINDS; kind++)
		for (uint32_t i = 0; i < l->ha.n[kind]; i++) {
			lab_ns(l, lab_ha_name(lab_ha_which(kind, i), name, sizeof(name)), a_ns,
			       sizeof(a_ns));
			lab_ifname(l, a_if, "mgmt");
			lab_ifname(l, b_if, "h%u", kind * LAB_HA_MAX + i);
			veth(f, (*k)++, a_if, a_ns, b_if, b_ns);
		}
}

void lab_ha_script_mgmt(const struct lab *l, FILE *f)
{
	char br[LAB_IFNAMSIZ], ifn[LAB_IFNAMSIZ];

	lab_ifname(l, br, "mbr");
	for (unsigned kind = 0; kind < LAB_HA_KINDS; kind++)
		for (uint32_t i = 0; i < l->ha.n[kind]; i++) {
			lab_ifname(l, ifn, "h%u", kind * LAB_HA_MAX + i);
			fprintf(f, "link set %s master %s\n", ifn, br);
			fprintf(f, "link set %s up\n", ifn);
		}
}

void lab_ha_script_ns(const struct lab *l, uint32_t which, FILE *f)
{
	char ifn[LAB_IFNAMSIZ], ip[16];

	lab_ifname(l, ifn, "mgmt");
	fprintf(f, "link set lo up\n");
	fprintf(f, "addr add %s/%u dev %s\n", lab_ip_str(lab_ha_ip(l, which), ip), l->mgmt_plen,
		ifn);
	fprintf(f, "link set %s up\n", ifn);
}

void lab_ha_etcd_urls(const struct lab *l, char *buf, size_t len)
{
	size_t off = 0;
	char ip[16];

	buf[0] = 0;
	for (uint32_t i = 0; i < l->ha.n[LAB_HA_ETCD] && off < len; i++)
		off += (size_t)snprintf(buf + off, len - off, "%shttp://%s:%u", i ? "," : "",
					lab_ip_str(lab_ha_ip(l, lab_ha_which(LAB_HA_ETCD, i)), ip),
					LAB_HA_ETCD_CLIENT);
}

/* ---- the daemons (lab/daemons.c's table) ------------------------------------- */
/* An etcd member: its settings in STATE/etcd/NAME.yaml (etcd's
 * --config-file; the cluster list does not fit an argument buffer), its
 * data in STATE/etcd/NAME/.  "--name P-etcdN" on the command line is how
 * the lab knows it (the file's name is the same). */
int lab_ha_etcd_args(const struct lab *l, const char *dir, uint32_t which, char **argv,
		     char (*b)[128])
{
	char name[16], ns[128], ip[16], path[300];
	uint32_t me = lab_ha_ip(l, which);
	FILE *f;
	int n = 0;

	lab_ha_name(which, name, sizeof(name));
	lab_ns(l, name, ns, sizeof(ns));
	snprintf(path, sizeof(path), "%s/etcd", dir);
	mkdir(path, 0700);
	snprintf(b[0], 128, "%s/etcd/%s.yaml", dir, name);
	snprintf(b[1], 128, "%s", ns);
	if ((f = fopen(b[0], "w"))) {
		fprintf(f, "name: %s\n", ns);
		fprintf(f, "data-dir: %s/etcd/%s\n", dir, name);
		lab_ip_str(me, ip);
		fprintf(f, "listen-client-urls: http://%s:%u\n", ip, LAB_HA_ETCD_CLIENT);
		fprintf(f, "advertise-client-urls: http://%s:%u\n", ip, LAB_HA_ETCD_CLIENT);
		fprintf(f, "listen-peer-urls: http://%s:%u\n", ip, LAB_HA_ETCD_PEER);
		fprintf(f, "initial-advertise-peer-urls: http://%s:%u\n", ip, LAB_HA_ETCD_PEER);
		fprintf(f, "initial-cluster: ");
		for (uint32_t i = 0; i < l->ha.n[LAB_HA_ETCD]; i++) {
			char other[16], ons[128];

			lab_ns(l, lab_ha_name(lab_ha_which(LAB_HA_ETCD, i), other, sizeof(other)),
			       ons, sizeof(ons));
			fprintf(f, "%s%s=http://%s:%u", i ? "," : "", ons,
				lab_ip_str(lab_ha_ip(l, lab_ha_which(LAB_HA_ETCD, i)), ip),
				LAB_HA_ETCD_PEER);
		}
		fprintf(f, "\ninitial-cluster-token: peregrine-%s\n", l->prefix);
		fprintf(f, "initial-cluster-state: new\n");
		fprintf(f, "heartbeat-interval: %d\n", LAB_HA_ETCD_HEARTBEAT_MS);
		fprintf(f, "election-timeout: %d\n", LAB_HA_ETCD_ELECTION_MS);
		/* the JSON API lib/etcd.c speaks (on by default, not in a file) */
		fprintf(f, "enable-grpc-gateway: true\n");
		fprintf(f, "logger: zap\nlog-outputs: [stderr]\n");
		fclose(f);
	}
	argv[n++] = "--config-file";
	argv[n++] = b[0];
	argv[n++] = "--name";
	argv[n++] = b[1];
	return n;
}

/* A directory server of the replicated directory: its registrations in
 * etcd, not in a file. */
int lab_ha_directory_args(const struct lab *l, const char *dir, uint32_t which, char **argv,
			  char (*b)[128])
{
	char ip[16], name[16];
	int n = 0;

	snprintf(b[0], 128, "%s:%u", lab_ip_str(lab_ha_ip(l, which), ip), LAB_DIR_PORT);
	snprintf(b[1], 128, "%s/key", dir);
	lab_ns(l, lab_ha_name(which, name, sizeof(name)), b[2], 128);
	argv[n++] = "--listen";
	argv[n++] = b[0];
	argv[n++] = "--key";
	argv[n++] = b[1];
	argv[n++] = "--etcd";
	lab_ha_etcd_urls(l, b[3], 128);
	argv[n++] = b[3];
	argv[n++] = "--name";
	argv[n++] = b[2];
	return n;
}

void lab_ha_dir_list(const struct lab *l, uint32_t first, char *buf, size_t len)
{
	uint32_t n = l->ha.n[LAB_HA_DIR];
	size_t off = 0;
	char ip[16];

	buf[0] = 0;
	for (uint32_t k = 0; k < n && off < len; k++) {
		uint32_t w = lab_ha_which(LAB_HA_DIR, (first + k) % n);

		off += (size_t)snprintf(buf + off, len - off, "%s%s:%u", k ? "," : "",
					lab_ip_str(lab_ha_ip(l, w), ip), LAB_DIR_PORT);
	}
}

/* A RAS process: it campaigns in etcd and leads or waits.  It tells the
 * directory server of its own number (modulo their count) about
 * availability, and the next ones when that one stops answering. */
int lab_ha_ras_args(const struct lab *l, const char *dir, uint32_t which, char **argv,
		    char (*b)[128])
{
	uint32_t d = (which & 0xff) % l->ha.n[LAB_HA_DIR];
	char ip[16], name[16];
	int n = 0;

	(void)dir;
	snprintf(b[0], 128, "%s", l->prefix);
	lab_ns(l, lab_ha_name(which, name, sizeof(name)), b[1], 128);
	snprintf(b[2], 128, "%s:%u", lab_ip_str(lab_ha_ip(l, which), ip), l->ras_port);
	lab_ha_dir_list(l, d, b[3], 128);
	lab_ha_etcd_urls(l, b[4], 128);
	snprintf(b[5], 128, "%d", LAB_HA_RAS_TTL_S);
	argv[n++] = "--lab";
	argv[n++] = b[0];
	argv[n++] = "--listen";
	argv[n++] = b[2];
	argv[n++] = "--directory";
	argv[n++] = b[3];
	argv[n++] = "--etcd";
	argv[n++] = b[4];
	argv[n++] = "--ha-ttl";
	argv[n++] = b[5];
	/* Direct routes of heavy pairs do not survive a take-over yet: the
	 * agents report traffic to one RAS address, and a new leader drops
	 * the direct entries it finds on dead ports without telling the
	 * agents to stop sending direct (docs/ha.md, "Known gaps"). */
	argv[n++] = "--no-direct";
	argv[n++] = "--name";
	argv[n++] = b[1];
	return n;
}

void lab_ha_agent_dirs(const struct lab *l, uint32_t node, struct agent_config *c)
{
	uint32_t n = l->ha.n[LAB_HA_DIR], first = l->topo->nodes[node].index % n;

	c->nmore_dirs = 0;
	for (uint32_t k = 0; k < n; k++) {
		uint32_t which = lab_ha_which(LAB_HA_DIR, (first + k) % n);
		struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(LAB_DIR_PORT),
					 .sin_addr.s_addr = htonl(lab_ha_ip(l, which)) };

		if (k == 0)
			c->directory = a;
		else if (c->nmore_dirs < AGENT_MAX_MORE_DIRS)
			c->more_dirs[c->nmore_dirs++] = a;
	}
	/* traffic reports: the first RAS (a standby drops them) */
	c->ras.sin_addr.s_addr = htonl(lab_ha_ip(l, lab_ha_which(LAB_HA_RAS, 0)));
}

/* ---- starting ---------------------------------------------------------------- */
static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* From the management namespace: until a write to etcd commits (a
 * leader is elected and a quorum answers). */
static int wait_etcd(const struct lab *l, void *arg)
{
	uint64_t deadline = now_ms() + LAB_HA_ETCD_WAIT_MS;
	char urls[256], err[160];
	struct etcd *e;
	int rc;

	(void)arg;
	lab_ha_etcd_urls(l, urls, sizeof(urls));
	if (!(e = etcd_new(urls, LAB_HA_ETCD_TRY_MS, err, sizeof(err))))
		return -EINVAL;
	do {
		rc = etcd_put(e, "/peregrine/lab/up", 17, "1", 1, 0, NULL);
		if (rc) {
			struct timespec ts = { 0, 100 * 1000000 };

			nanosleep(&ts, NULL);
		}
	} while (rc && now_ms() < deadline);
	etcd_free(e);
	return rc;
}

static int start_kind(const struct lab *l, enum lab_ha_kind kind, char *err, size_t errlen)
{
	for (uint32_t i = 0; i < l->ha.n[kind]; i++)
		if (lab_start_daemons(l, lab_ha_which(kind, i), err, errlen))
			return -1;
	return 0;
}

int lab_ha_start(const struct lab *l, char *err, size_t errlen)
{
	if (!lab_ha_on(l))
		return 0;
	if (start_kind(l, LAB_HA_ETCD, err, errlen) ||
	    lab_step("wait-etcd", "etcd", err, errlen))
		return -1;
	if (lab_in_mgmt(l, wait_etcd, NULL)) {
		snprintf(err, errlen, "etcd did not take a write within %d ms (see peregrine "
			 "lab logs etcd0)", LAB_HA_ETCD_WAIT_MS);
		return -1;
	}
	return start_kind(l, LAB_HA_DIR, err, errlen) || start_kind(l, LAB_HA_RAS, err, errlen)
		? -1 : 0;
}
