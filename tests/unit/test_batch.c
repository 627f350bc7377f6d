/*
 * test_batch.c: unit tests for src/net/batch.c, the UDP worker threads.
 *
 * A tiny service answers every datagram with "re". Covers start, answer
 * and stop on two workers (every worker state freed, every loop closed);
 * the fallback to one worker when the kernel refuses the program that
 * steers each client to one worker (SO_ATTACH_REUSEPORT_CBPF), made to
 * fail here by wrapping setsockopt() at link time (-Wl,--wrap); and a
 * socket that reports an error (POLLERR): the worker must neither spin
 * on it (measured as process CPU time) nor go deaf, and must log it.
 *
 * The error is real: the test turns on IP_RECVERR on the worker's socket
 * and has the service send a reply to a closed loopback port, so the
 * kernel queues the ICMP port unreachable on the socket's error queue,
 * which makes epoll report POLLERR until the queue is read.
 *
 * And a socket bound elsewhere (sk_batch_adopt: systemd's), served by one
 * worker that closes it at stop.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "batch.h"

/* Longest wait for a reply, ms. */
#define REPLY_MS 3000
/* Wall time over which a spinning worker would show, ms. */
#define SPIN_WINDOW_MS 500
/* Most CPU time a healthy process may use in that window, ms. */
#define SPIN_CPU_MAX_MS 150

/* Worker states alive now, and made since the counters were reset. */
static atomic_int live, made;
/* Replies to a request "icmp" go to this port (closed), in network order. */
static uint16_t closed_port;
/* When set, setsockopt(SO_ATTACH_REUSEPORT_CBPF) fails with EPERM. */
static int fail_cbpf;

int __real_setsockopt(int fd, int level, int name, const void *v,
		      socklen_t len);

int __wrap_setsockopt(int fd, int level, int name, const void *v,
		      socklen_t len)
{
	if (fail_cbpf && level == SOL_SOCKET &&
	    name == SO_ATTACH_REUSEPORT_CBPF) {
		errno = EPERM;
		return -1;
	}
	return __real_setsockopt(fd, level, name, v, len);
}

/* A worker's state: the byte its replies end with, from cfg (a string;
 * NULL: 'e', so that replies are "re"). */
static void *t_new(const void *cfg)
{
	char *w = malloc(1);

	if (w == NULL)
		return NULL;
	*w = cfg != NULL ? *(const char *)cfg : 'e';
	atomic_fetch_add(&live, 1);
	atomic_fetch_add(&made, 1);
	return w;
}

static void t_free(void *w)
{
	atomic_fetch_sub(&live, 1);
	free(w);
}

static void t_tick(void *w)
{
	(void)w;
}

static void t_handle(void *w, struct sk_dgram *d, size_t n,
		     struct sk_batch_stats *st)
{
	(void)st;
	for (size_t i = 0; i < n; i++) {
		if (d[i].len == 4 && memcmp(d[i].in, "icmp", 4) == 0)
			((struct sockaddr_in *)&d[i].peer)->sin_port =
				closed_port;
		d[i].out[0] = 'r';
		d[i].out[1] = *(const char *)w;
		d[i].outlen = 2;
	}
}

static void t_stamp(void *w, struct sk_dgram *const *r, size_t n,
		    int64_t now_ns)
{
	(void)w;
	(void)r;
	(void)n;
	(void)now_ns;
}

static const struct sk_batch_ops ops = {
	.name = "test",
	.worker_new = t_new,
	.worker_free = t_free,
	.worker_tick = t_tick,
	.handle = t_handle,
	.stamp = t_stamp,
};

static struct sockaddr_in loopback(uint16_t port)
{
	struct sockaddr_in a;

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = port;
	return a;
}

/* Send msg to the workers at `to` from a fresh socket; 1 if `want` came
 * back within REPLY_MS, else 0. */
