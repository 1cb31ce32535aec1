/*
 * chats.h - the chats program's handlers (API.md "Chats and messages": the
 * chat list, chats, and group membership). Messages are the messages
 * program's. Each handler validates its input and makes one call of a
 * function of schema/functions/chats.sql, which answers (shared/reply.h).
 */
#ifndef MSGR_CHATS_H
#define MSGR_CHATS_H

#include "http.h"

/* The largest body: a group of 1000 member ids and a title. */
#define CHATS_BODY_LIMIT (64 * 1024)

/* chats.c */
void handle_list_chats(struct http_req *req);
void handle_create_chat(struct http_req *req);
void handle_get_chat(struct http_req *req);
void handle_update_chat(struct http_req *req);
void handle_delete_chat(struct http_req *req);

/* members.c */
void handle_add_member(struct http_req *req);
void handle_remove_member(struct http_req *req);
void handle_set_owner(struct http_req *req);

/* pins.c */
void handle_pin(struct http_req *req);
void handle_unpin(struct http_req *req);
void handle_chat_settings(struct http_req *req);

#endif
