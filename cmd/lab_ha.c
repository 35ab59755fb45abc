/* `peregrine lab status` of a lab with a replicated control plane: the
 * etcd members, directory servers and RAS processes, and who leads (the
 * RAS leader key in etcd, read from the management namespace). */
#include "cmd/lab_ha.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/ras_ha.h"
#include "lab/run.h"
#include "lib/json.h"

struct leader {
	char value[RAS_HA_VALUE_MAX + 32];
	int rc;
};

static int read_leader(const struct lab *l, void *arg)
{
	struct leader *ld = arg;
	char urls[256];

	lab_ha_etcd_urls(l, urls, sizeof(urls));
	ld->rc = ras_ha_leader(urls, ld->value, sizeof(ld->value));
	return 0;
}

static json_t *members(const struct lab *l, enum lab_ha_kind kind, const char *daemon,
		       const char *leader)
{
	json_t *a = json_array();

	for (uint32_t i = 0; i < l->ha.n[kind]; i++) {
		uint32_t which = lab_ha_which(kind, i);
		char name[16], ns[128], ip[16];
		json_t *o = json_object();
		pid_t pid;

		lab_ha_name(which, name, sizeof(name));
		lab_ns(l, name, ns, sizeof(ns));
		pid = lab_daemon_pid(l, name, daemon);
		JSET(o, "name", JSTR(name));
		JSET(o, "address", JSTR(lab_ip_str(lab_ha_ip(l, which), ip)));
		JSET(o, "pid", pid ? JINT(pid) : json_null());
		if (kind == LAB_HA_RAS)	/* the leader key's value starts with its --name */
			JSET(o, "leader", json_boolean(leader && !strncmp(leader, ns, strlen(ns)) &&
						       leader[strlen(ns)] == ' '));
		json_array_append_new(a, o);
	}
	return a;
}

json_t *lab_ha_status_json(const struct lab *l)
{
	struct leader ld = { .rc = -1 };
	const char *leader = NULL;
	json_t *j;

	if (!lab_ha_on(l))
		return NULL;
	lab_in_mgmt(l, read_leader, &ld);
	if (ld.rc == 1)
		leader = ld.value;
	j = json_object();
	JSET(j, "etcd", members(l, LAB_HA_ETCD, "etcd", NULL));
	JSET(j, "directories", members(l, LAB_HA_DIR, "directory", NULL));
	JSET(j, "ras", members(l, LAB_HA_RAS, "ras", leader));
	if (leader) {
		/* "NAME ADDR:PORT TERM" */
		const char *sp = strchr(leader, ' '), *last = strrchr(leader, ' ');

		JSET(j, "ras_leader", json_stringn(leader, sp ? (size_t)(sp - leader) : strlen(leader)));
		JSET(j, "ras_term", JINT(last ? strtoll(last + 1, NULL, 10) : 0));
	} else {
		JSET(j, "ras_leader", json_null());
		JSET(j, "ras_term", json_null());
	}
	JSET(j, "etcd_reachable", json_boolean(ld.rc >= 0));
	return j;
}

void lab_ha_status_print(const json_t *ha)
{
	static const char *const groups[] = { "etcd", "directories", "ras" };
	json_t *o;
	size_t i;

	if (!ha)
		return;
	printf("control plane (replicated):\n");
	for (size_t g = 0; g < 3; g++)
		json_array_foreach(json_object_get(ha, groups[g]), i, o) {
			json_t *pid = json_object_get(o, "pid");

			printf("  %-8s %-15s %s%s\n", json_string_value(json_object_get(o, "name")),
			       json_string_value(json_object_get(o, "address")),
			       json_is_integer(pid) ? "running" : "stopped",
			       json_is_true(json_object_get(o, "leader")) ? ", leads" : "");
		}
	if (json_is_string(json_object_get(ha, "ras_leader")))
		printf("  RAS leader %s, term %lld\n",
		       json_string_value(json_object_get(ha, "ras_leader")),
		       (long long)json_integer_value(json_object_get(ha, "ras_term")));
	else
		printf("  RAS leader: none%s\n", json_is_true(json_object_get(ha, "etcd_reachable"))
		       ? "" : " known (etcd unreachable)");
}
