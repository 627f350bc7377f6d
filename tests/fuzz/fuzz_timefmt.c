/*
 * fuzz_timefmt.c: libFuzzer target for src/proto/timefmt.c.
 *
 * The input is one request. Checks that the UTF-8 validator agrees with a
 * table-driven reference (Unicode Table 3-7), that render refuses exactly
 * what check refuses, that a reply never exceeds min(cap, 512) bytes nor
 * writes past cap, that an error reply is never empty and reads
 * "error: " + sk_timefmt_strerror(), and that a good reply is the render.
 * A line reply (sk_timefmt_reply_line) never holds CR or LF, and is the
 * plain reply whenever that holds neither.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sk_limits.h"
#include "timefmt.h"

/* Well-formed UTF-8 by the ranges of Unicode Table 3-7. */
static int ref_utf8(const uint8_t *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		uint8_t c = s[i];
		uint8_t lo = 0x80, hi = 0xbf;
		size_t n;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			n = 1;
		else if (c >= 0xe0 && c <= 0xef)
			n = 2;
		else if (c >= 0xf0 && c <= 0xf4)
			n = 3;
		else
			return 0;
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;
		else if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
		if (len - i < n + 1)
			return 0;
		if (s[i + 1] < lo || s[i + 1] > hi)
			return 0;
		for (size_t k = 2; k <= n; k++)
			if (s[i + k] < 0x80 || s[i + k] > 0xbf)
				return 0;
		i += n + 1;
	}
	return 1;
}

/* A few fixed instants, picked by the input, so runs are repeatable. */
static const int64_t instants[] = {
	0, 1795608205, 2085978496, -1, 253402300799, -2208988800,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *req = (const char *)data;
	time_t t = (time_t)instants[size % (sizeof(instants) /
					     sizeof(instants[0]))];
	struct tm tm;
	size_t caps[2] = { SK_TIMEFMT_MAX_OUT, 0 };
	int chk, rc = 0;

	caps[1] = size % (SK_TIMEFMT_MAX_OUT + 1);
	if (gmtime_r(&t, &tm) == NULL)
		abort();
	if (sk_utf8_valid(data, size) != ref_utf8(data, size))
		abort();
	chk = sk_timefmt_check(req, size);
	/* Check refuses the format only, never the reply. */
	if (chk > 0 || chk <= SK_TIMEFMT_E_OUTLONG)
		abort();
	if (size > SK_TIMEFMT_MAX_IN && chk != SK_TIMEFMT_E_LONG)
		abort();
	if (size <= SK_TIMEFMT_MAX_IN && memchr(data, 0, size) == NULL &&
	    (chk == SK_TIMEFMT_E_UTF8) != !ref_utf8(data, size))
		abort();

	for (size_t c = 0; c < 2; c++) {
		/* Exactly cap bytes, so ASan sees a write past it. */
		char *out = malloc(caps[c] ? caps[c] : 1);
		size_t max = caps[c];

		if (out == NULL)
			abort();
		rc = sk_timefmt_render(req, size, &tm, out, caps[c]);
		if (chk != SK_TIMEFMT_OK && rc != chk)
			abort();
		if (chk == SK_TIMEFMT_OK &&
		    !(rc >= 0 || rc == SK_TIMEFMT_E_OUTLONG))
			abort();
		if (rc >= 0 && (size_t)rc > max)
			abort();
		free(out);
	}

	{
		char *out = malloc(SK_TIMEFMT_MAX_OUT);
		char *ren = malloc(SK_TIMEFMT_MAX_OUT);
		size_t n, m;

		if (out == NULL || ren == NULL)
			abort();
		rc = sk_timefmt_render(req, size, &tm, ren, SK_TIMEFMT_MAX_OUT);
		n = sk_timefmt_reply(req, size, &tm, out, SK_TIMEFMT_MAX_OUT);
		if (n > SK_TIMEFMT_MAX_OUT)
			abort();
		if (rc >= 0) {
			if (n != (size_t)rc || memcmp(out, ren, n) != 0)
				abort();
		} else {
			const char *msg = sk_timefmt_strerror(rc);
			size_t ml = strlen(msg);

			if (n == 0 || n != 7 + ml ||
			    memcmp(out, "error: ", 7) != 0 ||
			    memcmp(out + 7, msg, ml) != 0)
				abort();
		}
		free(ren);

		/* The line reply, into a buffer of its own exact size. */
		ren = malloc(SK_TIMEFMT_MAX_OUT);
		if (ren == NULL)
			abort();
		m = sk_timefmt_reply_line(req, size, &tm, ren,
					  SK_TIMEFMT_MAX_OUT);
		if (m == 0 && rc != 0)
			abort();
		if (m > SK_TIMEFMT_MAX_OUT || memchr(ren, '\n', m) != NULL ||
		    memchr(ren, '\r', m) != NULL)
			abort();
		if (memchr(out, '\n', n) == NULL &&
		    memchr(out, '\r', n) == NULL &&
		    (m != n || memcmp(out, ren, n) != 0))
			abort();
		if (rc > 0 && m != n && memcmp(ren, "error: ", 7) != 0)
			abort();
		free(out);
		free(ren);
	}
	return 0;
}
