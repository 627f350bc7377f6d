/*
 * main.c: the `sockit` command. Subcommands sit in one table; each gets
 * argv from its own name on and returns an exit code (cli.h).
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../proto/addr.h"
#include "cli.h"

#ifndef SK_VERSION
#define SK_VERSION "0.0.0"
#endif

struct sk_cmd {
	const char *name;                /* the word after `sockit` */
	int (*run)(int argc, char **argv); /* its entry point */
	const char *summary;             /* one line for the overview */
	const char *help;                /* `sockit help NAME` */
	void (*help_fn)(FILE *f);        /* or this prints it */
};

static int sk__cmd_help(int argc, char **argv);

static const struct sk_cmd sk__cmds[] = {
	{ "serve", sk_cmd_serve, "run the daemon", NULL, sk_serve_help },
	{ "welcome", sk_cmd_welcome, "print a welcome server's banner",
#include "help_welcome.inc"
	  , NULL },
	{ "chat", sk_cmd_chat, "join a chat room (TCP or UDP)",
#include "help_chat.inc"
	  , NULL },
	{ "time", sk_cmd_time, "ask a time server (timefmt, daytime, RFC 868, NTP)",
#include "help_time.inc"
	  , NULL },
	{ "exec", sk_cmd_exec, "run a command on an exec server",
#include "help_exec.inc"
	  , NULL },
	{ "keygen", sk_cmd_keygen, "add an identity and key to an exec key file",
#include "help_keygen.inc"
	  , NULL },
	{ "status", sk_cmd_status, "ask the running daemon for its counters",
#include "help_status.inc"
	  , NULL },
	{ "bench", sk_cmd_bench, "load-test a server (bounded in count and time)",
#include "help_bench.inc"
	  , NULL },
	{ "help", sk__cmd_help, "show help for a command",
	  "usage: sockit help [COMMAND]\n"
	  "\n"
	  "Show the overview, or the help of one command.\n", NULL },
	{ NULL, NULL, NULL, NULL, NULL },
};

int sk_help(const char *cmd)
{
	if (cmd == NULL) {
		printf("usage: sockit COMMAND [ARGS]\n"
		       "       sockit [COMMAND] --version\n"
		       "\n"
		       "sockit hosts the classic socket services (sockit serve) "
		       "and is a client for each.\n"
		       "\n"
		       "commands:\n");
		for (const struct sk_cmd *c = sk__cmds; c->name; c++)
			printf("  %-8s %s\n", c->name, c->summary);
		printf("\n"
		       "Run 'sockit help COMMAND' for a command's options.\n"
		       "Exit status: 0 success, 1 failure, 2 usage error; exec passes\n"
		       "the remote command's status on (see 'sockit help exec').\n");
		return SK_EXIT_OK;
	}
	for (const struct sk_cmd *c = sk__cmds; c->name; c++) {
		if (strcmp(c->name, cmd) == 0) {
			if (c->help_fn != NULL)
				c->help_fn(stdout);
			else
				fputs(c->help, stdout);
			return SK_EXIT_OK;
		}
	}
	fprintf(stderr, "sockit: help: unknown command '%s'\n", cmd);
	return SK_EXIT_USAGE;
}

static int sk__cmd_help(int argc, char **argv)
{
	if (argc > 2)
		return sk_usage_error("help", "too many arguments");
	return sk_help(argc == 2 ? argv[1] : NULL);
}

int sk_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "sockit: %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'sockit help %s'.\n", cmd);
	return SK_EXIT_USAGE;
}

int sk_option_error(const char *cmd, char **argv, int c)
{
	const char *arg = optind > 0 ? argv[optind - 1] : "";

	if (c == ':')
		return sk_usage_error(cmd, "option '%s' needs an argument", arg);
	if (strncmp(arg, "--", 2) != 0 && optopt > 0 && optopt < 128)
		return sk_usage_error(cmd, "unknown option '-%c'", optopt);
	return sk_usage_error(cmd, "unknown option '%s'", arg);
}

int sk_check_hostport(const char *cmd, const char *hostport, int unix_ok)
{
	char host[SK_HOST_MAX];
	uint16_t port;
	int rc;

	if (strncmp(hostport, "unix:", 5) == 0) {
		if (unix_ok && hostport[5] != '\0')
			return 0;
		return sk_usage_error(cmd, "'%s': %s", hostport,
				      unix_ok ? "no socket path after unix:"
					      : "a unix socket is for TCP only");
	}
	rc = sk_hostport_parse(hostport, host, &port, SK_HP_PORT_OPTIONAL);
	if (rc != 0)
		return sk_usage_error(cmd, "'%s': %s", hostport,
				      sk_addr_strerror(rc));
	return 0;
}

int sk_parse_uint(const char *s, unsigned long min, unsigned long max,
		  unsigned long *out)
{
	unsigned long v;
	char *end;

	if (s[0] < '0' || s[0] > '9')
		return -1;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int sk_parse_seconds(const char *s, unsigned *ms)
{
	double v;
	char *end;

	if (s[0] < '0' || s[0] > '9')
		return -1;
	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || *end != '\0' || v < 0.001 || v > 86400)
		return -1;
	*ms = (unsigned)(v * 1000 + 0.5);
	return 0;
}

int main(int argc, char **argv)
{
	/* A peer that resets must be an error code, not a signal. */
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);

	if (argc < 2) {
		sk_help(NULL);
		return SK_EXIT_USAGE;
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
		printf("sockit %s\n", SK_VERSION);
		return SK_EXIT_OK;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
		return sk_help(NULL);
	for (const struct sk_cmd *c = sk__cmds; c->name; c++) {
		if (strcmp(c->name, argv[1]) != 0)
			continue;
		/* `sockit COMMAND --version`, as `sockit --version`. */
		if (argc == 3 && strcmp(argv[2], "--version") == 0) {
			printf("sockit %s\n", SK_VERSION);
			return SK_EXIT_OK;
		}
		return c->run(argc - 1, argv + 1);
	}
	fprintf(stderr, "sockit: unknown command '%s'\nTry 'sockit help'.\n",
		argv[1]);
	return SK_EXIT_USAGE;
}
