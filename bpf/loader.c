/* The data plane's loader and its tables (see loader.h). */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <linux/magic.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bpf/loader.h"
#include "lib/log.h"
#include "from_net.skel.h"
#include "from_vm.skel.h"

struct pgr_dp_hook {
	uint32_t ifindex;
	bool created;		/* we made the clsact qdisc */
};

struct pgr_dp {
	struct from_vm *vm;
	struct from_net *net;
	struct pgr_dp_maps maps;
	struct pgr_pol_maps pol;	/* security groups (bpf/policy.h) */
	struct pgr_dp_hook hooks[PGR_DP_ATTACH_MAX];
	int nhooks;
	bool keep;
};

/* The shared maps, by name, in one order: pin names are the map names. */
static const char *const map_names[] = {
	"pgr_garp", "pgr_vms", "pgr_ports", "pgr_traffic", "pgr_stats", "pgr_events",
	"pgr_garp6", "pgr_vip_src", "pgr_mcast",
};

static int *map_slot(struct pgr_dp_maps *m, size_t i)
{
	int *slots[] = { &m->garp, &m->vms, &m->ports, &m->traffic, &m->stats, &m->events,
			 &m->garp6, &m->vip_src, &m->mcast };

	_Static_assert(ARRAY_SIZE(slots) == ARRAY_SIZE(map_names), "map table");
	return slots[i];
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char line[512];

	if (level == LIBBPF_DEBUG || (level == LIBBPF_INFO && log_get_level() < LOG_DEBUG))
		return 0;
	vsnprintf(line, sizeof(line), fmt, ap);
	line[strcspn(line, "\n")] = '\0';
	log_msg(level == LIBBPF_WARN ? LOG_WARN : LOG_DEBUG, "libbpf: %s", line);
	return 0;
}

/* Both objects use from_vm's maps: reuse them in from_net before its load. */
static int share_maps(struct pgr_dp *dp)
{
	for (size_t i = 0; i < ARRAY_SIZE(map_names); i++) {
		struct bpf_map *a = bpf_object__find_map_by_name(dp->vm->obj, map_names[i]);
		struct bpf_map *b = bpf_object__find_map_by_name(dp->net->obj, map_names[i]);
		int err;

		if (!a || !b)
			return -ENOENT;
		err = bpf_map__reuse_fd(b, bpf_map__fd(a));
		if (err)
			return err;
		*map_slot(&dp->maps, i) = bpf_map__fd(a);
	}
	for (size_t i = 0; i < ARRAY_SIZE(pgr_pol_map_names); i++) {
		struct bpf_map *a = bpf_object__find_map_by_name(dp->vm->obj, pgr_pol_map_names[i]);
		struct bpf_map *b = bpf_object__find_map_by_name(dp->net->obj, pgr_pol_map_names[i]);
		int err;

		if (!a || !b)
			return -ENOENT;
		err = bpf_map__reuse_fd(b, bpf_map__fd(a));
		if (err)
			return err;
		*pgr_pol_map_slot(&dp->pol, i) = bpf_map__fd(a);
	}
	return 0;
}

const struct pgr_pol_maps *pgr_dp_pol_maps(const struct pgr_dp *dp)
{
	return &dp->pol;
}

static int pin_all(struct pgr_dp *dp, const char *dir)
{
	char path[PGR_DP_PATH_MAX];
	int err;

	if (mkdir(dir, 0700) && errno != EEXIST)
		return -errno;
	for (size_t i = 0; i < ARRAY_SIZE(map_names); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, map_names[i]);
		err = bpf_obj_pin(*map_slot(&dp->maps, i), path);
		if (err)
			return -errno;
	}
	for (size_t i = 0; i < ARRAY_SIZE(pgr_pol_map_names); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, pgr_pol_map_names[i]);
		if (bpf_obj_pin(*pgr_pol_map_slot(&dp->pol, i), path))
			return -errno;
	}
	snprintf(path, sizeof(path), "%s/from_vm", dir);
	if (bpf_obj_pin(pgr_dp_from_vm_fd(dp), path))
		return -errno;
	snprintf(path, sizeof(path), "%s/from_net", dir);
	if (bpf_obj_pin(pgr_dp_from_net_fd(dp), path))
		return -errno;
	snprintf(path, sizeof(path), "%s/to_vm", dir);
	if (bpf_obj_pin(pgr_dp_to_vm_fd(dp), path))
		return -errno;
	return 0;
}

