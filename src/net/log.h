/*
 * log.h: the daemon's and the clients' messages on stderr.
 *
 * Every line starts with "sockit: ". sk_log_warn() appends the text of an
 * error code (a negative errno or libuv code); sk_log_warnx() does not.
 * sk_fatalx() is for start-up only. sk_log_debug() compiles out unless
 * SK_DEBUG is defined.
 */
#ifndef SK_LOG_H
#define SK_LOG_H

#define SK_PRINTF(a, b) __attribute__((format(printf, a, b)))

void sk_log_info(const char *fmt, ...) SK_PRINTF(1, 2);
void sk_log_warn(int err, const char *fmt, ...) SK_PRINTF(2, 3);
void sk_log_warnx(const char *fmt, ...) SK_PRINTF(1, 2);
__attribute__((noreturn)) void sk_fatalx(int code, const char *fmt, ...)
	SK_PRINTF(2, 3);

/* Silence sk_log_info() (errors still print). */
void sk_log_quiet(int quiet);

/* Longest text sk_strerror() returns, with its NUL; longer is cut. */
#define SK_STRERROR_MAX 128

/* The text for a negative errno or libuv error code. Safe from any
 * thread: the text lives in a buffer of the calling thread's own and
 * stays valid until that thread's next call. */
const char *sk_strerror(int err);

#ifdef SK_DEBUG
#define sk_log_debug(...) sk_log_info(__VA_ARGS__)
#else
#define sk_log_debug(...) ((void)0)
#endif

#endif
