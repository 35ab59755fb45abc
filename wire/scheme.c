/* The table of forwarding schemes (wire/scheme.h). */
#include "wire/scheme.h"

#include <stdio.h>
#include <string.h>

static const char *const names[PGR_SCHEME_COUNT] = {
	[PGR_SCHEME_PEREGRINE] = "peregrine",
	[PGR_SCHEME_VL2] = "vl2",
	[PGR_SCHEME_BCUBE] = "bcube",
	[PGR_SCHEME_EVPN] = "evpn",
	[PGR_SCHEME_NETLORD] = "netlord",
};

const char *pgr_scheme_name(enum pgr_scheme s)
{
	return (unsigned)s < PGR_SCHEME_COUNT ? names[s] : "?";
}

bool pgr_scheme_parse(const char *name, enum pgr_scheme *out)
{
	for (unsigned i = 0; i < PGR_SCHEME_COUNT; i++) {
		if (!strcmp(name, names[i])) {
			*out = (enum pgr_scheme)i;
			return true;
		}
	}
	return false;
}

void pgr_scheme_list(char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = 0;
	for (unsigned i = 0; i < PGR_SCHEME_COUNT && off < len; i++)
		off += (size_t)snprintf(buf + off, len - off, "%s%s", i ? ", " : "", names[i]);
}
