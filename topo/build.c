/* The builders: leaf-spine, VL2 Clos, k-ary fat-tree and BCube.
 *
 * Each builder validates its parameters, checks the size against the limits
 * before allocating, and adds links in an order that fixes port numbers
 * (uplinks first, then downlinks): topo/README.md lists the conventions.
 */
#include "topo/topo.h"

#include <errno.h>
#include <stdio.h>

/* Default capacities, Mbit/s.  Leaf-spine follows a current fabric (10G
 * servers, 40G uplinks); VL2 its paper (1G servers, 10G switch links); the
 * fat-tree and BCube papers use 1G links throughout. */
#define LS_ACCESS_MBPS 10000
#define LS_UPLINK_MBPS 40000
#define VL2_ACCESS_MBPS 1000
#define VL2_FABRIC_MBPS 10000
#define FT_MBPS 1000
#define BCUBE_MBPS 1000

static int too_big(uint64_t nodes, uint64_t links, char *err, size_t errlen)
{
	if (nodes <= TOPO_MAX_NODES && links <= TOPO_MAX_LINKS)
		return 0;
	snprintf(err, errlen, "too large: %llu nodes and %llu links (limits %u and %u)",
		 (unsigned long long)nodes, (unsigned long long)links,
		 TOPO_MAX_NODES, TOPO_MAX_LINKS);
	return -E2BIG;
}

static int bad_ports(uint64_t ports, const char *what, char *err, size_t errlen)
{
	if (ports <= TOPO_MAX_PORTS)
		return 0;
	snprintf(err, errlen, "%s would need %llu ports (at most %u)", what,
		 (unsigned long long)ports, TOPO_MAX_PORTS);
	return -E2BIG;
}

static uint32_t add_sw(struct topo *t, enum topo_role role, uint8_t level,
		       uint64_t ports, const char *fmt, uint32_t a, uint32_t b)
{
	char name[TOPO_MAX_NAME + 1];

	snprintf(name, sizeof(name), fmt, a, b);
	return topo_add_switch(t, role, level, (uint16_t)ports, TOPO_DEFAULT_FIB, name);
}

static uint32_t add_srv(struct topo *t, uint16_t nics)
{
	char name[TOPO_MAX_NAME + 1];

	snprintf(name, sizeof(name), "srv%u", t->nservers);
	return topo_add_server(t, nics, name);
}

int topo_build_leafspine(struct topo **out, uint32_t spines, uint32_t leaves,
			 uint32_t per_leaf, uint32_t homing, char *err, size_t errlen)
{
	uint64_t nsrv = (uint64_t)leaves * per_leaf;
	uint64_t leaf_ports = spines + (uint64_t)per_leaf * homing;
	struct topo *t;
	uint32_t spine0, leaf0;
	int ret;

	if (homing != 1 && homing != 2) {
		snprintf(err, errlen, "homing must be 1 or 2");
		return -EINVAL;
	}
	if (homing == 2 && leaves % 2) {
		snprintf(err, errlen, "homing=2 pairs the leaves: leaves must be even, got %u",
			 leaves);
		return -EINVAL;
	}
	if ((ret = too_big(spines + leaves + nsrv,
			   (uint64_t)spines * leaves + nsrv * homing, err, errlen)) ||
	    (ret = bad_ports(leaf_ports, "a leaf", err, errlen)) ||
	    (ret = bad_ports(leaves, "a spine", err, errlen)))
		return ret;

	t = topo_new(FAM_LEAFSPINE, "leafspine");
	t->p.spines = spines;
	t->p.leaves = leaves;
	t->p.per_leaf = per_leaf;
	t->p.homing = homing;
	t->server_symmetric = true;
	spine0 = t->nnodes;
	for (uint32_t s = 0; s < spines; s++)
		add_sw(t, ROLE_SPINE, 2, leaves, "spine%u", s, 0);
	leaf0 = t->nnodes;
	for (uint32_t l = 0; l < leaves; l++)
		add_sw(t, ROLE_LEAF, 1, leaf_ports, "leaf%u", l, 0);
	for (uint32_t l = 0; l < leaves; l++)
		for (uint32_t s = 0; s < spines; s++)
			topo_add_link(t, leaf0 + l, spine0 + s, LS_UPLINK_MBPS);
	/* Servers: M per leaf.  With homing=2 the servers of leaves 2p and
	 * 2p+1 each attach to both: NIC 0 to leaf 2p, NIC 1 to leaf 2p+1. */
	for (uint32_t l = 0; l < leaves; l++) {
		for (uint32_t m = 0; m < per_leaf; m++) {
			uint32_t srv = add_srv(t, (uint16_t)homing);

			if (homing == 1) {
				topo_add_link(t, srv, leaf0 + l, LS_ACCESS_MBPS);
			} else {
				uint32_t first = leaf0 + (l & ~1u);

				topo_add_link(t, srv, first, LS_ACCESS_MBPS);
				topo_add_link(t, srv, first + 1, LS_ACCESS_MBPS);
			}
		}
	}
	topo_finish(t);
	*out = t;
	return 0;
}

