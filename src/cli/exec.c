/*
 * exec.c: `sockit exec`: run one command on an exec server and stream
 * its output back (docs/PROTOCOL.md, "exec (TCP): frames").
 *
 * One connection, one command on stream 1. The connection is TLS 1.3
 * with an external PSK from the key file (OpenSSL on our own
 * non-blocking socket, link.c), or plaintext frames with --insecure.
 * Every frame goes through the codec (frame.h); what the server's
 * frames mean, and both flow-control windows, are kept by the pure
 * state machine in exec_client.h. This file does the I/O: one poll()
 * over the socket, stdin, stdout, stderr and a self-pipe for signals.
 *
 * Bounds: the server may send no more output than the window we grant,
 * and we grant only what we have written out, so the output we hold is
 * at most SK_EXEC_CLIENT_WINDOW bytes; a slow reader of our stdout therefore
 * throttles the remote command. Frames for the server wait in a queue of
 * a few frames; stdin is read only when a whole STDIN frame fits in it.
 *
 * With --udp the command goes as one request of the reliable message
 * layer (rmsg.h) inside a DTLS 1.2 session (dtls.h) on a connected UDP
 * socket; its output stream holds the same frames, read by the same
 * state machine. There is no stdin over UDP, and Ctrl-C gives the
 * request up (the server kills the command).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>

#include "../net/client.h"
#include "../net/dtls.h"
#include "../net/sockaddr.h"
#include "../net/tls.h"
#include "../proto/addr.h"
#include "../proto/exec_client.h"
#include "../proto/frame.h"
#include "../proto/rmsg.h"
#include "../proto/sk_limits.h"
#include "cli.h"
#include "edit.h"
#include "link.h"

_Static_assert(SK_EXEC_CLIENT_IN >= SK_FRAME_MAX, "a frame fits");
_Static_assert(SK_EXEC_CLIENT_OUT >= SK_FRAME_MAX + SK_FRAME_HEADER +
					   SK_FRAME_HELLO_LEN +
					   SK_FRAME_HEADER,
	       "HELLO, EXEC and END fit");

#define SK__CMD "exec"
#define SK__PORT 8082
/* The stream the first command runs on; the REPL's next ones take the
 * next odd numbers. */
#define SK__STREAM 1
/* A second Ctrl-C within this many ms abandons the command. */
#define SK__CANCEL_MS 2000
/* Kept free in the queue of frames for the server (SK_EXEC_CLIENT_OUT)
 * for WINDOW_UPDATE, SIGNAL, RESET and ERROR, which must not wait
 * behind stdin. */
#define SK__OUT_RESERVE 1024
/* Once the outcome is known: ms to send what is queued, then to wait
 * for the server to close after our FIN (STYLE 21); see sk__closing(). */
#define SK__CLOSE_MS 1000

/* What the command line asked for. */
struct sk__opts {
	const char *keys;     /* -k FILE, or NULL for the default */
	const char *identity; /* -i ID, or NULL for the file's first */
	int insecure;         /* --insecure: plaintext frames */
	unsigned connect_ms;  /* -w, in ms */
	const char *hostport; /* HOST[:PORT] or unix:PATH as written */
	const char *what;     /* the program, for messages ("/bin/sh" with -c) */
	const char *cwd;      /* -C DIR, or NULL */
	int udp;              /* --udp */
	unsigned attempts;    /* --attempts, over UDP; 0: the default */
};

/* One run of `sockit exec`. */
struct sk__exec {
	struct sk__opts o;         /* the options */
	char host[SK_HOST_MAX + 8]; /* HOST without the port, for messages */
	struct sk_target t;        /* where to; t.name for messages */
	struct sk_link l;           /* the connection */
	struct sk_exec_client xc;  /* the stream's state and credit */
	uint8_t in[SK_EXEC_CLIENT_IN]; /* bytes from the server, unframed */
	size_t inlen;              /* how many */
	struct sk_queue out;      /* frames for the server */
	struct sk_queue fd1;      /* the command's stdout, for ours */
	struct sk_queue fd2;      /* the command's stderr, for ours */
	size_t chunk1;             /* most bytes one write() to fd 1 may take */
	size_t chunk2;             /* the same for fd 2 */
	int stdin_open;            /* we still read stdin */
	int sig[2];                /* self-pipe: signal numbers, as bytes */
	int64_t last_int;          /* monotonic ms of the last SIGINT, or 0 */
	int64_t hello_by;          /* the server's HELLO is due by then (ms) */
	int64_t close_by;          /* the close is over by then (ms), or 0 */
	int done;                  /* the outcome is known; no more input */
	int conn_over;             /* and it ends the connection, not only
				    * the command (always, but in the REPL) */
	int repl;                  /* commands come from sk_edit, one by one */
	int running;               /* REPL: a command is under way */
	int colour;                /* REPL on a terminal: stderr in red */
	uint32_t stream;           /* the command's stream */
	int status;                /* then: our exit status */
	char msg[600];             /* then: a message for stderr, or "" */
	/* UDP: l.fd is a connected UDP socket, l.ssl DTLS on it. */
	struct sk_rmsg_client *rc; /* the request's layer */
	uint64_t rid;              /* the last request id */
	int64_t heard_at;          /* ms of its last datagram */
	int urun;                  /* a request is under way */
};

static int sk__sigfd = -1; /* the self-pipe's write end, for handlers */

static int64_t sk__now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sk__on_signal(int signo)
{
	int saved = errno;
	unsigned char b = (unsigned char)signo;

	if (write(sk__sigfd, &b, 1) < 0) {
		/* The pipe is full: that signal is already pending. */
	}
	errno = saved;
}

/* ---- the outcome ---- */

/* Set the outcome (the first one set wins): our exit status and a
 * message for stderr, printed after the command's output. */
__attribute__((format(printf, 3, 4)))
static void sk__finish(struct sk__exec *x, int status, const char *fmt, ...)
{
	va_list ap;

	if (x->done)
		return;
	x->done = 1;
	x->status = status;
	x->msg[0] = '\0';
	if (fmt != NULL) {
		va_start(ap, fmt);
		vsnprintf(x->msg, sizeof(x->msg), fmt, ap);
		va_end(ap);
	}
}

/* An outcome that ends the connection, not only the command: the REPL
 * stops too. */
#define sk__fail(x, ...)                     \
	do {                                 \
		if (!(x)->done)              \
			(x)->conn_over = 1;  \
		sk__finish((x), __VA_ARGS__); \
	} while (0)

/* Count the frame of n bytes an encoder just wrote at the out queue's
 * tail, or pass the encoder's error on. */
static int sk__queue_frame(struct sk__exec *x, int n)
{
	if (n < 0)
		return n;
	x->out.len += (size_t)n;
	return 0;
}

/* Abandon the command: RESET CANCEL (over UDP, CANCEL), and drop its
 * output. */
static void sk__cancel(struct sk__exec *x)
{
	uint8_t *p = sk_queue_tail(&x->out, 16);

	if (x->o.udp) {
		if (x->rc != NULL)
			sk_rmsg_client_cancel(x->rc);
		x->fd1.len = 0;
		x->fd2.len = 0;
		return;
	}

	if (sk_exec_client_open(&x->xc) && p != NULL &&
	    sk__queue_frame(x, sk_frame_reset_encode(p, 16, x->stream,
						     SK_FRAME_CODE_CANCEL)) == 0)
		sk_exec_client_reset(&x->xc);
	x->fd1.len = 0;
	x->fd2.len = 0;
}

/* A protocol error of the server's: tell it (ERROR on stream 0) and
 * stop. */
