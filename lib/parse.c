#include "lib/parse.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (!s || *s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v > max)
		return false;
	*out = v;
	return true;
}

bool parse_u32(const char *s, uint32_t max, uint32_t *out)
{
	uint64_t v;

	if (!parse_u64(s, max, &v))
		return false;
	*out = (uint32_t)v;
	return true;
}

bool parse_double(const char *s, double *out)
{
	char *end;
	double v;

	if (!s || !*s)
		return false;
	errno = 0;
	v = strtod(s, &end);
	if (errno || *end || !isfinite(v))
		return false;
	*out = v;
	return true;
}

bool kv_parse(const char *s, struct kv *kv, char *err, size_t errlen)
{
	memset(kv, 0, sizeof(*kv));
	while (s && *s) {
		const char *comma = strchr(s, ',');
		size_t len = comma ? (size_t)(comma - s) : strlen(s);
		const char *eq = memchr(s, '=', len);
		size_t klen, vlen;

		if (!eq || eq == s) {
			snprintf(err, errlen, "expected key=value, got '%.*s'",
				 (int)len, s);
			return false;
		}
		klen = (size_t)(eq - s);
		vlen = len - klen - 1;
		if (kv->n == KV_MAX || klen >= KV_KEY_MAX || vlen >= KV_VAL_MAX) {
			snprintf(err, errlen, "parameter list too long near '%.*s'",
				 (int)len, s);
			return false;
		}
		for (int i = 0; i < kv->n; i++) {
			if (strlen(kv->key[i]) == klen && !memcmp(kv->key[i], s, klen)) {
				snprintf(err, errlen, "parameter '%.*s' given twice",
					 (int)klen, s);
				return false;
			}
		}
		memcpy(kv->key[kv->n], s, klen);
		memcpy(kv->val[kv->n], eq + 1, vlen);
		kv->n++;
		s = comma ? comma + 1 : NULL;
		if (comma && !*s) {
			snprintf(err, errlen, "trailing comma");
			return false;
		}
	}
	return true;
}

const char *kv_get(struct kv *kv, const char *key)
{
	for (int i = 0; i < kv->n; i++) {
		if (strcmp(kv->key[i], key) == 0) {
			kv->used[i] = true;
			return kv->val[i];
		}
	}
	return NULL;
}

const char *kv_unused(const struct kv *kv)
{
	for (int i = 0; i < kv->n; i++)
		if (!kv->used[i])
			return kv->key[i];
	return NULL;
}
