/*
 * rfc868.h: the Time Protocol (RFC 868), with no I/O.
 *
 *    0                   1                   2                   3
 *    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |         seconds since 1900-01-01 00:00:00 UTC, mod 2^32       |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * The counter is 32 bits wide, so it wraps on 2036-02-07 06:28:16 UTC.
 * sockit sends the counter modulo 2^32, as the RFC's field implies, and
 * its client picks the era that lies closest to the local clock.
 */
#ifndef SK_RFC868_H
#define SK_RFC868_H

#include <stddef.h>
#include <stdint.h>

/* Seconds from 1900-01-01 to 1970-01-01. */
#define SK_RFC868_OFFSET INT64_C(2208988800)

/* The wire size of a reply. */
#define SK_RFC868_LEN 4

/* The 32-bit counter for Unix time t (any era). */
uint32_t sk_rfc868_from_unix(int64_t t);

/* Unix time for counter v, in the era that puts it closest to ref. */
int64_t sk_rfc868_to_unix(uint32_t v, int64_t ref);

/* Write the 4-byte big-endian reply for Unix time t. */
void sk_rfc868_encode(int64_t t, uint8_t out[SK_RFC868_LEN]);

/*
 * Decode a reply of len bytes. Returns 0 and sets *v, or -1 unless len is
 * exactly SK_RFC868_LEN.
 */
int sk_rfc868_decode(const uint8_t *buf, size_t len, uint32_t *v);

#endif