static void sk__protocol_error(struct sk__exec *x, const struct sk_exec_event *ev)
{
	size_t cap = 16 + strlen(ev->what);
	uint8_t *p = sk_queue_tail(&x->out, cap);

	if (p != NULL)
		(void)sk__queue_frame(x, sk_frame_error_encode(p, cap, 0, ev->code,
							       ev->what,
							       strlen(ev->what)));
	sk__fail(x, SK_EXIT_EXEC, "%s: protocol error: %s (%s)", x->t.name,
		   ev->what, sk_frame_code_name(ev->code));
}

/* The server's ERROR text (valid UTF-8, the codec checked) for one line
 * of ours on a terminal: control characters, C0 (line breaks, ESC), DEL
 * and C1 (U+0080 to U+009F, CSI among them), each as '?'. */
static void sk__text(const struct sk_frame_str *s, char *out, size_t cap)
{
	size_t k = 0;

	for (size_t i = 0; i < s->len && k + 1 < cap; i++) {
		unsigned char ch = (unsigned char)s->p[i];

		if (ch == 0xc2 && i + 1 < s->len &&
		    (unsigned char)s->p[i + 1] < 0xa0) {
			out[k++] = '?';
			i++;
			continue;
		}
		out[k++] = ch >= 0x20 && ch != 0x7f ? (char)ch : '?';
	}
	out[k] = '\0';
}

/* The command's stream ended with ERROR: each code its message and exit
 * status (sockit(1), EXIT STATUS). */
static void sk__stream_error(struct sk__exec *x, const struct sk_exec_event *ev)
{
	char text[SK_FRAME_MAX_TEXT + 1], detail[SK_FRAME_MAX_TEXT + 4];

	sk__text(&ev->data, text, sizeof(text));
	snprintf(detail, sizeof(detail), "%s%s", text[0] ? ": " : "", text);
	switch (ev->code) {
	case SK_FRAME_CODE_NOT_FOUND:
		if (x->o.cwd != NULL)
			sk__finish(x, SK_EXIT_NOT_FOUND,
				   "%s: command or directory %s not found on %s",
				   x->o.what, x->o.cwd, x->host);
		else
			sk__finish(x, SK_EXIT_NOT_FOUND,
				   "%s: command not found on %s", x->o.what,
				   x->host);
		break;
	case SK_FRAME_CODE_PERMISSION:
		sk__finish(x, SK_EXIT_CANNOT_RUN, "%s: permission denied on %s%s",
			   x->o.what, x->host, detail);
		break;
	case SK_FRAME_CODE_POLICY:
		sk__finish(x, SK_EXIT_EXEC, "%s: refused by the policy of %s%s",
			   x->o.what, x->host, detail);
		break;
	case SK_FRAME_CODE_TOO_MANY:
		sk__finish(x, SK_EXIT_EXEC,
			   "%s: %s runs too many commands for this connection%s",
			   x->o.what, x->host, detail);
		break;
	case SK_FRAME_CODE_TIMEOUT:
		sk__finish(x, SK_EXIT_TIMEOUT,
			   "%s: timed out on %s and was killed", x->o.what,
			   x->host);
		break;
	case SK_FRAME_CODE_TRUNCATED:
		sk__finish(x, SK_EXIT_EXEC,
			   "%s: output truncated: it passed the output cap of %s, "
			   "which killed the command", x->o.what, x->host);
		break;
	case SK_FRAME_CODE_SHUTDOWN:
		sk__fail(x, SK_EXIT_EXEC, "%s: the server is shutting down%s",
			   x->t.name, detail);
		break;
	default:
		sk__finish(x, SK_EXIT_EXEC, "%s: %s reported %s%s", x->o.what,
			   x->host, sk_frame_code_name(ev->code), detail);
		break;
	}
}

/* The command ended: its status, or 128+N for a signal, as ssh. */
static void sk__exited(struct sk__exec *x, const struct sk_frame_exit *e)
{
	char name[SK_FRAME_MAX_SIGNAME + 1];
	int signo;

	if (!e->signaled) {
		sk__finish(x, (int)e->status, NULL);
		return;
	}
	memcpy(name, e->signal.p, e->signal.len);
	name[e->signal.len] = '\0';
	signo = sk_signal_number(name, e->signal.len);
	sk__finish(x, signo > 0 && signo < 127 ? SK_EXIT_SIGNAL + signo
					       : SK_EXIT_EXEC,
		   "remote command killed by SIG%s%s", name,
		   e->core ? " (core dumped)" : "");
}

/* ---- the connection ---- */

/* Read once from the server into x->in. Returns bytes read, 0 for
 * nothing yet, or -1 with the outcome set (or l.eof set). */
static ssize_t sk__link_read(struct sk__exec *x)
{
	char err[256];
	ssize_t n = sk_link_read(&x->l, x->in + x->inlen,
				 sizeof(x->in) - x->inlen, err, sizeof(err));

	if (n < 0 && !x->l.eof)
		sk__fail(x, SK_EXIT_EXEC, "%s: connection lost: %s", x->t.name,
			 err);
	return n;
}

/* Send what the out queue holds, as far as the socket takes it. Returns
 * 0, or a negative errno when the connection is gone. */
static int sk__link_flush(struct sk__exec *x)
{
	return sk_link_flush(&x->l, &x->out);
}

/* The server closed before the command ended. */
static void sk__closed(struct sk__exec *x)
{
	if (!x->xc.hello)
		sk__fail(x, SK_EXIT_EXEC,
			   "%s: connection closed by the server before its "
			   "HELLO (not an exec server, or %s)", x->t.name,
			   x->l.ssl != NULL ? "it does not know our key"
					    : "it does not take plaintext here");
	else
		sk__fail(x, SK_EXIT_EXEC,
			   "%s: connection closed by the server before the "
			   "command ended", x->t.name);
}

/* ---- frames from the server ---- */

/* Take every whole frame in x->in. */
static void sk__frames(struct sk__exec *x)
{
	size_t off = 0;

	/* A TLS record where a frame should be: the server speaks TLS. */
	if (x->l.ssl == NULL && !x->xc.hello && x->inlen > 0 &&
	    (x->in[0] == 0x15 || x->in[0] == 0x16)) {
		sk__fail(x, SK_EXIT_EXEC,
			   "%s: the server speaks TLS; drop --insecure",
			   x->t.name);
		return;
	}
	while (!x->done && off < x->inlen) {
		struct sk_exec_event ev;
		int n = sk_exec_client_input(&x->xc, x->in + off,
					     x->inlen - off, &ev);
		struct sk_queue *q;
		uint8_t *p;

		if (n == 0)
			break;
		if (n < 0) {
			sk__protocol_error(x, &ev);
			break;
		}
		off += (size_t)n;
		switch (ev.kind) {
		case SK_EXEC_EV_STDOUT:
		case SK_EXEC_EV_STDERR:
			q = ev.kind == SK_EXEC_EV_STDOUT ? &x->fd1 : &x->fd2;
			/* The window bounds what we hold: it fits. */
			p = sk_queue_tail(q, ev.data.len);
			if (p == NULL) {
				sk__fail(x, SK_EXIT_EXEC, "internal error: "
							    "output queue full");
				break;
			}
			memcpy(p, ev.data.p, ev.data.len);
			q->len += ev.data.len;
			break;
		case SK_EXEC_EV_EXIT:
			sk__exited(x, &ev.exit);
			break;
		case SK_EXEC_EV_REFUSED:
		case SK_EXEC_EV_ENDED:
			sk__stream_error(x, &ev);
			break;
		case SK_EXEC_EV_CONN_ERROR: {
			char text[SK_FRAME_MAX_TEXT + 1];

			sk__text(&ev.data, text, sizeof(text));
			if (ev.code == SK_FRAME_CODE_SHUTDOWN)
				sk__fail(x, SK_EXIT_EXEC,
					   "%s: the server is shutting down",
					   x->t.name);
			else if (ev.code == SK_FRAME_CODE_VERSION)
				sk__fail(x, SK_EXIT_EXEC,
					   "%s: the server does not speak exec "
					   "protocol version %d%s%s", x->t.name,
					   SK_FRAME_VERSION, text[0] ? ": " : "",
					   text);
			else
				sk__fail(x, SK_EXIT_EXEC,
					   "%s: the server reported a connection "
					   "error: %s%s%s", x->t.name,
					   sk_frame_code_name(ev.code),
					   text[0] ? ": " : "", text);
			break;
		}
		default:
			break;
		}
	}
	memmove(x->in, x->in + off, x->inlen - off);
	x->inlen -= off;
}

