/* peregrine lab report DIR: the HTML report of a demo run.
 *
 * A demo run with --report DIR leaves its measurements in DIR/data/
 * (docs/lab-report.md): report.json names the run's figures, the lab
 * status taken while the failures held, and the streams with the moments
 * of their failures; each stream file is `probe recv --json --bin-ms`'s
 * output.  This writes DIR/index.html, one file that fetches nothing: the
 * topology is Graphviz's SVG (from topo_write_dot_state, `dot -Tsvg`)
 * inlined, each stream's receive rate is an SVG chart drawn here.
 *
 * `lab compare --report DIR` runs each scheme's demo with --report
 * DIR/NAME; its DIR/data/report.json holds the comparison (`compare`: the
 * rows and the targets' ratios) and `parts`, the NAMEs, each drawn on the
 * same page from DIR/NAME/data as a demo's report is.
 */
#include <errno.h>
#include <math.h>
#include <spawn.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cmd/cli.h"
#include "cmd/lab_report.h"
#include "topo/dot.h"

extern char **environ;

enum report_limits {
	REPORT_MAX_FILE = 16 << 20,	/* bytes of one input file */
	REPORT_MAX_STREAMS = 16,
	REPORT_MAX_EVENTS = 32,		/* marks on one stream */
	REPORT_MAX_POINTS = 1000,	/* a chart's points: bins are summed to fit */
	REPORT_MAX_BINS = 100000,	/* bins of one stream read at all */
	REPORT_MAX_PARTS = 16,		/* schemes on a comparison's page */
	REPORT_CHART_W = 900,
	REPORT_CHART_H = 280,
};

struct report {
	const char *dir;
	char data[4096];
	FILE *out;
	int h;			/* the level of its section headings: 2, or 3 in a part */
};

/* A JSON file under DIR/data, bounded in size. */
static json_t *load_data(const struct report *r, const char *name)
{
	char path[8192];
	struct stat sb;
	json_error_t e;
	json_t *j;

	if (!name || strchr(name, '/') || !strcmp(name, "..")) {
		cli_error("lab report: '%s' is not a file name in %s", name ? name : "(none)",
			  r->data);
		return NULL;
	}
	snprintf(path, sizeof(path), "%s/%s", r->data, name);
	if (stat(path, &sb)) {
		cli_error("lab report: %s: %s", path, strerror(errno));
		return NULL;
	}
	if (sb.st_size > REPORT_MAX_FILE) {
		cli_error("lab report: %s: larger than %d bytes", path, REPORT_MAX_FILE);
		return NULL;
	}
	if (!(j = json_load_file(path, 0, &e)))
		cli_error("lab report: %s:%d: %s", path, e.line, e.text);
	return j;
}

static void html_esc(FILE *f, const char *s)
{
	for (; s && *s; s++) {
		switch (*s) {
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '&': fputs("&amp;", f); break;
		case '"': fputs("&quot;", f); break;
		default: fputc(*s, f);
		}
	}
}

static const char *jstr(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : "";
}

/* ---- topology ------------------------------------------------------------------------ */
static uint32_t node_index(const struct topo *t, const char *name)
{
	for (uint32_t i = 0; i < t->nnodes; i++)
		if (!strcmp(t->nodes[i].name, name))
			return i;
	return UINT32_MAX;
}

