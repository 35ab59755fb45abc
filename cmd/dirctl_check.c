/* dirctl check: a history checker for the replicated directory (docs/ha.md).
 *
 * For SECONDS it registers new entries and looks up entries it registered,
 * at a bounded rate and with a bounded number of requests in flight, through
 * one client that knows every directory server (dirctl --server A,B,...) and
 * moves to another when its server stops answering.  It keeps a log of
 * every acknowledged registration and of the versions it saw, then checks:
 *
 *   - every acknowledged registration is found afterwards with its content
 *     (lost = acknowledged but not found, or found with other content;
 *     one whose verifying lookup is never answered, after CHECK_VERIFY_ROUNDS
 *     tries, is unverified: not shown present, not shown absent);
 *   - no answer or push shows an entry at an older version than one seen
 *     before (version_regressions);
 *   - the longest time without an answered lookup (lookup_gap_max_ms): the
 *     client's fail-over time when a server is killed under it;
 *   - the lookup gap across a moment the caller marks with SIGUSR1 (sent
 *     just before it kills a server): from the last lookup answered before
 *     the mark to the first answered after it (lookup_gap_at_mark_ms).
 */
#include "cmd/dirctl_check.h"

#include <errno.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/cli.h"
#include "lib/common.h"
#include "lib/parse.h"

enum check_limits {
	CHECK_MAX_KEYS = 1 << 20,	/* registrations per run */
	/* requests in flight, registrations and lookups each: lookups must
	 * not wait for free slots behind registrations that wait for etcd
	 * (the lookup gap would measure etcd's commit time) */
	CHECK_IN_FLIGHT = 32,
	CHECK_RATE = 400,		/* requests a second (half lookups) */
	CHECK_SETTLE_MS = 3000,		/* verification phase bound */
	CHECK_VERIFY_ROUNDS = 3,	/* lookups of a key whose answer is lost */
	CHECK_PICKS = 8,		/* random tries for an acknowledged key to look up */
	CHECK_TIMELINE = 16,		/* fail-overs and lookup gaps listed */
	CHECK_GAP_LISTED_MS = 20,	/* lookup gaps at least this long are listed
					 * (the longest CHECK_TIMELINE) */
};

struct check_key {
	uint32_t version;		/* highest seen */
	uint8_t state;			/* 0 sent, 1 acked, 2 refused/unanswered */
	bool checked;			/* its verifying lookup was answered */
	uint64_t sent_ns;		/* the registration's first transmission */
};

struct check {
	struct dirc_udp *u;
	struct dirc *c;
	uint32_t vdc;
	struct check_key *keys;
	uint32_t nkeys, nacked;
	unsigned in_flight, regs_in_flight;
	uint64_t last_ok_ns, gap_max_ns, gap_at_ns, t0;
	uint64_t lookups_ok, lookups_lost_answer, not_found_acked, regressions;
	uint64_t refused, unanswered, pushes_checked;
	uint32_t lost, verified, unverified;
	float *reg_ms;			/* latency of each acknowledged registration */
	bool verifying;
	/* when (ns after t0) the client moved, and to which server; the
	 * longest lookup gaps: where they fall against the moves */
	uint64_t moved_at[CHECK_TIMELINE], gap_start[CHECK_TIMELINE], gap_len[CHECK_TIMELINE];
	/* the lookup gap across each move: from the last answer before it
	 * to the first after it (0: none answered yet) */
	uint64_t moved_gap[CHECK_TIMELINE];
	bool moved_refused[CHECK_TIMELINE];
	unsigned moved_to[CHECK_TIMELINE], nmoved, ngaps, gap_open;
	uint64_t refusals_seen;
	/* SIGUSR1's mark: the last answer before it, the gap across it (0:
	 * not yet) */
	bool marked;
	uint64_t mark_last_ok_ns, mark_gap_ns;
	struct rng_lite { uint64_t s; } rng;
};