int pgr_dp_open(struct pgr_dp **out, const struct pgr_dp_opts *o, char *err, size_t errlen)
{
	struct pgr_dp *dp = xcalloc(1, sizeof(*dp));
	const char *step;
	int ret;

	libbpf_set_print(libbpf_print);
	step = "open from_vm";
	ret = -ENOMEM;
	dp->vm = from_vm__open();
	if (!dp->vm)
		goto fail;
	dp->vm->rodata->pgr_cfg = o->cfg;
	step = "size the traffic matrix";
	ret = -EINVAL;
	if (o->traffic_max && (o->traffic_max < PGR_DP_TRAFFIC_MIN ||
			       o->traffic_max > PGR_DP_TRAFFIC_MAX))
		goto fail;
	if (o->traffic_max &&
	    (ret = bpf_map__set_max_entries(dp->vm->maps.pgr_traffic, o->traffic_max)))
		goto fail;
	step = "load from_vm";
	ret = from_vm__load(dp->vm);
	if (ret)
		goto fail;
	step = "open from_net";
	ret = -ENOMEM;
	dp->net = from_net__open();
	if (!dp->net)
		goto fail;
	dp->net->rodata->pgr_cfg = o->cfg;
	step = "share maps";
	ret = share_maps(dp);
	if (ret)
		goto fail;
	step = "load from_net";
	ret = from_net__load(dp->net);
	if (ret)
		goto fail;
	step = "pin";
	if (o->pin_dir && (ret = pin_all(dp, o->pin_dir)))
		goto fail_unpin;
	*out = dp;
	return 0;
fail_unpin:
	pgr_dp_unpin(o->pin_dir);
fail:
	snprintf(err, errlen, "data plane: %s: %s", step, strerror(ret < 0 ? -ret : ret));
	pgr_dp_close(dp);
	return ret < 0 ? ret : -ret;
}

void pgr_dp_keep(struct pgr_dp *dp)
{
	dp->keep = true;
}

void pgr_dp_close(struct pgr_dp *dp)
{
	if (!dp)
		return;
	for (int i = dp->nhooks - 1; i >= 0 && !dp->keep; i--)
		pgr_dp_tc_detach(dp->hooks[i].ifindex, dp->hooks[i].created);
	from_net__destroy(dp->net);
	from_vm__destroy(dp->vm);
	free(dp);
}

const struct pgr_dp_maps *pgr_dp_maps(const struct pgr_dp *dp)
{
	return &dp->maps;
}

int pgr_dp_from_vm_fd(const struct pgr_dp *dp)
{
	return bpf_program__fd(dp->vm->progs.pgr_from_vm);
}

int pgr_dp_from_net_fd(const struct pgr_dp *dp)
{
	return bpf_program__fd(dp->net->progs.pgr_from_net);
}

int pgr_dp_to_vm_fd(const struct pgr_dp *dp)
{
	return bpf_program__fd(dp->vm->progs.pgr_to_vm);
}

/* ---- tc ------------------------------------------------------------------ */

static int tc_attach(int prog_fd, uint32_t ifindex, enum bpf_tc_attach_point where,
		     bool *created_hook)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = (int)ifindex, .attach_point = where);
	LIBBPF_OPTS(bpf_tc_opts, opts, .prog_fd = prog_fd, .handle = PGR_DP_TC_HANDLE,
		    .priority = PGR_DP_TC_PRIO, .flags = BPF_TC_F_REPLACE);
	int err = bpf_tc_hook_create(&hook);

	if (err && err != -EEXIST)
		return err;
	*created_hook = !err;
	err = bpf_tc_attach(&hook, &opts);
	if (err && *created_hook)
		bpf_tc_hook_destroy(&hook);
	return err;
}

int pgr_dp_tc_attach(int prog_fd, uint32_t ifindex, bool *created_hook)
{
	return tc_attach(prog_fd, ifindex, BPF_TC_INGRESS, created_hook);
}

