/* cli.h: the `sockit` subcommands and what they share. */
#ifndef SK_CLI_H
#define SK_CLI_H

/* Exit codes, as documented in sockit(1). */
#define SK_EXIT_OK 0
#define SK_EXIT_FAIL 1
#define SK_EXIT_USAGE 2
/* `sockit exec` passes the remote command's status on, so its own
 * outcomes take the values ssh, shells and timeout(1) use. */
#define SK_EXIT_TIMEOUT 124    /* the command timed out (as timeout(1)) */
#define SK_EXIT_CANNOT_RUN 126 /* found but not runnable (as shells) */
#define SK_EXIT_NOT_FOUND 127  /* no such command (as shells) */
#define SK_EXIT_SIGNAL 128     /* plus N: killed by signal N (as shells) */
#define SK_EXIT_EXEC 255       /* exec's own errors (as ssh) */

#include <stdio.h>
#include <sys/socket.h>
#include <sys/types.h>

int sk_cmd_serve(int argc, char **argv);
/* Switch to uid and gid and no other groups (after binding); user, as
 * given to --user, names them in messages. Returns 0 after logging the
 * user and group it now runs as, or -1 after logging why not. */
int sk_drop_privileges(const char *user, uid_t uid, gid_t gid);
/* Drop every capability a process that is not root was started with
 * (systemd's AmbientCapabilities=, for ports below 1024), once its
 * sockets are bound: the commands exec runs must not inherit them.
 * Root, and a process with none, are left as they are. Returns 0, or -1
 * after logging why. */
int sk_drop_capabilities(void);

/* A socket systemd handed to `serve` (socket activation; sd.c). */
struct sk_sd_socket {
	int fd;                        /* the descriptor */
	char name[256];                /* its FileDescriptorName= */
	unsigned transport;            /* SK_TCP, SK_UDP or SK_UNIX */
	struct sockaddr_storage addr;  /* what it is bound to */
	char where[128];               /* that address as text, or the
					* unix socket's path */
};
/* Take the sockets systemd handed over (and unset LISTEN_*), at most
 * cap, into out. Returns how many (0 when none), or -1 with a message
 * in err: a socket that is no listening TCP, bound UDP or listening unix
 * stream socket, or a malformed hand-over. */
int sk_sd_listen(struct sk_sd_socket *out, size_t cap, char *err,
		 size_t errcap);
/* Tell systemd (NOTIFY_SOCKET; nothing without it) that we are ready,
 * serving `sockets`, `handed` of them from systemd. */
void sk_sd_ready(size_t sockets, size_t handed);
/* Tell systemd that we are stopping; for sk_server_atstop(). */
void sk_sd_stopping(void *arg);
/* Tell systemd a reload has begun; sk_sd_ready() says it is over. */
void sk_sd_reloading(void);

/* `sockit help serve`, built from every service's declarations. */
void sk_serve_help(FILE *f);
int sk_cmd_welcome(int argc, char **argv);
int sk_cmd_time(int argc, char **argv);
int sk_cmd_bench(int argc, char **argv);
int sk_cmd_exec(int argc, char **argv);
int sk_cmd_chat(int argc, char **argv);
int sk_cmd_keygen(int argc, char **argv);
int sk_cmd_status(int argc, char **argv);

/* Print `sockit help CMD` for cmd to stdout, or the overview for NULL.
 * Returns SK_EXIT_OK, or SK_EXIT_USAGE for an unknown command. */
int sk_help(const char *cmd);

/* Print "sockit: CMD: MSG" and a hint to stderr; returns SK_EXIT_USAGE. */
int sk_usage_error(const char *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* For getopt_long() run with opterr = 0 and an optstring starting with
 * ':' (after any '+'): report what its '?' or ':' (c) was about, as
 * sk_usage_error() does. */
int sk_option_error(const char *cmd, char **argv, int c);

/* Is hostport "HOST[:PORT]" (or, when unix_ok, "unix:PATH")? Returns 0,
 * or SK_EXIT_USAGE after the usage error. */
int sk_check_hostport(const char *cmd, const char *hostport, int unix_ok);

/* Parse a whole decimal number in [min, max]. Returns 0 or -1. */
int sk_parse_uint(const char *s, unsigned long min, unsigned long max,
		  unsigned long *out);

/* Parse seconds with an optional fraction ("1", "0.25") into ms, in
 * [1 ms, 1 day]. Returns 0 or -1. */
int sk_parse_seconds(const char *s, unsigned *ms);

#endif
