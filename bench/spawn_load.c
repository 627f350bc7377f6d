/*
 * spawn_load.c: `make bench`'s command-rate limit, and its driver for
 * commands run one process per command (ssh, `sockit exec`).
 *
 * Keeps N children running CMD, each started with posix_spawnp() and
 * reaped with waitpid(), a new one started as each exits, for SECONDS.
 * A child that exits 0 counts as done; any other end, or a spawn that
 * fails, counts as failed. Run as `sk_spawn_load -j16 -- /bin/true`
 * pinned to one CPU (its children inherit the pin), it is the most
 * commands a second that CPU can start and reap: the physical limit of
 * a server that runs commands for clients.
 *
 * usage: sk_spawn_load [-j N] [-d SECONDS] -- CMD [ARGS...]
 *
 * It prints one line on stdout:
 *   spawn N=16: 12345 in 3.00 s = 4115 per second (0 failed)
 * and exits 1 (after the line) when more failed than succeeded. The
 * children's stdin is /dev/null; their stdout and stderr are ours.
 * None starts after SECONDS; those still running then are waited for and
 * counted, and the time is until the last one ended, so a slow command
 * (ssh at 16 at once) is not undercounted. Not installed.
 */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

/* Children at once, at most. */
#define SK__MAX_JOBS 1024
/* Longest run, in seconds. */
#define SK__MAX_SECONDS 600

static double sk__now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Parse a whole number in [min, max]; returns 0 or -1. */
static int sk__num(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

static int sk__usage(void)
{
	fprintf(stderr, "usage: sk_spawn_load [-j N] [-d SECONDS] -- CMD "
		"[ARGS...]\n");
	return 2;
}

int main(int argc, char **argv)
{
	posix_spawn_file_actions_t fa;
	unsigned long done = 0, failed = 0;
	long jobs = 1;
	double secs = 3, start, end, stop;
	int running = 0, c;

	while ((c = getopt(argc, argv, "+j:d:")) != -1) {
		switch (c) {
		case 'j':
			if (sk__num(optarg, 1, SK__MAX_JOBS, &jobs) != 0)
				return sk__usage();
			break;
		case 'd': {
			char *e;

			secs = strtod(optarg, &e);
			if (e == optarg || *e != '\0' || !(secs > 0) ||
			    secs > SK__MAX_SECONDS)
				return sk__usage();
			break;
		}
		default:
			return sk__usage();
		}
	}
	if (optind >= argc)
		return sk__usage();
	if (posix_spawn_file_actions_init(&fa) != 0 ||
	    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY,
					     0) != 0) {
		fprintf(stderr, "sk_spawn_load: out of memory\n");
		return 1;
	}
	start = sk__now();
	end = start + secs;
	for (;;) {
		int st;
		pid_t pid;

		while (running < jobs && sk__now() < end) {
			int rc = posix_spawnp(&pid, argv[optind], &fa, NULL,
					      argv + optind, environ);

			if (rc != 0) {
				if (failed++ == 0)
					fprintf(stderr, "sk_spawn_load: %s: %s\n",
						argv[optind], strerror(rc));
				if (failed > 1000 && done == 0)
					break; /* it will never run */
				continue;
			}
			running++;
		}
		if (running == 0)
			break;
		pid = waitpid(-1, &st, 0);
		if (pid < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "sk_spawn_load: waitpid: %s\n",
				strerror(errno));
			break;
		}
		running--;
		if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
			done++;
		else
			failed++;
	}
	posix_spawn_file_actions_destroy(&fa);
	stop = sk__now();
	printf("spawn N=%ld: %lu in %.2f s = %.0f per second (%lu failed)\n",
	       jobs, done, stop - start,
	       stop > start ? (double)done / (stop - start) : 0.0, failed);
	if (failed > done) {
		fprintf(stderr, "sk_spawn_load: most of them failed\n");
		return 1;
	}
	return 0;
}
