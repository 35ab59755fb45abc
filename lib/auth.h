/* Message authentication for the management network.
 *
 * Every daemon-to-daemon message carries a tag computed with a shared key
 * (libsodium's crypto_auth: HMAC-SHA-512-256, tag truncated to
 * AUTH_TAG_BYTES).  Replay protection is the protocol's job (sequence numbers
 * or request ids plus a window); this file only proves who wrote the bytes.
 *
 * Key files hold 32 bytes as 64 hex digits (whitespace ignored), made by
 * `peregrine keygen FILE` or: head -c 32 /dev/urandom | xxd -p -c 64.
 */
#ifndef PEREGRINE_LIB_AUTH_H
#define PEREGRINE_LIB_AUTH_H

#include "lib/common.h"

#define AUTH_KEY_BYTES 32
#define AUTH_TAG_BYTES 16

struct auth_key {
	uint8_t k[AUTH_KEY_BYTES];
};

/* 0, or -errno with a one-line reason in err. */
int auth_key_load(const char *path, struct auth_key *key, char *err, size_t errlen);
int auth_key_parse(const char *hex, size_t len, struct auth_key *key);
/* Write a fresh random key file (mode 0600); fails if it exists. */
int auth_key_generate(const char *path, char *err, size_t errlen);

void auth_tag(const struct auth_key *key, const void *msg, size_t len,
	      uint8_t tag[AUTH_TAG_BYTES]);
/* Constant-time check. */
bool auth_verify(const struct auth_key *key, const void *msg, size_t len,
		 const uint8_t tag[AUTH_TAG_BYTES]);

/* A VDC's own key: HMAC(master, "peregrine vdc" | vdc as 4 big-endian
 * bytes).  The directory derives it to check a tenant's policy requests; a
 * tenant holds its VDC's key only, which tags requests for that VDC and no
 * other (docs/directory-protocol.md, "Policies"). */
void auth_vdc_key(const struct auth_key *master, uint32_t vdc, struct auth_key *out);

#endif
