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
 * Over UDP (src/net/dtls.c, src/proto/rmsg.c) a DTLS 1.2 session with
 * the same keys carries requests of the reliable message layer: each
 * runs once per request id, its output (the frames the TCP server would
 * send on a stream) is cached up to a cap and delivered in fragments
 * the client acknowledges; there is no stdin. The tutorial's raw UDP
 * commands (one datagram, one shell line; the output in datagrams of at
 * most 1024 bytes, or "ok") are served from loopback when configured.
 *
 * A command lives in a struct sk__cmd until its process has been reaped
 * and every libuv handle it had is closed; it refers to its connection
 * by a weak id, and to its UDP session by a pointer its session clears
 * when it goes, since either may go first. Where its replies and output
 * go is its kind (SK__K_*).
 */
#include "svc_exec.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <uv.h>

#include "../net/dtls.h"
#include "../net/log.h"
#include "../net/proc.h"
#include "../net/sockaddr.h"
#include "../net/table.h"
#include "../net/tls.h"
#include "../proto/frame.h"
#include "../proto/rmsg.h"

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
	unsigned udp_sessions;   /* DTLS sessions at once */
	unsigned udp_idle;       /* s a DTLS session lives unheard */
	unsigned udp_output_kib; /* output of one UDP request, KiB */
	unsigned udp_cache_mib;  /* UDP outputs held, all sessions, MiB */
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
	SK_OPT_NUM(SK_OPT_UINT, "udp-sessions", SK__X(udp_sessions), 1, 65536,
		   "256", "N", "DTLS sessions at once (exec over UDP)"),
	SK_OPT_NUM(SK_OPT_UINT, "udp-idle", SK__X(udp_idle), 1, 86400, "300",
		   "S", "a DTLS session with no datagram for S seconds ends"),
	SK_OPT_NUM(SK_OPT_UINT, "udp-max-output-kib", SK__X(udp_output_kib), 1,
		   SK_RMSG_OUTPUT_MAX / 1024, "1024", "KIB",
		   "output of one UDP command before it is cut (and\n"
		   "killed)"),
	SK_OPT_NUM(SK_OPT_UINT, "udp-cache-mib", SK__X(udp_cache_mib), 1,
		   65536, "256", "MIB",
		   "UDP output held for delivery, all sessions; past it\n"
		   "outputs are cut"),
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
	/* UDP: a client acknowledges every second datagram of output, a
	 * few thousand a second for a bulk one; DTLS's cookie and its
	 * records' MACs make the rest cheap to refuse. */
	.rate = { 5000, 10000, 0 },
	.global = { 50000, 50000, 0 },
	.out = { 0, 1, 0 },
};

struct sk__cmd;

/* The service, on one server. */
struct sk__exec {
	const struct sk__exec_cfg *cfg; /* settings */
	struct sk_tls *tls;             /* the keys' TLS context */
	struct sk_dtls *dtls;           /* the keys' DTLS sessions */
	struct sk__cmd *all;            /* every command not yet freed */
	struct sk_srcmap clients;       /* commands running per client */
	unsigned running;               /* of them, not yet ended */
	size_t umem;                    /* bytes of UDP output held */
	uv_loop_t *loop;                /* the server's */
	int stopping;                   /* shutdown has begun */
};

/* Whose commands a list holds: a connection's or a UDP session's. */
struct sk__owner {
	struct sk__cmd *cmds;  /* its commands, until they end */
	unsigned nrun;         /* of them, not reset and not ended */
};

/* A connection's state. */
struct sk__xconn {
	struct sk__exec *ex;   /* the service */
	int hello;             /* its HELLO has come */
	uint32_t last;         /* the highest stream id opened */
	struct sk__owner own;  /* its commands */
	int raw;               /* the tutorial's raw protocol */
	struct sk_rl_key who;  /* the client, as counted per client */
	int known;             /* who is set */
};

/* A DTLS session's state: its requests. */
struct sk__usess {
	struct sk__exec *ex;     /* the service */
	struct sk_dtls_sess *d;  /* its DTLS session */
	struct sk__owner own;    /* its commands */
	struct sk_rl_key who;    /* its client (the identity) */
	struct sk_rmsg_srv rm;   /* the reliable message layer */
};

/* Where a command's replies and output go. */
enum sk__kind {
	SK__K_FRAMED = 0, /* frames on a stream of a TCP connection */
	SK__K_RAW,        /* the tutorial's TCP client: gathered, then sent */
	SK__K_RMSG,       /* a request of a UDP session */
	SK__K_UDPRAW,     /* the tutorial's UDP client: gathered, then sent
			   * in datagrams */
};