/* The lab status's link states and FIB use onto the topology it names. */
static void status_state(const struct topo *t, const json_t *status, uint8_t *link,
			 int64_t *used, int64_t *cap, uint8_t *down)
{
	uint8_t *agent = xcalloc(t->nnodes, 1);
	size_t i;
	json_t *o;

	for (uint32_t n = 0; n < t->nnodes; n++)
		used[n] = -1;
	json_array_foreach(json_object_get(status, "nodes"), i, o) {
		uint32_t n = node_index(t, jstr(o, "name"));
		json_t *u = json_object_get(o, "fib_used");

		if (n == UINT32_MAX)
			continue;
		down[n] = json_is_null(json_object_get(o, "namespace"));
		/* a server whose agent stopped (`lab node down`, BCube's relays) */
		agent[n] = json_is_null(json_object_get(json_object_get(o, "daemons"), "agent"));
		/* null: its switchd did not answer; absent: the scheme has none */
		used[n] = json_is_integer(u) ? json_integer_value(u) : u ? -1 : -2;
		cap[n] = json_integer_value(json_object_get(o, "fib_capacity"));
	}
	json_array_foreach(json_object_get(status, "links"), i, o) {
		uint32_t a = node_index(t, jstr(o, "a")), b = node_index(t, jstr(o, "b"));
		const char *s = jstr(o, "state");
		json_int_t pa = json_integer_value(json_object_get(o, "a_port"));
		json_int_t pb = json_integer_value(json_object_get(o, "b_port"));

		for (uint32_t l = 0; l < t->nlinks; l++) {
			const struct topo_link *k = &t->links[l];

			if (k->a == a && k->b == b && k->pa == pa && k->pb == pb)
				link[l] = !strcmp(s, "up") ? TOPO_DOT_UP
					  : !strcmp(s, "down") ? TOPO_DOT_DOWN : TOPO_DOT_ABSENT;
		}
	}
	/* No switch answered: the scheme's switches have no FIB to ask
	 * (VL2's run FRR, not switchd), so none is labelled. */
	bool any = false;

	for (uint32_t n = 0; n < t->nnodes; n++)
		any |= !topo_is_server(t, n) && used[n] >= 0;
	for (uint32_t n = 0; n < t->nnodes && !any; n++)
		used[n] = -2;
	/* A failed switch (`lab node down`) keeps its namespace: its switchd
	 * does not answer and none of its links is up.  So does a failed
	 * server, whose agent has stopped too (a server whose ports a leaf's
	 * uplink tracking took down still runs its agent). */
	for (uint32_t n = 0; n < t->nnodes; n++) {
		bool any_up = false;

		if (topo_is_server(t, n) ? !agent[n] : used[n] >= 0)
			continue;
		for (uint32_t l = 0; l < t->nlinks; l++)
			if ((t->links[l].a == n || t->links[l].b == n) && link[l] == TOPO_DOT_UP)
				any_up = true;
		down[n] |= !any_up;
	}
	free(agent);
}

/* Run `dot -Tsvg IN -o OUT`; 0 or -1 after saying why. */
static int run_dot(const char *in, const char *out)
{
	char *argv[] = { "dot", "-Tsvg", (char *)in, "-o", (char *)out, NULL };
	pid_t pid;
	int st, rc = posix_spawnp(&pid, "dot", NULL, NULL, argv, environ);

	if (rc) {
		cli_error("lab report: cannot run Graphviz's dot: %s (Debian: graphviz)",
			  strerror(rc));
		return -1;
	}
	if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st)) {
		cli_error("lab report: dot -Tsvg %s failed", in);
		return -1;
	}
	return 0;
}

/* Copy an SVG file into the page, from its <svg element on. */
static int inline_svg(FILE *f, const char *path)
{
	struct stat sb;
	char *buf, *svg;
	FILE *in;
	size_t n;

	if (stat(path, &sb) || sb.st_size > REPORT_MAX_FILE || !(in = fopen(path, "r"))) {
		cli_error("lab report: cannot read %s", path);
		return -1;
	}
	buf = xcalloc((size_t)sb.st_size + 1, 1);
	n = fread(buf, 1, (size_t)sb.st_size, in);
	fclose(in);
	buf[n] = 0;
	if (!(svg = strstr(buf, "<svg"))) {
		free(buf);
		cli_error("lab report: %s holds no <svg>", path);
		return -1;
	}
	fputs(svg, f);
	free(buf);
	return 0;
}

