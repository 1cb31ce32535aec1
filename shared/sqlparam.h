/*
 * sqlparam.h - integers as the text parameters of a SQL statement.
 *
 * Parameters always travel apart from the SQL (db_exec(), libpq's
 * PQsendQueryPrepared()) and always as text: the binary format would tie
 * each call to a type's wire layout and byte order, and the server parses
 * text with the same input functions as a literal. These write an int64 in
 * decimal, for a bigint parameter ($1::bigint, or an untyped $1 the
 * statement's context types), and an array of them as a PostgreSQL array
 * literal, for a bigint[] parameter. Neither can fail: the buffer holds the
 * longest int64, and the array comes from the request's arena.
 *
 *	DB_STMT(get_chat, 2, "SELECT status, body, event_id FROM chat_get($1, $2)");
 *	char uid[SQLPARAM_INT_LEN], chat[SQLPARAM_INT_LEN];
 *	const char *params[] = {sqlparam_int(uid, req->user_id),
 *				sqlparam_int(chat, req->path_id[0])};
 *	reply_send(req, db_exec(&get_chat, params));
 */
#ifndef MSGR_SQLPARAM_H
#define MSGR_SQLPARAM_H

#include <stddef.h>
#include <stdint.h>

#include "arena.h"

/* Room for "-9223372036854775808" and its NUL, and some to spare. */
#define SQLPARAM_INT_LEN 24

/* Writes v in decimal and a NUL into buf; returns buf. */
const char *sqlparam_int(char buf[SQLPARAM_INT_LEN], int64_t v);

/* The array literal "{1,2,3}" of the n values at v ("{}" when n is 0): a
 * new string in a. */
const char *sqlparam_int_array(struct arena *a, const int64_t *v, size_t n);

#endif
