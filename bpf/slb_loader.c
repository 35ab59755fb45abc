/* The load balancer's loader and its tables (see slb_loader.h). */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/if_link.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bpf/slb_loader.h"
#include "lib/common.h"
#include "slb.skel.h"

struct pgr_slb_dp {
	struct slb *skel;
	struct pgr_slb_maps maps;
	uint32_t ifindex;	/* attached to (0: none) */
	uint32_t xdp_flags;
};

int pgr_slb_dp_open(struct pgr_slb_dp **out, const struct pgr_slb_dp_opts *o, char *err,
		    size_t errlen)
{
	struct pgr_slb_dp *dp = xcalloc(1, sizeof(*dp));
	const char *step = "open";
	int ret = -ENOMEM;

	dp->skel = slb__open();
	if (!dp->skel)
		goto fail;
	dp->skel->rodata->pgr_slb_cfg = o->cfg;
	step = "size the connection table";
	ret = -EINVAL;
	if (o->conns_max && (o->conns_max < PGR_SLB_CONNS_MIN || o->conns_max > PGR_SLB_CONNS_MAX))
		goto fail;
	if (o->conns_max &&
	    ((ret = bpf_map__set_max_entries(dp->skel->maps.slb_conns, o->conns_max)) ||
	     (ret = bpf_map__set_max_entries(dp->skel->maps.slb_new, o->conns_max))))
		goto fail;
	step = "load";
	ret = slb__load(dp->skel);
	if (ret)
		goto fail;
	dp->maps = (struct pgr_slb_maps){
		.vips = bpf_map__fd(dp->skel->maps.slb_vips),
		.tables = bpf_map__fd(dp->skel->maps.slb_tables),
		.backends = bpf_map__fd(dp->skel->maps.slb_backends),
		.conns = bpf_map__fd(dp->skel->maps.slb_conns),
		.news = bpf_map__fd(dp->skel->maps.slb_new),
		.stats = bpf_map__fd(dp->skel->maps.slb_stats),
		.backend_stats = bpf_map__fd(dp->skel->maps.slb_backend_stats),
	};
	*out = dp;
	return 0;
fail:
	snprintf(err, errlen, "slb data plane: %s: %s", step, strerror(ret < 0 ? -ret : ret));
	pgr_slb_dp_close(dp);
	return ret < 0 ? ret : -ret;
}

void pgr_slb_dp_close(struct pgr_slb_dp *dp)
{
	if (!dp)
		return;
	if (dp->ifindex)
		bpf_xdp_detach((int)dp->ifindex, dp->xdp_flags, NULL);
	slb__destroy(dp->skel);
	free(dp);
}

const struct pgr_slb_maps *pgr_slb_dp_maps(const struct pgr_slb_dp *dp)
{
	return &dp->maps;
}

int pgr_slb_dp_prog_fd(const struct pgr_slb_dp *dp)
{
	return bpf_program__fd(dp->skel->progs.pgr_slb);
}

int pgr_slb_dp_attach(struct pgr_slb_dp *dp, uint32_t ifindex, bool generic)
{
	uint32_t flags = XDP_FLAGS_DRV_MODE;
	int err = -EOPNOTSUPP;

	if (dp->ifindex)
		return -EBUSY;
	if (!generic)
		err = bpf_xdp_attach((int)ifindex, pgr_slb_dp_prog_fd(dp), flags, NULL);
	if (err) {
		flags = XDP_FLAGS_SKB_MODE;
		err = bpf_xdp_attach((int)ifindex, pgr_slb_dp_prog_fd(dp), flags, NULL);
	}
	if (err)
		return err;
	dp->ifindex = ifindex;
	dp->xdp_flags = flags;
	return 0;
}

/* ---- tables -------------------------------------------------------------- */

int pgr_slb_vip_set(const struct pgr_slb_maps *m, const struct pgr_slb_vip_key *k,
		    const struct pgr_slb_vip *v)
{
	struct pgr_slb_vip_key marker = { .ip = k->ip };
	struct pgr_slb_vip none = { .table = PGR_SLB_NONE };

	if (!k->port || !k->proto || k->pad || v->table >= PGR_SLB_VIPS_MAX)
		return -EINVAL;
	if (bpf_map_update_elem(m->vips, &marker, &none, BPF_ANY))
		return -errno;
	return bpf_map_update_elem(m->vips, k, v, BPF_ANY) ? -errno : 0;
}

