/* The standby RAS's election on etcd (cmd/ras_ha.h). */
#include "cmd/ras_ha.h"

#include <errno.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/common.h"
#include "lib/etcd.h"
#include "lib/log.h"

struct ras_ha {
	struct etcd *e;
	pthread_t ka;
	bool ka_running;
	atomic_bool ka_stop, lost;
	int lost_pipe[2];
	char value[RAS_HA_VALUE_MAX];
	unsigned ttl_s;
	int64_t lease, term;
	/* When our lease can first have expired at etcd, by our clock
	 * (ras_ha_valid_until); written by the keep-alive thread. */
	_Atomic uint64_t valid_until_ns;
	bool leading;
	/* the probe of the leader (RAS_HA_REFUSALS) */
	int probe_fd;
	char probe_to[RAS_HA_VALUE_MAX + 1];
	unsigned refusals;
};

struct ras_ha *ras_ha_open(const char *urls, const char *name, unsigned ttl_s, char *err,
			   size_t errlen)
{
	struct ras_ha *h = xcalloc(1, sizeof(*h));

	if (!(h->e = etcd_new(urls, RAS_HA_TIMEOUT_MS, err, errlen))) {
		free(h);
		return NULL;
	}
	h->ttl_s = ttl_s ? ttl_s : RAS_HA_TTL_S;
	h->probe_fd = -1;
	snprintf(h->value, sizeof(h->value), "%s", name);
	return h;
}

void ras_ha_close(struct ras_ha *h)
{
	if (!h)
		return;
	ras_ha_keepalive_stop(h);
	if (h->probe_fd >= 0)
		close(h->probe_fd);
	etcd_free(h->e);
	free(h);
}

/* A lease that etcd renewed (or granted) for ttl_s seconds in answer to a
 * request we sent at sent_ns: etcd starts the TTL when the request arrives,
 * later than sent_ns, and a new etcd leader extends every lease, so the
 * lease cannot expire before sent_ns + TTL.  We stop leading earlier by
 * the margin (a clock running up to RAS_HA_DRIFT_PERMILLE slow against
 * etcd's, and RAS_HA_MARGIN_MS for a datagram already on its way). */
uint64_t ras_ha_lease_valid_until(uint64_t sent_ns, int64_t ttl_s)
{
	uint64_t ttl_ms = ttl_s > 0 ? (uint64_t)ttl_s * 1000 : 0;
	uint64_t margin_ms = RAS_HA_MARGIN_MS + ttl_ms * RAS_HA_DRIFT_PERMILLE / 1000;

	if (ttl_ms <= margin_ms)
		return sent_ns;	/* never valid: cannot lead on so short a lease */
	return sent_ns + (ttl_ms - margin_ms) * 1000000;
}

static void lease_renewed(struct ras_ha *h, uint64_t sent_ns, int64_t ttl_s)
{
	uint64_t v = ras_ha_lease_valid_until(sent_ns, ttl_s);

	if (v > atomic_load(&h->valid_until_ns))
		atomic_store(&h->valid_until_ns, v);
}

uint64_t ras_ha_valid_until(struct ras_ha *h)
{
	return atomic_load(&h->valid_until_ns);
}

static void nap_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* The leader's address from its value "NAME ADDR:PORT": a connected UDP
 * socket to it, kept while the leader stays the same. */
static int probe_open(struct ras_ha *h, const char *leader)
{
	const char *sp = strrchr(leader, ' ');
	struct sockaddr_in a = { .sin_family = AF_INET };
	char ip[64];
	unsigned port;

	if (h->probe_fd >= 0 && !strcmp(h->probe_to, leader))
		return 0;
	if (h->probe_fd >= 0)
		close(h->probe_fd);
	h->probe_fd = -1;
	h->refusals = 0;
	snprintf(h->probe_to, sizeof(h->probe_to), "%s", leader);
	if (!sp || sscanf(sp + 1, "%63[0-9.]:%u", ip, &port) != 2 || port > 65535 ||
	    inet_pton(AF_INET, ip, &a.sin_addr) != 1)
		return -EINVAL;
	a.sin_port = htons((uint16_t)port);
	h->probe_fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (h->probe_fd < 0)
		return -errno;
	if (connect(h->probe_fd, (struct sockaddr *)&a, sizeof(a))) {
		close(h->probe_fd);
		h->probe_fd = -1;
		return -errno;
	}
	return 0;
}

