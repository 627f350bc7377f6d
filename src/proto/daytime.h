/*
 * daytime.h: the Daytime Protocol (RFC 867), with no I/O.
 *
 * RFC 867 leaves the text open; sockit sends what BSD inetd sends, the
 * ctime(3) layout in local time followed by CRLF:
 *
 *     Wed Nov 25 11:55:11 2026\r\n
 */
#ifndef SK_DAYTIME_H
#define SK_DAYTIME_H

#include <stddef.h>
#include <time.h>

/* Room for the longest reply, with its NUL. */
#define SK_DAYTIME_MAX 64

/* Write the reply for tm into out (cap bytes). Returns its length, or 0
 * when it does not fit. */
size_t sk_daytime_format(const struct tm *tm, char *out, size_t cap);

#endif
