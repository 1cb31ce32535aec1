#include "db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "hex.h"
#include "log.h"
#include "metrics.h"

/* A connection of the worker's and what was prepared on it: a statement is
 * prepared on the connection whose generation it records. Generations are
 * counted across both slots, so a number names one connection only. */
struct db_slot {
	PGconn *conn;
	unsigned generation;
	bool replica;
	long long retry_at_ms; /* the replica: no connect before (monotonic) */
};

static struct db_slot primary;
static struct db_slot replica = {.replica = true};
static unsigned generations;
/* The replica connection's replay position (bytes) when last asked: it only
 * grows, so a read needing no more than this needs no new question. */
static unsigned long long replica_replayed;

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

/* connect_timeout: NULL for libpq's default (none); one in the URL wins, as
 * the URL is expanded after it. */
static void conn_params(struct db_conn_params *p, const char *url, const char *connect_timeout)
{
	*p = (struct db_conn_params){0};
	int i = 0;
	if (connect_timeout) {
		p->keys[i] = "connect_timeout";
		p->values[i++] = connect_timeout;
	}
	p->keys[i] = "dbname";
	p->values[i++] = url;
	p->keys[i] = "fallback_application_name";
	p->values[i] = p->name;
	/* Named as the log names the process, so that pg_stat_activity tells
	 * whose each session is; a name in the URL wins. */
	log_process_name(p->name, sizeof p->name);
}

void db_conn_params(struct db_conn_params *p)
{
	conn_params(p, config_str("MSGR_DATABASE_URL", "dbname=messenger"), NULL);
}

bool db_replica_conn_params(struct db_conn_params *p)
{
	const char *url = config_str("MSGR_DATABASE_REPLICA_URL", "");
	/* A worker connects to the replica blocking, on a read: a replica
	 * whose host stopped answering must not hold it for long. */
	conn_params(p, url, DB_REPLICA_CONNECT_TIMEOUT);
	return url[0] != '\0';
}

bool db_replica_configured(void)
{
	static int configured = -1;
	if (configured < 0)
		configured = config_str("MSGR_DATABASE_REPLICA_URL", "")[0] != '\0';
	return configured;
}

static PGconn *connect_with(const struct db_conn_params *p, const char *what)
{
	PGconn *c = PQconnectdbParams(p->keys, p->values, 1);
	if (PQstatus(c) != CONNECTION_OK) {
		/* PQerrorMessage ends with a newline. */
		const char *msg = PQerrorMessage(c);
		log_error("could not connect to the %s: %.*s", what, (int)strcspn(msg, "\n"), msg);
		PQfinish(c);
		return NULL;
	}
	return c;
}

PGconn *db_connect_plain(void)
{
	struct db_conn_params p;
	db_conn_params(&p);
	return connect_with(&p, "database");
}

/* A connection of the worker's, set up; NULL when none could be made
 * (logged). */
