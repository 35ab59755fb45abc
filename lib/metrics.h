/* Metrics in the Prometheus text exposition format, served over HTTP
 * (docs/metrics.md).
 *
 * A daemon's loop renders its counters into a struct metrics_text (the
 * writer below checks names and escapes label values) and publishes it; a
 * libmicrohttpd thread serves the last published copy at GET /metrics, and the daemon's recent
 * events at GET /events (below).  The
 * HTTP side never touches a core: it only copies a buffer under a lock, so a
 * slow or hostile scraper costs the daemon nothing but that copy.  The
 * server answers only GET and HEAD of /metrics and /events (404 for another path, 405
 * for another method), caps connections, their time and the request's size
 * (enum metrics_limits), and binds to the address it is given (the
 * management network, never a wildcard unless asked).
 */
#ifndef PEREGRINE_LIB_METRICS_H
#define PEREGRINE_LIB_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "lib/common.h"

enum metrics_limits {
	METRICS_MAX_CONNECTIONS = 16,
	METRICS_TIMEOUT_S = 5,		/* idle connection */
	METRICS_MAX_REQUEST = 8192,	/* bytes of request line and headers */
	METRICS_MAX_TEXT = 4 << 20,	/* a published page */
	METRICS_EVENTS = 4096,		/* the event ring (GET /events) */
	METRICS_EVENT_MAX = 512,	/* bytes of one event line */
	METRICS_EVENTS_PER_GET = 1024,	/* lines in one answer */
};

/* ---- the text ---------------------------------------------------------- */

struct metrics_text {
	char *p;
	size_t len, cap;
	bool bad;		/* a name or label was refused, or out of room */
	char last[128];		/* the family whose HELP/TYPE was written last */
};

void metrics_text_init(struct metrics_text *t);
void metrics_text_reset(struct metrics_text *t);
void metrics_text_free(struct metrics_text *t);

enum metrics_type { METRICS_COUNTER, METRICS_GAUGE };

/* One sample of family `name` (HELP and TYPE are written before its first
 * sample; samples of one family must be consecutive).  Counters' names end
 * in _total.  labels: NULL, or "key" "value" pairs ending in NULL, e.g.
 * metrics_sample(t, METRICS_COUNTER, "peregrine_directory_drops_total",
 *                "datagrams dropped", v, "reason", "short", NULL).
 * Names must match [a-zA-Z_:][a-zA-Z0-9_:]*, label names
 * [a-zA-Z_][a-zA-Z0-9_]*; values are escaped. */
void metrics_sample(struct metrics_text *t, enum metrics_type type, const char *name,
		    const char *help, double value, ...);
/* A histogram family from cumulative bucket counts (upper bounds le[i],
 * ascending; +Inf is `count`), their sum, and optional labels as above. */
void metrics_histogram(struct metrics_text *t, const char *name, const char *help,
		       const double *le, const uint64_t *cum, unsigned nb, uint64_t count,
		       double sum, ...);

/* A metric name from a counter's own name: lower case, anything but
 * [a-z0-9_] as '_'; "bad or unmatched reply" -> "bad_or_unmatched_reply". */
void metrics_name_part(const char *in, char *out, size_t outlen);

/* ---- the server -------------------------------------------------------- */

struct metrics_server;

/* Listen on "A.B.C.D:PORT" (PORT 0: any; metrics_port tells which).  NULL
 * with err filled on failure. */
struct metrics_server *metrics_start(const char *addr, char *err, size_t errlen);
uint16_t metrics_port(const struct metrics_server *s);
/* Serve this text from now on (copied). */
void metrics_publish(struct metrics_server *s, const struct metrics_text *t);
void metrics_stop(struct metrics_server *s);

/* ---- events (GET /events?after=SEQ, `peregrine monitor`) ---------------- */
/* Append an event: `fields` is the inside of a JSON object ("\"kind\":
 * \"link\",\"port\":1"); the server adds "seq" (from 1, one more per
 * event) and "ts_ns" (wall clock) in front.  The ring keeps the last
 * METRICS_EVENTS; a line longer than METRICS_EVENT_MAX is dropped and
 * counted.  GET /events?after=N answers the events after N, one JSON object
 * per line (at most METRICS_EVENTS_PER_GET; the client asks again from the
 * last seq it got), and when events after N have already left the ring, a
 * first line {"seq":..,"kind":"lost","count":K}; GET /events?after=latest
 * answers only {"seq":NEWEST,"kind":"start"}, where a new reader starts. */
void metrics_event(struct metrics_server *s, const char *fields);

/* Requests answered and refused (for the daemon's own metrics). */
struct metrics_server_stats {
	uint64_t served, not_found, bad_method;
	uint64_t events, events_too_long, event_gets;
};
void metrics_server_stats(struct metrics_server *s, struct metrics_server_stats *st);

#endif
