/* peregrine sim: the scale model.  Dispatches to the experiments listed in
 * sim/experiments.def. */
#include <stdio.h>
#include <string.h>

#include "cmd/cli.h"
#include "sim/scheme.h"

#define SIM_EXP(name, summary) int sim_exp_##name(int argc, char **argv);
#include "sim/experiments.def"
#undef SIM_EXP

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;
} experiments[] = {
#define SIM_EXP(name, summary) { #name, sim_exp_##name, summary },
#include "sim/experiments.def"
#undef SIM_EXP
	{ NULL, NULL, NULL }
};

static void sim_usage(FILE *f)
{
	fprintf(f, "Usage: peregrine sim EXPERIMENT --topo SPEC --scheme S [OPTIONS]\n\n"
		   "Run the same topology and routing code as the real fabric over data\n"
		   "centers no single machine can emulate.  Schemes: %s.\n"
		   "Every experiment takes --json and, where a curve says more than a\n"
		   "table, --plot FILE.  'peregrine sim EXPERIMENT --help' for each.\n\n"
		   "Experiments:\n", sim_scheme_list());
	for (size_t i = 0; experiments[i].name; i++)
		fprintf(f, "  %-10s %s\n", experiments[i].name, experiments[i].summary);
}

int cmd_sim(int argc, char **argv)
{
	if (argc < 2) {
		sim_usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		sim_usage(stdout);
		return 0;
	}
	for (size_t i = 0; experiments[i].name; i++)
		if (!strcmp(argv[1], experiments[i].name))
			return experiments[i].fn(argc - 1, argv + 1);
	return cli_usage_error("sim", "unknown experiment '%s'", argv[1]);
}