static volatile sig_atomic_t mark_signal;

static void on_mark(int sig)
{
	(void)sig;
	mark_signal = 1;
}

/* Take the mark when the signal came (before any answer read after it). */
static void take_mark(struct check *k)
{
	if (!mark_signal || k->marked)
		return;
	k->marked = true;
	k->mark_last_ok_ns = k->last_ok_ns;
}

static struct check *the_check;	/* for the push callback (one per process) */

static uint32_t key_ip(uint32_t i)
{
	return 0x0a400000u + i;	/* 10.64.0.0/10 */
}

static struct dirp_entry entry_of(const struct check *k, uint32_t i)
{
	struct dirp_entry e = { .vdc = k->vdc, .ip = key_ip(i), .avail = DIRP_AVAIL_ALL,
				.server = 1000 + i % 7 };

	wire_put48(e.mac[DIRP_VM_PRI], 0x06c000000000ull | (uint64_t)i << 1);
	wire_put48(e.mac[DIRP_VM_BAK], 0x06c000000001ull | (uint64_t)i << 1);
	wire_put48(e.mac[DIRP_IM_PRI], 0x06d000000000ull | (uint64_t)(i % 7) << 1);
	wire_put48(e.mac[DIRP_IM_BAK], 0x06d000000001ull | (uint64_t)(i % 7) << 1);
	return e;
}

static uint64_t next_rand(struct check *k)
{
	k->rng.s ^= k->rng.s << 13;
	k->rng.s ^= k->rng.s >> 7;
	k->rng.s ^= k->rng.s << 17;
	return k->rng.s;
}

/* A version seen for key i: it must never go back. */
static void saw_version(struct check *k, uint32_t i, uint32_t v)
{
	if (v < k->keys[i].version)
		k->regressions++;
	else
		k->keys[i].version = v;
}

static bool our_key(const struct check *k, uint32_t vdc, uint32_t ip, uint32_t *i)
{
	if (vdc != k->vdc || ip < key_ip(0) || ip - key_ip(0) >= k->nkeys)
		return false;
	*i = ip - key_ip(0);
	return true;
}

void dirctl_check_push(uint8_t type, const struct dirp_entry *e)
{
	struct check *k = the_check;
	uint32_t i;

	if (k && our_key(k, e->vdc, e->ip, &i)) {
		saw_version(k, i, e->version);
		k->pushes_checked++;
	}
	(void)type;
}

static void on_register(void *arg, uint64_t id, const struct dirp_msg *m)
{
	struct check *k = arg;
	struct dirp_entry r;
	uint32_t i;

	k->in_flight--;
	k->regs_in_flight--;
	(void)id;
	if (!m) {
		k->unanswered++;
		return;
	}
	dirp_get_entry(m, 0, &r);
	if (!our_key(k, r.vdc, r.ip, &i))
		return;
	if (r.status == DIRP_OK) {
		k->keys[i].state = 1;
		k->reg_ms[k->nacked] = (float)(mono_ns() - k->keys[i].sent_ns) / 1e6f;
		k->nacked++;
		saw_version(k, i, r.version);
	} else {
		k->keys[i].state = 2;
		k->refused++;
	}
}

