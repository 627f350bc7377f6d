/*
 * exec.c: remote commands over framed TCP (docs/PROTOCOL.md, "exec").
 *
 * A connection opens with HELLO, then carries any number of commands,
 * each on a stream: EXEC starts one from an argv (or, when the policy
 * allows it, a shell line), STDIN feeds it, STDOUT and STDERR stream its
 * output back within the client's credit, and EXIT (or an ERROR) ends
 * it. Over TCP the frames run inside TLS 1.3 with a pre-shared key
 * (src/net/tls.c); plaintext frames are allowed only with `insecure` and
 * only on loopback or a unix socket.
 *
 * Each command runs in a session of its own (src/net/proc.c), with
 * resource limits, a timeout and a cap on its output. Its whole process
 * group is killed when it times out, when it is reset, when its
 * connection goes, when its output passes the cap, at shutdown, and when
 * it ends (so nothing it started in the background outlives it). The
 * server reads a command's pipes only while the client has credit, so a
 * client that stops reading stops the command at its next write.
 *
 * A command lives in a struct sk__cmd until its process has been reaped
 * and every libuv handle it had is closed; it refers to its connection
 * by a weak id, since either may go first.
 */
#include "svc_exec.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <uv.h>

#include "../net/log.h"
#include "../net/proc.h"
#include "../net/sockaddr.h"
#include "../net/table.h"
#include "../net/tls.h"
#include "../proto/frame.h"

/* The environment a command starts with, before the client's pairs. */
#define SK__EXEC_PATH \
	"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
/* Names of variables a client may set, unless configured otherwise. */
static const char *const sk__env_default[] = {
	"LANG", "LANGUAGE", "LC_ALL", "LC_CTYPE", "LC_MESSAGES", "TERM", "TZ",
};
/* Names on the allow-list, at most. */
#define SK__ENV_ALLOW_MAX 32

/* The exec service's settings. */
struct sk__exec_cfg {
	char keys[1024];         /* key file; "": the default path */
	unsigned insecure;       /* plaintext frames on loopback/unix */
	unsigned shell;          /* allow SHELL commands */
	unsigned max_commands;   /* commands at once, in all */
	unsigned max_per_conn;   /* commands at once, per connection */
	unsigned max_per_client; /* commands at once, per client: its TLS
				  * identity, or its address in plaintext */
	unsigned timeout;        /* default timeout, s; 0: none */
	unsigned max_timeout;    /* the most a client may ask, s; 0: any */
	unsigned output_mib;     /* output per command, MiB */
	unsigned cpu;            /* RLIMIT_CPU, s; 0: unchanged */
	unsigned nofile;         /* RLIMIT_NOFILE; 0: unchanged */
	unsigned nproc;          /* RLIMIT_NPROC; 0: unchanged */
	unsigned raw;            /* the tutorial's raw commands (loopback) */
	char env[SK__ENV_ALLOW_MAX][64]; /* variables a client may set */
	unsigned nenv;           /* how many; 0: sk__env_default */
};

static int sk__env_add(void *settings, const char *val, char *err, size_t cap)
{
	struct sk__exec_cfg *x = settings;
	size_t n = strlen(val);

	if (n == 0 || n >= sizeof(x->env[0]) || strchr(val, '=') != NULL) {
		snprintf(err, cap, "'%s' is not a variable name", val);
		return -1;
	}
	if (x->nenv >= SK__ENV_ALLOW_MAX) {
		snprintf(err, cap, "more than %d names", SK__ENV_ALLOW_MAX);
		return -1;
	}
	memcpy(x->env[x->nenv++], val, n + 1);
	return 0;
}

#define SK__X(f) offsetof(struct sk__exec_cfg, f)

static const struct sk_opt sk__exec_opts[] = {
	{ .name = "keys", .type = SK_OPT_STR, .off = SK__X(keys),
	  .size = sizeof(((struct sk__exec_cfg *)0)->keys), .arg = "FILE",
	  .help = "client keys, 'IDENTITY HEXKEY' per line (default:\n"
		  "$XDG_CONFIG_HOME/sockit/exec.keys, made on first\n"
		  "start)" },
	SK_OPT_NUM(SK_OPT_UINT, "insecure", SK__X(insecure), 0, 1, "0", "0|1",
		   "plaintext frames, without TLS, on loopback and\n"
		   "unix sockets (never elsewhere)"),
	SK_OPT_NUM(SK_OPT_UINT, "shell", SK__X(shell), 0, 1, "1", "0|1",
		   "run shell lines (/bin/sh -c) as well as argvs"),
	SK_OPT_NUM(SK_OPT_UINT, "max-commands", SK__X(max_commands), 1, 100000,
		   "64", "N", "commands at once, in all"),
	SK_OPT_NUM(SK_OPT_UINT, "max-per-client", SK__X(max_per_client), 1,
		   100000, "32", "N",
		   "commands at once for one client (its key's\n"
		   "identity, or its address in plaintext)"),
	SK_OPT_NUM(SK_OPT_UINT, "max-per-conn", SK__X(max_per_conn), 1, 1024,
		   "16", "N", "commands at once on one connection"),
	SK_OPT_NUM(SK_OPT_UINT, "timeout", SK__X(timeout), 0, 86400 * 365,
		   "3600", "S", "a command's time unless it asks (0 = none)"),
	SK_OPT_NUM(SK_OPT_UINT, "max-timeout", SK__X(max_timeout), 0,
		   86400 * 365, "86400", "S",
		   "the longest time a command may ask (0 = any)"),
	SK_OPT_NUM(SK_OPT_UINT, "max-output-mib", SK__X(output_mib), 1,
		   1024 * 1024, "4096", "MIB",
		   "output of one command before it is killed"),
	SK_OPT_NUM(SK_OPT_UINT, "cpu", SK__X(cpu), 0, 86400 * 365, "3600", "S",
		   "CPU seconds per command (0 = unchanged)"),
	SK_OPT_NUM(SK_OPT_UINT, "nofile", SK__X(nofile), 0, 1048576, "1024",
		   "N", "open files per command (0 = unchanged)"),
	SK_OPT_NUM(SK_OPT_UINT, "nproc", SK__X(nproc), 0, 1048576, "0", "N",
		   "processes of the daemon's user, as the command\n"
		   "sees them (0 = unchanged)"),
	SK_OPT_NUM(SK_OPT_UINT, "raw", SK__X(raw), 0, 1, "0", "0|1",
		   "the tutorial's unauthenticated raw commands, from\n"
		   "clients that send no HELLO (needs insecure; loopback\n"
		   "and unix sockets only)"),
	{ .name = "env", .type = SK_OPT_FUNC, .arg = "NAME",
	  .help = "a variable clients may set (repeatable; default\n"
		  "LANG LANGUAGE LC_ALL LC_CTYPE LC_MESSAGES TERM TZ)",
	  .parse = sk__env_add, .flags = SK_OPT_REPEAT },
	SK_OPT_END,
};

