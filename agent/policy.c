/* Security groups: rules, parser, naive evaluator, compiler (agent/policy.h).
 * No I/O. */
#include "agent/policy.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/common.h"
#include "lib/rng.h"

void pol_init(struct pol_policy *p)
{
	memset(p, 0, sizeof(*p));
}

void pol_free(struct pol_policy *p)
{
	for (size_t i = 0; i < p->ngroups; i++)
		free(p->groups[i].members);
	free(p->groups);
	free(p->rules);
	memset(p, 0, sizeof(*p));
}

PRINTF(4, 5)
static int fail(struct pol_error *e, uint32_t line, const char *field, const char *fmt, ...)
{
	va_list ap;

	e->line = line;
	snprintf(e->field, sizeof(e->field), "%s", field);
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return -1;
}

/* "a.b.c.d" or "a.b.c.d/len" with no host bits, or "any" */
static bool parse_prefix(const char *s, struct pol_prefix *out)
{
	char buf[32];
	const char *slash = strchr(s, '/');
	struct in_addr a;
	unsigned long len = 32;
	char *end;
	uint32_t mask;

	if (!strcmp(s, "any")) {
		*out = (struct pol_prefix){ 0, 0 };
		return true;
	}
	if (strlen(s) >= sizeof(buf))
		return false;
	snprintf(buf, sizeof(buf), "%.*s", slash ? (int)(slash - s) : (int)strlen(s), s);
	if (inet_pton(AF_INET, buf, &a) != 1)
		return false;
	if (slash) {
		if (!slash[1] || slash[1] == '-' || slash[1] == '+')
			return false;
		len = strtoul(slash + 1, &end, 10);
		if (*end || len > 32)
			return false;
	}
	mask = len ? htonl(~0u << (32 - len)) : 0;
	if (a.s_addr & ~mask)
		return false;	/* host bits set: say what you mean */
	*out = (struct pol_prefix){ a.s_addr, (uint8_t)len };
	return true;
}

static int find_group(const struct pol_policy *p, const char *name)
{
	for (size_t i = 0; i < p->ngroups; i++)
		if (!strcmp(p->groups[i].name, name))
			return (int)i;
	return -1;
}

static bool name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > POL_NAME_MAX)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '-' || *s == '_'))
			return false;
	return true;
}

int pol_group_add(struct pol_policy *p, const char *name, const char *const *members,
		  size_t n, uint32_t line, struct pol_error *e)
{
	struct pol_group g = { 0 };

	if (!name_ok(name))
		return fail(e, line, "group", "'%.40s' is not a name (1-%d of a-z A-Z 0-9 - _)",
			    name, POL_NAME_MAX);
	if (find_group(p, name) >= 0)
		return fail(e, line, "group", "'%s' is declared twice", name);
	if (p->ngroups >= PGR_POL_GROUPS_MAX)
		return fail(e, line, "group", "more than %d groups", PGR_POL_GROUPS_MAX);
	if (n > PGR_POL_GROUP_MEMBERS_MAX)
		return fail(e, line, "member", "more than %d members", PGR_POL_GROUP_MEMBERS_MAX);
	snprintf(g.name, sizeof(g.name), "%s", name);
	g.members = xcalloc(n ? n : 1, sizeof(*g.members));
	for (size_t i = 0; i < n; i++)
		if (!parse_prefix(members[i], &g.members[i])) {
			free(g.members);
			return fail(e, line, "member", "'%.40s' is not an address or prefix",
				    members[i]);
		}
	g.n = n;
	p->groups = xreallocarray(p->groups, p->ngroups + 1, sizeof(*p->groups));
	p->groups[p->ngroups++] = g;
	return 0;
}

static bool parse_ports(const char *s, uint16_t *lo, uint16_t *hi)
{
	unsigned long a, b;
	char *end;

	if (*s < '0' || *s > '9')
		return false;
	a = strtoul(s, &end, 10);
	b = a;
	if (*end == '-') {
		if (end[1] < '0' || end[1] > '9')
			return false;
		b = strtoul(end + 1, &end, 10);
	}
	if (*end || a > 65535 || b > 65535 || a > b)
		return false;
	*lo = (uint16_t)a;
	*hi = (uint16_t)b;
	return true;
}