/* ---- our side: stdin, output, signals ---- */

/* Read stdin once and send it as one STDIN frame (with END at EOF). */
static void sk__stdin(struct sk__exec *x)
{
	static uint8_t buf[SK_FRAME_MAX_PAYLOAD];
	size_t room = sk_exec_client_stdin_room(&x->xc);
	uint8_t *p = sk_queue_tail(&x->out, SK_FRAME_MAX);
	ssize_t n;
	int end = 0;

	if (room == 0 || p == NULL)
		return;
	n = read(STDIN_FILENO, buf, room);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n < 0) {
		/* The command sees the end of its input, and we say why. */
		fprintf(stderr, "sockit: exec: stdin: %s\n", strerror(errno));
		n = 0;
	}
	if (n == 0) {
		end = 1;
		x->stdin_open = 0;
	}
	if (sk__queue_frame(x, sk_frame_encode(p, SK_FRAME_MAX, SK_FRAME_STDIN,
					       end ? SK_FRAME_F_END : 0,
					       x->stream, buf,
					       (size_t)n)) == 0)
		sk_exec_client_stdin_sent(&x->xc, (size_t)n, end);
}

/* Write some of one output queue to fd; grant the server what went. */
static void sk__output(struct sk__exec *x, int fd, struct sk_queue *q,
		       size_t chunk)
{
	ssize_t n;

	/* The REPL on a terminal: stderr stands out in red. */
	if (x->colour && fd == STDERR_FILENO)
		(void)!write(fd, "\033[31m", 5);
	n = write(fd, q->buf + q->head, q->len < chunk ? q->len : chunk);
	if (x->colour && fd == STDERR_FILENO)
		(void)!write(fd, "\033[m", 3);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n < 0) {
		int e = errno;

		sk__cancel(x);
		/* A closed pipe ends us as it would end the command (after
		 * the command ended, its status stands). Any other error is
		 * ours to report, whatever the command did. */
		if (e == EPIPE) {
			sk__finish(x, SK_EXIT_SIGNAL + SIGPIPE, NULL);
			x->conn_over = 1;
			return;
		}
		x->done = 0;
		sk__fail(x, SK_EXIT_EXEC, "%s: %s",
			   fd == STDOUT_FILENO ? "stdout" : "stderr",
			   strerror(e));
		return;
	}
	sk_queue_drop(q, (size_t)n);
	sk_exec_client_written(&x->xc, (size_t)n);
}

/* Send a WINDOW_UPDATE when enough output has gone out. */
static void sk__grant(struct sk__exec *x)
{
	uint8_t *p;
	uint32_t inc;

	if (sk_queue_free(&x->out) < SK_FRAME_HEADER + 4 + SK__OUT_RESERVE / 2)
		return; /* later, when the server has taken some */
	inc = sk_exec_client_grant(&x->xc);
	if (inc == 0)
		return;
	p = sk_queue_tail(&x->out, SK_FRAME_HEADER + 4);
	(void)sk__queue_frame(x, sk_frame_window_encode(p, SK_FRAME_HEADER + 4,
							x->stream, inc));
}

/* A signal came: forward it, or abandon the command. */
static void sk__signal(struct sk__exec *x, int signo)
{
	const char *name = sk_signal_name(signo);
	int64_t now = sk__now_ms();
	uint8_t *p;

	if (x->done) {
		/* Only our own output is left to write: stop (in the REPL,
		 * Ctrl-C stops only that, and the prompt comes back). */
		x->fd1.len = 0;
		x->fd2.len = 0;
		if (x->repl && signo == SIGINT && !x->conn_over)
			return;
		x->done = 0;
		sk__fail(x, SK_EXIT_SIGNAL + signo, NULL);
		return;
	}
	if (signo == SIGINT && x->last_int != 0 &&
	    now - x->last_int < SK__CANCEL_MS) {
		sk__cancel(x);
		sk__finish(x, SK_EXIT_SIGNAL + SIGINT, NULL);
		return;
	}
	if (x->repl && signo != SIGINT) {
		/* The REPL is told to end: its command ends with it. */
		sk__cancel(x);
		sk__fail(x, SK_EXIT_SIGNAL + signo, NULL);
		return;
	}
	if (x->o.udp) {
		/* No signals over UDP: the request is given up. */
		sk__cancel(x);
		sk__finish(x, SK_EXIT_SIGNAL + signo, NULL);
		return;
	}
	if (signo == SIGINT)
		x->last_int = now;
	/* The terminal echoed ^C; the command's output goes below it. */
	if (signo == SIGINT && x->colour)
		(void)!write(STDOUT_FILENO, "\n", 1);
	p = sk_queue_tail(&x->out, 32);
	if (p != NULL && name != NULL && sk_exec_client_open(&x->xc))
		(void)sk__queue_frame(x, sk_frame_signal_encode(p, 32, x->stream,
								name,
								strlen(name)));
}

/* The largest write to fd that poll()'s POLLOUT promises will not block:
 * PIPE_BUF for pipes, sockets and terminals; files take any size. */
static size_t sk__chunk(int fd)
{
	struct stat st;

	if (fstat(fd, &st) == 0 && (S_ISREG(st.st_mode) || S_ISBLK(st.st_mode)))
		return SK_EXEC_WINDOW;
	return PIPE_BUF;
}

/* Is stdin /dev/null (a closed one is by now)? Then END goes with the
 * EXEC. */
static int sk__stdin_empty(void)
{
	struct stat st;

	if (fstat(STDIN_FILENO, &st) != 0)
		return 1;
	return S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 3);
}

/*
 * Open /dev/null on any of fds 0, 1 and 2 that is closed, as ssh does:
 * otherwise the socket or the self-pipe would get that number, and the
 * command's output would go into our own connection, or our stdin come
 * from it. A closed stdin thus reads as /dev/null: an empty one.
 */
static int sk__std_fds(void)
{
	for (int fd = 0; fd <= 2; fd++) {
		int nfd;

		if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF)
			continue;
		nfd = open("/dev/null", O_RDWR);
		if (nfd < 0)
			return -errno;
		/* The lowest free number, so fd itself, as the lower ones are
		 * open by now; dup2() all the same. */
		if (nfd != fd) {
			int rc = dup2(nfd, fd) == fd ? 0 : -errno;

			close(nfd);
			if (rc != 0)
				return rc;
		}
	}
	return 0;
}

/* ---- the loop ---- */

enum { SK__PSOCK, SK__PIN, SK__POUT, SK__PERR, SK__PSIG, SK__NPOLL };

/*
 * Once the outcome is known, the connection closes while our output is
 * still being written out: the frames still queued go first (an ERROR, a
 * RESET), then TLS close_notify and our FIN, and we read and discard
 * until the server's FIN (STYLE 21), all within SK__CLOSE_MS of the
 * outcome. Returns 1 while the socket is still open.
 */