/* Connections stay while their commands are quiet; a frame must not
 * take long to arrive. Output is bounded by the streams' windows (at most
 * max-per-conn of 256 KiB each), not by pausing: a client slow to read one
 * stream must still be heard on the others, so the server keeps reading
 * frames until far past what the windows allow. */
static const struct sk_svc_limits sk__exec_limits = {
	.max_conn = SK_CONN_MAX_DEFAULT,
	.max_conn_source = SK_CONN_PER_SOURCE_DEFAULT,
	.idle_timeout = 0,
	.request_timeout = SK_CONN_REQUEST_DEFAULT,
	.max_output = 512 * 1024 * 1024,
	.pause_output = 256 * 1024 * 1024,
	.rate = { 20, 40, 0 },
	.global = { 10000, 10000, 0 },
	.out = { 0, 1, 0 },
};

struct sk__cmd;

/* The service, on one server. */
struct sk__exec {
	const struct sk__exec_cfg *cfg; /* settings */
	struct sk_tls *tls;             /* the keys' TLS context */
	struct sk__cmd *all;            /* every command not yet freed */
	struct sk_srcmap clients;       /* commands running per client */
	unsigned running;               /* of them, not yet ended */
	int stopping;                   /* shutdown has begun */
};

/* A connection's state. */
struct sk__xconn {
	struct sk__exec *ex;   /* the service */
	int hello;             /* its HELLO has come */
	uint32_t last;         /* the highest stream id opened */
	unsigned nrun;         /* its commands not yet ended */
	struct sk__cmd *cmds;  /* its commands, until they end */
	int raw;               /* the tutorial's raw protocol */
	struct sk_rl_key who;  /* the client, as counted per client */
	int known;             /* who is set */
};

/* One command. */
struct sk__cmd {
	struct sk__cmd *next, *prev;   /* the connection's list */
	struct sk__xconn *owner;       /* that list's connection while x is
					* on it, else NULL: a connection
					* empties its list before it goes */
	struct sk__cmd *anext, *aprev; /* the service's list */
	struct sk__exec *ex;           /* the service */
	struct sk_svc *svc;            /* for weak lookups */
	sk_conn_id conn;               /* its connection; 0 once gone */
	uint32_t stream;               /* its stream */
	struct sk_proc p;              /* the process */
	uv_poll_t exitw;               /* p.pidfd: it exited */
	uv_pipe_t in, out, err;        /* its stdin, stdout, stderr */
	uv_timer_t timer;              /* its timeout */
	unsigned open;                 /* libuv handles not yet closed */
	uint32_t credit;               /* the client's credit for output */
	uint32_t in_credit;            /* ours for its STDIN */
	unsigned in_pending;           /* writes to stdin in flight */
	uint64_t total;                /* output bytes read */
	uint64_t cap;                  /* the most it may write */
	int status;                    /* as waitpid() gives it */
	unsigned why;                  /* 0, or the ERROR code that ends it */
	unsigned exited : 1;           /* reaped */
	unsigned out_eof : 1;          /* stdout reached EOF */
	unsigned err_eof : 1;          /* stderr reached EOF */
	unsigned in_end : 1;           /* END came: close stdin when written */
	unsigned in_closed : 1;        /* stdin is closed */
	unsigned reading : 1;          /* stdout and stderr being read */
	unsigned reset : 1;            /* the client reset the stream */
	unsigned ended : 1;            /* EXIT or ERROR sent, or cannot be */
	unsigned timed : 1;            /* the timer runs */
	unsigned counted : 1;          /* in its connection's nrun */
	unsigned client_counted : 1;   /* in the service's per-client map */
	struct sk_rl_key who;          /* its client */
	unsigned raw : 1;              /* the tutorial's client: gathered */
	char *rbuf;                    /* raw: stdout, then stderr (cap) */
	size_t rout, rerr;             /* raw: bytes of each in rbuf */
	unsigned h_timer : 1;          /* timer initialised */
	unsigned h_exitw : 1;          /* exitw initialised */
	unsigned h_in : 1;             /* in initialised */
	unsigned h_out : 1;            /* out initialised */
	unsigned h_err : 1;            /* err initialised */
};

/* A write to a command's stdin, and its bytes. */
struct sk__inreq {
	uv_write_t req;      /* libuv's */
	struct sk__cmd *cmd; /* whose */
	size_t len;          /* bytes, credited back when written */
	char data[];         /* the bytes */
};

/*
 * Output is read SK_EXEC_READ_FRAMES frames' worth at a time, straight
 * after the first header, then spread into frames in place (a gap for
 * each next header) and written with one call: one read and one write
 * per 64 KiB instead of four of each.
 */
static uint8_t sk__obuf[SK_EXEC_READ_FRAMES * SK_FRAME_MAX];
/* An output frame's payload: a frame then fills one TLS record (16 KiB
 * of plaintext) exactly, instead of spilling 8 bytes into a record of
 * their own. */
#define SK__OUT_PAYLOAD (SK_FRAME_MAX_PAYLOAD - SK_FRAME_HEADER)

static void sk__cmd_check(struct sk__cmd *x);

/* ---- sending ---- */

static struct sk_conn *sk__conn_of(struct sk__cmd *x)
{
	return x->conn != 0 ? sk_conn_get(x->svc, x->conn) : NULL;
}

static void sk__send(struct sk_conn *c, const uint8_t *buf, int n)
{
	if (c != NULL && n > 0)
		sk_conn_write(c, buf, (size_t)n);
}

