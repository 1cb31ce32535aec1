#include "err.h"

const char *msgr_strerror(enum msgr_err err)
{
	static const char *const text[MSGR_ERR__MAX] = {
		[MSGR_OK] = "success",
		[MSGR_ERR_NOMEM] = "out of memory",
		[MSGR_ERR_IO] = "input/output error",
		[MSGR_ERR_TOO_LARGE] = "input too large",
		[MSGR_ERR_MALFORMED] = "malformed input",
		[MSGR_ERR_TRUNCATED] = "input ended too early",
		[MSGR_ERR_LIMIT] = "too many items",
		[MSGR_ERR_DB] = "database error",
		[MSGR_ERR_CONFIG] = "configuration error",
		[MSGR_ERR_CRYPTO] = "signature or hash mismatch",
		[MSGR_ERR_EXPIRED] = "expired",
		[MSGR_ERR_UNSUPPORTED] = "unsupported",
	};
	if ((unsigned)err >= MSGR_ERR__MAX || !text[err])
		return "unknown error";
	return text[err];
}
