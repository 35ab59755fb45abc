/* peregrine monitor: a live stream of the fabric's events (docs/monitor.md).
 *
 * Every daemon started with --metrics keeps its recent events in a ring
 * and serves them at GET /events?after=SEQ beside its metrics
 * (lib/metrics.h).  The monitor polls each daemon's endpoint, merges what
 * it gets in time order, filters it and prints it: a line per event for
 * people, or the events' JSON objects one per line (--json).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <curl/curl.h>
#include <arpa/inet.h>

#include "cmd/cli.h"
#include "lab/lab.h"
#include "lab/run.h"
#include "lib/parse.h"

static const char monitor_help[] =
	"Usage: peregrine monitor [--prefix P | --endpoint ADDR:PORT ...] [--json]\n"
	"                         [--kind K[,K...]] [--node NAME] [--vdc VDC] [--vm VM]\n"
	"                         [--duration S] [--count N] [--from-start]\n"
	"\n"
	"Stream the fabric's events as they happen: link changes and isolated\n"
	"switches (switchd), reprogramming after a failure and its duration,\n"
	"availability marked, direct routes installed and withdrawn, migrations\n"
	"(RAS), pushes and their datagrams, migrations, dropped datagrams\n"
	"(directory), pushes applied (fail-over: the availability bits) and the\n"
	"data plane's drops by reason (agents).  Every daemon started with\n"
	"--metrics serves its events at http://ADDR:PORT/events; a running lab's\n"
	"daemons all are.  docs/monitor.md lists the events and their fields.\n"
	"\n"
	"  --prefix P          the lab P's daemons (default pg; from its management\n"
	"                      namespace)\n"
	"  --endpoint A:P      a daemon's metrics address (repeat; instead of a lab)\n"
	"  --json              one JSON object per event, as the daemon sent it\n"
	"  --kind K,...        only these kinds (link, isolated, rejoined,\n"
	"                      reprogrammed, availability, direct, migration, push,\n"
	"                      drops, directory_restarted)\n"
	"  --node NAME         only events of this node's daemons (a lab node,\n"
	"                      mgmt for the directory and the RAS, or a --name)\n"
	"  --vdc VDC           only events about this VDC (a lab VDC name or an id)\n"
	"  --vm VM             only events about this lab VM (its VDC and address)\n"
	"  --duration S        stop after S seconds (default: at SIGINT)\n"
	"  --count N           stop after N events\n"
	"  --from-start        also the events the daemons still hold from before\n"
	"  --interval MS       poll every MS (default 100)\n"
	"  -h, --help\n";

enum {
	MON_MAX_ENDPOINTS = 4096,
	MON_MAX_BODY = 4 << 20,		/* one answer: METRICS_EVENTS_PER_GET lines */
	MON_TIMEOUT_MS = 1000,
};

struct endpoint {
	char url[96];
	uint64_t last;		/* seq of the newest event seen */
	bool started, down;	/* asked for `latest`; unreachable (said once) */
	uint64_t lost;
};

