/* sockaddr.c: address formatting and blocking name resolution. */
#include "sockaddr.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>


void sk_sockaddr_parts(const struct sockaddr *sa, char *addr, size_t acap,
		       char *port, size_t pcap)
{
	const void *a = NULL;

	if (sa->sa_family == AF_INET)
		a = &((const struct sockaddr_in *)sa)->sin_addr;
	else if (sa->sa_family == AF_INET6)
		a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
	if (sa->sa_family == AF_UNIX)
		snprintf(addr, acap, "unix"); /* peers are unnamed */
	else if (a == NULL ||
		 inet_ntop(sa->sa_family, a, addr, (socklen_t)acap) == NULL)
		snprintf(addr, acap, "?");
	snprintf(port, pcap, "%u", sk_sockaddr_port(sa));
}

void sk_sockaddr_str(const struct sockaddr *sa, char *buf, size_t cap)
{
	char a[INET6_ADDRSTRLEN], p[8];

	sk_sockaddr_parts(sa, a, sizeof(a), p, sizeof(p));
	if (sa->sa_family == AF_UNIX)
		snprintf(buf, cap, "unix");
	else if (sa->sa_family == AF_INET6)
		snprintf(buf, cap, "[%s]:%s", a, p);
	else
		snprintf(buf, cap, "%s:%s", a, p);
}

uint16_t sk_sockaddr_port(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)sa)->sin_port);
	if (sa->sa_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
	return 0;
}

const uint8_t *sk_sockaddr_bytes(const struct sockaddr *sa, int *v6)
{
	*v6 = sa->sa_family == AF_INET6;
	if (*v6)
		return ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
	return (const uint8_t *)&((const struct sockaddr_in *)sa)->sin_addr;
}

int sk_sockaddr_is_loopback(const struct sockaddr *sa)
{
	static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0,
					      0, 0, 0xff, 0xff };
	const uint8_t *a;

	if (sa->sa_family == AF_UNIX)
		return 1;
	if (sa->sa_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >>
			24) == 127;
	if (sa->sa_family != AF_INET6)
		return 0;
	a = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
	return IN6_IS_ADDR_LOOPBACK((const struct in6_addr *)a) ||
	       (memcmp(a, v4mapped, 12) == 0 && a[12] == 127);
}

int sk_sockaddr_same(const struct sockaddr *a, const struct sockaddr *b)
{
	const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)a;
	const struct sockaddr_in6 *b6 = (const struct sockaddr_in6 *)b;
	const uint8_t *x, *y;
	int v6a, v6b;

	if (a->sa_family != b->sa_family ||
	    (a->sa_family != AF_INET && a->sa_family != AF_INET6) ||
	    sk_sockaddr_port(a) != sk_sockaddr_port(b))
		return 0;
	if (a->sa_family == AF_INET6 && a6->sin6_scope_id != b6->sin6_scope_id)
		return 0;
	x = sk_sockaddr_bytes(a, &v6a);
	y = sk_sockaddr_bytes(b, &v6b);
	return memcmp(x, y, v6a ? 16 : 4) == 0;
}

socklen_t sk_sockaddr_len(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_UNIX)
		return sizeof(struct sockaddr_un);
	return sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
					 : sizeof(struct sockaddr_in);
}

int sk_resolve(const char *host, uint16_t port, int socktype, int passive,
	       struct sockaddr_storage *out, int max)
{
	struct addrinfo hints, *res = NULL, *ai;
	char service[8];
	int rc, n = 0;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = socktype;
	hints.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0);
	snprintf(service, sizeof(service), "%u", port);
	rc = getaddrinfo(host, service, &hints, &res);
	if (rc != 0)
		return rc < 0 ? rc : EAI_FAIL;
	for (ai = res; ai != NULL && n < max; ai = ai->ai_next) {
		if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
			continue;
		memcpy(&out[n++], ai->ai_addr, ai->ai_addrlen);
	}
	freeaddrinfo(res);
	return n > 0 ? n : EAI_NONAME;
}
