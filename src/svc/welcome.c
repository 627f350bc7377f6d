/*
 * welcome.c: the tutorial's TCP greeter. Sends the configured banner,
 * with its fields filled in, and closes.
 */
#include "svc_welcome.h"

#include <stddef.h>
#include <stdio.h>

#include "../net/sockaddr.h"
#include "../proto/banner.h"
#include "clock.h"

/* The welcome service's settings. */
struct sk__welcome_cfg {
	char banner[SK_BANNER_MAX]; /* compiled template */
	size_t banner_len;          /* its length */
};

static int sk__banner_set(void *settings, const char *val, char *err,
			  size_t cap)
{
	struct sk__welcome_cfg *w = settings;
	int rc = sk_banner_compile(val, w->banner, sizeof(w->banner));

	if (rc < 0) {
		snprintf(err, cap, "%s", sk_banner_strerror(rc));
		return -1;
	}
	w->banner_len = (size_t)rc;
	return 0;
}

static const struct sk_opt sk__welcome_opts[] = {
	{ .name = "banner", .type = SK_OPT_FUNC, .def = SK_BANNER_DEFAULT,
	  .arg = "TEXT",
	  .help = "the banner; fields {peer} {addr} {port} {local}\n"
		  "{time}; escapes \\r \\n \\t \\\\",
	  .parse = sk__banner_set, .flags = SK_OPT_BARE, .short_opt = 'b' },
	SK_OPT_END,
};

static void sk__welcome_accept(struct sk_conn *c)
{
	const struct sk__welcome_cfg *cfg = sk_svc_settings(sk_conn_svc(c));
	char peer[SK_ADDRSTR_MAX], local[SK_ADDRSTR_MAX];
	char addr[SK_ADDRSTR_MAX], port[8];
	char out[SK_BANNER_MAX];
	struct tm tm;
	struct sk_banner_fields f = { peer, addr, port, local, &tm };
	int n;

	sk_clock_now(&tm);
	sk_sockaddr_str(sk_conn_peer(c), peer, sizeof(peer));
	sk_sockaddr_str(sk_conn_local(c), local, sizeof(local));
	sk_sockaddr_parts(sk_conn_peer(c), addr, sizeof(addr), port,
			  sizeof(port));
	n = sk_banner_expand(cfg->banner, cfg->banner_len, &f, out,
			     sizeof(out));
	/* The template was checked at start-up; a banner that grew past the
	 * limit with long fields is cut at the limit rather than not sent. */
	if (n == SK_BANNER_E_LONG)
		n = (int)sizeof(out);
	_Static_assert(sizeof(out) == SK_BANNER_MAX, "cut banner length");
	if (n > 0)
		sk_conn_write(c, out, (size_t)n);
	sk_conn_end(c);
}

const struct sk_service sk_welcome = {
	.name = "welcome",
	.transports = SK_TCP,
	.port = 8080,
	.summary = "sends a banner and closes (the tutorial's greeter)",
	.opts = sk__welcome_opts,
	.settings_size = sizeof(struct sk__welcome_cfg),
	.tcp_accept = sk__welcome_accept,
};
