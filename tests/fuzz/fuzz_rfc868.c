/*
 * fuzz_rfc868.c: libFuzzer target for src/proto/rfc868.c.
 *
 * The whole input is offered to sk_rfc868_decode() (only 4 bytes may
 * decode). Then 20 bytes, zero-padded, give a reference clock, a signed
 * 32-bit offset and a counter. Checks: encode and decode agree with
 * from_unix; from_unix then to_unix gives t back whenever t lies within
 * 2^31 - 1 of ref; any counter maps to a time within [-2^31, 2^31) of ref
 * that has that counter.
 *
 * ref is kept within ±2^62: a clock, not any int64 (to_unix adds up to
 * 2^31 to it, which must not overflow).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rfc868.h"

#define TWO31 INT64_C(2147483648)

static uint64_t get64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t b[20] = { 0 }, wire[SK_RFC868_LEN];
	uint32_t v = 0xa5a5a5a5, w, off32;
	int64_t ref, t, r, d;
	int rc;

	rc = sk_rfc868_decode(data, size, &v);
	if (size == SK_RFC868_LEN) {
		if (rc != 0 || v != ((uint32_t)data[0] << 24 |
				     (uint32_t)data[1] << 16 |
				     (uint32_t)data[2] << 8 | data[3]))
			abort();
	} else if (rc != -1 || v != 0xa5a5a5a5) {
		abort();
	}

	memcpy(b, data, size < sizeof(b) ? size : sizeof(b));
	/* Two's complement of the top bits, then keep it within ±2^62. */
	ref = (int64_t)(get64(b) & 0x7fffffffffffffffull) -
	      INT64_C(0x4000000000000000);
	off32 = (uint32_t)get64(b + 8);
	w = (uint32_t)(get64(b + 12) >> 32);

	/* t within 2^31 - 1 of ref round-trips exactly. */
	d = (int64_t)(int32_t)off32;
	if (d == -TWO31)
		d = -TWO31 + 1;
	t = ref + d;
	if (sk_rfc868_to_unix(sk_rfc868_from_unix(t), ref) != t)
		abort();

	sk_rfc868_encode(t, wire);
	if (sk_rfc868_decode(wire, sizeof(wire), &v) != 0 ||
	    v != sk_rfc868_from_unix(t))
		abort();

	/* Any counter lands in the half-open window around ref. */
	r = sk_rfc868_to_unix(w, ref);
	if (r - ref < -TWO31 || r - ref >= TWO31)
		abort();
	if (sk_rfc868_from_unix(r) != w)
		abort();
	/* The same instant one era away has the same counter. */
	if (sk_rfc868_from_unix(r + INT64_C(4294967296)) != w)
		abort();
	return 0;
}