static bool parse_proto(const char *s, uint8_t *proto)
{
	static const struct { const char *name; uint8_t proto; } t[] = {
		{ "tcp", WIRE_IPPROTO_TCP }, { "udp", WIRE_IPPROTO_UDP },
		{ "icmp", WIRE_IPPROTO_ICMP }, { "any", POL_PROTO_ANY },
	};

	for (size_t i = 0; i < ARRAY_SIZE(t); i++)
		if (!strcmp(s, t[i].name)) {
			*proto = t[i].proto;
			return true;
		}
	return false;
}

static bool same_rule(const struct pol_rule *a, const struct pol_rule *b)
{
	return a->dir == b->dir && a->proto == b->proto && a->port_lo == b->port_lo &&
	       a->port_hi == b->port_hi && a->group == b->group &&
	       (a->group >= 0 || (a->peer.net == b->peer.net && a->peer.plen == b->peer.plen));
}

/* The words of a rule: at most 6 (in tcp 80 from group web). */
static size_t split(char *s, char **w, size_t max)
{
	size_t n = 0;

	for (char *t = strtok(s, " \t"); t; t = strtok(NULL, " \t")) {
		if (n == max)
			return max + 1;
		w[n++] = t;
	}
	return n;
}

static int parse_peer(const struct pol_policy *p, char **w, size_t n, struct pol_rule *r,
		      struct pol_error *e)
{
	if (n < 1)
		return fail(e, r->line, "peer", "missing: a prefix, an address, any or group NAME");
	if (!strcmp(w[0], "group")) {
		if (n != 2)
			return fail(e, r->line, "group", "group takes one name");
		r->group = find_group(p, w[1]);
		if (r->group < 0)
			return fail(e, r->line, "group", "no group '%.40s'", w[1]);
		return 0;
	}
	if (n != 1)
		return fail(e, r->line, "peer", "unexpected '%.40s' after the peer", w[1]);
	if (!parse_prefix(w[0], &r->peer))
		return fail(e, r->line, "peer",
			    "'%.40s' is not an address or prefix (with no host bits), or any", w[0]);
	return 0;
}

int pol_rule_add(struct pol_policy *p, const char *text, uint32_t line, struct pol_error *e)
{
	struct pol_rule r = { .port_lo = 0, .port_hi = 65535, .group = -1, .line = line };
	char buf[POL_LINE_MAX + 1], *w[7];
	size_t n, i = 2;

	if (strlen(text) > POL_LINE_MAX)
		return fail(e, line, "rule", "longer than %d characters", POL_LINE_MAX);
	if (p->nrules >= PGR_POL_RULES_MAX)
		return fail(e, line, "rule", "more than %d rules for one VM", PGR_POL_RULES_MAX);
	snprintf(buf, sizeof(buf), "%s", text);
	n = split(buf, w, 6);
	if (n > 6)
		return fail(e, line, "rule", "too many words");
	if (n < 1 || (strcmp(w[0], "in") && strcmp(w[0], "out")))
		return fail(e, line, "direction", "'%.40s' is not in or out", n ? w[0] : "");
	r.dir = w[0][0] == 'i' ? PGR_POL_IN : PGR_POL_OUT;
	if (n < 2 || !parse_proto(w[1], &r.proto))
		return fail(e, line, "protocol", "'%.40s' is not tcp, udp, icmp or any",
			    n > 1 ? w[1] : "");
	if (n > 2 && w[2][0] >= '0' && w[2][0] <= '9') {
		if (r.proto != WIRE_IPPROTO_TCP && r.proto != WIRE_IPPROTO_UDP)
			return fail(e, line, "ports", "ports need tcp or udp");
		if (!parse_ports(w[2], &r.port_lo, &r.port_hi))
			return fail(e, line, "ports", "'%.40s' is not PORT or LOW-HIGH (0-65535)",
				    w[2]);
		i = 3;
	}
	if (r.proto != WIRE_IPPROTO_TCP && r.proto != WIRE_IPPROTO_UDP)
		r.port_hi = 0;
	if (n <= i || strcmp(w[i], r.dir == PGR_POL_IN ? "from" : "to"))
		return fail(e, line, "peer-word", "'%.40s': an %s rule names its peer with '%s'",
			    n > i ? w[i] : "", r.dir == PGR_POL_IN ? "in" : "out",
			    r.dir == PGR_POL_IN ? "from" : "to");
	if (parse_peer(p, w + i + 1, n - i - 1, &r, e))
		return -1;
	for (size_t k = 0; k < p->nrules; k++)
		if (same_rule(&p->rules[k], &r))
			return fail(e, line, "rule", "the same rule as line %u", p->rules[k].line);
	if (p->nrules == p->cap) {
		p->cap = p->cap ? 2 * p->cap : 16;
		p->rules = xreallocarray(p->rules, p->cap, sizeof(*p->rules));
	}
	p->rules[p->nrules++] = r;
	return 0;
}