static void sk__send_error(struct sk_conn *c, uint32_t stream, unsigned code,
			   const char *text)
{
	uint8_t buf[SK_FRAME_HEADER + 2 + SK_FRAME_MAX_TEXT];
	size_t len = strlen(text);

	if (len > SK_FRAME_MAX_TEXT)
		len = SK_FRAME_MAX_TEXT;
	sk__send(c, buf, sk_frame_error_encode(buf, sizeof(buf), stream, code,
					       text, len));
}

/* A connection error: say why on stream 0 and close once it is sent. */
static void sk__fail(struct sk_conn *c, unsigned code, const char *text)
{
	sk__send_error(c, 0, code, text);
	sk_conn_end(c);
}

/* ---- a command's life ---- */

static void sk__cmd_closed(uv_handle_t *h)
{
	struct sk__cmd *x = h->data;

	if (h == (uv_handle_t *)&x->exitw && x->h_exitw)
		close(x->p.pidfd);
	if (--x->open > 0)
		return;
	free(x->rbuf);
	if (x->aprev != NULL)
		x->aprev->anext = x->anext;
	else
		x->ex->all = x->anext;
	if (x->anext != NULL)
		x->anext->aprev = x->aprev;
	free(x);
}

static void sk__cmd_close(struct sk__cmd *x, uv_handle_t *h, int inited)
{
	(void)x;
	if (inited && !uv_is_closing(h))
		uv_close(h, sk__cmd_closed);
}

/* Close every handle x has; x is freed when the last one has closed, or
 * now when it never had one. */
static void sk__cmd_release(struct sk__cmd *x)
{
	if (x->open == 0) {
		/* Nothing of it reached libuv: its fds are still ours. */
		close(x->p.pidfd);
		close(x->p.in);
		close(x->p.out);
		close(x->p.err);
		x->open = 1;
		sk__cmd_closed((uv_handle_t *)&x->timer);
		return;
	}
	/* Fds that never reached libuv are still ours. */
	if (!x->h_exitw)
		close(x->p.pidfd);
	if (x->p.in >= 0)
		close(x->p.in);
	if (x->p.out >= 0)
		close(x->p.out);
	if (x->p.err >= 0)
		close(x->p.err);
	sk__cmd_close(x, (uv_handle_t *)&x->timer, x->h_timer);
	sk__cmd_close(x, (uv_handle_t *)&x->exitw, x->h_exitw);
	sk__cmd_close(x, (uv_handle_t *)&x->in, x->h_in);
	sk__cmd_close(x, (uv_handle_t *)&x->out, x->h_out);
	sk__cmd_close(x, (uv_handle_t *)&x->err, x->h_err);
}

/* Take x off its connection's list, if it is on one. */
static void sk__cmd_detach(struct sk__cmd *x)
{
	struct sk__xconn *xc = x->owner;

	if (xc == NULL)
		return;
	if (x->prev != NULL)
		x->prev->next = x->next;
	else
		xc->cmds = x->next;
	if (x->next != NULL)
		x->next->prev = x->prev;
	x->next = x->prev = NULL;
	x->owner = NULL;
}

/* The command has ended: it exited and its pipes reached EOF. */
static void sk__cmd_end(struct sk__cmd *x)
{
	struct sk_conn *c = sk__conn_of(x);
	/* Not sk_conn_data(c): a closing connection is no longer found by
	 * its id, yet x stays on its list until tcp_close empties it. */
	struct sk__xconn *xc = x->owner;

	/* Whatever it left running in the background goes with it; the
	 * leader is still a zombie (see sk__exited), so its group's id is
	 * still its own. Then it is reaped. */
	sk_proc_kill(&x->p, SIGKILL);
	if (x->exited) {
		int st;

		sk_proc_reap(&x->p, &st, 0);
	}
	if (c != NULL && x->raw) {
		/* The tutorial's reply: the output, or its "done" when there
		 * is none. */
		static const char ok[] = "\xe5\x91\xbd\xe4\xbb\xa4\xe6\x89\xa7"
					 "\xe8\xa1\x8cOK"; /* 命令执行OK */

		if (x->rout + x->rerr > 0)
			sk_conn_write(c, x->rbuf, x->rout + x->rerr);
		else
			sk_conn_write(c, ok, sizeof(ok) - 1);
		sk_conn_hold(c, 0);
	} else if (c != NULL && !x->reset && !x->ended) {
		uint8_t buf[SK_FRAME_HEADER + 2 + SK_FRAME_MAX_SIGNAME];
		struct sk_frame_exit e;

		if (x->why != 0) {
			sk__send_error(c, x->stream, x->why,
				       x->why == SK_FRAME_CODE_TIMEOUT
					       ? "timed out"
				       : x->why == SK_FRAME_CODE_TRUNCATED
					       ? "output over the cap"
					       : "stopped");
		} else {
			memset(&e, 0, sizeof(e));
			if (WIFEXITED(x->status)) {
				e.status = (unsigned)WEXITSTATUS(x->status);
			} else {
				const char *name = sk_signal_name(WTERMSIG(x->status));

				e.signaled = 1;
				e.core = WCOREDUMP(x->status) ? 1 : 0;
				e.signal.p = name != NULL ? name : "KILL";
				e.signal.len = strlen(e.signal.p);
			}
			sk__send(c, buf, sk_frame_exit_encode(buf, sizeof(buf),
							      x->stream, &e));
		}
	}
	x->ended = 1;
	if (xc != NULL) {
		sk__cmd_detach(x);
		if (x->counted)
			xc->nrun--;
	}
	if (x->client_counted) {
		x->client_counted = 0;
		sk_srcmap_put(&x->ex->clients, &x->who);
	}
	x->ex->running--;
	sk__cmd_release(x);
}

static void sk__cmd_check(struct sk__cmd *x)
{
	if (x->exited && x->out_eof && x->err_eof && !x->ended)
		sk__cmd_end(x);
}

/* Kill the group, and end the stream with code (0: with EXIT). */
static void sk__cmd_kill(struct sk__cmd *x, unsigned code)
{
	if (x->why == 0)
		x->why = code;
	sk_proc_kill(&x->p, SIGKILL);
}

