/*
 * log.h: the daemon's and the clients' messages.
 *
 * Every line starts with "sockit: ". sk_log_warn() and sk_log_err()
 * append the text of an error code (a negative errno or libuv code);
 * sk_log_warnx() and sk_log_errx() do not. sk_fatalx() is for start-up
 * only. sk_log_debug() compiles out unless SK_DEBUG is defined.
 *
 * Until sk_log_init(), lines go to stderr as they are, which is what the
 * clients want. The daemon calls sk_log_init() once at start-up: then a
 * line goes to syslog(3), or to stderr with its syslog priority ("<4>")
 * when stderr is the systemd journal, or with a timestamp when stderr is
 * a file or a pipe (see sk_log_init()).
 *
 * Safe from any thread: each line is built in the caller's own buffer
 * and written with one write(2) (or one syslog(3) call), so lines from
 * two threads never interleave.
 */
#ifndef SK_LOG_H
#define SK_LOG_H

#define SK_PRINTF(a, b) __attribute__((format(printf, a, b)))

void sk_log_info(const char *fmt, ...) SK_PRINTF(1, 2);
void sk_log_warn(int err, const char *fmt, ...) SK_PRINTF(2, 3);
void sk_log_warnx(const char *fmt, ...) SK_PRINTF(1, 2);
/* An error that ends the daemon or what it was doing (LOG_ERR). */
void sk_log_err(int err, const char *fmt, ...) SK_PRINTF(2, 3);
void sk_log_errx(const char *fmt, ...) SK_PRINTF(1, 2);
__attribute__((noreturn)) void sk_fatalx(int code, const char *fmt, ...)
	SK_PRINTF(2, 3);

/* Silence sk_log_info() (errors still print). */
void sk_log_quiet(int quiet);

/* When a line on stderr carries the time (sk_log_init()). */
enum sk_log_time {
	SK_LOG_TIME_AUTO,   /* when stderr is neither a terminal nor the
			     * journal: a file or a pipe */
	SK_LOG_TIME_ALWAYS, /* always */
	SK_LOG_TIME_NEVER,  /* never */
};

/*
 * Decide, once, where the daemon's lines go; call it at start-up before
 * any other thread exists. With use_syslog, to syslog(3) as "sockit"
 * with its pid, facility LOG_DAEMON, and nothing to stderr; the socket is
 * opened now, so it stays usable after a privilege drop or a chroot.
 * Otherwise to stderr: when stderr is the stream JOURNAL_STREAM names
 * ("DEVICE:INODE", matched against fstat(2) of stderr), each line starts
 * with its priority as sd-daemon(3) writes it ("<6>sockit: ..."); when
 * `when` asks for it, each line starts with the local time, as
 * "2026-11-25T22:24:05.123+00:00 " (ISO 8601, milliseconds, the UTC
 * offset), after the priority if there is one.
 */
void sk_log_init(int use_syslog, enum sk_log_time when);

/* Back to plain stderr (and closelog() after syslog). */
void sk_log_fini(void);

/* Longest text sk_strerror() returns, with its NUL; longer is cut. */
#define SK_STRERROR_MAX 128

/* Longest log line, its priority, time and newline included; longer
 * lines are cut. At most PIPE_BUF, so that the kernel writes a line to a
 * pipe in one piece however many threads log at once. */
#define SK_LOG_LINE_MAX 2048

/* The text for a negative errno or libuv error code. Safe from any
 * thread: the text lives in a buffer of the calling thread's own and
 * stays valid until that thread's next call. */
const char *sk_strerror(int err);

#ifdef SK_DEBUG
void sk_log_debugf(const char *fmt, ...) SK_PRINTF(1, 2);
#define sk_log_debug(...) sk_log_debugf(__VA_ARGS__)
#else
#define sk_log_debug(...) ((void)0)
#endif

#endif
