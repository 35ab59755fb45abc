/* The agent's security groups (cmd/agent_policy.h). */
#include "cmd/agent_policy.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/policy.h"
#include "agent/polfetch.h"
#include "dir/client_udp.h"
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

/* Compile text (from source: a file's path, or "the directory") and make it
 * the VM's policy: a new set beside the old one, one map update, the old
 * set deleted (connections the new rules still allow go on). */
static int install_text(const char *vm, uint32_t node, const char *source, const char *buf,
			size_t len, const struct pgr_pol_maps *m)
{
	uint32_t id = pgr_id_of(node, PGR_PRIMARY), cur = pgr_pol_current_set(m, id);
	struct pol_policy p;
	struct pol_compiled c;
	struct pol_error e;
	char err[400];
	int ret;

	pol_init(&p);
	ret = pol_parse_text(&p, source, buf, len, err, sizeof(err));
	if (ret) {
		log_warn("policy of %s: %s; keeping the one in force", vm, err);
		pol_free(&p);
		return -1;
	}
	if (pol_compile(&p, pgr_pol_next_set(id, cur), &c, &e)) {
		log_warn("policy of %s: %s:%u: %s: %s; keeping the one in force", vm,
			 source, e.line, e.field, e.msg);
		pol_free(&p);
		return -1;
	}
	ret = pgr_pol_apply(m, id, &c, NULL);
	if (!ret && cur)
		pgr_pol_delete_set(m, cur);
	if (ret)
		log_warn("policy of %s: install: %s", vm, strerror(-ret));
	else
		log_info("policy of %s: %zu rules, %zu entries (%s)", vm, p.nrules,
			 c.nport + c.npeer, source);
	pol_compiled_free(&c);
	pol_free(&p);
	return ret ? -1 : 0;
}

static int install(const struct agent_vm_cfg *v, const struct pgr_pol_maps *m)
{
	size_t len;
	char *buf = read_file(v->policy, &len);
	int ret;

	if (!buf) {
		log_warn("policy of %s: %s: %s", v->name, v->policy, strerror(errno));
		return -1;
	}
	ret = install_text(v->name, v->node, v->policy, buf, len, m);
	free(buf);
	return ret;
}

static void uninstall(const char *vm, uint32_t node, const struct pgr_pol_maps *m)
{
	uint32_t id = pgr_id_of(node, PGR_PRIMARY), cur = pgr_pol_current_set(m, id);

	pgr_pol_remove(m, id, NULL);
	if (cur)
		pgr_pol_delete_set(m, cur);
	log_info("policy of %s: removed", vm);
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

		if (!o->policy[0] || (n && n->policy[0]))
			continue;
		uninstall(o->name, o->node, m);
	}
	for (unsigned i = 0; i < c->nvms; i++)
		if (c->vms[i].policy[0] && install(&c->vms[i], m))
			failed++;
	return failed;
}

/* ---- policies from the directory ---------------------------------------------- */

struct agent_poldir {
	struct polf *f;
	struct dirc *c;
	const struct agent_config *cfg;		/* in force */
	agent_pol_maps_fn maps;
	void *arg;
	uint64_t applied, failed, removed;
};

struct agent_poldir *agent_poldir_new(struct dirc *c, agent_pol_maps_fn maps, void *arg)
{
	struct agent_poldir *d = xcalloc(1, sizeof(*d));

	d->f = polf_new();
	d->c = c;
	d->maps = maps;
	d->arg = arg;
	return d;
}

void agent_poldir_free(struct agent_poldir *d)
{
	if (!d)
		return;
	polf_free(d->f);
	free(d);
}

static const struct agent_vm_cfg *find_key(const struct agent_config *c, uint32_t vdc, uint32_t ip)
{
	for (unsigned i = 0; c && i < c->nvms; i++)
		if (c->vms[i].vdc == vdc && c->vms[i].ip == ip)
			return &c->vms[i];
	return NULL;
}

static void act(struct agent_poldir *d, const struct polf_act *a);

static void on_get_reply(void *arg, uint64_t id, const struct dirp_msg *m)
{
	struct agent_poldir *d = arg;
	struct polf_act a;
	struct dirp_pol r;

	(void)id;
	if (!m || m->h.count != 1)
		return;			/* the next check asks again */
	dirp_get_pol(m, 0, &r);
	polf_input(d->f, &r, &a);
	act(d, &a);
}

static void act(struct agent_poldir *d, const struct polf_act *a)
{
	const struct agent_vm_cfg *v = find_key(d->cfg, a->vdc, a->ip);
	struct pgr_pol_maps m;
	bool opened;

	if (a->kind == POLF_GET) {
		struct dirp_pol rq = { .vdc = a->vdc, .ip = a->ip, .offset = a->offset,
				       .xfer = a->offset ? 0 : DIRP_POL_WATCH };

		if (dirc_request(d->c, dir_now_sys(), DIRP_POL_GET, &rq, 1, on_get_reply, d) < 0)
			log_warn("policy: no room for a request to the directory; asking later");
		return;
	}
	if (a->kind == POLF_NONE || !v || d->maps(d->arg, &m, &opened)) {
		free(a->text);
		return;
	}
	if (a->kind == POLF_REMOVE) {
		uninstall(v->name, v->node, &m);
		d->removed++;
	} else if (install_text(v->name, v->node, "the directory's", (const char *)a->text,
				a->len, &m)) {
		d->failed++;
	} else {
		d->applied++;
	}
	free(a->text);
	if (opened)
		pgr_pol_maps_close(&m);
}

void agent_poldir_note(struct agent_poldir *d, const struct dirp_pol *r)
{
	struct polf_act a;

	polf_input(d->f, r, &a);
	act(d, &a);
}

void agent_poldir_tick(struct agent_poldir *d, uint64_t now_ms)
{
	struct polf_act a[64];
	size_t n = polf_due(d->f, now_ms, a, ARRAY_SIZE(a));

	for (size_t i = 0; i < n; i++)
		act(d, &a[i]);
}

void agent_poldir_sync(struct agent_poldir *d, const struct agent_config *old,
		       const struct agent_config *c, uint64_t now_ms)
{
	struct polf_vm_key *keys = xcalloc(MAX(c->nvms, 1u), sizeof(*keys));
	struct pgr_pol_maps m;
	size_t n = 0;
	bool opened;

	/* a VM gone, or given a file of its own, loses the directory's rules
	 * (the file's replace them: the file wins) */
	for (unsigned i = 0; old && i < old->nvms; i++) {
		const struct agent_vm_cfg *o = &old->vms[i], *nv = find_key(c, o->vdc, o->ip);

		if (o->policy[0] || !polf_version(d->f, o->vdc, o->ip) || (nv && !nv->policy[0]))
			continue;
		if (!nv && d->maps(d->arg, &m, &opened) == 0) {
			uninstall(o->name, o->node, &m);
			if (opened)
				pgr_pol_maps_close(&m);
		}
	}
	for (unsigned i = 0; i < c->nvms; i++)
		if (!c->vms[i].policy[0])
			keys[n++] = (struct polf_vm_key){ c->vms[i].vdc, c->vms[i].ip };
	if (polf_set_vms(d->f, keys, n))
		log_warn("policy: more than %d VMs; the rest get no policy from the directory",
			 POLF_VMS_MAX);
	free(keys);
	d->cfg = c;
	agent_poldir_tick(d, now_ms);
}
