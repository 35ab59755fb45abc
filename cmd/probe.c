/* peregrine probe: a paced UDP stream with sequence numbers, and a receiver
 * that measures the gaps in it.  The lab's fail-over and migration figures
 * come from here: the sender keeps a steady rate, the receiver reports the
 * longest silences and when they happened, so that they can be matched to
 * the moment a link was cut.
 *
 * Datagram: magic "PGPR", u32 sequence, u64 send time (CLOCK_REALTIME ns),
 * u32 the sender's interval in ns, u32 how many datagrams the stream has
 * (0: not said), then padding to --size.  A sender stopped early (SIGINT or
 * SIGTERM) says so: three END datagrams (magic "PGPE") whose sequence and
 * count are the number it sent, so that the receiver does not count the
 * rest as lost.  Everything is bounded: the sender by --count and --rate,
 * the receiver by --duration, --count and --idle.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cmd/cli.h"
#include "cmd/probe_relay.h"
#include "cmd/probe_tcp.h"
#include "lib/parse.h"
#include "lib/udp.h"

enum probe_limits {
	PROBE_MAX_COUNT = 10000000,
	PROBE_MAX_RATE = 1000000,
	PROBE_MIN_SIZE = 24,
	PROBE_MAX_SIZE = 1472,
	PROBE_MAX_DURATION_S = 3600,
	PROBE_TOP_GAPS = 16,
	PROBE_END_COPIES = 3,	/* END datagrams a stopped sender sends */
	PROBE_MAX_BINS = 60000,	/* --bin-ms: 60 s of 1 ms bins, 240 KB */
};

#define PROBE_MAGIC 0x50475052u	/* "PGPR" */
#define PROBE_END_MAGIC 0x50475045u	/* "PGPE": the sender stopped early */

struct probe_hdr {
	uint32_t magic;
	uint32_t seq;
	uint64_t sent_ns;
	uint32_t interval_ns;	/* the sender's pace */
	uint32_t total;		/* datagrams in the stream; 0: not said */
};

static const char probe_help[] =
	"Usage: peregrine probe send --to ADDR:PORT [--rate PPS] [--count N] [--size B]\n"
	"                            [--bind ADDR:PORT] [--pause-at SEQ --pause-ms MS]\n"
	"                            [--drop-at SEQ --drop-count N]\n"
	"       peregrine probe recv --listen ADDR:PORT [--duration S] [--count N]\n"
	"                            [--idle S] [--gaps K] [--bin-ms MS] [--json]\n"
	"\n"
	"A paced UDP stream with sequence numbers, and a receiver that measures it.\n"
	"\n"
	"send   sends N datagrams (default 10000) at PPS per second (default 10000)\n"
	"       of B bytes (default 64, 24..1472).  --pause-at/--pause-ms stop the\n"
	"       sender for a while at one sequence number; --drop-at/--drop-count\n"
	"       skip N sequence numbers as a lossy network would (both are there to\n"
	"       check the receiver).  SIGINT or SIGTERM stops it early; it then\n"
	"       tells the receiver how many it sent.\n"
	"recv   counts what arrives until --duration S (default 30) has passed,\n"
	"       --count N datagrams have arrived, or nothing has arrived for --idle S\n"
	"       (default 2) after the first one, or SIGINT or SIGTERM stops it.\n"
	"       It reports received, lost, duplicated and reordered datagrams,\n"
	"       the K (default 5) longest gaps\n"
	"       between consecutive arrivals, and the K longest loss gaps: for a run\n"
	"       of lost datagrams, (sequence after - sequence before) times the\n"
	"       sender's interval.  Loss gaps are what the network dropped; stalls\n"
	"       of the sender or receiver lose nothing and do not show there.  Each\n"
	"       gap has its wall-clock start (ns since the epoch) and the sequence\n"
	"       numbers around it.  Datagrams lost before the first arrival (no\n"
	"       path yet) count as lost and show in first_seq; so do those lost\n"
	"       after the last arrival (the sender says how many it sends).\n"
	"       --bin-ms MS (with --json): also the arrivals in every MS ms from\n"
	"       the first one, `rate.counts` (at most 60,000 bins; the receive\n"
	"       rate over time that `lab demo --report` draws)\n"
	"\n"
	"Send only to addresses of your own lab or to loopback.\n";

static volatile sig_atomic_t probe_stop;

static void on_stop(int sig)
{
	(void)sig;
	probe_stop = 1;
}

