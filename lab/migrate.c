/* VM migration in the lab, and the placement that survives it.
 *
 * A migration moves the server end of the VM's veth from the old server's
 * namespace into the new one's: the VM keeps its interface, addresses and
 * ARP cache, as a live-migrated VM would.  The lab then records the new
 * placement (STATE/placement, one "VM SERVER" line per VM that moved), so
 * every later command sees it, tells both servers' agents to re-read their
 * configuration (SIGHUP), and tells the RAS (wire/rasproto.h MOVED).  The
 * new agent registers the VM with the directory, which pushes the change to
 * every agent caching it: senders switch to the new server.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lab/run.h"
#include "lib/udp.h"
#include "wire/pgr.h"
#include "wire/rasproto.h"

enum migrate_limits {
	MIGRATE_ACK_TIMEOUT_MS = 100,
	MIGRATE_TRIES = 5,
};

static void placement_path(const struct lab *l, char *buf, size_t len)
{
	char dir[256];

	lab_state_dir(l->prefix, dir, sizeof(dir));
	snprintf(buf, len, "%s/placement", dir);
}

int lab_placement_load(struct lab *l, char *err, size_t errlen)
{
	char path[512], vm[LAB_MAX_VM_NAME + 1], srv[TOPO_MAX_NAME + 1];
	FILE *f;
	int line = 0;

	placement_path(l, path, sizeof(path));
	if (!(f = fopen(path, "r")))
		return errno == ENOENT ? 0 : -errno;
	while (fscanf(f, "%63s %63s", vm, srv) == 2) {
		uint32_t node;
		int v = -1;

		line++;
		lab_find(l, vm, &v);
		node = topo_find(l->topo, srv);
		if (v < 0 || node == UINT32_MAX || !topo_is_server(l->topo, node)) {
			snprintf(err, errlen, "%s:%d: unknown VM '%s' or server '%s'", path, line,
				 vm, srv);
			fclose(f);
			return -EINVAL;
		}
		l->vms[v].server = node;
	}
	fclose(f);
	return 0;
}

/* Rewrite STATE/placement with every VM's server (atomically). */
static int placement_save(const struct lab *l)
{
	char path[512], tmp[520];
	FILE *f;

	placement_path(l, path, sizeof(path));
	snprintf(tmp, sizeof(tmp), "%s.new", path);
	if (!(f = fopen(tmp, "w")))
		return -errno;
	for (uint32_t v = 0; v < l->nvms; v++)
		fprintf(f, "%s %s\n", l->vms[v].name, l->topo->nodes[l->vms[v].server].name);
	if (fflush(f) || fsync(fileno(f))) {
		fclose(f);
		return -EIO;
	}
	fclose(f);
	return rename(tmp, path) ? -errno : 0;
}

static int move_port(const struct lab *l, const struct lab_vm *vm, uint32_t from,
		     uint32_t to, char *err, size_t errlen)
{
	char port[LAB_IFNAMSIZ], ns_from[128], ns_to[128];
	/* One request: the kernel moves the port, then sets it up in its new
	 * namespace, so the VM is off the network for one command only. */
	char *mv[] = { "ip", "-n", ns_from, "link", "set", port, "netns", ns_to, "up", NULL };

	lab_ifname(l, port, "v%u", vm->id);
	lab_ns(l, l->topo->nodes[from].name, ns_from, sizeof(ns_from));
	lab_ns(l, l->topo->nodes[to].name, ns_to, sizeof(ns_to));
	return lab_run(mv, err, errlen) ? -EIO : 0;
}

struct moved_arg {
	struct rasp_moved mv;
	bool acked;
};

