/* libFuzzer target: the RAS protocol decoder.  The first byte picks whether
 * the input is signed with the test key (so the fuzzer reaches the body
 * decoder) or taken as it is (so it hits the tag check). */
#include <stdint.h>
#include <string.h>

#include "wire/rasproto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct auth_key key = { { 0x42 } };
	static uint8_t buf[RASP_MAX_DGRAM];
	struct rasp_msg m;
	size_t len;

	if (size < 1 || size - 1 > RASP_MAX_DGRAM)
		return 0;
	len = size - 1;
	memcpy(buf, data + 1, len);
	if ((data[0] & 1) && len >= RASP_HDR_BYTES + AUTH_TAG_BYTES)
		auth_tag(&key, buf, len - AUTH_TAG_BYTES, buf + len - AUTH_TAG_BYTES);
	if (rasp_decode(buf, len, &key, &m) != 0)
		return 0;
	for (uint16_t i = 0; m.h.type == RASP_TRAFFIC && i < m.u.traffic.n; i++) {
		struct rasp_flow f;

		rasp_flow_at(&m, i, &f);
	}
	for (uint16_t i = 0; m.h.type == RASP_DIRECT && i < m.u.direct.n; i++) {
		struct rasp_direct d;

		rasp_direct_at(&m, i, &d);
	}
	return 0;
}
