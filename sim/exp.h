/* Shared pieces of the experiments' command lines (sim/exp_*.c). */
#ifndef PEREGRINE_SIM_EXP_H
#define PEREGRINE_SIM_EXP_H

#include <getopt.h>
#include <stdio.h>

#include "lib/json.h"
#include "sim/scheme.h"
#include "topo/topo.h"

/* Every experiment's entry point (sim/experiments.def). */
#define SIM_EXP(name, summary) int sim_exp_##name(int argc, char **argv);
#include "sim/experiments.def"
#undef SIM_EXP

/* "peregrine sim EXP: msg" and a pointer to --help; returns 2. */
int sim_exp_usage(const char *exp, const char *fmt, ...) PRINTF(2, 3);
/* "peregrine sim EXP: msg"; returns 1. */
int sim_exp_error(const char *exp, const char *fmt, ...) PRINTF(2, 3);

/* Whole decimal numbers with a bound; false after printing what is wrong. */
bool sim_exp_u32(const char *exp, const char *opt, const char *s, uint32_t max,
		 uint32_t *out);
bool sim_exp_u64(const char *exp, const char *opt, const char *s, uint64_t max,
		 uint64_t *out);
bool sim_exp_double(const char *exp, const char *opt, const char *s, double lo,
		    double hi, double *out);

/* "l2", "l2,spain", "all": a bit per scheme in *mask.  false after an error. */
bool sim_exp_schemes(const char *exp, const char *s, uint32_t *mask);
/* Comma-separated numbers, at most max of them, each at most lim. */
bool sim_exp_u32_list(const char *exp, const char *opt, const char *s, uint32_t lim,
		      uint32_t *out, uint32_t max, uint32_t *n);

/* Build the topology; NULL after printing the reason. */
struct topo *sim_exp_topo(const char *exp, const char *spec);
/* Build the topology and its simulated network; NULL after printing the
 * reason.  The caller frees both: sim_net_free(n), then topo_free(). */
struct sim_net;
struct topo *sim_exp_net(const char *exp, const char *spec, struct sim_net *n);

/* 1234567 -> "1,234,567" in buf. */
const char *sim_exp_commas(uint64_t v, char *buf, size_t len);

#endif
