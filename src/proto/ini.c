/*
 * ini.c: the configuration file's INI syntax (see ini.h).
 *
 * Why not libinih, which sockit used before: Debian's build of it fixes
 * its behaviour at compile time, and three of those choices are wrong for
 * a daemon's configuration. It cuts lines at 200 bytes and parses the
 * rest as a new line, so the tail of a long commented-out line became a
 * live setting (a listener, or the rate limit switched off); the reader
 * callback of ini_parse_stream() cannot report this with the true line
 * number. It ends a value at any ';' after a blank, so a quoted value
 * could not hold one. And it reads an indented line as the continuation
 * of the previous value. The syntax sockit documents is small enough
 * that a parser of its own, with no I/O, unit-tested and fuzzed like the
 * other protocol cores, is simpler than wrapping the library's.
 */
#include "ini.h"

#include <string.h>

#define SK__XSTR(x) #x
#define SK__STR(x) SK__XSTR(x)

static int sk__blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

void sk_ini_init(struct sk_ini *p, const char *buf, size_t len)
{
	p->buf = buf;
	p->len = len;
	p->off = 0;
	p->line = 0;
	/* A UTF-8 byte order mark, as some editors write. */
	if (len >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0)
		p->off = 3;
}

/* Is s[0..n) only blanks, or blanks then a comment that starts with one
 * of the characters in com? */
static int sk__rest_ok(const char *s, size_t n, const char *com)
{
	size_t i = 0;

	while (i < n && sk__blank(s[i]))
		i++;
	return i == n || strchr(com, s[i]) != NULL;
}

/* Parse the value s[0..n); blanks before it are already skipped, and
 * lead says there were some. Returns 0 or a negative enum sk_ini_err. */
static int sk__value(const char *s, size_t n, int lead,
		     struct sk_ini_item *it)
{
	size_t end;

	if (n > 0 && s[0] == '"') {
		const char *q = memchr(s + 1, '"', n - 1);

		if (q == NULL)
			return SK_INI_E_QUOTE;
		if (!sk__rest_ok(q + 1, n - (size_t)(q + 1 - s), ";#"))
			return SK_INI_E_AFTER;
		it->value = s + 1;
		it->value_len = (size_t)(q - s - 1);
		return 0;
	}
	/* A bare value ends at a ';' that follows a blank. */
	for (end = 0; end < n; end++)
		if (s[end] == ';' && (end > 0 ? sk__blank(s[end - 1]) : lead))
			break;
	while (end > 0 && sk__blank(s[end - 1]))
		end--;
	it->value = s;
	it->value_len = end;
	return 0;
}

/* Parse one line s[0..n) (without its LF). Returns an enum sk_ini_rc
 * (SK_INI_END for a line with nothing in it) or an error. */
static int sk__line(const char *s, size_t n, struct sk_ini_item *it)
{
	const char *eq, *close;
	size_t a, b;
	int rc;

	while (n > 0 && sk__blank(s[0])) {
		s++;
		n--;
	}
	while (n > 0 && sk__blank(s[n - 1]))
		n--;
	if (n == 0 || s[0] == ';' || s[0] == '#')
		return SK_INI_END;
	if (s[0] == '[') {
		close = memchr(s, ']', n);
		if (close == NULL ||
		    !sk__rest_ok(close + 1, n - (size_t)(close + 1 - s), ";#"))
			return SK_INI_E_SECTION;
		for (a = 1; s + a < close && sk__blank(s[a]); a++)
			;
		for (b = (size_t)(close - s); b > a && sk__blank(s[b - 1]); b--)
			;
		if (a == b)
			return SK_INI_E_SECTION;
		it->name = s + a;
		it->name_len = b - a;
		return SK_INI_SECTION;
	}
	eq = memchr(s, '=', n);
	if (eq == NULL)
		return SK_INI_E_SYNTAX;
	for (b = (size_t)(eq - s); b > 0 && sk__blank(s[b - 1]); b--)
		;
	if (b == 0)
		return SK_INI_E_SYNTAX;
	it->name = s;
	it->name_len = b;
	for (a = (size_t)(eq - s) + 1; a < n && sk__blank(s[a]); a++)
		;
	rc = sk__value(s + a, n - a, a > (size_t)(eq - s) + 1, it);
	return rc != 0 ? rc : SK_INI_SETTING;
}

int sk_ini_next(struct sk_ini *p, struct sk_ini_item *it)
{
	while (p->off < p->len) {
		const char *s = p->buf + p->off;
		size_t left = p->len - p->off;
		const char *lf = memchr(s, '\n', left);
		size_t n = lf != NULL ? (size_t)(lf - s) : left;
		size_t body = n > 0 && s[n - 1] == '\r' ? n - 1 : n;
		int rc;

		p->line++;
		p->off += lf != NULL ? n + 1 : n;
		if (body > SK_CONF_LINE_MAX)
			return SK_INI_E_LONG;
		if (memchr(s, '\0', n) != NULL)
			return SK_INI_E_NUL;
		memset(it, 0, sizeof(*it));
		rc = sk__line(s, n, it);
		if (rc != SK_INI_END)
			return rc;
	}
	return SK_INI_END;
}

const char *sk_ini_strerror(int err)
{
	switch (err) {
	case SK_INI_E_LONG:
		return "line longer than " SK__STR(SK_CONF_LINE_MAX) " bytes";
	case SK_INI_E_NUL:
		return "NUL byte in the line";
	case SK_INI_E_SECTION:
		return "syntax error: expected [SECTION]";
	case SK_INI_E_SYNTAX:
		return "syntax error: expected KEY = VALUE";
	case SK_INI_E_QUOTE:
		return "quoted value without its closing '\"'";
	case SK_INI_E_AFTER:
		return "text after a quoted value's closing '\"'";
	}
	return "unknown error";
}
