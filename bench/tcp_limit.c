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
 * With -t, the bytes cross as TLS 1.3 records would: the sender seals
 * each 16 KiB with AES-128-GCM (OpenSSL's EVP, the suite sockit's
 * clients use: the record's 5-byte header as additional data, a nonce
 * per record, the inner content type byte and the 16-byte tag) straight
 * from its read buffer into its write buffer, one pass; the receiver
 * opens and checks every record, as a TLS client must, and counts the
 * plaintext. That is the cipher's work at both ends and nothing of a
 * TLS library's: no handshake (both ends start from the same random
 * key), no record-layer copies. With -p, it is the ceiling for any TLS
 * exec server built on this OpenSSL, on this machine.
 *
 * usage: sk_tcp_limit [-p] [-t] [-s CPU] [-r CPU] [-d SECONDS] FILE
 *   -s, -r  pin the sender, the receiver, to that CPU (default: no pin)
 *
 * It prints one line on stdout:
 *   tcp_limit: 1234567890 bytes in 3.00 s = 411.5 MB/s
 * (MB = 10^6 bytes; pipe_limit with -p, and tls_ in front with -t) and
 * exits 0, or 1 with a message on stderr. Not installed.
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

#include <openssl/evp.h>
#include <openssl/rand.h>

/* Bytes per read() and write(), on both sides, and the pipe's size with
 * -p: the kernel's largest pipe for a user (pipe-max-size), with reads
 * and writes as large. Loopback TCP moves twice as much with 1 MiB calls
 * as with 64 KiB ones here, and a limit must be the best the kernel can
 * do; exec's server grows a busy command's pipe and reads to the same
 * size. */
#define SK__BUF (1024 * 1024)
/* -t: plaintext per record (TLS's most), its header, and what sealing
 * adds: the inner content type byte and the tag. */
#define SK__REC 16384
#define SK__REC_HDR 5
#define SK__REC_TAG 16
#define SK__REC_MAX (SK__REC_HDR + SK__REC + 1 + SK__REC_TAG)
#define SK__RECS (SK__BUF / SK__REC)
/* Longest run, in seconds. */
#define SK__MAX_SECONDS 600
/* Longest wait for the sender to connect, in seconds. */
#define SK__ACCEPT_SECONDS 10

/* -t: the key and the nonce's base, the same at both ends (made before
 * the fork). */
static unsigned char sk__key[16];
static unsigned char sk__iv[12];

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

/* -t: record seq's nonce, as TLS 1.3 makes it (RFC 8446, 5.3). */
static void sk__nonce(unsigned char nonce[12], unsigned long long seq)
{
	memcpy(nonce, sk__iv, 12);
	for (int i = 0; i < 8; i++)
		nonce[11 - i] ^= (unsigned char)(seq >> (8 * i));
}

/* -t: seal len (at most SK__REC) bytes of in as record seq into out;
 * returns the record's length, or -1. */
static int sk__seal(EVP_CIPHER_CTX *x, unsigned long long seq,
		    const unsigned char *in, int len, unsigned char *out)
{
	static const unsigned char type = 0x17; /* application data */
	unsigned char nonce[12];
	int clen = len + 1 + SK__REC_TAG, n;

	out[0] = 0x17;
	out[1] = 0x03;
	out[2] = 0x03;
	out[3] = (unsigned char)(clen >> 8);
	out[4] = (unsigned char)clen;
	sk__nonce(nonce, seq);
	if (!EVP_EncryptInit_ex(x, NULL, NULL, NULL, nonce) ||
	    !EVP_EncryptUpdate(x, NULL, &n, out, SK__REC_HDR) ||
	    !EVP_EncryptUpdate(x, out + SK__REC_HDR, &n, in, len) ||
	    !EVP_EncryptUpdate(x, out + SK__REC_HDR + len, &n, &type, 1) ||
	    !EVP_EncryptFinal_ex(x, out + SK__REC_HDR + len + 1, &n) ||
	    !EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_GCM_GET_TAG, SK__REC_TAG,
				 out + SK__REC_HDR + len + 1))
		return -1;
	return SK__REC_HDR + clen;
}

/* -t: open record seq, rec (its header included, rlen bytes), in place;
 * returns the plaintext's length, or -1 when it does not check out. */
static int sk__open(EVP_CIPHER_CTX *x, unsigned long long seq,
		    unsigned char *rec, int rlen)
{
	unsigned char nonce[12];
	int clen = rlen - SK__REC_HDR - SK__REC_TAG, n;

	if (clen < 1)
		return -1;
	sk__nonce(nonce, seq);
	if (!EVP_DecryptInit_ex(x, NULL, NULL, NULL, nonce) ||
	    !EVP_DecryptUpdate(x, NULL, &n, rec, SK__REC_HDR) ||
	    !EVP_DecryptUpdate(x, rec + SK__REC_HDR, &n, rec + SK__REC_HDR,
			       clen) ||
	    !EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_GCM_SET_TAG, SK__REC_TAG,
				 rec + SK__REC_HDR + clen) ||
	    EVP_DecryptFinal_ex(x, rec + SK__REC_HDR + clen, &n) != 1 ||
	    rec[SK__REC_HDR + clen - 1] != 0x17)
		return -1;
	return clen - 1;
}