int pgr_dp_tc_attach_port(int from_vm_fd, int to_vm_fd, uint32_t ifindex, bool *created_hook)
{
	bool dummy;
	int err = tc_attach(from_vm_fd, ifindex, BPF_TC_INGRESS, created_hook);

	if (err)
		return err;
	err = tc_attach(to_vm_fd, ifindex, BPF_TC_EGRESS, &dummy);
	if (err)
		pgr_dp_tc_detach(ifindex, *created_hook);
	return err;
}

bool pgr_dp_tc_attached(uint32_t ifindex)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = (int)ifindex, .attach_point = BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = PGR_DP_TC_HANDLE, .priority = PGR_DP_TC_PRIO);
	/* "not there" is an answer here, not something for libbpf to log */
	libbpf_print_fn_t was = libbpf_set_print(NULL);
	bool yes = bpf_tc_query(&hook, &opts) == 0 && opts.prog_id != 0;

	libbpf_set_print(was);
	return yes;
}

int pgr_dp_tc_detach(uint32_t ifindex, bool destroy_hook)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = (int)ifindex, .attach_point = BPF_TC_EGRESS);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = PGR_DP_TC_HANDLE, .priority = PGR_DP_TC_PRIO);
	int err;

	/* a VM port's egress hook (to_vm); a NIC has none */
	bpf_tc_detach(&hook, &opts);
	hook.attach_point = BPF_TC_INGRESS;
	err = bpf_tc_detach(&hook, &opts);

	if (destroy_hook) {
		/* Both hooks of the clsact qdisc go with it. */
		hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
		bpf_tc_hook_destroy(&hook);
	}
	return err;
}

static int attach(struct pgr_dp *dp, int prog_fd, int egress_fd, uint32_t ifindex)
{
	bool created;
	int err;

	if (dp->nhooks == PGR_DP_ATTACH_MAX)
		return -ENOSPC;
	err = egress_fd >= 0 ? pgr_dp_tc_attach_port(prog_fd, egress_fd, ifindex, &created)
			     : pgr_dp_tc_attach(prog_fd, ifindex, &created);
	if (err)
		return err;
	dp->hooks[dp->nhooks++] = (struct pgr_dp_hook){ .ifindex = ifindex, .created = created };
	return 0;
}

int pgr_dp_attach_vm(struct pgr_dp *dp, uint32_t ifindex)
{
	return attach(dp, pgr_dp_from_vm_fd(dp), pgr_dp_to_vm_fd(dp), ifindex);
}

int pgr_dp_attach_nic(struct pgr_dp *dp, uint32_t ifindex)
{
	return attach(dp, pgr_dp_from_net_fd(dp), -1, ifindex);
}

/* ---- pins ---------------------------------------------------------------- */

bool pgr_dp_pin_path(const char *name, char *out, size_t outlen)
{
	int n;

	if (!name[0] || strchr(name, '/') || !strcmp(name, ".") || !strcmp(name, ".."))
		return false;
	n = snprintf(out, outlen, "%s/%s", PGR_DP_PIN_ROOT, name);
	return n > 0 && (size_t)n < outlen && (size_t)n < PGR_DP_PATH_MAX - 16;
}

int pgr_dp_mount_bpffs(void)
{
	struct statfs st;

	if (statfs("/sys/fs/bpf", &st) == 0 && st.f_type == BPF_FS_MAGIC)
		goto root;
	if (mount("bpf", "/sys/fs/bpf", "bpf", 0, "mode=0700"))
		return -errno;
root:
	if (mkdir(PGR_DP_PIN_ROOT, 0700) && errno != EEXIST)
		return -errno;
	return 0;
}

void pgr_dp_maps_close(struct pgr_dp_maps *m)
{
	for (size_t i = 0; i < ARRAY_SIZE(map_names); i++) {
		int *fd = map_slot(m, i);

		if (*fd >= 0)
			close(*fd);
		*fd = -1;
	}
}

