/* log.c: stderr logging with the "sockit: " prefix. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

/* sk_log_info() prints nothing when set; set at start-up, before any
 * worker thread exists, and only read afterwards. */
static int sk__quiet;

void sk_log_quiet(int quiet)
{
	sk__quiet = quiet;
}

/*
 * The text is built in a buffer of the calling thread's own: worker
 * threads log too (src/net/batch.c), and one buffer shared by every
 * thread would let one thread's message overwrite another's while it is
 * being printed. uv_strerror_r() also formats unknown codes into that
 * buffer, where uv_strerror() would allocate a copy and never free it.
 */
const char *sk_strerror(int err)
{
	static _Thread_local char buf[SK_STRERROR_MAX];

	/* libuv says "address already in use"; keep it, in lower case. */
	uv_strerror_r(err, buf, sizeof(buf));
	if (buf[0] >= 'A' && buf[0] <= 'Z' && !(buf[1] >= 'A' && buf[1] <= 'Z'))
		buf[0] = (char)(buf[0] - 'A' + 'a');
	return buf;
}

__attribute__((format(printf, 1, 0)))
static void sk__vlog(const char *fmt, va_list ap, int err)
{
	char line[1024];
	int n = vsnprintf(line, sizeof(line), fmt, ap);

	if (n < 0)
		return;
	if (err != 0)
		fprintf(stderr, "sockit: %s: %s\n", line, sk_strerror(err));
	else
		fprintf(stderr, "sockit: %s\n", line);
}

void sk_log_info(const char *fmt, ...)
{
	va_list ap;

	if (sk__quiet)
		return;
	va_start(ap, fmt);
	sk__vlog(fmt, ap, 0);
	va_end(ap);
}

void sk_log_warn(int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	sk__vlog(fmt, ap, err);
	va_end(ap);
}

void sk_log_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	sk__vlog(fmt, ap, 0);
	va_end(ap);
}

void sk_fatalx(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	sk__vlog(fmt, ap, 0);
	va_end(ap);
	exit(code);
}
