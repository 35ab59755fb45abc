/* Strict parsing of numbers and of `key=value,key=value` parameter lists,
 * the shape of every topology spec (`leafspine:spines=2,leaves=4`). */
#ifndef PEREGRINE_LIB_PARSE_H
#define PEREGRINE_LIB_PARSE_H

#include "lib/common.h"

/* Whole-string decimal; false on junk, sign, overflow or value > max. */
bool parse_u64(const char *s, uint64_t max, uint64_t *out);
bool parse_u32(const char *s, uint32_t max, uint32_t *out);
bool parse_double(const char *s, double *out);

#define KV_MAX 16
#define KV_KEY_MAX 32
#define KV_VAL_MAX 256

struct kv {
	int n;
	char key[KV_MAX][KV_KEY_MAX];
	char val[KV_MAX][KV_VAL_MAX];
	bool used[KV_MAX];
};

/* Split "a=1,b=2" into pairs.  Empty input gives zero pairs.  On error returns
 * false and writes a one-line reason to err. */
bool kv_parse(const char *s, struct kv *kv, char *err, size_t errlen);
/* Look up a key and mark it used; NULL if absent. */
const char *kv_get(struct kv *kv, const char *key);
/* The first key never looked up, or NULL: callers report it as unknown. */
const char *kv_unused(const struct kv *kv);

#endif