static int sk__closing(struct sk__exec *x, int64_t now)
{
	if (x->l.fd < 0)
		return 0;
	if (x->close_by == 0)
		x->close_by = now + SK__CLOSE_MS;
	if (!x->l.closing &&
	    (x->out.len == 0 || x->l.wdead || now >= x->close_by)) {
		if (x->l.ssl != NULL && x->out.len == 0 && !x->l.wdead) {
			ERR_clear_error();
			(void)SSL_shutdown(x->l.ssl);
			ERR_clear_error();
		}
		shutdown(x->l.fd, SHUT_WR);
		x->l.closing = 1;
	}
	if (x->l.eof || now >= x->close_by) {
		close(x->l.fd);
		x->l.fd = -1;
		return 0;
	}
	return 1;
}

/* Closing: read and discard what the server still sends. */
static void sk__discard(struct sk__exec *x)
{
	char buf[4096];
	ssize_t n = recv(x->l.fd, buf, sizeof(buf), 0);

	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
		x->l.eof = 1;
}

/* Run the command: until the outcome is known, our output is out and
 * the connection is closed (in the REPL, the connection stays open when
 * only the command ended). */
static void sk__run(struct sk__exec *x)
{
	struct pollfd p[SK__NPOLL];

	for (;;) {
		int64_t now = sk__now_ms();
		int want_read = !x->done && !x->l.eof &&
				x->inlen < sizeof(x->in);
		int stay = x->repl && !x->conn_over;
		int open = x->done && !stay ? sk__closing(x, now) : 1;
		int timeout = -1, rc;

		if (x->done && !open && x->fd1.len == 0 && x->fd2.len == 0)
			break;
		if (x->done && stay && x->fd1.len == 0 && x->fd2.len == 0 &&
		    x->msg[0] == '\0')
			break;
		if (!x->done && !x->l.wdead)
			sk__grant(x);
		/* A descriptor we want nothing from is left out: its POLLHUP
		 * would wake us for nothing, again and again. */
		if (x->l.closing)
			p[SK__PSOCK].events = POLLIN;
		else
			p[SK__PSOCK].events = (short)(
				(want_read || x->l.write_stuck ? POLLIN : 0) |
				(x->out.len > 0 && !x->l.write_stuck ? POLLOUT
								     : 0));
		p[SK__PSOCK].fd = open && p[SK__PSOCK].events != 0 ? x->l.fd
								   : -1;
		p[SK__PIN].fd = -1;
		if (!x->done && x->stdin_open && !x->l.wdead &&
		    sk_exec_client_stdin_room(&x->xc) > 0 &&
		    sk_queue_free(&x->out) >= SK_FRAME_MAX + SK__OUT_RESERVE)
			p[SK__PIN].fd = STDIN_FILENO;
		p[SK__PIN].events = POLLIN;
		p[SK__POUT].fd = x->fd1.len > 0 ? STDOUT_FILENO : -1;
		p[SK__POUT].events = POLLOUT;
		p[SK__PERR].fd = x->fd2.len > 0 ? STDERR_FILENO : -1;
		p[SK__PERR].events = POLLOUT;
		p[SK__PSIG].fd = x->sig[0];
		p[SK__PSIG].events = POLLIN;
		/* TLS may hold decrypted bytes the socket no longer shows. */
		if (want_read && x->l.ssl != NULL && SSL_has_pending(x->l.ssl))
			timeout = 0;
		else if (x->done && open && !stay)
			timeout = (int)(x->close_by > now ? x->close_by - now : 0);
		else if (!x->xc.hello && !x->done)
			timeout = (int)(x->hello_by > now ? x->hello_by - now : 0);
		rc = poll(p, SK__NPOLL, timeout);
		if (rc < 0 && errno != EINTR) {
			sk__fail(x, SK_EXIT_EXEC, "poll: %s", strerror(errno));
			break;
		}
		if (rc < 0)
			continue;
		if (p[SK__PSIG].revents & POLLIN) {
			unsigned char b;

			while (read(x->sig[0], &b, 1) == 1)
				sk__signal(x, b);
		}
		if (x->l.closing) {
			if (p[SK__PSOCK].fd >= 0 && p[SK__PSOCK].revents)
				sk__discard(x);
		} else if (x->out.len > 0 && p[SK__PSOCK].fd >= 0 &&
			   (p[SK__PSOCK].revents & (POLLOUT | POLLERR | POLLHUP) ||
			    (x->l.write_stuck && p[SK__PSOCK].revents & POLLIN)) &&
			   sk__link_flush(x) < 0) {
			/* The server is gone; what it said before going (an
			 * ERROR, or its FIN) is still to be read. */
			x->l.wdead = 1;
			x->out.len = 0;
		}
		if (want_read && (p[SK__PSOCK].revents & (POLLIN | POLLERR |
							  POLLHUP) ||
				  timeout == 0)) {
			ssize_t n = sk__link_read(x);

			if (n > 0) {
				x->inlen += (size_t)n;
				sk__frames(x);
			}
			if (x->l.eof && !x->done)
				sk__closed(x);
		}
		if (!x->xc.hello && !x->done && sk__now_ms() >= x->hello_by)
			sk__fail(x, SK_EXIT_EXEC,
				   "%s: no HELLO from the server within %.3g s",
				   x->t.name, x->o.connect_ms / 1000.0);
		if (p[SK__PIN].fd >= 0 && p[SK__PIN].revents)
			sk__stdin(x);
		if (p[SK__POUT].fd >= 0 && p[SK__POUT].revents)
			sk__output(x, STDOUT_FILENO, &x->fd1, x->chunk1);
		if (p[SK__PERR].fd >= 0 && p[SK__PERR].revents)
			sk__output(x, STDERR_FILENO, &x->fd2, x->chunk2);
		/* The message follows the command's output, and does not
		 * wait for the close. */
		if (x->done && x->fd1.len == 0 && x->fd2.len == 0 &&
		    x->msg[0] != '\0') {
			fprintf(stderr, "sockit: exec: %s\n", x->msg);
			x->msg[0] = '\0';
		}
	}
}

/* ---- the command line ---- */

/* Is every address of t loopback (or t a unix socket)? */
static int sk__local(const struct sk_target *t)
{
	for (int i = 0; i < t->naddr; i++)
		if (!sk_sockaddr_is_loopback((const struct sockaddr *)&t->addr[i]))
			return 0;
	return 1;
}

/* HOST of HOST[:PORT] (brackets dropped), or unix:PATH whole. */
static void sk__host_of(const char *hostport, char *out, size_t cap)
{
	char host[SK_HOST_MAX];
	uint16_t port = 0;

	if (strncmp(hostport, "unix:", 5) != 0 &&
	    sk_hostport_parse(hostport, host, &port, SK_HP_PORT_OPTIONAL) == 0)
		snprintf(out, cap, "%s", host);
	else
		snprintf(out, cap, "%s", hostport);
}

/* Read the key file and pick the identity. Returns 0, or 1 after
 * setting the outcome. */
static int sk__key(struct sk__exec *x, struct sk_key *key)
{
	char err[700];

	if (sk_link_key(x->o.keys, x->o.identity, key, err, sizeof(err)) == 0)
		return 0;
	sk__fail(x, SK_EXIT_EXEC, "%s", err);
	return 1;
}

/* Connect, TLS, and queue HELLO and EXEC (and END for an empty stdin);
 * HELLO alone when exec is NULL (the REPL). Returns 0, or 1 after
 * setting the outcome. */
