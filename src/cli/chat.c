/*
 * chat.c: `sockit chat`, a full-duplex client of the chat room
 * (docs/PROTOCOL.md, "chat").
 *
 * One poll() over the connection, stdin and a self-pipe for signals.
 * Lines the room says are printed as they come, with the time, above the
 * line being typed (edit.h keeps it whole); on a terminal, nicks,
 * actions and notices are coloured. What the server sends is split into
 * lines, classified and sanitised here again: the server may not be
 * ours. Over UDP the client proves its address by itself (/hello, then
 * /ack with the cookie) and keeps its place with an empty datagram now
 * and then.
 *
 * Piped input works: each line is said, and at the end of input the
 * client says /quit and waits (briefly) for the server's goodbye.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../net/client.h"
#include "../net/sockaddr.h"
#include "../proto/addr.h"
#include "../proto/chat.h"
#include "../proto/sk_limits.h"
#include "cli.h"
#include "edit.h"

#define SK__CMD "chat"
#define SK__PORT 8081
/* ms between the empty datagrams that keep a UDP peer in the room (the
 * server's default expiry is 60 s). */
#define SK__KEEPALIVE_MS 20000
/* ms what we say waits at most for the room to prove our address. */
#define SK__PROVE_MS 2000
/* ms to wait for the server's goodbye after /quit. */
#define SK__BYE_MS 2000
/* What /hello is padded to, so the cookie's answer fits three times it
 * (docs/PROTOCOL.md, "chat over UDP"). */
#define SK__HELLO_LEN 64
/* The client's buffer for bytes from the server: a whole output line
 * (SK_CHAT_OUT_MAX) always fits; a longer "line" is printed in pieces. */
#define SK__IN_MAX (2 * SK_CHAT_OUT_MAX)

struct sk__chat {
	struct sk_target t;         /* where to */
	int udp;                    /* over UDP */
	int fd;                     /* the socket */
	int tty;                    /* stdout is a terminal: colours */
	int sig[2];                 /* self-pipe: signal numbers, as bytes */
	char nick[SK_CHAT_NICK_MAX + 1]; /* ours, as the server said */
	char in[SK__IN_MAX];        /* bytes from the server, unsplit */
	size_t inlen;               /* how many */
	int quitting;               /* we said /quit */
	int64_t bye_by;             /* then: stop waiting by (ms) */
	int64_t keepalive;          /* UDP: next empty datagram (ms) */
	int acked;                  /* UDP: we sent /ack */
	int proven;                 /* UDP: the room has our address */
	int64_t prove_by;           /* UDP: stdin waits for that until then */
	int status;                 /* our exit status */
};

static int sk__sigfd = -1;

static void sk__on_signal(int signo)
{
	unsigned char b = (unsigned char)signo;
	int e = errno;

	if (sk__sigfd >= 0)
		(void)!write(sk__sigfd, &b, 1);
	errno = e;
}

static int64_t sk__now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Send one line (LF added) or, over UDP, one datagram. */
static int sk__send(struct sk__chat *ch, const char *s, size_t n)
{
	char buf[SK_CHAT_LINE_MAX + 2];
	size_t off = 0;

	if (n > SK_CHAT_LINE_MAX)
		n = SK_CHAT_LINE_MAX;
	memcpy(buf, s, n);
	buf[n++] = '\n';
	while (off < n) {
		ssize_t w = send(ch->fd, buf + off, n - off, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN) {
			struct pollfd p = { ch->fd, POLLOUT, 0 };

			(void)poll(&p, 1, 1000);
			continue;
		}
		if (w < 0)
			return -errno;
		off += (size_t)w;
	}
	return 0;
}

/* A nick's colour: one of six, the same for the same nick. */
static int sk__colour(const char *nick, size_t n)
{
	return 31 + (int)(sk_chat_nick_hash(nick, n) % 6);
}

/* "[HH:MM:SS] " now. */
static size_t sk__stamp(char *out, size_t cap)
{
	time_t t = time(NULL);
	struct tm tm;

	localtime_r(&t, &tm);
	return strftime(out, cap, "[%H:%M:%S] ", &tm);
}

/* Print one line from the server (without its LF), classified and
 * sanitised, above the line being typed. */