static void lookup_answered(struct check *k, uint64_t now)
{
	if (k->last_ok_ns && now - k->last_ok_ns > k->gap_max_ns) {
		k->gap_max_ns = now - k->last_ok_ns;
		k->gap_at_ns = k->last_ok_ns - k->t0;
	}
	if (k->last_ok_ns && now - k->last_ok_ns >= CHECK_GAP_LISTED_MS * 1000000ull) {
		unsigned at = k->ngaps, i;	/* kept: the longest */

		if (k->ngaps == CHECK_TIMELINE) {
			for (at = 0, i = 1; i < k->ngaps; i++)
				if (k->gap_len[i] < k->gap_len[at])
					at = i;
			if (k->gap_len[at] >= now - k->last_ok_ns)
				at = CHECK_TIMELINE;
		} else {
			k->ngaps++;
		}
		if (at < CHECK_TIMELINE) {
			k->gap_start[at] = k->last_ok_ns - k->t0;
			k->gap_len[at] = now - k->last_ok_ns;
		}
	}
	if (k->marked && !k->mark_gap_ns && k->mark_last_ok_ns)
		k->mark_gap_ns = now - k->mark_last_ok_ns;
	/* the moves since the last answer: this gap is theirs */
	for (; k->gap_open < k->nmoved; k->gap_open++)
		if (k->last_ok_ns)
			k->moved_gap[k->gap_open] = now - k->last_ok_ns;
	k->last_ok_ns = now;
	k->lookups_ok++;
}

static void on_lookup(void *arg, uint64_t id, const struct dirp_msg *m)
{
	struct check *k = arg;
	uint64_t now = mono_ns();

	k->in_flight--;
	(void)id;
	if (!m) {
		k->lookups_lost_answer++;
		return;
	}
	if (!k->verifying)
		lookup_answered(k, now);
	for (unsigned j = 0; j < m->h.count; j++) {
		struct dirp_entry r, want;
		uint32_t i;

		dirp_get_entry(m, j, &r);
		if (!our_key(k, r.vdc, r.ip, &i))
			continue;
		if (k->verifying && (k->keys[i].state != 1 || k->keys[i].checked))
			continue;	/* not acked, or a second answer */
		if (k->verifying)
			k->keys[i].checked = true;
		if (r.status == DIRP_OK) {
			saw_version(k, i, r.version);
			want = entry_of(k, i);
			if (k->verifying) {
				k->verified++;
				if (r.server != want.server || memcmp(r.mac, want.mac, sizeof(r.mac)))
					k->lost++;
			}
		} else if (k->keys[i].state == 1) {
			if (k->verifying) {
				k->verified++;
				k->lost++;
			} else {
				k->not_found_acked++;
			}
		}
	}
}

static void send_register(struct check *k)
{
	struct dirp_entry e;

	if (k->nkeys == CHECK_MAX_KEYS)
		return;
	e = entry_of(k, k->nkeys);
	k->keys[k->nkeys].sent_ns = mono_ns();
	k->keys[k->nkeys++].state = 0;
	if (dirc_request(k->c, dir_now_sys(), DIRP_REGISTER, &e, 1, on_register, k) > 0) {
		k->in_flight++;
		k->regs_in_flight++;
	}
}

static void send_lookup(struct check *k)
{
	struct dirp_key key;
	uint32_t i;

	/* An acknowledged one: a lookup of an entry whose registration is
	 * still being written waits for that write by design (docs/ha.md),
	 * so it would measure the registration's latency, not the lookups'
	 * availability. */
	for (int t = 0;; t++) {
		if (!k->nacked || t == CHECK_PICKS)
			return;
		i = (uint32_t)(next_rand(k) % k->nkeys);
		if (k->keys[i].state == 1)
			break;
	}
	key = (struct dirp_key){ k->vdc, key_ip(i) };
	if (dirc_request(k->c, dir_now_sys(), DIRP_LOOKUP, &key, 1, on_lookup, k) > 0)
		k->in_flight++;
}