static int sk__open(struct sk__exec *x, const uint8_t *exec, size_t elen)
{
	struct sk_key key;
	char err[600];
	int64_t deadline;
	uint8_t *p;
	int rc;

	memset(&key, 0, sizeof(key));
	if (!x->o.insecure && sk__key(x, &key) != 0)
		return 1;
	deadline = sk__now_ms() + x->o.connect_ms;
	rc = sk_link_open(&x->l, &x->t, x->o.insecure ? NULL : &key,
			  x->o.connect_ms, err, sizeof(err));
	OPENSSL_cleanse(&key, sizeof(key));
	if (rc != 0) {
		sk__fail(x, SK_EXIT_EXEC, "%s", err);
		return 1;
	}
	x->hello_by = deadline;
	p = sk_queue_tail(&x->out, SK_FRAME_HEADER + SK_FRAME_HELLO_LEN);
	(void)sk__queue_frame(x, sk_frame_hello_encode(
					 p, SK_FRAME_HEADER + SK_FRAME_HELLO_LEN,
					 SK_FRAME_VERSION));
	sk_exec_client_init(&x->xc, SK__STREAM);
	x->stream = SK__STREAM;
	if (exec == NULL)
		return 0;
	p = sk_queue_tail(&x->out, elen);
	memcpy(p, exec, elen);
	x->out.len += elen;
	if (!x->stdin_open) {
		p = sk_queue_tail(&x->out, SK_FRAME_HEADER);
		if (sk__queue_frame(x, sk_frame_encode(p, SK_FRAME_HEADER,
						       SK_FRAME_STDIN,
						       SK_FRAME_F_END, x->stream,
						       NULL, 0)) == 0)
			sk_exec_client_stdin_sent(&x->xc, 0, 1);
	}
	return 0;
}

/* ---- over UDP ---- */

/* A ms wait for poll() until the us time at (UINT64_MAX: -1). */
static int sk__wait_ms(uint64_t at, uint64_t now)
{
	if (at == UINT64_MAX)
		return -1;
	if (at <= now)
		return 0;
	return (at - now + 999) / 1000 > INT32_MAX ? INT32_MAX
						  : (int)((at - now + 999) / 1000);
}

/* Open the DTLS session (link.c) within the connect timeout; a signal
 * meanwhile ends us. Returns 0, or 1 after setting the outcome. */
static int sk__udp_open(struct sk__exec *x)
{
	struct sk_key key;
	char err[600];
	int rc;

	if (x->l.ssl != NULL && !x->l.eof) {
		/* The old session, heard from too long ago: the server may
		 * still hold it, and may free it now. */
		ERR_clear_error();
		(void)SSL_shutdown(x->l.ssl);
		(void)BIO_flush(SSL_get_wbio(x->l.ssl));
		ERR_clear_error();
	}
	sk_link_close(&x->l);
	sk_link_init(&x->l);
	memset(&key, 0, sizeof(key));
	if (sk__key(x, &key) != 0)
		return 1;
	rc = sk_link_open_dtls(&x->l, &x->t, &key, x->o.connect_ms, x->sig[0],
			       err, sizeof(err));
	OPENSSL_cleanse(&key, sizeof(key));
	if (rc == SK_LINK_SIGNAL) {
		unsigned char b = SIGINT;

		if (read(x->sig[0], &b, 1) != 1)
			b = SIGINT;
		sk__fail(x, SK_EXIT_SIGNAL + b, NULL);
		return 1;
	}
	if (rc != 0) {
		sk__fail(x, SK_EXIT_EXEC, "%s", err);
		return 1;
	}
	x->heard_at = sk__now_ms();
	x->rc->retry_us = sk_link_retry_us(&x->l);
	return 0;
}

/* Send what the layer has for now. */
static void sk__udp_send(struct sk__exec *x)
{
	uint8_t buf[SK_RMSG_MAX_DGRAM];
	int n;

	while ((n = sk_rmsg_client_poll(x->rc, sk_dtls_now(), buf,
					sizeof(buf))) > 0) {
		ERR_clear_error();
		if (SSL_write(x->l.ssl, buf, n) <= 0)
			ERR_clear_error(); /* lost, as on the path */
		(void)BIO_flush(SSL_get_wbio(x->l.ssl));
	}
	if (n < 0)
		sk__fail(x, SK_EXIT_EXEC, "%s: this session has sent all it may; "
			 "start sockit exec again", x->t.name);
}

/* Hand the output stream, in order, to the frame reader, while our
 * output queues have room for a whole frame's payload. */
static void sk__udp_feed(struct sk__exec *x)
{
	struct sk_rmsg_client *rc = x->rc;

	while (!x->done) {
		/* Frames hold no more payload than their bytes: what x->in
		 * holds, once read, fits both queues. */
		size_t room = sk_queue_free(&x->fd1), n;

		if (sk_queue_free(&x->fd2) < room)
			room = sk_queue_free(&x->fd2);
		if (room > sizeof(x->in))
			room = sizeof(x->in);
		if (room <= x->inlen)
			break;
		n = sk_rmsg_client_read(rc, x->in + x->inlen, room - x->inlen);
		if (n == 0)
			break;
		x->inlen += n;
		sk__frames(x);
	}
	if (x->done)
		return;
	switch (rc->status) {
	case SK_RMSG_COMPLETE:
		/* Every whole frame was read, and none ended the command. */
		if (rc->read == rc->final)
			sk__fail(x, SK_EXIT_EXEC, "%s: protocol error: the "
				 "output ended without EXIT", x->t.name);
		break;
	case SK_RMSG_NO_REPLY:
		sk__fail(x, SK_EXIT_EXEC, "%s: no reply (%u attempts)",
			 x->t.name, rc->attempts);
		break;
	case SK_RMSG_REFUSED:
		if (rc->code == SK_RMSG_CODE_TOO_MANY)
			sk__finish(x, SK_EXIT_EXEC, "%s: %s runs too many "
				   "commands for this session", x->o.what,
				   x->host);
		else
			sk__fail(x, SK_EXIT_EXEC, "%s: the server refused the "
				 "request (%s): it may have run once",
				 x->t.name, sk_rmsg_code_name(rc->code));
		break;
	default:
		break;
	}
}

/* Read what the socket holds: DTLS records, each one datagram of the
 * layer. */
static void sk__udp_input(struct sk__exec *x)
{
	static uint8_t buf[SK_UDP_BUF];

	for (int k = 0; k < 256; k++) {
		enum sk_rmsg_client_ev ev;
		int n, e;

		ERR_clear_error();
		n = SSL_read(x->l.ssl, buf, sizeof(buf));
		(void)BIO_flush(SSL_get_wbio(x->l.ssl));
		if (n > 0) {
			x->heard_at = sk__now_ms();
			(void)sk_rmsg_client_input(x->rc, sk_dtls_now(), buf,
						   (size_t)n, &ev);
			continue;
		}
		e = SSL_get_error(x->l.ssl, n);
		if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
			ERR_clear_error();
			break;
		}
		ERR_clear_error();
		if (e == SSL_ERROR_SYSCALL && errno == ECONNREFUSED) {
			/* An ICMP error from an earlier datagram: the server
			 * may have gone; the layer's retries will tell. */
			continue;
		}
		/* close_notify, or a fatal alert: the session is over. */
		x->l.eof = 1;
		if (x->urun && !x->done &&
		    (x->rc->status == SK_RMSG_WAITING ||
		     x->rc->status == SK_RMSG_RECEIVING))
			sk__fail(x, SK_EXIT_EXEC, "%s: the server ended the "
				 "session before the command ended",
				 x->t.name);
		break;
	}
	if (x->urun)
		sk__udp_feed(x);
}

