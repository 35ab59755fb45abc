#include "lib/yconf.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

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

static void load_fail(struct yconf *yc, size_t line, const char *fmt, ...) PRINTF(3, 4);
static void load_fail(struct yconf *yc, size_t line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	set_err(yc, (int)line + 1, fmt, ap);
	va_end(ap);
}

/* ---- building the tree from libyaml's events ------------------------------- */
/* The tree is three arrays: nodes in the order their first event came, the
 * text of the scalars, and the children of each collection.  While a
 * collection is open its children wait on `pending`; when it closes they move
 * to yc->kids in one piece, so every collection's children are contiguous. */
struct builder {
	struct yconf *yc;
	uint32_t cap_nodes;
	uint32_t nkids, cap_kids;
	size_t ntext, cap_text;
	uint32_t *pending;
	uint32_t npending, cap_pending;
	uint32_t open[YCONF_MAX_DEPTH];	/* node of each open collection */
	uint32_t base[YCONF_MAX_DEPTH];	/* where its children start in pending */
	int depth;
};

static void *grow(void *p, uint32_t *cap, uint64_t need, size_t size)
{
	uint64_t c = *cap ? *cap : 64;

	if (need <= *cap)
		return p;
	while (c < need)
		c *= 2;
	*cap = (uint32_t)c;
	return xreallocarray(p, (size_t)c, size);
}

static bool push_pending(struct builder *b, uint32_t node)
{
	b->pending = grow(b->pending, &b->cap_pending, (uint64_t)b->npending + 1,
			  sizeof(*b->pending));
	b->pending[b->npending++] = node;
	return true;
}

static bool new_node(struct builder *b, const yaml_mark_t *m, enum yconf_type type,
		     uint32_t *idx)
{
	struct yconf *yc = b->yc;

	if (yc->nnodes >= YCONF_MAX_NODES) {
		load_fail(yc, m->line, "more than %u values", (unsigned)YCONF_MAX_NODES);
		return false;
	}
	yc->nodes = grow(yc->nodes, &b->cap_nodes, (uint64_t)yc->nnodes + 1,
			 sizeof(*yc->nodes));
	*idx = yc->nnodes++;
	yc->nodes[*idx] = (ynode){ .line = (uint32_t)m->line, .type = type };
	return true;
}

static bool on_scalar(struct builder *b, const yaml_event_t *e)
{
	size_t len = e->data.scalar.length;
	uint32_t idx;

	if (!new_node(b, &e->start_mark, YCONF_SCALAR, &idx))
		return false;
	if (b->ntext + len + 1 > b->cap_text) {
		size_t c = b->cap_text ? b->cap_text : 1024;

		while (c < b->ntext + len + 1)
			c *= 2;
		b->yc->text = xrealloc(b->yc->text, c);
		b->cap_text = c;
	}
	memcpy(b->yc->text + b->ntext, e->data.scalar.value, len);
	b->yc->text[b->ntext + len] = 0;
	b->yc->nodes[idx].len = (uint32_t)len;
	b->yc->nodes[idx].at = (uint32_t)b->ntext;
	b->ntext += len + 1;
	return push_pending(b, idx);
}

static bool on_start(struct builder *b, const yaml_event_t *e, enum yconf_type type)
{
	uint32_t idx;

	if (b->depth >= YCONF_MAX_DEPTH) {
		load_fail(b->yc, e->start_mark.line, "nested deeper than %d levels",
			  YCONF_MAX_DEPTH);
		return false;
	}
	if (!new_node(b, &e->start_mark, type, &idx))
		return false;
	b->open[b->depth] = idx;
	b->base[b->depth] = b->npending;
	b->depth++;
	return true;
}