static void sk__timeout(uv_timer_t *t)
{
	sk__cmd_kill(t->data, SK_FRAME_CODE_TIMEOUT);
}

static void sk__exited(uv_poll_t *w, int status, int events)
{
	struct sk__cmd *x = w->data;
	int rc;

	(void)status;
	(void)events;
	if (x->exited)
		return;
	/* Peek only: reaped at the end, after its group is killed. */
	rc = sk_proc_reap(&x->p, &x->status, 1);
	if (rc == 0)
		return;
	if (rc < 0)
		x->status = SIGKILL; /* cannot happen: reaped elsewhere */
	x->exited = 1;
	uv_poll_stop(w);
	/* The command is over when its leader is: what it left in the
	 * background is killed now, so the pipes it holds reach EOF and EXIT
	 * follows (output still in them is sent first). The leader is a
	 * zombie until the end, so the group's id is still its own. */
	sk_proc_kill(&x->p, SIGKILL);
	sk__cmd_check(x);
}

/* ---- output ---- */

static void sk__read_out(uv_stream_t *s, ssize_t n, const uv_buf_t *buf);

static void sk__out_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	struct sk__cmd *x = h->data;
	size_t room = SK_EXEC_READ_FRAMES * SK__OUT_PAYLOAD;

	(void)hint;
	if (room > x->credit)
		room = x->credit;
	buf->base = (char *)sk__obuf + SK_FRAME_HEADER;
	buf->len = room;
}

/* Read stdout and stderr while the client has credit. */
static void sk__reading(struct sk__cmd *x, int on)
{
	if (x->ended || (on && x->credit == 0))
		on = 0;
	if (on == (int)x->reading)
		return;
	x->reading = on ? 1 : 0;
	if (!x->out_eof) {
		if (on)
			uv_read_start((uv_stream_t *)&x->out, sk__out_alloc,
				      sk__read_out);
		else
			uv_read_stop((uv_stream_t *)&x->out);
	}
	if (!x->err_eof) {
		if (on)
			uv_read_start((uv_stream_t *)&x->err, sk__out_alloc,
				      sk__read_out);
		else
			uv_read_stop((uv_stream_t *)&x->err);
	}
}

/* Raw: keep stdout and stderr apart, up to the cap together; past it
 * the command is killed. */
static void sk__raw_gather(struct sk__cmd *x, int is_out, const char *p,
			   size_t n)
{
	size_t room;

	if (x->rbuf == NULL && (x->rbuf = malloc(SK_EXEC_RAW_MAX)) == NULL) {
		sk__cmd_kill(x, SK_FRAME_CODE_INTERNAL);
		return;
	}
	room = SK_EXEC_RAW_MAX - x->rout - x->rerr;
	if (n > room) {
		n = room;
		sk__cmd_kill(x, SK_FRAME_CODE_TRUNCATED);
	}
	if (is_out) {
		/* stdout goes before stderr: move stderr up. */
		memmove(x->rbuf + x->rout + n, x->rbuf + x->rout, x->rerr);
		memcpy(x->rbuf + x->rout, p, n);
		x->rout += n;
	} else {
		memcpy(x->rbuf + x->rout + x->rerr, p, n);
		x->rerr += n;
	}
}

static void sk__read_out(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct sk__cmd *x = s->data;
	int is_out = s == (uv_stream_t *)&x->out;

	(void)buf;
	if (n == 0)
		return;
	if (n == UV_ENOBUFS) {
		sk__reading(x, 0); /* out of credit */
		return;
	}
	if (n < 0) {
		if (is_out)
			x->out_eof = 1;
		else
			x->err_eof = 1;
		uv_read_stop(s);
		sk__cmd_check(x);
		return;
	}
	x->total += (uint64_t)n;
	if (x->raw) {
		sk__raw_gather(x, is_out, buf->base, (size_t)n);
		return;
	}
	x->credit -= (uint32_t)n;
	if (!x->reset) {
		struct sk_conn *c = sk__conn_of(x);
		size_t p = SK__OUT_PAYLOAD, f = SK_FRAME_HEADER;
		size_t nf = ((size_t)n + p - 1) / p;

		/* Frame k's payload moves up by k headers, the last first. */
		for (size_t k = nf; k-- > 1;)
			memmove(sk__obuf + k * (p + f) + f, sk__obuf + f + k * p,
				k == nf - 1 ? (size_t)n - k * p : p);
		for (size_t k = 0; k < nf; k++)
			sk_frame_header(sk__obuf + k * (p + f), f,
					is_out ? SK_FRAME_STDOUT
					       : SK_FRAME_STDERR,
					0, x->stream,
					k == nf - 1 ? (size_t)n - k * p : p);
		if (c != NULL)
			sk_conn_write(c, sk__obuf, (size_t)n + nf * f);
	}
	if (x->total > x->cap)
		sk__cmd_kill(x, SK_FRAME_CODE_TRUNCATED);
	if (x->credit == 0)
		sk__reading(x, 0);
}

/* ---- input ---- */

static void sk__in_close(struct sk__cmd *x)
{
	if (x->in_closed)
		return;
	x->in_closed = 1;
	sk__cmd_close(x, (uv_handle_t *)&x->in, x->h_in);
}

static void sk__credit_back(struct sk__cmd *x, size_t len)
{
	struct sk_conn *c = sk__conn_of(x);
	uint8_t buf[SK_FRAME_HEADER + 4];

	if (x->ended || x->reset || len == 0)
		return;
	x->in_credit += (uint32_t)len;
	sk__send(c, buf, sk_frame_window_encode(buf, sizeof(buf), x->stream,
						(uint32_t)len));
}

static void sk__in_done(uv_write_t *req, int status)
{
	struct sk__inreq *r = (struct sk__inreq *)req;
	struct sk__cmd *x = r->cmd;

	(void)status; /* a command that closed its stdin just drops it */
	x->in_pending--;
	sk__credit_back(x, r->len);
	free(r);
	if (x->in_end && x->in_pending == 0)
		sk__in_close(x);
}

