/*
 * Password reset by mail (API.md "Password reset"): POST
 * /api/auth/password-reset {email} mails a link to the app's reset page,
 * MSGR_PUBLIC_URL + "/#/reset?token=" + TOKEN, and POST
 * /api/auth/password-reset/confirm {token, password} sets the password and
 * ends every session of the account. The token is random here and stored
 * only as its SHA-256; the rules (3 an hour per address, an hour's
 * validity, single use) are password_reset_request() and
 * password_reset_confirm() in schema/functions/auth.sql.
 */
#include <stdlib.h>

#include "auth.h"
#include "db.h"
#include "reply.h"
#include "token.h"

#define RESET_BODY_LIMIT 8192

enum { RQ_EMAIL, RQ__MAX };
static const struct field_spec request_fields[RQ__MAX] = {
	[RQ_EMAIL] = {"email", FIELD_STRING, FIELD_REQUIRED | FIELD_TRIM, 3, 254, check_email},
};

void handle_password_reset(struct http_req *req)
{
	DB_STMT(reset_request, 3,
		"SELECT status, body, event_id FROM password_reset_request($1, $2, $3)");
	struct field_value f[RQ__MAX];
	if (!http_parse_body(req, RESET_BODY_LIMIT, request_fields, RQ__MAX, f))
		return;
	/* A token for every request, used or not: the work, and so the time
	 * of the answer, is the same whether or not an account has the
	 * address. The refresh token's generator: 256 random bits. */
	char token[TOKEN_REFRESH_LEN + 1], hash[2 * TOKEN_HASH_LEN + 1];
	if (token_new_refresh(token) != MSGR_OK) {
		http_problem(req, 500, "internal_error", "could not create a reset token");
		return;
	}
	token_sha256_hex(token, TOKEN_REFRESH_LEN, hash);
	char *link = token_reset_link(token);
	if (!link) {
		http_problem(req, 500, "internal_error", "out of memory");
		return;
	}
	const char *params[] = {f[RQ_EMAIL].str, hash, link};
	reply_send(req, db_exec(&reset_request, params));
	free(link);
}

enum { CF_TOKEN, CF_PASSWORD, CF__MAX };
static const struct field_spec confirm_fields[CF__MAX] = {
	[CF_TOKEN] = {"token", FIELD_STRING, FIELD_REQUIRED | FIELD_RAW, 1, 256, NULL},
	[CF_PASSWORD] = {"password", FIELD_STRING, FIELD_REQUIRED | FIELD_RAW, PASSWORD_MIN,
			 PASSWORD_MAX, NULL},
};

void handle_password_reset_confirm(struct http_req *req)
{
	DB_STMT(reset_confirm, 2, "SELECT status, body, event_id FROM password_reset_confirm($1, $2)");
	struct field_value f[CF__MAX];
	if (!http_parse_body(req, RESET_BODY_LIMIT, confirm_fields, CF__MAX, f))
		return;
	char hash[2 * TOKEN_HASH_LEN + 1];
	token_sha256_hex(f[CF_TOKEN].str, f[CF_TOKEN].len, hash);
	const char *new_hash = password_hash(req->arena, f[CF_PASSWORD].str);
	if (!new_hash) {
		http_problem(req, 500, "internal_error", "could not hash the password");
		return;
	}
	const char *params[] = {hash, new_hash};
	reply_send(req, db_exec(&reset_confirm, params));
}