/* One round of the probe: true once the leader's address refused
 * RAS_HA_REFUSALS rounds in a row.  The refusal of the previous round's
 * datagram (ICMP port unreachable) is the socket's pending error. */
static bool probe_dead(struct ras_ha *h, const char *leader)
{
	char b;

	if (probe_open(h, leader))
		return false;
	if (recv(h->probe_fd, &b, 1, MSG_DONTWAIT) < 0 && errno == ECONNREFUSED)
		h->refusals++;
	else
		h->refusals = 0;
	if (send(h->probe_fd, "", 0, MSG_DONTWAIT) < 0 && errno == ECONNREFUSED)
		h->refusals++;
	return h->refusals >= RAS_HA_REFUSALS;
}

int ras_ha_wait(struct ras_ha *h, volatile sig_atomic_t *stop, int64_t *term)
{
	char other[RAS_HA_VALUE_MAX + 1], seen[RAS_HA_VALUE_MAX + 1] = "";
	size_t olen = 0;
	int rc;

	while (!*stop) {
		uint64_t sent = mono_ns();
		int64_t ttl = 0;

		if (!h->lease) {
			atomic_store(&h->valid_until_ns, 0);
			if ((rc = etcd_lease_grant(h->e, h->ttl_s, &h->lease))) {
				h->lease = 0;
				log_warn("etcd: cannot get a lease: %s", strerror(-rc));
				nap_ms(RAS_HA_CAMPAIGN_MS * 5);
				continue;
			}
			/* etcd grants at least the TTL asked for */
			lease_renewed(h, sent, h->ttl_s);
		}
		rc = etcd_campaign(h->e, RAS_HA_KEY, strlen(RAS_HA_KEY), h->value,
				   strlen(h->value), h->lease, &h->term, other, RAS_HA_VALUE_MAX,
				   &olen);
		if (rc == 1) {
			h->leading = true;
			*term = h->term;
			return 0;
		}
		if (rc == 0) {
			other[olen] = 0;
			if (strcmp(other, seen)) {
				log_info("standby: %s leads (term %" PRId64 ")", other, h->term);
				snprintf(seen, sizeof(seen), "%s", other);
			}
			/* Our lease must live while we wait, or the campaign
			 * that wins would carry a dead one. */
			sent = mono_ns();
			rc = etcd_lease_keepalive(h->e, h->lease, &ttl);
			if (rc == -ENOENT)
				h->lease = 0;
			else if (!rc)
				lease_renewed(h, sent, ttl);
			/* A leader whose address refuses datagrams is dead:
			 * end its term now rather than when its lease runs
			 * out (only that term's key is deleted). */
			if (probe_dead(h, other) &&
			    etcd_resign(h->e, RAS_HA_KEY, strlen(RAS_HA_KEY), h->term) == 0) {
				log_warn("standby: %s refuses datagrams: its term %" PRId64
					 " ended", other, h->term);
				h->refusals = 0;
				continue;
			}
		} else {
			log_warn("etcd: campaign: %s", strerror(-rc));
		}
		nap_ms(RAS_HA_CAMPAIGN_MS);
	}
	return -EINTR;
}

