/*
 * The retention of the event outbox: events older than
 * MSGR_EVENT_RETENTION_DAYS (default 7) are deleted, in the messages
 * master's periodic job. A client that resumes from before the oldest
 * retained event gets {"type":"reset"} from wsd (schema/migrations/004_wsd.sql records
 * the highest pruned id).
 */
#include <stdio.h>

#include "config.h"
#include "db.h"
#include "log.h"
#include "messages.h"

void prune_old_events(void)
{
	DB_STMT(prune, 1, "SELECT prune_events(make_interval(days => $1::int))");
	char days[24];
	snprintf(days, sizeof days, "%ld", config_int("MSGR_EVENT_RETENTION_DAYS", 7, 1, 3650));
	const char *params[] = {days};
	PGresult *res = db_exec(&prune, params);
	if (db_ok(res) && PQgetvalue(res, 0, 0)[0] != '0')
		log_info("pruned %s events older than %s days", PQgetvalue(res, 0, 0), days);
	else if (!db_ok(res))
		log_error("could not prune events: %s",
			  res ? PQresultErrorMessage(res) : "no database connection");
	PQclear(res);
}
