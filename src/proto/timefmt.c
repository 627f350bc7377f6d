/*
 * timefmt.c: validation and rendering for the time-format protocol.
 *
 * strftime() is handed only formats that passed sk_timefmt_check(): each
 * conversion is one glibc documents, field widths are small, and the text
 * is valid UTF-8 without NUL. That keeps a hostile format from asking for
 * huge padding or relying on implementation-defined conversions.
 */
#include "timefmt.h"

#include <string.h>

#include "sk_limits.h"

int sk_utf8_valid(const unsigned char *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		unsigned char c = s[i];
		size_t n;
		unsigned long cp;

		if (c < 0x80) {
			i++;
			continue;
		} else if (c >= 0xc2 && c <= 0xdf) {
			n = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3;
			cp = c & 0x07;
		} else {
			return 0; /* continuation byte, overlong C0/C1, F5+ */
		}
		if (len - i <= n)
			return 0; /* truncated sequence */
		for (size_t k = 1; k <= n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
		    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += n + 1;
	}
	return 1;
}

/* Conversions glibc's strftime() documents, minus the E/O modifiers. */
static const char sk__conv[] = "aAbBcCdDeFgGhHIjklmMnpPrRsStTuUVwWxXyYzZ%";

int sk_timefmt_check(const char *fmt, size_t len)
{
	if (len > SK_TIMEFMT_MAX_IN)
		return SK_TIMEFMT_E_LONG;
	if (memchr(fmt, '\0', len) != NULL)
		return SK_TIMEFMT_E_NUL;
	if (!sk_utf8_valid((const unsigned char *)fmt, len))
		return SK_TIMEFMT_E_UTF8;

	for (size_t i = 0; i < len; i++) {
		unsigned width = 0;

		if (fmt[i] != '%')
			continue;
		i++;
		/* glibc flags: _ - 0 ^ # */
		while (i < len && strchr("_-0^#", fmt[i]) != NULL)
			i++;
		while (i < len && fmt[i] >= '0' && fmt[i] <= '9') {
			width = width * 10 + (unsigned)(fmt[i] - '0');
			if (width > SK_TIMEFMT_MAX_WIDTH)
				return SK_TIMEFMT_E_WIDTH;
			i++;
		}
		if (i < len && (fmt[i] == 'E' || fmt[i] == 'O'))
			i++;
		if (i >= len || strchr(sk__conv, fmt[i]) == NULL)
			return SK_TIMEFMT_E_CONV;
	}
	return SK_TIMEFMT_OK;
}

int sk_timefmt_render(const char *fmt, size_t len, const struct tm *tm,
		      char *out, size_t cap)
{
	/* One leading byte tells "empty reply" apart from "did not fit". */
	char f[1 + SK_TIMEFMT_MAX_IN + 1];
	char buf[1 + SK_TIMEFMT_MAX_OUT + 1];
	size_t n, max;
	int rc;

	rc = sk_timefmt_check(fmt, len);
	if (rc != SK_TIMEFMT_OK)
		return rc;
	if (len == 0) {
		fmt = SK_TIMEFMT_DEFAULT;
		len = sizeof(SK_TIMEFMT_DEFAULT) - 1;
	}
	f[0] = 'x';
	memcpy(f + 1, fmt, len);
	f[1 + len] = '\0';

	max = cap < SK_TIMEFMT_MAX_OUT ? cap : SK_TIMEFMT_MAX_OUT;
	/* The format is the peer's, but checked above. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
	n = strftime(buf, max + 2, f, tm);
#pragma GCC diagnostic pop
	if (n == 0 || n - 1 > max)
		return SK_TIMEFMT_E_OUTLONG;
	memcpy(out, buf + 1, n - 1);
	return (int)(n - 1);
}

const char *sk_timefmt_strerror(int err)
{
	switch (err) {
	case SK_TIMEFMT_E_LONG:
		return "format longer than 256 bytes";
	case SK_TIMEFMT_E_NUL:
		return "format contains a NUL byte";
	case SK_TIMEFMT_E_UTF8:
		return "format is not valid UTF-8";
	case SK_TIMEFMT_E_CONV:
		return "unknown conversion in format";
	case SK_TIMEFMT_E_WIDTH:
		return "field width over 99 in format";
	case SK_TIMEFMT_E_OUTLONG:
		return "reply longer than 512 bytes";
	case SK_TIMEFMT_E_BREAK:
		return "reply would contain a line break";
	default:
		return "bad format";
	}
}

size_t sk_timefmt_error(int rc, char *out, size_t cap)
{
	const char *msg = sk_timefmt_strerror(rc);
	size_t mlen;

	mlen = strlen(msg);
	if (cap < 7 + mlen)
		return 0;
	memcpy(out, "error: ", 7);
	memcpy(out + 7, msg, mlen);
	return 7 + mlen;
}

size_t sk_timefmt_reply(const char *req, size_t len, const struct tm *tm,
			char *out, size_t cap)
{
	int rc = sk_timefmt_render(req, len, tm, out, cap);

	return rc >= 0 ? (size_t)rc : sk_timefmt_error(rc, out, cap);
}

size_t sk_timefmt_reply_line(const char *req, size_t len, const struct tm *tm,
			     char *out, size_t cap)
{
	int rc = sk_timefmt_render(req, len, tm, out, cap);

	if (rc > 0 && (memchr(out, '\n', (size_t)rc) != NULL ||
		       memchr(out, '\r', (size_t)rc) != NULL))
		rc = SK_TIMEFMT_E_BREAK;
	return rc >= 0 ? (size_t)rc : sk_timefmt_error(rc, out, cap);
}