static void *keepalive_main(void *arg)
{
	struct ras_ha *h = arg;
	unsigned period = MIN(h->ttl_s * 1000 / 4, (unsigned)RAS_HA_KEEPALIVE_MS), unreachable = 0;

	while (!atomic_load(&h->ka_stop)) {
		uint64_t sent = mono_ns();
		int64_t ttl = 0;
		int rc = etcd_lease_keepalive(h->e, h->lease, &ttl);
		unsigned nap = period;

		if (rc == -ENOENT) {
			log_err("leadership lost: the lease ended (term %" PRId64 ")", h->term);
			atomic_store(&h->lost, true);
			if (write(h->lost_pipe[1], "", 1) < 0) {
				/* the loop finds `lost` set anyway */
			}
			break;
		}
		if (rc) {
			if (!unreachable++)
				log_warn("etcd: keep-alive: %s; leading until the lease can have "
					 "expired, %" PRId64 " ms from now", strerror(-rc),
					 ((int64_t)ras_ha_valid_until(h) - (int64_t)mono_ns()) /
					 1000000);
			nap = RAS_HA_RETRY_MS;	/* renew in time if etcd answers again */
		} else {
			char v[RAS_HA_VALUE_MAX];
			size_t vlen = 0;
			int64_t cr = 0;
			int g;

			lease_renewed(h, sent, ttl);
			/* A standby whose probe found our address refusing
			 * deletes our key while our lease lives (we open our
			 * socket before campaigning, so only if it closed or
			 * the refusal came from elsewhere): then another
			 * leads, and so must not we. */
			g = etcd_get(h->e, RAS_HA_KEY, strlen(RAS_HA_KEY), v, sizeof(v), &vlen, &cr,
				     NULL);
			if (g == 0 || (g == 1 && cr != h->term)) {
				log_err("leadership lost: the leader key is %s (our term %" PRId64 ")",
					g ? "another's" : "gone", h->term);
				atomic_store(&h->lost, true);
				if (write(h->lost_pipe[1], "", 1) < 0) {
					/* the loop finds `lost` set anyway */
				}
				break;
			}
			if (unreachable)
				log_info("etcd: keep-alive answered again after %u failures",
					 unreachable);
			unreachable = 0;
		}
		for (unsigned t = 0; t < nap && !atomic_load(&h->ka_stop); t += 20)
			nap_ms(20);
	}
	return NULL;
}

int ras_ha_keepalive_start(struct ras_ha *h)
{
	sigset_t all, old;
	int rc;

	if (pipe2(h->lost_pipe, O_CLOEXEC | O_NONBLOCK))
		return -errno;
	sigfillset(&all);	/* signals stay the loop's */
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&h->ka, NULL, keepalive_main, h);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc) {
		close(h->lost_pipe[0]);
		close(h->lost_pipe[1]);
		return -rc;
	}
	h->ka_running = true;
	return h->lost_pipe[0];
}

void ras_ha_keepalive_stop(struct ras_ha *h)
{
	if (!h->ka_running)
		return;
	atomic_store(&h->ka_stop, true);
	pthread_join(h->ka, NULL);
	close(h->lost_pipe[0]);
	close(h->lost_pipe[1]);
	h->ka_running = false;
	if (atomic_load(&h->lost))
		h->leading = false;
}

void ras_ha_resign(struct ras_ha *h)
{
	if (!h->lease)
		return;
	if (h->leading && !etcd_resign(h->e, RAS_HA_KEY, strlen(RAS_HA_KEY), h->term))
		log_info("resigned leadership (term %" PRId64 ")", h->term);
	etcd_lease_revoke(h->e, h->lease);
	h->lease = 0;
	h->leading = false;
}

int ras_ha_leader(const char *urls, char *buf, size_t len)
{
	char err[128], v[RAS_HA_VALUE_MAX + 1];
	struct etcd *e = etcd_new(urls, RAS_HA_TIMEOUT_MS, err, sizeof(err));
	int64_t term = 0;
	size_t vlen = 0;
	int rc;

	if (!e)
		return -EINVAL;
	rc = etcd_get(e, RAS_HA_KEY, strlen(RAS_HA_KEY), v, RAS_HA_VALUE_MAX, &vlen, &term, NULL);
	if (rc == 1) {
		v[vlen] = 0;
		snprintf(buf, len, "%s %" PRId64, v, term);
	}
	etcd_free(e);
	return rc;
}
