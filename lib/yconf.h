/* Configuration files (topology files, lab files) are YAML, read through
 * libyaml's document loader.  JSON is valid input too, since YAML's flow
 * style is a superset of it.
 *
 * Every accessor takes the node it reads, so every error names the file, the
 * line and the field: "lab.yaml:12: links[3].b: unknown node 'leaf9'".  The
 * first error is kept in yc->err and every later accessor fails fast.
 */
#ifndef PEREGRINE_LIB_YCONF_H
#define PEREGRINE_LIB_YCONF_H

#include <yaml.h>
#include "lib/common.h"

/* Files larger than this are refused before parsing. */
#define YCONF_MAX_BYTES (64u << 20)

struct yconf {
	yaml_document_t doc;
	bool loaded;
	bool failed;
	char name[128];		/* file name used in messages */
	char err[512];
};

typedef yaml_node_t ynode;

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

/* Scalars.  `what` names the field in errors ("switches[2].ports"). */
const char *yconf_scalar(const ynode *n);
bool yconf_str(struct yconf *yc, ynode *n, const char *what, const char **out);
bool yconf_u32(struct yconf *yc, ynode *n, const char *what, uint32_t min,
	       uint32_t max, uint32_t *out);
bool yconf_double(struct yconf *yc, ynode *n, const char *what, double min,
		  double max, double *out);

#endif