int topo_build_vl2(struct topo **out, uint32_t da, uint32_t di, uint32_t per_tor,
		   char *err, size_t errlen)
{
	uint32_t nint = da / 2, ntor = (uint32_t)((uint64_t)da * di / 4);
	uint64_t nsrv = (uint64_t)ntor * per_tor;
	struct topo *t;
	uint32_t int0, agg0, tor0;
	int ret;

	if (da % 2 || di % 2) {
		snprintf(err, errlen, "da and di must be even, got da=%u di=%u", da, di);
		return -EINVAL;
	}
	if ((ret = too_big(nint + di + ntor + nsrv,
			   (uint64_t)nint * di + (uint64_t)ntor * 2 + nsrv, err, errlen)) ||
	    (ret = bad_ports(per_tor + 2, "a ToR", err, errlen)))
		return ret;

	t = topo_new(FAM_VL2, "vl2");
	t->p.da = da;
	t->p.di = di;
	t->p.per_tor = per_tor;
	t->server_symmetric = true;
	int0 = t->nnodes;
	for (uint32_t i = 0; i < nint; i++)
		add_sw(t, ROLE_INT, 3, di, "int%u", i, 0);
	agg0 = t->nnodes;
	for (uint32_t a = 0; a < di; a++)
		add_sw(t, ROLE_AGG, 2, da, "agg%u", a, 0);
	tor0 = t->nnodes;
	for (uint32_t r = 0; r < ntor; r++)
		add_sw(t, ROLE_TOR, 1, per_tor + 2, "tor%u", r, 0);
	/* Every aggregation switch has DA/2 uplinks, one to each intermediate. */
	for (uint32_t a = 0; a < di; a++)
		for (uint32_t i = 0; i < nint; i++)
			topo_add_link(t, agg0 + a, int0 + i, VL2_FABRIC_MBPS);
	/* Aggregation switches work in pairs; each pair serves DA/2 ToRs, each
	 * ToR with one uplink to either member. */
	for (uint32_t r = 0; r < ntor; r++) {
		uint32_t pair = r / (da / 2);

		topo_add_link(t, tor0 + r, agg0 + 2 * pair, VL2_FABRIC_MBPS);
		topo_add_link(t, tor0 + r, agg0 + 2 * pair + 1, VL2_FABRIC_MBPS);
	}
	for (uint32_t r = 0; r < ntor; r++)
		for (uint32_t s = 0; s < per_tor; s++)
			topo_add_link(t, add_srv(t, 1), tor0 + r, VL2_ACCESS_MBPS);
	topo_finish(t);
	*out = t;
	return 0;
}

