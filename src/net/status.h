/*
 * status.h: the daemon's counters and settings, for `sockit status`
 * (over a control socket, as chronyc serverstats asks chronyd) and for
 * the log (on SIGUSR1).
 *
 * The control socket is a unix stream socket, mode 0600, owned by the
 * user the daemon runs as (nobody else but root may connect). A client
 * sends one line, "status" or "status json", and reads the document to
 * the end; the daemon then closes. docs/PROTOCOL.md, "The control
 * socket", has the document's fields.
 */
#ifndef SK_STATUS_H
#define SK_STATUS_H

#include <stddef.h>
#include <sys/types.h>

struct sk_server;

/*
 * The control socket's path when none is given: $SOCKIT_CONTROL when set
 * (empty: none), else $RUNTIME_DIRECTORY/control (systemd's
 * RuntimeDirectory=), else /run/sockit/control for root, else
 * $XDG_RUNTIME_DIR/sockit/control. Returns 0, or -ENOENT when there is
 * none, or -ENAMETOOLONG.
 */
int sk_status_default_path(char *buf, size_t cap);

/*
 * Log s's status on SIGUSR1, and serve it at path (NULL: nowhere),
 * until s stops. The
 * socket (and its directory, when made here) is chowned to uid:gid when
 * uid is not (uid_t)-1: the user the daemon is about to become. A stale
 * socket is replaced; one where another daemon answers is not (-EADDRINUSE).
 * Returns 0, or a negative errno with a message in err.
 */
int sk_status_start(struct sk_server *s, const char *path, uid_t uid,
		    gid_t gid, char *err, size_t cap);

/* The document, as text or JSON: a malloc'd string, or NULL. */
char *sk_status_doc(struct sk_server *s, int json);

#endif