/* In the management namespace: MOVED to the RAS until it acknowledges. */
static int tell_ras(const struct lab *l, void *arg)
{
	struct moved_arg *m = arg;
	struct sockaddr_in any = { .sin_family = AF_INET }, ras = { .sin_family = AF_INET };
	struct rasp_hdr h = { .sender = LAB_TOOL_ID, .seq = wall_ns(), .time_ns = wall_ns() };
	uint8_t buf[256], in[256];
	struct auth_key key;
	char dir[256], path[512], err[256];
	int fd;
	size_t len;

	lab_state_dir(l->prefix, dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/key", dir);
	if (auth_key_load(path, &key, err, sizeof(err)))
		return -ENOENT;
	ras.sin_addr.s_addr = htonl(lab_mgmt_self_ip(l));
	ras.sin_port = htons(l->ras_port);
	if ((fd = udp_open(&any, 0)) < 0)
		return fd;
	len = rasp_enc_moved(buf, sizeof(buf), &h, &m->mv, &key);
	for (int i = 0; i < MIGRATE_TRIES && !m->acked && len; i++) {
		uint64_t until = mono_ns() + MIGRATE_ACK_TIMEOUT_MS * 1000000ull;

		sendto(fd, buf, len, 0, (struct sockaddr *)&ras, sizeof(ras));
		while (!m->acked && mono_ns() < until) {
			struct rasp_msg r;
			ssize_t n = recv(fd, in, sizeof(in), MSG_DONTWAIT);

			if (n <= 0) {
				usleep(1000);
				continue;
			}
			m->acked = rasp_decode(in, (size_t)n, &key, &r) == 0 &&
				   r.h.type == RASP_ACK && r.u.ack.acked == h.seq;
		}
	}
	close(fd);
	return 0;
}

/* Record where every VM runs: the placement file and both servers' agent
 * configurations (an agent that is not running reads it when it starts). */
static int placement_record(const struct lab *l, uint32_t from, uint32_t to)
{
	int rc = placement_save(l);

	lab_agent_config_write(l, from);
	lab_agent_config_write(l, to);
	return rc;
}

/* Both servers' agents re-read their configuration: the new one attaches
 * and registers the VM, the old one lets it go. */
static void lab_agents_reconfigure(const struct lab *l, uint32_t from, uint32_t to)
{
	uint32_t nodes[2] = { to, from };

	for (int i = 0; i < 2; i++) {
		pid_t pid = lab_daemon_pid(l, l->topo->nodes[nodes[i]].name, "agent");

		if (pid > 0)
			kill(pid, SIGHUP);
	}
}

int lab_migrate(struct lab *l, const char *vm_name, const char *server,
		struct lab_migration *res, char *err, size_t errlen)
{
	struct lab_migration none;
	struct moved_arg m = { 0 };
	uint32_t to, from;
	int v = -1;
	pid_t pid;

	if (!res)
		res = &none;
	memset(res, 0, sizeof(*res));
	lab_find(l, vm_name, &v);
	if (v < 0) {
		snprintf(err, errlen, "no VM '%s' in the lab", vm_name);
		return -EINVAL;
	}
	to = topo_find(l->topo, server);
	if (to == UINT32_MAX || !topo_is_server(l->topo, to)) {
		snprintf(err, errlen, "'%s' is not a server of the lab", server);
		return -EINVAL;
	}
	from = l->vms[v].server;
	if (from == to) {
		snprintf(err, errlen, "%s already runs on %s", vm_name, server);
		return -EINVAL;
	}
	/* Everything slow (files synced to disk) before the VM leaves its
	 * server; from the move to the agents' signal nothing waits. */
	l->vms[v].server = to;
	if (placement_record(l, from, to)) {
		l->vms[v].server = from;
		placement_record(l, to, from);
		snprintf(err, errlen, "the placement could not be saved; nothing moved");
		return -EIO;
	}
	res->detach_ns = wall_ns();
	if (move_port(l, &l->vms[v], from, to, err, errlen)) {
		l->vms[v].server = from;
		placement_record(l, to, from);
		return -EIO;
	}
	res->attach_ns = wall_ns();
	if (lab_scheme_moved(l, &l->vms[v], from, to, err, errlen))
		fprintf(stderr, "lab migrate: %s: %s\n", pgr_scheme_name(l->scheme), err);
	lab_agents_reconfigure(l, from, to);
	res->signal_ns = wall_ns();
	m.mv = (struct rasp_moved){ .vm_id = pgr_id_of(lab_vm_node(l, &l->vms[v]), 0),
				    .old_server = from, .new_server = to };
	if ((pid = lab_daemon_pid(l, "mgmt", "ras")) > 0) {
		lab_in_mgmt(l, tell_ras, &m);
		res->ras_told = true;
		res->ras_acked = m.acked;
		if (!m.acked)
			fprintf(stderr, "lab migrate: the RAS (pid %d) did not acknowledge "
				"the move\n", (int)pid);
	}
	return 0;
}
