/* banner.c: compile and expand welcome banners. */
#include "banner.h"

#include <string.h>

#include "sk_limits.h"

/* Appends n bytes to out if they fit. */
struct sk__sink {
	char *buf;  /* destination */
	size_t len; /* bytes written */
	size_t cap; /* room in buf */
	int over;   /* set once something did not fit */
};

/* What does not fit is cut, so the buffer always holds s->len valid
 * bytes, and s->len == s->cap once anything was cut. */
static void sk__put(struct sk__sink *s, const char *p, size_t n)
{
	if (s->cap - s->len < n) {
		n = s->cap - s->len;
		s->over = 1;
	}
	memcpy(s->buf + s->len, p, n);
	s->len += n;
}

int sk_banner_compile(const char *src, char *out, size_t cap)
{
	struct sk__sink s = { out, 0, cap < SK_BANNER_MAX ? cap : SK_BANNER_MAX,
			      0 };
	struct sk_banner_fields f = { "", "", "", "", NULL };
	char tmp[SK_BANNER_MAX];
	int rc;

	for (const char *p = src; *p != '\0'; p++) {
		char c = *p;

		if (c == '\\') {
			switch (*++p) {
			case 'r': c = '\r'; break;
			case 'n': c = '\n'; break;
			case 't': c = '\t'; break;
			case '\\': c = '\\'; break;
			default: return SK_BANNER_E_ESCAPE;
			}
		}
		sk__put(&s, &c, 1);
	}
	if (s.over)
		return SK_BANNER_E_LONG;
	/* Expanding with empty fields checks the syntax. */
	rc = sk_banner_expand(out, s.len, &f, tmp, sizeof(tmp));
	if (rc == SK_BANNER_E_FIELD || rc == SK_BANNER_E_BRACE)
		return rc;
	return (int)s.len;
}

int sk_banner_expand(const char *t, size_t len,
		     const struct sk_banner_fields *f, char *out, size_t cap)
{
	struct sk__sink s = { out, 0, cap < SK_BANNER_MAX ? cap : SK_BANNER_MAX,
			      0 };

	for (size_t i = 0; i < len; i++) {
		const char *end, *v = NULL;
		char tbuf[32];
		size_t n;

		if (t[i] == '}') {
			if (i + 1 < len && t[i + 1] == '}') {
				sk__put(&s, "}", 1);
				i++;
				continue;
			}
			return SK_BANNER_E_BRACE;
		}
		if (t[i] != '{') {
			sk__put(&s, &t[i], 1);
			continue;
		}
		if (i + 1 < len && t[i + 1] == '{') {
			sk__put(&s, "{", 1);
			i++;
			continue;
		}
		end = memchr(t + i, '}', len - i);
		if (end == NULL)
			return SK_BANNER_E_FIELD;
		n = (size_t)(end - (t + i + 1));
#define SK__IS(name) (n == sizeof(name) - 1 && !memcmp(t + i + 1, name, n))
		if (SK__IS("peer"))
			v = f->peer;
		else if (SK__IS("addr"))
			v = f->addr;
		else if (SK__IS("port"))
			v = f->port;
		else if (SK__IS("local"))
			v = f->local;
		else if (SK__IS("time")) {
			v = "";
			if (f->tm != NULL &&
			    strftime(tbuf, sizeof(tbuf), "%F %X", f->tm) > 0)
				v = tbuf;
		} else
			return SK_BANNER_E_FIELD;
#undef SK__IS
		sk__put(&s, v, strlen(v));
		i += n + 1;
	}
	if (s.over)
		return SK_BANNER_E_LONG;
	return (int)s.len;
}

const char *sk_banner_strerror(int err)
{
	switch (err) {
	case SK_BANNER_E_FIELD:
		return "unknown or unterminated {field} (know {peer} {addr} "
		       "{port} {local} {time})";
	case SK_BANNER_E_BRACE:
		return "lone '}' (write '}}' for a brace)";
	case SK_BANNER_E_ESCAPE:
		return "unknown escape (know \\r \\n \\t \\\\)";
	case SK_BANNER_E_LONG:
		return "banner longer than 1024 bytes";
	default:
		return "bad banner";
	}
}