static int sk__stdin(struct sk__cmd *x, const struct sk_frame *f)
{
	struct sk__inreq *r;
	uv_buf_t b;

	if (x->in_end)
		return SK_FRAME_CODE_BAD_STREAM;
	if (f->len > x->in_credit)
		return SK_FRAME_CODE_FLOW;
	x->in_credit -= (uint32_t)f->len;
	if (f->flags & SK_FRAME_F_END)
		x->in_end = 1;
	if (f->len > 0 && !x->in_closed && !x->ended) {
		r = malloc(sizeof(*r) + f->len);
		if (r != NULL) {
			r->cmd = x;
			r->len = f->len;
			memcpy(r->data, f->payload, f->len);
			b = uv_buf_init(r->data, (unsigned)f->len);
			if (uv_write(&r->req, (uv_stream_t *)&x->in, &b, 1,
				     sk__in_done) == 0) {
				x->in_pending++;
				return 0;
			}
			free(r);
		}
	}
	/* Not written (stdin closed, or no memory): the credit comes back
	 * at once, so the client is never stuck. */
	sk__credit_back(x, f->len);
	if (x->in_end && x->in_pending == 0)
		sk__in_close(x);
	return 0;
}

/* ---- starting a command ---- */

/* Room for a command's strings, as C strings. */
static char sk__arena[SK_FRAME_MAX_PAYLOAD + SK_EXEC_MAX_ARGS +
		      SK_EXEC_MAX_ENV + 64];
static char *sk__argv[SK_EXEC_MAX_ARGS + 4];
static char *sk__envp[SK_EXEC_MAX_ENV + 2];
static struct sk_frame_exec sk__req;

static char *sk__cstr(size_t *off, const struct sk_frame_str *s)
{
	char *p = sk__arena + *off;

	memcpy(p, s->p, s->len);
	p[s->len] = '\0';
	*off += s->len + 1;
	return p;
}

static int sk__env_allowed(const struct sk__exec_cfg *cfg, const char *pair,
			   size_t len)
{
	const char *eq = memchr(pair, '=', len);
	size_t n = eq != NULL ? (size_t)(eq - pair) : len;

	if (cfg->nenv == 0) {
		for (size_t i = 0; i < sizeof(sk__env_default) /
					       sizeof(sk__env_default[0]);
		     i++)
			if (strlen(sk__env_default[i]) == n &&
			    memcmp(sk__env_default[i], pair, n) == 0)
				return 1;
		return 0;
	}
	for (unsigned i = 0; i < cfg->nenv; i++)
		if (strlen(cfg->env[i]) == n && memcmp(cfg->env[i], pair, n) == 0)
			return 1;
	return 0;
}

/* Wrap fd in p; on success p owns fd. */
static int sk__pipe_open(uv_loop_t *loop, uv_pipe_t *p, int fd,
			 struct sk__cmd *x)
{
	int rc = uv_pipe_init(loop, p, 0);

	if (rc != 0) {
		close(fd);
		return rc;
	}
	p->data = x;
	x->open++;
	rc = uv_pipe_open(p, fd);
	if (rc != 0)
		close(fd);
	return rc;
}

/* Who c's client is, for the per-client limit: the identity its key
 * proved (its place in the key file), or its address (an IPv6 /64),
 * or, on a unix socket, the one local client. */
static void sk__who(struct sk_conn *c, struct sk__xconn *xc)
{
	const char *id;
	const struct sockaddr *sa;

	if (xc->known)
		return;
	xc->known = 1;
	memset(&xc->who, 0, sizeof(xc->who));
	id = sk_tls_identity(c);
	if (id != NULL) {
		/* Identities are at most 64 bytes: hash them into the key,
		 * marked apart from addresses by its last byte. */
		uint64_t h = 1469598103934665603ull;

		for (const char *p = id; *p != '\0'; p++)
			h = (h ^ (uint8_t)*p) * 1099511628211ull;
		memcpy(xc->who.b, &h, sizeof(h));
		xc->who.b[15] = 0xa5;
		return;
	}
	sa = sk_conn_peer(c);
	if (sa->sa_family == AF_INET || sa->sa_family == AF_INET6) {
		int v6;
		const uint8_t *a = sk_sockaddr_bytes(sa, &v6);

		sk_rl_key_make(&xc->who, a, v6);
	}
}

/*
 * Start o for c on stream (raw: for the tutorial's client, whose reply
 * is gathered rather than framed). A refusal is answered on the stream
 * (framed) or as text (raw); returns the command, or NULL.
 */
