/* line.c: bounded line framing. */
#include "line.h"

#include <string.h>

void sk_line_init(struct sk_line *lb)
{
	lb->len = 0;
	lb->skipping = 0;
}

int sk_line_next(struct sk_line *lb, const char *in, size_t len, size_t *used,
		 const char **line, size_t *linelen, int *crlf)
{
	const char *lf = memchr(in, '\n', len);
	size_t n = lf != NULL ? (size_t)(lf - in) : len;
	const char *p;
	size_t total;
	int rc;

	*used = lf != NULL ? n + 1 : len;
	if (lb->skipping) {
		if (lf == NULL)
			return SK_LINE_PARTIAL;
		/* The skipped line ends here. Frame the rest now: PARTIAL
		 * promises that all input was used. Recurses once at most,
		 * as skipping is now 0. */
		lb->skipping = 0;
		rc = sk_line_next(lb, lf + 1, len - n - 1, used, line,
				  linelen, crlf);
		*used += n + 1;
		return rc;
	}
	total = lb->len + n;
	/* One extra byte may be the CR of a line of exactly the maximum. */
	if (total > SK_LINE_MAX + 1 ||
	    (lf != NULL && total == SK_LINE_MAX + 1 &&
	     (n > 0 ? in[n - 1] : lb->buf[lb->len - 1]) != '\r')) {
		lb->len = 0;
		lb->skipping = lf == NULL;
		return SK_LINE_TOOLONG;
	}
	if (lf == NULL) {
		memcpy(lb->buf + lb->len, in, n);
		lb->len = total;
		return SK_LINE_PARTIAL;
	}
	if (lb->len == 0) {
		p = in;
	} else {
		memcpy(lb->buf + lb->len, in, n);
		p = lb->buf;
		lb->len = 0;
	}
	*crlf = total > 0 && p[total - 1] == '\r';
	*line = p;
	*linelen = total - (size_t)*crlf;
	return SK_LINE_READY;
}