static void serve_until(struct check *k, uint64_t until, bool load)
{
	uint64_t next_op = mono_ns(), step = 1000000000ull / CHECK_RATE;
	bool reg = true;

	for (;;) {
		uint64_t now = mono_ns(), due = dirc_udp_tick(k->u);
		struct pollfd p = { .fd = dirc_udp_fd(k->u), .events = POLLIN };
		int ms;

		if (now >= until || (!load && !k->in_flight))
			break;
		if (load && now >= next_op) {
			/* one that finds its kind's slots full is skipped */
			if (reg && k->regs_in_flight < CHECK_IN_FLIGHT)
				send_register(k);
			else if (!reg && k->in_flight - k->regs_in_flight < CHECK_IN_FLIGHT)
				send_lookup(k);
			reg = !reg;
			next_op += step;
			if (next_op < now)
				next_op = now;	/* behind: no burst to catch up */
			continue;
		}
		due = MIN(due, until);
		if (load)
			due = MIN(due, next_op);
		ms = due > now ? (int)MIN((due - now + 999999) / 1000000, 10u) : 0;
		take_mark(k);
		if (poll(&p, 1, ms) > 0) {
			take_mark(k);
			dirc_udp_readable(k->u);
		}
	}
}

/* Look up every acknowledged key again, DIRP_MAX_RECORDS at a time; the
 * keys whose answer was lost (the client gave up on the request) are asked
 * again, CHECK_VERIFY_ROUNDS times in all. */
static void verify(struct check *k)
{
	uint64_t until = mono_ns() + (uint64_t)CHECK_SETTLE_MS * 1000000ull;

	k->verifying = true;
	for (int round = 0; round < CHECK_VERIFY_ROUNDS && mono_ns() < until; round++) {
		uint32_t i = 0;

		while (i < k->nkeys && mono_ns() < until) {
			struct dirp_key keys[DIRP_MAX_RECORDS];
			unsigned n = 0;

			for (; i < k->nkeys && n < DIRP_MAX_RECORDS; i++)
				if (k->keys[i].state == 1 && !k->keys[i].checked)
					keys[n++] = (struct dirp_key){ k->vdc, key_ip(i) };
			if (n && dirc_request(k->c, dir_now_sys(), DIRP_LOOKUP, keys, n, on_lookup,
					      k) > 0)
				k->in_flight++;
			if (k->in_flight >= CHECK_IN_FLIGHT)
				serve_until(k, until, false);
		}
		serve_until(k, until, false);
		if (k->verified == k->nacked)
			break;
	}
}

static int cmp_float(const void *a, const void *b)
{
	float x = *(const float *)a, y = *(const float *)b;

	return x < y ? -1 : x > y;
}

static double pct(const float *v, uint32_t n, double p)
{
	return n ? (double)v[(uint32_t)MIN((double)(n - 1), p * n)] : 0;
}

static void on_moved(void *arg, unsigned server)
{
	struct check *k = arg;

	uint64_t r = dirc_udp_refusals(k->u);

	if (k->nmoved < CHECK_TIMELINE) {
		k->moved_at[k->nmoved] = mono_ns() - k->t0;
		k->moved_refused[k->nmoved] = r != k->refusals_seen;
		k->moved_to[k->nmoved++] = server;
	}
	k->refusals_seen = r;
}

/* [{"at_s": S, "server": N}...] of the moves, [{"at_s": S, "ms": M}...] of
 * the gaps */
static json_t *timeline(const struct check *k, bool gaps)
{
	json_t *a = json_array();
	unsigned n = gaps ? k->ngaps : k->nmoved;

	for (unsigned i = 0; i < n; i++)
		json_array_append_new(a, gaps ? json_pack("{s:f, s:f}", "at_s",
							  (double)k->gap_start[i] / 1e9, "ms",
							  (double)k->gap_len[i] / 1e6)
					      : json_pack("{s:f, s:i, s:b, s:o}", "at_s",
							  (double)k->moved_at[i] / 1e9, "server",
							  (int)k->moved_to[i], "refused",
							  k->moved_refused[i], "lookup_gap_ms",
							  k->moved_gap[i]
								  ? json_real((double)k->moved_gap[i] / 1e6)
								  : json_null()));
	return a;
}

