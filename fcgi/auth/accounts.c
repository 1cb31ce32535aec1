/*
 * Registration, login, the OAuth2 token endpoint, refresh and logout.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "auth.h"
#include "config.h"
#include "db.h"
#include "log.h"
#include "reply.h"
#include "sqlparam.h"
#include "token.h"
#include "utf8.h"

#define AUTH_BODY_LIMIT 8192

static long refresh_ttl(void)
{
	return config_int("MSGR_REFRESH_TTL", 30L * 86400, 60, 365L * 86400);
}

/* Registrations per client address in an hour (issue 18: one address made
 * 1,200 accounts at ~11 a second). */
#define REGISTER_WINDOW_SECS 3600

static long register_max_per_addr(void)
{
	return config_int("MSGR_REGISTER_MAX_PER_ADDR", 10, 1, 1000000000);
}

static long login_window(void)
{
	return config_int("MSGR_LOGIN_WINDOW", 900, 1, 86400);
}

void prune_auth_counters(void)
{
	DB_STMT(prune, 2, "SELECT prune_auth_counters($1::int, $2::int)");
	char login[SQLPARAM_INT_LEN], reg[SQLPARAM_INT_LEN];
	const char *params[] = {sqlparam_int(login, login_window()),
				sqlparam_int(reg, REGISTER_WINDOW_SECS)};
	PGresult *res = db_exec(&prune, params);
	if (db_ok(res) && PQgetvalue(res, 0, 0)[0] != '0')
		log_info("forgot %s failed-login and registration counts past their window",
			 PQgetvalue(res, 0, 0));
	else if (!db_ok(res))
		log_error("could not prune the failed-login and registration counts: %s",
			  res ? PQresultErrorMessage(res) : "no database connection");
	PQclear(res);
	/* The names of deleted accounts past their grace (account.sql). */
	DB_STMT(release, 0, "SELECT account_reservations_release()");
	res = db_exec(&release, NULL);
	if (db_ok(res) && PQgetvalue(res, 0, 0)[0] != '0')
		log_info("released the names of %s deleted accounts past their grace",
			 PQgetvalue(res, 0, 0));
	else if (!db_ok(res))
		log_error("could not release the names of deleted accounts: %s",
			  res ? PQresultErrorMessage(res) : "no database connection");
	PQclear(res);
}

static const char *check_username(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '.'))
			return "may contain only letters a-z, digits, '_' and '.'";
	}
	return NULL;
}

const char *check_email(const char *s, size_t len)
{
	const char *at = memchr(s, '@', len);
	if (!at || at == s || at == s + len - 1 || memchr(at + 1, '@', len - (size_t)(at - s) - 1))
		return "must be an email address like name@example.com";
	for (size_t i = 0; i < len; i++)
		if (s[i] == ' ')
			return "must not contain spaces";
	return NULL;
}

/* A request header as a text parameter: "" when none, longer than 8 KB
 * or not valid UTF-8 (a header is any bytes; a text parameter is not). */
static const char *header_text(struct http_req *req, const char *name)
{
	const char *v = http_header(req, name);
	if (!v)
		return "";
	size_t len = strnlen(v, 8192);
	return len < 8192 && utf8_valid(v, len) && !utf8_has_control(v, len) ? v : "";
}

/* The client's User-Agent as the sessions list shows it. The database
 * keeps the first 512 characters. */
static const char *user_agent(struct http_req *req)
{
	return header_text(req, "User-Agent");
}