static void sk__show(struct sk__chat *ch, const char *line, size_t len)
{
	static char out[SK__IN_MAX * 3 + 256];
	char text[SK_CHAT_CLEAN_MAX(SK__IN_MAX)];
	struct sk_chat_msg m;
	char on[16] = "";
	const char *off = "";
	size_t k, tn;

	sk_chat_classify(line, len, &m);
	/* On a terminal a nick is bold, in its own colour. */
	if (ch->tty && m.nick != NULL) {
		snprintf(on, sizeof(on), "\033[1;%dm",
			 sk__colour(m.nick, m.nicklen));
		off = "\033[m";
	}
	k = sk__stamp(out, sizeof(out));
	tn = sk_chat_clean(m.text, m.textlen, text);
	switch (m.kind) {
	case SK_CHAT_OUT_SAY:
		k += (size_t)snprintf(out + k, sizeof(out) - k, "<%s%.*s%s> ",
				      on, (int)m.nicklen, m.nick, off);
		break;
	case SK_CHAT_OUT_ME:
		k += (size_t)snprintf(out + k, sizeof(out) - k, "%s* %.*s%s ",
				      on, (int)m.nicklen, m.nick, off);
		break;
	case SK_CHAT_OUT_NOTICE:
		k += (size_t)snprintf(out + k, sizeof(out) - k, "%s***%s",
				      ch->tty ? "\033[2m" : "",
				      tn > 0 ? " " : "");
		break;
	default:
		break;
	}
	memcpy(out + k, text, tn);
	k += tn;
	if (ch->tty && m.kind == SK_CHAT_OUT_NOTICE)
		k += (size_t)snprintf(out + k, sizeof(out) - k, "\033[m");
	out[k++] = '\n';
	sk_edit_print(STDOUT_FILENO, out, k);
}

/* A notice may tell us our nick, or (UDP) our cookie. */
static void sk__notice(struct sk__chat *ch, const struct sk_chat_msg *m)
{
	static const char welcome[] = "welcome, you are ";
	static const char now[] = "you are now ";
	static const char cookie[] = "cookie ";
	const char *p = NULL;
	size_t n = 0;

	if (m->textlen > sizeof(welcome) - 1 &&
	    memcmp(m->text, welcome, sizeof(welcome) - 1) == 0)
		p = m->text + sizeof(welcome) - 1;
	else if (m->textlen > sizeof(now) - 1 &&
		 memcmp(m->text, now, sizeof(now) - 1) == 0)
		p = m->text + sizeof(now) - 1;
	if (p != NULL) {
		size_t left = m->textlen - (size_t)(p - m->text);

		while (n < left && n < SK_CHAT_NICK_MAX && p[n] != ';')
			n++;
		if (sk_chat_nick_valid(p, n)) {
			memcpy(ch->nick, p, n);
			ch->nick[n] = '\0';
		}
		return;
	}
	if (ch->udp && memmem(m->text, m->textlen, "your address is proven",
			      22) != NULL) {
		ch->proven = 1;
		return;
	}
	if (ch->udp && !ch->acked && !ch->quitting &&
	    m->textlen >= sizeof(cookie) - 1 + 16 &&
	    memcmp(m->text, cookie, sizeof(cookie) - 1) == 0) {
		char ack[5 + 16];

		memcpy(ack, "/ack ", 5);
		memcpy(ack + 5, m->text + sizeof(cookie) - 1, 16);
		if (sk__send(ch, ack, sizeof(ack)) == 0)
			ch->acked = 1;
	}
}

/* Every whole line the server sent. */
static void sk__lines(struct sk__chat *ch, int flush)
{
	size_t off = 0;

	for (;;) {
		char *lf = memchr(ch->in + off, '\n', ch->inlen - off);
		size_t n;
		struct sk_chat_msg m;

		if (lf != NULL)
			n = (size_t)(lf - (ch->in + off));
		else if (ch->inlen - off > 0 &&
			 (flush || ch->inlen == sizeof(ch->in)))
			n = ch->inlen - off; /* a piece of an endless line */
		else
			break;
		sk_chat_classify(ch->in + off, n, &m);
		if (m.kind == SK_CHAT_OUT_NOTICE)
			sk__notice(ch, &m);
		sk__show(ch, ch->in + off, n);
		off += n + (lf != NULL);
	}
	memmove(ch->in, ch->in + off, ch->inlen - off);
	ch->inlen -= off;
}

/* Read from the server. Returns 0, or -1 when it is gone. */
static int sk__read(struct sk__chat *ch)
{
	ssize_t n;

	if (ch->udp) {
		char d[65536];

		n = recv(ch->fd, d, sizeof(d), 0);
		if (n < 0)
			return errno == EAGAIN || errno == EINTR ||
					       errno == ECONNREFUSED
				       ? (errno == ECONNREFUSED ? -1 : 0)
				       : -1;
		/* A datagram is whole lines; one without LF is one line. */
		for (ssize_t off = 0; off < n;) {
			size_t room = sizeof(ch->in) - ch->inlen;
			size_t take = (size_t)(n - off) < room ? (size_t)(n - off)
							       : room;

			memcpy(ch->in + ch->inlen, d + off, take);
			ch->inlen += take;
			off += (ssize_t)take;
			sk__lines(ch, off == n);
		}
		return 0;
	}
	n = recv(ch->fd, ch->in + ch->inlen, sizeof(ch->in) - ch->inlen, 0);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n <= 0) {
		sk__lines(ch, 1);
		return -1;
	}
	ch->inlen += (size_t)n;
	sk__lines(ch, 0);
	return 0;
}

