/* lib/metrics: the exposition text and the HTTP server. */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/metrics.h"

static void test_text(void **state)
{
	static const double le[] = { 0.001, 0.01, 0.1 };
	static const uint64_t cum[] = { 1, 3, 3 };
	struct metrics_text t;

	(void)state;
	metrics_text_init(&t);
	metrics_sample(&t, METRICS_COUNTER, "peregrine_x_drops_total", "drops by reason", 3,
		       "reason", "short", NULL);
	metrics_sample(&t, METRICS_COUNTER, "peregrine_x_drops_total", "drops by reason", 4,
		       "reason", "bad \"tag\"\\\n", NULL);
	metrics_sample(&t, METRICS_GAUGE, "peregrine_x_fib_entries", "entries", 12.5, NULL);
	metrics_histogram(&t, "peregrine_x_failover_seconds", "fail-over time", le, cum, 3, 4,
			  0.25, "kind", "link", NULL);
	assert_false(t.bad);
	assert_string_equal(t.p,
		"# HELP peregrine_x_drops_total drops by reason\n"
		"# TYPE peregrine_x_drops_total counter\n"
		"peregrine_x_drops_total{reason=\"short\"} 3\n"
		"peregrine_x_drops_total{reason=\"bad \\\"tag\\\"\\\\\\n\"} 4\n"
		"# HELP peregrine_x_fib_entries entries\n"
		"# TYPE peregrine_x_fib_entries gauge\n"
		"peregrine_x_fib_entries 12.5\n"
		"# HELP peregrine_x_failover_seconds fail-over time\n"
		"# TYPE peregrine_x_failover_seconds histogram\n"
		"peregrine_x_failover_seconds_bucket{kind=\"link\",le=\"0.001\"} 1\n"
		"peregrine_x_failover_seconds_bucket{kind=\"link\",le=\"0.01\"} 3\n"
		"peregrine_x_failover_seconds_bucket{kind=\"link\",le=\"0.10000000000000001\"} 3\n"
		"peregrine_x_failover_seconds_bucket{kind=\"link\",le=\"+Inf\"} 4\n"
		"peregrine_x_failover_seconds_sum{kind=\"link\"} 0.25\n"
		"peregrine_x_failover_seconds_count{kind=\"link\"} 4\n");
	/* refused: a counter without _total, bad names, reserved labels */
	metrics_text_reset(&t);
	metrics_sample(&t, METRICS_COUNTER, "peregrine_x_drops", "", 1, NULL);
	assert_true(t.bad);
	metrics_text_reset(&t);
	metrics_sample(&t, METRICS_GAUGE, "9lives", "", 1, NULL);
	assert_true(t.bad);
	metrics_text_reset(&t);
	metrics_sample(&t, METRICS_GAUGE, "a_b", "", 1, "bad-label", "v", NULL);
	assert_true(t.bad);
	metrics_text_reset(&t);
	metrics_sample(&t, METRICS_GAUGE, "a_b", "", 1, "__name__", "v", NULL);
	assert_true(t.bad);
	metrics_text_free(&t);
}

static void test_name_part(void **state)
{
	char out[32];

	(void)state;
	metrics_name_part("bad or Unmatched-reply", out, sizeof(out));
	assert_string_equal(out, "bad_or_unmatched_reply");
	metrics_name_part("a very long counter name indeed", out, 8);
	assert_string_equal(out, "a_very_");
}

/* One HTTP exchange with 127.0.0.1:port; the response into buf. */
static size_t http(uint16_t port, const char *req, char *buf, size_t cap)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	size_t n = 0;
	ssize_t k;

	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(write(fd, req, strlen(req)), (ssize_t)strlen(req));
	while (n + 1 < cap && (k = read(fd, buf + n, cap - 1 - n)) > 0)
		n += (size_t)k;
	buf[n] = 0;
	close(fd);
	return n;
}

