/*
 * token.h - access tokens, refresh tokens and signatures.
 *
 * Access tokens are JWT HS256 with sub (user id as a string), sid (the login
 * session, auth_sessions.id, a number), iat, exp and typ "access". The sid
 * lets every statement refuse a token whose session was revoked (API.md
 * "Sessions take effect at once"); tokens issued before it existed have
 * none and stay valid until they expire (session id 0 here).
 * libjwt 1.10 skips the signature with an empty key, accepts HS384/HS512
 * made with the same secret and never looks at exp, so token_verify_access() checks the algorithm, exp, nbf and typ itself.
 * Refresh tokens are 256 random bits, base64url, stored only as SHA-256.
 */
#ifndef MSGR_TOKEN_H
#define MSGR_TOKEN_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "err.h"

#define TOKEN_REFRESH_LEN 43 /* base64url of 32 bytes, without padding */
#define TOKEN_HASH_LEN 32

/* Sets the signing secret (copied); refuses one shorter than 32 bytes. */
enum msgr_err token_init(const unsigned char *secret, size_t len) MSGR_WUR;
/* Loads the secret from the configuration and calls token_init(). */
enum msgr_err token_init_from_config(void) MSGR_WUR;
/* The access token lifetime in seconds (MSGR_ACCESS_TTL, default 900). */
long token_access_ttl(void);
/* Returns a new access token the caller frees, or NULL. session_id 0
 * issues one without sid (only tests want that: the old kind). */
char *token_issue_access(int64_t user_id, int64_t session_id, time_t now) MSGR_WUR;
/* Checks an access token at time now: its user, its session (0 when the
 * token has no sid) and when it expires (session_id and expires_at may be
 * NULL). Whether the session is still live is the database's question
 * (live_session_user(), schema/functions/auth.sql), asked by each request's
 * own statement: this answers only what the token itself says. */
enum msgr_err token_verify_access(const char *token, time_t now, int64_t *user_id,
				  time_t *expires_at, int64_t *session_id) MSGR_WUR;

/* Fills out with a fresh refresh token and its NUL. */
enum msgr_err token_new_refresh(char out[TOKEN_REFRESH_LEN + 1]) MSGR_WUR;
/* The app's page that takes a password reset token (API.md "Password
 * reset"): MSGR_PUBLIC_URL without its final slashes (a prefix stays), then
 * "/#/reset?token=" and the token. The link's contract with www/: the mail
 * of fcgi/auth/reset.c and the line msgrctl prints. Returns a new string
 * the caller frees, or NULL when out of memory. */
char *token_reset_link(const char *token) MSGR_WUR;
/* Lower-case hex SHA-256 of the len bytes at s, for storage. */
void token_sha256_hex(const char *s, size_t len, char out[2 * TOKEN_HASH_LEN + 1]);
/* Lower-case hex HMAC-SHA256 of msg with the server secret. */
void token_hmac_hex(const char *msg, size_t len, char out[2 * TOKEN_HASH_LEN + 1]);
/* Constant-time comparison of two strings of length len. */
int token_equal(const char *a, const char *b, size_t len);

#endif
