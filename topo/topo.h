/* The topology model: switches, servers and the links between them.
 *
 * A topology is built once (by a builder in topo/build_*.c or from a file by
 * topo/file.c), finished with topo_finish(), and then read-only: routing and
 * simulation keep their own failure state.  Everything is an index:
 *
 *   node ids   0 .. nnodes-1, switches and servers in one space
 *   link ids   0 .. nlinks-1
 *   ports      0 .. degree-1 per node, in the order its links were added;
 *              a server's port is its NIC number
 *
 * so a forwarding entry is just (switch, port) and nothing holds pointers
 * into another structure.  topo/README.md has the conventions per builder.
 */
#ifndef PEREGRINE_TOPO_TOPO_H
#define PEREGRINE_TOPO_TOPO_H

#include "lib/common.h"
#include "lib/arena.h"
#include "lib/hash.h"

/* Limits on what a spec or file may ask for (TigerBeetle-style: every size
 * bounded, all in one place). */
enum topo_limits {
	TOPO_MAX_NODES = 8u << 20,
	TOPO_MAX_LINKS = 32u << 20,
	TOPO_MAX_PORTS = 65535,
	TOPO_MAX_SERVER_NICS = 8,
	TOPO_MAX_NAME = 63,
	TOPO_DEFAULT_FIB = 65536,
	TOPO_BCUBE_MAX_K = 7,
};

enum topo_kind { TOPO_SWITCH = 0, TOPO_SERVER = 1 };

enum topo_role {
	ROLE_SERVER,
	ROLE_LEAF, ROLE_SPINE,			/* leafspine */
	ROLE_TOR, ROLE_AGG, ROLE_INT,		/* vl2 (also ToR/agg for fat-tree) */
	ROLE_EDGE, ROLE_CORE,			/* fat-tree */
	ROLE_BCUBE,				/* bcube switch, level = BCube level */
	ROLE_SWITCH,				/* from a file */
	ROLE_COUNT
};

enum topo_family { FAM_LEAFSPINE, FAM_VL2, FAM_FATTREE, FAM_BCUBE, FAM_FILE };

struct topo_node {
	uint8_t kind;		/* enum topo_kind */
	uint8_t role;		/* enum topo_role */
	uint8_t level;		/* 0 servers; 1 leaf/ToR/edge; 2 spine/agg; 3 int/core;
				 * BCube switches: their level 0..k */
	uint8_t pad;
	uint16_t ports;		/* switch ports, or server NICs */
	uint16_t degree;	/* links attached (after topo_finish: final) */
	uint32_t index;		/* among nodes of the same kind: server number
				 * (a BCube server's address), switch number */
	uint32_t fib_cap;	/* switches: forwarding-table capacity */
	uint32_t adj_start;	/* into topo->adj */
	const char *name;
};

struct topo_link {
	uint32_t a, b;		/* node ids */
	uint16_t pa, pb;	/* port on a, port on b */
	uint32_t mbps;		/* capacity, Mbit/s */
};

/* One entry per (node, port): the link and the node across it. */
struct topo_adj {
	uint32_t link;
	uint32_t peer;
};

struct topo {
	char spec[256];		/* what it was built from */
	enum topo_family family;
	uint32_t nnodes, nlinks, nservers, nswitches;
	struct topo_node *nodes;
	struct topo_link *links;
	struct topo_adj *adj;	/* sum of degrees entries */
	uint32_t *servers;	/* server index -> node id */
	uint32_t *switches;	/* switch index -> node id */
	/* Builder parameters, for code that exploits the structure. */
	struct {
		uint32_t spines, leaves, per_leaf, homing;	/* leafspine */
		uint32_t da, di, per_tor;			/* vl2 */
		uint32_t k;					/* fattree, bcube */
		uint32_t n;					/* bcube */
	} p;
	/* Every server looks the same from the rest of the network (true for
	 * every builder; used to compute the diameter from one server). */
	bool server_symmetric;
	/* internal */
	uint32_t cap_nodes, cap_links;
	struct arena names;
	struct hmap by_name;	/* name hash -> node id + 1 (collisions chained
				 * by linear scan in topo_find) */
	bool finished;
};

/* ---- construction (builders and the file reader) ------------------------ */
struct topo *topo_new(enum topo_family fam, const char *spec);
void topo_free(struct topo *t);
uint32_t topo_add_switch(struct topo *t, enum topo_role role, uint8_t level,
			 uint16_t ports, uint32_t fib_cap, const char *name);
uint32_t topo_add_server(struct topo *t, uint16_t nics, const char *name);
uint32_t topo_add_link(struct topo *t, uint32_t a, uint32_t b, uint32_t mbps);
/* Lay out the adjacency; after this the topology is read-only. */
void topo_finish(struct topo *t);

/* Build from a spec: "leafspine:spines=2,leaves=4,servers=2,homing=2",
 * "vl2:da=..", "fattree:k=4", "bcube:n=4,k=1", "file:PATH", or a PATH.
 * Returns 0, or -EINVAL with a one-line reason in err. */
int topo_from_spec(const char *spec, struct topo **out, char *err, size_t errlen);

/* Builders with parsed parameters (topo/build.c). */
int topo_build_leafspine(struct topo **out, uint32_t spines, uint32_t leaves,
			 uint32_t per_leaf, uint32_t homing, char *err, size_t errlen);
int topo_build_vl2(struct topo **out, uint32_t da, uint32_t di, uint32_t per_tor,
		   char *err, size_t errlen);
int topo_build_fattree(struct topo **out, uint32_t k, char *err, size_t errlen);
int topo_build_bcube(struct topo **out, uint32_t n, uint32_t k, char *err, size_t errlen);
/* Topology file (topo/file.c; format in docs/topology-file.md). */
int topo_load_file(const char *path, struct topo **out, char *err, size_t errlen);
int topo_load_buf(const char *name, const void *buf, size_t len, struct topo **out,
		  char *err, size_t errlen);

/* ---- queries ------------------------------------------------------------- */
static inline const struct topo_adj *topo_port(const struct topo *t, uint32_t node,
					       uint32_t port)
{
	return &t->adj[t->nodes[node].adj_start + port];
}

static inline bool topo_is_server(const struct topo *t, uint32_t node)
{
	return t->nodes[node].kind == TOPO_SERVER;
}

/* The far end of link l seen from node n. */
static inline uint32_t topo_other(const struct topo *t, uint32_t l, uint32_t n)
{
	return t->links[l].a == n ? t->links[l].b : t->links[l].a;
}

/* Node id by name, or UINT32_MAX. */
uint32_t topo_find(const struct topo *t, const char *name);
/* The first link (in a's port order) joining nodes a and b, or UINT32_MAX
 * (also when a is not a node, e.g. topo_find's UINT32_MAX). */
uint32_t topo_link_between(const struct topo *t, uint32_t a, uint32_t b);
/* A BCube server's address digits, least significant first (digits[0..k]). */
void topo_bcube_digits(const struct topo *t, uint32_t server_index, uint8_t *digits);
const char *topo_role_name(enum topo_role role);
const char *topo_family_name(enum topo_family fam);

#endif
