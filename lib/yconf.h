/* Configuration files (topology files, lab files, agent configurations) are
 * YAML, read through libyaml's event parser into a compact tree of our own.
 * JSON is valid input too, since YAML's flow style is a superset of it.
 *
 * Every accessor takes the node it reads, so every error names the file, the
 * line and the field: "lab.yaml:12: links[3].b: unknown node 'leaf9'".  The
 * first error is kept in yc->err and every later accessor fails fast.
 *
 * The reader bounds what a hostile or broken file can cost (enum
 * yconf_limits): the file size, the nesting depth and the number of values.
 * Only the first document of a stream is read.  Aliases (*name) are refused:
 * a reader that walks a shared subtree once per reference could be made to do
 * work exponential in the file's size.
 */
#ifndef PEREGRINE_LIB_YCONF_H
#define PEREGRINE_LIB_YCONF_H

#include <stdint.h>
#include "lib/common.h"

enum yconf_limits {
	/* bytes: files larger than this are refused before parsing.  A
	 * topology file of TOPO_MAX_NODES-scale fabrics in the style of
	 * docs/topology-file.md stays well under it. */
	YCONF_MAX_BYTES = 64 << 20,
	/* Collections nested inside each other.  The deepest file Peregrine
	 * reads (a lab file with an inline topology) has 4 levels.  libyaml's
	 * scanner does work proportional to the depth for every token, so an
	 * unbounded depth makes a file of '[' take time quadratic in its
	 * size; the parse stops at the first collection past this depth. */
	YCONF_MAX_DEPTH = 32,
	/* Scalars plus collections.  Each costs 12 bytes of node and 4 of
	 * reference (plus 4 transient while its parent is open); a 64 MiB
	 * topology file has about one value per 8 bytes, so this bounds the
	 * tree at 8M * 20 bytes = 160 MiB plus the scalars' text. */
	YCONF_MAX_NODES = 8 << 20,
};

enum yconf_type { YCONF_SCALAR, YCONF_SEQ, YCONF_MAP };

/* 12 bytes.  `at` indexes yc->text for a scalar (NUL-terminated there) and
 * yc->kids for a collection, whose children are contiguous: a sequence's
 * items, or a mapping's keys and values alternating. */
typedef struct ynode {
	uint32_t line : 30;	/* 0-based */
	uint32_t type : 2;	/* enum yconf_type */
	uint32_t len;		/* scalar bytes, sequence items, mapping pairs */
	uint32_t at;
} ynode;

struct yconf {
	ynode *nodes;
	uint32_t nnodes;
	uint32_t *kids;
	char *text;
	bool failed;
	char name[128];		/* file name used in messages */
	char err[512];
};

int yconf_load_file(struct yconf *yc, const char *path);
/* `name` is what error messages call the input. */
int yconf_load_buf(struct yconf *yc, const char *name, const void *buf, size_t len);
void yconf_free(struct yconf *yc);

ynode *yconf_root(struct yconf *yc);
int yconf_line(const ynode *n);	/* 1-based */

/* Record an error at node n (first one wins); returns false for chaining. */
bool yconf_fail(struct yconf *yc, const ynode *n, const char *fmt, ...) PRINTF(3, 4);

bool yconf_is_map(const ynode *n);
bool yconf_is_seq(const ynode *n);
bool yconf_is_scalar(const ynode *n);

/* Mapping access.  yconf_get returns NULL when the key is absent. */
ynode *yconf_get(struct yconf *yc, ynode *map, const char *key);
/* Fail on any key not listed (NULL-terminated), naming it and its line. */
bool yconf_only_keys(struct yconf *yc, ynode *map, const char *what,
		     const char *const *allowed);
size_t yconf_map_len(const ynode *map);
bool yconf_map_at(struct yconf *yc, ynode *map, size_t i, ynode **key, ynode **val);

size_t yconf_seq_len(const ynode *seq);
ynode *yconf_seq_at(struct yconf *yc, ynode *seq, size_t i);

/* Scalars.  `what` names the field in errors ("switches[2].ports").
 * yconf_scalar is NULL for a collection; a scalar may hold NUL bytes
 * (escaped in quotes), which yconf_scalar_len counts. */
const char *yconf_scalar(const struct yconf *yc, const ynode *n);
size_t yconf_scalar_len(const ynode *n);
bool yconf_str(struct yconf *yc, ynode *n, const char *what, const char **out);
/* A non-empty string shorter than cap, copied into out. */
bool yconf_name(struct yconf *yc, ynode *n, const char *what, char *out, size_t cap);
/* A dotted IPv4 address, in host order. */
bool yconf_ipv4(struct yconf *yc, ynode *n, const char *what, uint32_t *out);
bool yconf_u32(struct yconf *yc, ynode *n, const char *what, uint32_t min,
	       uint32_t max, uint32_t *out);
bool yconf_double(struct yconf *yc, ynode *n, const char *what, double min,
		  double max, double *out);

#endif