/* A command's destination, as sk__start() is told it. */
struct sk__to {
	enum sk__kind kind;          /* which of the following hold */
	struct sk_conn *c;           /* FRAMED, RAW: the connection */
	uint32_t stream;             /* FRAMED: the stream */
	struct sk__usess *us;        /* RMSG: the session */
	uint64_t rid;                /* RMSG: the request id */
	struct sk_udp *u;            /* UDPRAW: the socket */
	const struct sockaddr *peer; /* UDPRAW: the client */
	struct sk__owner *own;       /* the list it joins; NULL: none */
	const struct sk_rl_key *who; /* its client, for max-per-client */
};

/* One command. */
struct sk__cmd {
	struct sk__cmd *next, *prev;   /* its owner's list */
	struct sk__owner *owner;       /* that list while x is on it, else
					* NULL: a connection or a session
					* empties its list before it goes */
	struct sk__cmd *anext, *aprev; /* the service's list */
	struct sk__exec *ex;           /* the service */
	struct sk_svc *svc;            /* for weak lookups */
	enum sk__kind kind;            /* where its output goes */
	sk_conn_id conn;               /* its connection; 0 once gone */
	uint32_t stream;               /* its stream */
	struct sk__usess *us;          /* RMSG: its session; NULL once gone */
	uint64_t rid;                  /* RMSG: its request id */
	struct sk_udp *u;              /* UDPRAW: the socket */
	struct sockaddr_storage peer;  /* UDPRAW: the client */
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
	unsigned out_grown : 1;        /* stdout's pipe grew, or will not */
	unsigned err_grown : 1;        /* stderr's, the same */
	unsigned in_end : 1;           /* END came: close stdin when written */
	unsigned in_closed : 1;        /* stdin is closed */
	unsigned reading : 1;          /* stdout and stderr being read */
	unsigned reset : 1;            /* the client reset the stream */
	unsigned ended : 1;            /* EXIT or ERROR sent, or cannot be */
	unsigned timed : 1;            /* the timer runs */
	unsigned counted : 1;          /* in its connection's nrun */
	unsigned client_counted : 1;   /* in the service's per-client map */
	struct sk_rl_key who;          /* its client */
	unsigned raw : 1;              /* RAW or UDPRAW: output gathered */
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
 * per 1 MiB (as much as the client's credit and the pipe allow; see
 * sk__pipe_grow()) instead of 64 of each.
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

/* A UDP session: send what its layer has for now, and set its next
 * wake-up. The session may end here (its packet numbers are spent). */
static void sk__uflush(struct sk__usess *us)
{
	uint8_t buf[SK_RMSG_MAX_DGRAM];
	uint64_t now = sk_dtls_now();
	int n;

	while ((n = sk_rmsg_srv_poll(&us->rm, now, buf, sizeof(buf))) > 0)
		sk_dtls_send(us->d, buf, (size_t)n);
	if (n < 0) {
		sk_dtls_end(us->d); /* frees us */
		return;
	}
	sk_dtls_wake(us->d, sk_rmsg_srv_next_timeout(&us->rm, now));
}

/* Refuse a request whose command does not exist (yet): code and text
 * for a framed or UDP client, rawtext for the tutorial's. */
static void sk__refuse(const struct sk__to *to, unsigned code,
		       const char *text, const char *rawtext)
{
	switch (to->kind) {
	case SK__K_FRAMED:
		sk__send_error(to->c, to->stream, code, text);
		break;
	case SK__K_RAW:
		sk_conn_write(to->c, rawtext, strlen(rawtext));
		break;
	case SK__K_RMSG:
		sk_rmsg_srv_error(&to->us->rm, sk_dtls_now(), to->rid, code,
				  text, strlen(text));
		break;
	case SK__K_UDPRAW:
		sk_udp_send(to->u, to->peer, rawtext, strlen(rawtext));
		break;
	}
}

/* Why a command that did not exit by itself ended, for its ERROR. */
static const char *sk__why_text(unsigned why)
{
	return why == SK_FRAME_CODE_TIMEOUT     ? "timed out"
	       : why == SK_FRAME_CODE_TRUNCATED ? "output over the cap"
					       : "stopped";
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
	struct sk__owner *xo = x->owner;

	if (xo == NULL)
		return;
	if (x->prev != NULL)
		x->prev->next = x->next;
	else
		xo->cmds = x->next;
	if (x->next != NULL)
		x->next->prev = x->prev;
	x->next = x->prev = NULL;
	x->owner = NULL;
}

/* The command has ended: it exited and its pipes reached EOF. */
/* How the command ended, for its EXIT. */
static void sk__exit_of(const struct sk__cmd *x, struct sk_frame_exit *e)
{
	memset(e, 0, sizeof(*e));
	if (WIFEXITED(x->status)) {
		e->status = (unsigned)WEXITSTATUS(x->status);
	} else {
		const char *name = sk_signal_name(WTERMSIG(x->status));

		e->signaled = 1;
		e->core = WCOREDUMP(x->status) ? 1 : 0;
		e->signal.p = name != NULL ? name : "KILL";
		e->signal.len = strlen(e->signal.p);
	}
}

/* The tutorial's UDP reply: the output in datagrams of at most
 * SK_EXEC_UDP_RAW_DGRAM bytes (its client reads 1024), or "ok". */
static void sk__udpraw_reply(struct sk__cmd *x)
{
	const struct sockaddr *to = (const struct sockaddr *)&x->peer;
	size_t len = x->rout + x->rerr;

	if (len == 0) {
		sk_udp_send(x->u, to, "ok", 2);
		return;
	}
	for (size_t off = 0; off < len; off += SK_EXEC_UDP_RAW_DGRAM)
		sk_udp_send(x->u, to, x->rbuf + off,
			    len - off < SK_EXEC_UDP_RAW_DGRAM
				    ? len - off
				    : SK_EXEC_UDP_RAW_DGRAM);
}

static void sk__cmd_end(struct sk__cmd *x)
{
	struct sk_conn *c = sk__conn_of(x);
	/* Not sk_conn_data(c): a closing connection is no longer found by
	 * its id, yet x stays on its list until tcp_close empties it. */
	struct sk__owner *xo = x->owner;
	struct sk__usess *flush = NULL;
	struct sk_frame_exit e;

	/* Whatever it left running in the background goes with it; the
	 * leader is still a zombie (see sk__exited), so its group's id is
	 * still its own. Then it is reaped. */
	sk_proc_kill(&x->p, SIGKILL);
	if (x->exited) {
		int st;

		sk_proc_reap(&x->p, &st, 0);
	}
	if (x->kind == SK__K_RAW && c != NULL) {
		/* The tutorial's reply: the output, or its "done" when there
		 * is none. */
		static const char ok[] = "\xe5\x91\xbd\xe4\xbb\xa4\xe6\x89\xa7"
					 "\xe8\xa1\x8cOK"; /* 命令执行OK */

		if (x->rout + x->rerr > 0)
			sk_conn_write(c, x->rbuf, x->rout + x->rerr);
		else
			sk_conn_write(c, ok, sizeof(ok) - 1);
		sk_conn_hold(c, 0);
	} else if (x->kind == SK__K_UDPRAW) {
		sk__udpraw_reply(x);
	} else if (x->kind == SK__K_FRAMED && c != NULL && !x->reset &&
		   !x->ended) {
		uint8_t buf[SK_FRAME_HEADER + 2 + SK_FRAME_MAX_SIGNAME];

		if (x->why != 0) {
			sk__send_error(c, x->stream, x->why,
				       sk__why_text(x->why));
		} else {
			sk__exit_of(x, &e);
			sk__send(c, buf, sk_frame_exit_encode(buf, sizeof(buf),
							      x->stream, &e));
		}
	} else if (x->kind == SK__K_RMSG && x->us != NULL && !x->reset &&
		   !x->ended) {
		const char *text = sk__why_text(x->why);

		if (x->why != 0) {
			sk_rmsg_srv_error(&x->us->rm, sk_dtls_now(), x->rid,
					  x->why, text, strlen(text));
		} else {
			sk__exit_of(x, &e);
			sk_rmsg_srv_exit(&x->us->rm, sk_dtls_now(), x->rid, &e);
		}
		flush = x->us;
	}
	x->ended = 1;
	if (xo != NULL) {
		sk__cmd_detach(x);
		if (x->counted)
			xo->nrun--;
	}
	if (x->client_counted) {
		x->client_counted = 0;
		sk_srcmap_put(&x->ex->clients, &x->who);
	}
	x->ex->running--;
	sk__cmd_release(x);
	if (flush != NULL)
		sk__uflush(flush);
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

/* A read of n bytes that took all a new pipe holds (64 KiB: the command
 * writes faster than we read) grows the pipe to SK_EXEC_PIPE_MAX, once,
 * when the client has granted more than the initial window (n is already
 * taken from its credit): a client that asked for bulk output, not one
 * that never reads, whose command keeps a small pipe. */
static void sk__pipe_grow(struct sk__cmd *x, int is_out, size_t n)
{
	uv_os_fd_t fd;

	if (n < 65536 || (is_out ? x->out_grown : x->err_grown) ||
	    (uint64_t)x->credit + n <= SK_EXEC_WINDOW)
		return;
	if (is_out)
		x->out_grown = 1;
	else
		x->err_grown = 1;
	if (uv_fileno((uv_handle_t *)(is_out ? &x->out : &x->err), &fd) == 0)
		(void)fcntl(fd, F_SETPIPE_SZ, SK_EXEC_PIPE_MAX);
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
	if (x->kind == SK__K_RMSG) {
		/* The layer caches it up to the cap, which bounds memory; a
		 * command over it is cut there and killed. */
		if (!x->reset && x->us != NULL &&
		    sk_rmsg_srv_output(&x->us->rm, sk_dtls_now(), x->rid,
				       is_out ? SK_FRAME_STDOUT
					      : SK_FRAME_STDERR,
				       buf->base, (size_t)n) == SK_RMSG_CUT) {
			x->reset = 1; /* its stream has ended */
			sk__cmd_kill(x, SK_FRAME_CODE_TRUNCATED);
		}
		if (x->us != NULL)
			sk__uflush(x->us);
		return;
	}
	x->credit -= (uint32_t)n;
	sk__pipe_grow(x, is_out, (size_t)n);
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

/* A client as the per-client limit counts it: the identity its key
 * proved (the same over TCP and UDP), else its address (an IPv6 /64),
 * or, on a unix socket, the one local client. */
static void sk__who_of(struct sk_rl_key *who, const char *id,
		       const struct sockaddr *sa)
{
	memset(who, 0, sizeof(*who));
	if (id != NULL) {
		/* Identities are at most 64 bytes: hash them into the key,
		 * marked apart from addresses by its last byte. */
		uint64_t h = 1469598103934665603ull;

		for (const char *p = id; *p != '\0'; p++)
			h = (h ^ (uint8_t)*p) * 1099511628211ull;
		memcpy(who->b, &h, sizeof(h));
		who->b[15] = 0xa5;
		return;
	}
	if (sa->sa_family == AF_INET || sa->sa_family == AF_INET6) {
		int v6;
		const uint8_t *a = sk_sockaddr_bytes(sa, &v6);

		sk_rl_key_make(who, a, v6);
	}
}

/* Who c's client is (sk__who_of), worked out once. */
static void sk__who(struct sk_conn *c, struct sk__xconn *xc)
{
	if (xc->known)
		return;
	xc->known = 1;
	sk__who_of(&xc->who, sk_tls_identity(c), sk_conn_peer(c));
}

/*
 * Start o for to. A refusal is answered there (sk__refuse); returns the
 * command, or NULL.
 */
static struct sk__cmd *sk__start(struct sk__exec *ex, const struct sk__to *to,
				 const struct sk_proc_opts *o,
				 uint32_t timeout_ms)
{
	const struct sk__exec_cfg *cfg = ex->cfg;
	struct sk__cmd *x;
	uint64_t ms;
	int rc;

	if (sk_srcmap_take(&ex->clients, to->who, cfg->max_per_client) != 1) {
		sk__refuse(to, SK_FRAME_CODE_TOO_MANY,
			   "too many commands for this client",
			   "error: too many commands\n");
		return NULL;
	}
	x = calloc(1, sizeof(*x));
	if (x == NULL) {
		sk_srcmap_put(&ex->clients, to->who);
		sk__refuse(to, SK_FRAME_CODE_INTERNAL, "out of memory",
			   "error: out of memory\n");
		return NULL;
	}
	rc = sk_proc_spawn(o, &x->p);
	if (rc != 0) {
		char text[SK_FRAME_MAX_TEXT];

		snprintf(text, sizeof(text), "%.160s: %s", o->argv[0],
			 strerror(-rc));
		sk__refuse(to,
			   rc == -ENOENT || rc == -ENOTDIR
				   ? SK_FRAME_CODE_NOT_FOUND
			   : rc == -EACCES || rc == -EPERM
				   ? SK_FRAME_CODE_PERMISSION
				   : SK_FRAME_CODE_INTERNAL,
			   text, text);
		free(x);
		sk_srcmap_put(&ex->clients, to->who);
		return NULL;
	}
	x->who = *to->who;
	x->client_counted = 1;
	x->kind = to->kind;
	x->raw = to->kind == SK__K_RAW || to->kind == SK__K_UDPRAW;
	x->ex = ex;
	if (to->c != NULL) {
		x->svc = sk_conn_svc(to->c);
		x->conn = sk_conn_id_of(to->c);
	}
	x->stream = to->stream;
	x->us = to->us;
	x->rid = to->rid;
	x->u = to->u;
	if (to->peer != NULL)
		memcpy(&x->peer, to->peer, sk_sockaddr_len(to->peer));
	/* Only framed output waits for credit: raw output is gathered, and
	 * UDP output is held by its layer up to its cap. */
	x->credit = to->kind == SK__K_FRAMED ? SK_EXEC_WINDOW
					     : SK_EXEC_WINDOW_MAX;
	x->in_credit = SK_EXEC_WINDOW;
	x->cap = x->raw			     ? SK_EXEC_RAW_MAX
		 : to->kind == SK__K_RMSG ? UINT64_MAX
					  : (uint64_t)cfg->output_mib << 20;
	/* On the lists before any handle, so every path frees it. */
	x->anext = ex->all;
	if (ex->all != NULL)
		ex->all->aprev = x;
	ex->all = x;
	if (to->own != NULL) {
		x->next = to->own->cmds;
		if (to->own->cmds != NULL)
			to->own->cmds->prev = x;
		to->own->cmds = x;
		x->owner = to->own;
		to->own->nrun++;
		x->counted = 1;
	}
	ex->running++;
	{
		uv_loop_t *loop = ex->loop;

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
		if (to->kind == SK__K_RMSG)
			sk_rmsg_srv_started(&x->us->rm, sk_dtls_now(), x->rid);
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
	if (to->kind == SK__K_FRAMED) {
		uint8_t buf[SK_FRAME_HEADER];

		sk__send(to->c, buf, sk_frame_encode(buf, sizeof(buf),
						     SK_FRAME_EXEC_OK, 0,
						     x->stream, NULL, 0));
	} else {
		/* The tutorial sends no stdin, nor does a UDP request. */
		sk__in_close(x);
		if (to->kind == SK__K_RMSG &&
		    sk_rmsg_srv_started(&x->us->rm, sk_dtls_now(), x->rid) ==
			    SK_RMSG_CUT) {
			x->reset = 1; /* no memory even for EXEC_OK */
			sk__cmd_kill(x, SK_FRAME_CODE_INTERNAL);
		}
	}
	sk__reading(x, 1);
	return x;
}

/*
 * Check the command sk__req describes against the policy and the limits
 * (nrun: its connection's or session's commands now), and start it for
 * to. Refusals are answered there.
 */
static void sk__request(struct sk__exec *ex, const struct sk__to *to,
			unsigned nrun)
{
	const struct sk__exec_cfg *cfg = ex->cfg;
	struct sk_proc_opts o;
	size_t off = 0, nenv = 0;

	if (ex->stopping) {
		sk__refuse(to, SK_FRAME_CODE_SHUTDOWN, "the server is stopping",
			   "");
		return;
	}
	if (nrun >= cfg->max_per_conn || ex->running >= cfg->max_commands) {
		sk__refuse(to, SK_FRAME_CODE_TOO_MANY,
			   nrun < cfg->max_per_conn
				   ? "too many commands on this server"
			   : to->kind == SK__K_RMSG
				   ? "too many commands in this session"
				   : "too many commands on this connection",
			   "");
		return;
	}
	if (sk__req.shell && !cfg->shell) {
		sk__refuse(to, SK_FRAME_CODE_POLICY,
			   "this server runs no shell lines", "");
		return;
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
	sk__start(ex, to, &o, sk__req.timeout_ms);
}

/* An EXEC on a new stream: start it or refuse it on the stream. */
static int sk__exec(struct sk_conn *c, struct sk__xconn *xc,
		    const struct sk_frame *f)
{
	struct sk__to to;

	if (f->stream <= xc->last)
		return SK_FRAME_CODE_BAD_STREAM;
	xc->last = f->stream;
	if (sk_frame_exec_decode(f, &sk__req) != 0)
		return SK_FRAME_CODE_BAD_FRAME;
	sk__who(c, xc);
	memset(&to, 0, sizeof(to));
	to.kind = SK__K_FRAMED;
	to.c = c;
	to.stream = f->stream;
	to.own = &xc->own;
	to.who = &xc->who;
	sk__request(xc->ex, &to, xc->own.nrun);
	return 0;
}

/* ---- frames from the client ---- */

static struct sk__cmd *sk__find(struct sk__xconn *xc, uint32_t stream)
{
	for (struct sk__cmd *x = xc->own.cmds; x != NULL; x = x->next)
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
			xc->own.nrun--;
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
 * One of the tutorial's command lines, line[0..n) (its CR LF dropped),
 * for to: checked, then run under /bin/sh -c with an empty environment
 * but PATH (nrun: the commands its connection runs now). Refusals are
 * answered as text. Returns the command, or NULL.
 */
static struct sk__cmd *sk__raw_run(struct sk__exec *ex,
				   const struct sk__to *to, const char *line,
				   size_t n, unsigned nrun)
{
	static char sh[] = "/bin/sh", dash_c[] = "-c";
	const struct sk__exec_cfg *cfg = ex->cfg;
	struct sk_proc_opts o;

	if (memchr(line, '\0', n) != NULL || n >= sizeof(sk__arena)) {
		sk__refuse(to, SK_FRAME_CODE_BAD_FRAME, "",
			   "error: not a command line\n");
		return NULL;
	}
	if (nrun >= cfg->max_per_conn || ex->running >= cfg->max_commands) {
		sk__refuse(to, SK_FRAME_CODE_TOO_MANY, "",
			   "error: too many commands\n");
		return NULL;
	}
	memcpy(sk__arena, line, n);
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
	return sk__start(ex, to, &o, 0);
}

/* A line without its trailing CRs and LFs: its new length. */
static size_t sk__chomp(const char *buf, size_t n)
{
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		n--;
	return n;
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
	struct sk__to to;
	size_t n;

	if (len == 0)
		return 0;
	n = sk__chomp(buf, len);
	sk_conn_progress(c);
	if (n == 0)
		return len;
	sk__who(c, xc);
	memset(&to, 0, sizeof(to));
	to.kind = SK__K_RAW;
	to.c = c;
	to.own = &xc->own;
	to.who = &xc->who;
	if (sk__raw_run(xc->ex, &to, buf, n, xc->own.nrun) != NULL)
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

/* A connection or session is going: its commands go with it; they end
 * (and are freed) once reaped. */
static void sk__orphan(struct sk__owner *own)
{
	struct sk__cmd *x;

	while ((x = own->cmds) != NULL) {
		sk__cmd_detach(x);
		if (x->counted)
			own->nrun--;
		x->counted = 0;
		x->conn = 0;
		x->us = NULL;
		sk__cmd_kill(x, SK_FRAME_CODE_CANCEL);
		x->credit = SK_EXEC_WINDOW_MAX;
		sk__reading(x, 1);
	}
}

static void sk__exec_close(struct sk_conn *c, enum sk_close_reason why)
{
	struct sk__xconn *xc = sk_conn_data(c);

	(void)why;
	sk__orphan(&xc->own);
}

/* ---- UDP: DTLS sessions of requests, and the tutorial's datagrams ---- */

/* The layer's memory for cached output, held to udp-cache-mib in all:
 * each block carries its size in front. */
static void *sk__umem(void *ctx, void *p, size_t size)
{
	struct sk__exec *ex = ctx;
	size_t *h = p != NULL ? (size_t *)p - 2 : NULL;
	size_t old = h != NULL ? h[0] : 0;
	size_t *n;

	if (size == 0) {
		ex->umem -= old;
		free(h);
		return NULL;
	}
	if (size > old &&
	    ex->umem + (size - old) > (size_t)ex->cfg->udp_cache_mib << 20)
		return NULL;
	n = realloc(h, size + 2 * sizeof(size_t));
	if (n == NULL)
		return NULL;
	ex->umem = ex->umem - old + size;
	n[0] = size;
	return n + 2;
}

static void *sk__uopen(struct sk_dtls_sess *d)
{
	struct sk__exec *ex = sk_dtls_ctx(d);
	struct sk__usess *us;
	struct sk_rmsg_srv_cfg rc;

	if (ex->stopping || (us = calloc(1, sizeof(*us))) == NULL)
		return NULL;
	us->ex = ex;
	us->d = d;
	sk__who_of(&us->who, sk_dtls_identity(d), sk_dtls_peer(d));
	memset(&rc, 0, sizeof(rc));
	rc.output_cap = (size_t)ex->cfg->udp_output_kib * 1024;
	rc.initial_rtt_us = sk_dtls_rtt(d);
	rc.mem.realloc = sk__umem;
	rc.mem.ctx = ex;
	sk_rmsg_srv_init(&us->rm, &rc, sk_dtls_now());
	return us;
}

/* A new request of a session: its EXEC frame, decoded and run. */
static void sk__uexec(struct sk__usess *us, const struct sk_rmsg_srv_event *ev)
{
	struct sk__to to;

	if (sk_frame_exec_decode(&ev->frame, &sk__req) != 0) {
		static const char text[] = "cannot decode the EXEC frame";

		sk_rmsg_srv_error(&us->rm, sk_dtls_now(), ev->id,
				  SK_FRAME_CODE_BAD_FRAME, text,
				  sizeof(text) - 1);
		return;
	}
	memset(&to, 0, sizeof(to));
	to.kind = SK__K_RMSG;
	to.us = us;
	to.rid = ev->id;
	to.own = &us->own;
	to.who = &us->who;
	sk__request(us->ex, &to, us->own.nrun);
}

/* CANCEL: the client gave the request up; its output is already gone. */
static void sk__ucancel(struct sk__usess *us, uint64_t id)
{
	for (struct sk__cmd *x = us->own.cmds; x != NULL; x = x->next) {
		if (x->rid != id || x->reset)
			continue;
		x->reset = 1;
		if (x->counted) {
			x->counted = 0;
			us->own.nrun--;
		}
		sk__cmd_kill(x, SK_FRAME_CODE_CANCEL);
		return;
	}
}

static void sk__urecv(struct sk_dtls_sess *d, void *state, const uint8_t *buf,
		      size_t len)
{
	struct sk__usess *us = state;
	struct sk_rmsg_srv_event ev;

	(void)d;
	/* A datagram the layer refuses is counted there, and dropped. */
	if (sk_rmsg_srv_input(&us->rm, sk_dtls_now(), buf, len, &ev) == 0) {
		if (ev.kind == SK_RMSG_SRV_EXEC)
			sk__uexec(us, &ev);
		else if (ev.kind == SK_RMSG_SRV_CANCEL)
			sk__ucancel(us, ev.id);
	}
	sk__uflush(us);
}

static void sk__uwake(struct sk_dtls_sess *d, void *state)
{
	(void)d;
	sk__uflush(state);
}

static void sk__uclose(struct sk_dtls_sess *d, void *state,
		       enum sk_dtls_why why)
{
	struct sk__usess *us = state;

	(void)d;
	(void)why;
	sk__orphan(&us->own);
	sk_rmsg_srv_fini(&us->rm);
	free(us);
}

static const struct sk_dtls_ops sk__dtls_ops = {
	.open = sk__uopen,
	.recv = sk__urecv,
	.wake = sk__uwake,
	.close = sk__uclose,
};

/*
 * The tutorial's UDP remote command: one datagram is one shell line; the
 * output comes back in datagrams of at most 1024 bytes, or "ok". From
 * loopback only, where a source address cannot be spoofed, so a reply
 * larger than the request amplifies nothing.
 */
static void sk__uraw(struct sk__exec *ex, struct sk_udp *u,
		     const struct sockaddr *from, const char *in, size_t len)
{
	struct sk_rl_key who;
	struct sk__to to;
	size_t n = sk__chomp(in, len);

	sk__who_of(&who, NULL, from);
	memset(&to, 0, sizeof(to));
	to.kind = SK__K_UDPRAW;
	to.u = u;
	to.peer = from;
	to.who = &who;
	if (ex->stopping)
		return;
	if (n == 0) {
		sk_udp_send(u, from, "ok", 2); /* sh runs "" with no output */
		return;
	}
	sk__raw_run(ex, &to, in, n, 0);
}

static void sk__exec_udp(struct sk_udp *u, const struct sockaddr *from,
			 const char *in, size_t len)
{
	struct sk__exec *ex = sk_svc_data(sk_udp_svc(u));

	if (sk_dtls_input(ex->dtls, u, from, in, len) == 0)
		return;
	/* Not DTLS: the tutorial's, where allowed; else not ours, and
	 * dropped without a word. */
	if (ex->cfg->raw && ex->cfg->insecure && sk_sockaddr_is_loopback(from))
		sk__uraw(ex, u, from, in, len);
}

/* ---- the service ---- */

/* Make the default key file on first start, with one identity. Returns
 * 0, or a negative errno with a message in err. */
static int sk__first_keys(const char *path, char *err, size_t cap)
{
	char id[SK_KEY_ID_MAX + 1];
	int rc;

	sk_keys_default_id(id);
	rc = sk_keys_add(path, id, err, cap);
	if (rc != 0)
		return rc;
	sk_log_info("exec: made key file %s (identity %s)", path, id);
	return 0;
}

/*
 * Read the key file cfg names, or the default one, into *out (the
 * caller cleanses and frees it). With make, a default file that does not
 * exist yet is made, with one identity (the first start). Returns 0, or
 * a negative errno with a message in err.
 */
static int sk__keys_read(const struct sk__exec_cfg *cfg, int make,
			 struct sk_keys **out, char *err, size_t cap)
{
	char path[1024];
	int rc;

	*out = NULL;
	if (cfg->keys[0] != '\0') {
		snprintf(path, sizeof(path), "%s", cfg->keys);
	} else if ((rc = sk_keys_default_path(path, sizeof(path))) != 0) {
		snprintf(err, cap, "no key file: set exec keys, "
			 "XDG_CONFIG_HOME or HOME");
		return rc;
	} else if (make && access(path, F_OK) != 0 &&
		   (rc = sk__first_keys(path, err, cap)) != 0) {
		return rc;
	}
	*out = malloc(sizeof(**out));
	if (*out == NULL) {
		snprintf(err, cap, "out of memory");
		return -ENOMEM;
	}
	rc = sk_keys_load(path, *out, err, cap);
	if (rc != 0) {
		free(*out);
		*out = NULL;
	}
	return rc;
}

/* The DTLS layer's settings from the service's. */
static void sk__dtls_cfg(const struct sk__exec_cfg *cfg, struct sk_dtls_cfg *dc)
{
	memset(dc, 0, sizeof(*dc));
	dc->max_sessions = cfg->udp_sessions;
	dc->idle_ms = cfg->udp_idle * 1000;
}

static void sk__keys_free(struct sk_keys *keys)
{
	if (keys == NULL)
		return;
	OPENSSL_cleanse(keys, sizeof(*keys));
	free(keys);
}

static int sk__exec_init(struct sk_svc *s)
{
	const struct sk__exec_cfg *cfg = sk_svc_settings(s);
	struct sk__exec *ex = calloc(1, sizeof(*ex));
	struct sk_keys *keys;
	struct sk_dtls_cfg dc;
	char err[512];
	int rc;

	if (ex == NULL)
		return -ENOMEM;
	ex->cfg = cfg;
	ex->loop = sk_svc_loop(s);
	{
		uint64_t seed[2] = { 0, 0 };

		uv_random(NULL, NULL, seed, sizeof(seed), 0, NULL);
		sk_srcmap_init(&ex->clients, seed);
	}
	rc = sk__keys_read(cfg, 1, &keys, err, sizeof(err));
	if (rc != 0) {
		sk_log_warnx("exec: %s", err);
	} else {
		sk__dtls_cfg(cfg, &dc);
		rc = sk_tls_server_from(keys, &ex->tls);
		if (rc == 0)
			rc = sk_dtls_server_new(ex->loop, keys, &dc,
						&sk__dtls_ops, ex, &ex->dtls);
	}
	sk__keys_free(keys);
	if (rc != 0) {
		sk_tls_free(ex->tls);
		sk_srcmap_fini(&ex->clients);
		free(ex);
		return rc;
	}
	sk_svc_set_data(s, ex);
	return 0;
}

/* A reload reads the key file again: an identity added is let in, and one
 * taken out is refused, from the next handshake on. A file that cannot
 * be read refuses the reload. */
static int sk__exec_reload(struct sk_svc *s, void *next, void **pending,
			   char *err, size_t cap)
{
	(void)s;
	return sk__keys_read(next, 0, (struct sk_keys **)pending, err, cap) != 0
		       ? -1
		       : 0;
}

static void sk__exec_reloaded(struct sk_svc *s, void *pending, int commit)
{
	struct sk__exec *ex = sk_svc_data(s);
	struct sk_dtls_cfg dc;

	if (commit) {
		sk__dtls_cfg(ex->cfg, &dc);
		sk_tls_set_keys(ex->tls, pending);
		sk_dtls_reconfigure(ex->dtls, pending, &dc);
	}
	sk__keys_free(pending);
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
			if (x->kind == SK__K_RMSG && x->us != NULL &&
			    !x->reset) {
				static const char text[] = "the server is "
							   "stopping";

				sk_rmsg_srv_error(&x->us->rm, sk_dtls_now(),
						  x->rid,
						  SK_FRAME_CODE_SHUTDOWN, text,
						  sizeof(text) - 1);
				x->reset = 1;
				sk__uflush(x->us);
			}
			sk__cmd_kill(x, SK_FRAME_CODE_SHUTDOWN);
		}
	}
	/* Every session ends, with a close_notify (after the ERRORs). */
	sk_dtls_stop(ex->dtls);
}

static void sk__exec_fini(struct sk_svc *s)
{
	struct sk__exec *ex = sk_svc_data(s);

	if (ex == NULL)
		return;
	sk_tls_free(ex->tls);
	sk_dtls_free(ex->dtls);
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
	.transports = SK_TCP | SK_UDP,
	.port = 8082,
	.summary = "remote commands, in TLS 1.3 or DTLS 1.2 with a PSK",
	.opts = sk__exec_opts,
	.settings_size = sizeof(struct sk__exec_cfg),
	.check = sk__exec_check,
	.limits = &sk__exec_limits,
	.init = sk__exec_init,
	.stop = sk__exec_stop,
	.fini = sk__exec_fini,
	.reload = sk__exec_reload,
	.reloaded = sk__exec_reloaded,
	.conn_size = sizeof(struct sk__xconn),
	.in_size = SK_FRAME_MAX,
	.tcp_accept = sk__exec_accept,
	.tcp_read = sk__exec_read,
	.tcp_close = sk__exec_close,
	.udp_max_in = SK_EXEC_UDP_MAX_IN,
	.udp_recv = sk__exec_udp,
};
