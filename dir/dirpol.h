/* The directory's policy store: each VM's security-group rules as text,
 * keyed by (VDC, VM address) like the registrations (docs/policy.md,
 * "Where policy lives"; the messages in docs/directory-protocol.md,
 * "Policies").  Part of the directory core: no I/O.
 *
 * A policy is set in chunks (POL_SET), assembled here, checked with the
 * agent's own parser and compiler (agent/policy.h) and refused with the
 * line and field when it does not parse, compile or fit the limits; then
 * written to the store (struct dir_pol_op in the dir_out) and pushed
 * (POL_NOTE) to the agent that registered the VM.  An agent that registers
 * a VM with a policy gets a POL_NOTE too, so a VM that moves takes its
 * policy with it. */
#ifndef PEREGRINE_DIR_DIRPOL_H
#define PEREGRINE_DIR_DIRPOL_H

#include "dir/dir.h"

enum dirpol_limits {
	DIRPOL_MAX = 1 << 16,		/* policies in one directory */
	DIRPOL_VDC_MAX = 4096,		/* policies of one VDC */
	DIRPOL_VDC_BYTES = 16 << 20,	/* bytes of text of one VDC's policies */
	/* bytes of text of all policies: they share the LMDB map (1 GiB by
	 * default, DS_MAP_BYTES) with up to ~10M registrations */
	DIRPOL_BYTES = 64 << 20,
	DIRPOL_UPLOADS = 16,		/* SETs being assembled at once (1 MiB each at most) */
	DIRPOL_UPLOAD_MS = 5000,	/* an upload idle this long gives its slot up */
	DIRPOL_VAL_HDR = 8,		/* stored value: format, 3 zero bytes, version */
	DIRPOL_STORE_FORMAT = 1,
};

struct dirpol;

/* What a request or registration needs from the directory around it. */
struct dirpol_ctx {
	uint64_t from;			/* the requester (dir_addr) */
	uint64_t now_ms;		/* monotonic */
	bool read_only;			/* answer changes DIRP_TRY_LATER */
	bool no_store;			/* dir_cfg.no_policies: the same, saying so */
	bool agent;			/* tagged with the shared key, not a VDC's */
	/* a POL_NOTE record for the agent at addr */
	void (*note)(void *arg, const struct dirp_pol *p, uint64_t addr);
	void *arg;
	struct dir_out *out;		/* store writes go here */
	uint64_t *st;			/* the directory's counters (enum dir_stat) */
	const struct core_log *log;	/* a line per change and refusal (rate-limited) */
	uint64_t now_ns;
};

struct dirpol *dirpol_new(uint64_t seed);
void dirpol_free(struct dirpol *p);

/* A POL_SET, POL_GET or POL_DEL request (one record): the reply record
 * goes into w. */
void dirpol_request(struct dirpol *p, const struct dirp_msg *m, struct dirp_writer *w,
		    const struct dirpol_ctx *ctx);

/* The agent at ctx->from registered (vdc, ip): when the VM has a policy,
 * that agent holds it now and is told (POL_NOTE).  A POL_GET at offset 0
 * with the shared key and DIRP_POL_WATCH makes its sender the holder too. */
void dirpol_registered(struct dirpol *p, uint32_t vdc, uint32_t ip, const struct dirpol_ctx *ctx);
/* (vdc, ip) was unregistered by from: it holds it no more. */
void dirpol_unregistered(struct dirpol *p, uint32_t vdc, uint32_t ip, uint64_t from);

/* Start-up: a record of the store whose key is a policy key
 * (dirpol_is_key).  0, or -EINVAL for a record this version cannot read. */
int dirpol_restore(struct dirpol *p, const uint8_t *key, size_t klen, const uint8_t *val,
		   size_t vlen);
bool dirpol_is_key(const uint8_t *key, size_t klen);

/* Policies held, bytes of text held, bytes of memory held. */
size_t dirpol_count(const struct dirpol *p);
size_t dirpol_bytes(const struct dirpol *p);
size_t dirpol_mem_bytes(const struct dirpol *p);

#endif