struct mon {
	struct endpoint *ep;
	size_t nep;
	char prefix[16];	/* "pg-": stripped from node names */
	char kinds[256];	/* ",link,push," or "" */
	char node[80];
	long vdc;		/* -1: any */
	char vm_ip[16];		/* "" any */
	bool json, from_start;
	uint64_t count, printed;
	double duration;
	unsigned interval_ms;
	CURL *curl;
	json_t **pend;		/* fetched, not printed yet (time order) */
	size_t npend, cap;
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

struct body {
	char *p;
	size_t len;
};

static size_t on_data(char *data, size_t size, size_t n, void *arg)
{
	struct body *b = arg;
	size_t add = size * n;

	if (b->len + add > MON_MAX_BODY)
		return 0;	/* curl fails the transfer: bounded */
	b->p = xrealloc(b->p, b->len + add + 1);
	memcpy(b->p + b->len, data, add);
	b->len += add;
	b->p[b->len] = 0;
	return add;
}

/* GET url; the body in *b (caller frees), or false. */
static bool get(struct mon *m, const char *url, struct body *b, char *err, size_t errlen)
{
	long code = 0;
	CURLcode rc;

	b->p = NULL;
	b->len = 0;
	curl_easy_setopt(m->curl, CURLOPT_URL, url);
	curl_easy_setopt(m->curl, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(m->curl, CURLOPT_WRITEDATA, b);
	curl_easy_setopt(m->curl, CURLOPT_TIMEOUT_MS, (long)MON_TIMEOUT_MS);
	curl_easy_setopt(m->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(m->curl, CURLOPT_PROTOCOLS_STR, "http");
	rc = curl_easy_perform(m->curl);
	if (rc == CURLE_OK)
		curl_easy_getinfo(m->curl, CURLINFO_RESPONSE_CODE, &code);
	if (rc != CURLE_OK || code != 200) {
		snprintf(err, errlen, "%s", rc != CURLE_OK ? curl_easy_strerror(rc) : "not HTTP 200");
		free(b->p);
		b->p = NULL;
		return false;
	}
	if (!b->p)
		b->p = xstrdup("");
	return true;
}

/* ---- filters and output --------------------------------------------------- */
static const char *node_of(const struct mon *m, json_t *e)
{
	const char *n = json_string_value(json_object_get(e, "node"));
	size_t pl = strlen(m->prefix);

	if (!n)
		return "?";
	return pl && !strncmp(n, m->prefix, pl) ? n + pl : n;
}

static bool wanted(const struct mon *m, json_t *e)
{
	const char *kind = json_string_value(json_object_get(e, "kind"));
	char k[80];

	if (!kind)
		return false;
	snprintf(k, sizeof(k), ",%s,", kind);
	if (m->kinds[0] && !strstr(m->kinds, k))
		return false;
	if (m->node[0] && strcmp(node_of(m, e), m->node))
		return false;
	if (m->vdc >= 0) {
		json_t *v = json_object_get(e, "vdc");

		if (!json_is_integer(v) || json_integer_value(v) != m->vdc)
			return false;
	}
	if (m->vm_ip[0]) {
		const char *ip = json_string_value(json_object_get(e, "ip"));

		if (!ip || strcmp(ip, m->vm_ip))
			return false;
	}
	return true;
}

static void print_event(struct mon *m, json_t *e)
{
	uint64_t ts = (uint64_t)json_integer_value(json_object_get(e, "ts_ns"));
	time_t sec = (time_t)(ts / 1000000000ull);
	struct tm tm;
	char when[32];
	const char *key;
	json_t *v;

	if (m->json) {
		char *s = json_dumps(e, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(9));

		puts(s);
		free(s);
		return;
	}
	localtime_r(&sec, &tm);
	strftime(when, sizeof(when), "%H:%M:%S", &tm);
	printf("%s.%06llu %-9s %-10s %-13s", when,
	       (unsigned long long)(ts % 1000000000ull / 1000),
	       json_string_value(json_object_get(e, "daemon")) ?: "?", node_of(m, e),
	       json_string_value(json_object_get(e, "kind")) ?: "?");
	json_object_foreach(e, key, v) {
		if (!strcmp(key, "seq") || !strcmp(key, "ts_ns") || !strcmp(key, "daemon") ||
		    !strcmp(key, "node") || !strcmp(key, "kind"))
			continue;
		if (json_is_string(v))
			printf(" %s=%s", key, json_string_value(v));
		else if (json_is_real(v))
			printf(" %s=%.3f", key, json_real_value(v));
		else {
			char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);

			printf(" %s=%s", key, s ? s : "?");
			free(s);
		}
	}
	putchar('\n');
}

static int by_time(const void *a, const void *b)
{
	json_int_t x = json_integer_value(json_object_get(*(json_t *const *)a, "ts_ns"));
	json_int_t y = json_integer_value(json_object_get(*(json_t *const *)b, "ts_ns"));

	return (x > y) - (x < y);
}

/* Print the pending events older than `before` (wall clock ns; UINT64_MAX:
 * all), in time order.  An event older than the start of a round that has
 * polled every endpoint cannot be followed by an older one still unseen:
 * the round's answers held everything up to their moment. */
static void flush_pending(struct mon *m, uint64_t before)
{
	size_t keep = 0;

	if (m->npend)
		qsort(m->pend, m->npend, sizeof(*m->pend), by_time);
	for (size_t i = 0; i < m->npend; i++) {
		json_t *e = m->pend[i];

		if ((uint64_t)json_integer_value(json_object_get(e, "ts_ns")) >= before) {
			m->pend[keep++] = e;
			continue;
		}
		if (wanted(m, e) && (!m->count || m->printed < m->count)) {
			print_event(m, e);
			m->printed++;
		}
		json_decref(e);
	}
	m->npend = keep;
	fflush(stdout);
}

/* One poll of every endpoint, then what is certain to be in order. */
static void poll_once(struct mon *m)
{
	struct timespec now;
	uint64_t round;
	json_t **evs;
	size_t nev, cap;

	clock_gettime(CLOCK_REALTIME, &now);
	round = (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
	evs = m->pend;
	nev = m->npend;
	cap = m->cap;

	for (size_t i = 0; i < m->nep && !stop; i++) {
		struct endpoint *ep = &m->ep[i];
		char url[160], err[256];
		struct body b;

		if (!ep->started && !m->from_start)
			snprintf(url, sizeof(url), "%s?after=latest", ep->url);
		else
			snprintf(url, sizeof(url), "%s?after=%llu", ep->url,
				 (unsigned long long)ep->last);
		if (!get(m, url, &b, err, sizeof(err))) {
			if (!ep->down)
				fprintf(stderr, "monitor: %s: %s (retrying)\n", ep->url, err);
			ep->down = true;
			continue;
		}
		if (ep->down)
			fprintf(stderr, "monitor: %s: answering again\n", ep->url);
		ep->down = false;
		for (char *line = b.p, *nl; *line; line = nl ? nl + 1 : line + strlen(line)) {
			json_t *e, *seq;
			const char *kind;

			nl = strchr(line, '\n');
			if (nl)
				*nl = 0;
			if (!*line)
				continue;
			e = json_loads(line, 0, NULL);
			seq = e ? json_object_get(e, "seq") : NULL;
			if (!json_is_integer(seq)) {
				json_decref(e);
				continue;
			}
			/* a daemon that restarted numbers from 1 again */
			if ((uint64_t)json_integer_value(seq) < ep->last && ep->started)
				ep->last = 0;
			ep->last = (uint64_t)json_integer_value(seq);
			kind = json_string_value(json_object_get(e, "kind"));
			if (kind && !strcmp(kind, "start")) {
				json_decref(e);
				continue;
			}
			if (kind && !strcmp(kind, "lost")) {
				ep->lost += (uint64_t)json_integer_value(json_object_get(e, "count"));
				fprintf(stderr, "monitor: %s: %lld events left its ring before they "
					"were read\n", ep->url,
					(long long)json_integer_value(json_object_get(e, "count")));
				json_decref(e);
				continue;
			}
			if (nev == cap) {
				cap = cap ? cap * 2 : 64;
				evs = xrealloc(evs, cap * sizeof(*evs));
			}
			evs[nev++] = e;
		}
		ep->started = true;
		free(b.p);
	}
	m->pend = evs;
	m->npend = nev;
	m->cap = cap;
	flush_pending(m, round);
}

/* ---- endpoints --------------------------------------------------------------- */
static void add_endpoint(struct mon *m, const char *hostport)
{
	m->ep = xrealloc(m->ep, (m->nep + 1) * sizeof(*m->ep));
	memset(&m->ep[m->nep], 0, sizeof(m->ep[0]));
	snprintf(m->ep[m->nep].url, sizeof(m->ep[0].url), "http://%s/events", hostport);
	m->nep++;
}

static bool endpoint_ok(const char *s)
{
	char host[INET_ADDRSTRLEN];
	const char *colon = strrchr(s, ':');
	struct in_addr a;
	uint32_t port;

	if (!colon || (size_t)(colon - s) >= sizeof(host) || !parse_u32(colon + 1, 65535, &port) ||
	    port == 0)
		return false;
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = 0;
	return inet_pton(AF_INET, host, &a) == 1;
}

/* The daemons of one of lab l's namespaces that serve metrics. */
static void from_node(struct mon *m, const struct lab *l, uint32_t node)
{
	for (size_t i = 0; i < lab_ndaemons; i++) {
		char url[128], *p;

		if (!lab_daemon_runs_on(l, &lab_daemons[i], node) ||
		    !lab_metrics_url(l, &lab_daemons[i], node, url, sizeof(url)))
			continue;
		/* "http://A:P/metrics" -> "A:P" */
		p = url + strlen("http://");
		*strchr(p, '/') = 0;
		add_endpoint(m, p);
	}
}

/* Every daemon of lab l that serves metrics: its nodes', the management
 * namespace's, and a replicated control plane's in namespaces of their own
 * (docs/ha.md), which replace the management namespace's; the VDC and VM
 * filters by name.  0, or an exit status after printing why. */
static int from_lab(struct mon *m, const struct lab *l, const char *vdc, const char *vm)
{
	for (uint32_t n = 0; n < l->topo->nnodes; n++)
		from_node(m, l, n);
	from_node(m, l, LAB_NS_MGMT);
	for (unsigned k = 0; k < LAB_HA_KINDS; k++)
		for (uint32_t i = 0; i < l->ha.n[k]; i++)
			from_node(m, l, lab_ha_which((enum lab_ha_kind)k, i));
	if (vdc && m->vdc < 0) {
		for (uint32_t i = 0; i < l->nvdcs; i++)
			if (!strcmp(l->vdcs[i].name, vdc))
				m->vdc = l->vdcs[i].id;
		if (m->vdc < 0)
			return cli_usage_error("monitor", "--vdc %s: not a VDC of lab %s", vdc,
					       l->prefix);
	}
	if (vm) {
		int v = -1;

		lab_find(l, vm, &v);
		if (v < 0)
			return cli_usage_error("monitor", "--vm %s: not a VM of lab %s", vm, l->prefix);
		m->vdc = l->vdcs[l->vms[v].vdc].id;
		lab_ip_str(l->vms[v].ip, m->vm_ip);
	}
	return 0;
}

int cmd_monitor(int argc, char **argv)
{
	struct mon m = { .vdc = -1, .interval_ms = 100 };
	const char *prefix = NULL, *vdc = NULL, *vm = NULL;
	char ns[64], err[512];
	struct lab l;
	bool have_lab = false;
	uint64_t t0;
	int rc = 0;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		uint32_t u;

		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			fputs(monitor_help, stdout);
			return 0;
		} else if (!strcmp(a, "--json")) {
			m.json = true;
		} else if (!strcmp(a, "--from-start")) {
			m.from_start = true;
		} else if (a[0] == '-' && !v) {
			return cli_usage_error("monitor", "%s needs a value (or is unknown)", a);
		} else if (!strcmp(a, "--prefix")) {
			prefix = argv[++i];
		} else if (!strcmp(a, "--endpoint")) {
			if (!endpoint_ok(v))
				return cli_usage_error("monitor", "--endpoint '%s': expected "
						       "A.B.C.D:PORT", v);
			if (m.nep >= MON_MAX_ENDPOINTS)
				return cli_usage_error("monitor", "at most %d endpoints",
						       MON_MAX_ENDPOINTS);
			add_endpoint(&m, argv[++i]);
		} else if (!strcmp(a, "--kind")) {
			if (strlen(v) + 3 > sizeof(m.kinds))
				return cli_usage_error("monitor", "--kind: too long");
			snprintf(m.kinds, sizeof(m.kinds), ",%s,", argv[++i]);
		} else if (!strcmp(a, "--node")) {
			snprintf(m.node, sizeof(m.node), "%s", argv[++i]);
		} else if (!strcmp(a, "--vdc")) {
			vdc = argv[++i];
			if (parse_u32(vdc, (1u << 24) - 1, &u))
				m.vdc = u;
		} else if (!strcmp(a, "--vm")) {
			vm = argv[++i];
		} else if (!strcmp(a, "--duration")) {
			char *end;

			m.duration = strtod(argv[++i], &end);
			if (*end || !(m.duration > 0 && m.duration <= 86400 * 365))
				return cli_usage_error("monitor", "--duration '%s': seconds, > 0", v);
		} else if (!strcmp(a, "--count")) {
			uint64_t c;

			if (!parse_u64(argv[++i], UINT64_MAX, &c) || c == 0)
				return cli_usage_error("monitor", "--count '%s': a number > 0", v);
			m.count = c;
		} else if (!strcmp(a, "--interval")) {
			if (!parse_u32(argv[++i], 60000, &u) || u < 10)
				return cli_usage_error("monitor", "--interval '%s': 10 to 60000 ms", v);
			m.interval_ms = u;
		} else {
			return cli_usage_error("monitor", "unknown argument '%s'", a);
		}
	}
	if (prefix && m.nep) {
		free(m.ep);
		return cli_usage_error("monitor", "give --prefix or --endpoint, not both");
	}
	if (!m.nep) {
		if (!prefix)
			prefix = "pg";
		if (lab_load_running(prefix, &l, err, sizeof(err))) {
			free(m.ep);
			return cli_error("monitor: %s", err);
		}
		have_lab = true;
		snprintf(m.prefix, sizeof(m.prefix), "%s-", prefix);
		if ((rc = from_lab(&m, &l, vdc, vm)))
			goto out;
		if (!m.nep) {
			rc = cli_error("monitor: lab %s runs no daemon that serves events", prefix);
			goto out;
		}
		lab_ns(&l, "mgmt", ns, sizeof(ns));
		if ((rc = cli_enter_netns(ns)))
			goto out;
	} else if (vm || (vdc && m.vdc < 0)) {
		rc = cli_usage_error("monitor", "--vm and a VDC by name need a lab (--prefix)");
		goto out;
	}
	if (curl_global_init(CURL_GLOBAL_NOTHING) || !(m.curl = curl_easy_init())) {
		rc = cli_error("monitor: cannot initialise libcurl");
		goto out;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_IGN);
	t0 = mono_ns();
	while (!stop) {
		uint64_t next = mono_ns() + (uint64_t)m.interval_ms * 1000000ull;
		struct timespec ts;

		poll_once(&m);
		if ((m.count && m.printed >= m.count) ||
		    (m.duration > 0 && (double)(mono_ns() - t0) / 1e9 >= m.duration))
			break;
		while (!stop && mono_ns() < next) {
			uint64_t left = next - mono_ns();

			ts.tv_sec = (time_t)(left / 1000000000ull);
			ts.tv_nsec = (long)(left % 1000000000ull);
			nanosleep(&ts, NULL);
		}
	}
	flush_pending(&m, UINT64_MAX);
	curl_easy_cleanup(m.curl);
	curl_global_cleanup();
out:
	for (size_t i = 0; i < m.npend; i++)
		json_decref(m.pend[i]);
	free(m.pend);
	if (have_lab)
		lab_free(&l);
	free(m.ep);
	return rc;
}
