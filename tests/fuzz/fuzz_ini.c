/*
 * fuzz_ini.c: libFuzzer target for src/proto/ini.c.
 *
 * The input is a configuration file, in a buffer of exactly its size.
 * The parser is driven to its end or first error. Checks: it ends; the
 * line numbers only grow and never pass the number of lines; every span
 * lies inside the input, inside one line, and holds no LF or NUL; a key
 * is never empty and holds no '='; a value is never longer than a line
 * may be; an error for a long line or a NUL byte is true of that line;
 * and a parse that ends cleanly saw no line over SK_CONF_LINE_MAX and no
 * NUL at all (nothing was cut or skipped).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ini.h"
#include "sk_limits.h"

/* Is span p[0..n) inside buf[0..len), without LF or NUL? */
static void check_span(const char *buf, size_t len, const char *p, size_t n)
{
	if (p < buf || p > buf + len || n > (size_t)(buf + len - p))
		abort();
	if (memchr(p, '\n', n) != NULL || memchr(p, '\0', n) != NULL)
		abort();
}

/* Start and length (LF and a CR before it not counted) of line no. */
static const char *line_at(const char *buf, size_t len, size_t no,
			   size_t *body, size_t *full)
{
	const char *s = buf, *end = buf + len;

	for (size_t i = 1; i < no; i++) {
		const char *lf = memchr(s, '\n', (size_t)(end - s));

		if (lf == NULL)
			abort();
		s = lf + 1;
	}
	{
		const char *lf = memchr(s, '\n', (size_t)(end - s));

		*full = lf != NULL ? (size_t)(lf - s) : (size_t)(end - s);
	}
	*body = *full > 0 && s[*full - 1] == '\r' ? *full - 1 : *full;
	return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sk_ini p;
	struct sk_ini_item it;
	size_t lines = 1, last = 0, body, full;
	const char *s;
	char *buf;
	int rc;

	buf = malloc(size > 0 ? size : 1);
	if (buf == NULL)
		abort();
	if (size > 0)
		memcpy(buf, data, size);
	for (size_t i = 0; i < size; i++)
		lines += buf[i] == '\n';
	sk_ini_init(&p, buf, size);
	for (;;) {
		rc = sk_ini_next(&p, &it);
		if (p.line < last || p.line > lines)
			abort();
		last = p.line;
		if (rc <= 0)
			break;
		check_span(buf, size, it.name, it.name_len);
		if (it.name_len == 0)
			abort();
		if (rc == SK_INI_SETTING) {
			if (memchr(it.name, '=', it.name_len) != NULL)
				abort();
			check_span(buf, size, it.value, it.value_len);
			if (it.value_len > SK_CONF_LINE_MAX)
				abort();
		} else if (rc != SK_INI_SECTION) {
			abort();
		}
	}
	if (rc == SK_INI_E_LONG || rc == SK_INI_E_NUL) {
		s = line_at(buf, size, p.line, &body, &full);
		if (rc == SK_INI_E_LONG && body <= SK_CONF_LINE_MAX)
			abort();
		if (rc == SK_INI_E_NUL && memchr(s, '\0', full) == NULL)
			abort();
	} else if (rc == SK_INI_END) {
		for (size_t no = 1; no <= lines; no++) {
			s = line_at(buf, size, no, &body, &full);
			if (body > SK_CONF_LINE_MAX ||
			    memchr(s, '\0', full) != NULL)
				abort();
		}
	} else if (rc > SK_INI_E_LONG || rc < SK_INI_E_AFTER) {
		abort();
	}
	free(buf);
	return 0;
}