static int write_topology(struct report *r, const json_t *m)
{
	const char *sname = json_string_value(json_object_get(m, "status"));
	json_t *status = load_data(r, sname);
	struct topo *t = NULL;
	char err[256], dot[8192], svg[8192];
	int rc = -1;
	FILE *f;

	if (!status)
		return -1;
	if (topo_from_spec(jstr(status, "topology"), &t, err, sizeof(err))) {
		cli_error("lab report: %s: topology: %s", sname, err);
		goto out;
	}
	{
		uint8_t *link = xcalloc(t->nlinks, 1), *down = xcalloc(t->nnodes, 1);
		int64_t *used = xcalloc(t->nnodes, sizeof(*used));
		int64_t *cap = xcalloc(t->nnodes, sizeof(*cap));
		struct topo_dot_state st = { link, used, cap, down };

		status_state(t, status, link, used, cap, down);
		snprintf(dot, sizeof(dot), "%s/topology.dot", r->data);
		if ((f = fopen(dot, "w"))) {
			topo_write_dot_state(t, &st, f);
			rc = fclose(f) ? -1 : 0;
		}
		free(link);
		free(down);
		free(used);
		free(cap);
	}
	if (rc) {
		cli_error("lab report: cannot write %s", dot);
		goto out;
	}
	snprintf(svg, sizeof(svg), "%s/topology.svg", r->data);
	if ((rc = run_dot(dot, svg)))
		goto out;
	fprintf(r->out, "<h%d>Topology</h%d>\n<p>", r->h, r->h);
	html_esc(r->out, jstr(m, "status_caption"));
	fputs(" Links down are red and dashed, a failed switch is grey; each switch shows "
	      "its forwarding entries against its capacity.</p>\n<figure class=\"topo\">",
	      r->out);
	rc = inline_svg(r->out, svg);
	fputs("</figure>\n", r->out);
out:
	topo_free(t);
	json_decref(status);
	return rc;
}

/* ---- streams ------------------------------------------------------------------------- */
struct chart {
	double x0, xs, y0, ys;	/* seconds, packets/s -> pixels */
	double tmax, rmax;
};

static double cx(const struct chart *c, double s)
{
	return c->x0 + s * c->xs;
}

static double cy(const struct chart *c, double rate)
{
	return c->y0 - rate * c->ys;
}

static void chart_axes(FILE *f, const struct chart *c)
{
	double ystep = pow(10, floor(log10(c->rmax > 1 ? c->rmax : 1)));
	double xstep = c->tmax > 20 ? 5 : c->tmax > 5 ? 1 : 0.5;

	if (c->rmax / ystep < 3)
		ystep /= 2;
	fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#333\"/>\n",
		cx(c, 0), cy(c, 0), cx(c, c->tmax), cy(c, 0));
	fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#333\"/>\n",
		cx(c, 0), cy(c, 0), cx(c, 0), cy(c, c->rmax));
	for (double y = 0; y <= c->rmax * 1.0001; y += ystep)
		fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" font-size=\"10\">"
			"%g</text><line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
			"stroke=\"#ddd\"/>\n", cx(c, 0) - 4, cy(c, y) + 3, y, cx(c, 0), cy(c, y),
			cx(c, c->tmax), cy(c, y));
	for (double x = 0; x <= c->tmax * 1.0001; x += xstep)
		fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" font-size=\"10\">"
			"%g</text>\n", cx(c, x), cy(c, 0) + 14, x);
	fprintf(f, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\" font-size=\"11\">seconds "
		"from the first arrival</text>\n", cx(c, c->tmax / 2), REPORT_CHART_H - 4);
	fprintf(f, "<text x=\"12\" y=\"%.1f\" font-size=\"11\" transform=\"rotate(-90 12 %.1f)\" "
		"text-anchor=\"middle\">received packets/s</text>\n", cy(c, c->rmax / 2),
		cy(c, c->rmax / 2));
}