static void test_server(void **state)
{
	struct metrics_server_stats st;
	struct metrics_server *s;
	struct metrics_text t;
	char err[256], buf[16384], *big;
	uint16_t port;

	(void)state;
	assert_null(metrics_start("127.0.0.1", err, sizeof(err)));
	assert_non_null(strstr(err, "ADDRESS:PORT"));
	assert_null(metrics_start("localhost:80", err, sizeof(err)));
	s = metrics_start("127.0.0.1:0", err, sizeof(err));
	assert_non_null(s);
	port = metrics_port(s);
	assert_true(port > 0);
	/* nothing published yet: an empty page */
	http(port, "GET /metrics HTTP/1.0\r\n\r\n", buf, sizeof(buf));
	assert_non_null(strstr(buf, "200 OK"));
	metrics_text_init(&t);
	metrics_sample(&t, METRICS_COUNTER, "peregrine_test_total", "a test", 7, NULL);
	metrics_publish(s, &t);
	http(port, "GET /metrics HTTP/1.0\r\n\r\n", buf, sizeof(buf));
	assert_non_null(strstr(buf, "200 OK"));
	assert_non_null(strstr(buf, "text/plain; version=0.0.4"));
	assert_non_null(strstr(buf, "\r\n\r\n# HELP peregrine_test_total a test\n"));
	assert_non_null(strstr(buf, "peregrine_test_total 7\n"));
	http(port, "GET /other HTTP/1.0\r\n\r\n", buf, sizeof(buf));
	assert_non_null(strstr(buf, "404"));
	http(port, "POST /metrics HTTP/1.0\r\nContent-Length: 5\r\n\r\nhello", buf, sizeof(buf));
	assert_non_null(strstr(buf, "405"));
	assert_non_null(strstr(buf, "GET, HEAD"));
	/* a request larger than the limit is refused, not buffered */
	big = malloc(METRICS_MAX_REQUEST * 4);
	assert_non_null(big);
	snprintf(big, 64, "GET /metrics HTTP/1.0\r\nX-Big: ");
	memset(big + strlen(big), 'a', METRICS_MAX_REQUEST * 3);
	strcpy(big + METRICS_MAX_REQUEST * 3, "\r\n\r\n");
	http(port, big, buf, sizeof(buf));
	free(big);
	assert_null(strstr(buf, "200 OK"));
	/* still serving */
	http(port, "GET /metrics HTTP/1.0\r\n\r\n", buf, sizeof(buf));
	assert_non_null(strstr(buf, "peregrine_test_total 7\n"));
	metrics_server_stats(s, &st);
	assert_int_equal(st.served, 3);
	assert_int_equal(st.not_found, 1);
	assert_int_equal(st.bad_method, 1);
	/* the port is taken: a second server on it fails with a message */
	snprintf(buf, sizeof(buf), "127.0.0.1:%u", port);
	assert_null(metrics_start(buf, err, sizeof(err)));
	assert_non_null(strstr(err, "cannot serve"));
	metrics_stop(s);
	metrics_text_free(&t);
}

/* The event ring behind GET /events (peregrine monitor). */
static void test_events(void **state)
{
	struct metrics_server_stats st;
	struct metrics_server *s;
	char err[256], *buf, field[64], big[METRICS_EVENT_MAX + 16];
	const size_t cap = 1 << 20;
	uint16_t port;

	(void)state;
	buf = malloc(cap);
	assert_non_null(buf);
	s = metrics_start("127.0.0.1:0", err, sizeof(err));
	assert_non_null(s);
	port = metrics_port(s);
	/* none yet: empty, and `latest` is 0 */
	http(port, "GET /events?after=0 HTTP/1.0\r\n\r\n", buf, cap);
	assert_non_null(strstr(buf, "200 OK"));
	assert_non_null(strstr(buf, "application/x-ndjson"));
	assert_non_null(strstr(buf, "\r\n\r\n") );
	assert_string_equal(strstr(buf, "\r\n\r\n") + 4, "");
	metrics_event(s, "\"kind\":\"link\",\"port\":1");
	metrics_event(s, "\"kind\":\"link\",\"port\":2");
	http(port, "GET /events?after=latest HTTP/1.0\r\n\r\n", buf, cap);
	assert_non_null(strstr(buf, "{\"seq\":2,\"kind\":\"start\"}\n"));
	http(port, "GET /events?after=1 HTTP/1.0\r\n\r\n", buf, cap);
	assert_null(strstr(buf, "\"port\":1}"));
	assert_non_null(strstr(buf, "{\"seq\":2,\"ts_ns\":"));
	assert_non_null(strstr(buf, ",\"kind\":\"link\",\"port\":2}\n"));
	/* a bad argument is a 400, not everything */
	http(port, "GET /events?after=x HTTP/1.0\r\n\r\n", buf, cap);
	assert_non_null(strstr(buf, "400"));
	/* too long: dropped and counted */
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	metrics_event(s, big);
	/* overrun the ring: a reader behind it is told how many it lost, then
	 * gets at most METRICS_EVENTS_PER_GET, from the oldest kept */
	for (int i = 0; i < METRICS_EVENTS + 10; i++) {
		snprintf(field, sizeof(field), "\"kind\":\"n\",\"i\":%d", i);
		metrics_event(s, field);
	}
	http(port, "GET /events?after=1 HTTP/1.0\r\n\r\n", buf, cap);
	snprintf(field, sizeof(field), "{\"seq\":%d,\"kind\":\"lost\",\"count\":%d}\n", 12, 11);
	assert_non_null(strstr(buf, field));
	snprintf(field, sizeof(field), "{\"seq\":%d,", 13);
	assert_non_null(strstr(buf, field));
	snprintf(field, sizeof(field), "{\"seq\":%d,", 13 + METRICS_EVENTS_PER_GET);
	assert_null(strstr(buf, field));
	/* a reader from an earlier run (after > newest) starts over */
	http(port, "GET /events?after=999999 HTTP/1.0\r\n\r\n", buf, cap);
	assert_non_null(strstr(buf, "\"kind\":\"lost\""));
	metrics_server_stats(s, &st);
	assert_int_equal(st.events, 2 + METRICS_EVENTS + 10);
	assert_int_equal(st.events_too_long, 1);
	metrics_stop(s);
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_text),
		cmocka_unit_test(test_name_part),
		cmocka_unit_test(test_server),
		cmocka_unit_test(test_events),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
