#include "lib/yconf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/parse.h"

static void set_err(struct yconf *yc, int line, const char *fmt, va_list ap)
{
	int n;

	if (yc->failed)
		return;
	yc->failed = true;
	n = snprintf(yc->err, sizeof(yc->err), "%s:%d: ", yc->name, line);
	if (n > 0 && (size_t)n < sizeof(yc->err))
		vsnprintf(yc->err + n, sizeof(yc->err) - (size_t)n, fmt, ap);
}

bool yconf_fail(struct yconf *yc, const ynode *n, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	set_err(yc, n ? yconf_line(n) : 1, fmt, ap);
	va_end(ap);
	return false;
}

int yconf_load_buf(struct yconf *yc, const char *name, const void *buf, size_t len)
{
	yaml_parser_t p;
	int ok;

	memset(yc, 0, sizeof(*yc));
	snprintf(yc->name, sizeof(yc->name), "%s", name);
	if (len > YCONF_MAX_BYTES) {
		snprintf(yc->err, sizeof(yc->err), "%s: larger than %u bytes",
			 name, YCONF_MAX_BYTES);
		yc->failed = true;
		return -EFBIG;
	}
	if (!yaml_parser_initialize(&p))
		die("libyaml: cannot initialise parser");
	yaml_parser_set_input_string(&p, buf, len);
	ok = yaml_parser_load(&p, &yc->doc);
	if (!ok) {
		snprintf(yc->err, sizeof(yc->err), "%s:%zu:%zu: %s%s%s", name,
			 p.problem_mark.line + 1, p.problem_mark.column + 1,
			 p.problem ? p.problem : "syntax error",
			 p.context ? " " : "", p.context ? p.context : "");
		yc->failed = true;
		yaml_parser_delete(&p);
		return -EINVAL;
	}
	yaml_parser_delete(&p);
	yc->loaded = true;
	if (!yaml_document_get_root_node(&yc->doc)) {
		snprintf(yc->err, sizeof(yc->err), "%s: empty document", name);
		yc->failed = true;
		return -EINVAL;
	}
	return 0;
}

int yconf_load_file(struct yconf *yc, const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long len;
	int ret;

	if (!f) {
		ret = -errno;
		memset(yc, 0, sizeof(*yc));
		snprintf(yc->err, sizeof(yc->err), "%s: %s", path, strerror(-ret));
		yc->failed = true;
		return ret;
	}
	if (fseek(f, 0, SEEK_END) != 0 || (len = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET) != 0) {
		fclose(f);
		memset(yc, 0, sizeof(*yc));
		snprintf(yc->err, sizeof(yc->err), "%s: cannot read", path);
		yc->failed = true;
		return -EIO;
	}
	if ((unsigned long)len > YCONF_MAX_BYTES) {
		fclose(f);
		return yconf_load_buf(yc, path, "", (size_t)len);
	}
	buf = xmalloc((size_t)len + 1);
	if (fread(buf, 1, (size_t)len, f) != (size_t)len) {
		free(buf);
		fclose(f);
		memset(yc, 0, sizeof(*yc));
		snprintf(yc->err, sizeof(yc->err), "%s: short read", path);
		yc->failed = true;
		return -EIO;
	}
	fclose(f);
	ret = yconf_load_buf(yc, path, buf, (size_t)len);
	free(buf);
	return ret;
}

void yconf_free(struct yconf *yc)
{
	if (yc->loaded)
		yaml_document_delete(&yc->doc);
	yc->loaded = false;
}

ynode *yconf_root(struct yconf *yc)
{
	return yc->loaded ? yaml_document_get_root_node(&yc->doc) : NULL;
}

int yconf_line(const ynode *n)
{
	return (int)n->start_mark.line + 1;
}

bool yconf_is_map(const ynode *n)
{
	return n && n->type == YAML_MAPPING_NODE;
}

bool yconf_is_seq(const ynode *n)
{
	return n && n->type == YAML_SEQUENCE_NODE;
}