static bool on_end(struct builder *b)
{
	struct yconf *yc = b->yc;
	uint32_t idx, base, n;

	assert(b->depth > 0);
	b->depth--;
	idx = b->open[b->depth];
	base = b->base[b->depth];
	n = b->npending - base;
	yc->kids = grow(yc->kids, &b->cap_kids, (uint64_t)b->nkids + n, sizeof(*yc->kids));
	if (n)
		memcpy(yc->kids + b->nkids, b->pending + base, (size_t)n * sizeof(*yc->kids));
	yc->nodes[idx].at = b->nkids;
	yc->nodes[idx].len = yc->nodes[idx].type == YCONF_MAP ? n / 2 : n;
	b->nkids += n;
	b->npending = base;
	return push_pending(b, idx);
}

/* One event; *done once the first document has ended. */
static bool on_event(struct builder *b, const yaml_event_t *e, bool *done)
{
	switch (e->type) {
	case YAML_SCALAR_EVENT:
		return on_scalar(b, e);
	case YAML_SEQUENCE_START_EVENT:
		return on_start(b, e, YCONF_SEQ);
	case YAML_MAPPING_START_EVENT:
		return on_start(b, e, YCONF_MAP);
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT:
		return on_end(b);
	case YAML_ALIAS_EVENT:
		load_fail(b->yc, e->start_mark.line, "aliases (*%s) are not supported",
			  (const char *)e->data.alias.anchor);
		return false;
	case YAML_DOCUMENT_END_EVENT:
	case YAML_STREAM_END_EVENT:
		*done = true;
		return true;
	default:		/* stream and document start */
		return true;
	}
}

static bool parse(struct builder *b, yaml_parser_t *p)
{
	struct yconf *yc = b->yc;
	bool done = false, ok = true;
	yaml_event_t e;

	while (ok && !done) {
		if (!yaml_parser_parse(p, &e)) {
			snprintf(yc->err, sizeof(yc->err), "%s:%zu:%zu: %s%s%s", yc->name,
				 p->problem_mark.line + 1, p->problem_mark.column + 1,
				 p->problem ? p->problem : "syntax error",
				 p->context ? " " : "", p->context ? p->context : "");
			yc->failed = true;
			return false;
		}
		ok = on_event(b, &e, &done);
		yaml_event_delete(&e);
	}
	return ok;
}

static void tree_free(struct yconf *yc)
{
	free(yc->nodes);
	free(yc->kids);
	free(yc->text);
	yc->nodes = NULL;
	yc->kids = NULL;
	yc->text = NULL;
	yc->nnodes = 0;
}

int yconf_load_buf(struct yconf *yc, const char *name, const void *buf, size_t len)
{
	struct builder b = { .yc = yc };
	yaml_parser_t p;
	bool ok;

	memset(yc, 0, sizeof(*yc));
	snprintf(yc->name, sizeof(yc->name), "%s", name);
	if (len > YCONF_MAX_BYTES) {
		snprintf(yc->err, sizeof(yc->err), "%s: larger than %u bytes",
			 name, (unsigned)YCONF_MAX_BYTES);
		yc->failed = true;
		return -EFBIG;
	}
	if (!yaml_parser_initialize(&p))
		die("libyaml: cannot initialise parser");
	yaml_parser_set_input_string(&p, buf, len);
	ok = parse(&b, &p);
	yaml_parser_delete(&p);
	free(b.pending);
	if (ok && yc->nnodes == 0) {
		snprintf(yc->err, sizeof(yc->err), "%s: empty document", name);
		yc->failed = true;
		ok = false;
	}
	if (!ok) {
		tree_free(yc);
		return -EINVAL;
	}
	/* keep no spare capacity: the tree lives as long as the reader */
	yc->nodes = xreallocarray(yc->nodes, yc->nnodes, sizeof(*yc->nodes));
	yc->kids = xreallocarray(yc->kids, b.nkids ? b.nkids : 1, sizeof(*yc->kids));
	yc->text = xrealloc(yc->text, b.ntext ? b.ntext : 1);
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
	tree_free(yc);
}

ynode *yconf_root(struct yconf *yc)
{
	return yc->nnodes ? &yc->nodes[0] : NULL;
}

int yconf_line(const ynode *n)
{
	return (int)n->line + 1;
}

