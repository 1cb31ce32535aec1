/*
 * The caller's own settings (API.md "Notifications"): GET and PATCH
 * /api/users/me/settings. What they are and their defaults:
 * schema/functions/settings.sql; the mailer's digest job reads them.
 *
 * And the one-click unsubscribe of the digest mails (RFC 8058):
 * /api/auth/unsubscribe?token=T, T a signed link token naming the user
 * (shared/token.h; the mailer makes it). Only a POST unsubscribes: a mail
 * client's one-click POST (body List-Unsubscribe=One-Click), or the button
 * of the page a GET answers. A GET must change nothing, as link scanners
 * and mail previews fetch every link of a mail. The page is this
 * program's, plain HTML without script or style (so it holds under the
 * app's CSP as well as under its own stricter one), and needs no sign-in:
 * the token is the authority.
 */
#include <stdio.h>
#include <string.h>

#include "auth.h"
#include "buf.h"
#include "db.h"
#include "reply.h"
#include "sqlparam.h"
#include "token.h"

#define SETTINGS_BODY_LIMIT 8192

void handle_get_settings(struct http_req *req)
{
	DB_STMT(get_settings, 2,
		"SELECT status, body, event_id FROM user_settings_get(live_session_user($1, $2))");
	if (!http_require_user(req))
		return;
	char uid[SQLPARAM_INT_LEN];
	const char *params[] = {sqlparam_int(uid, req->user_id), http_session_param(req)};
	reply_send(req, db_exec(&get_settings, params));
}

enum { SET_EMAIL_NOTIFICATIONS, SET_EMAIL_DELAY, SET_LANGUAGE, SET__MAX };
static const struct field_spec settings_fields[SET__MAX] = {
	[SET_EMAIL_NOTIFICATIONS] = {"email_notifications", FIELD_STRING, 0, 3, 8,
				     valid_notify_level},
	[SET_EMAIL_DELAY] = {"email_delay_minutes", FIELD_INT, 0, 1, 1440, NULL},
	[SET_LANGUAGE] = {"language", FIELD_STRING, 0, 1, 8, valid_language},
};

void handle_update_settings(struct http_req *req)
{
	DB_STMT(update_settings, 5,
		"SELECT status, body, event_id "
		"FROM user_settings_update(live_session_user($1, $4), $2, $3::int, $5)");
	if (!http_require_user(req))
		return;
	struct field_value f[SET__MAX];
	if (!http_parse_body(req, SETTINGS_BODY_LIMIT, settings_fields, SET__MAX, f))
		return;
	char uid[SQLPARAM_INT_LEN], delay[SQLPARAM_INT_LEN];
	const char *params[] = {
		sqlparam_int(uid, req->user_id),
		f[SET_EMAIL_NOTIFICATIONS].present ? f[SET_EMAIL_NOTIFICATIONS].str : NULL,
		f[SET_EMAIL_DELAY].present ? sqlparam_int(delay, f[SET_EMAIL_DELAY].num) : NULL,
		http_session_param(req),
		f[SET_LANGUAGE].present ? f[SET_LANGUAGE].str : NULL};
	reply_send(req, db_exec(&update_settings, params));
}

/* A page: no script, no style, nothing from elsewhere; the form posts to
 * this same URL. */
#define PAGE_CSP "default-src 'none'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
#define PAGE_HEAD                                                                      \
	"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"             \
	"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"       \
	"<meta name=\"referrer\" content=\"no-referrer\">"                                \
	"<title>Messenger e-mail notifications</title></head><body>\n"

static void send_page(struct http_req *req, const char *body)
{
	struct buf page = {0};
	buf_puts(&page, PAGE_HEAD);
	buf_puts(&page, body);
	buf_puts(&page, "</body></html>\n");
	if (buf_status(&page) != MSGR_OK) {
		buf_free(&page);
		http_problem(req, 500, "internal_error", "out of memory");
		return;
	}
	http_add_header(req, "Content-Security-Policy", PAGE_CSP);
	http_add_header(req, "Cache-Control", "no-store");
	http_send(req, 200, "text/html; charset=utf-8", page.data, page.len);
	buf_free(&page);
}

/* The user of the request's token, or 0 after answering 400. */
static int64_t unsubscribe_user(struct http_req *req)
{
	const char *tok;
	size_t len;
	int64_t uid = 0;
	if (!http_query(req, "token", &tok, &len) ||
	    token_link_verify(TOKEN_PURPOSE_UNSUBSCRIBE, tok, len, &uid) != MSGR_OK) {
		http_problem(req, 400, "invalid_token", "this unsubscribe link is not valid");
		return 0;
	}
	return uid;
}

void handle_unsubscribe_page(struct http_req *req)
{
	int64_t uid = unsubscribe_user(req);
	if (!uid)
		return;
	/* The token is checked (and only hex and digits): it may go into the
	 * page as it is. An empty action would post to this URL too, but
	 * says less. */
	const char *tok;
	size_t len;
	if (!http_query(req, "token", &tok, &len))
		return;
	char body[512 + TOKEN_LINK_MAX];
	snprintf(body, sizeof body,
		 "<h1>E-mail notifications</h1>\n"
		 "<p>Stop the e-mails about unread messages? You can turn them on again in "
		 "your profile.</p>\n"
		 "<form method=\"post\" action=\"?token=%.*s\">"
		 "<input type=\"hidden\" name=\"List-Unsubscribe\" value=\"One-Click\">"
		 "<button type=\"submit\">Unsubscribe</button></form>\n",
		 (int)len, tok);
	send_page(req, body);
}

void handle_unsubscribe(struct http_req *req)
{
	DB_STMT(unsubscribe, 1, "SELECT status, body, event_id FROM mail_unsubscribe($1)");
	/* Whatever the body says (RFC 8058 names List-Unsubscribe=One-Click,
	 * as form or multipart data): the POST is the request. */
	http_discard_body(req);
	int64_t uid = unsubscribe_user(req);
	if (!uid)
		return;
	char id[SQLPARAM_INT_LEN];
	const char *params[] = {sqlparam_int(id, uid)};
	PGresult *res = db_exec(&unsubscribe, params);
	if (!db_ok(res)) {
		reply_db_problem(req, res);
		return;
	}
	PQclear(res);
	send_page(req, "<h1>Unsubscribed</h1>\n"
		       "<p>You will get no more e-mails about unread messages. You can turn them "
		       "on again in your profile.</p>\n");
}
