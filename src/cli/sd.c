/*
 * sd.c: `sockit serve` under systemd: the sockets it hands us (socket
 * activation) and what we tell it (readiness and stopping).
 *
 * libsystemd does the protocol: sd_listen_fds_with_names() reads
 * LISTEN_PID, LISTEN_FDS and LISTEN_FDNAMES (and unsets them, so that no
 * child sees them), and sd_notify() writes to NOTIFY_SOCKET, doing
 * nothing when it is not set. This file only classifies each socket for
 * serve.c, which knows the services: the name (FileDescriptorName=)
 * says whose a socket is, and the socket's own type and family say over
 * what.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <systemd/sd-daemon.h>

#include "../net/log.h"
#include "../net/sockaddr.h"
#include "../proto/addr.h"
#include "cli.h"

/* What fd is, when it is no socket we can serve: for the error. */
static const char *sk__sd_what(int fd)
{
	struct stat st;
	int type = 0, domain = 0;
	socklen_t len = sizeof(int);

	if (fstat(fd, &st) != 0)
		return "not an open file";
	if (!S_ISSOCK(st.st_mode))
		return S_ISFIFO(st.st_mode) ? "a FIFO, not a socket"
					    : "not a socket";
	getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len);
	len = sizeof(int);
	getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len);
	if (domain == AF_UNIX)
		return type == SOCK_DGRAM ? "a unix datagram socket"
		       : type == SOCK_SEQPACKET ? "a unix seqpacket socket"
						: "a unix socket";
	if (domain != AF_INET && domain != AF_INET6)
		return "a socket of another address family";
	return "a socket of another type";
}

/* Classify one socket into *h (fd and name already set). Returns 0, or
 * -1 with the reason in err. */
static int sk__sd_classify(struct sk_sd_socket *h, char *err, size_t cap)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (sd_is_socket_inet(h->fd, AF_UNSPEC, SOCK_STREAM, 1, 0) > 0) {
		h->transport = SK_TCP;
	} else if (sd_is_socket_inet(h->fd, AF_UNSPEC, SOCK_DGRAM, -1, 0) > 0) {
		h->transport = SK_UDP;
	} else if (sd_is_socket_unix(h->fd, SOCK_STREAM, 1, NULL, 0) > 0) {
		h->transport = SK_UNIX;
	} else if (sd_is_socket(h->fd, AF_UNSPEC, SOCK_STREAM, 0) > 0) {
		snprintf(err, cap, "a connected stream socket, not a "
			 "listening one (Accept=yes is not supported)");
		return -1;
	} else {
		snprintf(err, cap, "%s (sockit serves TCP, UDP and unix "
			 "stream sockets)", sk__sd_what(h->fd));
		return -1;
	}
	memset(&ss, 0, sizeof(ss));
	if (getsockname(h->fd, (struct sockaddr *)&ss, &len) != 0) {
		snprintf(err, cap, "%s", strerror(errno));
		return -1;
	}
	h->addr = ss;
	if (h->transport == SK_UNIX) {
		const struct sockaddr_un *un = (const struct sockaddr_un *)&ss;
		size_t n = len > offsetof(struct sockaddr_un, sun_path)
			? len - offsetof(struct sockaddr_un, sun_path) : 0;

		if (n == 0 || un->sun_path[0] == '\0')
			snprintf(h->where, sizeof(h->where), "@%.*s",
				 n > 1 ? (int)(n - 1) : 0, un->sun_path + 1);
		else
			snprintf(h->where, sizeof(h->where), "%.*s",
				 (int)strnlen(un->sun_path, n), un->sun_path);
	} else {
		sk_sockaddr_str((struct sockaddr *)&ss, h->where,
				sizeof(h->where));
	}
	return 0;
}

int sk_sd_listen(struct sk_sd_socket *out, size_t cap, char *err,
		 size_t errcap)
{
	char **names = NULL;
	char why[160];
	int n, rc = -1;

	n = sd_listen_fds_with_names(1, &names);
	if (n < 0) {
		snprintf(err, errcap, "the sockets systemd handed over "
			 "(LISTEN_FDS, LISTEN_FDNAMES): %s", strerror(-n));
		return -1;
	}
	if ((size_t)n > cap) {
		snprintf(err, errcap, "systemd handed over %d sockets, more "
			 "than %zu", n, cap);
		goto out;
	}
	for (int i = 0; i < n; i++) {
		struct sk_sd_socket *h = &out[i];

		memset(h, 0, sizeof(*h));
		h->fd = SD_LISTEN_FDS_START + i;
		snprintf(h->name, sizeof(h->name), "%s",
			 names != NULL && names[i] != NULL ? names[i] : "");
		if (sk__sd_classify(h, why, sizeof(why)) != 0) {
			snprintf(err, errcap, "socket %d from systemd ('%s'): "
				 "%s", h->fd, h->name, why);
			goto out;
		}
	}
	rc = n;
out:
	if (names != NULL) {
		for (int i = 0; names[i] != NULL; i++)
			free(names[i]);
		free(names);
	}
	return rc;
}

void sk_sd_ready(size_t sockets, size_t handed)
{
	int rc;

	rc = sd_notifyf(0, "READY=1\nSTATUS=serving %zu socket%s (%zu from "
			"systemd)", sockets, sockets == 1 ? "" : "s", handed);
	if (rc < 0)
		sk_log_warn(rc, "serve: cannot tell systemd that we are ready "
			    "(NOTIFY_SOCKET)");
}

void sk_sd_reloading(void)
{
	/* systemd waits for the READY=1 that ends the reload. */
	sd_notify(0, "RELOADING=1\nSTATUS=reloading");
}

void sk_sd_stopping(void *arg)
{
	(void)arg;
	/* Nothing to do about a failure now: systemd sees the exit. */
	sd_notify(0, "STOPPING=1\nSTATUS=shutting down");
}