static struct sk__cmd *sk__start(struct sk_conn *c, struct sk__xconn *xc,
				 uint32_t stream,
				 const struct sk_proc_opts *o,
				 uint32_t timeout_ms, int raw)
{
	struct sk__exec *ex = xc->ex;
	const struct sk__exec_cfg *cfg = ex->cfg;
	struct sk__cmd *x;
	uint64_t ms;
	int rc;

	sk__who(c, xc);
	if (sk_srcmap_take(&ex->clients, &xc->who, cfg->max_per_client) != 1) {
		if (raw)
			sk_conn_write(c, "error: too many commands\n", 25);
		else
			sk__send_error(c, stream, SK_FRAME_CODE_TOO_MANY,
				       "too many commands for this client");
		return NULL;
	}
	x = calloc(1, sizeof(*x));
	if (x == NULL) {
		sk_srcmap_put(&ex->clients, &xc->who);
		if (raw)
			sk_conn_write(c, "error: out of memory\n", 21);
		else
			sk__send_error(c, stream, SK_FRAME_CODE_INTERNAL,
				       "out of memory");
		return NULL;
	}
	rc = sk_proc_spawn(o, &x->p);
	if (rc != 0) {
		char text[SK_FRAME_MAX_TEXT];
		int n = snprintf(text, sizeof(text), "%.160s: %s",
				 o->argv[0], strerror(-rc));

		if (raw)
			sk_conn_write(c, text, n > 0 ? (size_t)n : 0);
		else
			sk__send_error(c, stream,
				       rc == -ENOENT || rc == -ENOTDIR
					       ? SK_FRAME_CODE_NOT_FOUND
				       : rc == -EACCES || rc == -EPERM
					       ? SK_FRAME_CODE_PERMISSION
					       : SK_FRAME_CODE_INTERNAL,
				       text);
		free(x);
		sk_srcmap_put(&ex->clients, &xc->who);
		return NULL;
	}
	x->who = xc->who;
	x->client_counted = 1;
	x->raw = raw ? 1 : 0;
	x->ex = ex;
	x->svc = sk_conn_svc(c);
	x->conn = sk_conn_id_of(c);
	x->stream = stream;
	/* Raw output is gathered, not framed: no credit to wait for. */
	x->credit = raw ? SK_EXEC_WINDOW_MAX : SK_EXEC_WINDOW;
	x->in_credit = SK_EXEC_WINDOW;
	x->cap = raw ? SK_EXEC_RAW_MAX : (uint64_t)cfg->output_mib << 20;
	/* On both lists before any handle, so every path frees it. */
	x->anext = ex->all;
	if (ex->all != NULL)
		ex->all->aprev = x;
	ex->all = x;
	x->next = xc->cmds;
	if (xc->cmds != NULL)
		xc->cmds->prev = x;
	xc->cmds = x;
	x->owner = xc;
	xc->nrun++;
	x->counted = 1;
	ex->running++;
	{
		uv_loop_t *loop = sk_svc_loop(x->svc);

		/* Each fd passes to libuv in turn; one not yet passed is
		 * closed by sk__cmd_release(). */
		rc = uv_timer_init(loop, &x->timer);
		if (rc == 0) {
			x->timer.data = x;
			x->open++;
			x->h_timer = 1;
			rc = uv_poll_init(loop, &x->exitw, x->p.pidfd);
		}
		if (rc == 0) {
			x->exitw.data = x;
			x->open++;
			x->h_exitw = 1;
			rc = sk__pipe_open(loop, &x->in, x->p.in, x);
			x->h_in = x->in.data == x;
			x->p.in = -1;
		}
		if (rc == 0) {
			rc = sk__pipe_open(loop, &x->out, x->p.out, x);
			x->h_out = x->out.data == x;
			x->p.out = -1;
		}
		if (rc == 0) {
			rc = sk__pipe_open(loop, &x->err, x->p.err, x);
			x->h_err = x->err.data == x;
			x->p.err = -1;
		}
		if (rc == 0)
			rc = uv_poll_start(&x->exitw, UV_READABLE, sk__exited);
	}
	if (rc != 0) {
		/* Out of handles: kill it, reap it here, and say so. */
		sk_proc_kill(&x->p, SIGKILL);
		waitpid(x->p.pid, NULL, 0);
		x->p.pid = -1; /* reaped: never signal its id again */
		x->exited = 1;
		x->out_eof = x->err_eof = 1;
		x->why = SK_FRAME_CODE_INTERNAL;
		sk__cmd_end(x);
		return NULL;
	}
	ms = timeout_ms != 0 ? timeout_ms : (uint64_t)cfg->timeout * 1000;
	if (cfg->max_timeout != 0 &&
	    (ms == 0 || ms > (uint64_t)cfg->max_timeout * 1000))
		ms = (uint64_t)cfg->max_timeout * 1000;
	if (ms != 0) {
		uv_timer_start(&x->timer, sk__timeout, ms, 0);
		x->timed = 1;
	}
	if (raw) {
		sk__in_close(x); /* the tutorial sends no stdin */
	} else {
		uint8_t buf[SK_FRAME_HEADER];

		sk__send(c, buf, sk_frame_encode(buf, sizeof(buf),
						 SK_FRAME_EXEC_OK, 0, x->stream,
						 NULL, 0));
	}
	sk__reading(x, 1);
	return x;
}


/* An EXEC on a new stream: start it or refuse it on the stream. */
static int sk__exec(struct sk_conn *c, struct sk__xconn *xc,
		    const struct sk_frame *f)
{
	struct sk__exec *ex = xc->ex;
	const struct sk__exec_cfg *cfg = ex->cfg;
	struct sk_proc_opts o;
	size_t off = 0, nenv = 0;

	if (f->stream <= xc->last)
		return SK_FRAME_CODE_BAD_STREAM;
	xc->last = f->stream;
	if (sk_frame_exec_decode(f, &sk__req) != 0)
		return SK_FRAME_CODE_BAD_FRAME;
	if (ex->stopping) {
		sk__send_error(c, f->stream, SK_FRAME_CODE_SHUTDOWN,
			       "the server is stopping");
		return 0;
	}
	if (xc->nrun >= cfg->max_per_conn || ex->running >= cfg->max_commands) {
		sk__send_error(c, f->stream, SK_FRAME_CODE_TOO_MANY,
			       xc->nrun >= cfg->max_per_conn
				       ? "too many commands on this connection"
				       : "too many commands on this server");
		return 0;
	}
	if (sk__req.shell && !cfg->shell) {
		sk__send_error(c, f->stream, SK_FRAME_CODE_POLICY,
			       "this server runs no shell lines");
		return 0;
	}
	memset(&o, 0, sizeof(o));
	if (sk__req.shell) {
		static char sh[] = "/bin/sh", dash_c[] = "-c";

		sk__argv[0] = sh;
		sk__argv[1] = dash_c;
		sk__argv[2] = sk__cstr(&off, &sk__req.argv[0]);
		sk__argv[3] = NULL;
	} else {
		for (size_t i = 0; i < sk__req.argc; i++)
			sk__argv[i] = sk__cstr(&off, &sk__req.argv[i]);
		sk__argv[sk__req.argc] = NULL;
	}
	sk__envp[nenv++] = (char *)SK__EXEC_PATH;
	for (size_t i = 0; i < sk__req.envc; i++)
		if (sk__env_allowed(cfg, sk__req.env[i].p, sk__req.env[i].len))
			sk__envp[nenv++] = sk__cstr(&off, &sk__req.env[i]);
	sk__envp[nenv] = NULL;
	o.file = sk__argv[0];
	o.argv = sk__argv;
	o.envp = sk__envp;
	o.cwd = sk__req.cwd.len > 0 ? sk__cstr(&off, &sk__req.cwd) : "/";
	o.cpu = cfg->cpu;
	o.nofile = cfg->nofile;
	o.nproc = cfg->nproc;
	sk__start(c, xc, f->stream, &o, sk__req.timeout_ms, 0);
	return 0;
}