/* The failures: a red line at each, labelled; loss gaps shaded. */
static void chart_marks(FILE *f, const struct chart *c, const json_t *probe,
			const json_t *events, uint64_t t0)
{
	size_t i;
	json_t *o;
	int k = 0;

	json_array_foreach(json_object_get(probe, "loss_gaps"), i, o) {
		double s = ((double)json_integer_value(json_object_get(o, "start_ns")) - (double)t0)
			   / 1e9;
		double w = json_number_value(json_object_get(o, "gap_ms")) / 1e3;

		if (s < 0 || s > c->tmax)
			continue;
		fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
			"fill=\"orange\" fill-opacity=\"0.35\"><title>%.1f ms lost</title></rect>\n",
			cx(c, s), cy(c, c->rmax), fmax(w * c->xs, 1.5), cy(c, 0) - cy(c, c->rmax),
			w * 1e3);
	}
	json_array_foreach(events, i, o) {
		double s = ((double)json_integer_value(json_object_get(o, "at_ns")) - (double)t0)
			   / 1e9;

		if (i >= REPORT_MAX_EVENTS || s < 0 || s > c->tmax)
			continue;
		fprintf(f, "<line class=\"event\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
			"stroke=\"red\" stroke-dasharray=\"4 3\"/>\n<text x=\"%.1f\" y=\"%.1f\" "
			"font-size=\"11\" fill=\"red\">", cx(c, s), cy(c, 0), cx(c, s),
			cy(c, c->rmax) - 2, cx(c, s) + 3, cy(c, c->rmax) + 12 + 13 * (k++ % 3));
		html_esc(f, jstr(o, "label"));
		fputs("</text>\n", f);
	}
}

/* One stream's chart: arrivals per bin as packets per second. */
static int write_stream(struct report *r, const json_t *s)
{
	json_t *probe = load_data(r, json_string_value(json_object_get(s, "file")));
	json_t *rate, *counts;
	size_t n, group;
	double bin_s;
	struct chart c;
	uint64_t t0;

	if (!probe)
		return -1;
	rate = json_object_get(probe, "rate");
	counts = json_object_get(rate, "counts");
	n = json_array_size(counts);
	bin_s = (double)json_integer_value(json_object_get(rate, "bin_ms")) / 1e3;
	if (!json_is_array(counts) || n == 0 || n > REPORT_MAX_BINS || bin_s <= 0) {
		json_decref(probe);
		cli_error("lab report: stream '%s': no `rate` (probe recv --bin-ms)",
			  jstr(s, "name"));
		return -1;
	}
	t0 = (uint64_t)json_integer_value(json_object_get(rate, "start_ns"));
	group = (n + REPORT_MAX_POINTS - 1) / REPORT_MAX_POINTS;
	c.tmax = (double)n * bin_s;
	c.rmax = 1;
	for (size_t i = 0; i < n; i += group) {
		double sum = 0;

		for (size_t j = i; j < n && j < i + group; j++)
			sum += (double)json_integer_value(json_array_get(counts, j));
		c.rmax = fmax(c.rmax, sum / (bin_s * (double)group));
	}
	c.rmax *= 1.15;
	c.x0 = 70;
	c.xs = (REPORT_CHART_W - 90) / c.tmax;
	c.y0 = REPORT_CHART_H - 30;
	c.ys = (REPORT_CHART_H - 50) / c.rmax;

	fprintf(r->out, "<h%d>", r->h + 1);
	html_esc(r->out, jstr(s, "name"));
	fprintf(r->out, "</h%d>\n<p>", r->h + 1);
	html_esc(r->out, jstr(s, "caption"));
	fprintf(r->out, " Received %lld, lost %lld; bins of %g ms.</p>\n",
		json_integer_value(json_object_get(probe, "received")),
		json_integer_value(json_object_get(probe, "lost")), bin_s * 1e3);
	fprintf(r->out, "<figure class=\"stream\"><svg xmlns=\"http://www.w3.org/2000/svg\" "
		"width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" font-family=\"sans-serif\">\n",
		REPORT_CHART_W, REPORT_CHART_H, REPORT_CHART_W, REPORT_CHART_H);
	chart_axes(r->out, &c);
	chart_marks(r->out, &c, probe, json_object_get(s, "events"), t0);
	fputs("<polyline fill=\"none\" stroke=\"#1f5fa8\" stroke-width=\"1.2\" points=\"", r->out);
	for (size_t i = 0; i < n; i += group) {
		double sum = 0;

		for (size_t j = i; j < n && j < i + group; j++)
			sum += (double)json_integer_value(json_array_get(counts, j));
		fprintf(r->out, "%.1f,%.1f ", cx(&c, (double)i * bin_s),
			cy(&c, sum / (bin_s * (double)group)));
	}
	fputs("\"/>\n</svg></figure>\n", r->out);
	json_decref(probe);
	return 0;
}

