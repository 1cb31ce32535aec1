#include "token.h"

#include <errno.h>
#include <jwt.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "config.h"
#include "hex.h"
#include "valid.h"

#define SECRET_MIN 32
#define SECRET_MAX 512
#define ACCESS_TOKEN_MAX 2048

static unsigned char secret[SECRET_MAX];
static size_t secret_len;

/* Access tokens that passed every check, so that a client's next request
 * with the same token costs a comparison instead of a signature check
 * (libjwt's HMAC, through OpenSSL 3, took a fifth of a messages worker's
 * time per send). A token's slot comes from a hash of it; the whole token
 * is compared, in constant time, so a token that only resembles a kept one
 * learns nothing of it. The expiry is checked again at every use. A
 * revoked session's token stays here, and that is right: the cache only
 * answers what the token says (user, sid), and the statement of each
 * request checks the sid is live, whatever the cache. Per
 * process, not thread-safe (the programs have one thread each). */
#define VERIFIED_SLOTS 256
#define VERIFIED_TOKEN_MAX 512

struct verified_token {
	size_t len; /* 0: an empty slot */
	char token[VERIFIED_TOKEN_MAX];
	int64_t user_id;
	int64_t session_id;
	time_t expires_at;
	time_t not_before;
};
static struct verified_token verified[VERIFIED_SLOTS];

static struct verified_token *verified_slot(const char *token, size_t len)
{
	uint32_t h = 2166136261u; /* FNV-1a */
	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)token[i]) * 16777619u;
	return &verified[h % VERIFIED_SLOTS];
}

enum msgr_err token_init(const unsigned char *key, size_t len)
{
	if (len < SECRET_MIN || len > SECRET_MAX)
		return MSGR_ERR_CONFIG;
	memcpy(secret, key, len);
	secret_len = len;
	/* Tokens checked with another key are not known to be good. */
	memset(verified, 0, sizeof verified);
	return MSGR_OK;
}

enum msgr_err token_init_from_config(void)
{
	const unsigned char *key;
	size_t len;
	enum msgr_err err = config_secret(&key, &len);
	if (err != MSGR_OK)
		return err;
	return token_init(key, len);
}

long token_access_ttl(void)
{
	return config_int("MSGR_ACCESS_TTL", 900, 10, 86400);
}

char *token_issue_access(int64_t user_id, int64_t session_id, time_t now)
{
	if (!secret_len)
		return NULL;
	jwt_t *jwt = NULL;
	char *out = NULL;
	char sub[24];
	snprintf(sub, sizeof sub, "%lld", (long long)user_id);
	if (jwt_new(&jwt))
		return NULL;
	if (jwt_add_grant(jwt, "sub", sub) || jwt_add_grant_int(jwt, "iat", (long)now) ||
	    jwt_add_grant_int(jwt, "exp", (long)(now + token_access_ttl())) ||
	    jwt_add_grant(jwt, "typ", "access") ||
	    (session_id > 0 && jwt_add_grant_int(jwt, "sid", (long)session_id)) ||
	    jwt_set_alg(jwt, JWT_ALG_HS256, secret, (int)secret_len))
		goto done;
	out = jwt_encode_str(jwt);
done:
	jwt_free(jwt);
	return out;
}

