/* Prometheus text and its HTTP server (lib/metrics.h). */
#include "lib/metrics.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <microhttpd.h>

#include "lib/parse.h"

/* ---- the text ---------------------------------------------------------- */

void metrics_text_init(struct metrics_text *t)
{
	memset(t, 0, sizeof(*t));
}

void metrics_text_reset(struct metrics_text *t)
{
	t->len = 0;
	t->bad = false;
	t->last[0] = 0;
	if (t->p)
		t->p[0] = 0;
}

void metrics_text_free(struct metrics_text *t)
{
	free(t->p);
	metrics_text_init(t);
}

static void put(struct metrics_text *t, const char *fmt, ...) PRINTF(2, 3);
static void put(struct metrics_text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		size_t room = t->cap - t->len;

		va_start(ap, fmt);
		n = vsnprintf(t->p ? t->p + t->len : NULL, t->p ? room : 0, fmt, ap);
		va_end(ap);
		if (n < 0) {
			t->bad = true;
			return;
		}
		if (t->p && (size_t)n < room) {
			t->len += (size_t)n;
			return;
		}
		if (t->len + (size_t)n + 1 > METRICS_MAX_TEXT) {
			t->bad = true;
			return;
		}
		t->cap = MAX(t->cap * 2, MAX(t->len + (size_t)n + 1, (size_t)4096));
		t->p = xrealloc(t->p, t->cap);
	}
}

static bool name_ok(const char *s, bool colon)
{
	if (!*s || isdigit((unsigned char)*s))
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '_' && !(colon && *s == ':'))
			return false;
	return true;
}

/* A label value, escaped as the format asks: \\, \" and \n. */
static void put_value(struct metrics_text *t, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\')
			put(t, "\\\\");
		else if (*v == '"')
			put(t, "\\\"");
		else if (*v == '\n')
			put(t, "\\n");
		else
			put(t, "%c", *v);
	}
}

/* {k="v",...} from a va_list of pairs ending in NULL; extra: one more pair
 * (a histogram's le) or NULL. */
static void put_labels(struct metrics_text *t, va_list ap, const char *xk, const char *xv)
{
	const char *k;
	bool any = false;

	while ((k = va_arg(ap, const char *))) {
		const char *v = va_arg(ap, const char *);

		if (!v || !name_ok(k, false) || !strncmp(k, "__", 2)) {
			t->bad = true;
			return;
		}
		put(t, "%s%s=\"", any ? "," : "{", k);
		put_value(t, v);
		put(t, "\"");
		any = true;
	}
	if (xk) {
		put(t, "%s%s=\"%s\"", any ? "," : "{", xk, xv);
		any = true;
	}
	if (any)
		put(t, "}");
}

static void put_number(struct metrics_text *t, double v)
{
	if (isnan(v))
		put(t, " NaN\n");
	else if (isinf(v))
		put(t, v > 0 ? " +Inf\n" : " -Inf\n");
	else if (v == (double)(int64_t)v && fabs(v) < 9e15)
		put(t, " %lld\n", (long long)v);
	else
		put(t, " %.17g\n", v);
}

static bool family(struct metrics_text *t, const char *name, const char *help,
		   const char *type)
{
	if (!name_ok(name, true) || strlen(name) >= sizeof(t->last)) {
		t->bad = true;
		return false;
	}
	if (strcmp(t->last, name)) {
		put(t, "# HELP %s ", name);
		for (const char *h = help ? help : ""; *h; h++)	/* HELP escapes \ and \n */
			put(t, *h == '\\' ? "\\\\" : *h == '\n' ? "\\n" : "%c", *h);
		put(t, "\n# TYPE %s %s\n", name, type);
		snprintf(t->last, sizeof(t->last), "%s", name);
	}
	return true;
}

void metrics_sample(struct metrics_text *t, enum metrics_type type, const char *name,
		    const char *help, double value, ...)
{
	size_t n = strlen(name);
	va_list ap;

	if (type == METRICS_COUNTER && (n < 6 || strcmp(name + n - 6, "_total"))) {
		t->bad = true;	/* the naming convention, enforced */
		return;
	}
	if (!family(t, name, help, type == METRICS_COUNTER ? "counter" : "gauge"))
		return;
	put(t, "%s", name);
	va_start(ap, value);
	put_labels(t, ap, NULL, NULL);
	va_end(ap);
	put_number(t, value);
}