static int parse_line(struct pol_policy *p, char *line, uint32_t no, struct pol_error *e)
{
	const char *w[PGR_POL_GROUP_MEMBERS_MAX + 2];
	size_t n = 0;
	char *t;

	line[strcspn(line, "#")] = '\0';
	t = line + strspn(line, " \t");
	if (!*t)
		return 0;
	if (strncmp(t, "group", 5) || (t[5] != ' ' && t[5] != '\t'))
		return pol_rule_add(p, t, no, e);
	for (char *x = strtok(t + 5, " \t"); x; x = strtok(NULL, " \t")) {
		if (n == ARRAY_SIZE(w))
			return fail(e, no, "member", "more than %d members", PGR_POL_GROUP_MEMBERS_MAX);
		w[n++] = x;
	}
	if (!n)
		return fail(e, no, "group", "a group needs a name");
	return pol_group_add(p, w[0], w + 1, n - 1, no, e);
}

int pol_parse_text(struct pol_policy *p, const char *name, const char *buf, size_t len,
		   char *err, size_t errlen)
{
	struct pol_error e = { 0 };
	uint32_t no = 0;
	size_t at = 0;

	while (at < len) {
		const char *nl = memchr(buf + at, '\n', len - at);
		size_t n = nl ? (size_t)(nl - (buf + at)) : len - at;
		char *line;
		int r;

		no++;
		line = xcalloc(n + 1, 1);
		memcpy(line, buf + at, n);
		if (memchr(line, '\0', n)) {
			free(line);
			fail(&e, no, "rule", "a NUL byte");
			goto bad;
		}
		r = parse_line(p, line, no, &e);
		free(line);
		if (r)
			goto bad;
		at += n + 1;
	}
	return 0;
bad:
	snprintf(err, errlen, "%s:%u: %s: %s", name, e.line, e.field, e.msg);
	return -1;
}

/* ---- naive evaluator ------------------------------------------------------- */

static bool in_prefix(const struct pol_prefix *x, uint32_t ip)
{
	uint32_t mask = x->plen ? htonl(~0u << (32 - x->plen)) : 0;

	return (ip & mask) == x->net;
}

static bool rule_peer_has(const struct pol_policy *p, const struct pol_rule *r, uint32_t ip)
{
	if (r->group < 0)
		return in_prefix(&r->peer, ip);
	for (size_t i = 0; i < p->groups[r->group].n; i++)
		if (in_prefix(&p->groups[r->group].members[i], ip))
			return true;
	return false;
}

bool pol_has_dir(const struct pol_policy *p, uint8_t dir)
{
	for (size_t i = 0; i < p->nrules; i++)
		if (p->rules[i].dir == dir)
			return true;
	return false;
}