enum msgr_err token_verify_access(const char *token, time_t now, int64_t *user_id,
				  time_t *expires_at, int64_t *session_id)
{
	size_t len = strnlen(token, ACCESS_TOKEN_MAX + 1);
	if (!secret_len || len > ACCESS_TOKEN_MAX)
		return MSGR_ERR_MALFORMED;
	struct verified_token *slot = len <= VERIFIED_TOKEN_MAX ? verified_slot(token, len) : NULL;
	if (slot && slot->len == len && CRYPTO_memcmp(slot->token, token, len) == 0) {
		if (slot->expires_at <= now || slot->not_before > now)
			return MSGR_ERR_EXPIRED;
		*user_id = slot->user_id;
		if (expires_at)
			*expires_at = slot->expires_at;
		if (session_id)
			*session_id = slot->session_id;
		return MSGR_OK;
	}
	jwt_t *jwt = NULL;
	enum msgr_err err = MSGR_ERR_CRYPTO;
	if (jwt_decode(&jwt, token, secret, (int)secret_len) || !jwt)
		goto done;
	/* libjwt verifies with whatever HS* the header names: only HS256 is ours. */
	if (jwt_get_alg(jwt) != JWT_ALG_HS256)
		goto done;
	err = MSGR_ERR_MALFORMED;
	const char *typ = jwt_get_grant(jwt, "typ");
	const char *sub = jwt_get_grant(jwt, "sub");
	if (!typ || strcmp(typ, "access") || !sub)
		goto done;
	errno = 0;
	long exp = jwt_get_grant_int(jwt, "exp");
	if (errno || exp <= 0)
		goto done;
	err = MSGR_ERR_EXPIRED;
	if ((time_t)exp <= now)
		goto done;
	errno = 0;
	long nbf = jwt_get_grant_int(jwt, "nbf");
	if (errno)
		nbf = 0;
	if ((time_t)nbf > now)
		goto done;
	err = MSGR_ERR_MALFORMED;
	if (!valid_parse_id(sub, strlen(sub), user_id))
		goto done;
	/* No sid: a token of before sessions were checked, valid until it
	 * expires. A sid that is there must be a positive number. */
	int64_t sid = 0;
	errno = 0;
	long sid_claim = jwt_get_grant_int(jwt, "sid"); /* ENOENT: absent */
	if (errno != ENOENT) {
		if (errno || sid_claim <= 0)
			goto done;
		sid = (int64_t)sid_claim;
	}
	if (expires_at)
		*expires_at = (time_t)exp;
	if (session_id)
		*session_id = sid;
	if (slot) {
		memcpy(slot->token, token, len);
		slot->len = len;
		slot->user_id = *user_id;
		slot->session_id = sid;
		slot->expires_at = (time_t)exp;
		slot->not_before = (time_t)nbf;
	}
	err = MSGR_OK;
done:
	jwt_free(jwt);
	return err;
}

/* base64url (RFC 4648 section 5) of the len bytes at in, without padding,
 * and a NUL, at out, which has room for the padded text (4 * ceil(len / 3)
 * + 1 bytes); returns the text's length. libcrypto writes the standard
 * alphabet with '=' padding: '+' and '/' become '-' and '_', and the
 * padding goes, as RFC 7515 and our tokens have it. */
static size_t base64url_encode(char *out, const unsigned char *in, size_t len)
{
	int n = EVP_EncodeBlock((unsigned char *)out, in, (int)len);
	while (n > 0 && out[n - 1] == '=')
		n--;
	out[n] = '\0';
	for (int i = 0; i < n; i++) {
		if (out[i] == '+')
			out[i] = '-';
		else if (out[i] == '/')
			out[i] = '_';
	}
	return (size_t)n;
}

enum msgr_err token_new_refresh(char out[TOKEN_REFRESH_LEN + 1])
{
	unsigned char raw[32];
	char text[4 * ((sizeof raw + 2) / 3) + 1];
	if (getrandom(raw, sizeof raw, 0) != (ssize_t)sizeof raw)
		return MSGR_ERR_IO;
	size_t n = base64url_encode(text, raw, sizeof raw);
	memcpy(out, text, n + 1);
	OPENSSL_cleanse(raw, sizeof raw);
	OPENSSL_cleanse(text, sizeof text);
	return n == TOKEN_REFRESH_LEN ? MSGR_OK : MSGR_ERR_CRYPTO;
}

void token_sha256_hex(const char *s, size_t len, char out[2 * TOKEN_HASH_LEN + 1])
{
	unsigned char digest[SHA256_DIGEST_LENGTH];
	SHA256((const unsigned char *)s, len, digest);
	hex_encode(out, digest, sizeof digest);
}

void token_hmac_hex(const char *msg, size_t len, char out[2 * TOKEN_HASH_LEN + 1])
{
	unsigned char digest[EVP_MAX_MD_SIZE];
	unsigned int dlen = 0;
	HMAC(EVP_sha256(), secret, (int)secret_len, (const unsigned char *)msg, len, digest,
	     &dlen);
	hex_encode(out, digest, dlen);
}

int token_equal(const char *a, const char *b, size_t len)
{
	return CRYPTO_memcmp(a, b, len) == 0;
}

char *token_reset_link(const char *token)
{
	static const char page[] = "/#/reset?token=";
	const char *base = config_str("MSGR_PUBLIC_URL", "http://localhost:8080");
	size_t len = strlen(base), tlen = strlen(token);
	while (len && base[len - 1] == '/')
		len--;
	char *link = malloc(len + sizeof page - 1 + tlen + 1);
	if (!link)
		return NULL;
	memcpy(link, base, len);
	memcpy(link + len, page, sizeof page - 1);
	memcpy(link + len + sizeof page - 1, token, tlen + 1);
	return link;
}
