/* svc_timefmt.h: the timefmt service. */
#ifndef SK_SVC_TIMEFMT_H
#define SK_SVC_TIMEFMT_H

#include "../net/service.h"

extern const struct sk_service sk_timefmt;

#endif
