/*
 * err.h - the one error type of the shared library.
 *
 * Every function in shared/ that can fail returns an enum msgr_err and is
 * marked MSGR_WUR, so a caller cannot forget to look at the result.
 */
#ifndef MSGR_ERR_H
#define MSGR_ERR_H

#define MSGR_WUR __attribute__((warn_unused_result))

enum msgr_err {
	MSGR_OK = 0,
	MSGR_ERR_NOMEM,     /* an allocation failed */
	MSGR_ERR_IO,        /* a read or write failed; errno tells more */
	MSGR_ERR_TOO_LARGE, /* input over a configured limit */
	MSGR_ERR_MALFORMED, /* input that does not follow its grammar */
	MSGR_ERR_TRUNCATED, /* input that ended before it was complete */
	MSGR_ERR_LIMIT,     /* a count limit (parts, files, fields) was hit */
	MSGR_ERR_DB,        /* the database refused or could not be reached */
	MSGR_ERR_CONFIG,    /* configuration missing or out of range */
	MSGR_ERR_CRYPTO,    /* a signature or hash check failed */
	MSGR_ERR_EXPIRED,   /* a token or signature is past its expiry */
	MSGR_ERR_UNSUPPORTED,
	MSGR_ERR__MAX
};

/* Returns a static, lower-case description of err. */
const char *msgr_strerror(enum msgr_err err);

#endif
