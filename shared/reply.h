/*
 * reply.h - answering with what a domain function of the schema returned.
 *
 * The chats and messages programs make one round trip per request: a SQL
 * function checks, changes, writes its events and builds the answer in one
 * transaction, and returns an api_reply row (type in schema/migrations/003_chats.sql):
 * (status int, body jsonb or NULL, event_id bigint or NULL). reply_send()
 * answers it and, when events were written, sends the NOTIFY that wakes wsd
 * (after the commit: the statement has committed when db_exec returns).
 *
 * Domain errors raised in SQL (api_error(), schema/functions/api.sql) use
 * SQLSTATE 'M0' followed by the HTTP status ('M0404'), the problem code as
 * MESSAGE and the text for people as DETAIL; reply_db_problem() turns them
 * into the problem document, so that the database says what went wrong and
 * this one function says how HTTP shows it. Two more: 'M0422' with HINT
 * naming a field is a 422 with "errors": {field: DETAIL} (api_field_error()),
 * and 'M0429' with HINT = seconds adds Retry-After.
 */
#ifndef MSGR_REPLY_H
#define MSGR_REPLY_H

#include <libpq-fe.h>
#include <stdint.h>

#include "http.h"

/* Answers the first row of res, whose first three columns are status, body
 * and event id; or the problem of a failed res. Takes res. Returns the
 * status answered. */
int reply_send(struct http_req *req, PGresult *res);

/* Answers the problem for a failed statement: 503 when res is NULL (the
 * database cannot be reached), the domain problem for an 'M0nnn' error,
 * 503 with Retry-After for a timeout, serialization failure or deadlock,
 * 500 (logged) otherwise. Takes res. */
void reply_db_problem(struct http_req *req, PGresult *res);

#endif