static uint64_t now_real(void)
{
	return wall_ns();
}

static void sleep_until(uint64_t mono_deadline)
{
	struct timespec ts = {
		.tv_sec = (time_t)(mono_deadline / 1000000000ull),
		.tv_nsec = (long)(mono_deadline % 1000000000ull),
	};

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR && !probe_stop)
		;
}

struct send_opts {
	struct sockaddr_in to, bind;
	uint32_t rate, count, size, pause_at, pause_ms, drop_at, drop_count;
	bool have_pause;
};

/* A stopped sender's last word: it sent `sent` datagrams, 0 .. sent-1. */
static void send_end(int fd, const struct sockaddr_in *to, uint32_t sent)
{
	struct probe_hdr h = { .magic = htonl(PROBE_END_MAGIC), .seq = htonl(sent),
			       .total = htonl(sent) };

	for (int i = 0; i < PROBE_END_COPIES; i++) {
		h.sent_ns = now_real();
		if (sendto(fd, &h, sizeof(h), 0, (const struct sockaddr *)to, sizeof(*to)) < 0)
			break;
		sleep_until(mono_ns() + 1000000ull);
	}
}

static int probe_send(const struct send_opts *o)
{
	uint8_t buf[PROBE_MAX_SIZE] = { 0 };
	uint64_t interval = 1000000000ull / o->rate, start, next;
	struct probe_hdr h = { .magic = htonl(PROBE_MAGIC),
			       .interval_ns = htonl((uint32_t)interval),
			       .total = htonl(o->count) };
	struct sigaction sa = { .sa_handler = on_stop };	/* no SA_RESTART */
	uint32_t errors = 0, seq;
	int fd = udp_open(&o->bind, 1 << 20);

	if (fd < 0)
		return cli_error("probe send: socket: %s", strerror(-fd));
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	start = mono_ns();
	next = start;
	for (seq = 0; seq < o->count && !probe_stop; seq++) {
		/* A pause stops the sender for pause_ms from now, and the pace
		 * starts again after it (no burst to catch up). */
		if (o->have_pause && seq == o->pause_at)
			next = mono_ns() + (uint64_t)o->pause_ms * 1000000ull;
		sleep_until(next);
		next += interval;
		if (seq >= o->drop_at && seq - o->drop_at < o->drop_count)
			continue;	/* as if the network had lost it */
		h.seq = htonl(seq);
		h.sent_ns = now_real();
		memcpy(buf, &h, sizeof(h));
		if (sendto(fd, buf, o->size, 0, (const struct sockaddr *)&o->to,
			   sizeof(o->to)) < 0)
			errors++;	/* no route for a moment during a fail-over */
	}
	if (seq < o->count)
		send_end(fd, &o->to, seq);
	close(fd);
	fprintf(stderr, "probe send: %u datagrams in %.3f s, %u send errors%s\n", seq,
		(double)(mono_ns() - start) / 1e9, errors, seq < o->count ? " (stopped)" : "");
	return 0;
}

struct gap {
	uint64_t len_ns, start_ns;	/* start: wall clock of the arrival before */
	uint32_t seq_before, seq_after;
};

struct recv_state {
	uint64_t received, dups, reordered, bad;
	uint32_t max_seq;
	uint32_t total;			/* the sender's count, if it said */
	bool any, ended;		/* ended: an END said the final count */
	uint64_t first_ns, last_ns;	/* wall clock of arrivals */
	uint32_t first_seq;		/* of the first arrival: seqs below it were
					 * lost at the start (before a path existed) */
	uint32_t last_seq;
	uint8_t *seen;			/* bitmap of sequence numbers */
	struct gap top[PROBE_TOP_GAPS];		/* arrival gaps */
	struct gap loss[PROBE_TOP_GAPS];	/* send-time spans of lost runs */
	int ntop, nloss, want_top;
	uint32_t hi_seq;			/* highest sequence received */
	uint64_t hi_at;				/* its arrival time */
	uint32_t *bins;		/* --bin-ms: arrivals per bin from first_ns */
	uint32_t nbins, bin_ms, bins_used;
};

/* Count an arrival in its --bin-ms bin (arrivals past the last bin are not
 * binned; the clock stepping back puts one in bin 0). */
static void bin_arrival(struct recv_state *s, uint64_t at)
{
	uint64_t i;

	if (!s->bins)
		return;
	i = at > s->first_ns ? (at - s->first_ns) / (s->bin_ms * 1000000ull) : 0;
	if (i >= s->nbins)
		return;
	s->bins[i]++;
	s->bins_used = MAX(s->bins_used, (uint32_t)i + 1);
}

