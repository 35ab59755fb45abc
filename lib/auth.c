#include "lib/auth.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void auth_init(void)
{
	if (sodium_init() < 0)
		die("libsodium: initialisation failed");
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int auth_key_parse(const char *hex, size_t len, struct auth_key *key)
{
	size_t n = 0;
	int hi = -1;

	for (size_t i = 0; i < len; i++) {
		int v;

		if (hex[i] == ' ' || hex[i] == '\n' || hex[i] == '\t' || hex[i] == '\r')
			continue;
		if ((v = hexval(hex[i])) < 0 || n == AUTH_KEY_BYTES)
			return -EINVAL;
		if (hi < 0) {
			hi = v;
		} else {
			key->k[n++] = (uint8_t)(hi << 4 | v);
			hi = -1;
		}
	}
	return n == AUTH_KEY_BYTES && hi < 0 ? 0 : -EINVAL;
}

int auth_key_load(const char *path, struct auth_key *key, char *err, size_t errlen)
{
	char buf[256];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		snprintf(err, errlen, "key %s: %s", path, strerror(errno));
		return -errno;
	}
	n = read(fd, buf, sizeof(buf));
	close(fd);
	if (n < 0 || auth_key_parse(buf, (size_t)n, key)) {
		snprintf(err, errlen, "key %s: expected %d hex digits", path, 2 * AUTH_KEY_BYTES);
		return -EINVAL;
	}
	auth_init();
	return 0;
}

int auth_key_generate(const char *path, char *err, size_t errlen)
{
	uint8_t k[AUTH_KEY_BYTES];
	char hex[2 * AUTH_KEY_BYTES + 2];
	int fd;

	auth_init();
	randombytes_buf(k, sizeof(k));
	sodium_bin2hex(hex, sizeof(hex), k, sizeof(k));
	strcat(hex, "\n");
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		snprintf(err, errlen, "key %s: %s", path, strerror(errno));
		return -errno;
	}
	if (write(fd, hex, strlen(hex)) != (ssize_t)strlen(hex) || fsync(fd)) {
		snprintf(err, errlen, "key %s: write failed: %s", path, strerror(errno));
		close(fd);
		return -EIO;
	}
	close(fd);
	sodium_memzero(k, sizeof(k));
	return 0;
}

/* HMAC keys its hash with two blocks (key ^ ipad, key ^ opad) before the
 * message: two of the four SHA-512 compressions of a short message.  The
 * state after them depends on the key alone, so it is computed once per key
 * and copied per message; the tag is the same as crypto_auth's (the test in
 * lib/test_auth.c checks it on random keys and messages).  A few keys are
 * kept per thread, looked up by value: callers pass plain struct auth_key. */
enum { AUTH_CACHED_KEYS = 4 };

struct auth_keyed {
	bool used;
	struct auth_key key;
	crypto_auth_hmacsha512256_state st;
};

static _Thread_local struct auth_keyed auth_cache[AUTH_CACHED_KEYS];
static _Thread_local unsigned auth_cache_next;

static const crypto_auth_hmacsha512256_state *auth_keyed_state(const struct auth_key *key)
{
	struct auth_keyed *c;

	for (int i = 0; i < AUTH_CACHED_KEYS; i++)
		if (auth_cache[i].used &&
		    sodium_memcmp(auth_cache[i].key.k, key->k, AUTH_KEY_BYTES) == 0)
			return &auth_cache[i].st;
	c = &auth_cache[auth_cache_next++ % AUTH_CACHED_KEYS];
	c->used = true;
	c->key = *key;
	crypto_auth_hmacsha512256_init(&c->st, key->k, AUTH_KEY_BYTES);
	return &c->st;
}

static void auth_full(const struct auth_key *key, const void *msg, size_t len,
		      uint8_t full[crypto_auth_hmacsha512256_BYTES])
{
	crypto_auth_hmacsha512256_state st = *auth_keyed_state(key);

	crypto_auth_hmacsha512256_update(&st, msg, len);
	crypto_auth_hmacsha512256_final(&st, full);
}

void auth_tag(const struct auth_key *key, const void *msg, size_t len,
	      uint8_t tag[AUTH_TAG_BYTES])
{
	uint8_t full[crypto_auth_hmacsha512256_BYTES];

	auth_full(key, msg, len, full);
	memcpy(tag, full, AUTH_TAG_BYTES);
}

bool auth_verify(const struct auth_key *key, const void *msg, size_t len,
		 const uint8_t tag[AUTH_TAG_BYTES])
{
	uint8_t full[crypto_auth_hmacsha512256_BYTES];

	auth_full(key, msg, len, full);
	return sodium_memcmp(full, tag, AUTH_TAG_BYTES) == 0;
}

void auth_vdc_key(const struct auth_key *master, uint32_t vdc, struct auth_key *out)
{
	static const char label[] = "peregrine vdc";
	uint8_t msg[sizeof(label) - 1 + 4];
	uint8_t full[crypto_auth_hmacsha512256_BYTES];

	_Static_assert(crypto_auth_hmacsha512256_BYTES == AUTH_KEY_BYTES, "a tag is a key");
	memcpy(msg, label, sizeof(label) - 1);
	msg[sizeof(label) - 1] = (uint8_t)(vdc >> 24);
	msg[sizeof(label)] = (uint8_t)(vdc >> 16);
	msg[sizeof(label) + 1] = (uint8_t)(vdc >> 8);
	msg[sizeof(label) + 2] = (uint8_t)vdc;
	auth_full(master, msg, sizeof(msg), full);
	memcpy(out->k, full, AUTH_KEY_BYTES);
	sodium_memzero(full, sizeof(full));
}