/* A line the user typed: said, and on a terminal shown as said. */
static void sk__typed(struct sk__chat *ch, const char *line)
{
	struct sk_chat_cmd cmd;
	size_t n = strlen(line);

	sk_chat_parse(line, n, &cmd);
	if (cmd.kind == SK_CHAT_EMPTY)
		return;
	if (sk__send(ch, line, n) != 0) {
		fprintf(stderr, "sockit: chat: %s: %s\n", ch->t.name,
			strerror(errno));
		ch->status = SK_EXIT_FAIL;
		return;
	}
	if (cmd.kind == SK_CHAT_QUIT) {
		ch->quitting = 1;
		ch->bye_by = sk__now_ms() + SK__BYE_MS;
		return;
	}
	if (sk_edit_tty() && (cmd.kind == SK_CHAT_SAY || cmd.kind == SK_CHAT_ME)) {
		char out[SK_CHAT_OUT_MAX];
		const char *nick = ch->nick[0] != '\0' ? ch->nick : "me";
		size_t k = sk_chat_format(out, cmd.kind == SK_CHAT_SAY
						       ? SK_CHAT_OUT_SAY
						       : SK_CHAT_OUT_ME,
					  nick, strlen(nick), cmd.arg,
					  cmd.arglen);

		sk__show(ch, out, k - 1);
	}
}

