/*
 * s3sign.c - AWS Signature Version 4 presigning (see s3sign.h).
 */
#include "s3sign.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "hex.h"
#include "token.h"

void s3sign_uri_encode(struct buf *out, const char *s, size_t len, bool keep_slash)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '.' || c == '_' || c == '~' || (keep_slash && c == '/')) {
			buf_putc(out, (char)c);
		} else {
			char hex[3];
			hex_encode_upper(hex, &c, 1);
			buf_putc(out, '%');
			buf_append(out, hex, 2);
		}
	}
}

struct encoded_pair {
	struct buf name;
	struct buf value;
};

static int pair_cmp(const void *a, const void *b)
{
	const struct encoded_pair *x = a, *y = b;
	/* The encoded forms are ASCII: strcmp orders them by byte, as SigV4
	 * asks ("sorted by name, then by value, in code point order"). */
	int c = strcmp(buf_cstr(&x->name), buf_cstr(&y->name));
	return c ? c : strcmp(buf_cstr(&x->value), buf_cstr(&y->value));
}

enum msgr_err s3sign_canonical_query(struct buf *out, const struct s3sign_pair *q, size_t n)
{
	if (n == 0)
		return buf_status(out);
	struct encoded_pair *e = calloc(n, sizeof *e);
	if (!e)
		return MSGR_ERR_NOMEM;
	enum msgr_err err = MSGR_OK;
	for (size_t i = 0; i < n; i++) {
		s3sign_uri_encode(&e[i].name, q[i].name, strlen(q[i].name), false);
		s3sign_uri_encode(&e[i].value, q[i].value, strlen(q[i].value), false);
		/* An empty name or value is still a string to sort and join. */
		buf_puts(&e[i].name, "");
		buf_puts(&e[i].value, "");
		if (buf_status(&e[i].name) != MSGR_OK || buf_status(&e[i].value) != MSGR_OK)
			err = MSGR_ERR_NOMEM;
	}
	if (err == MSGR_OK) {
		qsort(e, n, sizeof *e, pair_cmp);
		for (size_t i = 0; i < n; i++) {
			if (i)
				buf_putc(out, '&');
			buf_append(out, e[i].name.data, e[i].name.len);
			buf_putc(out, '=');
			buf_append(out, e[i].value.data, e[i].value.len);
		}
		err = buf_status(out);
	}
	for (size_t i = 0; i < n; i++) {
		buf_free(&e[i].name);
		buf_free(&e[i].value);
	}
	free(e);
	return err;
}

void s3sign_amz_date(char out[17], time_t t)
{
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm);
}

void s3sign_string_to_sign(struct buf *out, const char *amz_date, const char *region,
			   const char *service, const char *canonical_request)
{
	char hash[S3SIGN_HEX_LEN + 1];
	token_sha256_hex(canonical_request, strlen(canonical_request), hash);
	buf_printf(out, "AWS4-HMAC-SHA256\n%s\n%.8s/%s/%s/aws4_request\n%s", amz_date, amz_date,
		   region, service, hash);
}

static void hmac(unsigned char out[32], const void *key, size_t key_len, const char *msg)
{
	unsigned int len = 32;
	HMAC(EVP_sha256(), key, (int)key_len, (const unsigned char *)msg, strlen(msg), out, &len);
}

enum msgr_err s3sign_signature(char out[S3SIGN_HEX_LEN + 1], const char *secret_key,
			       const char *amz_date, const char *region, const char *service,
			       const char *string_to_sign)
{
	char date[9];
	snprintf(date, sizeof date, "%.8s", amz_date);
	size_t secret_len = strlen(secret_key);
	if (secret_len > S3SIGN_MAX_SECRET)
		return MSGR_ERR_CONFIG;
	char k0[4 + S3SIGN_MAX_SECRET];
	memcpy(k0, "AWS4", 4);
	memcpy(k0 + 4, secret_key, secret_len);
	unsigned char k[32];
	hmac(k, k0, 4 + secret_len, date);
	OPENSSL_cleanse(k0, sizeof k0);
	hmac(k, k, sizeof k, region);
	hmac(k, k, sizeof k, service);
	hmac(k, k, sizeof k, "aws4_request");
	unsigned char sig[32];
	hmac(sig, k, sizeof k, string_to_sign);
	OPENSSL_cleanse(k, sizeof k);
	hex_encode(out, sig, sizeof sig);
	return MSGR_OK;
}

