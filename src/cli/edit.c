/*
 * edit.c: the interactive line (see edit.h), on libedit's own interface
 * in unbuffered mode: the caller's poll() loop tells us when stdin is
 * readable, and el_gets() takes one key and returns. Nothing here blocks
 * while the socket has something to say.
 *
 * libedit's signal handling is off: the caller's handlers write to a
 * self-pipe, and Ctrl-C at the prompt comes back as sk_edit_interrupt().
 * (Its readline emulation was tried first: its rl_replace_line() ignores
 * an empty line and its rl_end is stale in callback mode, so a line
 * could not be wiped.)
 */
#include "edit.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <histedit.h>
#include <termios.h>

#include "../proto/sk_limits.h"

/* Lines kept in the history, in memory and in its file. */
#define SK__HISTORY_MAX 1000

static struct {
	int tty;            /* libedit drives a terminal */
	int active;         /* the prompt is up (between resume and suspend) */
	char *prompt;       /* malloc'd */
	EditLine *el;       /* the editor, on a terminal */
	History *h;         /* its history */
	char hist[PATH_MAX]; /* the history file, or "" */
	int veof;           /* the terminal's end-of-file key (Ctrl-D) */
	/* Scripted input: bytes read, not yet returned as lines. */
	char buf[SK_EDIT_LINE_MAX];
	size_t len;         /* bytes in buf */
	int in_eof;         /* stdin reached its end */
} sk__ed;

/* libedit asks for the prompt. */
static char *sk__prompt(EditLine *el)
{
	(void)el;
	return sk__ed.prompt;
}

/* The history file's path: $XDG_STATE_HOME/sockit/NAME or
 * ~/.local/state/sockit/NAME, its directory made (0700) as needed.
 * Returns 0, or -1 for no history. */
