#include "sim/plot.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

void sim_plot_add(struct sim_plot *p, const char *title, uint32_t n, const double *x,
		  const double *y)
{
	assert(p->nseries < SIM_PLOT_MAX_SERIES);
	p->s[p->nseries++] = (struct sim_plot_series){ title, n, x, y };
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);

	return a >= b && !strcmp(s + a - b, suffix);
}

/* Strings go into the script between double quotes. */
static bool quotable(const char *s)
{
	return !s || !strpbrk(s, "\"\\\n`");
}

/* Colours that stay apart on white (the default palette has a pale yellow). */
static const char *const colours[] = {
	"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b",
	"#e377c2", "#7f7f7f", "#bcbd22",
};

static void write_script(FILE *f, const struct sim_plot *p, const char *path)
{
	fprintf(f, "set terminal %s size 720,440 font 'sans,11'\n",
		ends_with(path, ".png") ? "pngcairo" : "svg dynamic background '#ffffff'");
	fprintf(f, "set output \"%s\"\nset key top left\nset grid\n", path);
	fprintf(f, "set title \"%s\"\nset xlabel \"%s\"\nset ylabel \"%s\"\n",
		p->title ? p->title : "", p->xlabel ? p->xlabel : "",
		p->ylabel ? p->ylabel : "");
	if (p->logx)
		fprintf(f, "set logscale x\n");
	if (p->logy)
		fprintf(f, "set logscale y\n");
	for (uint32_t i = 0; i < p->nseries; i++) {
		fprintf(f, "$d%u << EOD\n", i);
		for (uint32_t j = 0; j < p->s[i].n; j++)
			fprintf(f, "%.10g %.10g\n", p->s[i].x[j], p->s[i].y[j]);
		fprintf(f, "EOD\n");
	}
	fprintf(f, "plot ");
	for (uint32_t i = 0; i < p->nseries; i++)
		fprintf(f, "%s$d%u using 1:2 with %s lw 2 lc rgb '%s' title \"%s\"",
			i ? ", " : "", i, p->points ? "linespoints pt 7 ps 0.6" : "lines",
			colours[i % ARRAY_SIZE(colours)], p->s[i].title);
	if (p->hline_title)
		fprintf(f, ", %.10g with lines dt 2 lc rgb '#cc0000' title \"%s\"", p->hline,
			p->hline_title);
	fprintf(f, "\n");
}

int sim_plot_write(const struct sim_plot *p, const char *path, char *err, size_t errlen)
{
	FILE *f;
	int st;

	if (!ends_with(path, ".svg") && !ends_with(path, ".png")) {
		snprintf(err, errlen, "--plot %s: the file name must end in .svg or .png", path);
		return -1;
	}
	bool ok = quotable(path) && quotable(p->title) && quotable(p->xlabel) &&
		  quotable(p->ylabel) && quotable(p->hline_title);
	for (uint32_t i = 0; i < p->nseries; i++)
		ok &= quotable(p->s[i].title);
	if (!ok) {
		snprintf(err, errlen, "--plot %s: quotes, backslashes and newlines cannot "
			 "be passed to gnuplot", path);
		return -1;
	}
	fflush(NULL);
	f = popen("gnuplot", "w");
	if (!f) {
		snprintf(err, errlen, "cannot run gnuplot: %s", strerror(errno));
		return -1;
	}
	write_script(f, p, path);
	st = pclose(f);
	if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st)) {
		snprintf(err, errlen, "gnuplot failed writing %s (is gnuplot installed? "
			 "scripts/deps.sh installs it)", path);
		return -1;
	}
	return 0;
}
