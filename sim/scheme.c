#include "sim/scheme.h"

#include <string.h>

static const char *const names[SCHEME_COUNT] = {
	[SCHEME_L2] = "l2", [SCHEME_SPAIN] = "spain", [SCHEME_NETLORD] = "netlord",
	[SCHEME_VL2] = "vl2", [SCHEME_PEREGRINE] = "peregrine",
	[SCHEME_PEREGRINE_DUAL] = "peregrine-dual", [SCHEME_BCUBE] = "bcube",
	[SCHEME_EVPN] = "evpn",
};

int sim_scheme_parse(const char *s)
{
	for (int i = 0; i < SCHEME_COUNT; i++)
		if (strcmp(s, names[i]) == 0)
			return i;
	return -1;
}

const char *sim_scheme_name(enum sim_scheme s)
{
	return s < SCHEME_COUNT ? names[s] : "?";
}

const char *sim_scheme_list(void)
{
	return "l2, spain, netlord, vl2, peregrine, peregrine-dual, bcube, evpn";
}