/* The Host header value of an endpoint "http(s)://HOST[:PORT]"; false when
 * it is no such URL. */
static bool endpoint_host(const char *endpoint, struct buf *host)
{
	const char *rest;
	const char *default_port;
	if (strncmp(endpoint, "http://", 7) == 0) {
		rest = endpoint + 7;
		default_port = ":80";
	} else if (strncmp(endpoint, "https://", 8) == 0) {
		rest = endpoint + 8;
		default_port = ":443";
	} else {
		return false;
	}
	size_t len = strlen(rest);
	if (len == 0 || strpbrk(rest, "/?#@ \t\r\n"))
		return false;
	size_t dlen = strlen(default_port);
	if (len > dlen && strcmp(rest + len - dlen, default_port) == 0)
		len -= dlen;
	buf_append(host, rest, len);
	return true;
}

enum msgr_err s3sign_presign(struct buf *url, const struct s3sign_presign *p,
			     struct buf *canonical_request)
{
	if (p->expires < 1 || p->expires > S3SIGN_MAX_EXPIRES)
		return MSGR_ERR_CONFIG;
	struct buf host = {0}, path = {0}, credential = {0}, query = {0}, creq = {0}, sts = {0};
	struct s3sign_pair *all = NULL;
	enum msgr_err err = MSGR_OK;
	if (!endpoint_host(p->endpoint, &host)) {
		err = MSGR_ERR_CONFIG;
		goto out;
	}
	char amz_date[17], expires[16];
	s3sign_amz_date(amz_date, p->now);
	snprintf(expires, sizeof expires, "%u", p->expires);
	buf_printf(&credential, "%s/%.8s/%s/%s/aws4_request", p->access_key, amz_date, p->region,
		   p->service);
	s3sign_uri_encode(&path, p->path, strlen(p->path), true);
	if ((err = buf_status(&host)) != MSGR_OK || (err = buf_status(&credential)) != MSGR_OK ||
	    (err = buf_status(&path)) != MSGR_OK)
		goto out;

	all = calloc(p->nquery + 5, sizeof *all);
	if (!all) {
		err = MSGR_ERR_NOMEM;
		goto out;
	}
	size_t n = 0;
	for (size_t i = 0; i < p->nquery; i++)
		all[n++] = p->query[i];
	all[n++] = (struct s3sign_pair){"X-Amz-Algorithm", "AWS4-HMAC-SHA256"};
	all[n++] = (struct s3sign_pair){"X-Amz-Credential", buf_cstr(&credential)};
	all[n++] = (struct s3sign_pair){"X-Amz-Date", amz_date};
	all[n++] = (struct s3sign_pair){"X-Amz-Expires", expires};
	all[n++] = (struct s3sign_pair){"X-Amz-SignedHeaders", "host"};
	if ((err = s3sign_canonical_query(&query, all, n)) != MSGR_OK)
		goto out;

	buf_printf(&creq, "%s\n%s\n%s\nhost:%s\n\nhost\nUNSIGNED-PAYLOAD", p->method,
		   buf_cstr(&path), buf_cstr(&query), buf_cstr(&host));
	if ((err = buf_status(&creq)) != MSGR_OK)
		goto out;
	s3sign_string_to_sign(&sts, amz_date, p->region, p->service, buf_cstr(&creq));
	if ((err = buf_status(&sts)) != MSGR_OK)
		goto out;
	char sig[S3SIGN_HEX_LEN + 1];
	if ((err = s3sign_signature(sig, p->secret_key, amz_date, p->region, p->service,
				    buf_cstr(&sts))) != MSGR_OK)
		goto out;

	buf_printf(url, "%s%s?%s&X-Amz-Signature=%s", p->endpoint, buf_cstr(&path), buf_cstr(&query),
		   sig);
	if (canonical_request)
		buf_append(canonical_request, creq.data, creq.len);
	err = buf_status(url);
	if (err == MSGR_OK && canonical_request)
		err = buf_status(canonical_request);
out:
	free(all);
	buf_free(&host);
	buf_free(&path);
	buf_free(&credential);
	buf_free(&query);
	buf_free(&creq);
	buf_free(&sts);
	return err;
}
