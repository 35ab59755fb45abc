/* libFuzzer: the agent's IPv6 control plane on arbitrary ND miss frames
 * from a VM, with a directory core answering its LOOKUP6 requests.  The
 * NS check never reads past the frame (ASan, the frame in a heap block of
 * exactly its length); at most one LOOKUP6 leaves per distinct target; a
 * GARP6 entry is written only for the target the frame asked, in the VM's
 * VDC, and the frame sent back is the VM's, byte for byte.  The same frame
 * as a router solicitation (PGR_EV_RS): read only within it, answered (if
 * at all) with the VM's own advertisement and nothing else. */
#include <stdlib.h>
#include <string.h>

#include "agent/agent.h"
#include "dir/dir.h"
#include "wire/pgr.h"

static const struct auth_key key = { { 9, 9 } };
static const uint8_t *cur;
static size_t cur_len;
static uint8_t q[4][DIRP_MAX_DGRAM];
static size_t qlen[4];
static unsigned nq, nset;

static int op_garp6(void *arg, const struct pgr_garp6_key *k, const struct pgr_garp_entry *g)
{
	(void)arg, (void)g;
	if (k->vdc != 1 || cur_len < 78 || memcmp(k->ip, cur + 62, 16))
		abort();
	nset++;
	return 0;
}

static int op_resend(void *arg, uint32_t ifindex, const uint8_t *f, size_t len)
{
	(void)arg;
	if (ifindex != 7 || len != cur_len || memcmp(f, cur, len))
		abort();
	return 0;
}

static unsigned nra;
static uint8_t ra_want[AGENT6_RA_LEN];

static int op_ra(void *arg, uint32_t ifindex, const uint8_t *f, size_t len)
{
	(void)arg;
	if (ifindex != 7 || len != AGENT6_RA_LEN || memcmp(f, ra_want, len))
		abort();
	nra++;
	return 0;
}

static void to_dir(void *arg, const uint8_t *buf, size_t len)
{
	(void)arg;
	if (nq >= 4)
		abort();		/* one NS, one lookup */
	memcpy(q[nq], buf, len);
	qlen[nq++] = len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct agent_ops ops = { .resend = op_resend, .garp6_set = op_garp6,
				 .arp_reply = op_ra };
	struct agent6_rs_bucket rs = { 0 };
	struct dirc_cfg dc = { .key = &key, .seed = 1, .send = to_dir };
	struct dir_cfg ds = { .key = &key, .seed = 2 };
	struct agent_vm_cfg vm = { .vdc = 1, .node = 13, .ifindex = 7, .has_prefix6 = true,
				   .prefix6 = { 0xfd, 0, 0, 0, 0, 0, 0, 1 } };
	struct dirc *c = dirc_new(&dc);
	struct dir *d = dir_new(&ds);
	struct dir_now now = { .ns = 1000000000ull, .wall_ms = 1700000000000ull };
	struct agent6 *s = calloc(1, sizeof(*s));
	struct agent6_env env = { .ops = &ops, .dirc = c, .node = 1 };
	struct dir_out out;
	uint8_t *f = malloc(size ? size : 1);

	memcpy(f, data, size);
	cur = f, cur_len = size, nq = 0, nset = 0;
	/* the VM's own addresses, so that a target may be found */
	agent6_register(s, &env, now, &vm, 1);
	agent6_nd_miss(s, &env, now, &vm, f, size);
	agent6_nd_miss(s, &env, now, &vm, f, size);	/* a retransmission */
	dir_out_init(&out);
	for (unsigned i = 0; i < nq; i++) {
		dir_input(d, now, 1, q[i], qlen[i], &out);
		for (size_t k = 0; k < out.nsends; k++)
			dirc_input(c, now, out.buf + out.sends[k].off, out.sends[k].len);
		dir_out_reset(&out);
	}
	if (nset > 1 || s->st.nd_resolved != nset)
		abort();
	/* the frame as a router solicitation */
	agent6_ra_frame(1, &vm, ra_want);
	nra = 0;
	agent6_rs(s, &env, now, &vm, &rs, f, size);
	agent6_rs(s, &env, now, &vm, &rs, f, size);
	if (nra != s->st.rs_answered || (nra && nra != 2) || s->st.rs_bad + nra != 2)
		abort();
	dir_out_free(&out);
	dir_free(d);
	dirc_free(c);
	free(s);
	free(f);
	return 0;
}