int dirctl_check(struct dirc_udp *u, int argc, char **argv, bool json)
{
	struct check k = { .u = u, .c = dirc_udp_client(u), .vdc = 4242, .rng = { 0x9e3779b97f4a7c15ull } };
	const struct dirc_stats *dst = dirc_get_stats(k.c);
	uint32_t secs;
	json_t *j;
	int rc;

	if (argc < 1 || argc > 2 || !parse_u32(argv[0], 3600, &secs) || !secs ||
	    (argc == 2 && !parse_u32(argv[1], UINT32_MAX - 1, &k.vdc)))
		return cli_usage_error("dirctl", "check SECONDS [VDC]");
	k.keys = xcalloc(CHECK_MAX_KEYS, sizeof(*k.keys));
	k.reg_ms = xcalloc(CHECK_MAX_KEYS, sizeof(*k.reg_ms));
	the_check = &k;
	sigaction(SIGUSR1, &(struct sigaction){ .sa_handler = on_mark }, NULL);
	k.t0 = mono_ns();
	dirc_udp_on_failover(u, on_moved, &k);
	serve_until(&k, k.t0 + (uint64_t)secs * 1000000000ull, true);
	serve_until(&k, mono_ns() + (uint64_t)CHECK_SETTLE_MS * 1000000ull, false);
	verify(&k);
	if (k.verified < k.nacked)
		k.unverified = k.nacked - k.verified;	/* never answered */
	qsort(k.reg_ms, k.nacked, sizeof(*k.reg_ms), cmp_float);
	j = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:f, s:f, s:I, s:I, s:I, s:I, s:I, s:I, "
		      "s:f, s:f, s:f, s:o, s:o}",
		      "registrations_sent", (json_int_t)k.nkeys,
		      "registrations_acked", (json_int_t)k.nacked,
		      "registrations_lost", (json_int_t)k.lost,
		      "registrations_unverified", (json_int_t)k.unverified,
		      "registrations_refused", (json_int_t)k.refused,
		      "registrations_unanswered", (json_int_t)k.unanswered,
		      "lookup_gap_max_ms", (double)k.gap_max_ns / 1e6,
		      "lookup_gap_at_s", (double)k.gap_at_ns / 1e9,
		      "lookups_ok", (json_int_t)k.lookups_ok,
		      "not_found_acked", (json_int_t)k.not_found_acked,
		      "version_regressions", (json_int_t)k.regressions,
		      "pushes_checked", (json_int_t)k.pushes_checked,
		      "failovers", (json_int_t)dirc_udp_failovers(u),
		      "failovers_refused", (json_int_t)dirc_udp_refusals(u),
		      "register_p50_ms", pct(k.reg_ms, k.nacked, 0.5),
		      "register_p99_ms", pct(k.reg_ms, k.nacked, 0.99),
		      "register_max_ms", pct(k.reg_ms, k.nacked, 1.0),
		      "failover_times", timeline(&k, false),
		      "lookup_gaps", timeline(&k, true));
	json_object_set_new(j, "lookup_gap_at_mark_ms",
			    k.mark_gap_ns ? json_real((double)k.mark_gap_ns / 1e6) : json_null());
	json_object_set_new(j, "hedged", json_integer((json_int_t)dst->hedged));
	json_object_set_new(j, "hedge_won", json_integer((json_int_t)dst->hedge_won));
	if (json) {
		json_dumpf(j, stdout, JSON_INDENT(2));
		putchar('\n');
	} else {
		printf("acked %lld, lost %lld, unverified %lld, refused %lld, unanswered %lld; longest "
		       "lookup gap %.1f ms; version regressions %lld; fail-overs %lld\n",
		       (long long)k.nacked, (long long)k.lost, (long long)k.unverified,
		       (long long)k.refused,
		       (long long)k.unanswered, (double)k.gap_max_ns / 1e6, (long long)k.regressions,
		       (long long)dirc_udp_failovers(u));
	}
	json_decref(j);
	rc = k.lost || k.unverified || k.regressions ? 1 : 0;
	the_check = NULL;
	free(k.keys);
	free(k.reg_ms);
	return rc;
}
