/* The lab file's `policy:` into the directory (docs/policy.md, "Where
 * policy lives"): once the directory runs and before any agent starts,
 * each VM's rules are set there under (its VDC, its address) with the
 * lab's shared key; the agents get them from the directory as any other
 * deployment's would.  A replicated directory (ha:) keeps no policies
 * yet: there the rules go to per-server files as before
 * (lab_agent_config_of). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dir/client_udp.h"
#include "lab/lab.h"
#include "lab/run.h"
#include "lib/auth.h"

enum { LAB_POLICY_WAIT_MS = 3000 };	/* per answer: the directory may be starting */

struct push_arg {
	char *err;
	size_t errlen;
};

/* One VM's rules as the text of a policy file. */
static char *rules_text(const struct lab_vm *vm, uint32_t *len)
{
	size_t n = 1;
	char *t;

	for (uint32_t r = 0; r < vm->nrules; r++)
		n += strlen(vm->rules[r]) + 1;
	t = xmalloc(n);
	*len = 0;
	for (uint32_t r = 0; r < vm->nrules; r++)
		*len += (uint32_t)sprintf(t + *len, "%s\n", vm->rules[r]);
	return t;
}

static int push_all(const struct lab *l, void *arg)
{
	struct push_arg *pa = arg;
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(LAB_DIR_PORT),
				  .sin_addr.s_addr = htonl(lab_mgmt_self_ip(l)) };
	struct dirc_cfg cfg = { 0 };
	struct dirc_pol_answer a;
	struct auth_key key;
	struct dirc_udp *u;
	char dir[256], path[300], kerr[256];
	int rc = 0;

	lab_state_dir(l->prefix, dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/key", dir);
	if (auth_key_load(path, &key, kerr, sizeof(kerr))) {
		snprintf(pa->err, pa->errlen, "policy: %s", kerr);
		return -1;
	}
	cfg.key = &key;
	cfg.seed = dir_now_sys().ns ^ 0x706f6cull;
	if (!(u = dirc_udp_open(&to, &cfg, &rc))) {
		snprintf(pa->err, pa->errlen, "policy: socket: %s", strerror(-rc));
		return -1;
	}
	for (uint32_t v = 0; v < l->nvms && !rc; v++) {
		const struct lab_vm *vm = &l->vms[v];
		uint32_t len;
		char *text;

		if (!vm->rules)
			continue;
		text = rules_text(vm, &len);
		rc = dirc_udp_pol_set(u, l->vdcs[vm->vdc].id, vm->ip, text, len, LAB_POLICY_WAIT_MS,
				      &a);
		free(text);
		if (rc)
			snprintf(pa->err, pa->errlen, "policy of %s: the directory: %s", vm->name,
				 strerror(-rc));
		else if (a.status != DIRP_OK && (rc = -1))
			snprintf(pa->err, pa->errlen, "policy of %s: the directory refused it: %s%s%s",
				 vm->name, dirp_status_name(a.status), a.why[0] ? ": " : "", a.why);
	}
	dirc_udp_close(u);
	return rc ? -1 : 0;
}

int lab_policies_to_directory(const struct lab *l, char *err, size_t errlen)
{
	struct push_arg pa = { err, errlen };
	bool any = false;

	for (uint32_t v = 0; v < l->nvms; v++)
		any |= l->vms[v].rules != NULL;
	if (!any || lab_ha_on(l))
		return 0;
	if (lab_step("policy", "directory", err, errlen))
		return -1;
	return lab_in_mgmt(l, push_all, &pa);
}