int pgr_slb_vip_del(const struct pgr_slb_maps *m, const struct pgr_slb_vip_key *k, bool last)
{
	struct pgr_slb_vip_key marker = { .ip = k->ip };

	if (bpf_map_delete_elem(m->vips, k) && errno != ENOENT)
		return -errno;
	if (last && bpf_map_delete_elem(m->vips, &marker) && errno != ENOENT)
		return -errno;
	return 0;
}

int pgr_slb_table_set(const struct pgr_slb_maps *m, uint32_t t, const uint32_t *slots)
{
	uint32_t *keys;
	uint32_t n = PGR_SLB_RING;
	int err = 0;

	if (t >= PGR_SLB_VIPS_MAX)
		return -EINVAL;
	keys = xcalloc(n, sizeof(*keys));
	for (uint32_t i = 0; i < n; i++)
		keys[i] = t * PGR_SLB_RING + i;
	if (bpf_map_update_batch(m->tables, keys, slots, &n, NULL)) {
		/* kernels without batch operations on arrays: one by one */
		for (uint32_t i = 0; i < PGR_SLB_RING && !err; i++)
			if (bpf_map_update_elem(m->tables, &keys[i], &slots[i], BPF_ANY))
				err = -errno;
	}
	free(keys);
	return err;
}

int pgr_slb_backend_set(const struct pgr_slb_maps *m, uint32_t idx,
			const struct pgr_slb_backend *be)
{
	if (idx >= PGR_SLB_BACKENDS_MAX)
		return -EINVAL;
	for (int t = 0; t < PGR_TREES; t++)
		if (!pgr_mac_valid(be->vm_mac[t]) || !pgr_mac_valid(be->im_mac[t]))
			return -EINVAL;
	return bpf_map_update_elem(m->backends, &idx, be, BPF_ANY) ? -errno : 0;
}

/* ---- counters ------------------------------------------------------------ */

static int percpu_sum(int fd, uint32_t key, struct pgr_slb_counter *out)
{
	int ncpu = libbpf_num_possible_cpus();
	struct pgr_slb_counter *v;

	if (ncpu <= 0)
		return -EINVAL;
	v = xcalloc((size_t)ncpu, sizeof(*v));
	if (bpf_map_lookup_elem(fd, &key, v)) {
		int e = errno;

		free(v);
		return -e;
	}
	*out = (struct pgr_slb_counter){ 0 };
	for (int c = 0; c < ncpu; c++) {
		out->packets += v[c].packets;
		out->bytes += v[c].bytes;
	}
	free(v);
	return 0;
}

int pgr_slb_stats_read(const struct pgr_slb_maps *m, struct pgr_slb_counter *out)
{
	for (uint32_t s = 0; s < PGR_SLB_STAT_COUNT; s++) {
		int err = percpu_sum(m->stats, s, &out[s]);

		if (err)
			return err;
	}
	return 0;
}

int pgr_slb_backend_stats_read(const struct pgr_slb_maps *m, uint32_t idx,
			       struct pgr_slb_counter *out)
{
	return percpu_sum(m->backend_stats, idx, out);
}

static const char *const stat_names[] = {
#define PGR_SLB_STAT_NAME(name, desc) #name,
	PGR_SLB_STATS(PGR_SLB_STAT_NAME)
#undef PGR_SLB_STAT_NAME
};

static const char *const stat_descs[] = {
#define PGR_SLB_STAT_DESC(name, desc) desc,
	PGR_SLB_STATS(PGR_SLB_STAT_DESC)
#undef PGR_SLB_STAT_DESC
};

const char *pgr_slb_stat_name(enum pgr_slb_stat s)
{
	static char lower[PGR_SLB_STAT_COUNT][32];

	if ((unsigned)s >= PGR_SLB_STAT_COUNT)
		return "?";
	if (!lower[s][0]) {
		for (size_t i = 0; stat_names[s][i] && i + 1 < sizeof(lower[s]); i++)
			lower[s][i] = (char)tolower((unsigned char)stat_names[s][i]);
	}
	return lower[s];
}

const char *pgr_slb_stat_desc(enum pgr_slb_stat s)
{
	return (unsigned)s < PGR_SLB_STAT_COUNT ? stat_descs[s] : "?";
}
