/*
 * timefmt.h: the tutorial's time-format protocol, with no I/O.
 *
 * A request is a strftime(3) format in UTF-8; the reply is the server's
 * local time in that format. An empty request means "%F %X".
 */
#ifndef SK_TIMEFMT_H
#define SK_TIMEFMT_H

#include <stddef.h>
#include <time.h>

/* Why a format was refused. Each has a fixed error reply. */
enum sk_timefmt_err {
	SK_TIMEFMT_OK = 0,
	SK_TIMEFMT_E_LONG = -1,    /* longer than SK_TIMEFMT_MAX_IN */
	SK_TIMEFMT_E_NUL = -2,     /* contains a NUL byte */
	SK_TIMEFMT_E_UTF8 = -3,    /* not valid UTF-8 */
	SK_TIMEFMT_E_CONV = -4,    /* unknown or malformed % conversion */
	SK_TIMEFMT_E_WIDTH = -5,   /* field width over SK_TIMEFMT_MAX_WIDTH */
	SK_TIMEFMT_E_OUTLONG = -6, /* reply longer than SK_TIMEFMT_MAX_OUT */
	SK_TIMEFMT_E_BREAK = -7,   /* line reply would hold a CR or LF */
};

/* The format used for an empty request. */
#define SK_TIMEFMT_DEFAULT "%F %X"

/*
 * Check a format of len bytes (not NUL-terminated). Returns SK_TIMEFMT_OK
 * or a negative enum sk_timefmt_err.
 */
int sk_timefmt_check(const char *fmt, size_t len);

/*
 * Render fmt (len bytes) for tm into out, which holds cap bytes. Returns
 * the reply length (without NUL, may be 0), or a negative enum
 * sk_timefmt_err if the format is refused or the reply does not fit in
 * min(cap, SK_TIMEFMT_MAX_OUT) bytes. An empty format means the default.
 */
int sk_timefmt_render(const char *fmt, size_t len, const struct tm *tm,
		      char *out, size_t cap);

/*
 * The whole protocol step: render the reply to a request, or the error
 * reply ("error: ...") when the request is refused. Returns the number of
 * bytes written to out (cap must be at least SK_TIMEFMT_MAX_OUT).
 */
size_t sk_timefmt_reply(const char *req, size_t len, const struct tm *tm,
			char *out, size_t cap);

/*
 * The same for line protocols (TCP): a reply that would contain CR or LF
 * (from %n or a literal CR) is refused, so one line in is one line out.
 */
size_t sk_timefmt_reply_line(const char *req, size_t len, const struct tm *tm,
			     char *out, size_t cap);

/* Write the error reply ("error: ...") for err into out (cap bytes).
 * Returns its length, or 0 when it does not fit. */
size_t sk_timefmt_error(int err, char *out, size_t cap);

/* The text of an error, without the "error: " prefix. */
const char *sk_timefmt_strerror(int err);

/*
 * Check that buf[0..len) is valid UTF-8 (no overlongs, no surrogates, at
 * most U+10FFFF). Returns 1 if valid, 0 if not.
 */
int sk_utf8_valid(const unsigned char *buf, size_t len);

#endif