/* Keep the `want` longest gaps in top[], longest first. */
static void note_gap(struct gap *top, int *n, int want, const struct gap *g)
{
	int i;

	if (*n == want && top[want - 1].len_ns >= g->len_ns)
		return;
	i = *n < want ? (*n)++ : want - 1;
	top[i] = *g;
	for (; i > 0 && top[i].len_ns > top[i - 1].len_ns; i--) {
		struct gap tmp = top[i];

		top[i] = top[i - 1];
		top[i - 1] = tmp;
	}
}

static void on_datagram(struct recv_state *s, const uint8_t *p, size_t len, uint64_t at)
{
	struct probe_hdr h;
	uint32_t seq;

	if (len < sizeof(h)) {
		s->bad++;
		return;
	}
	memcpy(&h, p, sizeof(h));
	seq = ntohl(h.seq);
	if (ntohl(h.magic) == PROBE_END_MAGIC && seq <= PROBE_MAX_COUNT) {
		s->total = seq;
		s->ended = true;
		return;
	}
	if (ntohl(h.magic) != PROBE_MAGIC || seq >= PROBE_MAX_COUNT) {
		s->bad++;
		return;
	}
	if (s->seen[seq / 8] & (1u << (seq % 8))) {
		s->dups++;
		return;
	}
	s->seen[seq / 8] |= (uint8_t)(1u << (seq % 8));
	s->received++;
	if (!s->ended)
		s->total = MIN(MAX(s->total, ntohl(h.total)), (uint32_t)PROBE_MAX_COUNT);
	if (s->any) {
		struct gap g = { at - s->last_ns, s->last_ns, s->last_seq, seq };

		if (seq < s->last_seq)
			s->reordered++;
		note_gap(s->top, &s->ntop, s->want_top, &g);
		/* A run of lost datagrams: how long the network delivered
		 * nothing, counted in the sender's pace (the datagrams it lost
		 * times its interval).  Stalls of the sender or the receiver
		 * lose nothing, so they cannot inflate this. */
		if (seq > s->hi_seq + 1) {
			struct gap l = { (uint64_t)(seq - s->hi_seq) * ntohl(h.interval_ns),
					 s->hi_at, s->hi_seq, seq };

			note_gap(s->loss, &s->nloss, s->want_top, &l);
		}
	} else {
		s->first_ns = at;
		s->first_seq = seq;
		s->any = true;
	}
	if (seq >= s->hi_seq) {
		s->hi_seq = seq;
		s->hi_at = at;
	}
	bin_arrival(s, at);
	s->max_seq = seq > s->max_seq ? seq : s->max_seq;
	s->last_ns = at;
	s->last_seq = seq;
}

static json_t *gaps_json(const struct gap *g, int n)
{
	json_t *a = json_array();

	for (int i = 0; i < n; i++) {
		json_t *o = json_object();

		JSET(o, "gap_ms", JREAL((double)g[i].len_ns / 1e6));
		JSET(o, "start_ns", JINT(g[i].start_ns));
		JSET(o, "seq_before", JINT(g[i].seq_before));
		JSET(o, "seq_after", JINT(g[i].seq_after));
		json_array_append_new(a, o);
	}
	return a;
}

