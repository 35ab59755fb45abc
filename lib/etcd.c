/* The etcd v3 JSON gateway client (lib/etcd.h). */
#include "lib/etcd.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/common.h"

struct endpoints {
	char url[ETCD_MAX_ENDPOINTS][ETCD_URL_MAX];
	unsigned n, cur;
};

struct etcd {
	struct endpoints ep;
	unsigned timeout_ms;
	CURL *curl;
	struct curl_slist *hdrs;
	struct etcd_stats st;
};

struct buf {
	char *p;
	size_t len, cap, max;
	bool overflow;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init_once(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

static int parse_endpoints(const char *urls, struct endpoints *ep, char *err, size_t errlen)
{
	const char *s = urls;

	memset(ep, 0, sizeof(*ep));
	while (s && *s) {
		const char *c = strchr(s, ',');
		size_t n = c ? (size_t)(c - s) : strlen(s);

		if (ep->n == ETCD_MAX_ENDPOINTS || n == 0 || n >= ETCD_URL_MAX ||
		    (strncmp(s, "http://", 7) && strncmp(s, "https://", 8))) {
			snprintf(err, errlen, "etcd endpoints: expected at most %d http://HOST:PORT, comma-separated",
				 ETCD_MAX_ENDPOINTS);
			return -EINVAL;
		}
		memcpy(ep->url[ep->n], s, n);
		while (n && ep->url[ep->n][n - 1] == '/')
			ep->url[ep->n][--n] = 0;
		ep->n++;
		s = c ? c + 1 : NULL;
	}
	if (!ep->n) {
		snprintf(err, errlen, "etcd endpoints: none given");
		return -EINVAL;
	}
	return 0;
}

struct etcd *etcd_new(const char *urls, unsigned timeout_ms, char *err, size_t errlen)
{
	struct etcd *e = xcalloc(1, sizeof(*e));

	if (parse_endpoints(urls, &e->ep, err, errlen)) {
		free(e);
		return NULL;
	}
	pthread_once(&curl_once, curl_init_once);
	e->timeout_ms = timeout_ms ? timeout_ms : ETCD_TIMEOUT_MS;
	if (!(e->curl = curl_easy_init()))
		die("curl: cannot initialise");
	e->hdrs = curl_slist_append(NULL, "Content-Type: application/json");
	return e;
}

void etcd_free(struct etcd *e)
{
	if (!e)
		return;
	curl_slist_free_all(e->hdrs);
	curl_easy_cleanup(e->curl);
	free(e);
}

const struct etcd_stats *etcd_get_stats(const struct etcd *e)
{
	return &e->st;
}

const char *etcd_endpoint(const struct etcd *e)
{
	return e->ep.url[e->ep.cur];
}

/* ---- encoding ------------------------------------------------------------------ */

static json_t *b64(const void *p, size_t n)
{
	size_t cap = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);
	char *s = xmalloc(cap);
	json_t *j;

	sodium_bin2base64(s, cap, p, n, sodium_base64_VARIANT_ORIGINAL);
	j = json_string(s);
	free(s);
	return j;
}

/* Decode a base64 JSON string into out (cap bytes); -1 if it is not one or
 * does not fit.  An absent field is empty. */
static long unb64(const json_t *j, uint8_t *out, size_t cap)
{
	const char *s;
	size_t n;

	if (!j)
		return 0;
	if (!(s = json_string_value(j)))
		return -1;
	if (sodium_base642bin(out, cap, s, strlen(s), NULL, &n, NULL,
			      sodium_base64_VARIANT_ORIGINAL))
		return -1;
	return (long)n;
}

/* etcd's int64 fields are JSON strings ("12"), omitted when zero. */
static int64_t i64(const json_t *j)
{
	if (json_is_string(j))
		return strtoll(json_string_value(j), NULL, 10);
	if (json_is_integer(j))
		return json_integer_value(j);
	return 0;
}

static json_t *i64_str(int64_t v)
{
	char s[24];

	snprintf(s, sizeof(s), "%" PRId64, v);
	return json_string(s);
}

/* The end of a prefix range: the prefix with its last byte that is not
 * 0xff incremented (and what follows it cut); "\0" for everything. */
static json_t *prefix_end(const void *prefix, size_t plen)
{
	uint8_t end[ETCD_KEY_MAX];

	memcpy(end, prefix, plen);
	while (plen && end[plen - 1] == 0xff)
		plen--;
	if (!plen)
		return b64("", 1);
	end[plen - 1]++;
	return b64(end, plen);
}

/* ---- HTTP ------------------------------------------------------------------------ */

static size_t buf_write(char *p, size_t sz, size_t n, void *arg)
{
	struct buf *b = arg;
	size_t len = sz * n;

	if (b->len + len + 1 > b->max) {
		b->overflow = true;
		return 0;	/* aborts the transfer */
	}
	if (b->len + len + 1 > b->cap) {
		b->cap = MAX(b->cap * 2, b->len + len + 1);
		b->p = xrealloc(b->p, b->cap);
	}
	memcpy(b->p + b->len, p, len);
	b->len += len;
	b->p[b->len] = 0;
	return len;
}

/* POST body to path on the endpoints, from the current one, once around.
 * 0 and the parsed reply in *reply, or -errno. */
static int post(struct etcd *e, const char *path, json_t *body, json_t **reply)
{
	char *text = json_dumps(body, JSON_COMPACT);
	int ret = -EHOSTUNREACH;

	json_decref(body);
	e->st.requests++;
	for (unsigned tried = 0; tried < e->ep.n; tried++) {
		struct buf b = { .max = ETCD_REPLY_MAX };
		char url[ETCD_URL_MAX + 64];
		long code = 0;
		CURLcode rc;

		snprintf(url, sizeof(url), "%s%s", e->ep.url[e->ep.cur], path);
		curl_easy_reset(e->curl);
		curl_easy_setopt(e->curl, CURLOPT_URL, url);
		curl_easy_setopt(e->curl, CURLOPT_POSTFIELDS, text);
		curl_easy_setopt(e->curl, CURLOPT_HTTPHEADER, e->hdrs);
		curl_easy_setopt(e->curl, CURLOPT_TIMEOUT_MS, (long)e->timeout_ms);
		curl_easy_setopt(e->curl, CURLOPT_CONNECTTIMEOUT_MS, (long)e->timeout_ms);
		curl_easy_setopt(e->curl, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(e->curl, CURLOPT_WRITEFUNCTION, buf_write);
		curl_easy_setopt(e->curl, CURLOPT_WRITEDATA, &b);
		rc = curl_easy_perform(e->curl);
		if (rc == CURLE_OK)
			curl_easy_getinfo(e->curl, CURLINFO_RESPONSE_CODE, &code);
		if (rc == CURLE_OK && code == 200) {
			json_t *j = json_loadb(b.p ? b.p : "", b.len, 0, NULL);

			free(b.p);
			if (json_is_object(j)) {
				*reply = j;
				free(text);
				return 0;
			}
			json_decref(j);
			e->st.bad_replies++;
			ret = -EPROTO;
		} else if (rc == CURLE_OPERATION_TIMEDOUT) {
			free(b.p);
			e->st.timeouts++;
			ret = -ETIMEDOUT;
		} else if (rc != CURLE_OK && !b.overflow) {
			free(b.p);
			e->st.unreachable++;
			ret = -EHOSTUNREACH;
		} else {
			free(b.p);
			e->st.bad_replies++;
			ret = -EPROTO;	/* an HTTP error: no leader, bad request */
		}
		if (e->ep.n > 1) {
			e->ep.cur = (e->ep.cur + 1) % e->ep.n;
			e->st.failovers++;
		}
	}
	free(text);
	e->st.errors++;
	return ret;
}

static int64_t header_rev(const json_t *reply)
{
	return i64(json_object_get(json_object_get(reply, "header"), "revision"));
}

/* ---- key-value ---------------------------------------------------------------------- */

static json_t *put_req(const void *key, size_t klen, const void *val, size_t vlen, int64_t lease)
{
	json_t *r = json_pack("{s:o, s:o}", "key", b64(key, klen), "value", b64(val, vlen));

	if (lease)
		json_object_set_new(r, "lease", i64_str(lease));
	return r;
}

int etcd_put(struct etcd *e, const void *key, size_t klen, const void *val, size_t vlen,
	     int64_t lease, int64_t *rev)
{
	json_t *reply;
	int rc;

	if (klen == 0 || klen > ETCD_KEY_MAX)
		return -EINVAL;
	if ((rc = post(e, "/v3/kv/put", put_req(key, klen, val, vlen, lease), &reply)))
		return rc;
	if (rev)
		*rev = header_rev(reply);
	json_decref(reply);
	return 0;
}

int etcd_del(struct etcd *e, const void *key, size_t klen, int64_t *rev)
{
	json_t *reply;
	int rc;

	if (klen == 0 || klen > ETCD_KEY_MAX)
		return -EINVAL;
	if ((rc = post(e, "/v3/kv/deleterange", json_pack("{s:o}", "key", b64(key, klen)),
		       &reply)))
		return rc;
	if (rev)
		*rev = header_rev(reply);
	json_decref(reply);
	return 0;
}

int etcd_txn(struct etcd *e, const struct etcd_op *ops, size_t n, int64_t *rev)
{
	json_t *success, *compare, *reply;
	bool ok;
	int rc;

	if (n == 0 || n > ETCD_TXN_OPS)
		return -EINVAL;
	success = json_array();
	compare = json_array();
	for (size_t i = 0; i < n; i++)
		if (ops[i].check && ops[i].klen && ops[i].klen <= ETCD_KEY_MAX)
			json_array_append_new(compare, json_pack("{s:o, s:s, s:s, s:o}", "key",
								 b64(ops[i].key, ops[i].klen),
								 "target", "MOD", "result", "EQUAL",
								 "mod_revision",
								 i64_str(ops[i].expect_mod)));
	for (size_t i = 0; i < n; i++) {
		if (ops[i].klen == 0 || ops[i].klen > ETCD_KEY_MAX) {
			json_decref(success);
			json_decref(compare);
			return -EINVAL;
		}
		if (ops[i].del)
			json_array_append_new(success, json_pack("{s:{s:o}}", "request_delete_range",
								 "key", b64(ops[i].key, ops[i].klen)));
		else
			json_array_append_new(success, json_pack("{s:o}", "request_put",
								 put_req(ops[i].key, ops[i].klen,
									 ops[i].val, ops[i].vlen,
									 ops[i].lease)));
	}
	if ((rc = post(e, "/v3/kv/txn", json_pack("{s:o, s:o}", "compare", compare, "success",
						   success), &reply)))
		return rc;
	if (rev)
		*rev = header_rev(reply);
	ok = json_is_true(json_object_get(reply, "succeeded"));
	json_decref(reply);
	if (!ok) {
		e->st.compare_failed++;
		return -ECANCELED;
	}
	return 0;
}

static int kv_decode(struct etcd *e, const json_t *kv, uint8_t *k, long *klen, uint8_t *v,
		     long *vlen)
{
	*klen = unb64(json_object_get(kv, "key"), k, ETCD_KEY_MAX);
	*vlen = unb64(json_object_get(kv, "value"), v, ETCD_VAL_MAX);
	if (*klen <= 0 || *vlen < 0) {
		e->st.bad_replies++;
		return -EPROTO;
	}
	return 0;
}

int etcd_range_prefix(struct etcd *e, const void *prefix, size_t plen, etcd_kv_fn fn,
		      void *arg, int64_t *rev)
{
	uint8_t *k, *v;
	json_t *reply, *kvs;
	size_t i;
	int rc;

	if (plen == 0 || plen > ETCD_KEY_MAX)
		return -EINVAL;
	if ((rc = post(e, "/v3/kv/range", json_pack("{s:o, s:o}", "key", b64(prefix, plen),
						      "range_end", prefix_end(prefix, plen)),
		       &reply)))
		return rc;
	if (rev)
		*rev = header_rev(reply);
	k = xmalloc(ETCD_KEY_MAX);
	v = xmalloc(ETCD_VAL_MAX);
	kvs = json_object_get(reply, "kvs");
	for (i = 0; i < json_array_size(kvs); i++) {
		const json_t *kv = json_array_get(kvs, i);
		long kl, vl;

		if (kv_decode(e, kv, k, &kl, v, &vl))
			continue;	/* counted; the rest is still good */
		if (fn(arg, k, (size_t)kl, v, (size_t)vl, i64(json_object_get(kv, "mod_revision"))))
			break;
	}
	free(k);
	free(v);
	json_decref(reply);
	return 0;
}

int etcd_get(struct etcd *e, const void *key, size_t klen, void *val, size_t cap,
	     size_t *vlen, int64_t *create_rev, int64_t *mod_rev)
{
	const json_t *kv;
	json_t *reply;
	long n;
	int rc;

	if (klen == 0 || klen > ETCD_KEY_MAX)
		return -EINVAL;
	if ((rc = post(e, "/v3/kv/range", json_pack("{s:o}", "key", b64(key, klen)), &reply)))
		return rc;
	kv = json_array_get(json_object_get(reply, "kvs"), 0);
	rc = 0;
	if (kv) {
		n = unb64(json_object_get(kv, "value"), val, cap);
		if (n < 0) {
			e->st.bad_replies++;
			rc = -EPROTO;
		} else {
			*vlen = (size_t)n;
			if (create_rev)
				*create_rev = i64(json_object_get(kv, "create_revision"));
			if (mod_rev)
				*mod_rev = i64(json_object_get(kv, "mod_revision"));
			rc = 1;
		}
	}
	json_decref(reply);
	return rc;
}

int etcd_compact(struct etcd *e, int64_t rev)
{
	json_t *reply;
	int rc;

	if ((rc = post(e, "/v3/kv/compaction", json_pack("{s:o, s:b}", "revision", i64_str(rev),
							  "physical", 1), &reply)))
		return rc;
	json_decref(reply);
	return 0;
}

/* ---- leases ---------------------------------------------------------------------------- */

int etcd_lease_grant(struct etcd *e, unsigned ttl_s, int64_t *id)
{
	json_t *reply;
	int rc;

	if ((rc = post(e, "/v3/lease/grant", json_pack("{s:I}", "TTL", (json_int_t)ttl_s), &reply)))
		return rc;
	*id = i64(json_object_get(reply, "ID"));
	json_decref(reply);
	if (*id == 0) {
		e->st.bad_replies++;
		return -EPROTO;
	}
	return 0;
}

int etcd_lease_keepalive(struct etcd *e, int64_t id, int64_t *ttl)
{
	json_t *reply;
	int64_t t;
	int rc;

	if ((rc = post(e, "/v3/lease/keepalive", json_pack("{s:o}", "ID", i64_str(id)), &reply)))
		return rc;
	/* The gateway streams: one {"result": {...}} per request sent. */
	t = i64(json_object_get(json_object_get(reply, "result"), "TTL"));
	json_decref(reply);
	if (ttl)
		*ttl = t;
	if (t <= 0) {
		e->st.lease_lost++;
		return -ENOENT;
	}
	return 0;
}

int etcd_lease_revoke(struct etcd *e, int64_t id)
{
	json_t *reply;
	int rc;

	if ((rc = post(e, "/v3/lease/revoke", json_pack("{s:o}", "ID", i64_str(id)), &reply)))
		return rc;
	json_decref(reply);
	return 0;
}

/* ---- election ---------------------------------------------------------------------------- */

int etcd_campaign(struct etcd *e, const void *key, size_t klen, const void *val, size_t vlen,
		  int64_t lease, int64_t *term, void *other, size_t ocap, size_t *olen)
{
	json_t *body, *reply, *resp, *kv;
	uint8_t *cur;
	long n;
	int rc;

	if (klen == 0 || klen > ETCD_KEY_MAX)
		return -EINVAL;
	body = json_pack("{s:[{s:o, s:s, s:s, s:s}], s:[{s:o}], s:[{s:{s:o}}]}",
			 "compare", "key", b64(key, klen), "target", "CREATE", "result", "EQUAL",
			 "create_revision", "0",
			 "success", "request_put", put_req(key, klen, val, vlen, lease),
			 "failure", "request_range", "key", b64(key, klen));
	if ((rc = post(e, "/v3/kv/txn", body, &reply)))
		return rc;
	if (json_is_true(json_object_get(reply, "succeeded"))) {
		*term = header_rev(reply);	/* the put's revision: the create_revision */
		json_decref(reply);
		return 1;
	}
	e->st.compare_failed++;
	resp = json_object_get(json_array_get(json_object_get(reply, "responses"), 0),
			       "response_range");
	kv = json_array_get(json_object_get(resp, "kvs"), 0);
	if (!kv) {	/* gone between the compare and the range: try again */
		json_decref(reply);
		return 0;
	}
	*term = i64(json_object_get(kv, "create_revision"));
	cur = xmalloc(ETCD_VAL_MAX);
	n = unb64(json_object_get(kv, "value"), cur, ETCD_VAL_MAX);
	rc = 0;
	if (n < 0) {
		e->st.bad_replies++;
		rc = -EPROTO;
	} else if (i64(json_object_get(kv, "lease")) == lease && (size_t)n == vlen &&
		   !memcmp(cur, val, vlen)) {
		rc = 1;	/* ours already (a retried campaign) */
	} else if (other) {
		*olen = MIN((size_t)n, ocap);
		memcpy(other, cur, *olen);
	}
	free(cur);
	json_decref(reply);
	return rc;
}

int etcd_resign(struct etcd *e, const void *key, size_t klen, int64_t term)
{
	json_t *body, *reply;
	int rc;

	body = json_pack("{s:[{s:o, s:s, s:s, s:o}], s:[{s:{s:o}}]}",
			 "compare", "key", b64(key, klen), "target", "CREATE", "result", "EQUAL",
			 "create_revision", i64_str(term),
			 "success", "request_delete_range", "key", b64(key, klen));
	if ((rc = post(e, "/v3/kv/txn", body, &reply)))
		return rc;
	json_decref(reply);
	return 0;
}

/* ---- watch ---------------------------------------------------------------------------------- */

struct etcd_watch {
	struct endpoints ep;
	uint8_t prefix[ETCD_KEY_MAX];
	size_t plen;
	int pipe[2];
	pthread_t thread;
	atomic_bool stop;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int64_t next_rev;		/* watch from here (0: now) */
	bool paused;			/* after a RESYNC, until resumed */
	struct buf line;
	bool broken;			/* this connection saw a bad message */
	struct etcd_watch_stats st;	/* under mu */
};

static void nap_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* Hand one event to the reader; false if we are stopping. */
static bool deliver(struct etcd_watch *w, struct etcd_event *ev)
{
	while (!atomic_load(&w->stop)) {
		ssize_t r = write(w->pipe[1], &ev, sizeof(ev));

		if (r == (ssize_t)sizeof(ev))
			return true;
		nap_ms(1);	/* the reader is behind: wait, bounded memory */
	}
	free(ev);
	return false;
}

static struct etcd_event *event_new(enum etcd_ev_type t, int64_t rev, const uint8_t *k,
				    size_t kl, const uint8_t *v, size_t vl)
{
	struct etcd_event *ev = xmalloc(sizeof(*ev) + kl + vl);

	ev->type = t;
	ev->mod_rev = rev;
	ev->klen = (uint16_t)kl;
	ev->vlen = (uint32_t)vl;
	ev->key = (uint8_t *)(ev + 1);
	ev->val = ev->key + kl;
	if (kl)
		memcpy(ev->key, k, kl);
	if (vl)
		memcpy(ev->val, v, vl);
	return ev;
}

static void watch_message(struct etcd_watch *w, const char *s, size_t n)
{
	json_t *j = json_loadb(s, n, 0, NULL), *res = json_object_get(j, "result"), *evs;
	uint8_t *k = NULL, *v = NULL;
	int64_t crev;

	if (!json_is_object(res)) {
		pthread_mutex_lock(&w->mu);
		w->st.bad_messages++;
		pthread_mutex_unlock(&w->mu);
		w->broken = true;
		goto out;
	}
	if ((crev = i64(json_object_get(res, "compact_revision"))) > 0 ||
	    json_is_true(json_object_get(res, "canceled"))) {
		pthread_mutex_lock(&w->mu);
		w->st.resyncs++;
		w->paused = true;
		pthread_mutex_unlock(&w->mu);
		deliver(w, event_new(ETCD_EV_RESYNC, crev, NULL, 0, NULL, 0));
		w->broken = true;
		goto out;
	}
	evs = json_object_get(res, "events");
	k = xmalloc(ETCD_KEY_MAX);
	v = xmalloc(ETCD_VAL_MAX);
	for (size_t i = 0; i < json_array_size(evs); i++) {
		const json_t *ev = json_array_get(evs, i), *kv = json_object_get(ev, "kv");
		const char *type = json_string_value(json_object_get(ev, "type"));
		bool del = type && !strcmp(type, "DELETE");
		long kl = unb64(json_object_get(kv, "key"), k, ETCD_KEY_MAX);
		long vl = unb64(json_object_get(kv, "value"), v, ETCD_VAL_MAX);
		int64_t rev = i64(json_object_get(kv, "mod_revision"));

		if (kl <= 0 || vl < 0) {
			pthread_mutex_lock(&w->mu);
			w->st.dropped_big++;
			pthread_mutex_unlock(&w->mu);
			continue;
		}
		pthread_mutex_lock(&w->mu);
		w->st.events++;
		if (rev >= w->next_rev)
			w->next_rev = rev + 1;
		pthread_mutex_unlock(&w->mu);
		if (!deliver(w, event_new(del ? ETCD_EV_DELETE : ETCD_EV_PUT, rev, k, (size_t)kl,
					  v, del ? 0 : (size_t)vl)))
			break;
	}
out:
	free(k);
	free(v);
	json_decref(j);
}

/* Streamed bytes: one JSON message per line. */
static size_t watch_write(char *p, size_t sz, size_t n, void *arg)
{
	struct etcd_watch *w = arg;
	size_t len = sz * n;
	char *nl;

	if (buf_write(p, 1, len, &w->line) != len) {
		pthread_mutex_lock(&w->mu);
		w->st.bad_messages++;
		pthread_mutex_unlock(&w->mu);
		return 0;	/* a message past the limit: reconnect */
	}
	while ((nl = memchr(w->line.p, '\n', w->line.len))) {
		size_t m = (size_t)(nl - w->line.p);

		if (m)
			watch_message(w, w->line.p, m);
		memmove(w->line.p, nl + 1, w->line.len - m - 1);
		w->line.len -= m + 1;
		w->line.p[w->line.len] = 0;
		if (w->broken)
			return 0;
	}
	return atomic_load(&w->stop) ? 0 : len;
}

static int watch_progress(void *arg, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
	struct etcd_watch *w = arg;

	return atomic_load(&w->stop);
}

static void watch_connect(struct etcd_watch *w, CURL *curl, struct curl_slist *hdrs)
{
	char url[ETCD_URL_MAX + 16], *text;
	json_t *req;
	int64_t from;

	pthread_mutex_lock(&w->mu);
	from = w->next_rev;
	w->st.connects++;
	pthread_mutex_unlock(&w->mu);
	req = json_pack("{s:{s:o, s:o}}", "create_request", "key", b64(w->prefix, w->plen),
			"range_end", prefix_end(w->prefix, w->plen));
	if (from > 0)
		json_object_set_new(json_object_get(req, "create_request"), "start_revision",
				    i64_str(from));
	text = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	snprintf(url, sizeof(url), "%s/v3/watch", w->ep.url[w->ep.cur]);
	w->line.len = 0;
	w->broken = false;
	curl_easy_reset(curl);
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_POSTFIELDS, text);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, (long)ETCD_TIMEOUT_MS);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, watch_write);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, w);
	curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, watch_progress);
	curl_easy_setopt(curl, CURLOPT_XFERINFODATA, w);
	/* A member that dies without a FIN: no byte for 3 s on a stream etcd
	 * keeps alive is a dead connection (etcd sends progress when asked;
	 * the keepalive below finds a dead peer). */
	curl_easy_setopt(curl, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(curl, CURLOPT_TCP_KEEPIDLE, 1L);
	curl_easy_setopt(curl, CURLOPT_TCP_KEEPINTVL, 1L);
	curl_easy_perform(curl);
	free(text);
}

