/* The agent's half of the policy store (agent/polfetch.h): checks when a VM
 * is added and every POLF_RECHECK_MS, a whole text from one note, a long
 * one read on chunk by chunk, a text that changes while being read, a
 * removal, and notes for VMs that are not the agent's. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "agent/polfetch.h"

static struct dirp_pol chunk(uint32_t vdc, uint32_t ip, uint32_t version, const char *text,
			     uint32_t off)
{
	uint32_t total = (uint32_t)strlen(text);
	struct dirp_pol r = { .vdc = vdc, .ip = ip, .version = version, .total = total,
			      .offset = off, .data = (const uint8_t *)text + off };

	r.len = (uint16_t)MIN(total - off, (uint32_t)DIRP_POL_CHUNK);
	return r;
}

static void test_checks(void **st)
{
	struct polf_vm_key vms[2] = { { 1, 5 }, { 2, 5 } };
	struct polf *f = polf_new();
	struct polf_act a[4];

	(void)st;
	assert_int_equal(polf_set_vms(f, vms, 2), 0);
	assert_int_equal(polf_due(f, 1000, a, 4), 2);
	assert_int_equal(a[0].kind, POLF_GET);
	assert_int_equal(a[0].offset, 0);
	assert_int_equal(a[1].vdc, 2);
	assert_int_equal(polf_due(f, 1001, a, 4), 0);
	assert_int_equal(polf_due(f, 1000 + POLF_RECHECK_MS - 1, a, 4), 0);
	assert_int_equal(polf_due(f, 1000 + POLF_RECHECK_MS, a, 4), 2);
	/* a VM added is due now; the others keep their time */
	vms[1] = (struct polf_vm_key){ 3, 9 };
	polf_set_vms(f, vms, 2);
	assert_int_equal(polf_due(f, 1000 + POLF_RECHECK_MS + 1, a, 4), 1);
	assert_int_equal(a[0].vdc, 3);
	polf_free(f);
}

static void test_one_note_and_removal(void **st)
{
	struct polf_vm_key vm = { 1, 5 };
	struct polf *f = polf_new();
	struct dirp_pol r = chunk(1, 5, 3, "in tcp 22 from any\n", 0);
	struct polf_act a;

	(void)st;
	polf_set_vms(f, &vm, 1);
	polf_input(f, &r, &a);
	assert_int_equal(a.kind, POLF_APPLY);
	assert_int_equal(a.version, 3);
	assert_int_equal(a.len, r.total);
	assert_memory_equal(a.text, "in tcp 22 from any\n", a.len);
	free(a.text);
	assert_int_equal(polf_version(f, 1, 5), 3);
	polf_input(f, &r, &a);			/* the same again: in force */
	assert_int_equal(a.kind, POLF_NONE);
	r.vdc = 2;				/* not a VM of ours */
	polf_input(f, &r, &a);
	assert_int_equal(a.kind, POLF_NONE);
	r = (struct dirp_pol){ .vdc = 1, .ip = 5, .status = DIRP_NOT_FOUND };
	polf_input(f, &r, &a);
	assert_int_equal(a.kind, POLF_REMOVE);
	assert_int_equal(polf_version(f, 1, 5), 0);
	polf_input(f, &r, &a);
	assert_int_equal(a.kind, POLF_NONE);
	/* an empty policy is a policy (inbound denied) */
	r = chunk(1, 5, 4, "", 0);
	polf_input(f, &r, &a);
	assert_int_equal(a.kind, POLF_APPLY);
	assert_int_equal(a.len, 0);
	free(a.text);
	polf_free(f);
}

static void test_long_text_in_chunks(void **st)
{
	struct polf_vm_key vm = { 1, 5 };
	struct polf *f = polf_new();
	char *text = malloc(4000), *text2 = malloc(4000);
	struct dirp_pol r;
	struct polf_act a;

	(void)st;
	memset(text, 'a', 3999);
	text[3999] = 0;
	memset(text2, 'b', 3999);
	text2[3999] = 0;
	polf_set_vms(f, &vm, 1);
	r = chunk(1, 5, 1, text, 0);
	polf_input(f, &r, &a);
	assert_int_equal(a.kind, POLF_GET);
	assert_int_equal(a.offset, DIRP_POL_CHUNK);
	/* a stray chunk past where it is: it asks from where it is */
	r = chunk(1, 5, 1, text, 2 * DIRP_POL_CHUNK);
	polf_input(f, &r, &a);
	assert_int_equal(a.kind, POLF_GET);
	assert_int_equal(a.offset, DIRP_POL_CHUNK);
	/* the policy changes while being read: from the start again */
	r = chunk(1, 5, 2, text2, DIRP_POL_CHUNK);
	polf_input(f, &r, &a);
	assert_int_equal(a.kind, POLF_GET);
	assert_int_equal(a.offset, 0);
	for (uint32_t off = 0;;) {
		r = chunk(1, 5, 2, text2, off);
		polf_input(f, &r, &a);
		if (a.kind != POLF_GET)
			break;
		assert_int_equal(a.offset, off + r.len);
		off = a.offset;
	}
	assert_int_equal(a.kind, POLF_APPLY);
	assert_int_equal(a.version, 2);
	assert_int_equal(a.len, 3999);
	assert_memory_equal(a.text, text2, 3999);
	free(a.text);
	/* the VM leaves: forgotten */
	polf_set_vms(f, NULL, 0);
	assert_int_equal(polf_version(f, 1, 5), 0);
	free(text);
	free(text2);
	polf_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_checks),
		cmocka_unit_test(test_one_note_and_removal),
		cmocka_unit_test(test_long_text_in_chunks),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