/* Run the request until its outcome is known and our output is out. */
static void sk__udp_run(struct sk__exec *x)
{
	struct pollfd p[4];

	for (;;) {
		uint64_t now = sk_dtls_now();
		int rc, timeout;

		if (!x->done && !x->l.eof) {
			sk__udp_send(x);
			sk__udp_feed(x); /* the layer may have given up */
		}
		if (x->done && x->fd1.len == 0 && x->fd2.len == 0)
			break;
		timeout = x->done || x->l.eof
				  ? -1
				  : sk__wait_ms(sk_rmsg_client_next_timeout(
							x->rc, now),
						now);
		p[0].fd = !x->done && !x->l.eof ? x->l.fd : -1;
		p[0].events = POLLIN;
		p[1].fd = x->fd1.len > 0 ? STDOUT_FILENO : -1;
		p[1].events = POLLOUT;
		p[2].fd = x->fd2.len > 0 ? STDERR_FILENO : -1;
		p[2].events = POLLOUT;
		p[3].fd = x->sig[0];
		p[3].events = POLLIN;
		rc = poll(p, 4, timeout);
		if (rc < 0 && errno != EINTR) {
			sk__fail(x, SK_EXIT_EXEC, "poll: %s", strerror(errno));
			break;
		}
		if (rc < 0)
			continue;
		if (p[3].revents & POLLIN) {
			unsigned char b;

			while (read(x->sig[0], &b, 1) == 1)
				sk__signal(x, b);
			if (x->rc->cancel)
				sk__udp_send(x); /* the CANCEL, at once */
		}
		if (p[0].fd >= 0 && p[0].revents)
			sk__udp_input(x);
		if (p[1].fd >= 0 && p[1].revents)
			sk__output(x, STDOUT_FILENO, &x->fd1, x->chunk1);
		if (p[2].fd >= 0 && p[2].revents)
			sk__output(x, STDERR_FILENO, &x->fd2, x->chunk2);
		/* Room again in the queues: more of the stream. */
		if (!x->done && (p[1].revents || p[2].revents))
			sk__udp_feed(x);
	}
	if (x->msg[0] != '\0' && x->fd1.len == 0 && x->fd2.len == 0) {
		fprintf(stderr, "sockit: exec: %s\n", x->msg);
		x->msg[0] = '\0';
	}
}

/* Run the EXEC frame exec[0..len) as the session's next request (a new
 * session first when there is none, or the server may have dropped it
 * for idleness). */
static void sk__udp_request(struct sk__exec *x, const uint8_t *exec,
			    size_t len)
{
	if ((x->l.fd < 0 || x->l.eof ||
	     sk__now_ms() - x->heard_at > SK_EXEC_UDP_REOPEN_MS) &&
	    sk__udp_open(x) != 0)
		return;
	if (x->rid == 0) {
		/* A random start, far below the top: ids only grow. */
		if (RAND_bytes((unsigned char *)&x->rid, sizeof(x->rid)) != 1)
			x->rid = (uint64_t)sk__now_ms();
		x->rid = (x->rid >> 2) + 1;
	} else {
		x->rid++;
	}
	sk_exec_client_init(&x->xc, SK_RMSG_STREAM);
	x->xc.hello = 1;
	/* The layer caps the output; no credit to grant. */
	x->xc.out_credit = SK_EXEC_WINDOW_MAX;
	x->stream = SK_RMSG_STREAM;
	x->inlen = 0;
	if (sk_rmsg_client_start(x->rc, sk_dtls_now(), x->rid, exec, len) != 0) {
		sk__fail(x, SK_EXIT_EXEC, "internal error: cannot start the "
			 "request");
		return;
	}
	x->urun = 1;
	sk__udp_run(x);
	x->urun = 0;
}

/* ---- the REPL ---- */

/*
 * Wait at the prompt for a line, while the connection stays watched: the
 * server may close it or end it with an ERROR, and frames we still owe
 * it (a RESET) go out. Returns 1 with *line, or -1 when the REPL ends
 * (the end of input, a signal, or the connection; the outcome is set
 * for the last two).
 */
static int sk__prompt(struct sk__exec *x, char **line)
{
	struct pollfd p[3];

	for (;;) {
		int rc;

		if (sk_edit_pending())
			return sk_edit_read(line) > 0 ? 1 : -1;
		p[0].fd = STDIN_FILENO;
		p[0].events = POLLIN;
		p[1].fd = x->l.fd;
		p[1].events = (short)(POLLIN | (x->out.len > 0 &&
						!x->l.write_stuck ? POLLOUT : 0));
		p[2].fd = x->sig[0];
		p[2].events = POLLIN;
		if (x->o.udp) {
			/* Late datagrams still get their ACKs; a close_notify
			 * means a new session for the next line. */
			uint64_t now = sk_dtls_now();

			p[1].fd = x->l.fd >= 0 && !x->l.eof ? x->l.fd : -1;
			p[1].events = POLLIN;
			rc = poll(p, 3, sk__wait_ms(sk_rmsg_client_next_timeout(
							    x->rc, now),
						    now));
			if (rc >= 0 && p[1].fd >= 0) {
				if (p[1].revents)
					sk__udp_input(x);
				sk__udp_send(x);
				p[1].revents = 0;
			}
		} else {
			rc = poll(p, 3,
				  x->l.ssl != NULL && SSL_has_pending(x->l.ssl)
					  ? 0 : -1);
		}
		if (rc < 0 && errno != EINTR) {
			sk__fail(x, SK_EXIT_EXEC, "poll: %s", strerror(errno));
			return -1;
		}
		if (rc < 0)
			continue;
		if (p[2].revents & POLLIN) {
			unsigned char b;

			while (read(x->sig[0], &b, 1) == 1) {
				if (b == SIGINT) {
					sk_edit_interrupt();
					continue;
				}
				sk__fail(x, SK_EXIT_SIGNAL + b, NULL);
				return -1;
			}
		}
		if (x->out.len > 0 &&
		    (p[1].revents & (POLLOUT | POLLERR | POLLHUP) ||
		     (x->l.write_stuck && p[1].revents & POLLIN)) &&
		    sk__link_flush(x) < 0) {
			x->l.wdead = 1;
			x->out.len = 0;
		}
		if (!x->o.udp &&
		    (p[1].revents & (POLLIN | POLLERR | POLLHUP) || rc == 0)) {
			ssize_t n = sk__link_read(x);

			if (n > 0) {
				x->inlen += (size_t)n;
				sk__frames(x);
			}
			if (x->l.eof && !x->done)
				sk__fail(x, SK_EXIT_EXEC,
					 "%s: connection closed by the server",
					 x->t.name);
			if (x->done)
				return -1;
		}
		if (p[0].revents) {
			rc = sk_edit_read(line);
			if (rc != 0)
				return rc;
		}
	}
}

/* Run one REPL line as a shell command on the next stream. Returns 0
 * when the REPL goes on, -1 when the connection is over. */
