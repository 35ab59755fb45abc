/* The standby RAS's election on etcd (cmd/ras_ha.h). */
#include "cmd/ras_ha.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/common.h"
#include "lib/etcd.h"
#include "lib/log.h"

struct ras_ha {
	struct etcd *e;
	char value[RAS_HA_VALUE_MAX];
	unsigned ttl_s;
	int64_t lease, term;
	uint64_t last_ok_ns;
	bool leading;
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
	snprintf(h->value, sizeof(h->value), "%s", name);
	return h;
}

void ras_ha_close(struct ras_ha *h)
{
	if (!h)
		return;
	etcd_free(h->e);
	free(h);
}

static void nap_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

int ras_ha_wait(struct ras_ha *h, volatile sig_atomic_t *stop, int64_t *term)
{
	char other[RAS_HA_VALUE_MAX + 1], seen[RAS_HA_VALUE_MAX + 1] = "";
	size_t olen = 0;
	int rc;

	while (!*stop) {
		if (!h->lease && (rc = etcd_lease_grant(h->e, h->ttl_s, &h->lease))) {
			h->lease = 0;
			log_warn("etcd: cannot get a lease: %s", strerror(-rc));
			nap_ms(RAS_HA_CAMPAIGN_MS * 5);
			continue;
		}
		rc = etcd_campaign(h->e, RAS_HA_KEY, strlen(RAS_HA_KEY), h->value,
				   strlen(h->value), h->lease, &h->term, other, RAS_HA_VALUE_MAX,
				   &olen);
		if (rc == 1) {
			h->leading = true;
			h->last_ok_ns = mono_ns();
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
			if (etcd_lease_keepalive(h->e, h->lease, NULL) == -ENOENT)
				h->lease = 0;
		} else {
			log_warn("etcd: campaign: %s", strerror(-rc));
		}
		nap_ms(RAS_HA_CAMPAIGN_MS);
	}
	return -EINTR;
}

bool ras_ha_keepalive(struct ras_ha *h)
{
	int rc;

	if (!h->leading)
		return false;
	rc = etcd_lease_keepalive(h->e, h->lease, NULL);
	if (rc == 0) {
		h->last_ok_ns = mono_ns();
		return true;
	}
	if (rc == -ENOENT) {
		log_err("leadership lost: the lease ended (term %" PRId64 ")", h->term);
		h->leading = false;
		return false;
	}
	/* etcd unreachable: we lead until our lease would have ended. */
	if (mono_ns() - h->last_ok_ns >= (uint64_t)h->ttl_s * 1000000000ull) {
		log_err("leadership lost: etcd unreachable for %u s (%s)", h->ttl_s, strerror(-rc));
		h->leading = false;
		return false;
	}
	log_warn("etcd: keep-alive: %s", strerror(-rc));
	return true;
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
