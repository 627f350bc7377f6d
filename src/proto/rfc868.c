/* rfc868.c: the Time Protocol's 32-bit counter and its eras. */
#include "rfc868.h"

uint32_t sk_rfc868_from_unix(int64_t t)
{
	/* Arithmetic modulo 2^32 on an unsigned type is the era wrap. */
	return (uint32_t)((uint64_t)t + (uint64_t)SK_RFC868_OFFSET);
}

int64_t sk_rfc868_to_unix(uint32_t v, int64_t ref)
{
	uint32_t r = sk_rfc868_from_unix(ref);
	/* Signed distance from ref to v on the 2^32 circle. */
	int64_t d = (int64_t)(int32_t)(v - r);

	return ref + d;
}

void sk_rfc868_encode(int64_t t, uint8_t out[SK_RFC868_LEN])
{
	uint32_t v = sk_rfc868_from_unix(t);

	out[0] = (uint8_t)(v >> 24);
	out[1] = (uint8_t)(v >> 16);
	out[2] = (uint8_t)(v >> 8);
	out[3] = (uint8_t)v;
}

int sk_rfc868_decode(const uint8_t *buf, size_t len, uint32_t *v)
{
	if (len != SK_RFC868_LEN)
		return -1;
	*v = (uint32_t)buf[0] << 24 | (uint32_t)buf[1] << 16 |
	     (uint32_t)buf[2] << 8 | buf[3];
	return 0;
}