/* ---- frames from the client ---- */

static struct sk__cmd *sk__find(struct sk__xconn *xc, uint32_t stream)
{
	for (struct sk__cmd *x = xc->cmds; x != NULL; x = x->next)
		if (x->stream == stream)
			return x;
	return NULL;
}

/* One frame; returns 0 or the ERROR code of a connection error. */
static int sk__frame(struct sk_conn *c, struct sk__xconn *xc,
		     const struct sk_frame *f)
{
	struct sk__cmd *x;
	int rc = sk_frame_check(f, SK_FRAME_CLIENT);

	if (rc != 0)
		return (int)sk_frame_code(rc);
	if (f->type == SK_FRAME_HELLO)
		return SK_FRAME_CODE_BAD_FRAME; /* a second one */
	if (f->type == SK_FRAME_ERROR)
		return -1; /* the client gives up: close */
	if (f->type == SK_FRAME_EXEC)
		return sk__exec(c, xc, f);
	if (f->stream > xc->last)
		return SK_FRAME_CODE_BAD_STREAM;
	x = sk__find(xc, f->stream);
	if (x == NULL || x->reset)
		return 0; /* the stream has ended: frames crossed */
	switch (f->type) {
	case SK_FRAME_STDIN:
		return sk__stdin(x, f);
	case SK_FRAME_SIGNAL: {
		struct sk_frame_str name;
		int sig;

		if (sk_frame_signal_decode(f, &name) != 0)
			return SK_FRAME_CODE_BAD_FRAME;
		sig = sk_signal_number(name.p, name.len);
		if (sig > 0)
			sk_proc_kill(&x->p, sig);
		return 0;
	}
	case SK_FRAME_WINDOW_UPDATE: {
		uint32_t inc;

		if (sk_frame_window_decode(f, &inc) != 0)
			return SK_FRAME_CODE_BAD_FRAME;
		if (sk_frame_window_add(&x->credit, inc) != 0)
			return SK_FRAME_CODE_FLOW;
		sk__reading(x, 1);
		return 0;
	}
	case SK_FRAME_RESET: {
		unsigned code;

		if (sk_frame_reset_decode(f, &code) != 0)
			return SK_FRAME_CODE_BAD_FRAME;
		x->reset = 1;
		/* Its place on the connection is free at once; the server's
		 * total still counts it until it is reaped. */
		if (x->counted) {
			x->counted = 0;
			xc->nrun--;
		}
		sk__cmd_kill(x, SK_FRAME_CODE_CANCEL);
		/* Read on to EOF, discarding, so it can end. */
		x->credit = SK_EXEC_WINDOW_MAX;
		sk__reading(x, 1);
		return 0;
	}
	default:
		return SK_FRAME_CODE_UNKNOWN_TYPE;
	}
}

/* Is c's end of the connection on loopback or a unix socket? */
static int sk__local(struct sk_conn *c)
{
	return sk_sockaddr_is_loopback(sk_conn_local(c));
}

/*
 * The tutorial's remote command: what one read brought is one shell line
 * (a trailing CR LF dropped); its output comes back whole, stdout then
 * stderr, or 命令执行OK when there is none. One at a time: the input is
 * held while the command runs.
 */
static size_t sk__raw(struct sk_conn *c, struct sk__xconn *xc,
		      const char *buf, size_t len)
{
	static char sh[] = "/bin/sh", dash_c[] = "-c";
	const struct sk__exec_cfg *cfg = xc->ex->cfg;
	struct sk_proc_opts o;
	size_t n = len;

	if (len == 0)
		return 0;
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		n--;
	sk_conn_progress(c);
	if (n == 0)
		return len;
	if (memchr(buf, '\0', n) != NULL || n >= sizeof(sk__arena)) {
		sk_conn_write(c, "error: not a command line\n", 26);
		return len;
	}
	if (xc->nrun >= cfg->max_per_conn ||
	    xc->ex->running >= cfg->max_commands) {
		sk_conn_write(c, "error: too many commands\n", 25);
		return len;
	}
	memcpy(sk__arena, buf, n);
	sk__arena[n] = '\0';
	sk__argv[0] = sh;
	sk__argv[1] = dash_c;
	sk__argv[2] = sk__arena;
	sk__argv[3] = NULL;
	sk__envp[0] = (char *)SK__EXEC_PATH;
	sk__envp[1] = NULL;
	memset(&o, 0, sizeof(o));
	o.file = sk__argv[0];
	o.argv = sk__argv;
	o.envp = sk__envp;
	o.cwd = "/";
	o.cpu = cfg->cpu;
	o.nofile = cfg->nofile;
	o.nproc = cfg->nproc;
	if (sk__start(c, xc, 0, &o, 0, 1) != NULL)
		sk_conn_hold(c, 1);
	return len;
}

/* Frames handled per call; the rest wait for the next loop turn. */
#define SK__FRAMES_PER_TURN 64

static size_t sk__exec_read(struct sk_conn *c, const char *buf, size_t len)
{
	struct sk__xconn *xc = sk_conn_data(c);
	const uint8_t *in = (const uint8_t *)buf;
	size_t used = 0;

	for (int k = 0; k < SK__FRAMES_PER_TURN && !sk_conn_paused(c); k++) {
		struct sk_frame f;
		int n, rc;

		if (xc->raw)
			return sk__raw(c, xc, buf + used, len - used) + used;
		if (!xc->hello &&
		    !sk_frame_hello_prefix(in + used, len - used)) {
			/* Not our protocol: the tutorial's raw commands where
			 * allowed (and only ever in plaintext, which means
			 * loopback), else close without a reply. */
			if (xc->ex->cfg->raw && sk__local(c) &&
			    xc->ex->cfg->insecure) {
				xc->raw = 1;
				return sk__raw(c, xc, buf + used, len - used) +
				       used;
			}
			sk_conn_end(c);
			return len;
		}
		n = sk_frame_parse(in + used, len - used, &f);
		if (n == 0)
			break;
		if (n < 0) {
			sk__fail(c, SK_FRAME_CODE_BAD_FRAME,
				 "frame larger than 16384 bytes");
			return len;
		}
		used += (size_t)n;
		sk_conn_progress(c);
		if (!xc->hello) {
			uint8_t out[SK_FRAME_HEADER + SK_FRAME_HELLO_LEN];
			unsigned version = 0;

			rc = sk_frame_hello_decode(&f, &version);
			if (rc == SK_FRAME_E_VERSION) {
				sk__fail(c, SK_FRAME_CODE_VERSION,
					 "this server speaks version 1");
				return len;
			}
			if (rc != 0) {
				sk__fail(c, SK_FRAME_CODE_BAD_FRAME,
					 "expected HELLO");
				return len;
			}
			xc->hello = 1;
			sk__send(c, out, sk_frame_hello_encode(out, sizeof(out),
							       SK_FRAME_VERSION));
			continue;
		}
		rc = sk__frame(c, xc, &f);
		if (rc < 0) {
			sk_conn_end(c);
			return len;
		}
		if (rc > 0) {
			sk__fail(c, (unsigned)rc, sk_frame_code_name((unsigned)rc));
			return len;
		}
	}
	return used;
}

