#include "db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "hex.h"
#include "log.h"
#include "metrics.h"

static PGconn *conn;
/* Bumped on every new connection: prepared statements live per connection. */
static unsigned generation;

enum msgr_err db_secret_param(char hex[DB_SECRET_HEX_MAX])
{
	const unsigned char *secret;
	size_t len;
	if (config_secret(&secret, &len) != MSGR_OK)
		return MSGR_ERR_CONFIG;
	if (2 * len + 1 > DB_SECRET_HEX_MAX)
		return MSGR_ERR_CONFIG;
	hex_encode(hex, secret, len);
	return MSGR_OK;
}

void db_conn_params(struct db_conn_params *p)
{
	*p = (struct db_conn_params){
		.keys = {"dbname", "fallback_application_name", NULL},
		.values = {config_str("MSGR_DATABASE_URL", "dbname=messenger"), p->name, NULL},
	};
	/* Named as the log names the process, so that pg_stat_activity tells
	 * whose each session is; a name in the URL wins. */
	log_process_name(p->name, sizeof p->name);
}

PGconn *db_connect_plain(void)
{
	struct db_conn_params p;
	db_conn_params(&p);
	PGconn *c = PQconnectdbParams(p.keys, p.values, 1);
	if (PQstatus(c) != CONNECTION_OK) {
		/* PQerrorMessage ends with a newline. */
		const char *msg = PQerrorMessage(c);
		log_error("could not connect to the database: %.*s", (int)strcspn(msg, "\n"), msg);
		PQfinish(c);
		return NULL;
	}
	return c;
}

/* The worker's connection, set up; NULL when none could be made
 * (logged). */
static PGconn *db_open(void)
{
	PGconn *c = db_connect_plain();
	if (!c)
		return NULL;
	char hex[DB_SECRET_HEX_MAX];
	const char *params[] = {hex};
	PGresult *res = NULL;
	if (db_secret_param(hex) == MSGR_OK)
		res = PQexecParams(c, DB_SECRET_SQL, 1, NULL, params, NULL, NULL, 0);
	bool shared = PQresultStatus(res) == PGRES_TUPLES_OK;
	PQclear(res);
	if (!shared) {
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
	if (!res) {
		/* The server went away (a restart): a statement sent to a dead
		 * backend never ran, so one retry on a new connection is safe. */
		log_info("database connection lost; reconnecting");
		db_disconnect();
		res = exec_once(stmt, params);
	}
	db_count_error(res);
	return res;
}

void db_count_error(const PGresult *res)
{
	if (db_ok(res))
		return;
	const char *state = db_sqlstate(res);
	if (!res || state[0] != 'M' || state[1] != '0')
		metrics_db_error();
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