bool yconf_is_map(const ynode *n)
{
	return n && n->type == YCONF_MAP;
}

bool yconf_is_seq(const ynode *n)
{
	return n && n->type == YCONF_SEQ;
}

bool yconf_is_scalar(const ynode *n)
{
	return n && n->type == YCONF_SCALAR;
}

const char *yconf_scalar(const struct yconf *yc, const ynode *n)
{
	return yconf_is_scalar(n) ? yc->text + n->at : NULL;
}

size_t yconf_scalar_len(const ynode *n)
{
	return yconf_is_scalar(n) ? n->len : 0;
}

size_t yconf_map_len(const ynode *map)
{
	return yconf_is_map(map) ? map->len : 0;
}

bool yconf_map_at(struct yconf *yc, ynode *map, size_t i, ynode **key, ynode **val)
{
	if (i >= yconf_map_len(map))
		return false;
	*key = &yc->nodes[yc->kids[map->at + 2 * i]];
	*val = &yc->nodes[yc->kids[map->at + 2 * i + 1]];
	return true;
}

ynode *yconf_get(struct yconf *yc, ynode *map, const char *key)
{
	ynode *k, *v;

	for (size_t i = 0; yconf_map_at(yc, map, i, &k, &v); i++) {
		const char *s = yconf_scalar(yc, k);

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
		const char *s = yconf_scalar(yc, k);
		bool ok = false;

		if (!s)
			return yconf_fail(yc, k, "%s: keys must be plain words", what);
		for (const char *const *a = allowed; *a && !ok; a++)
			ok = strcmp(*a, s) == 0;
		if (!ok)
			return yconf_fail(yc, k, "%s: unknown key '%s'", what, s);
		for (size_t j = 0; j < i; j++) {
			ynode *k2 = NULL, *v2;

			yconf_map_at(yc, map, j, &k2, &v2);
			if (yconf_scalar(yc, k2) && strcmp(yconf_scalar(yc, k2), s) == 0)
				return yconf_fail(yc, k, "%s: key '%s' given twice",
						  what, s);
		}
	}
	return !yc->failed;
}

size_t yconf_seq_len(const ynode *seq)
{
	return yconf_is_seq(seq) ? seq->len : 0;
}

ynode *yconf_seq_at(struct yconf *yc, ynode *seq, size_t i)
{
	if (i >= yconf_seq_len(seq))
		return NULL;
	return &yc->nodes[yc->kids[seq->at + i]];
}

bool yconf_str(struct yconf *yc, ynode *n, const char *what, const char **out)
{
	const char *s = yconf_scalar(yc, n);

	if (!s || !*s)
		return yconf_fail(yc, n, "%s: expected a non-empty string", what);
	*out = s;
	return true;
}

bool yconf_name(struct yconf *yc, ynode *n, const char *what, char *out, size_t cap)
{
	const char *s = NULL;

	if (!yconf_str(yc, n, what, &s))
		return false;
	if (strlen(s) >= cap)
		return yconf_fail(yc, n, "%s: empty or longer than %zu", what, cap - 1);
	strcpy(out, s);
	return true;
}

bool yconf_ipv4(struct yconf *yc, ynode *n, const char *what, uint32_t *out)
{
	struct in_addr a;
	const char *s = NULL;

	if (!yconf_str(yc, n, what, &s))
		return false;
	if (inet_pton(AF_INET, s, &a) != 1)
		return yconf_fail(yc, n, "%s: '%s' is not an IPv4 address", what, s);
	*out = ntohl(a.s_addr);
	return true;
}

bool yconf_u32(struct yconf *yc, ynode *n, const char *what, uint32_t min,
	       uint32_t max, uint32_t *out)
{
	const char *s = yconf_scalar(yc, n);
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
	const char *s = yconf_scalar(yc, n);
	double v;

	if (!s || !parse_double(s, &v) || v < min || v > max)
		return yconf_fail(yc, n, "%s: expected a number from %g to %g, got '%s'",
				  what, min, max, s ? s : "(not a scalar)");
	*out = v;
	return true;
}
