#include "db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "http.h"
#include "log.h"

static PGconn *conn;
/* Bumped on every new connection: prepared statements live per connection. */
static unsigned generation;

PGconn *db_conn(void)
{
	return conn;
}

/* Makes the server secret available to SQL (signed file URLs are built
 * there) as the session-local setting msgr.secret, hex-encoded. */
static enum msgr_err share_secret(PGconn *c)
{
	const unsigned char *secret;
	size_t len;
	if (config_secret(&secret, &len) != MSGR_OK)
		return MSGR_ERR_CONFIG;
	char hex[2 * 512 + 1];
	for (size_t i = 0; i < len; i++)
		snprintf(hex + 2 * i, 3, "%02x", secret[i]);
	const char *params[] = {hex};
	PGresult *res = PQexecParams(c, "SELECT set_config('msgr.secret', $1, false)", 1, NULL,
				     params, NULL, NULL, 0);
	bool ok = PQresultStatus(res) == PGRES_TUPLES_OK;
	PQclear(res);
	return ok ? MSGR_OK : MSGR_ERR_DB;
}

PGconn *db_open(void)
{
	/* Named as the log names the process, so that pg_stat_activity tells
	 * whose each session is; a name in the URL wins. */
	char name[64];
	log_process_name(name, sizeof name);
	const char *keys[] = {"dbname", "fallback_application_name", NULL};
	const char *values[] = {config_str("MSGR_DATABASE_URL", "dbname=messenger"), name, NULL};
	PGconn *c = PQconnectdbParams(keys, values, 1);
	if (PQstatus(c) != CONNECTION_OK) {
		/* PQerrorMessage ends with a newline. */
		const char *msg = PQerrorMessage(c);
		log_error("could not connect to the database: %.*s", (int)strcspn(msg, "\n"), msg);
		PQfinish(c);
		return NULL;
	}
	if (share_secret(c) != MSGR_OK) {
		log_error("could not pass the secret to the database session");
		PQfinish(c);
		return NULL;
	}
	return c;
}

enum msgr_err db_connect(void)
{
	db_disconnect();
	conn = db_open();
	if (!conn)
		return MSGR_ERR_DB;
	generation++;
	return MSGR_OK;
}

void db_disconnect(void)
{
	if (conn)
		PQfinish(conn);
	conn = NULL;
}

static bool connection_lost(void)
{
	return !conn || PQstatus(conn) == CONNECTION_BAD;
}

/* One attempt: prepare if needed, then execute. NULL when the connection is
 * gone (the statement did not run on a live backend). */
static PGresult *exec_once(struct db_stmt *stmt, const char *const *params)
{
	static unsigned counter;
	if (connection_lost() && db_connect() != MSGR_OK)
		return NULL;
	if (stmt->prepared_on != generation) {
		if (!stmt->pname[0])
			snprintf(stmt->pname, sizeof stmt->pname, "s%u", ++counter);
		PGresult *res = PQprepare(conn, stmt->pname, stmt->sql, stmt->nparams, NULL);
		if (PQresultStatus(res) != PGRES_COMMAND_OK) {
			if (connection_lost()) {
				PQclear(res);
				return NULL;
			}
			log_error("could not prepare statement %s: %s", stmt->name,
				  PQresultErrorMessage(res));
			return res;
		}
		PQclear(res);
		stmt->prepared_on = generation;
	}
	PGresult *res = PQexecPrepared(conn, stmt->pname, stmt->nparams, params, NULL, NULL, 0);
	if (connection_lost()) {
		PQclear(res);
		return NULL;
	}
	return res;
}

PGresult *db_exec(struct db_stmt *stmt, const char *const *params)
{
	PGresult *res = exec_once(stmt, params);
	if (res)
		return res;
	/* The server went away (a restart): a statement sent to a dead backend
	 * never ran, so one retry on a new connection is safe. */
	log_info("database connection lost; reconnecting");
	db_disconnect();
	return exec_once(stmt, params);
}

bool db_ok(const PGresult *res)
{
	ExecStatusType st = PQresultStatus(res);
	return res && (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK);
}

const char *db_sqlstate(const PGresult *res)
{
	const char *s = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	return s ? s : "";
}

/* True when s is 1 to 6 decimal digits: a sane Retry-After. */
static bool is_seconds(const char *s)
{
	size_t n = strspn(s, "0123456789");
	return n > 0 && n <= 6 && s[n] == '\0';
}

/* A domain error 'M0422' whose HINT names the field (api_field_error()). */
static void answer_field_error(struct http_req *req, PGresult *res, const char *field)
{
	const char *detail = PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL);
	struct field_errors errs = {0};
	field_errors_add(&errs, field, detail ? detail : "is invalid");
	http_problem_fields(req, &errs);
	field_errors_free(&errs);
}

void http_db_problem(struct http_req *req, PGresult *res)
{
	const char *state = db_sqlstate(res);
	const char *hint = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_HINT) : NULL;
	if (hint && !strcmp(state, "M0429") && is_seconds(hint))
		http_add_header(req, "Retry-After", hint);
	if (!res) {
		http_problem(req, 503, "database_unavailable",
			     "the database cannot be reached; try again shortly");
	} else if (hint && !strcmp(state, "M0422")) {
		answer_field_error(req, res, hint);
	} else if (state[0] == 'M' && state[1] == '0') {
		int status = atoi(state + 2);
		const char *code = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
		const char *detail = PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL);
		if (status < 400 || status > 599)
			status = 500;
		http_problem(req, status, code ? code : "error", "%s", detail ? detail : "");
	} else if (!strcmp(state, "57014") || !strcmp(state, "40001") || !strcmp(state, "40P01")) {
		/* statement timeout, serialization failure, deadlock: retryable */
		http_add_header(req, "Retry-After", "1");
		http_problem(req, 503, "busy", "the server is busy; try again");
	} else {
		log_error("%s %s: database error %s: %s", req->method, req->path, state,
			  PQresultErrorMessage(res));
		http_problem(req, 500, "internal_error", "the server failed to answer this request");
	}
	PQclear(res);
}

void db_notify_events(const char *payload)
{
	DB_STMT(notify_events, 1, "SELECT pg_notify('msgr_events', $1)");
	const char *params[] = {payload};
	PGresult *res = db_exec(&notify_events, params);
	if (!db_ok(res))
		log_error("could not notify msgr_events: %s",
			  res ? PQresultErrorMessage(res) : "no connection");
	PQclear(res);
}