int pgr_dp_maps_open_pinned(const char *dir, struct pgr_dp_maps *m, char *err,
			    size_t errlen)
{
	char path[PGR_DP_PATH_MAX];

	for (size_t i = 0; i < ARRAY_SIZE(map_names); i++)
		*map_slot(m, i) = -1;
	for (size_t i = 0; i < ARRAY_SIZE(map_names); i++) {
		int fd;

		snprintf(path, sizeof(path), "%s/%s", dir, map_names[i]);
		fd = bpf_obj_get(path);
		if (fd < 0) {
			int e = errno;

			snprintf(err, errlen, "%s: %s", path, strerror(e));
			pgr_dp_maps_close(m);
			return -e;
		}
		*map_slot(m, i) = fd;
	}
	return 0;
}

int pgr_dp_prog_open_pinned(const char *dir, const char *prog)
{
	char path[PGR_DP_PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, prog);
	fd = bpf_obj_get(path);
	return fd < 0 ? -errno : fd;
}

int pgr_dp_unpin(const char *dir)
{
	static const char *const progs[] = { "from_vm", "from_net", "to_vm" };
	char path[PGR_DP_PATH_MAX];

	for (size_t i = 0; i < ARRAY_SIZE(map_names); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, map_names[i]);
		unlink(path);
	}
	for (size_t i = 0; i < ARRAY_SIZE(pgr_pol_map_names); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, pgr_pol_map_names[i]);
		unlink(path);
	}
	for (size_t i = 0; i < ARRAY_SIZE(progs); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, progs[i]);
		unlink(path);
	}
	return rmdir(dir) ? -errno : 0;
}

/* ---- tables ---------------------------------------------------------------- */

static int upd(int fd, const void *k, const void *v)
{
	return bpf_map_update_elem(fd, k, v, BPF_ANY) ? -errno : 0;
}

int pgr_dp_vm_add(const struct pgr_dp_maps *m, const struct pgr_vm *vm, uint32_t backup_id)
{
	int err;

	if (!pgr_mac_valid(vm->mac) || pgr_mac_id(vm->mac) != vm->id ||
	    !pgr_id_valid(backup_id) || (vm->flags & ~PGR_VM_ROUTER))
		return -EINVAL;
	if ((err = upd(m->vms, &vm->id, vm)) || (err = upd(m->vms, &backup_id, vm)) ||
	    (err = upd(m->ports, &vm->ifindex, vm)))
		return err;
	return 0;
}

int pgr_dp_vm_del(const struct pgr_dp_maps *m, const struct pgr_vm *vm, uint32_t backup_id)
{
	int err = 0;

	if (bpf_map_delete_elem(m->ports, &vm->ifindex))
		err = -errno;
	if (bpf_map_delete_elem(m->vms, &backup_id))
		err = -errno;
	if (bpf_map_delete_elem(m->vms, &vm->id))
		err = -errno;
	return err;
}

int pgr_dp_garp_set(const struct pgr_dp_maps *m, const struct pgr_garp_key *k,
		    const struct pgr_garp_entry *g)
{
	for (int t = 0; t < PGR_TREES; t++)
		if (!pgr_mac_valid(g->vm_mac[t]) || !pgr_mac_valid(g->im_mac[t]))
			return -EINVAL;
	return upd(m->garp, k, g);
}

int pgr_dp_garp6_set(const struct pgr_dp_maps *m, const struct pgr_garp6_key *k,
		     const struct pgr_garp_entry *g)
{
	for (int t = 0; t < PGR_TREES; t++)
		if (!pgr_mac_valid(g->vm_mac[t]) || !pgr_mac_valid(g->im_mac[t]))
			return -EINVAL;
	return upd(m->garp6, k, g);
}

int pgr_dp_garp6_del(const struct pgr_dp_maps *m, const struct pgr_garp6_key *k)
{
	return bpf_map_delete_elem(m->garp6, k) ? -errno : 0;
}

int pgr_dp_mcast_set(const struct pgr_dp_maps *m, const struct pgr_mcast_key *k,
		     const struct pgr_mcast_entry *e)
{
	if (e->nsrv > PGR_MCAST_SERVERS || e->nlocal > PGR_MCAST_LOCAL)
		return -EINVAL;
	for (unsigned i = 0; i < e->nsrv; i++)
		for (int t = 0; t < PGR_TREES; t++)
			if (!pgr_mac_valid(e->srv[i].im_mac[t]) || !pgr_mac_valid(e->srv[i].vm_mac))
				return -EINVAL;
	return upd(m->mcast, k, e);
}