bool pol_naive_allows(const struct pol_policy *p, uint8_t dir, uint8_t proto, uint16_t port,
		      uint32_t peer)
{
	bool ports = proto == WIRE_IPPROTO_TCP || proto == WIRE_IPPROTO_UDP;

	if (dir == PGR_POL_OUT && !pol_has_dir(p, PGR_POL_OUT))
		return true;
	for (size_t i = 0; i < p->nrules; i++) {
		const struct pol_rule *r = &p->rules[i];

		if (r->dir != dir || (r->proto != POL_PROTO_ANY && r->proto != proto))
			continue;
		if (ports && (port < r->port_lo || port > r->port_hi))
			continue;
		if (rule_peer_has(p, r, peer))
			return true;
	}
	return false;
}

/* ---- compiler -------------------------------------------------------------- */

struct cls_slot {
	uint64_t sig;
	uint32_t count, cls;	/* cls 0: empty */
};

struct sweep {
	const struct pol_policy *p;
	struct pol_compiled *c;
	struct pol_error *e;
	uint32_t set;
	uint8_t dir, proto;
	size_t *act, nact, *pos;	/* the active rules, and where each sits in act */
	struct cls_slot *tab;
	size_t tabmask;
	uint32_t ncls;
};

static uint64_t rule_hash(size_t i)
{
	uint64_t x = i;

	return rng_splitmix(&x);
}

static size_t entries(const struct pol_compiled *c)
{
	return c->nport + c->npeer;
}

static int full(struct sweep *s, uint32_t line)
{
	return fail(s->e, line, "rule", "the policy compiles to more than %d entries",
		    PGR_POL_VM_ENTRIES_MAX);
}

static int emit_peer(struct sweep *s, uint32_t cls, const struct pol_rule *r,
		     const struct pol_prefix *x)
{
	struct pol_compiled *c = s->c;

	if (entries(c) >= PGR_POL_VM_ENTRIES_MAX)
		return full(s, r->line);
	if (c->npeer == c->cap_peer) {
		c->cap_peer = c->cap_peer ? 2 * c->cap_peer : 64;
		c->peer = xreallocarray(c->peer, c->cap_peer, sizeof(*c->peer));
	}
	c->peer[c->npeer++] = (struct pol_peer_entry){
		.k = { .prefixlen = PGR_POL_PEER_BITS + x->plen, .set = s->set, .dir = s->dir,
		       .proto = s->proto, .cls = htons((uint16_t)cls), .ip = x->net },
		.rule = r->line,
	};
	return 0;
}

static int cmp_prefix(const void *a, const void *b)
{
	const struct pol_prefix *x = a, *y = b;
	uint32_t nx = ntohl(x->net), ny = ntohl(y->net);

	if (nx != ny)
		return nx < ny ? -1 : 1;
	return x->plen < y->plen ? -1 : x->plen > y->plen;
}

/* The peer entries of a new class: its rules' prefixes, without those that
 * a shorter one of the class covers (any match allows, so they add
 * nothing).  Prefixes nest or are disjoint: sorted by address and then
 * length, a prefix is covered exactly when it lies in the last one kept. */
static int class_peers(struct sweep *s, uint32_t cls)
{
	struct pol_prefix *all;
	size_t n = 0, k = 0;
	uint32_t end = 0;
	bool kept = false;
	int ret = 0;

	for (size_t i = 0; i < s->nact; i++) {
		const struct pol_rule *r = &s->p->rules[s->act[i]];

		n += r->group < 0 ? 1 : s->p->groups[r->group].n;
	}
	all = xcalloc(n ? n : 1, sizeof(*all));
	for (size_t i = 0; i < s->nact; i++) {
		const struct pol_rule *r = &s->p->rules[s->act[i]];

		if (r->group < 0) {
			all[k++] = r->peer;
			continue;
		}
		for (size_t m = 0; m < s->p->groups[r->group].n; m++)
			all[k++] = s->p->groups[r->group].members[m];
	}
	qsort(all, n, sizeof(*all), cmp_prefix);
	for (size_t i = 0; i < n && !ret; i++) {
		uint32_t a = ntohl(all[i].net);

		if (kept && a <= end)
			continue;
		end = a | (all[i].plen ? ~(~0u << (32 - all[i].plen)) : ~0u);
		kept = true;
		ret = emit_peer(s, cls, &s->p->rules[s->act[0]], &all[i]);
		if (!all[i].plen)
			break;	/* everything is covered */
	}
	free(all);
	return ret;
}

