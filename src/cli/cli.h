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
#include <sys/types.h>

int sk_cmd_serve(int argc, char **argv);
/* Switch to uid and gid and no other groups (after binding); user, as
 * given to --user, names them in messages. Returns 0 after logging the
 * user and group it now runs as, or -1 after logging why not. */
int sk_drop_privileges(const char *user, uid_t uid, gid_t gid);
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
