/*
 * log.c: log lines with the "sockit: " prefix, to stderr (as they are, or
 * with a syslog priority for the journal, or with a timestamp) or to
 * syslog(3); see log.h.
 */
#include "log.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <uv.h>

_Static_assert(SK_LOG_LINE_MAX <= PIPE_BUF,
	       "a log line must reach a pipe in one piece");

/* 1: sk_log_info() prints nothing. A reload may set it while worker
 * threads log. */
static _Atomic int sk__quiet;

/* Where lines go. Set by sk_log_init() at start-up, before any worker
 * thread exists, and only read afterwards. */
static struct {
	int syslog; /* 1: to syslog(3), nothing to stderr */
	int prio;   /* 1: "<N>" first (stderr is the journal) */
	int stamp;  /* 1: the local time first, after any "<N>" */
} sk__log;

void sk_log_quiet(int quiet)
{
	atomic_store_explicit(&sk__quiet, quiet, memory_order_relaxed);
}

/* Is stderr the stream that JOURNAL_STREAM ("DEVICE:INODE", in decimal)
 * names? systemd sets it for a service whose stderr is the journal; a
 * child whose stderr was redirected inherits the variable, hence the
 * comparison. */
static int sk__stderr_is_journal(void)
{
	const char *v = getenv("JOURNAL_STREAM");
	uintmax_t dev, ino;
	struct stat st;
	int end = 0;

	if (v == NULL || sscanf(v, "%" SCNuMAX ":%" SCNuMAX "%n", &dev, &ino,
				&end) != 2 || v[end] != '\0' ||
	    v[0] < '0' || v[0] > '9')
		return 0;
	if (fstat(STDERR_FILENO, &st) != 0)
		return 0;
	return (uintmax_t)st.st_dev == dev && (uintmax_t)st.st_ino == ino;
}

void sk_log_init(int use_syslog, enum sk_log_time when)
{
	int journal;

	sk__log.syslog = 0;
	sk__log.prio = 0;
	sk__log.stamp = 0;
	if (use_syslog) {
		openlog("sockit", LOG_PID | LOG_NDELAY, LOG_DAEMON);
		sk__log.syslog = 1;
		return;
	}
	journal = sk__stderr_is_journal();
	sk__log.prio = journal;
	sk__log.stamp = when == SK_LOG_TIME_ALWAYS ||
			(when == SK_LOG_TIME_AUTO && !journal &&
			 !isatty(STDERR_FILENO));
	/* Read the time zone now: localtime_r() will not, and by the first
	 * line the daemon may be in a chroot. */
	if (sk__log.stamp)
		tzset();
}

void sk_log_fini(void)
{
	if (sk__log.syslog)
		closelog();
	sk__log.syslog = 0;
	sk__log.prio = 0;
	sk__log.stamp = 0;
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

/* Append to buf[*n..cap) as snprintf() would, leaving *n at most cap - 1
 * (a cut line stays a string). */
__attribute__((format(printf, 4, 0)))
static void sk__vadd(char *buf, size_t *n, size_t cap, const char *fmt,
		     va_list ap)
{
	int r;

	if (*n + 1 >= cap)
		return;
	r = vsnprintf(buf + *n, cap - *n, fmt, ap);
	if (r < 0)
		return;
	*n += (size_t)r < cap - *n ? (size_t)r : cap - *n - 1;
}

__attribute__((format(printf, 4, 5)))
static void sk__add(char *buf, size_t *n, size_t cap, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	sk__vadd(buf, n, cap, fmt, ap);
	va_end(ap);
}

/* Append the local time, "2026-11-25T22:24:05.123+01:00 ". */
static void sk__stamp(char *buf, size_t *n, size_t cap)
{
	struct timespec ts;
	struct tm tm;
	long off;
	size_t k;

	if (clock_gettime(CLOCK_REALTIME, &ts) != 0 ||
	    localtime_r(&ts.tv_sec, &tm) == NULL)
		return;
	k = strftime(buf + *n, cap - *n, "%Y-%m-%dT%H:%M:%S", &tm);
	if (k == 0)
		return;
	*n += k;
	off = tm.tm_gmtoff;
	sk__add(buf, n, cap, ".%03ld%c%02ld:%02ld ", ts.tv_nsec / 1000000,
		off < 0 ? '-' : '+', labs(off) / 3600, labs(off) / 60 % 60);
}

/* Write buf[0..n) to stderr with one write(2), unless interrupted. */
static void sk__write(const char *buf, size_t n)
{
	while (n > 0) {
		ssize_t w = write(STDERR_FILENO, buf, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		buf += w;
		n -= (size_t)w;
	}
}

/* One line at syslog priority prio; err != 0 appends its text. Leaves
 * errno as it was, for a caller that logs before it reads errno. */
__attribute__((format(printf, 3, 0)))
static void sk__vlog(int prio, int err, const char *fmt, va_list ap)
{
	char line[SK_LOG_LINE_MAX];
	size_t n = 0, text;
	int saved = errno;

	if (!sk__log.syslog) {
		if (sk__log.prio)
			sk__add(line, &n, sizeof(line) - 1, "<%d>", prio);
		if (sk__log.stamp)
			sk__stamp(line, &n, sizeof(line) - 1);
		sk__add(line, &n, sizeof(line) - 1, "sockit: ");
	}
	text = n;
	sk__vadd(line, &n, sizeof(line) - 1, fmt, ap);
	if (err != 0)
		sk__add(line, &n, sizeof(line) - 1, ": %s", sk_strerror(err));
	if (sk__log.syslog) {
		syslog(prio, "%s", line + text);
	} else {
		line[n++] = '\n';
		sk__write(line, n);
	}
	errno = saved;
}

void sk_log_info(const char *fmt, ...)
{
	va_list ap;

	if (atomic_load_explicit(&sk__quiet, memory_order_relaxed))
		return;
	va_start(ap, fmt);
	sk__vlog(LOG_INFO, 0, fmt, ap);
	va_end(ap);
}

#ifdef SK_DEBUG
void sk_log_debugf(const char *fmt, ...)
{
	va_list ap;

	if (atomic_load_explicit(&sk__quiet, memory_order_relaxed))
		return;
	va_start(ap, fmt);
	sk__vlog(LOG_DEBUG, 0, fmt, ap);
	va_end(ap);
}
#endif

void sk_log_warn(int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	sk__vlog(LOG_WARNING, err, fmt, ap);
	va_end(ap);
}

void sk_log_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	sk__vlog(LOG_WARNING, 0, fmt, ap);
	va_end(ap);
}

void sk_log_err(int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	sk__vlog(LOG_ERR, err, fmt, ap);
	va_end(ap);
}

void sk_log_errx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	sk__vlog(LOG_ERR, 0, fmt, ap);
	va_end(ap);
}

void sk_fatalx(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	sk__vlog(LOG_ERR, 0, fmt, ap);
	va_end(ap);
	exit(code);
}
