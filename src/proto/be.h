/*
 * be.h: big-endian (network order) integers in byte buffers, for the
 * codecs. No alignment is assumed; the caller has checked the length.
 */
#ifndef SK_BE_H
#define SK_BE_H

#include <stdint.h>

static inline uint16_t sk_be_get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t sk_be_get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static inline uint64_t sk_be_get64(const uint8_t *p)
{
	return (uint64_t)sk_be_get32(p) << 32 | sk_be_get32(p + 4);
}

static inline void sk_be_put16(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void sk_be_put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static inline void sk_be_put64(uint8_t *p, uint64_t v)
{
	sk_be_put32(p, (uint32_t)(v >> 32));
	sk_be_put32(p + 4, (uint32_t)v);
}

#endif
