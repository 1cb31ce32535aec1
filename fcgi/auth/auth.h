/*
 * auth.h - the auth program's handlers and their shared helpers.
 */
#ifndef MSGR_AUTH_H
#define MSGR_AUTH_H

#include <stdbool.h>
#include <stdint.h>

#include "http.h"

/* accounts.c */
void handle_register(struct http_req *req);
/* The master's periodic job: forgets the failed-login and registration
 * counts whose window has passed (they would only be reset on their next
 * use, and most keys are never used again), and frees the names of
 * deleted accounts whose grace has passed. */
void prune_auth_counters(void);
void handle_login(struct http_req *req);
void handle_token(struct http_req *req);
void handle_refresh(struct http_req *req);
void handle_logout(struct http_req *req);

/* An e-mail address as registration takes it: NULL, or what is wrong. */
const char *check_email(const char *s, size_t len);

/* reset.c */
void handle_password_reset(struct http_req *req);
void handle_password_reset_confirm(struct http_req *req);

/* The length of a password, in bytes as sent: registration, a change and a
 * reset. */
#define PASSWORD_MIN 8
#define PASSWORD_MAX 128

/* sessions.c */
void handle_list_sessions(struct http_req *req);
void handle_delete_session(struct http_req *req);
void handle_change_password(struct http_req *req);
/* The caller's password hash, in the request's arena, when password is
 * their current password; otherwise NULL, the request answered (403
 * invalid_credentials, or the database's problem). For a change that the
 * statement then makes only if the hash is still this one. */
const char *caller_password_check(struct http_req *req, const char *password);

/* health.c */
void handle_ready(struct http_req *req);
void handle_metrics(struct http_req *req);

/* users.c */
void handle_health(struct http_req *req);
void handle_me(struct http_req *req);
void handle_update_me(struct http_req *req);
void handle_search_users(struct http_req *req);
void handle_get_user(struct http_req *req);

/* settings.c */
void handle_get_settings(struct http_req *req);
void handle_update_settings(struct http_req *req);
void handle_unsubscribe_page(struct http_req *req);
void handle_unsubscribe(struct http_req *req);

/* blocks.c */
void handle_block(struct http_req *req);
void handle_unblock(struct http_req *req);
void handle_list_blocks(struct http_req *req);

/* admin.c */
void handle_admin_users(struct http_req *req);
void handle_admin_update_user(struct http_req *req);
void handle_admin_delete_messages(struct http_req *req);
void handle_admin_reports(struct http_req *req);
void handle_admin_update_report(struct http_req *req);
void handle_admin_stats(struct http_req *req);
void handle_admin_audit(struct http_req *req);

/* account.c */
void handle_delete_me(struct http_req *req);
void handle_admin_delete_user(struct http_req *req);

/* password.c */
int password_init(void);
/* Returns a new scrypt MCF hash in the arena, or NULL. */
const char *password_hash(struct arena *a, const char *password);
/* True only for a match. A NULL hash (unknown user) is checked against a
 * dummy hash so that both cost the same time. */
bool password_check(const char *hash, const char *password);

#endif
