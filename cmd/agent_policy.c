/* The agent's security groups (cmd/agent_policy.h). */
#include "cmd/agent_policy.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/policy.h"
#include "lib/log.h"
#include "wire/pgr.h"

enum { AGENT_POLICY_FILE_MAX = 4 << 20 };	/* bytes of a policy file */

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "r");
	char *buf;

	if (!f)
		return NULL;
	buf = malloc(AGENT_POLICY_FILE_MAX + 1);
	*len = buf ? fread(buf, 1, AGENT_POLICY_FILE_MAX + 1, f) : 0;
	fclose(f);
	if (buf && *len > AGENT_POLICY_FILE_MAX) {
		free(buf);
		errno = EFBIG;
		return NULL;
	}
	return buf;
}

static int install(const struct agent_vm_cfg *v, const struct pgr_pol_maps *m)
{
	uint32_t id = pgr_id_of(v->node, PGR_PRIMARY), cur = pgr_pol_current_set(m, id);
	struct pol_policy p;
	struct pol_compiled c;
	struct pol_error e;
	char err[400];
	size_t len;
	char *buf = read_file(v->policy, &len);
	int ret;

	if (!buf) {
		log_warn("policy of %s: %s: %s", v->name, v->policy, strerror(errno));
		return -1;
	}
	pol_init(&p);
	ret = pol_parse_text(&p, v->policy, buf, len, err, sizeof(err));
	free(buf);
	if (ret) {
		log_warn("policy of %s: %s; keeping the one in force", v->name, err);
		pol_free(&p);
		return -1;
	}
	if (pol_compile(&p, pgr_pol_next_set(id, cur), &c, &e)) {
		log_warn("policy of %s: %s:%u: %s: %s; keeping the one in force", v->name,
			 v->policy, e.line, e.field, e.msg);
		pol_free(&p);
		return -1;
	}
	ret = pgr_pol_apply(m, id, &c, NULL);
	if (!ret && cur)
		pgr_pol_delete_set(m, cur);
	if (ret)
		log_warn("policy of %s: install: %s", v->name, strerror(-ret));
	else
		log_info("policy of %s: %zu rules, %zu entries", v->name, p.nrules,
			 c.nport + c.npeer);
	pol_compiled_free(&c);
	pol_free(&p);
	return ret ? -1 : 0;
}

static const struct agent_vm_cfg *find(const struct agent_config *c, uint32_t node)
{
	for (unsigned i = 0; c && i < c->nvms; i++)
		if (c->vms[i].node == node)
			return &c->vms[i];
	return NULL;
}

int agent_policy_sync(const struct agent_config *old, const struct agent_config *c,
		      const struct pgr_pol_maps *m)
{
	int failed = 0;

	for (unsigned i = 0; old && i < old->nvms; i++) {
		const struct agent_vm_cfg *o = &old->vms[i], *n = find(c, o->node);
		uint32_t id = pgr_id_of(o->node, PGR_PRIMARY), cur;

		if (!o->policy[0] || (n && n->policy[0]))
			continue;
		cur = pgr_pol_current_set(m, id);
		pgr_pol_remove(m, id, NULL);
		if (cur)
			pgr_pol_delete_set(m, cur);
		log_info("policy of %s: removed", o->name);
	}
	for (unsigned i = 0; i < c->nvms; i++)
		if (c->vms[i].policy[0] && install(&c->vms[i], m))
			failed++;
	return failed;
}
