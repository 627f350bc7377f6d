/*
 * console.h: the daemon's own terminal (its stdin and stdout) as a source
 * and sink of lines for one service, on the service's loop: the way the
 * tutorial's server operator typed replies. Nothing here knows what the
 * lines mean.
 *
 * Input is read in lines (LF or CRLF), each at most SK_CONSOLE_LINE_MAX
 * bytes; a longer one is cut there and the rest of it dropped. Output is
 * queued up to SK_CONSOLE_OUT_MAX bytes; past that, lines are dropped and
 * counted, so a terminal that is not read cannot grow the daemon.
 */
#ifndef SK_NET_CONSOLE_H
#define SK_NET_CONSOLE_H

#include <stddef.h>

struct uv_loop_s;
struct sk_console;

/* A line from stdin (no LF, no CR; len may be 0), or, with line NULL,
 * the end of stdin (it was closed, or cannot be read). */
typedef void (*sk_console_cb)(void *arg, const char *line, size_t len);

/*
 * Start reading stdin on loop. Returns the console, or NULL (out of
 * memory). A stdin that libuv cannot watch (a file, /dev/null) reports
 * its end on the next loop turn.
 */
struct sk_console *sk_console_open(struct uv_loop_s *loop, sk_console_cb cb,
				   void *arg);

/* Queue s[0..n) for stdout. Returns 0, or -ENOBUFS when it was dropped
 * (over SK_CONSOLE_OUT_MAX, or stdout is gone). */
int sk_console_write(struct sk_console *k, const char *s, size_t n);

/* Lines dropped so far. */
unsigned long sk_console_dropped(const struct sk_console *k);

/* Stop: close the handles; the memory goes in their close callbacks.
 * No callback comes after this. */
void sk_console_close(struct sk_console *k);

#endif