void metrics_histogram(struct metrics_text *t, const char *name, const char *help,
		       const double *le, const uint64_t *cum, unsigned nb, uint64_t count,
		       double sum, ...)
{
	char bound[32];
	va_list ap;

	if (!family(t, name, help, "histogram"))
		return;
	for (unsigned i = 0; i <= nb; i++) {
		if (i < nb)
			snprintf(bound, sizeof(bound), "%.17g", le[i]);
		put(t, "%s_bucket", name);
		va_start(ap, sum);
		put_labels(t, ap, "le", i < nb ? bound : "+Inf");
		va_end(ap);
		put_number(t, (double)(i < nb ? cum[i] : count));
	}
	put(t, "%s_sum", name);
	va_start(ap, sum);
	put_labels(t, ap, NULL, NULL);
	va_end(ap);
	put_number(t, sum);
	put(t, "%s_count", name);
	va_start(ap, sum);
	put_labels(t, ap, NULL, NULL);
	va_end(ap);
	put_number(t, (double)count);
}

void metrics_name_part(const char *in, char *out, size_t outlen)
{
	size_t n = 0;

	if (!outlen)
		return;
	for (; *in && n + 1 < outlen; in++) {
		char c = (char)tolower((unsigned char)*in);

		out[n++] = isalnum((unsigned char)c) ? c : '_';
	}
	out[n] = 0;
}

/* ---- the server -------------------------------------------------------- */

struct metrics_server {
	struct MHD_Daemon *mhd;
	pthread_mutex_t mu;
	char *page;		/* the published text */
	size_t len;
	struct metrics_server_stats st;
	/* the event ring: seq n is in ev[(n - 1) % METRICS_EVENTS] */
	char (*ev)[METRICS_EVENT_MAX];
	uint64_t ev_last;	/* seq of the newest; 0: none yet */
};

void metrics_event(struct metrics_server *s, const char *fields)
{
	struct timespec ts;
	char line[METRICS_EVENT_MAX];
	uint64_t seq;
	int n;

	if (!s)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	pthread_mutex_lock(&s->mu);
	seq = s->ev_last + 1;
	n = snprintf(line, sizeof(line), "{\"seq\":%" PRIu64 ",\"ts_ns\":%" PRIu64 ",%s}\n", seq,
		     (uint64_t)((uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec), fields);
	if (n < 0 || (size_t)n >= sizeof(line)) {
		s->st.events_too_long++;
	} else {
		memcpy(s->ev[(seq - 1) % METRICS_EVENTS], line, (size_t)n + 1);
		s->ev_last = seq;
		s->st.events++;
	}
	pthread_mutex_unlock(&s->mu);
}

/* The events after `after`, as JSON lines; called under s->mu. */
static char *events_after(struct metrics_server *s, uint64_t after, size_t *len)
{
	uint64_t first = s->ev_last > METRICS_EVENTS ? s->ev_last - METRICS_EVENTS + 1 : 1;
	char *out = NULL;
	size_t cap = 0;
	FILE *f = open_memstream(&out, &cap);
	unsigned n = 0;

	if (!f)
		die("out of memory");
	if (after > s->ev_last)		/* a client of an earlier run: from the start */
		after = 0;
	if (after + 1 < first && s->ev_last) {
		fprintf(f, "{\"seq\":%" PRIu64 ",\"kind\":\"lost\",\"count\":%" PRIu64 "}\n",
			first - 1, first - 1 - after);
		after = first - 1;
	}
	for (uint64_t q = after + 1; q <= s->ev_last && n < METRICS_EVENTS_PER_GET; q++, n++)
		fputs(s->ev[(q - 1) % METRICS_EVENTS], f);
	fclose(f);
	*len = cap;
	return out;
}

static enum MHD_Result answer(struct metrics_server *s, struct MHD_Connection *c,
			      unsigned status, const char *body, size_t len, bool copy)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(
		len, (void *)body, copy ? MHD_RESPMEM_MUST_COPY : MHD_RESPMEM_PERSISTENT);
	enum MHD_Result ret;

	(void)s;
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
				status == MHD_HTTP_OK ? "text/plain; version=0.0.4; charset=utf-8"
						      : "text/plain; charset=utf-8");
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version,
				  const char *upload_data, size_t *upload_data_size, void **ctx)
{
	static const char not_found[] = "not found: the metrics are at /metrics, events at /events\n";
	static const char bad_method[] = "method not allowed: GET or HEAD\n";
	struct metrics_server *s = cls;
	enum MHD_Result ret;

	(void)version;
	(void)upload_data;
	(void)ctx;
	if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD)) {
		*upload_data_size = 0;	/* a body is not read */
		pthread_mutex_lock(&s->mu);
		s->st.bad_method++;
		pthread_mutex_unlock(&s->mu);
		return answer(s, c, MHD_HTTP_METHOD_NOT_ALLOWED, bad_method,
			      sizeof(bad_method) - 1, false);
	}
	if (!strcmp(url, "/events")) {
		const char *a = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "after");
		uint64_t after = 0;
		struct MHD_Response *r;
		size_t len;
		char *body;

		if (a && !strcmp(a, "latest")) {	/* where a new reader starts */
			char line[64];
			int n;

			pthread_mutex_lock(&s->mu);
			n = snprintf(line, sizeof(line), "{\"seq\":%" PRIu64 ",\"kind\":\"start\"}\n",
				     s->ev_last);
			pthread_mutex_unlock(&s->mu);
			return answer(s, c, MHD_HTTP_OK, line, (size_t)n, true);
		}
		if (a && !parse_u64(a, UINT64_MAX, &after)) {
			static const char bad[] = "bad request: after=SEQ (a number) or after=latest\n";

			return answer(s, c, MHD_HTTP_BAD_REQUEST, bad, sizeof(bad) - 1, false);
		}
		pthread_mutex_lock(&s->mu);
		s->st.event_gets++;
		body = events_after(s, after, &len);
		pthread_mutex_unlock(&s->mu);
		r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
		if (!r) {
			free(body);
			return MHD_NO;
		}
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/x-ndjson");
		ret = MHD_queue_response(c, MHD_HTTP_OK, r);
		MHD_destroy_response(r);
		return ret;
	}
	if (strcmp(url, "/metrics")) {
		pthread_mutex_lock(&s->mu);
		s->st.not_found++;
		pthread_mutex_unlock(&s->mu);
		return answer(s, c, MHD_HTTP_NOT_FOUND, not_found, sizeof(not_found) - 1, false);
	}
	pthread_mutex_lock(&s->mu);
	s->st.served++;
	ret = answer(s, c, MHD_HTTP_OK, s->page ? s->page : "", s->page ? s->len : 0, true);
	pthread_mutex_unlock(&s->mu);
	return ret;
}

