/* The daemons a lab starts on its nodes.
 *
 * One entry per daemon: where it runs and its command line.  switchd runs
 * on every switch.  The directory and the RAS (LAB_ON_MGMT, in the
 * management namespace at lab_mgmt_self_ip) and the host agent
 * (LAB_ON_SERVER) are added here when they exist; lab/run.c starts, records
 * and stops whatever this table lists, in table order.
 */
#include "lab/run.h"

#include <stdio.h>

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

const struct lab_daemon lab_daemons[] = {
	{ "directory", LAB_ON_MGMT, directory_args },
	{ "switchd", LAB_ON_SWITCH, switchd_args },
	{ "ras", LAB_ON_MGMT, ras_args },
	/* { "agent", LAB_ON_SERVER, agent_args },         issue: end to end */
};
const size_t lab_ndaemons = ARRAY_SIZE(lab_daemons);