static void *watch_main(void *arg)
{
	struct etcd_watch *w = arg;
	CURL *curl = curl_easy_init();
	struct curl_slist *hdrs = curl_slist_append(NULL, "Content-Type: application/json");

	if (!curl)
		die("curl: cannot initialise");
	w->line.max = ETCD_WATCH_LINE_MAX;
	while (!atomic_load(&w->stop)) {
		pthread_mutex_lock(&w->mu);
		while (w->paused && !atomic_load(&w->stop))
			pthread_cond_wait(&w->cv, &w->mu);
		pthread_mutex_unlock(&w->mu);
		if (atomic_load(&w->stop))
			break;
		watch_connect(w, curl, hdrs);
		if (atomic_load(&w->stop))
			break;
		pthread_mutex_lock(&w->mu);
		w->st.disconnects++;
		pthread_mutex_unlock(&w->mu);
		w->ep.cur = (w->ep.cur + 1) % w->ep.n;
		nap_ms(ETCD_WATCH_RETRY_MS / (w->ep.n > 1 && w->ep.cur ? 4 : 1));
	}
	free(w->line.p);
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(curl);
	return NULL;
}

struct etcd_watch *etcd_watch_start(const char *urls, const void *prefix, size_t plen,
				    int64_t from, char *err, size_t errlen)
{
	struct etcd_watch *w = xcalloc(1, sizeof(*w));
	sigset_t all, old;
	int rc;

	if (plen == 0 || plen > ETCD_KEY_MAX) {
		snprintf(err, errlen, "etcd watch: bad prefix");
		goto fail;
	}
	if (parse_endpoints(urls, &w->ep, err, errlen))
		goto fail;
	pthread_once(&curl_once, curl_init_once);
	memcpy(w->prefix, prefix, plen);
	w->plen = plen;
	w->next_rev = from;
	if (pipe2(w->pipe, O_CLOEXEC | O_NONBLOCK)) {
		snprintf(err, errlen, "etcd watch: pipe: %s", strerror(errno));
		goto fail;
	}
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	/* Signals are the caller's loop's (SIGTERM stops a daemon): the
	 * thread is created with every signal blocked. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&w->thread, NULL, watch_main, w);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc) {
		snprintf(err, errlen, "etcd watch: cannot start a thread");
		close(w->pipe[0]);
		close(w->pipe[1]);
		goto fail;
	}
	return w;
fail:
	free(w);
	return NULL;
}

void etcd_watch_stop(struct etcd_watch *w)
{
	struct etcd_event *ev;

	if (!w)
		return;
	pthread_mutex_lock(&w->mu);
	atomic_store(&w->stop, true);
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->thread, NULL);
	while (read(w->pipe[0], &ev, sizeof(ev)) == (ssize_t)sizeof(ev))
		free(ev);
	close(w->pipe[0]);
	close(w->pipe[1]);
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->cv);
	free(w);
}

int etcd_watch_fd(const struct etcd_watch *w)
{
	return w->pipe[0];
}

int etcd_watch_read(struct etcd_watch *w, etcd_event_fn fn, void *arg, unsigned max)
{
	struct etcd_event *ev;
	int n = 0;

	while ((!max || (unsigned)n < max) &&
	       read(w->pipe[0], &ev, sizeof(ev)) == (ssize_t)sizeof(ev)) {
		fn(arg, ev);
		free(ev);
		n++;
	}
	return n;
}

void etcd_watch_resume(struct etcd_watch *w, int64_t from)
{
	pthread_mutex_lock(&w->mu);
	w->next_rev = from;
	w->paused = false;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

void etcd_watch_get_stats(struct etcd_watch *w, struct etcd_watch_stats *st)
{
	pthread_mutex_lock(&w->mu);
	*st = w->st;
	pthread_mutex_unlock(&w->mu);
}
