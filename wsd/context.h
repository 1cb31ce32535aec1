/*
 * context.h - the libwebsockets context of the process and its two vhosts:
 * "ws" listens for WebSocket connections (session.h's protocol), "pg"
 * listens nowhere and holds the adopted database sockets (pg.h).
 *
 * The loop is libev's (epoll) when lws has it (MSGR_WSD_EVENT_LIB=ev, the
 * default), else lws's poll(); W.event_lib says which. lws's own idle
 * pings are off: session.c pings from one sweep.
 *
 * State: W.context, W.vhost, W.pg_vhost, from context_create() to
 * lws_context_destroy().
 */
#ifndef WSD_CONTEXT_H
#define WSD_CONTEXT_H

#include "settings.h"

/* Creates the context and the vhosts, listening where says. Returns 0, or
 * the exit status after logging why (1, or 78 for a bad setting). */
int context_create(const struct wsd_listen *where);

#endif
