/*
 * sockaddr.h: socket addresses to text and back.
 */
#ifndef SK_SOCKADDR_H
#define SK_SOCKADDR_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* "192.0.2.1:80" or "[2001:db8::1]:80", with NUL. */
#define SK_ADDRSTR_MAX 64

/* Format sa as address:port into buf (SK_ADDRSTR_MAX bytes). */
void sk_sockaddr_str(const struct sockaddr *sa, char *buf, size_t cap);

/* Format only the address (no brackets) and the port as text. */
void sk_sockaddr_parts(const struct sockaddr *sa, char *addr, size_t acap,
		       char *port, size_t pcap);

/* The port of an AF_INET or AF_INET6 address. */
uint16_t sk_sockaddr_port(const struct sockaddr *sa);

/* The raw address bytes of an AF_INET (4 bytes) or AF_INET6 (16 bytes)
 * address, for rate limiting and access control; *v6 tells which. */
const uint8_t *sk_sockaddr_bytes(const struct sockaddr *sa, int *v6);

/* The size of sa by its family. */
socklen_t sk_sockaddr_len(const struct sockaddr *sa);

/*
 * Resolve host (a name or literal; "" is not allowed) and port for the
 * given socket type (SOCK_STREAM or SOCK_DGRAM). passive selects
 * AI_PASSIVE. Fills up to max addresses into out. Returns the number
 * found (at least 1), or a negative EAI_* code for gai_strerror().
 * Blocking.
 */
int sk_resolve(const char *host, uint16_t port, int socktype, int passive,
	       struct sockaddr_storage *out, int max);

/* Is sa on this host only: 127/8, ::1, an IPv4-mapped 127/8, or a unix
 * socket? */
int sk_sockaddr_is_loopback(const struct sockaddr *sa);

/* Are a and b the same AF_INET or AF_INET6 address and port (and, for
 * IPv6, scope)? */
int sk_sockaddr_same(const struct sockaddr *a, const struct sockaddr *b);

#endif
