/* svc_time.h: the time service. */
#ifndef SK_SVC_TIME_H
#define SK_SVC_TIME_H

#include "../net/service.h"

extern const struct sk_service sk_time;

#endif
