/*
 * banner.h: the welcome banner template, with no I/O.
 *
 * A template is text with fields in braces:
 *
 *     {peer}   the client's address and port (IPv6 as [addr]:port)
 *     {addr}   the client's address
 *     {port}   the client's port
 *     {local}  the server's address and port the client reached
 *     {time}   the server's local time, as "%F %X"
 *     {{ }}    a literal brace
 *
 * In the configuration, the escapes \r \n \t \\ stand for their bytes.
 */
#ifndef SK_BANNER_H
#define SK_BANNER_H

#include <stddef.h>
#include <time.h>

#define SK_BANNER_DEFAULT "welcome to sockit, {peer}\\r\\n"

/* The values a banner may show. Strings are NUL-terminated, never NULL. */
struct sk_banner_fields {
	const char *peer;    /* "addr:port" or "[addr]:port" */
	const char *addr;    /* the client's address */
	const char *port;    /* the client's port */
	const char *local;   /* the server's "addr:port" */
	const struct tm *tm; /* local time */
};

enum sk_banner_err {
	SK_BANNER_E_FIELD = -1,  /* unknown or unterminated {field} */
	SK_BANNER_E_BRACE = -2,  /* lone } */
	SK_BANNER_E_ESCAPE = -3, /* unknown \ escape */
	SK_BANNER_E_LONG = -4,   /* longer than SK_BANNER_MAX */
};

/*
 * Turn the escapes of a configured banner (src, NUL-terminated) into bytes
 * and check its fields. Writes at most cap bytes to out. Returns the
 * template length, or a negative enum sk_banner_err.
 */
int sk_banner_compile(const char *src, char *out, size_t cap);

/*
 * Expand a compiled template of len bytes into out (cap bytes). Returns
 * the banner length, or SK_BANNER_E_LONG when it does not fit in
 * min(cap, SK_BANNER_MAX) bytes (out then holds exactly that many bytes
 * of the banner, cut at the limit), or SK_BANNER_E_FIELD or
 * SK_BANNER_E_BRACE for a bad template.
 */
int sk_banner_expand(const char *tmpl, size_t len,
		     const struct sk_banner_fields *f, char *out, size_t cap);

const char *sk_banner_strerror(int err);

#endif
