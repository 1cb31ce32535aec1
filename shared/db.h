/*
 * db.h - the worker's one PostgreSQL connection.
 *
 * Statements are declared once with DB_STMT and prepared on first use on the
 * current connection; parameters always travel separately from the SQL. When
 * the server went away (a restart), the next call reconnects and retries the
 * statement once: a statement sent to a dead backend never ran.
 *
 * What a failed statement means to a client (the SQLSTATE 'M0nnn' domain
 * errors) is reply_db_problem()'s business (reply.h): nothing here knows
 * of HTTP.
 */
#ifndef MSGR_DB_H
#define MSGR_DB_H

#include <libpq-fe.h>
#include <stdbool.h>

#include "err.h"

struct db_stmt {
	const char *name;
	const char *sql;
	int nparams;
	unsigned prepared_on; /* the connection generation it was prepared on */
	char pname[16];       /* the server-side name, unique in the process */
};

#define DB_STMT(var, nparams_, sql_) static struct db_stmt var = {#var, sql_, nparams_, 0, ""}

/* A blocking connection of its own with db_conn_params(), without the
 * secret, for a program that runs its own transactions (the mailer); NULL
 * when none could be made (logged). The caller PQfinish()es it. */
PGconn *db_connect_plain(void);

/* Connects with MSGR_DATABASE_URL (libpq conninfo or URI). */
enum msgr_err db_connect(void) MSGR_WUR;
void db_disconnect(void);

/*
 * How every connection of the process is set up, the worker's as those
 * made asynchronously (pglink.h): connected with these parameters
 * (expand_dbname = 1), then given the server secret with DB_SECRET_SQL,
 * whose one parameter db_secret_param() writes (signed file URLs are built
 * in SQL, from the session-local setting msgr.secret).
 */
struct db_conn_params {
	const char *keys[4]; /* NULL-terminated */
	const char *values[4];
	char name[64]; /* the application name values points to */
};
void db_conn_params(struct db_conn_params *p);
#define DB_SECRET_SQL "SELECT set_config('msgr.secret', $1, false)"
#define DB_SECRET_HEX_MAX (2 * 512 + 1)
/* The secret, hex-encoded, in hex; an error when it cannot be read (logged)
 * or is longer than 512 bytes. */
enum msgr_err db_secret_param(char hex[DB_SECRET_HEX_MAX]) MSGR_WUR;

/*
 * The read replica (MSGR_DATABASE_REPLICA_URL, libpq conninfo or URI; unset
 * or empty: none): a streaming replica (a hot standby) that the reads which
 * may lag (history renders, search, user search) can be sent to. Its
 * connection is the worker's second, set up as the first is. Whoever reads
 * there must know what the client must see and check the answer shows it
 * (docs/ARCHITECTURE.md "Reads on a replica"), and read the primary when it
 * does not: nothing here waits for the replica to catch up.
 */
bool db_replica_configured(void);
/* The replica's connection parameters, as db_conn_params()'s; false when
 * none is configured. */
bool db_replica_conn_params(struct db_conn_params *p);
/* After a replica could not be reached, how long its reads go to the
 * primary before the next connect; the connect's own limit, in seconds,
 * unless the URL sets connect_timeout. */
#define DB_REPLICA_RETRY_MS 1000
#define DB_REPLICA_CONNECT_TIMEOUT "2"
/* db_exec() on the replica, with statements of its own (a statement is
 * prepared per connection: never pass one that db_exec() runs); NULL when
 * there is none, it cannot be reached (no retry: the caller reads the
 * primary), or it was lost (reconnected on a later call). */
PGresult *db_exec_replica(struct db_stmt *stmt, const char *const *params) MSGR_WUR;

/* A read that may lag by no write committed before it began (search, user
 * search): on the replica when it has replayed the primary's WAL as far as
 * the primary had written it when asked (one cheap statement on each), else
 * on the primary; stmt on the primary, on_replica (the same SQL, a
 * statement of its own) on the replica. A failure on the replica is
 * answered by the primary. Without a replica, db_exec(stmt) alone. */
PGresult *db_exec_read(struct db_stmt *stmt, struct db_stmt *on_replica,
		       const char *const *params) MSGR_WUR;

/* Executes a prepared statement with text parameters (NULL = SQL NULL).
 * Returns the result (the caller PQclear()s it; it may be an error result)
 * or NULL when the database cannot be reached. */
PGresult *db_exec(struct db_stmt *stmt, const char *const *params) MSGR_WUR;
/* True for PGRES_TUPLES_OK and PGRES_COMMAND_OK. */
bool db_ok(const PGresult *res);
/* The SQLSTATE of an error result, or "" */
const char *db_sqlstate(const PGresult *res);

/* Counts res in the database errors of metrics.h when it is a failure of
 * the database: NULL (unreachable, or lost) or an error other than a
 * domain error ('M0nnn', an answer the schema chose). */
void db_count_error(const PGresult *res);

/* Sends NOTIFY msgr_events with the given payload after a commit; failure
 * is logged and ignored (wsd polls the events table anyway). */
void db_notify_events(const char *payload);

#endif
