#include "sim/exp.h"
#include "sim/net.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "lib/parse.h"

int sim_exp_usage(const char *exp, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "peregrine sim %s: ", exp);
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\nTry 'peregrine sim %s --help'.\n", exp);
	va_end(ap);
	return 2;
}

int sim_exp_error(const char *exp, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "peregrine sim %s: ", exp);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	return 1;
}

bool sim_exp_u64(const char *exp, const char *opt, const char *s, uint64_t max,
		 uint64_t *out)
{
	if (parse_u64(s, max, out))
		return true;
	sim_exp_usage(exp, "--%s: expected a whole number from 0 to %llu, got '%s'", opt,
		      (unsigned long long)max, s);
	return false;
}

bool sim_exp_u32(const char *exp, const char *opt, const char *s, uint32_t max,
		 uint32_t *out)
{
	uint64_t v;

	if (!sim_exp_u64(exp, opt, s, max, &v))
		return false;
	*out = (uint32_t)v;
	return true;
}

bool sim_exp_double(const char *exp, const char *opt, const char *s, double lo,
		    double hi, double *out)
{
	if (parse_double(s, out) && *out >= lo && *out <= hi)
		return true;
	sim_exp_usage(exp, "--%s: expected a number from %g to %g, got '%s'", opt, lo, hi, s);
	return false;
}

bool sim_exp_schemes(const char *exp, const char *s, uint32_t *mask)
{
	char buf[256], *save = NULL;

	*mask = 0;
	if (!strcmp(s, "all")) {
		*mask = (1u << SCHEME_COUNT) - 1;
		return true;
	}
	if (strlen(s) >= sizeof(buf)) {
		sim_exp_usage(exp, "--scheme: list too long");
		return false;
	}
	strcpy(buf, s);
	for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		int sc = sim_scheme_parse(tok);

		if (sc < 0) {
			sim_exp_usage(exp, "--scheme: unknown scheme '%s' (schemes: %s, or all)",
				      tok, sim_scheme_list());
			return false;
		}
		*mask |= 1u << sc;
	}
	if (!*mask) {
		sim_exp_usage(exp, "--scheme: empty list");
		return false;
	}
	return true;
}

bool sim_exp_u32_list(const char *exp, const char *opt, const char *s, uint32_t lim,
		      uint32_t *out, uint32_t max, uint32_t *n)
{
	const char *p = s;

	*n = 0;
	for (;;) {
		char num[32];
		size_t len = strcspn(p, ",");

		if (*n == max) {
			sim_exp_usage(exp, "--%s: at most %u values", opt, max);
			return false;
		}
		if (!len || len >= sizeof(num)) {
			sim_exp_usage(exp, "--%s: expected numbers separated by commas, got '%s'",
				      opt, s);
			return false;
		}
		memcpy(num, p, len);
		num[len] = 0;
		if (!sim_exp_u32(exp, opt, num, lim, &out[(*n)++]))
			return false;
		if (!p[len])
			return true;
		p += len + 1;
	}
}

struct topo *sim_exp_topo(const char *exp, const char *spec)
{
	struct topo *t;
	char err[512];

	if (topo_from_spec(spec, &t, err, sizeof(err))) {
		sim_exp_error(exp, "--topo %s: %s", spec, err);
		return NULL;
	}
	return t;
}

struct topo *sim_exp_net(const char *exp, const char *spec, struct sim_net *n)
{
	struct topo *t = sim_exp_topo(exp, spec);
	char err[512];

	if (t && sim_net_init(n, t, err, sizeof(err))) {
		sim_exp_error(exp, "%s", err);
		topo_free(t);
		return NULL;
	}
	return t;
}

const char *sim_exp_commas(uint64_t v, char *buf, size_t len)
{
	char digits[32];
	size_t nd, o = 0;

	nd = (size_t)snprintf(digits, sizeof(digits), "%llu", (unsigned long long)v);
	for (size_t i = 0; i < nd && o + 2 < len; i++) {
		if (i && (nd - i) % 3 == 0)
			buf[o++] = ',';
		buf[o++] = digits[i];
	}
	buf[o] = 0;
	return buf;
}