static int ask_for(const struct sockaddr_storage *to, const char *msg,
		   const char *want)
{
	struct sockaddr_in me = loopback(0);
	struct pollfd p;
	char buf[16];
	int fd, ok = 0;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&me, sizeof(me)), 0);
	assert_int_equal(sendto(fd, msg, strlen(msg), 0,
				(const struct sockaddr *)to,
				sizeof(struct sockaddr_in)),
			 (ssize_t)strlen(msg));
	p.fd = fd;
	p.events = POLLIN;
	if (strcmp(msg, "icmp") != 0 && poll(&p, 1, REPLY_MS) == 1 &&
	    recv(fd, buf, sizeof(buf), 0) == 2 && memcmp(buf, want, 2) == 0)
		ok = 1;
	close(fd);
	return ok;
}

/* The same, for the reply "re" of workers made with no settings. */
static int ask(const struct sockaddr_storage *to, const char *msg)
{
	return ask_for(to, msg, "re");
}

/* A loopback UDP port that nothing listens on, in network order. */
static uint16_t free_port(void)
{
	struct sockaddr_in a = loopback(0);
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	close(fd);
	return a.sin_port;
}

/* The descriptor of a UDP socket of ours bound to port (network order). */
static int find_socket(uint16_t port)
{
	for (int fd = 3; fd < 1024; fd++) {
		struct sockaddr_in a;
		socklen_t len = sizeof(a);
		int type = 0;
		socklen_t tlen = sizeof(type);

		if (fcntl(fd, F_GETFD) < 0 ||
		    getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tlen) != 0 ||
		    type != SOCK_DGRAM ||
		    getsockname(fd, (struct sockaddr *)&a, &len) != 0 ||
		    a.sin_family != AF_INET || a.sin_port != port)
			continue;
		return fd;
	}
	return -1;
}

/* stderr, redirected to a file while a test wants to read its log. */
struct capture {
	FILE *f;   /* the file */
	int saved; /* the real stderr */
};

static void capture_start(struct capture *c)
{
	fflush(stderr);
	c->f = tmpfile();
	assert_non_null(c->f);
	c->saved = dup(2);
	assert_true(c->saved >= 0);
	assert_true(dup2(fileno(c->f), 2) == 2);
}

/* Stop capturing; the log so far (also copied to the real stderr) goes
 * into buf. */
static void capture_end(struct capture *c, char *buf, size_t cap)
{
	size_t n;

	fflush(stderr);
	assert_true(dup2(c->saved, 2) == 2);
	close(c->saved);
	rewind(c->f);
	n = fread(buf, 1, cap - 1, c->f);
	buf[n] = '\0';
	fclose(c->f);
	fputs(buf, stderr);
}

static int64_t cpu_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct sk_batch *start(unsigned threads, struct sockaddr_storage *at)
{
	struct sockaddr_in a = loopback(0);
	struct sk_batch *b = NULL;

	atomic_store(&made, 0);
	assert_int_equal(sk_batch_start(&ops, NULL, (struct sockaddr *)&a,
					threads, 0, at, &b),
			 0);
	assert_non_null(b);
	return b;
}

static void stop(struct sk_batch *b)
{
	struct sk_batch_stats sum;

	memset(&sum, 0, sizeof(sum));
	sk_batch_stop(b, &sum);
	assert_int_equal(atomic_load(&live), 0);
	assert_int_equal(sk_batch_unclosed(), 0);
}

static void test_start_answer_stop(void **state)
{
	struct sockaddr_storage at;
	struct sk_batch *b;

	(void)state;
	b = start(2, &at);
	assert_int_equal(atomic_load(&made), 2);
	assert_int_equal(atomic_load(&live), 2);
	for (int i = 0; i < 8; i++)
		assert_true(ask(&at, "hello"));
	stop(b);
}

static void test_no_steering_means_one_worker(void **state)
{
	struct sockaddr_storage at;
	struct sk_batch *b;
	struct capture c;
	char log[4096];

	(void)state;
	capture_start(&c);
	fail_cbpf = 1;
	b = start(4, &at);
	fail_cbpf = 0;
	capture_end(&c, log, sizeof(log));
	/* One worker, so one rate limiter sees all of a client's requests. */
	assert_int_equal(atomic_load(&made), 1);
	assert_int_equal(atomic_load(&live), 1);
	assert_non_null(strstr(log, "cannot steer each client to one worker "
				    "thread, so serving on 1 thread, not 4"));
	for (int i = 0; i < 8; i++)
		assert_true(ask(&at, "hello"));
	stop(b);
}

