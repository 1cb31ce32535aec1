/*
 * reply.h - answering with what a domain function of the schema returned.
 *
 * The chats and messages programs make one round trip per request: a SQL
 * function checks, changes, writes its events and builds the answer in one
 * transaction, and returns an api_reply row (schema/003_chats.sql):
 * (status int, body jsonb or NULL, event_id bigint or NULL). reply_send()
 * answers it and, when events were written, sends the NOTIFY that wakes wsd
 * (after the commit: the statement has committed when db_exec returns).
 *
 * A failed statement is answered by http_db_problem() (db.h).
 */
#ifndef MSGR_REPLY_H
#define MSGR_REPLY_H

#include <libpq-fe.h>
#include <stdint.h>

#include "http.h"

#define REPLY_ID_LEN 24

/* Writes id in decimal into buf, for a text parameter; returns buf. */
const char *reply_id(char buf[REPLY_ID_LEN], int64_t id);

/* A PostgreSQL array literal of n ids, "{1,2,3}", for a bigint[] parameter;
 * a new string in a. */
const char *reply_id_array(struct arena *a, const int64_t *ids, size_t n);

/* Answers the first row of res, whose first three columns are status, body
 * and event id; or the problem of a failed res. Takes res. Returns the
 * status answered. */
int reply_send(struct http_req *req, PGresult *res);

#endif
