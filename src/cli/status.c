/*
 * status.c: `sockit status`: ask the running daemon, over its control
 * socket (src/net/status.h), for its counters and settings, and print
 * them as they come (text, or JSON with --json).
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "../net/status.h"
#include "../proto/addr.h"
#include "../proto/sk_limits.h"
#include "cli.h"

#define SK__CMD "status"

/* Read the whole reply to out, within SK_STATUS_TIMEOUT_MS of each
 * read. Returns 0, or -1 with errno. */
static int sk__copy(int fd)
{
	char buf[8192];

	for (;;) {
		struct pollfd p = { fd, POLLIN, 0 };
		ssize_t n;
		int rc = poll(&p, 1, SK_STATUS_TIMEOUT_MS);

		if (rc < 0 && errno == EINTR)
			continue;
		if (rc == 0)
			errno = ETIMEDOUT;
		if (rc <= 0)
			return -1;
		n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			return 0;
		if (fwrite(buf, 1, (size_t)n, stdout) != (size_t)n)
			return -1;
	}
}

int sk_cmd_status(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "control", required_argument, NULL, 'C' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = NULL, *req = "status\n";
	char def[SK_UNIX_PATH_MAX];
	struct sockaddr_un sun;
	int c, fd, e;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":jC:h", opts, NULL)) != -1) {
		switch (c) {
		case 'j': req = "status json\n"; break;
		case 'C': path = optarg; break;
		case 'h': return sk_help(SK__CMD);
		default: return sk_option_error(SK__CMD, argv, c);
		}
	}
	if (optind < argc)
		return sk_usage_error(SK__CMD, "unexpected argument '%s'",
				      argv[optind]);
	if (path == NULL) {
		if (sk_status_default_path(def, sizeof(def)) != 0) {
			fprintf(stderr, "sockit: status: no control socket to "
				"ask: give --control PATH\n");
			return SK_EXIT_FAIL;
		}
		path = def;
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path))
		return sk_usage_error(SK__CMD, "--control: path too long");
	memcpy(sun.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
		e = errno;
		fprintf(stderr, "sockit: status: %s: %s%s\n", path, strerror(e),
			e == ENOENT || e == ECONNREFUSED
				? " (is sockit serve running?)"
			: e == EACCES ? " (only the daemon's user and root may "
					"ask)"
				      : "");
		if (fd >= 0)
			close(fd);
		return SK_EXIT_FAIL;
	}
	if (write(fd, req, strlen(req)) != (ssize_t)strlen(req) ||
	    sk__copy(fd) != 0) {
		e = errno;
		fprintf(stderr, "sockit: status: %s: %s\n", path, strerror(e));
		close(fd);
		return SK_EXIT_FAIL;
	}
	close(fd);
	return fflush(stdout) == 0 ? SK_EXIT_OK : SK_EXIT_FAIL;
}