struct metrics_server *metrics_start(const char *addr, char *err, size_t errlen)
{
	struct metrics_server *s;
	struct sockaddr_in sa = { .sin_family = AF_INET };
	char host[INET_ADDRSTRLEN];
	const char *colon = addr ? strrchr(addr, ':') : NULL;
	uint32_t port;

	if (!colon || (size_t)(colon - addr) >= sizeof(host) || !parse_u32(colon + 1, 65535, &port)) {
		snprintf(err, errlen, "'%s': expected ADDRESS:PORT", addr ? addr : "");
		return NULL;
	}
	memcpy(host, addr, (size_t)(colon - addr));
	host[colon - addr] = 0;
	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
		snprintf(err, errlen, "'%s': not an IPv4 address", host);
		return NULL;
	}
	sa.sin_port = htons((uint16_t)port);
	s = xcalloc(1, sizeof(*s));
	s->ev = xcalloc(METRICS_EVENTS, sizeof(*s->ev));
	pthread_mutex_init(&s->mu, NULL);
	s->mhd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL, (uint16_t)port,
				  NULL, NULL, on_request, s,
				  MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
				  MHD_OPTION_CONNECTION_LIMIT, (unsigned)METRICS_MAX_CONNECTIONS,
				  MHD_OPTION_PER_IP_CONNECTION_LIMIT,
				  (unsigned)METRICS_MAX_CONNECTIONS / 2,
				  MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)METRICS_TIMEOUT_S,
				  MHD_OPTION_CONNECTION_MEMORY_LIMIT,
				  (size_t)METRICS_MAX_REQUEST * 2,
				  MHD_OPTION_END);
	if (!s->mhd) {
		snprintf(err, errlen, "cannot serve metrics on %s (address in use, or not "
			 "this host's)", addr);
		pthread_mutex_destroy(&s->mu);
		free(s->ev);
		free(s);
		return NULL;
	}
	return s;
}

uint16_t metrics_port(const struct metrics_server *s)
{
	const union MHD_DaemonInfo *i = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_BIND_PORT);

	return i ? i->port : 0;
}

void metrics_publish(struct metrics_server *s, const struct metrics_text *t)
{
	char *copy = xmalloc(t->len + 1);

	memcpy(copy, t->p ? t->p : "", t->len);
	copy[t->len] = 0;
	pthread_mutex_lock(&s->mu);
	free(s->page);
	s->page = copy;
	s->len = t->len;
	pthread_mutex_unlock(&s->mu);
}

void metrics_server_stats(struct metrics_server *s, struct metrics_server_stats *st)
{
	pthread_mutex_lock(&s->mu);
	*st = s->st;
	pthread_mutex_unlock(&s->mu);
}

void metrics_stop(struct metrics_server *s)
{
	if (!s)
		return;
	MHD_stop_daemon(s->mhd);
	pthread_mutex_destroy(&s->mu);
	free(s->page);
	free(s->ev);
	free(s);
}