/* The class of the active set, new ones with their peer entries. */
static int class_of(struct sweep *s, uint32_t *cls)
{
	uint64_t sig = 0;
	size_t h;

	for (size_t i = 0; i < s->nact; i++)
		sig += rule_hash(s->act[i]);
	for (h = sig & s->tabmask; s->tab[h].cls; h = (h + 1) & s->tabmask)
		if (s->tab[h].sig == sig && s->tab[h].count == s->nact) {
			*cls = s->tab[h].cls;
			return 0;
		}
	if (s->ncls >= PGR_POL_CLASSES_MAX)
		return fail(s->e, s->p->rules[s->act[0]].line, "rule",
			    "more than %d port classes", PGR_POL_CLASSES_MAX);
	*cls = ++s->ncls;
	s->tab[h] = (struct cls_slot){ sig, (uint32_t)s->nact, *cls };
	return class_peers(s, *cls);
}

/* [lo, hi] as prefix blocks of the 16-bit port space. */
static int emit_ports(struct sweep *s, uint32_t lo, uint32_t hi, uint32_t cls, uint32_t line)
{
	struct pol_compiled *c = s->c;

	while (lo <= hi) {
		uint32_t k = 0;

		while (k < 16 && !(lo & (1u << k)) && lo + (2u << k) - 1 <= hi)
			k++;
		if (entries(c) >= PGR_POL_VM_ENTRIES_MAX)
			return full(s, line);
		if (c->nport == c->cap_port) {
			c->cap_port = c->cap_port ? 2 * c->cap_port : 64;
			c->port = xreallocarray(c->port, c->cap_port, sizeof(*c->port));
		}
		c->port[c->nport++] = (struct pol_port_entry){
			.k = { .prefixlen = PGR_POL_PORT_BITS + 16 - k, .set = s->set,
			       .dir = s->dir, .proto = s->proto, .port = htons((uint16_t)lo) },
			.cls = cls,
		};
		lo += 1u << k;
	}
	return 0;
}

