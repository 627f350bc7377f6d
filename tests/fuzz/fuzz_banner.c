/*
 * fuzz_banner.c: libFuzzer target for src/proto/banner.c.
 *
 * The first input byte picks a cap; the rest is a configured banner. It
 * is compiled (as the NUL-terminated string it is up to its first NUL)
 * and, when that succeeds, expanded with long and with empty fields. The
 * raw bytes are also expanded directly as an uncompiled template. Every
 * output buffer is exactly cap bytes, so ASan catches a write past it.
 * Checks: lengths within min(cap, SK_BANNER_MAX), only documented error
 * codes, a compiled template never longer than its source and always
 * expandable, a banner without escapes never too long to compile when it
 * fits, and a small cap giving the same banner as SK_BANNER_MAX, or on
 * overflow exactly its first cap bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "banner.h"
#include "sk_limits.h"

static const size_t caps[] = { SK_BANNER_MAX, SK_BANNER_MAX + 1, 0, 1, 16,
			       100, 1023, 4096 };

static size_t limit(size_t cap)
{
	return cap < SK_BANNER_MAX ? cap : SK_BANNER_MAX;
}

/*
 * Expand t with cap and with SK_BANNER_MAX; the first must be the second
 * when it fits, or its first min(cap, SK_BANNER_MAX) bytes when it does
 * not. Returns what the expansion with cap returned.
 */
static int expand_both(const char *t, size_t len,
		       const struct sk_banner_fields *f, char *out, size_t cap)
{
	char big[SK_BANNER_MAX];
	int n = sk_banner_expand(t, len, f, out, cap);
	int m = sk_banner_expand(t, len, f, big, sizeof(big));

	if (n == SK_BANNER_E_FIELD || n == SK_BANNER_E_BRACE) {
		if (m != n)
			abort();
		return n;
	}
	if (n >= 0) {
		if ((size_t)n > limit(cap) || m != n ||
		    memcmp(out, big, (size_t)n) != 0)
			abort();
	} else if (n == SK_BANNER_E_LONG) {
		if (m >= 0 && (size_t)m <= limit(cap))
			abort();
		if (memcmp(out, big, limit(cap)) != 0)
			abort();
	} else {
		abort();
	}
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tm tm;
	time_t t = 1795608205;
	struct sk_banner_fields full = {
		"[2001:db8:aaaa:bbbb:cccc:dddd:eeee:ffff]:65535",
		"2001:db8:aaaa:bbbb:cccc:dddd:eeee:ffff", "65535",
		"[2001:db8::1]:2323", &tm,
	};
	struct sk_banner_fields empty = { "", "", "", "", NULL };
	size_t cap, slen;
	char *src, *tmpl, *out;
	int rc, n;

	if (size == 0)
		return 0;
	if (gmtime_r(&t, &tm) == NULL)
		abort();
	cap = caps[data[0] % (sizeof(caps) / sizeof(caps[0]))];
	data++;
	size--;

	src = malloc(size + 1);
	tmpl = malloc(cap ? cap : 1);
	out = malloc(cap ? cap : 1);
	if (src == NULL || tmpl == NULL || out == NULL)
		abort();
	memcpy(src, data, size);
	src[size] = '\0';
	slen = strlen(src);

	rc = sk_banner_compile(src, tmpl, cap);
	if (rc < SK_BANNER_E_LONG)
		abort();
	if (sk_banner_strerror(rc) == NULL)
		abort();
	if (rc >= 0) {
		if ((size_t)rc > limit(cap) || (size_t)rc > slen)
			abort();
		/* A compiled template always expands, or is too long. */
		n = expand_both(tmpl, (size_t)rc, &full, out, cap);
		if (!(n >= 0 || n == SK_BANNER_E_LONG))
			abort();
		/* With empty fields it only shrinks. */
		n = sk_banner_expand(tmpl, (size_t)rc, &empty, out, cap);
		if (n < 0 || n > rc)
			abort();
	}
	if (rc == SK_BANNER_E_LONG && slen <= limit(cap) &&
	    strchr(src, '\\') == NULL)
		abort();

	/* The raw bytes as a template: NULs and all. */
	n = expand_both((const char *)data, size, &full, out, cap);
	if (n == SK_BANNER_E_ESCAPE)
		abort();
	n = sk_banner_expand((const char *)data, size, &empty, out, cap);
	if (n >= 0 && (size_t)n > size)
		abort();

	free(src);
	free(tmpl);
	free(out);
	return 0;
}