/* A socket bound elsewhere (handed over by systemd), blocking as systemd
 * hands it: one worker serves it, and owns it (closed at stop). */
static void test_adopt_a_bound_socket(void **state)
{
	struct sockaddr_in a = loopback(0);
	struct sockaddr_storage at;
	struct sk_batch_stats sum;
	struct sk_batch *b = NULL;
	int fd;

	(void)state;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	atomic_store(&made, 0);
	assert_int_equal(sk_batch_adopt(&ops, NULL, fd, 0, &at, &b), 0);
	assert_int_equal(atomic_load(&made), 1);
	assert_true(fcntl(fd, F_GETFL) & O_NONBLOCK);
	for (int i = 0; i < 8; i++)
		assert_true(ask(&at, "hello"));
	memset(&sum, 0, sizeof(sum));
	sk_batch_stop(b, &sum);
	assert_int_equal(atomic_load(&live), 0);
	assert_int_equal(sk_batch_unclosed(), 0);
	assert_int_equal(fcntl(fd, F_GETFD), -1); /* closed with its worker */
	/* A socket that is no IPv4 or IPv6 one is refused, and closed. */
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_int_equal(sk_batch_adopt(&ops, NULL, fd, 0, &at, &b),
			 -EAFNOSUPPORT);
	assert_int_equal(fcntl(fd, F_GETFD), -1);
}

static void test_socket_error_does_not_spin(void **state)
{
	struct sockaddr_storage at;
	struct sk_batch *b;
	struct capture c;
	struct timespec pause = { 0, 50 * 1000000 };
	struct timespec window = { SPIN_WINDOW_MS / 1000,
				   (SPIN_WINDOW_MS % 1000) * 1000000L };
	char log[4096];
	int64_t cpu;
	int fd, on = 1, answered;

	(void)state;
	closed_port = free_port();
	capture_start(&c);
	b = start(1, &at);
	fd = find_socket(((struct sockaddr_in *)&at)->sin_port);
	assert_true(fd >= 0);
	assert_int_equal(setsockopt(fd, IPPROTO_IP, IP_RECVERR, &on,
				    sizeof(on)),
			 0);
	/* The reply goes to a closed port: POLLERR on the worker's socket. */
	ask(&at, "icmp");
	nanosleep(&pause, NULL);
	cpu = cpu_ms();
	nanosleep(&window, NULL);
	cpu = cpu_ms() - cpu;
	answered = ask(&at, "hello");
	capture_end(&c, log, sizeof(log));
	print_message("cpu time over %d ms: %lld ms\n", SPIN_WINDOW_MS,
		      (long long)cpu);
	assert_true(cpu < SPIN_CPU_MAX_MS);
	/* Still answering, and the error was said. */
	assert_true(answered);
	assert_non_null(strstr(log, "test worker 0: socket error"));
	stop(b);
}

/* A reload gives each worker a new state, which it takes on its own
 * thread; a state made by a reload that a later one overtook before the
 * worker woke is freed, never leaked (stop() counts them all back). */
static void test_reload_swaps_each_workers_state(void **state)
{
	struct sockaddr_storage at;
	struct sk_batch *b;
	int row = 0;

	(void)state;
	b = start(2, &at);
	assert_true(ask(&at, "hello"));
	assert_int_equal(sk_batch_reload(b, "y"), 0);
	assert_int_equal(sk_batch_reload(b, "x"), 0);
	assert_int_equal(atomic_load(&made), 6);
	/* Each ask comes from a new port, so the kernel picks a worker at
	 * random: 16 "rx" in a row have seen both with all but certainty. */
	for (int tries = 0; row < 16 && tries < 1000; tries++)
		row = ask_for(&at, "hello", "rx") ? row + 1 : 0;
	assert_int_equal(row, 16);
	assert_int_equal(atomic_load(&live), 2);
	stop(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_start_answer_stop),
		cmocka_unit_test(test_no_steering_means_one_worker),
		cmocka_unit_test(test_adopt_a_bound_socket),
		cmocka_unit_test(test_socket_error_does_not_spin),
		cmocka_unit_test(test_reload_swaps_each_workers_state),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
