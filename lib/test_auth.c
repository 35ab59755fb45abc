/* lib/auth.c's tags against libsodium's one-shot crypto_auth_hmacsha512256
 * (the definition of the wire tag) on random keys and messages, with more
 * keys in turn than auth.c keeps keyed states for, so that its per-key
 * cache is filled, hit and evicted. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <sodium.h>

#include "lib/auth.h"
#include "lib/rng.h"

enum { KEYS = 11, ROUNDS = 20000, MAX_LEN = 3000 };

static void random_bytes(struct rng *r, uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)rng_next(r);
}

static void reference_tag(const struct auth_key *k, const uint8_t *msg, size_t len,
			  uint8_t tag[AUTH_TAG_BYTES])
{
	uint8_t full[crypto_auth_hmacsha512256_BYTES];

	crypto_auth_hmacsha512256(full, msg, len, k->k);
	memcpy(tag, full, AUTH_TAG_BYTES);
}

static void test_tag_equals_crypto_auth(void **state)
{
	static uint8_t msg[MAX_LEN];
	struct auth_key keys[KEYS];
	struct rng r;

	(void)state;
	rng_seed(&r, 2026);
	for (int i = 0; i < KEYS; i++)
		random_bytes(&r, keys[i].k, AUTH_KEY_BYTES);
	for (int i = 0; i < ROUNDS; i++) {
		/* Mostly one key (the daemons' case), sometimes any of them. */
		const struct auth_key *k = &keys[rng_next(&r) % 4 ? 0 : rng_below(&r, KEYS)];
		/* Lengths around the 128-byte block boundaries matter most. */
		size_t len = rng_next(&r) % 2 ? rng_below(&r, 300) : rng_below(&r, MAX_LEN + 1);
		uint8_t want[AUTH_TAG_BYTES], got[AUTH_TAG_BYTES];

		random_bytes(&r, msg, len);
		reference_tag(k, msg, len, want);
		auth_tag(k, msg, len, got);
		assert_memory_equal(got, want, AUTH_TAG_BYTES);
		assert_true(auth_verify(k, msg, len, want));
		want[rng_below(&r, AUTH_TAG_BYTES)] ^= (uint8_t)(1u << rng_below(&r, 8));
		assert_false(auth_verify(k, msg, len, want));
		if (len) {
			msg[rng_below(&r, len)] ^= 1;
			assert_false(auth_verify(k, msg, len, got));
		}
	}
}

/* A key changed in place (same address, new bytes) must not be served the
 * old key's state. */
static void test_key_changed_in_place(void **state)
{
	static const uint8_t msg[] = "lookup 10.0.0.1 in vdc 7";
	struct auth_key k = { { 1 } };
	uint8_t want[AUTH_TAG_BYTES], got[AUTH_TAG_BYTES];

	(void)state;
	auth_tag(&k, msg, sizeof(msg), got);
	reference_tag(&k, msg, sizeof(msg), want);
	assert_memory_equal(got, want, AUTH_TAG_BYTES);
	k.k[31] ^= 0x80;
	auth_tag(&k, msg, sizeof(msg), got);
	reference_tag(&k, msg, sizeof(msg), want);
	assert_memory_equal(got, want, AUTH_TAG_BYTES);
	k.k[31] ^= 0x80;
	assert_false(auth_verify(&k, msg, sizeof(msg), want));
}

/* A VDC's key is HMAC-SHA-512-256(shared key, "peregrine vdc" | vdc as 4
 * big-endian bytes) (docs/directory-protocol.md, "Policies"): checked
 * against libsodium's one-shot HMAC; different VDCs get different keys. */
static void test_vdc_key(void **state)
{
	struct auth_key master, a, b;
	uint8_t msg[17] = "peregrine vdc", want[crypto_auth_hmacsha512256_BYTES];
	struct rng r;

	(void)state;
	rng_seed(&r, 23);
	random_bytes(&r, master.k, AUTH_KEY_BYTES);
	msg[13] = 0x01, msg[14] = 0x02, msg[15] = 0x03, msg[16] = 0x04;
	crypto_auth_hmacsha512256(want, msg, sizeof(msg), master.k);
	auth_vdc_key(&master, 0x01020304, &a);
	assert_memory_equal(a.k, want, AUTH_KEY_BYTES);
	auth_vdc_key(&master, 0x01020305, &b);
	assert_memory_not_equal(a.k, b.k, AUTH_KEY_BYTES);
	assert_memory_not_equal(a.k, master.k, AUTH_KEY_BYTES);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tag_equals_crypto_auth),
		cmocka_unit_test(test_key_changed_in_place),
		cmocka_unit_test(test_vdc_key),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
