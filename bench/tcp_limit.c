/*
 * tcp_limit.c: `make bench`'s limit for bulk output: how fast the bytes
 * of a file cross loopback TCP with nothing else to do.
 *
 * A sender process reads FILE with read() and writes each buffer to a
 * loopback TCP connection with write(), from the start again at its end;
 * a receiver process reads and discards. The receiver counts the bytes
 * for SECONDS, then closes, which ends the sender. They mirror what an
 * exec server (the sender's CPU) and its client (the receiver's) do for
 * `cat FILE`, without the command, the pipe, the frames or TLS. Plain
 * read() and write(), not sendfile() or splice(): the exec server copies
 * the command's output through its own buffer too.
 *
 * With -p, the sender reads from a pipe instead, with `cat FILE` (run
 * again at each end, on the sender's CPU, as an exec server's command
 * runs on the server's) at its other end: all the kernel does for exec's
 * `cat FILE`, the command's copy into the pipe included, with no frames,
 * no event loop and no TLS. Exec's output goes through a pipe whatever
 * the server, so this is the ceiling for any of them.
 *
 * usage: sk_tcp_limit [-p] [-s CPU] [-r CPU] [-d SECONDS] FILE
 *   -s, -r  pin the sender, the receiver, to that CPU (default: no pin)
 *
 * It prints one line on stdout:
 *   tcp_limit: 1234567890 bytes in 3.00 s = 411.5 MB/s
 * (MB = 10^6 bytes) and exits 0, or 1 with a message on stderr.
 * Not installed.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>

/* Bytes per read() and write(), on both sides. */
#define SK__BUF (64 * 1024)
/* Longest run, in seconds. */
#define SK__MAX_SECONDS 600
/* Longest wait for the sender to connect, in seconds. */
#define SK__ACCEPT_SECONDS 10

static double sk__now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Pin the calling process to cpu (-1: leave it). Returns 0 or -1. */
static int sk__pin(int cpu)
{
	cpu_set_t set;

	if (cpu < 0)
		return 0;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set);
}

/* -p: the read end of a pipe from a new `cat file`, or -1. */
static int sk__cat(const char *file)
{
	int p[2];
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) != 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		/* Killed by SIGPIPE when the run is over, as a command
		 * would be, not told of EPIPE (we ignore SIGPIPE). */
		signal(SIGPIPE, SIG_DFL);
		dup2(p[1], 1);
		execlp("cat", "cat", file, (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	if (pid < 0) {
		close(p[0]);
		return -1;
	}
	return p[0];
}

/* The sender: FILE (or, with pipe, `cat FILE`), over and over, into a
 * connection to port, until the receiver closes it. Never returns. */
__attribute__((noreturn)) static void sk__send(const char *file,
					      uint16_t port, int cpu, int pipe)
{
	static char buf[SK__BUF];
	struct sockaddr_in to;
	int fd, s;

	if (sk__pin(cpu) != 0) {
		perror("sk_tcp_limit: sched_setaffinity");
		_exit(1);
	}
	fd = pipe ? sk__cat(file) : open(file, O_RDONLY | O_CLOEXEC);
	s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	memset(&to, 0, sizeof(to));
	to.sin_family = AF_INET;
	to.sin_port = htons(port);
	to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || s < 0 ||
	    connect(s, (struct sockaddr *)&to, sizeof(to)) != 0) {
		fprintf(stderr, "sk_tcp_limit: %s: %s\n", file, strerror(errno));
		_exit(1);
	}
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));

		if (n == 0 && !pipe && lseek(fd, 0, SEEK_SET) == 0)
			continue;
		if (n == 0 && pipe) {
			int st;

			close(fd);
			if (wait(&st) < 0 || !WIFEXITED(st) ||
			    WEXITSTATUS(st) != 0 || (fd = sk__cat(file)) < 0) {
				fprintf(stderr, "sk_tcp_limit: cat %s failed\n",
					file);
				_exit(1);
			}
			continue;
		}
		if (n <= 0) {
			fprintf(stderr, "sk_tcp_limit: %s: %s\n", file,
				n == 0 ? "empty" : strerror(errno));
			_exit(1);
		}
		for (ssize_t off = 0; off < n;) {
			ssize_t w = write(s, buf + off, (size_t)(n - off));

			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0)
				_exit(0); /* the receiver is done */
			off += w;
		}
	}
}

int main(int argc, char **argv)
{
	static char buf[SK__BUF];
	struct sockaddr_in at;
	socklen_t atlen = sizeof(at);
	struct timeval tv = { SK__ACCEPT_SECONDS, 0 };
	unsigned long long bytes = 0;
	int lfd = -1, cfd = -1, scpu = -1, rcpu = -1, c, st, pipe = 0;
	double secs = 3, start, end, stop;
	pid_t pid;

	while ((c = getopt(argc, argv, "ps:r:d:")) != -1) {
		char *e;

		switch (c) {
		case 'p':
			pipe = 1;
			break;
		case 's':
		case 'r': {
			long v = strtol(optarg, &e, 10);

			if (e == optarg || *e != '\0' || v < 0 || v >= CPU_SETSIZE)
				goto usage;
			*(c == 's' ? &scpu : &rcpu) = (int)v;
			break;
		}
		case 'd':
			secs = strtod(optarg, &e);
			if (e == optarg || *e != '\0' || !(secs > 0) ||
			    secs > SK__MAX_SECONDS)
				goto usage;
			break;
		default:
			goto usage;
		}
	}
	if (argc - optind != 1)
		goto usage;
	signal(SIGPIPE, SIG_IGN);
	memset(&at, 0, sizeof(at));
	at.sin_family = AF_INET;
	at.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&at, sizeof(at)) != 0 ||
	    listen(lfd, 1) != 0 ||
	    setsockopt(lfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0 ||
	    getsockname(lfd, (struct sockaddr *)&at, &atlen) != 0 ||
	    sk__pin(rcpu) != 0) {
		perror("sk_tcp_limit");
		return 1;
	}
	pid = fork();
	if (pid < 0) {
		perror("sk_tcp_limit: fork");
		return 1;
	}
	if (pid == 0)
		sk__send(argv[optind], ntohs(at.sin_port), scpu, pipe);
	cfd = accept(lfd, NULL, NULL);
	if (cfd < 0) {
		perror("sk_tcp_limit: accept");
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return 1;
	}
	start = sk__now();
	end = start + secs;
	while ((stop = sk__now()) < end) {
		ssize_t n = read(cfd, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break; /* the sender failed: it said why */
		bytes += (unsigned long long)n;
	}
	close(cfd);
	close(lfd);
	waitpid(pid, &st, 0);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0 || stop <= start)
		return 1;
	printf("%s: %llu bytes in %.2f s = %.1f MB/s\n",
	       pipe ? "pipe_limit" : "tcp_limit", bytes,
	       stop - start, (double)bytes / (stop - start) / 1e6);
	return 0;
usage:
	fprintf(stderr, "usage: sk_tcp_limit [-p] [-s CPU] [-r CPU] "
		"[-d SECONDS] FILE\n");
	return 2;
}