static void recv_report(const struct recv_state *s, bool json)
{
	/* What the sender said it sends (or, stopped early, sent): datagrams
	 * lost after the last arrival count too. */
	uint64_t expected = s->any ? MAX((uint64_t)s->max_seq + 1, (uint64_t)s->total) : 0;
	uint64_t lost = expected > s->received ? expected - s->received : 0;

	if (json) {
		json_t *j = json_object();

		JSET(j, "received", JINT(s->received));
		JSET(j, "lost", JINT(lost));
		JSET(j, "duplicates", JINT(s->dups));
		JSET(j, "reordered", JINT(s->reordered));
		JSET(j, "malformed", JINT(s->bad));
		JSET(j, "sender_stopped", json_boolean(s->ended));
		JSET(j, "first_ns", JINT(s->first_ns));
		JSET(j, "first_seq", JINT(s->first_seq));
		JSET(j, "last_ns", JINT(s->last_ns));
		JSET(j, "max_gap_ms", JREAL(s->ntop ? (double)s->top[0].len_ns / 1e6 : 0.0));
		JSET(j, "max_loss_gap_ms",
		     JREAL(s->nloss ? (double)s->loss[0].len_ns / 1e6 : 0.0));
		JSET(j, "gaps", gaps_json(s->top, s->ntop));
		JSET(j, "loss_gaps", gaps_json(s->loss, s->nloss));
		if (s->bins) {
			json_t *r = json_object(), *c = json_array();

			for (uint32_t i = 0; i < s->bins_used; i++)
				json_array_append_new(c, JINT(s->bins[i]));
			JSET(r, "bin_ms", JINT(s->bin_ms));
			JSET(r, "start_ns", JINT(s->first_ns));
			JSET(r, "counts", c);
			JSET(j, "rate", r);
		}
		json_print(stdout, j);
		return;
	}
	printf("received %llu, lost %llu, duplicates %llu, reordered %llu, malformed %llu\n",
	       (unsigned long long)s->received, (unsigned long long)lost,
	       (unsigned long long)s->dups, (unsigned long long)s->reordered,
	       (unsigned long long)s->bad);
	if (s->any && s->first_seq)
		printf("first arrival: seq %u (the %u before it were lost)\n", s->first_seq,
		       s->first_seq);
	for (int i = 0; i < s->ntop; i++)
		printf("arrival gap %2d: %9.3f ms after seq %u (next seq %u)\n", i + 1,
		       (double)s->top[i].len_ns / 1e6, s->top[i].seq_before, s->top[i].seq_after);
	for (int i = 0; i < s->nloss; i++)
		printf("loss gap    %2d: %9.3f ms of sending lost after seq %u (next seq %u)\n",
		       i + 1, (double)s->loss[i].len_ns / 1e6, s->loss[i].seq_before,
		       s->loss[i].seq_after);
}

struct recv_opts {
	struct sockaddr_in listen;
	uint32_t duration_s, count, idle_s, gaps, bin_ms;
	bool json;
};

static int probe_recv(const struct recv_opts *o)
{
	static struct udp_batch b;
	struct recv_state s = { .want_top = (int)o->gaps };
	uint64_t end = mono_ns() + (uint64_t)o->duration_s * 1000000000ull, last_mono = 0;
	struct sigaction sa = { .sa_handler = on_stop };	/* stops, then reports */
	int fd = udp_open(&o->listen, 4 << 20);

	if (fd < 0)
		return cli_error("probe recv: cannot listen: %s", strerror(-fd));
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	s.seen = xcalloc(PROBE_MAX_COUNT / 8 + 1, 1);
	if (o->bin_ms) {
		s.bin_ms = o->bin_ms;
		s.nbins = (uint32_t)MIN((uint64_t)o->duration_s * 1000 / o->bin_ms + 1,
					(uint64_t)PROBE_MAX_BINS);
		s.bins = xcalloc(s.nbins, sizeof(*s.bins));
	}
	udp_batch_init(&b);
	while (mono_ns() < end && s.received < o->count && !probe_stop) {
		int n = udp_recv_batch(fd, &b);

		if (n < 0) {
			close(fd);
			free(s.seen);
			free(s.bins);
			return cli_error("probe recv: %s", strerror(-n));
		}
		if (n == 0) {
			if (s.ended)
				break;	/* the sender stopped and all it sent is read */
			if (s.any && mono_ns() - last_mono > (uint64_t)o->idle_s * 1000000000ull)
				break;
			usleep(50);	/* 20 kHz polling keeps arrival times exact */
			continue;
		}
		for (int i = 0; i < n; i++)
			on_datagram(&s, b.bufs[i], b.msgs[i].msg_len, now_real());
		last_mono = mono_ns();
	}
	close(fd);
	recv_report(&s, o->json);
	free(s.seen);
	free(s.bins);
	return 0;
}

static int opt_u32(const char *name, const char *v, uint32_t min, uint32_t max, uint32_t *out)
{
	if (!parse_u32(v, max, out) || *out < min)
		return cli_usage_error("probe", "%s must be an integer from %u to %u", name,
				       min, max);
	return 0;
}