static bool applies(const struct pol_rule *r, uint8_t dir, uint8_t proto)
{
	return r->dir == dir && (r->proto == POL_PROTO_ANY || r->proto == proto);
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static void act_add(struct sweep *s, size_t i)
{
	s->pos[i] = s->nact;
	s->act[s->nact++] = i;
}

static void act_del(struct sweep *s, size_t i)
{
	size_t at = s->pos[i], last = s->act[--s->nact];

	s->act[at] = last;
	s->pos[last] = at;
}

static int by_lo(const void *a, const void *b, void *rules)
{
	const struct pol_rule *r = rules;
	uint32_t x = r[*(const size_t *)a].port_lo, y = r[*(const size_t *)b].port_lo;

	return x < y ? -1 : x > y;
}

static int by_hi(const void *a, const void *b, void *rules)
{
	const struct pol_rule *r = rules;
	uint32_t x = r[*(const size_t *)a].port_hi, y = r[*(const size_t *)b].port_hi;

	return x < y ? -1 : x > y;
}

/* One (direction, protocol): sweep the port space over the rules' bounds,
 * keeping the set of rules that cover the current elementary interval. */
static int compile_one(struct sweep *s)
{
	const struct pol_policy *p = s->p;
	uint32_t *b = xcalloc(2 * p->nrules + 2, sizeof(*b));
	size_t *st = xcalloc(p->nrules + 1, sizeof(*st)), *en = xcalloc(p->nrules + 1, sizeof(*en));
	size_t nb = 0, nr = 0, tabsize = 1, si = 0, ei = 0, u = 0;
	int ret = 0;

	for (size_t i = 0; i < p->nrules; i++)
		if (applies(&p->rules[i], s->dir, s->proto)) {
			b[nb++] = p->rules[i].port_lo;
			b[nb++] = (uint32_t)p->rules[i].port_hi + 1;
			st[nr] = en[nr] = i;
			nr++;
		}
	if (!nb)
		goto out;
	qsort(b, nb, sizeof(*b), cmp_u32);
	for (size_t j = 0; j < nb; j++)	/* unique */
		if (!u || b[u - 1] != b[j])
			b[u++] = b[j];
	nb = u;
	qsort_r(st, nr, sizeof(*st), by_lo, (void *)p->rules);
	qsort_r(en, nr, sizeof(*en), by_hi, (void *)p->rules);
	while (tabsize < 2 * nb)
		tabsize <<= 1;
	s->tab = xcalloc(tabsize, sizeof(*s->tab));
	s->tabmask = tabsize - 1;
	s->ncls = 0;
	s->nact = 0;
	for (size_t j = 0; j + 1 < nb && !ret; j++) {
		uint32_t lo = b[j], hi = b[j + 1] - 1, cls = 0;

		while (ei < nr && (uint32_t)p->rules[en[ei]].port_hi + 1 == lo)
			act_del(s, en[ei++]);
		while (si < nr && p->rules[st[si]].port_lo == lo)
			act_add(s, st[si++]);
		if (!s->nact)
			continue;
		ret = class_of(s, &cls);
		if (!ret)
			ret = emit_ports(s, lo, hi, cls, p->rules[s->act[0]].line);
	}
	free(s->tab);
	s->tab = NULL;
out:
	free(b);
	free(st);
	free(en);
	return ret;
}

int pol_compile(const struct pol_policy *p, uint32_t set, struct pol_compiled *c,
		struct pol_error *e)
{
	static const uint8_t protos[] = { WIRE_IPPROTO_TCP, WIRE_IPPROTO_UDP, WIRE_IPPROTO_ICMP,
					  PGR_POL_PROTO_OTHER };
	struct sweep s = { .p = p, .c = c, .e = e, .set = set };
	int ret = 0;

	memset(c, 0, sizeof(*c));
	c->vm.set = set;
	c->vm.flags = pol_has_dir(p, PGR_POL_OUT) ? 0 : PGR_POL_ALLOW_OUT;
	s.act = xcalloc(p->nrules + 1, sizeof(*s.act));
	s.pos = xcalloc(p->nrules + 1, sizeof(*s.pos));
	for (uint8_t dir = PGR_POL_IN; dir <= PGR_POL_OUT && !ret; dir++)
		for (size_t k = 0; k < ARRAY_SIZE(protos) && !ret; k++) {
			s.dir = dir;
			s.proto = protos[k];
			ret = compile_one(&s);
		}
	free(s.act);
	free(s.pos);
	if (ret)
		pol_compiled_free(c);
	return ret;
}

void pol_compiled_free(struct pol_compiled *c)
{
	free(c->port);
	free(c->peer);
	memset(c, 0, sizeof(*c));
}

/* ---- bandwidth limits ------------------------------------------------------ */

int pol_tbf_parse(const char *s, struct pol_tbf *t, struct pol_error *e)
{
	unsigned long long v, mul = 1;
	uint64_t bytes_per_ms;
	char *end;

	if (*s < '0' || *s > '9')
		return fail(e, 0, "rate", "'%.40s' is not a rate (bits/s: 500m, 1g)", s);
	v = strtoull(s, &end, 10);
	if (*end == 'k' || *end == 'K')
		mul = 1000;
	else if (*end == 'm' || *end == 'M')
		mul = 1000000;
	else if (*end == 'g' || *end == 'G')
		mul = 1000000000;
	if (mul != 1)
		end++;
	if (*end || v > 400ull * 1000000000 / mul || v * mul < POL_TBF_RATE_MIN)
		return fail(e, 0, "rate", "'%.40s' is not a rate from 1m to 400g", s);
	t->rate_bps = v * mul;
	bytes_per_ms = t->rate_bps / 8 / 1000;
	t->burst = (uint32_t)MAX((uint64_t)POL_TBF_BURST_MIN, bytes_per_ms * POL_TBF_BURST_MS);
	t->limit = (uint32_t)MAX((uint64_t)t->burst + 65536, bytes_per_ms * POL_TBF_QUEUE_MS);
	return 0;
}