int pgr_dp_mcast_del(const struct pgr_dp_maps *m, const struct pgr_mcast_key *k)
{
	return bpf_map_delete_elem(m->mcast, k) ? -errno : 0;
}

int pgr_dp_garp_del(const struct pgr_dp_maps *m, const struct pgr_garp_key *k)
{
	return bpf_map_delete_elem(m->garp, k) ? -errno : 0;
}

int pgr_dp_vip_src_set(const struct pgr_dp_maps *m, const struct pgr_vip_src_key *k,
		       const struct pgr_vip_src *v)
{
	for (int t = 0; t < PGR_TREES; t++)
		if (wire_mac_is_group(v->edge_mac[t]) || wire_mac_is_zero(v->edge_mac[t]) ||
		    wire_mac_is_group(v->im_mac[t]) ||
		    wire_mac_is_zero(v->im_mac[t]) != wire_mac_is_zero(v->im_mac[0]))
			return -EINVAL;
	if (v->pad[0] || v->pad[1] || v->pad[2] || !v->vdc)
		return -EINVAL;
	return upd(m->vip_src, k, v);
}

int pgr_dp_vip_src_del(const struct pgr_dp_maps *m, const struct pgr_vip_src_key *k)
{
	return bpf_map_delete_elem(m->vip_src, k) ? -errno : 0;
}

static int ncpus(void)
{
	int n = libbpf_num_possible_cpus();

	return n > 0 ? n : 1;
}

int pgr_counters_read(int map_fd, uint32_t n, struct pgr_counter *out)
{
	int ncpu = ncpus();
	struct pgr_counter *per = xcalloc((size_t)ncpu, sizeof(*per));

	for (uint32_t s = 0; s < n; s++) {
		out[s] = (struct pgr_counter){ 0 };
		if (bpf_map_lookup_elem(map_fd, &s, per)) {
			int e = errno;

			free(per);
			return -e;
		}
		for (int c = 0; c < ncpu; c++) {
			out[s].packets += per[c].packets;
			out[s].bytes += per[c].bytes;
		}
	}
	free(per);
	return 0;
}

int pgr_dp_stats_read(const struct pgr_dp_maps *m, struct pgr_counter *out)
{
	return pgr_counters_read(m->stats, PGR_STAT_COUNT, out);
}

static const char *const stat_upper[PGR_STAT_COUNT] = {
#define PGR_STAT_NAME(name, desc) #name,
	PGR_STATS(PGR_STAT_NAME)
#undef PGR_STAT_NAME
};

static const char *const stat_desc[PGR_STAT_COUNT] = {
#define PGR_STAT_DESC(name, desc) desc,
	PGR_STATS(PGR_STAT_DESC)
#undef PGR_STAT_DESC
};

const char *pgr_dp_stat_name(enum pgr_stat s)
{
	static char lower[PGR_STAT_COUNT][32];

	if ((unsigned)s >= PGR_STAT_COUNT)
		return "?";
	if (!lower[s][0]) {
		for (size_t i = 0; stat_upper[s][i] && i < sizeof(lower[s]) - 1; i++)
			lower[s][i] = (char)tolower((unsigned char)stat_upper[s][i]);
	}
	return lower[s];
}

const char *pgr_dp_stat_desc(enum pgr_stat s)
{
	return (unsigned)s < PGR_STAT_COUNT ? stat_desc[s] : "?";
}

int pgr_dp_traffic_walk(const struct pgr_dp_maps *m,
			int (*fn)(const struct pgr_pair *, const struct pgr_counter *, void *),
			void *arg)
{
	int n = ncpus(), count = 0;
	struct pgr_counter *per = xcalloc((size_t)n, sizeof(*per));
	struct pgr_pair key, next;
	const struct pgr_pair *prev = NULL;

	while (bpf_map_get_next_key(m->traffic, prev, &next) == 0) {
		struct pgr_counter sum = { 0 };

		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(m->traffic, &key, per))
			continue;	/* evicted meanwhile */
		for (int c = 0; c < n; c++) {
			sum.packets += per[c].packets;
			sum.bytes += per[c].bytes;
		}
		count++;
		if (fn(&key, &sum, arg))
			break;
	}
	free(per);
	return count;
}
