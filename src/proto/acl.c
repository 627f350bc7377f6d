/* acl.c: prefix lists. */
#include "acl.h"

#include <arpa/inet.h>
#include <string.h>

#include "addr.h"

/* ::ffff:0:0/96, where IPv4-mapped IPv6 addresses live. */
static const uint8_t sk__mapped[12] = { 0, 0, 0, 0, 0, 0,
					0, 0, 0, 0, 0xff, 0xff };

int sk_cidr_parse(const char *s, struct sk_cidr *c)
{
	char host[64];
	const char *slash = strchr(s, '/');
	size_t hl = slash != NULL ? (size_t)(slash - s) : strlen(s);
	uint16_t bits;

	memset(c, 0, sizeof(*c));
	if (hl == 0 || hl >= sizeof(host))
		return -1;
	memcpy(host, s, hl);
	host[hl] = '\0';
	/* inet_pton is a pure parser: it makes no system call. */
	if (inet_pton(AF_INET, host, c->addr) == 1)
		c->v6 = 0;
	else if (inet_pton(AF_INET6, host, c->addr) == 1)
		c->v6 = 1;
	else
		return -1;
	c->bits = c->v6 ? 128 : 32;
	if (slash != NULL) {
		if (sk_port_parse(slash + 1, strlen(slash + 1), &bits) != 0 ||
		    bits > c->bits)
			return -1;
		c->bits = bits;
	}
	/* sk_acl_allows() takes a mapped source for IPv4, so a mapped prefix
	 * is an IPv4 one; left IPv6 it would silently match no one. */
	if (c->v6 && c->bits >= 96 &&
	    memcmp(c->addr, sk__mapped, sizeof(sk__mapped)) == 0) {
		memmove(c->addr, c->addr + 12, 4);
		memset(c->addr + 4, 0, 12);
		c->bits -= 96;
		c->v6 = 0;
	}
	return 0;
}

int sk_acl_add(struct sk_acl *acl, const struct sk_cidr *c)
{
	if (acl->n >= SK_ACL_MAX)
		return -1;
	acl->e[acl->n++] = *c;
	return 0;
}

static int sk__match(const struct sk_cidr *c, const uint8_t *a)
{
	unsigned full = c->bits / 8, rest = c->bits % 8;

	if (memcmp(c->addr, a, full) != 0)
		return 0;
	if (rest == 0)
		return 1;
	return ((c->addr[full] ^ a[full]) & (uint8_t)(0xff << (8 - rest))) == 0;
}

int sk_acl_allows(const struct sk_acl *acl, const uint8_t *addr, int v6)
{
	if (acl->n == 0)
		return 1;
	if (v6 && memcmp(addr, sk__mapped, sizeof(sk__mapped)) == 0) {
		addr += 12;
		v6 = 0;
	}
	for (size_t i = 0; i < acl->n; i++)
		if (acl->e[i].v6 == v6 && sk__match(&acl->e[i], addr))
			return 1;
	return 0;
}
