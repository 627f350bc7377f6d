/*
 * acl.h: address prefixes for access control (NTP's `allow`), with no I/O.
 *
 *     192.0.2.0/24   2001:db8::/32   127.0.0.1 (a whole address)
 *
 * An empty list allows everyone; otherwise a source must match an entry.
 */
#ifndef SK_ACL_H
#define SK_ACL_H

#include <stddef.h>
#include <stdint.h>

/* Entries in one list; stops a config from making every packet walk an
 * unbounded list. */
#define SK_ACL_MAX 32

struct sk_cidr {
	uint8_t addr[16]; /* IPv4 in the first 4 bytes */
	unsigned bits;    /* prefix length */
	int v6;           /* 1 for IPv6 */
};

struct sk_acl {
	struct sk_cidr e[SK_ACL_MAX]; /* entries */
	size_t n;                     /* how many */
};

/* Parse "ADDR[/BITS]" (NUL-terminated). An IPv4-mapped IPv6 prefix of
 * /96 or longer is stored as the IPv4 prefix it stands for, since sources
 * in that form are matched as IPv4. Returns 0 or -1. */
int sk_cidr_parse(const char *s, struct sk_cidr *c);

/* Add a parsed entry. Returns 0, or -1 when the list is full. */
int sk_acl_add(struct sk_acl *acl, const struct sk_cidr *c);

/* Is addr (4 or 16 bytes; IPv4-mapped IPv6 counts as IPv4) allowed? */
int sk_acl_allows(const struct sk_acl *acl, const uint8_t *addr, int v6);

#endif