/* -t: a context for AES-128-GCM under the shared key, or NULL. */
static EVP_CIPHER_CTX *sk__aead(int enc)
{
	EVP_CIPHER_CTX *x = EVP_CIPHER_CTX_new();

	if (x != NULL &&
	    EVP_CipherInit_ex(x, EVP_aes_128_gcm(), NULL, sk__key, sk__iv,
			      enc) == 1)
		return x;
	EVP_CIPHER_CTX_free(x);
	return NULL;
}

/* Write all of buf to s; exits when the receiver is done. */
static void sk__write_all(int s, const void *buf, size_t len)
{
	for (size_t off = 0; off < len;) {
		ssize_t w = write(s, (const char *)buf + off, len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			_exit(0); /* the receiver is done */
		off += (size_t)w;
	}
}

/* -p: the read end of a pipe from a new `cat file`, or -1. */
static int sk__cat(const char *file)
{
	int p[2];
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) != 0)
		return -1;
	(void)fcntl(p[0], F_SETPIPE_SZ, SK__BUF);
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
					      uint16_t port, int cpu, int pipe,
					      int tls)
{
	static unsigned char buf[SK__BUF];
	static unsigned char sealed[SK__RECS * SK__REC_MAX];
	EVP_CIPHER_CTX *x = NULL;
	unsigned long long seq = 0;
	struct sockaddr_in to;
	size_t out;
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
	if (tls && (x = sk__aead(1)) == NULL) {
		fprintf(stderr, "sk_tcp_limit: cannot set up AES-128-GCM\n");
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
		if (!tls) {
			sk__write_all(s, buf, (size_t)n);
			continue;
		}
		out = 0;
		for (ssize_t off = 0; off < n; off += SK__REC) {
			int len = n - off < SK__REC ? (int)(n - off) : SK__REC;
			int r = sk__seal(x, seq++, buf + off, len, sealed + out);

			if (r < 0) {
				fprintf(stderr, "sk_tcp_limit: sealing failed\n");
				_exit(1);
			}
			out += (size_t)r;
		}
		sk__write_all(s, sealed, out);
	}
}

/* -t: the receiver's side: open and check every whole record in
 * in[0..*have), and move what is left of a partial one to the front.
 * Returns their plaintext's length, or -1 when a record does not check
 * out. */
static long long sk__opened(EVP_CIPHER_CTX *x, unsigned long long *seq,
			    unsigned char *in, size_t *have)
{
	long long plain = 0;
	size_t off = 0;

	for (;;) {
		size_t left = *have - off, rlen;
		int p;

		if (left < SK__REC_HDR)
			break;
		rlen = SK__REC_HDR +
		       ((size_t)in[off + 3] << 8 | (size_t)in[off + 4]);
		if (rlen > SK__REC_MAX)
			return -1;
		if (left < rlen)
			break;
		p = sk__open(x, (*seq)++, in + off, (int)rlen);
		if (p < 0)
			return -1;
		plain += p;
		off += rlen;
	}
	memmove(in, in + off, *have - off);
	*have -= off;
	return plain;
}

int main(int argc, char **argv)
{
	static unsigned char buf[SK__BUF + SK__REC_MAX];
	EVP_CIPHER_CTX *x = NULL;
	unsigned long long seq = 0;
	size_t have = 0;
	int tls = 0;
	struct sockaddr_in at;
	socklen_t atlen = sizeof(at);
	struct timeval tv = { SK__ACCEPT_SECONDS, 0 };
	unsigned long long bytes = 0;
	int lfd = -1, cfd = -1, scpu = -1, rcpu = -1, c, st, pipe = 0;
	double secs = 3, start, end, stop;
	pid_t pid;

	while ((c = getopt(argc, argv, "pts:r:d:")) != -1) {
		char *e;

		switch (c) {
		case 'p':
			pipe = 1;
			break;
		case 't':
			tls = 1;
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
	if (tls && (RAND_bytes(sk__key, sizeof(sk__key)) != 1 ||
		    RAND_bytes(sk__iv, sizeof(sk__iv)) != 1 ||
		    (x = sk__aead(0)) == NULL)) {
		fprintf(stderr, "sk_tcp_limit: cannot set up AES-128-GCM\n");
		return 1;
	}
	pid = fork();
	if (pid < 0) {
		perror("sk_tcp_limit: fork");
		return 1;
	}
	if (pid == 0)
		sk__send(argv[optind], ntohs(at.sin_port), scpu, pipe, tls);
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
		ssize_t n = read(cfd, buf + have, SK__BUF);
		long long plain;

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break; /* the sender failed: it said why */
		if (!tls) {
			bytes += (unsigned long long)n;
			continue;
		}
		have += (size_t)n;
		if ((plain = sk__opened(x, &seq, buf, &have)) < 0) {
			fprintf(stderr, "sk_tcp_limit: a record does not "
				"check out\n");
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			return 1;
		}
		bytes += (unsigned long long)plain;
	}
	close(cfd);
	close(lfd);
	waitpid(pid, &st, 0);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0 || stop <= start)
		return 1;
	EVP_CIPHER_CTX_free(x);
	printf("%s%s: %llu bytes in %.2f s = %.1f MB/s\n", tls ? "tls_" : "",
	       pipe ? "pipe_limit" : "tcp_limit", bytes,
	       stop - start, (double)bytes / (stop - start) / 1e6);
	return 0;
usage:
	fprintf(stderr, "usage: sk_tcp_limit [-p] [-t] [-s CPU] [-r CPU] "
		"[-d SECONDS] FILE\n");
	return 2;
}
