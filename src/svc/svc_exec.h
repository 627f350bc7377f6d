/* svc_exec.h: the exec service. */
#ifndef SK_SVC_EXEC_H
#define SK_SVC_EXEC_H

#include "../net/service.h"

extern const struct sk_service sk_exec;

#endif