/* ---- figures ------------------------------------------------------------------------- */
static void write_figures(FILE *f, const json_t *fig, int h)
{
	const char *key;
	json_t *v;

	fprintf(f, "<h%d>Figures</h%d>\n<table>\n", h, h);
	json_object_foreach((json_t *)fig, key, v) {
		char *txt = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(6));

		fputs("<tr><th>", f);
		html_esc(f, key);
		fputs("</th><td>", f);
		html_esc(f, txt);
		fputs("</td></tr>\n", f);
		free(txt);
	}
	fputs("</table>\n", f);
}

static const char report_css[] =
	"body{font-family:sans-serif;margin:2em;max-width:1000px}"
	"table{border-collapse:collapse}th,td{border:1px solid #ccc;padding:2px 8px;"
	"text-align:left;font-size:13px}th{background:#f4f4f4}"
	"figure{margin:1em 0}figure.topo,div.wide{overflow-x:auto}"
	"section.part{border-top:2px solid #888;margin-top:2em}";

static void write_compare(FILE *f, const json_t *cmp);

/* A demo's run: its summary, (a comparison's tables,) topology, streams
 * and figures. */
static int write_run(struct report *r, const json_t *m)
{
	json_t *streams = json_object_get(m, "streams"), *s;
	size_t i;
	int rc = 0;

	fputs("<p>", r->out);
	html_esc(r->out, jstr(m, "summary"));
	fputs("</p>\n", r->out);
	if (json_is_object(json_object_get(m, "compare")))
		write_compare(r->out, json_object_get(m, "compare"));
	if (json_is_string(json_object_get(m, "status")))
		rc |= write_topology(r, m);
	if (json_array_size(streams))
		fprintf(r->out, "<h%d>Streams</h%d>\n<p>Each measured stream's receive rate over "
			"time; red lines mark the failures and the migration, orange bands the "
			"datagrams lost.</p>\n", r->h, r->h);
	json_array_foreach(streams, i, s)
		if (i < REPORT_MAX_STREAMS)
			rc |= write_stream(r, s);
	if (json_is_object(json_object_get(m, "figures")))
		write_figures(r->out, json_object_get(m, "figures"), r->h);
	return rc;
}

static void cell(FILE *f, const json_t *v)
{
	char *txt = json_is_string(v) ? NULL
		    : json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(6));

	fputs("<td>", f);
	html_esc(f, txt ? txt : json_is_string(v) ? json_string_value(v) : "");
	fputs("</td>", f);
	free(txt);
}

/* The comparison: one row per scheme (the columns of the first row), then
 * the targets with their ratios. */
