/* The agent's half of the directory's policy store (docs/policy.md, "Where
 * policy lives"): which of its VMs' policies it holds, and fetching a new
 * one in chunks.  No I/O: it takes the directory's POL_NOTE pushes and
 * POL_GET replies and says what to do (ask for the next chunk, apply a
 * whole text, remove a policy); the shell (cmd/agent_policy.c) sends the
 * requests and compiles and installs the text.
 *
 * A note carries the policy's version and first chunk; a policy that does
 * not fit one datagram is read on with POL_GET from the offset reached.
 * Notes are not acknowledged: every VM's policy is asked for again when it
 * is added and every POLF_RECHECK_MS, so a lost note (or a directory
 * restart, which forgets who holds what) costs at most that long. */
#ifndef PEREGRINE_AGENT_POLFETCH_H
#define PEREGRINE_AGENT_POLFETCH_H

#include "lib/common.h"
#include "wire/dirproto.h"

enum polf_limits {
	POLF_RECHECK_MS = 10000,	/* ask for each VM's policy this often */
	POLF_VMS_MAX = 1 << 16,		/* VMs followed (an agent hosts far fewer) */
};

struct polf_vm_key {
	uint32_t vdc, ip;
};

enum polf_kind {
	POLF_NONE = 0,
	POLF_GET,	/* send POL_GET (vdc, ip, offset) with the shared key */
	POLF_APPLY,	/* install text (the caller frees it) as (vdc, ip)'s policy */
	POLF_REMOVE,	/* the VM has no policy any more: take its rules away */
};

struct polf_act {
	enum polf_kind kind;
	uint32_t vdc, ip;
	uint32_t offset;	/* GET */
	uint32_t version;	/* APPLY */
	uint8_t *text;		/* APPLY: malloc'd, len bytes (NULL when 0) */
	uint32_t len;
};

struct polf;

struct polf *polf_new(void);
void polf_free(struct polf *f);

/* The VMs whose policy comes from the directory now (n at most
 * POLF_VMS_MAX).  VMs kept keep what they hold; new ones are due a check
 * now; VMs gone are forgotten (their rules go with the VM's removal).
 * Returns how many VMs were dropped because it is full. */
size_t polf_set_vms(struct polf *f, const struct polf_vm_key *vms, size_t n);

/* A POL_NOTE or POL_GET reply.  a->kind says what follows. */
void polf_input(struct polf *f, const struct dirp_pol *r, struct polf_act *a);

/* Up to max GETs (offset 0) of VMs due a check at now_ms (monotonic). */
size_t polf_due(struct polf *f, uint64_t now_ms, struct polf_act *a, size_t max);

/* Version in force for (vdc, ip): 0 when none (or not followed). */
uint32_t polf_version(const struct polf *f, uint32_t vdc, uint32_t ip);

#endif
