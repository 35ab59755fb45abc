/* Plots for the experiments' --plot FILE: curves handed to gnuplot, which
 * writes an SVG (FILE ending in .svg) or a PNG (.png).  Data go inline in
 * the script, so no temporary files are left behind. */
#ifndef PEREGRINE_SIM_PLOT_H
#define PEREGRINE_SIM_PLOT_H

#include "lib/common.h"
#include "sim/limits.h"

struct sim_plot_series {
	const char *title;
	uint32_t n;
	const double *x, *y;
};

struct sim_plot {
	const char *title, *xlabel, *ylabel;
	bool logx, logy;
	bool points;			/* mark the data points */
	double hline;			/* drawn when hline_title is set */
	const char *hline_title;
	uint32_t nseries;
	struct sim_plot_series s[SIM_PLOT_MAX_SERIES];
};

/* Add a series (the arrays must live until sim_plot_write). */
void sim_plot_add(struct sim_plot *p, const char *title, uint32_t n, const double *x,
		  const double *y);
/* Run gnuplot.  0, or -1 with a one-line reason in err. */
int sim_plot_write(const struct sim_plot *p, const char *path, char *err, size_t errlen);

#endif
