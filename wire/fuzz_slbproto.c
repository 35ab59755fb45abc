/* libFuzzer target: the SLB control-message decoder.  The first byte picks
 * whether the input is signed with the test key (so the fuzzer reaches the
 * field checks) or taken as it is (so it hits the tag check).  Whatever
 * decodes must encode back to the same bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wire/slbproto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct auth_key key = { { 0x53 } };
	uint8_t buf[SLBP_RING_DGRAM_MAX + 16], again[SLBP_RING_DGRAM_MAX];
	struct slbp_msg m;
	size_t len;

	if (size < 1 || size - 1 > sizeof(buf))
		return 0;
	len = size - 1;
	memcpy(buf, data + 1, len);
	if ((data[0] & 1) && len >= SLBP_HDR_BYTES + AUTH_TAG_BYTES)
		auth_tag(&key, buf, len - AUTH_TAG_BYTES, buf + len - AUTH_TAG_BYTES);
	if (slbp_decode(buf, len, &key, &m) != 0)
		return 0;
	if (slbp_encode(again, sizeof(again), &m, &key) != len || memcmp(again, buf, len))
		abort();
	return 0;
}
