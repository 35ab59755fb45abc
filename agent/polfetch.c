/* The agent's half of the policy store (agent/polfetch.h). */
#include "agent/polfetch.h"

#include <stdlib.h>
#include <string.h>

struct fvm {
	uint32_t vdc, ip;
	uint32_t version;		/* in force; 0: none */
	uint64_t next_ms;		/* next check */
	/* a fetch under way: fversion != 0 */
	uint32_t fversion, total, got;
	uint8_t *buf;
};

struct polf {
	struct fvm *v;
	size_t n;
};

struct polf *polf_new(void)
{
	return xcalloc(1, sizeof(struct polf));
}

static void fetch_end(struct fvm *v)
{
	free(v->buf);
	v->buf = NULL;
	v->fversion = v->total = v->got = 0;
}

void polf_free(struct polf *f)
{
	if (!f)
		return;
	for (size_t i = 0; i < f->n; i++)
		fetch_end(&f->v[i]);
	free(f->v);
	free(f);
}

static struct fvm *find(const struct polf *f, uint32_t vdc, uint32_t ip)
{
	for (size_t i = 0; i < f->n; i++)	/* an agent hosts tens of VMs */
		if (f->v[i].vdc == vdc && f->v[i].ip == ip)
			return &f->v[i];
	return NULL;
}

size_t polf_set_vms(struct polf *f, const struct polf_vm_key *vms, size_t n)
{
	size_t keep = MIN(n, (size_t)POLF_VMS_MAX);
	struct fvm *nv = xcalloc(MAX(keep, (size_t)1), sizeof(*nv));

	for (size_t i = 0; i < keep; i++) {
		struct fvm *old = find(f, vms[i].vdc, vms[i].ip);

		if (old) {
			nv[i] = *old;
			old->buf = NULL;	/* moved */
			old->vdc = old->ip = UINT32_MAX;	/* a duplicate key takes it once */
			old->version = 0;
		} else {
			nv[i] = (struct fvm){ .vdc = vms[i].vdc, .ip = vms[i].ip };
		}
	}
	for (size_t i = 0; i < f->n; i++)
		free(f->v[i].buf);
	free(f->v);
	f->v = nv;
	f->n = keep;
	return n - keep;
}

uint32_t polf_version(const struct polf *f, uint32_t vdc, uint32_t ip)
{
	const struct fvm *v = find(f, vdc, ip);

	return v ? v->version : 0;
}

static void ask(struct fvm *v, uint32_t offset, struct polf_act *a)
{
	*a = (struct polf_act){ .kind = POLF_GET, .vdc = v->vdc, .ip = v->ip, .offset = offset };
}

void polf_input(struct polf *f, const struct dirp_pol *r, struct polf_act *a)
{
	struct fvm *v = find(f, r->vdc, r->ip);

	memset(a, 0, sizeof(*a));
	if (!v)
		return;				/* not a VM of ours (any more) */
	if (r->status == DIRP_NOT_FOUND) {
		fetch_end(v);
		if (v->version) {
			v->version = 0;
			*a = (struct polf_act){ .kind = POLF_REMOVE, .vdc = v->vdc, .ip = v->ip };
		}
		return;
	}
	if (r->status != DIRP_OK || r->version == 0)
		return;				/* the next check asks again */
	if (r->version == v->version) {
		fetch_end(v);			/* in force already */
		return;
	}
	if (r->offset == 0) {			/* a note, or a check: (re)start */
		fetch_end(v);
		v->fversion = r->version;
		v->total = r->total;
		v->buf = r->total ? xmalloc(r->total) : NULL;
	}
	if (r->version != v->fversion || r->total != v->total) {
		fetch_end(v);			/* changed while being read: again */
		ask(v, 0, a);
		return;
	}
	if (r->offset != v->got) {		/* a duplicate or a stray chunk */
		if (r->offset > v->got)
			ask(v, v->got, a);
		return;
	}
	if (r->len)
		memcpy(v->buf + v->got, r->data, r->len);
	v->got += r->len;
	if (v->got < v->total) {
		ask(v, v->got, a);
		return;
	}
	*a = (struct polf_act){ .kind = POLF_APPLY, .vdc = v->vdc, .ip = v->ip,
				.version = v->fversion, .text = v->buf, .len = v->total };
	v->version = v->fversion;
	v->buf = NULL;
	fetch_end(v);
}

size_t polf_due(struct polf *f, uint64_t now_ms, struct polf_act *a, size_t max)
{
	size_t k = 0;

	for (size_t i = 0; i < f->n && k < max; i++) {
		struct fvm *v = &f->v[i];

		if (v->next_ms > now_ms)
			continue;
		v->next_ms = now_ms + POLF_RECHECK_MS;
		ask(v, 0, &a[k++]);
	}
	return k;
}