static void sk__exec_accept(struct sk_conn *c)
{
	struct sk__xconn *xc = sk_conn_data(c);
	struct sk__exec *ex = sk_svc_data(sk_conn_svc(c));

	xc->ex = ex;
	if (ex->cfg->insecure && sk__local(c))
		return; /* plaintext frames */
	if (sk_tls_accept(c, ex->tls) != 0)
		sk_conn_abort(c, SK_CLOSE_NOMEM);
}

static void sk__exec_close(struct sk_conn *c, enum sk_close_reason why)
{
	struct sk__xconn *xc = sk_conn_data(c);
	struct sk__cmd *x;

	(void)why;
	/* Its commands go with it; they end (and are freed) once reaped. */
	while ((x = xc->cmds) != NULL) {
		sk__cmd_detach(x);
		if (x->counted)
			xc->nrun--;
		x->counted = 0;
		x->conn = 0;
		sk__cmd_kill(x, SK_FRAME_CODE_CANCEL);
		x->credit = SK_EXEC_WINDOW_MAX;
		sk__reading(x, 1);
	}
}

/* ---- the service ---- */

/* Make the default key file on first start, with one identity. */
static int sk__first_keys(const char *path)
{
	char id[SK_KEY_ID_MAX + 1], err[512];
	int rc;

	sk_keys_default_id(id);
	rc = sk_keys_add(path, id, err, sizeof(err));
	if (rc != 0) {
		sk_log_warnx("exec: %s", err);
		return rc;
	}
	sk_log_info("exec: made key file %s (identity %s)", path, id);
	return 0;
}

static int sk__exec_init(struct sk_svc *s)
{
	const struct sk__exec_cfg *cfg = sk_svc_settings(s);
	struct sk__exec *ex = calloc(1, sizeof(*ex));
	char path[1024], err[512];
	int rc;

	if (ex == NULL)
		return -ENOMEM;
	ex->cfg = cfg;
	{
		uint64_t seed[2] = { 0, 0 };

		uv_random(NULL, NULL, seed, sizeof(seed), 0, NULL);
		sk_srcmap_init(&ex->clients, seed);
	}
	if (cfg->keys[0] != '\0') {
		snprintf(path, sizeof(path), "%s", cfg->keys);
	} else if ((rc = sk_keys_default_path(path, sizeof(path))) != 0) {
		sk_log_warnx("exec: no key file: set exec keys, "
			     "XDG_CONFIG_HOME or HOME");
		free(ex);
		return rc;
	} else if (access(path, F_OK) != 0 &&
		   (rc = sk__first_keys(path)) != 0) {
		free(ex);
		return rc;
	}
	rc = sk_tls_server_new(path, &ex->tls, err, sizeof(err));
	if (rc != 0) {
		sk_log_warnx("exec: %s", err);
		free(ex);
		return rc;
	}
	sk_svc_set_data(s, ex);
	return 0;
}

static void sk__exec_stop(struct sk_svc *s)
{
	struct sk__exec *ex = sk_svc_data(s);

	ex->stopping = 1;
	for (struct sk__cmd *x = ex->all; x != NULL; x = x->anext) {
		if (!x->ended) {
			struct sk_conn *c = sk__conn_of(x);

			if (c != NULL && !x->reset) {
				sk__send_error(c, x->stream,
					       SK_FRAME_CODE_SHUTDOWN,
					       "the server is stopping");
				x->reset = 1; /* nothing more on it */
			}
			sk__cmd_kill(x, SK_FRAME_CODE_SHUTDOWN);
		}
	}
}

static void sk__exec_fini(struct sk_svc *s)
{
	struct sk__exec *ex = sk_svc_data(s);

	if (ex == NULL)
		return;
	sk_tls_free(ex->tls);
	sk_srcmap_fini(&ex->clients);
	free(ex);
}

static int sk__exec_check(void *settings, char *err, size_t cap)
{
	struct sk__exec_cfg *x = settings;

	if (x->raw && !x->insecure) {
		snprintf(err, cap, "raw commands have no authentication: they "
			 "need insecure = 1");
		return -1;
	}
	if (x->max_per_client > x->max_commands)
		x->max_per_client = x->max_commands;
	if (x->max_per_conn > x->max_commands) {
		snprintf(err, cap, "max-per-conn %u is over max-commands %u",
			 x->max_per_conn, x->max_commands);
		return -1;
	}
	return 0;
}

const struct sk_service sk_exec = {
	.name = "exec",
	.transports = SK_TCP,
	.port = 8082,
	.summary = "remote commands, framed, in TLS 1.3 with a PSK",
	.opts = sk__exec_opts,
	.settings_size = sizeof(struct sk__exec_cfg),
	.check = sk__exec_check,
	.limits = &sk__exec_limits,
	.init = sk__exec_init,
	.stop = sk__exec_stop,
	.fini = sk__exec_fini,
	.conn_size = sizeof(struct sk__xconn),
	.in_size = SK_FRAME_MAX,
	.tcp_accept = sk__exec_accept,
	.tcp_read = sk__exec_read,
	.tcp_close = sk__exec_close,
};