static int sk__hist_path(const char *name, char *out, size_t cap)
{
	const char *state = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
	char dir[PATH_MAX];
	int n;

	if (state != NULL && state[0] == '/')
		n = snprintf(dir, sizeof(dir), "%s/sockit", state);
	else if (home != NULL && home[0] == '/')
		n = snprintf(dir, sizeof(dir), "%s/.local/state/sockit", home);
	else
		return -1;
	if (n < 0 || (size_t)n >= sizeof(dir))
		return -1;
	/* Each level, as mkdir -p; the last one private. */
	for (char *p = dir + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(dir, 0755) != 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return -1;
	n = snprintf(out, cap, "%s/%s", dir, name);
	return n < 0 || (size_t)n >= cap ? -1 : 0;
}

int sk_edit_open(const char *prompt, const char *histname)
{
	struct termios t;
	HistEvent ev;

	memset(&sk__ed, 0, sizeof(sk__ed));
	sk__ed.prompt = strdup(prompt);
	if (sk__ed.prompt == NULL)
		return -1;
	sk__ed.tty = isatty(STDIN_FILENO) && isatty(STDOUT_FILENO);
	if (!sk__ed.tty)
		return 0;
	sk__ed.veof = tcgetattr(STDIN_FILENO, &t) == 0 ? t.c_cc[VEOF] : 4;
	sk__ed.el = el_init("sockit", stdin, stdout, stderr);
	sk__ed.h = history_init();
	if (sk__ed.el == NULL || sk__ed.h == NULL)
		return -1;
	history(sk__ed.h, &ev, H_SETSIZE, SK__HISTORY_MAX);
	history(sk__ed.h, &ev, H_SETUNIQUE, 1);
	el_set(sk__ed.el, EL_EDITOR, "emacs");
	el_set(sk__ed.el, EL_SIGNAL, 0);
	el_set(sk__ed.el, EL_PROMPT, sk__prompt);
	el_set(sk__ed.el, EL_HIST, history, sk__ed.h);
	(void)el_source(sk__ed.el, NULL); /* the user's ~/.editrc */
	if (histname != NULL &&
	    sk__hist_path(histname, sk__ed.hist, sizeof(sk__ed.hist)) == 0)
		(void)history(sk__ed.h, &ev, H_LOAD, sk__ed.hist);
	return 0;
}

int sk_edit_tty(void)
{
	return sk__ed.tty;
}

void sk_edit_resume(void)
{
	if (!sk__ed.tty || sk__ed.active)
		return;
	sk__ed.active = 1;
	/* This takes the terminal and draws the prompt (libedit's
	 * read_prepare()). */
	el_set(sk__ed.el, EL_UNBUFFERED, 1);
}

void sk_edit_suspend(void)
{
	if (!sk__ed.tty || !sk__ed.active)
		return;
	sk__ed.active = 0;
	el_set(sk__ed.el, EL_UNBUFFERED, 0);
}

/* Scripted input: the first line in the buffer, if whole (or the rest at
 * the end of input, or a full buffer as one line). Returns 1, 0 or -1 as
 * sk_edit_read(). */
static int sk__take(char **line)
{
	char *lf = memchr(sk__ed.buf, '\n', sk__ed.len);
	size_t n, used;

	if (lf != NULL) {
		n = (size_t)(lf - sk__ed.buf);
		used = n + 1;
	} else if (sk__ed.in_eof || sk__ed.len == sizeof(sk__ed.buf)) {
		if (sk__ed.len == 0)
			return -1;
		n = used = sk__ed.len;
	} else {
		return 0;
	}
	if (n > 0 && sk__ed.buf[n - 1] == '\r')
		n--;
	*line = strndup(sk__ed.buf, n);
	if (*line == NULL)
		return -1;
	memmove(sk__ed.buf, sk__ed.buf + used, sk__ed.len - used);
	sk__ed.len -= used;
	return 1;
}

int sk_edit_pending(void)
{
	return !sk__ed.tty &&
	       (memchr(sk__ed.buf, '\n', sk__ed.len) != NULL ||
		(sk__ed.in_eof && sk__ed.len > 0));
}

int sk_edit_read(char **line)
{
	*line = NULL;
	if (!sk__ed.tty) {
		ssize_t n;
		int rc = sk__take(line);

		if (rc != 0 || sk__ed.in_eof)
			return rc;
		n = read(STDIN_FILENO, sk__ed.buf + sk__ed.len,
			 sizeof(sk__ed.buf) - sk__ed.len);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			return 0;
		if (n <= 0)
			sk__ed.in_eof = 1;
		else
			sk__ed.len += (size_t)n;
		return sk__take(line);
	}
	if (!sk__ed.active)
		return 0;
	{
		int count = 0;
		const char *buf = el_gets(sk__ed.el, &count);
		HistEvent ev;

		/* Unbuffered, el_gets() returns after every key, with the
		 * line so far; Ctrl-D on an empty line comes as itself. */
		if ((buf == NULL && count < 0) ||
		    (count == 1 && (unsigned char)buf[0] == sk__ed.veof)) {
			/* What follows starts on a line of its own. */
			sk_edit_suspend();
			(void)!write(STDOUT_FILENO, "\n", 1);
			return -1;
		}
		if (buf == NULL || count == 0 || (buf[count - 1] != '\n' &&
				   buf[count - 1] != '\r'))
			return 0;
		*line = strndup(buf, (size_t)count - 1);
		if (*line == NULL)
			return -1;
		if ((*line)[0] != '\0')
			history(sk__ed.h, &ev, H_ENTER, *line);
		/* The caller's turn: sk_edit_resume() for the next line. */
		sk_edit_suspend();
		return 1;
	}
}

/* Wipe the line being typed. */
static void sk__wipe(void)
{
	const LineInfo *li = el_line(sk__ed.el);

	el_cursor(sk__ed.el, (int)(li->lastchar - li->cursor));
	li = el_line(sk__ed.el);
	el_deletestr(sk__ed.el, (int)(li->cursor - li->buffer));
}

void sk_edit_interrupt(void)
{
	if (!sk__ed.tty || !sk__ed.active)
		return;
	(void)!write(STDOUT_FILENO, "^C\n", 3);
	sk__wipe();
	el_set(sk__ed.el, EL_REFRESH);
}

/* Write all of s[0..n) to fd, as far as it goes. */
static void sk__write_all(int fd, const char *s, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, s, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		s += w;
		n -= (size_t)w;
	}
}

void sk_edit_print(int fd, const char *s, size_t n)
{
	struct winsize ws;
	size_t cols = 80, used, rows;

	if (!sk__ed.tty || !sk__ed.active) {
		sk__write_all(fd, s, n);
		return;
	}
	/* Up to the prompt's first row, then wipe to the end of the screen:
	 * the prompt and the line may have wrapped. */
	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		cols = ws.ws_col;
	used = strlen(sk__ed.prompt) +
	       (size_t)(el_line(sk__ed.el)->cursor - el_line(sk__ed.el)->buffer);
	rows = used / cols;
	if (rows > 0) {
		char up[32];
		int k = snprintf(up, sizeof(up), "\033[%zuA", rows);

		sk__write_all(STDOUT_FILENO, up, (size_t)k);
	}
	sk__write_all(STDOUT_FILENO, "\r\033[J", 4);
	sk__write_all(fd, s, n);
	el_set(sk__ed.el, EL_REFRESH);
}

void sk_edit_close(void)
{
	HistEvent ev;

	sk_edit_suspend();
	if (sk__ed.h != NULL && sk__ed.hist[0] != '\0' &&
	    history(sk__ed.h, &ev, H_SAVE, sk__ed.hist) >= 0)
		(void)chmod(sk__ed.hist, 0600);
	if (sk__ed.el != NULL)
		el_end(sk__ed.el);
	if (sk__ed.h != NULL)
		history_end(sk__ed.h);
	free(sk__ed.prompt);
	memset(&sk__ed, 0, sizeof(sk__ed));
}