static int sk__repl_line(struct sk__exec *x, struct sk_frame_exec *e,
			 const char *line)
{
	static uint8_t execf[SK_FRAME_MAX];
	uint8_t *p;
	int n;

	if (x->o.udp) {
		e->argc = 1;
		e->argv[0].p = line;
		e->argv[0].len = strlen(line);
		n = sk_frame_exec_encode(execf, SK_RMSG_MAX_EXEC,
					 SK_RMSG_STREAM, e);
		if (n < 0) {
			fprintf(stderr, "sockit: exec: %s\n",
				n == SK_FRAME_E_TOOBIG || n == SK_FRAME_E_SPACE
					? "the command line is too long for "
					  "UDP"
					: sk_frame_strerror(n));
			return 0;
		}
		x->done = 0;
		x->status = 0;
		x->msg[0] = '\0';
		sk__udp_request(x, execf, (size_t)n);
		if (x->conn_over)
			return -1;
		if (x->colour && x->status != 0 && x->status < SK_EXIT_SIGNAL)
			fprintf(stderr, "\033[2m[exit %d]\033[m\n", x->status);
		return 0;
	}
	if (x->stream > UINT32_MAX - 2) {
		sk__fail(x, SK_EXIT_EXEC, "%s: this connection has run all "
			 "the commands it may; start sockit exec again",
			 x->t.name);
		return -1;
	}
	e->argc = 1;
	e->argv[0].p = line;
	e->argv[0].len = strlen(line);
	n = sk_frame_exec_encode(execf, sizeof(execf), x->stream, e);
	if (n < 0) {
		fprintf(stderr, "sockit: exec: %s\n",
			n == SK_FRAME_E_TOOBIG
				? "the command line is too long"
				: sk_frame_strerror(n));
		return 0;
	}
	if (sk_queue_free(&x->out) < (size_t)n + SK_FRAME_HEADER) {
		fprintf(stderr, "sockit: exec: %s: the server is not taking "
			"what we send\n", x->t.name);
		return 0;
	}
	sk_exec_client_next(&x->xc, x->stream);
	x->done = 0;
	x->status = 0;
	x->msg[0] = '\0';
	x->last_int = 0;
	x->close_by = 0;
	p = sk_queue_tail(&x->out, (size_t)n);
	memcpy(p, execf, (size_t)n);
	x->out.len += (size_t)n;
	/* The command's stdin is empty: ours is the REPL's. */
	p = sk_queue_tail(&x->out, SK_FRAME_HEADER);
	if (sk__queue_frame(x, sk_frame_encode(p, SK_FRAME_HEADER,
					       SK_FRAME_STDIN, SK_FRAME_F_END,
					       x->stream, NULL, 0)) == 0)
		sk_exec_client_stdin_sent(&x->xc, 0, 1);
	sk__run(x);
	x->stream += 2;
	if (x->conn_over)
		return -1;
	/* A shell shows a failure; so do we, on a terminal. */
	if (x->colour && x->status != 0 && x->status < SK_EXIT_SIGNAL)
		fprintf(stderr, "\033[2m[exit %d]\033[m\n", x->status);
	return 0;
}

/* Is the line only blanks? */
static int sk__blank(const char *s)
{
	return s[strspn(s, " \t")] == '\0';
}

/*
 * The REPL: each line is a shell command, run to its end on the next
 * stream of the one connection, with an empty stdin, before the next
 * prompt. Ctrl-C is forwarded (twice abandons the command), Ctrl-D or
 * `exit` ends it. Our status is the last command's, as a shell's.
 */
static void sk__repl(struct sk__exec *x, struct sk_frame_exec *e)
{
	int last = 0;

	x->colour = sk_edit_tty() && isatty(STDERR_FILENO);
	x->done = 1; /* nothing runs yet */
	sk_edit_resume();
	for (;;) {
		char *line = NULL;
		const char *cmd;
		int rc;

		x->done = 0;
		rc = sk__prompt(x, &line);
		if (rc < 0)
			break;
		cmd = line + strspn(line, " \t");
		if (sk__blank(cmd)) {
			free(line);
			continue;
		}
		if (strcmp(cmd, "exit") == 0 || strcmp(cmd, "quit") == 0) {
			free(line);
			break;
		}
		sk_edit_suspend();
		rc = sk__repl_line(x, e, cmd);
		free(line);
		if (rc < 0)
			break;
		last = x->status;
		sk_edit_resume();
	}
	sk_edit_suspend();
	if (!x->conn_over) {
		/* The end of input: close the connection as a single command
		 * would, with the last command's status. */
		x->done = 0;
		sk__fail(x, last, NULL);
	}
	if (!x->o.udp)
		sk__run(x);
}

