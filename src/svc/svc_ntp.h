/* svc_ntp.h: the ntp service. */
#ifndef SK_SVC_NTP_H
#define SK_SVC_NTP_H

#include "../net/service.h"

extern const struct sk_service sk_ntp;

#endif
