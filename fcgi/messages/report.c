/*
 * POST /api/messages/{id}/report {reason}: a message the caller sees goes
 * to the administrators' queue (message_report(), schema/functions/messages.sql).
 */
#include "db.h"
#include "messages.h"
#include "reply.h"
#include "sqlparam.h"

#define REPORT_REASON_MAX 500 /* code points */

enum { REPORT_REASON, REPORT__MAX };
static const struct field_spec report_fields[REPORT__MAX] = {
	/* Lines allowed, as in a message. */
	[REPORT_REASON] = {"reason", FIELD_STRING, FIELD_REQUIRED | FIELD_TRIM | FIELD_RAW, 1,
			   REPORT_REASON_MAX, message_text_check},
};

void handle_report(struct http_req *req)
{
	DB_STMT(report_message, 4,
		"SELECT status, body, event_id "
		"FROM message_report(live_session_user($1, $4), $2, $3)");
	if (!http_require_user(req))
		return;
	struct field_value f[REPORT__MAX];
	if (!http_parse_body(req, MESSAGES_BODY_LIMIT, report_fields, REPORT__MAX, f))
		return;
	char uid[SQLPARAM_INT_LEN];
	const char *params[] = {sqlparam_int(uid, req->user_id), req->path_str[0], f[REPORT_REASON].str,
				http_session_param(req)};
	reply_send(req, db_exec(&report_message, params));
}