int topo_build_fattree(struct topo **out, uint32_t k, char *err, size_t errlen)
{
	uint32_t h = k / 2, ncore = h * h;
	uint64_t nsrv = (uint64_t)k * k * k / 4;
	struct topo *t;
	uint32_t core0, agg0, edge0;
	int ret;

	if (k % 2 || k < 2) {
		snprintf(err, errlen, "k must be even and at least 2, got %u", k);
		return -EINVAL;
	}
	if ((ret = too_big(5ull * k * k / 4 + nsrv, 3 * nsrv, err, errlen)))
		return ret;

	t = topo_new(FAM_FATTREE, "fattree");
	t->p.k = k;
	t->server_symmetric = true;
	core0 = t->nnodes;
	for (uint32_t c = 0; c < ncore; c++)
		add_sw(t, ROLE_CORE, 3, k, "core%u", c, 0);
	agg0 = t->nnodes;
	for (uint32_t a = 0; a < k * h; a++)
		add_sw(t, ROLE_AGG, 2, k, "agg%u", a, 0);
	edge0 = t->nnodes;
	for (uint32_t e = 0; e < k * h; e++)
		add_sw(t, ROLE_EDGE, 1, k, "edge%u", e, 0);
	/* Aggregation switch i of every pod reaches cores i*h .. i*h+h-1. */
	for (uint32_t p = 0; p < k; p++)
		for (uint32_t i = 0; i < h; i++)
			for (uint32_t j = 0; j < h; j++)
				topo_add_link(t, agg0 + p * h + i, core0 + i * h + j, FT_MBPS);
	for (uint32_t p = 0; p < k; p++)
		for (uint32_t e = 0; e < h; e++)
			for (uint32_t a = 0; a < h; a++)
				topo_add_link(t, edge0 + p * h + e, agg0 + p * h + a, FT_MBPS);
	for (uint32_t e = 0; e < k * h; e++)
		for (uint32_t s = 0; s < h; s++)
			topo_add_link(t, add_srv(t, 1), edge0 + e, FT_MBPS);
	topo_finish(t);
	*out = t;
	return 0;
}

int topo_build_bcube(struct topo **out, uint32_t n, uint32_t k, char *err, size_t errlen)
{
	uint64_t nsrv = 1, per_level;
	struct topo *t;
	uint32_t sw0;
	int ret;

	if (n < 2 || k > TOPO_BCUBE_MAX_K) {
		snprintf(err, errlen, "need n >= 2 and k <= %u, got n=%u k=%u",
			 TOPO_BCUBE_MAX_K, n, k);
		return -EINVAL;
	}
	for (uint32_t i = 0; i <= k && nsrv <= TOPO_MAX_NODES; i++)
		nsrv *= n;
	per_level = nsrv / n;
	if ((ret = too_big(nsrv + (k + 1) * per_level, nsrv * (k + 1), err, errlen)))
		return ret;

	t = topo_new(FAM_BCUBE, "bcube");
	t->p.n = n;
	t->p.k = k;
	t->server_symmetric = true;
	sw0 = t->nnodes;
	for (uint32_t l = 0; l <= k; l++)
		for (uint32_t j = 0; j < per_level; j++)
			add_sw(t, ROLE_BCUBE, (uint8_t)l, n, "sw%u-%u", l, j);
	/* Server s's NIC l goes to the level-l switch whose number is s with
	 * digit l removed; its port there is digit l. */
	for (uint32_t s = 0; s < nsrv; s++) {
		uint32_t srv = add_srv(t, (uint16_t)(k + 1));
		uint64_t below = 1;

		for (uint32_t l = 0; l <= k; l++) {
			uint64_t j = (s / (below * n)) * below + s % below;

			topo_add_link(t, srv, sw0 + (uint32_t)(l * per_level + j), BCUBE_MBPS);
			below *= n;
		}
	}
	topo_finish(t);
	*out = t;
	return 0;
}