int sk_cmd_exec(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "keys", required_argument, NULL, 'k' },
		{ "identity", required_argument, NULL, 'i' },
		{ "insecure", no_argument, NULL, 'I' },
		{ "timeout", required_argument, NULL, 't' },
		{ "env", required_argument, NULL, 'e' },
		{ "cwd", required_argument, NULL, 'C' },
		{ "connect-timeout", required_argument, NULL, 'w' },
		{ "udp", no_argument, NULL, 'u' },
		{ "attempts", required_argument, NULL, 'A' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static uint8_t execf[SK_FRAME_MAX];
	static struct sk_frame_exec e;
	static struct sk__exec x;
	struct sigaction sa;
	const char *line = NULL, *last_arg = NULL;
	char err[512];
	int c, n, round, dashdash = 0;
	struct sigaction old[3];
	static const int sigs[3] = { SIGINT, SIGTERM, SIGHUP };

	if (sk__std_fds() != 0) {
		fprintf(stderr, "sockit: exec: cannot open /dev/null\n");
		return SK_EXIT_EXEC;
	}
	memset(&x, 0, sizeof(x));
	memset(&e, 0, sizeof(e));
	x.o.connect_ms = 10000;
	x.l.fd = -1;
	x.sig[0] = x.sig[1] = -1;
	/*
	 * Options come before HOST and between HOST and CMD; the first word
	 * after HOST that is not an option starts CMD, so CMD's own options
	 * are never taken for ours ('--' ends ours too).
	 */
	optind = 1;
	opterr = 0;
	for (round = 0; round < 2; round++) {
		while ((c = getopt_long(argc, argv, "+:k:i:t:e:C:w:c:uh", opts,
					NULL)) != -1) {
			last_arg = optarg;
			switch (c) {
			case 'k': x.o.keys = optarg; break;
			case 'i': x.o.identity = optarg; break;
			case 'I': x.o.insecure = 1; break;
			case 't':
				if (strcmp(optarg, "0") == 0)
					e.timeout_ms = 0;
				else if (sk_parse_seconds(optarg,
							  &e.timeout_ms) != 0)
					return sk_usage_error(SK__CMD, "--timeout: '%s' is not "
							 "a number of seconds",
							 optarg);
				break;
			case 'w':
				if (sk_parse_seconds(optarg, &x.o.connect_ms) != 0)
					return sk_usage_error(SK__CMD, "--connect-timeout: "
							 "'%s' is not a number "
							 "of seconds", optarg);
				break;
			case 'e':
				if (e.envc == SK_EXEC_MAX_ENV)
					return sk_usage_error(
						SK__CMD, "--env: at most %d "
						"variables", SK_EXEC_MAX_ENV);
				if (optarg[0] == '=' ||
				    strchr(optarg, '=') == NULL)
					return sk_usage_error(SK__CMD, "--env: '%s' is not "
							 "NAME=VALUE", optarg);
				e.env[e.envc].p = optarg;
				e.env[e.envc++].len = strlen(optarg);
				break;
			case 'C':
				if (optarg[0] != '/')
					return sk_usage_error(SK__CMD, "--cwd: '%s' is not an "
							 "absolute path", optarg);
				x.o.cwd = optarg;
				break;
			case 'c': line = optarg; break;
			case 'u': x.o.udp = 1; break;
			case 'A': {
				char *end;
				unsigned long v;

				errno = 0;
				v = strtoul(optarg, &end, 10);
				if (errno != 0 || end == optarg || *end != '\0' ||
				    optarg[0] == '-' || v < 1 ||
				    v > SK_RMSG_ATTEMPTS_MAX)
					return sk_usage_error(
						SK__CMD, "--attempts: '%s' is "
						"not a number from 1 to %d",
						optarg, SK_RMSG_ATTEMPTS_MAX);
				x.o.attempts = (unsigned)v;
				break;
			}
			case 'h': return sk_help(SK__CMD);
			default:
				return sk_option_error(SK__CMD, argv, c);
			}
		}
		if (optind > 1 && strcmp(argv[optind - 1], "--") == 0 &&
		    argv[optind - 1] != last_arg)
			dashdash = 1;
		if (round == 1 || dashdash)
			break;
		if (optind >= argc)
			return sk_usage_error(SK__CMD, "expected HOST[:PORT]");
		x.o.hostport = argv[optind++];
	}
	if (x.o.hostport == NULL) {
		if (optind >= argc)
			return sk_usage_error(SK__CMD, "expected HOST[:PORT]");
		x.o.hostport = argv[optind++];
	}
	n = argc - optind;
	if (line != NULL && n > 0)
		return sk_usage_error(SK__CMD, "give -c LINE or CMD [ARG...], "
				      "not both");
	if (line == NULL && n == 0) {
		x.repl = 1;
		e.shell = 1;
		x.o.what = "/bin/sh";
	} else if (line != NULL) {
		if (line[0] == '\0')
			return sk_usage_error(SK__CMD, "-c: the command line "
					      "is empty");
		e.shell = 1;
		e.argc = 1;
		e.argv[0].p = line;
		e.argv[0].len = strlen(line);
		x.o.what = "/bin/sh";
	} else {
		if (n > SK_EXEC_MAX_ARGS)
			return sk_usage_error(SK__CMD, "at most %d arguments, "
					      "CMD included", SK_EXEC_MAX_ARGS);
		if (argv[optind][0] == '\0')
			return sk_usage_error(SK__CMD, "CMD is empty");
		e.argc = (size_t)n;
		for (int i = 0; i < n; i++) {
			e.argv[i].p = argv[optind + i];
			e.argv[i].len = strlen(argv[optind + i]);
		}
		x.o.what = argv[optind];
	}
	if (x.o.cwd != NULL) {
		e.cwd.p = x.o.cwd;
		e.cwd.len = strlen(x.o.cwd);
	}
	if (x.o.udp && x.o.insecure)
		return sk_usage_error(SK__CMD, "--insecure is for TCP: over UDP "
				      "there is always DTLS");
	if (x.o.attempts != 0 && !x.o.udp)
		return sk_usage_error(SK__CMD, "--attempts is for --udp");
	/* The REPL encodes each line's EXEC as it comes. Over UDP the whole
	 * request fits one datagram. */
	n = x.repl ? 0 : sk_frame_exec_encode(execf,
					      x.o.udp ? SK_RMSG_MAX_EXEC
						      : sizeof(execf),
					      SK__STREAM, &e);
	if ((n == SK_FRAME_E_TOOBIG || n == SK_FRAME_E_SPACE) && x.o.udp)
		return sk_usage_error(SK__CMD, "the command, its environment "
				      "and directory take more than %d bytes, "
				      "the most one UDP request holds",
				      SK_RMSG_MAX_EXEC - SK_FRAME_HEADER -
					      SK_FRAME_EXEC_FIXED);
	if (n == SK_FRAME_E_TOOBIG)
		return sk_usage_error(SK__CMD, "the command, its environment "
				      "and directory take more than %d bytes",
				      SK_FRAME_MAX_PAYLOAD - SK_FRAME_EXEC_FIXED);
	if (n < 0)
		return sk_usage_error(SK__CMD, "cannot encode the command: %s",
				      sk_frame_strerror(n));
	if (x.o.udp && strncmp(x.o.hostport, "unix:", 5) == 0)
		return sk_usage_error(SK__CMD, "a unix socket is for TCP only");
	if (strncmp(x.o.hostport, "unix:", 5) != 0 &&
	    sk_check_hostport(SK__CMD, x.o.hostport, 0) != 0)
		return SK_EXIT_USAGE;
	sk__host_of(x.o.hostport, x.host, sizeof(x.host));
	if (sk_target_resolve(&x.t, x.o.hostport, SK__PORT,
			      x.o.udp ? SOCK_DGRAM : SOCK_STREAM, err,
			      sizeof(err)) != 0) {
		fprintf(stderr, "sockit: exec: %s\n", err);
		return SK_EXIT_EXEC;
	}
	if (x.o.insecure && !sk__local(&x.t)) {
		fprintf(stderr, "sockit: exec: %s: --insecure is only for "
			"loopback addresses and unix sockets\n", x.t.name);
		return SK_EXIT_EXEC;
	}

	/* No stdin over UDP: a request is one datagram. */
	x.stdin_open = !x.repl && !x.o.udp && !sk__stdin_empty();
	x.chunk1 = sk__chunk(STDOUT_FILENO);
	x.chunk2 = sk__chunk(STDERR_FILENO);
	if (sk_queue_init(&x.out, SK_EXEC_CLIENT_OUT) != 0 ||
	    sk_queue_init(&x.fd1, SK_EXEC_CLIENT_WINDOW) != 0 ||
	    sk_queue_init(&x.fd2, SK_EXEC_CLIENT_WINDOW) != 0 ||
	    pipe2(x.sig, O_CLOEXEC | O_NONBLOCK) != 0) {
		sk__fail(&x, SK_EXIT_EXEC, "out of memory or descriptors");
		goto error;
	}
	if (x.o.udp) {
		struct sk_rmsg_client_cfg rcfg;

		memset(&rcfg, 0, sizeof(rcfg));
		rcfg.attempts = x.o.attempts;
		x.rc = malloc(sizeof(*x.rc));
		if (x.rc == NULL) {
			sk__fail(&x, SK_EXIT_EXEC, "out of memory");
			goto error;
		}
		sk_rmsg_client_init(x.rc, &rcfg);
	} else if (sk__open(&x, x.repl ? NULL : execf, (size_t)n) != 0) {
		goto error;
	}
	/* From here on a signal is the remote command's, not ours. */
	sk__sigfd = x.sig[1];
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = sk__on_signal;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	for (int i = 0; i < 3; i++)
		sigaction(sigs[i], &sa, &old[i]);
	if (x.repl) {
		char prompt[sizeof(x.host) + 8];

		snprintf(prompt, sizeof(prompt), "%s> ", x.host);
		if (sk_edit_open(prompt, "exec_history") != 0) {
			sk__fail(&x, SK_EXIT_EXEC, "cannot edit lines on this "
				 "terminal");
			sk__run(&x);
		} else {
			sk__repl(&x, &e);
		}
		sk_edit_close();
	} else if (x.o.udp) {
		sk__udp_request(&x, execf, (size_t)n);
	} else {
		sk__run(&x);
	}
	if (x.o.udp && x.l.ssl != NULL && !x.l.eof) {
		/* The server may free the session now, not at its idle
		 * timeout. */
		ERR_clear_error();
		(void)SSL_shutdown(x.l.ssl);
		(void)BIO_flush(SSL_get_wbio(x.l.ssl));
	}
	for (int i = 0; i < 3; i++)
		sigaction(sigs[i], &old[i], NULL);
error:
	if (x.msg[0] != '\0')
		fprintf(stderr, "sockit: exec: %s\n", x.msg);
	sk_link_close(&x.l);
	for (int i = 0; i < 2; i++)
		if (x.sig[i] >= 0)
			close(x.sig[i]);
	sk__sigfd = -1;
	sk_queue_fini(&x.out);
	sk_queue_fini(&x.fd1);
	sk_queue_fini(&x.fd2);
	free(x.rc);
	ERR_clear_error();
	return x.status;
}
