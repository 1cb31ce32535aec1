/*
 * msgrctl - the sysadmin's command line (README "Administration"): makes
 * the first administrator, bans, deletes an account, prints a password
 * reset link, shows the stats. It talks to the database only (MSGR_DATABASE_URL), through the
 * functions the admin API uses (schema/functions/admin.sql), with admin
 * NULL: whoever can reach the database with its credentials on the server
 * is the sysadmin. Every change goes to the audit log as
 * "msgrctl:<user>", the user being SUDO_USER when set (a sudo session:
 * the person, not root) or else the account running it.
 *
 * Exit status: 0 done, 1 refused (no such user...), 2 usage, 3 the
 * database failed or cannot be reached.
 */
#include <json-c/json.h>
#include <libpq-fe.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db.h"
#include "log.h"
#include "token.h"

enum { EXIT_DONE = 0, EXIT_REFUSED = 1, EXIT_USAGE = 2, EXIT_DB = 3 };

static const char usage_text[] =
	"usage: msgrctl COMMAND [ARGUMENT]\n"
	"\n"
	"  admin grant USERNAME          make USERNAME an administrator\n"
	"  admin revoke USERNAME         make USERNAME a plain user again\n"
	"  user ban USERNAME             ban USERNAME: every session ends now, their\n"
	"                                sockets close, logins get 403 account_banned\n"
	"  user unban USERNAME           let USERNAME sign in again\n"
	"  user delete USERNAME          delete USERNAME's account, as DELETE\n"
	"                                /api/admin/users/{id} does\n"
	"  user reset-password USERNAME  print a one-time link (valid an hour) where\n"
	"                                USERNAME sets a new password\n"
	"  stats                         the service's figures (GET /api/admin/stats)\n"
	"\n"
	"Connects with MSGR_DATABASE_URL (libpq conninfo or URI; default\n"
	"dbname=messenger); links are under MSGR_PUBLIC_URL. Each change is in the\n"
	"audit log (GET /api/admin/audit) as msgrctl:<your user>.\n"
	"Exit status: 0 done, 1 refused (e.g. no such user), 2 usage, 3 database error.\n";

static int usage(FILE *f, int status)
{
	fputs(usage_text, f);
	return status;
}

/* "msgrctl:" and who runs it, for the audit log. */
static void actor_name(char *out, size_t cap)
{
	const char *who = getenv("SUDO_USER");
	struct passwd *pw = NULL;
	if (!who || !*who) {
		pw = getpwuid(getuid());
		who = pw ? pw->pw_name : NULL;
	}
	if (who)
		snprintf(out, cap, "msgrctl:%s", who);
	else
		snprintf(out, cap, "msgrctl:uid %u", (unsigned)getuid());
}

/*
 * Reports a failed statement: a domain error of the schema (SQLSTATE
 * M0nnn: "no such user"...) is the command's refusal, anything else the
 * database's failure. Takes res.
 */
static int report_failure(PGresult *res, const char *username)
{
	const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	const char *code = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
	const char *detail = PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL);
	int status = EXIT_DB;
	if (state && !strcmp(state, "M0404") && code && !strcmp(code, "user_not_found")) {
		fprintf(stderr, "msgrctl: no user named \"%s\"\n", username);
		status = EXIT_REFUSED;
	} else if (state && state[0] == 'M' && state[1] == '0') {
		fprintf(stderr, "msgrctl: %s\n", detail ? detail : code ? code : "refused");
		status = EXIT_REFUSED;
	} else {
		const char *msg = PQresultErrorMessage(res);
		fprintf(stderr, "msgrctl: database error: %.*s\n", (int)strcspn(msg, "\n"), msg);
	}
	PQclear(res);
	return status;
}

/* admin grant|revoke, user ban|unban: one admin_user_update(). The event
 * of a role changed is announced to wsd at the commit, as delete_user's. */
