/* svc_chat.h: the chat service. */
#ifndef SK_SVC_CHAT_H
#define SK_SVC_CHAT_H

#include "../net/service.h"

extern const struct sk_service sk_chat;

#endif