static int sk__connect(struct sk__chat *ch, unsigned ms)
{
	int rc;

	if (!ch->udp) {
		rc = sk_stream_connect(&ch->t, ms);
		if (rc < 0) {
			fprintf(stderr, "sockit: chat: %s: %s\n", ch->t.name,
				rc == -ETIMEDOUT ? "no connection in time"
				: rc == -ECONNREFUSED ? "connection refused"
						      : strerror(-rc));
			return -1;
		}
		ch->fd = rc;
		return 0;
	}
	ch->fd = socket(ch->t.addr[0].ss_family,
			SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (ch->fd < 0 ||
	    connect(ch->fd, (const struct sockaddr *)&ch->t.addr[0],
		    sk_sockaddr_len((const struct sockaddr *)&ch->t.addr[0])) !=
		    0) {
		fprintf(stderr, "sockit: chat: %s: %s\n", ch->t.name,
			strerror(errno));
		return -1;
	}
	return 0;
}

static void sk__loop(struct sk__chat *ch)
{
	for (;;) {
		int64_t now = sk__now_ms();
		/* Over UDP what we say waits, briefly, for the room to have
		 * proven our address, so that we are sent every answer. */
		int wait_proof = ch->udp && !ch->proven && now < ch->prove_by;
		struct pollfd p[3] = {
			{ ch->fd, POLLIN, 0 },
			{ ch->quitting || wait_proof ? -1 : STDIN_FILENO, POLLIN,
			  0 },
			{ ch->sig[0], POLLIN, 0 },
		};
		int timeout = -1, rc;

		if (wait_proof)
			timeout = (int)(ch->prove_by - now);
		else if (ch->quitting)
			timeout = (int)(ch->bye_by > now ? ch->bye_by - now : 0);
		else if (ch->udp)
			timeout = (int)(ch->keepalive > now ? ch->keepalive - now
							    : 0);
		if (ch->quitting && timeout == 0)
			return;
		if (!ch->quitting && !wait_proof && sk_edit_pending())
			timeout = 0;
		rc = poll(p, 3, timeout);
		if (rc < 0 && errno != EINTR) {
			ch->status = SK_EXIT_FAIL;
			return;
		}
		if (rc < 0)
			continue;
		if (p[2].revents & POLLIN) {
			unsigned char b;

			while (read(ch->sig[0], &b, 1) == 1) {
				if (b == SIGINT && sk_edit_tty()) {
					sk_edit_interrupt();
					continue;
				}
				/* Leave as /quit would. */
				if (!ch->quitting)
					sk__typed(ch, "/quit");
			}
		}
		if (p[0].revents & (POLLIN | POLLERR | POLLHUP)) {
			if (sk__read(ch) < 0) {
				if (!ch->quitting) {
					sk_edit_suspend();
					fprintf(stderr, "sockit: chat: %s: the "
						"server closed the connection\n",
						ch->t.name);
					ch->status = SK_EXIT_FAIL;
				}
				return;
			}
		}
		if (ch->udp && !ch->quitting && sk__now_ms() >= ch->keepalive) {
			(void)send(ch->fd, "", 0, 0);
			ch->keepalive = sk__now_ms() + SK__KEEPALIVE_MS;
		}
		if (!ch->quitting && !wait_proof &&
		    (p[1].revents || sk_edit_pending())) {
			char *line = NULL;

			rc = sk_edit_read(&line);
			if (rc > 0) {
				sk__typed(ch, line);
				free(line);
				if (!ch->quitting)
					sk_edit_resume();
			} else if (rc < 0) {
				/* The end of input: leave cleanly. */
				sk__typed(ch, "/quit");
			}
		}
	}
}

int sk_cmd_chat(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "udp", no_argument, NULL, 'u' },
		{ "nick", required_argument, NULL, 'n' },
		{ "connect-timeout", required_argument, NULL, 'w' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static struct sk__chat ch;
	const char *nick = NULL;
	unsigned connect_ms = 10000;
	struct sigaction sa, old[3];
	static const int sigs[3] = { SIGINT, SIGTERM, SIGHUP };
	char err[512];
	int c;

	memset(&ch, 0, sizeof(ch));
	ch.fd = ch.sig[0] = ch.sig[1] = -1;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":un:w:h", opts, NULL)) != -1) {
		switch (c) {
		case 'u': ch.udp = 1; break;
		case 'n':
			if (!sk_chat_nick_valid(optarg, strlen(optarg)))
				return sk_usage_error(SK__CMD, "--nick: '%s' is not "
						      "a nick (1 to %d letters, "
						      "digits, '-', '_' or '.', "
						      "starting with a letter)",
						      optarg, SK_CHAT_NICK_MAX);
			nick = optarg;
			break;
		case 'w':
			if (sk_parse_seconds(optarg, &connect_ms) != 0)
				return sk_usage_error(SK__CMD, "--connect-timeout: "
						      "'%s' is not a number of "
						      "seconds", optarg);
			break;
		case 'h': return sk_help(SK__CMD);
		default: return sk_option_error(SK__CMD, argv, c);
		}
	}
	if (argc - optind != 1)
		return sk_usage_error(SK__CMD, argc - optind == 0
				      ? "expected HOST[:PORT]"
				      : "expected one HOST[:PORT]");
	if ((strncmp(argv[optind], "unix:", 5) != 0 || ch.udp) &&
	    sk_check_hostport(SK__CMD, argv[optind], 0) != 0)
		return SK_EXIT_USAGE;
	if (sk_target_resolve(&ch.t, argv[optind], SK__PORT,
			      ch.udp ? SOCK_DGRAM : SOCK_STREAM, err,
			      sizeof(err)) != 0) {
		fprintf(stderr, "sockit: chat: %s\n", err);
		return SK_EXIT_FAIL;
	}
	if (sk__connect(&ch, connect_ms) != 0) {
		ch.status = SK_EXIT_FAIL;
		goto error;
	}
	if (pipe2(ch.sig, O_CLOEXEC | O_NONBLOCK) != 0) {
		ch.status = SK_EXIT_FAIL;
		goto error;
	}
	ch.tty = isatty(STDOUT_FILENO);
	if (ch.udp) {
		char hello[SK__HELLO_LEN];

		memset(hello, ' ', sizeof(hello));
		memcpy(hello, "/hello", 6);
		(void)send(ch.fd, hello, sizeof(hello), 0);
		ch.keepalive = sk__now_ms() + SK__KEEPALIVE_MS;
		ch.prove_by = sk__now_ms() + SK__PROVE_MS;
	}
	if (nick != NULL) {
		char cmd[8 + SK_CHAT_NICK_MAX];
		int n = snprintf(cmd, sizeof(cmd), "/nick %s", nick);

		(void)sk__send(&ch, cmd, (size_t)n);
	}
	sk__sigfd = ch.sig[1];
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = sk__on_signal;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	for (int i = 0; i < 3; i++)
		sigaction(sigs[i], &sa, &old[i]);
	if (sk_edit_open("> ", "chat_history") != 0) {
		fprintf(stderr, "sockit: chat: cannot edit lines on this "
			"terminal\n");
		ch.status = SK_EXIT_FAIL;
	} else {
		sk_edit_resume();
		sk__loop(&ch);
	}
	sk_edit_close();
	for (int i = 0; i < 3; i++)
		sigaction(sigs[i], &old[i], NULL);
	sk__sigfd = -1;
error:
	if (ch.fd >= 0)
		close(ch.fd);
	for (int i = 0; i < 2; i++)
		if (ch.sig[i] >= 0)
			close(ch.sig[i]);
	return ch.status;
}
