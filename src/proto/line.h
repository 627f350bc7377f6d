/*
 * line.h: LF- or CRLF-terminated line framing over a TCP byte stream,
 * with no I/O and no allocation.
 *
 * A line longer than SK_LINE_MAX bytes (its LF and CR not counted) is
 * reported once as SK_LINE_TOOLONG and then skipped up to its LF without
 * being buffered, so a peer sending an endless line costs no memory.
 */
#ifndef SK_LINE_H
#define SK_LINE_H

#include <stddef.h>

#include "sk_limits.h"

enum sk_line_rc {
	SK_LINE_PARTIAL = 0, /* all input used; no complete line yet */
	SK_LINE_READY = 1,   /* a line is in *line, *linelen */
	SK_LINE_TOOLONG = 2, /* a line was over the limit; it is skipped */
};

struct sk_line {
	char buf[SK_LINE_MAX + 1]; /* a line split across reads, maybe a CR */
	size_t len;                /* bytes in buf */
	int skipping;              /* inside an over-long line */
};

void sk_line_init(struct sk_line *lb);

/*
 * Take bytes from in[0..len). Sets *used to the bytes consumed. On
 * SK_LINE_READY, *line points at the line without LF and CR (into in or
 * into lb, valid until the next call) and *crlf tells if it ended in
 * CRLF. Call again with the rest of the input until it returns
 * SK_LINE_PARTIAL.
 */
int sk_line_next(struct sk_line *lb, const char *in, size_t len, size_t *used,
		 const char **line, size_t *linelen, int *crlf);

#endif