static char *lower_copy(struct arena *a, const char *s, size_t len)
{
	char *out = arena_strndup(a, s, len);
	for (char *p = out; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	return out;
}

/* Appends the token-pair members (API.md "Token pair") to b, without
 * braces. Returns false when no access token could be made. */
static bool append_token_pair(struct buf *b, int64_t user_id, int64_t session_id,
			      const char *refresh)
{
	char *access = token_issue_access(user_id, session_id, time(NULL));
	if (!access)
		return false;
	buf_puts(b, "\"access_token\":");
	buf_json_str(b, access, strlen(access));
	buf_printf(b, ",\"token_type\":\"bearer\",\"expires_in\":%ld,\"refresh_token\":",
		   token_access_ttl());
	buf_json_str(b, refresh, strlen(refresh));
	free(access);
	return true;
}

/* The pair for a login session (session_id: auth_sessions.id, the access
 * token's sid). */
static void send_token_pair(struct http_req *req, int status, const char *user_json,
			    int64_t user_id, int64_t session_id, const char *refresh)
{
	struct buf b = {0};
	buf_putc(&b, '{');
	if (user_json) {
		buf_puts(&b, "\"user\":");
		buf_puts(&b, user_json);
		buf_putc(&b, ',');
	}
	bool ok = append_token_pair(&b, user_id, session_id, refresh);
	buf_putc(&b, '}');
	if (ok && buf_status(&b) == MSGR_OK)
		http_send_json(req, status, b.data, b.len);
	else
		http_problem(req, 500, "internal_error", "could not issue an access token");
	buf_free(&b);
}

/* A fresh refresh token and its storage hash; false (answered 500) when
 * the system has no randomness to give. */
static bool new_refresh(struct http_req *req, char token[TOKEN_REFRESH_LEN + 1],
			char hash[2 * TOKEN_HASH_LEN + 1])
{
	if (token_new_refresh(token) != MSGR_OK) {
		http_problem(req, 500, "internal_error", "could not create a refresh token");
		return false;
	}
	token_sha256_hex(token, TOKEN_REFRESH_LEN, hash);
	return true;
}

enum { REG_USERNAME, REG_EMAIL, REG_PASSWORD, REG_DISPLAY_NAME, REG__MAX };
static const struct field_spec register_fields[REG__MAX] = {
	[REG_USERNAME] = {"username", FIELD_STRING, FIELD_REQUIRED | FIELD_TRIM, 3, 32,
			  check_username},
	[REG_EMAIL] = {"email", FIELD_STRING, FIELD_REQUIRED | FIELD_TRIM, 3, 254, check_email},
	[REG_PASSWORD] = {"password", FIELD_STRING, FIELD_REQUIRED | FIELD_RAW, PASSWORD_MIN,
			  PASSWORD_MAX, NULL},
	[REG_DISPLAY_NAME] = {"display_name", FIELD_STRING, FIELD_TRIM | FIELD_NAME, 1, 64,
				  NULL},
};

/* Answers 429 and returns false when the client's address has made its
 * accounts for the hour. Asked before the password is hashed, which is
 * what an abuser makes the server pay for; the count itself is taken in
 * the registration's statement (register_counted()). */
static bool register_allowed(struct http_req *req, const char *max, const char *window)
{
	DB_STMT(register_wait, 3, "SELECT register_wait($1, $2::int, $3::int)");
	const char *params[] = {req->remote_addr, max, window};
	PGresult *res = db_exec(&register_wait, params);
	if (!db_ok(res)) {
		reply_db_problem(req, res);
		return false;
	}
	long wait = strtol(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	if (wait <= 0)
		return true;
	char secs[24];
	snprintf(secs, sizeof secs, "%ld", wait);
	http_add_header(req, "Retry-After", secs);
	http_problem(req, 429, "too_many_registrations",
		     "too many accounts were made from this address; try again in %ld seconds", wait);
	return false;
}

void handle_register(struct http_req *req)
{
	/* The app's language starts as the browser's (Accept-Language; the
	 * settings' "language"), stored in the same transaction. */
	DB_STMT(register_user, 11,
		"SELECT r.usr->>'id', r.usr, r.sid, register_counted($8, $9::int, $10::int), "
		"user_settings_register((r.usr->>'id')::bigint, $11) "
		"FROM register_user($1, $2, $3, $4, $5, $6::int, $7, $8) r");
	struct field_value f[REG__MAX];
	if (!http_parse_body(req, AUTH_BODY_LIMIT, register_fields, REG__MAX, f))
		return;
	char max[SQLPARAM_INT_LEN], window[SQLPARAM_INT_LEN];
	sqlparam_int(max, register_max_per_addr());
	sqlparam_int(window, REGISTER_WINDOW_SECS);
	if (!register_allowed(req, max, window))
		return;
	const char *username = lower_copy(req->arena, f[REG_USERNAME].str, f[REG_USERNAME].len);
	const char *display = f[REG_DISPLAY_NAME].present ? f[REG_DISPLAY_NAME].str : username;
	const char *hash = password_hash(req->arena, f[REG_PASSWORD].str);
	if (!hash) {
		http_problem(req, 500, "internal_error", "could not hash the password");
		return;
	}
	char refresh[TOKEN_REFRESH_LEN + 1], refresh_hash[2 * TOKEN_HASH_LEN + 1];
	if (!new_refresh(req, refresh, refresh_hash))
		return;
	char ttl[SQLPARAM_INT_LEN];
	const char *params[] = {username, f[REG_EMAIL].str, hash, display, refresh_hash,
				sqlparam_int(ttl, refresh_ttl()), user_agent(req), req->remote_addr,
				max, window, header_text(req, "Accept-Language")};
	PGresult *res = db_exec(&register_user, params);
	if (!db_ok(res)) {
		reply_db_problem(req, res);
		return;
	}
	int64_t uid = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	int64_t sid = strtoll(PQgetvalue(res, 0, 2), NULL, 10);
	send_token_pair(req, 201, PQgetvalue(res, 0, 1), uid, sid, refresh);
	PQclear(res);
	db_notify_events("");
}

/* The outcome of checking a login name and password. */
enum login_result { LOGIN_OK, LOGIN_BAD, LOGIN_THROTTLED, LOGIN_DB_ERROR };

/*
 * Checks credentials with the failure limits per (login, address) pair and
 * per address (login_key(), schema/functions/auth.sql).
 * Unknown users are hashed against a dummy so that both failures take the
 * same time. On LOGIN_OK sets *user_id; on LOGIN_THROTTLED *retry_after.
 */
static enum login_result check_login(struct http_req *req, const char *login,
				     const char *password, int64_t *user_id, long *retry_after,
				     PGresult **db_error)
{
	/* A username has no '@' and an e-mail must: one account at most. */
	DB_STMT(find_login, 5,
		"SELECT login_throttle(login_key(u.id, $1, $2), $2, $3::int, $4::int, $5::int), "
		"u.id, u.password_hash "
		"FROM (SELECT 1) one LEFT JOIN users u "
		"ON u.username = lower($1) OR lower(u.email) = lower($1)");
	DB_STMT(record_failure, 4, "SELECT login_failed(login_key($1::bigint, $2, $3), $3, $4::int)");
	char max_user[SQLPARAM_INT_LEN], max_addr[SQLPARAM_INT_LEN], window[SQLPARAM_INT_LEN];
	long window_secs = login_window();
	const char *params[] = {
		login, req->remote_addr,
		sqlparam_int(max_user, config_int("MSGR_LOGIN_MAX_PER_USER", 10, 1, 1000000)),
		sqlparam_int(max_addr, config_int("MSGR_LOGIN_MAX_PER_ADDR", 100, 1, 1000000)),
		sqlparam_int(window, window_secs)};
	PGresult *res = db_exec(&find_login, params);
	if (!db_ok(res)) {
		*db_error = res;
		return LOGIN_DB_ERROR;
	}
	long wait = strtol(PQgetvalue(res, 0, 0), NULL, 10);
	if (wait > 0) {
		*retry_after = wait;
		PQclear(res);
		return LOGIN_THROTTLED;
	}
	bool known = !PQgetisnull(res, 0, 1);
	const char *hash = known ? arena_strndup(req->arena, PQgetvalue(res, 0, 2),
						 (size_t)PQgetlength(res, 0, 2))
				 : NULL;
	int64_t uid = known ? strtoll(PQgetvalue(res, 0, 1), NULL, 10) : 0;
	PQclear(res);
	if (password_check(hash, password)) {
		*user_id = uid;
		return LOGIN_OK;
	}
	char uid_text[SQLPARAM_INT_LEN];
	const char *fail_params[] = {known ? sqlparam_int(uid_text, uid) : NULL, login,
				     req->remote_addr, window};
	res = db_exec(&record_failure, fail_params);
	if (!db_ok(res)) {
		*db_error = res;
		return LOGIN_DB_ERROR;
	}
	PQclear(res);
	return LOGIN_BAD;
}

/* Opens a login session for the user; fills the new refresh token and
 * returns the session's id. Answers the problem itself and returns 0 on
 * failure. */
static int64_t open_session(struct http_req *req, int64_t user_id, const char *login,
			    char refresh[TOKEN_REFRESH_LEN + 1])
{
	DB_STMT(session_open, 6,
		"WITH forget AS (DELETE FROM login_failures "
		"WHERE scope = 'pair' AND key = login_key($1::bigint, $4, $6)) "
		"SELECT session_open($1::bigint, $2, $3::int, $5, $6)");
	char hash[2 * TOKEN_HASH_LEN + 1], uid[SQLPARAM_INT_LEN], ttl[SQLPARAM_INT_LEN];
	if (!new_refresh(req, refresh, hash))
		return 0;
	const char *params[] = {sqlparam_int(uid, user_id), hash, sqlparam_int(ttl, refresh_ttl()),
				login, user_agent(req), req->remote_addr};
	PGresult *res = db_exec(&session_open, params);
	if (!db_ok(res)) {
		reply_db_problem(req, res);
		return 0;
	}
	int64_t sid = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return sid;
}

static void answer_throttled(struct http_req *req, long retry_after)
{
	char secs[24];
	snprintf(secs, sizeof secs, "%ld", retry_after);
	http_add_header(req, "Retry-After", secs);
	http_problem(req, 429, "too_many_attempts",
		     "too many failed logins; try again in %ld seconds", retry_after);
}

/* Checks the credentials and answers a token pair for a new login session;
 * refused credentials are answered by answer_bad (its error format differs
 * between the JSON login and the OAuth2 endpoint). */
static void login_and_answer(struct http_req *req, const char *login, const char *password,
			     void (*answer_bad)(struct http_req *req))
{
	int64_t uid = 0;
	long retry_after = 0;
	PGresult *err = NULL;
	char refresh[TOKEN_REFRESH_LEN + 1];
	switch (check_login(req, login, password, &uid, &retry_after, &err)) {
	case LOGIN_DB_ERROR:
		reply_db_problem(req, err);
		return;
	case LOGIN_THROTTLED:
		answer_throttled(req, retry_after);
		return;
	case LOGIN_BAD:
		answer_bad(req);
		return;
	case LOGIN_OK:
		break;
	}
	int64_t sid = open_session(req, uid, login, refresh);
	if (sid > 0)
		send_token_pair(req, 200, NULL, uid, sid, refresh);
}

static void answer_bad_login(struct http_req *req)
{
	http_problem(req, 401, "invalid_credentials", "wrong login or password");
}

enum { LOGIN_LOGIN, LOGIN_PASSWORD, LOGIN__MAX };
static const struct field_spec login_fields[LOGIN__MAX] = {
	[LOGIN_LOGIN] = {"login", FIELD_STRING, FIELD_REQUIRED | FIELD_TRIM, 1, 254, NULL},
	[LOGIN_PASSWORD] = {"password", FIELD_STRING, FIELD_REQUIRED | FIELD_RAW, 1, 1024, NULL},
};

void handle_login(struct http_req *req)
{
	struct field_value f[LOGIN__MAX];
	if (!http_parse_body(req, AUTH_BODY_LIMIT, login_fields, LOGIN__MAX, f))
		return;
	login_and_answer(req, f[LOGIN_LOGIN].str, f[LOGIN_PASSWORD].str, answer_bad_login);
}

/* Answers an OAuth2 error (RFC 6749 section 5.2). */
static void oauth_error(struct http_req *req, int status, const char *error,
			const char *description)
{
	struct buf b = {0};
	buf_puts(&b, "{\"error\":");
	buf_json_str(&b, error, strlen(error));
	buf_puts(&b, ",\"error_description\":");
	buf_json_str(&b, description, strlen(description));
	buf_putc(&b, '}');
	if (status == 401)
		http_add_header(req, "WWW-Authenticate", "Basic");
	if (buf_status(&b) == MSGR_OK)
		http_send_json(req, status, b.data, b.len);
	else
		http_problem(req, 500, "internal_error", "out of memory");
	buf_free(&b);
}

/* Rotates a refresh token; answers nothing, returns the user id (and sets
 * *session_id) or 0 when the token is refused, -1 on a database failure
 * (then *db_error). */
static int64_t rotate_refresh(const char *old_token, size_t old_len,
			      char new_token[TOKEN_REFRESH_LEN + 1], int64_t *session_id,
			      PGresult **db_error)
{
	DB_STMT(session_rotate, 3,
		"SELECT r.user_id, r.session_id FROM session_rotate($1, $2, $3::int) r");
	char old_hash[2 * TOKEN_HASH_LEN + 1], new_hash[2 * TOKEN_HASH_LEN + 1];
	char ttl[SQLPARAM_INT_LEN];
	token_sha256_hex(old_token, old_len, old_hash);
	if (token_new_refresh(new_token) != MSGR_OK) {
		*db_error = NULL;
		return -1;
	}
	token_sha256_hex(new_token, TOKEN_REFRESH_LEN, new_hash);
	const char *params[] = {old_hash, new_hash, sqlparam_int(ttl, refresh_ttl())};
	PGresult *res = db_exec(&session_rotate, params);
	if (!db_ok(res)) {
		*db_error = res;
		return -1;
	}
	int64_t uid = 0;
	if (PQntuples(res) == 1) {
		uid = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
		*session_id = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
	}
	PQclear(res);
	return uid;
}

enum { TOK_GRANT, TOK_USERNAME, TOK_PASSWORD, TOK_REFRESH, TOK__MAX };
static const struct field_spec token_fields[TOK__MAX] = {
	[TOK_GRANT] = {"grant_type", FIELD_STRING, 0, 1, 64, NULL},
	[TOK_USERNAME] = {"username", FIELD_STRING, FIELD_TRIM, 1, 254, NULL},
	[TOK_PASSWORD] = {"password", FIELD_STRING, FIELD_RAW, 1, 1024, NULL},
	[TOK_REFRESH] = {"refresh_token", FIELD_STRING, 0, 1, 256, NULL},
};

static void answer_bad_grant(struct http_req *req)
{
	oauth_error(req, 400, "invalid_grant", "wrong username or password");
}

/* grant_type=password (RFC 6749 section 4.3). */
static void token_password_grant(struct http_req *req, const struct field_value *f)
{
	if (!f[TOK_USERNAME].present || !f[TOK_PASSWORD].present) {
		oauth_error(req, 400, "invalid_request", "username and password are required");
		return;
	}
	login_and_answer(req, f[TOK_USERNAME].str, f[TOK_PASSWORD].str, answer_bad_grant);
}

/* grant_type=refresh_token (RFC 6749 section 6). */
static void token_refresh_grant(struct http_req *req, const struct field_value *f)
{
	if (!f[TOK_REFRESH].present) {
		oauth_error(req, 400, "invalid_request", "refresh_token is required");
		return;
	}
	char refresh[TOKEN_REFRESH_LEN + 1];
	PGresult *err = NULL;
	int64_t sid = 0;
	int64_t uid = rotate_refresh(f[TOK_REFRESH].str, f[TOK_REFRESH].len, refresh, &sid, &err);
	if (uid < 0)
		reply_db_problem(req, err);
	else if (uid == 0)
		oauth_error(req, 400, "invalid_grant", "the refresh token is invalid or expired");
	else
		send_token_pair(req, 200, NULL, uid, sid, refresh);
}

void handle_token(struct http_req *req)
{
	struct field_value f[TOK__MAX];
	struct field_errors errs = {0};
	if (!http_read_body(req, AUTH_BODY_LIMIT))
		return;
	const char *ct = http_header(req, "Content-Type");
	if (!ct || strncasecmp(ct, "application/x-www-form-urlencoded", 33)) {
		oauth_error(req, 400, "invalid_request",
			    "send the form as application/x-www-form-urlencoded");
		return;
	}
	/* RFC 6749 section 3.2: no parameter more than once. valid_form()
	 * would keep the first grant_type or username and ignore the rest,
	 * so a proxy or a log that reads the last would see another request
	 * than the one answered. */
	const char *repeated = valid_form_repeat(req->arena, req->body, req->body_len);
	if (repeated) {
		size_t n = strlen(repeated);
		bool printable = n <= 64 && utf8_valid(repeated, n) && !utf8_has_control(repeated, n);
		const char *detail = printable ? arena_printf(req->arena, "%s is given more than once",
							      repeated)
					       : "a parameter is given more than once";
		oauth_error(req, 400, "invalid_request", detail);
		return;
	}
	valid_form(req->arena, req->body, req->body_len, token_fields, TOK__MAX, f, &errs);
	int nerrs = errs.count;
	field_errors_free(&errs);
	if (nerrs) {
		oauth_error(req, 400, "invalid_request", "a parameter is malformed");
		return;
	}
	if (!f[TOK_GRANT].present) {
		oauth_error(req, 400, "invalid_request", "grant_type is required");
	} else if (!strcmp(f[TOK_GRANT].str, "password")) {
		token_password_grant(req, f);
	} else if (!strcmp(f[TOK_GRANT].str, "refresh_token")) {
		token_refresh_grant(req, f);
	} else {
		oauth_error(req, 400, "unsupported_grant_type",
			    "grant_type must be password or refresh_token");
	}
}

enum { REF_TOKEN, REF__MAX };
static const struct field_spec refresh_fields[REF__MAX] = {
	[REF_TOKEN] = {"refresh_token", FIELD_STRING, FIELD_REQUIRED, 1, 256, NULL},
};

void handle_refresh(struct http_req *req)
{
	struct field_value f[REF__MAX];
	if (!http_parse_body(req, AUTH_BODY_LIMIT, refresh_fields, REF__MAX, f))
		return;
	char refresh[TOKEN_REFRESH_LEN + 1];
	PGresult *err = NULL;
	int64_t sid = 0;
	int64_t uid = rotate_refresh(f[REF_TOKEN].str, f[REF_TOKEN].len, refresh, &sid, &err);
	if (uid < 0) {
		reply_db_problem(req, err);
	} else if (uid == 0) {
		http_add_header(req, "WWW-Authenticate", "Bearer error=\"invalid_token\"");
		http_problem(req, 401, "invalid_refresh_token",
			     "the refresh token is invalid, expired or was already used");
	} else {
		send_token_pair(req, 200, NULL, uid, sid, refresh);
	}
}

void handle_logout(struct http_req *req)
{
	DB_STMT(session_close, 1, "SELECT session_close($1)");
	struct field_value f[REF__MAX];
	if (!http_parse_body(req, AUTH_BODY_LIMIT, refresh_fields, REF__MAX, f))
		return;
	char hash[2 * TOKEN_HASH_LEN + 1];
	token_sha256_hex(f[REF_TOKEN].str, f[REF_TOKEN].len, hash);
	const char *params[] = {hash};
	PGresult *res = db_exec(&session_close, params);
	if (!db_ok(res)) {
		reply_db_problem(req, res);
		return;
	}
	PQclear(res);
	/* Like RFC 7009 revocation: an unknown token is not an error, so a
	 * client can always log out. */
	http_no_content(req);
}