static int cmd_probe_send(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "to", required_argument, NULL, 't' }, { "rate", required_argument, NULL, 'r' },
		{ "count", required_argument, NULL, 'c' }, { "size", required_argument, NULL, 's' },
		{ "bind", required_argument, NULL, 'b' },
		{ "pause-at", required_argument, NULL, 'p' },
		{ "pause-ms", required_argument, NULL, 'm' },
		{ "drop-at", required_argument, NULL, 'D' },
		{ "drop-count", required_argument, NULL, 'N' }, { 0 }
	};
	struct send_opts o = { .rate = 10000, .count = 10000, .size = 64 };
	char err[200];
	bool have_to = false;
	int c;

	udp_parse_addr("0.0.0.0:0", &o.bind, err, sizeof(err));
	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		int r = 0;

		switch (c) {
		case 't':
			if (udp_parse_addr(optarg, &o.to, err, sizeof(err)))
				return cli_usage_error("probe", "--to %s", err);
			have_to = true;
			break;
		case 'b':
			if (udp_parse_addr(optarg, &o.bind, err, sizeof(err)))
				return cli_usage_error("probe", "--bind %s", err);
			break;
		case 'r': r = opt_u32("--rate", optarg, 1, PROBE_MAX_RATE, &o.rate); break;
		case 'c': r = opt_u32("--count", optarg, 1, PROBE_MAX_COUNT, &o.count); break;
		case 's': r = opt_u32("--size", optarg, PROBE_MIN_SIZE, PROBE_MAX_SIZE, &o.size); break;
		case 'p': r = opt_u32("--pause-at", optarg, 0, PROBE_MAX_COUNT, &o.pause_at);
			o.have_pause = true; break;
		case 'm': r = opt_u32("--pause-ms", optarg, 0, 60000, &o.pause_ms); break;
		case 'D': r = opt_u32("--drop-at", optarg, 0, PROBE_MAX_COUNT, &o.drop_at); break;
		case 'N': r = opt_u32("--drop-count", optarg, 0, PROBE_MAX_COUNT, &o.drop_count); break;
		default: return cli_usage_error("probe", "bad option");
		}
		if (r)
			return r;
	}
	if (!have_to || optind != argc)
		return cli_usage_error("probe", "send needs --to ADDR:PORT and nothing else");
	return probe_send(&o);
}

static int cmd_probe_recv(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "duration", required_argument, NULL, 'd' },
		{ "count", required_argument, NULL, 'c' }, { "idle", required_argument, NULL, 'i' },
		{ "gaps", required_argument, NULL, 'g' }, { "json", no_argument, NULL, 'j' },
		{ "bin-ms", required_argument, NULL, 'b' }, { 0 }
	};
	struct recv_opts o = { .duration_s = 30, .count = PROBE_MAX_COUNT, .idle_s = 2, .gaps = 5 };
	char err[200];
	bool have_listen = false;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		int r = 0;

		switch (c) {
		case 'l':
			if (udp_parse_addr(optarg, &o.listen, err, sizeof(err)))
				return cli_usage_error("probe", "--listen %s", err);
			have_listen = true;
			break;
		case 'd': r = opt_u32("--duration", optarg, 1, PROBE_MAX_DURATION_S, &o.duration_s); break;
		case 'c': r = opt_u32("--count", optarg, 1, PROBE_MAX_COUNT, &o.count); break;
		case 'i': r = opt_u32("--idle", optarg, 1, PROBE_MAX_DURATION_S, &o.idle_s); break;
		case 'g': r = opt_u32("--gaps", optarg, 1, PROBE_TOP_GAPS, &o.gaps); break;
		case 'b': r = opt_u32("--bin-ms", optarg, 1, 60000, &o.bin_ms); break;
		case 'j': o.json = true; break;
		default: return cli_usage_error("probe", "bad option");
		}
		if (r)
			return r;
	}
	if (!have_listen || optind != argc)
		return cli_usage_error("probe", "recv needs --listen ADDR:PORT and nothing else");
	return probe_recv(&o);
}

int cmd_probe(int argc, char **argv)
{
	int rc;

	if (argc < 2)
		return cli_usage_error("probe", "expected 'send' or 'recv'");
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		fputs(probe_help, stdout);
		putchar('\n');
		probe_tcp_help_print();
		putchar('\n');
		probe_relay_help_print();
		return 0;
	}
	if (probe_tcp_dispatch(argc, argv, &rc))
		return rc;
	if (!strcmp(argv[1], "relay"))
		return probe_relay_main(argc - 1, argv + 1);
	if (!strcmp(argv[1], "send"))
		return cmd_probe_send(argc - 1, argv + 1);
	if (!strcmp(argv[1], "recv"))
		return cmd_probe_recv(argc - 1, argv + 1);
	return cli_usage_error("probe", "unknown subcommand '%s'", argv[1]);
}