static PGconn *db_open(bool to_replica)
{
	struct db_conn_params p;
	PGconn *c;
	if (to_replica)
		c = db_replica_conn_params(&p) ? connect_with(&p, "replica") : NULL;
	else
		c = db_connect_plain();
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

static void slot_close(struct db_slot *s)
{
	if (s->conn)
		PQfinish(s->conn);
	s->conn = NULL;
}

static enum msgr_err slot_connect(struct db_slot *s)
{
	slot_close(s);
	s->conn = db_open(s->replica);
	if (!s->conn)
		return MSGR_ERR_DB;
	s->generation = ++generations;
	/* Another server, maybe (a replica made again): asked anew. */
	if (s->replica)
		replica_replayed = 0;
	return MSGR_OK;
}

enum msgr_err db_connect(void)
{
	return slot_connect(&primary);
}

void db_disconnect(void)
{
	slot_close(&primary);
	slot_close(&replica);
}

static bool connection_lost(const struct db_slot *s)
{
	return !s->conn || PQstatus(s->conn) == CONNECTION_BAD;
}

/* One attempt: prepare if needed, then execute. NULL when the connection is
 * gone (the statement did not run on a live backend). */
static PGresult *exec_once(struct db_slot *s, struct db_stmt *stmt, const char *const *params)
{
	static unsigned counter;
	if (connection_lost(s) && slot_connect(s) != MSGR_OK)
		return NULL;
	if (stmt->prepared_on != s->generation) {
		if (!stmt->pname[0])
			snprintf(stmt->pname, sizeof stmt->pname, "s%u", ++counter);
		PGresult *res = PQprepare(s->conn, stmt->pname, stmt->sql, stmt->nparams, NULL);
		if (PQresultStatus(res) != PGRES_COMMAND_OK) {
			if (connection_lost(s)) {
				PQclear(res);
				return NULL;
			}
			log_error("could not prepare statement %s: %s", stmt->name,
				  PQresultErrorMessage(res));
			return res;
		}
		PQclear(res);
		stmt->prepared_on = s->generation;
	}
	PGresult *res = PQexecPrepared(s->conn, stmt->pname, stmt->nparams, params, NULL, NULL, 0);
	if (connection_lost(s)) {
		PQclear(res);
		return NULL;
	}
	return res;
}

PGresult *db_exec(struct db_stmt *stmt, const char *const *params)
{
	PGresult *res = exec_once(&primary, stmt, params);
	if (!res) {
		/* The server went away (a restart): a statement sent to a dead
		 * backend never ran, so one retry on a new connection is safe. */
		log_info("database connection lost; reconnecting");
		slot_close(&primary);
		res = exec_once(&primary, stmt, params);
	}
	db_count_error(res);
	return res;
}

static long long monotonic_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

PGresult *db_exec_replica(struct db_stmt *stmt, const char *const *params)
{
	if (!db_replica_configured())
		return NULL;
	/* A replica that is away would otherwise cost a connect attempt (a
	 * timeout, on a network) per read: after a failure, the reads go to
	 * the primary for a second before the next attempt. */
	if (connection_lost(&replica) && monotonic_ms() < replica.retry_at_ms)
		return NULL;
	PGresult *res = exec_once(&replica, stmt, params);
	if (!res) {
		slot_close(&replica);
		replica.retry_at_ms = monotonic_ms() + DB_REPLICA_RETRY_MS;
		return NULL;
	}
	if (!db_ok(res)) {
		/* Not counted as a database error: the caller reads the primary. */
		log_info("a read on the replica failed (the primary answers): %s",
			 PQresultErrorMessage(res));
	}
	return res;
}

/* The LSN (bytes) in res's one column; 0 when absent or NULL. */
static unsigned long long lsn_of(PGresult *res)
{
	unsigned long long lsn = 0;
	if (db_ok(res) && PQntuples(res) == 1 && !PQgetisnull(res, 0, 0))
		lsn = strtoull(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return lsn;
}

PGresult *db_exec_read(struct db_stmt *stmt, struct db_stmt *on_replica,
		       const char *const *params)
{
	/* Past the end of every record inserted: of every commit that returned
	 * before this read (synchronous_commit off included, whose commits
	 * return before they are flushed). */
	DB_STMT(primary_lsn, 0, "SELECT pg_current_wal_insert_lsn() - '0/0'::pg_lsn");
	/* NULL on a server that is not a standby: never read there. */
	DB_STMT(replica_lsn, 0, "SELECT pg_last_wal_replay_lsn() - '0/0'::pg_lsn");
	if (!db_replica_configured())
		return db_exec(stmt, params);
	unsigned long long need = lsn_of(db_exec(&primary_lsn, NULL));
	if (need && need > replica_replayed) {
		/* A statement of its own, before the read's: the read's snapshot,
		 * taken after it, sees everything replayed up to here. */
		unsigned long long replayed = lsn_of(db_exec_replica(&replica_lsn, NULL));
		if (replayed > replica_replayed)
			replica_replayed = replayed;
	}
	if (need && need <= replica_replayed) {
		PGresult *res = db_exec_replica(on_replica, params);
		if (db_ok(res)) {
			metrics_replica_read(true);
			return res;
		}
		PQclear(res);
	}
	metrics_replica_read(false);
	return db_exec(stmt, params);
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