static void write_compare(FILE *f, const json_t *cmp)
{
	json_t *rows = json_object_get(cmp, "rows"), *row, *first = json_array_get(rows, 0), *v;
	json_t *targets = json_object_get(cmp, "targets"), *t;
	const char *key;
	size_t i;

	fputs("<h2>Schemes</h2>\n<div class=\"wide\"><table class=\"rows\">\n<tr>", f);
	json_object_foreach(first, key, v) {
		fputs("<th>", f);
		html_esc(f, key);
		fputs("</th>", f);
	}
	fputs("</tr>\n", f);
	json_array_foreach(rows, i, row) {
		fputs("<tr>", f);
		json_object_foreach(first, key, v)
			cell(f, json_object_get(row, key));
		fputs("</tr>\n", f);
	}
	fputs("</table></div>\n<h2>Targets</h2>\n<table class=\"targets\">\n"
	      "<tr><th>target</th><th>ratio</th><th>met</th></tr>\n", f);
	json_array_foreach(targets, i, t) {
		json_t *met = json_object_get(t, "met");

		fputs("<tr>", f);
		cell(f, json_object_get(t, "target"));
		cell(f, json_object_get(t, "value"));
		fprintf(f, "<td>%s</td></tr>\n", json_is_true(met) ? "met"
			: json_is_false(met) ? "<b>not met</b>" : "no target");
	}
	fputs("</table>\n", f);
}

/* Each scheme's run of a comparison, from DIR/NAME/data. */
static int write_part(const struct report *r, const char *name)
{
	struct report p = { .dir = r->dir, .out = r->out, .h = 3 };
	json_t *m;
	int rc;

	if (!name || !*name || strchr(name, '/') || !strcmp(name, "..") || !strcmp(name, ".")) {
		cli_error("lab report: part '%s' is not a directory name in %s",
			  name ? name : "(none)", r->dir);
		return -1;
	}
	snprintf(p.data, sizeof(p.data), "%s/%s/data", r->dir, name);
	if (!(m = load_data(&p, "report.json")))
		return -1;
	fputs("<section class=\"part\"><h2>", r->out);
	html_esc(r->out, json_is_string(json_object_get(m, "title")) ? jstr(m, "title") : name);
	fputs("</h2>\n", r->out);
	rc = json_is_object(m) ? write_run(&p, m) : -1;
	fputs("</section>\n", r->out);
	json_decref(m);
	return rc;
}

static int write_report(struct report *r, const json_t *m)
{
	json_t *parts = json_object_get(m, "parts"), *part;
	size_t i;
	int rc = 0;

	fputs("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>", r->out);
	html_esc(r->out, jstr(m, "title"));
	fprintf(r->out, "</title><style>%s</style></head><body>\n<h1>", report_css);
	html_esc(r->out, jstr(m, "title"));
	fputs("</h1>\n", r->out);
	rc |= write_run(r, m);
	if (json_array_size(parts) > REPORT_MAX_PARTS) {
		cli_error("lab report: more than %d parts", REPORT_MAX_PARTS);
		rc = -1;
	}
	json_array_foreach(parts, i, part)
		if (i < REPORT_MAX_PARTS)
			rc |= write_part(r, json_string_value(part));
	fputs("</body></html>\n", r->out);
	return rc;
}

int lab_report(const char *dir)
{
	struct report r = { .dir = dir, .h = 2 };
	char path[8192], tmp[8200];
	json_t *m;
	int rc;

	snprintf(r.data, sizeof(r.data), "%s/data", dir);
	if (!(m = load_data(&r, "report.json")))
		return 1;
	if (!json_is_object(m)) {
		json_decref(m);
		return cli_error("lab report: %s/report.json is not an object", r.data);
	}
	snprintf(path, sizeof(path), "%s/index.html", dir);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if (!(r.out = fopen(tmp, "w"))) {
		json_decref(m);
		return cli_error("lab report: cannot write %s: %s", tmp, strerror(errno));
	}
	rc = write_report(&r, m);
	rc |= fclose(r.out);
	json_decref(m);
	if (rc || rename(tmp, path)) {
		unlink(tmp);
		return cli_error("lab report: %s not written", path);
	}
	printf("%s\n", path);
	return 0;
}