bool yconf_is_scalar(const ynode *n)
{
	return n && n->type == YAML_SCALAR_NODE;
}

const char *yconf_scalar(const ynode *n)
{
	return yconf_is_scalar(n) ? (const char *)n->data.scalar.value : NULL;
}

size_t yconf_map_len(const ynode *map)
{
	if (!yconf_is_map(map))
		return 0;
	return (size_t)(map->data.mapping.pairs.top - map->data.mapping.pairs.start);
}

bool yconf_map_at(struct yconf *yc, ynode *map, size_t i, ynode **key, ynode **val)
{
	yaml_node_pair_t *pair;

	if (i >= yconf_map_len(map))
		return false;
	pair = map->data.mapping.pairs.start + i;
	*key = yaml_document_get_node(&yc->doc, pair->key);
	*val = yaml_document_get_node(&yc->doc, pair->value);
	return *key && *val;
}

ynode *yconf_get(struct yconf *yc, ynode *map, const char *key)
{
	ynode *k, *v;

	for (size_t i = 0; yconf_map_at(yc, map, i, &k, &v); i++) {
		const char *s = yconf_scalar(k);

		if (s && strcmp(s, key) == 0)
			return v;
	}
	return NULL;
}

bool yconf_only_keys(struct yconf *yc, ynode *map, const char *what,
		     const char *const *allowed)
{
	ynode *k, *v;

	if (!yconf_is_map(map))
		return yconf_fail(yc, map, "%s: expected a mapping", what);
	for (size_t i = 0; yconf_map_at(yc, map, i, &k, &v); i++) {
		const char *s = yconf_scalar(k);
		bool ok = false;

		if (!s)
			return yconf_fail(yc, k, "%s: keys must be plain words", what);
		for (const char *const *a = allowed; *a && !ok; a++)
			ok = strcmp(*a, s) == 0;
		if (!ok)
			return yconf_fail(yc, k, "%s: unknown key '%s'", what, s);
		for (size_t j = 0; j < i; j++) {
			ynode *k2, *v2;

			yconf_map_at(yc, map, j, &k2, &v2);
			if (yconf_scalar(k2) && strcmp(yconf_scalar(k2), s) == 0)
				return yconf_fail(yc, k, "%s: key '%s' given twice",
						  what, s);
		}
	}
	return !yc->failed;
}

size_t yconf_seq_len(const ynode *seq)
{
	if (!yconf_is_seq(seq))
		return 0;
	return (size_t)(seq->data.sequence.items.top - seq->data.sequence.items.start);
}

ynode *yconf_seq_at(struct yconf *yc, ynode *seq, size_t i)
{
	if (i >= yconf_seq_len(seq))
		return NULL;
	return yaml_document_get_node(&yc->doc, seq->data.sequence.items.start[i]);
}

bool yconf_str(struct yconf *yc, ynode *n, const char *what, const char **out)
{
	const char *s = yconf_scalar(n);

	if (!s || !*s)
		return yconf_fail(yc, n, "%s: expected a non-empty string", what);
	*out = s;
	return true;
}

bool yconf_u32(struct yconf *yc, ynode *n, const char *what, uint32_t min,
	       uint32_t max, uint32_t *out)
{
	const char *s = yconf_scalar(n);
	uint32_t v;

	if (!s || !parse_u32(s, UINT32_MAX, &v) || v < min || v > max)
		return yconf_fail(yc, n, "%s: expected an integer from %u to %u, got '%s'",
				  what, min, max, s ? s : "(not a scalar)");
	*out = v;
	return true;
}

bool yconf_double(struct yconf *yc, ynode *n, const char *what, double min,
		  double max, double *out)
{
	const char *s = yconf_scalar(n);
	double v;

	if (!s || !parse_double(s, &v) || v < min || v > max)
		return yconf_fail(yc, n, "%s: expected a number from %g to %g, got '%s'",
				  what, min, max, s ? s : "(not a scalar)");
	*out = v;
	return true;
}
