/*
 * s3sign.h - AWS Signature Version 4 for presigned URLs (query-string
 * authentication), the one part of talking to an S3-compatible store that
 * libcurl does not do: requests the programs send themselves are signed by
 * libcurl (CURLOPT_AWS_SIGV4); a URL that someone else (nginx, a browser)
 * fetches later must carry its signature in its query.
 *
 * The steps are those of AWS's "Create a signed AWS API request" and S3's
 * "Authenticating Requests: Using Query Parameters": a canonical request
 * (method, UriEncoded path, sorted UriEncoded query, canonical headers,
 * signed header names, payload hash), the string to sign (algorithm,
 * timestamp, scope, the canonical request's SHA-256), and an HMAC-SHA256
 * chain from "AWS4" + secret over date, region, service and "aws4_request".
 * Each step is public so that tests/unit/test_s3sign.c checks it against
 * AWS's published test vectors (the get-vanilla-query family of the SigV4
 * test suite and S3's presigned GET example), not only the end result.
 *
 *	struct s3sign_pair q[] = {{"response-content-type", "image/png"}};
 *	struct s3sign_presign p = {
 *		.method = "GET", .endpoint = "http://127.0.0.1:9000",
 *		.path = "/bucket/ab/cdef", .query = q, .nquery = 1,
 *		.access_key = ak, .secret_key = sk, .region = "us-east-1",
 *		.service = "s3", .now = time(NULL), .expires = 900,
 *	};
 *	struct buf url = {0};
 *	if (s3sign_presign(&url, &p) != MSGR_OK) ...
 *
 * Paths and query names and values are given decoded (as bytes); this
 * module encodes them, once (S3 does not double-encode paths).
 */
#ifndef MSGR_S3SIGN_H
#define MSGR_S3SIGN_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "buf.h"
#include "err.h"

#define S3SIGN_HEX_LEN 64 /* a SHA-256 or HMAC-SHA256 in hex */
/* The longest X-Amz-Expires S3 takes (seven days). */
#define S3SIGN_MAX_EXPIRES 604800u
/* Secret keys are 40 characters on AWS and MinIO; a bound keeps the first
 * HMAC key ("AWS4" + secret) on the stack, where it is wiped after use. */
#define S3SIGN_MAX_SECRET 256

struct s3sign_pair {
	const char *name;
	const char *value;
};

/* SigV4's UriEncode: every byte but RFC 3986's unreserved characters
 * (A-Z a-z 0-9 - . _ ~) as %XX in upper case; '/' kept when keep_slash
 * (object paths), encoded otherwise (query names and values). */
void s3sign_uri_encode(struct buf *out, const char *s, size_t len, bool keep_slash);

/* The canonical query string of n pairs: each name and value UriEncoded,
 * sorted by encoded name, then by encoded value, joined as
 * "name=value&...". */
enum msgr_err s3sign_canonical_query(struct buf *out, const struct s3sign_pair *q, size_t n)
	MSGR_WUR;

/* "YYYYMMDDTHHMMSSZ" (16 characters and a NUL) of t in UTC. */
void s3sign_amz_date(char out[17], time_t t);

/* The string to sign of a canonical request: amz_date is
 * "YYYYMMDDTHHMMSSZ", the scope's date is its first 8 characters. */
void s3sign_string_to_sign(struct buf *out, const char *amz_date, const char *region,
			   const char *service, const char *canonical_request);

/* The lower-case hex signature of string_to_sign; MSGR_ERR_CONFIG for a
 * secret key longer than S3SIGN_MAX_SECRET. */
enum msgr_err s3sign_signature(char out[S3SIGN_HEX_LEN + 1], const char *secret_key,
			       const char *amz_date, const char *region, const char *service,
			       const char *string_to_sign) MSGR_WUR;

struct s3sign_presign {
	const char *method;   /* "GET" */
	const char *endpoint; /* "http://HOST[:PORT]", no path */
	const char *path;     /* "/BUCKET/KEY" (path style) or "/KEY", decoded */
	const struct s3sign_pair *query; /* more parameters to sign, decoded */
	size_t nquery;
	const char *access_key;
	const char *secret_key;
	const char *region;
	const char *service; /* "s3" */
	time_t now;
	unsigned expires; /* seconds, 1 to S3SIGN_MAX_EXPIRES */
};

/* Appends to url the presigned URL of p: endpoint, encoded path, and the
 * canonical query with X-Amz-Signature last. Only "host" is signed and the
 * payload is UNSIGNED-PAYLOAD, so whoever fetches it sends no header of
 * ours. The Host value is the endpoint's host and port, without a default
 * port (80 for http, 443 for https), as HTTP clients send it.
 * canonical_request, when not NULL, receives the canonical request (tests).
 * MSGR_ERR_CONFIG for an endpoint that is not http(s)://HOST[:PORT], an
 * expiry out of range or a secret too long; MSGR_ERR_NOMEM. */
enum msgr_err s3sign_presign(struct buf *url, const struct s3sign_presign *p,
			     struct buf *canonical_request) MSGR_WUR;

#endif