static int set_user(PGconn *db, const char *actor, const char *username, const char *status,
		    const char *role, const char *done)
{
	const char *params[] = {actor, username, status, role};
	PGresult *res = PQexecParams(
		db,
		"SELECT r.status, CASE WHEN r.event_id IS NOT NULL "
		"THEN pg_notify('msgr_events', r.event_id::text) END "
		"FROM admin_user_update(NULL, $1, "
		"(SELECT id FROM users WHERE username = lower($2)), $3, $4) r",
		4, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		return report_failure(res, username);
	PQclear(res);
	printf("%s %s\n", username, done);
	return EXIT_DONE;
}

/* user delete: admin_user_delete(). Its events are announced to wsd at
 * the commit (pg_notify in the statement); the bytes of the files it
 * marked deleted are the files program's periodic sweep's to unlink. */
static int delete_user(PGconn *db, const char *actor, const char *username)
{
	const char *params[] = {actor, username};
	PGresult *res = PQexecParams(
		db,
		"SELECT r.status, CASE WHEN r.event_id IS NOT NULL "
		"THEN pg_notify('msgr_events', r.event_id::text) END "
		"FROM admin_user_delete(NULL, $1, (SELECT id FROM users WHERE username = lower($2))) r",
		2, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		return report_failure(res, username);
	PQclear(res);
	printf("%s is deleted; every session of theirs has ended\n", username);
	return EXIT_DONE;
}

static int reset_password(PGconn *db, const char *actor, const char *username)
{
	char token[TOKEN_REFRESH_LEN + 1], hash[2 * TOKEN_HASH_LEN + 1];
	if (token_new_refresh(token) != MSGR_OK) {
		fprintf(stderr, "msgrctl: could not draw a random token\n");
		return EXIT_DB;
	}
	token_sha256_hex(token, TOKEN_REFRESH_LEN, hash);
	char *link = token_reset_link(token);
	if (!link) {
		fprintf(stderr, "msgrctl: out of memory\n");
		return EXIT_DB;
	}
	const char *params[] = {actor, username, hash};
	PGresult *res = PQexecParams(
		db,
		"SELECT r.status FROM admin_password_reset(NULL, $1, "
		"(SELECT id FROM users WHERE username = lower($2)), $3) r",
		3, NULL, params, NULL, NULL, 0);
	int status;
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		status = report_failure(res, username);
	} else {
		PQclear(res);
		printf("%s\n", link);
		fprintf(stderr, "msgrctl: give this link to %s; it sets a new password once, "
				"within an hour, and ends every session\n",
			username);
		status = EXIT_DONE;
	}
	free(link);
	return status;
}

static int stats(PGconn *db)
{
	PGresult *res = PQexecParams(db, "SELECT admin_stats()::text", 0, NULL, NULL, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		return report_failure(res, "");
	json_object *obj = json_tokener_parse(PQgetvalue(res, 0, 0));
	PQclear(res);
	if (!obj || !json_object_is_type(obj, json_type_object)) {
		json_object_put(obj);
		fprintf(stderr, "msgrctl: the database answered something else than the stats\n");
		return EXIT_DB;
	}
	static const char *const keys[] = {"users", "users_active_24h", "messages_24h",
					   "storage_bytes", "websockets"};
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
		json_object *v = NULL;
		json_object_object_get_ex(obj, keys[i], &v);
		printf("%-17s %lld\n", keys[i], (long long)json_object_get_int64(v));
	}
	json_object_put(obj);
	return EXIT_DONE;
}

int main(int argc, char **argv)
{
	log_init("msgrctl");
	if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")))
		return usage(stdout, EXIT_DONE);
	/* What to do, checked before connecting: a typo costs no connection. */
	enum { CMD_GRANT, CMD_REVOKE, CMD_BAN, CMD_UNBAN, CMD_DELETE, CMD_RESET, CMD_STATS } cmd;
	if (argc == 2 && !strcmp(argv[1], "stats"))
		cmd = CMD_STATS;
	else if (argc == 4 && !strcmp(argv[1], "admin") && !strcmp(argv[2], "grant"))
		cmd = CMD_GRANT;
	else if (argc == 4 && !strcmp(argv[1], "admin") && !strcmp(argv[2], "revoke"))
		cmd = CMD_REVOKE;
	else if (argc == 4 && !strcmp(argv[1], "user") && !strcmp(argv[2], "ban"))
		cmd = CMD_BAN;
	else if (argc == 4 && !strcmp(argv[1], "user") && !strcmp(argv[2], "unban"))
		cmd = CMD_UNBAN;
	else if (argc == 4 && !strcmp(argv[1], "user") && !strcmp(argv[2], "delete"))
		cmd = CMD_DELETE;
	else if (argc == 4 && !strcmp(argv[1], "user") && !strcmp(argv[2], "reset-password"))
		cmd = CMD_RESET;
	else
		return usage(stderr, EXIT_USAGE);

	PGconn *db = db_connect_plain();
	if (!db) {
		fprintf(stderr, "msgrctl: cannot reach the database (MSGR_DATABASE_URL)\n");
		return EXIT_DB;
	}
	char actor[128];
	actor_name(actor, sizeof actor);
	const char *name = argc == 4 ? argv[3] : NULL;
	int status = EXIT_USAGE;
	switch (cmd) {
	case CMD_GRANT:
		status = set_user(db, actor, name, NULL, "admin", "is an administrator");
		break;
	case CMD_REVOKE:
		status = set_user(db, actor, name, NULL, "user", "is a plain user");
		break;
	case CMD_BAN:
		status = set_user(db, actor, name, "banned", NULL,
				  "is banned; every session of theirs has ended");
		break;
	case CMD_UNBAN:
		status = set_user(db, actor, name, "active", NULL, "may sign in again");
		break;
	case CMD_DELETE:
		status = delete_user(db, actor, name);
		break;
	case CMD_RESET:
		status = reset_password(db, actor, name);
		break;
	case CMD_STATS:
		status = stats(db);
		break;
	}
	PQfinish(db);
	return status;
}
