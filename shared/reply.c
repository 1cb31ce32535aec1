#include "reply.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "log.h"

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

void reply_db_problem(struct http_req *req, PGresult *res)
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
		/* live_session_user(): the token is good but its session ended
		 * (RFC 6750 section 3.1). */
		if (status == 401)
			http_add_header(req, "WWW-Authenticate", "Bearer error=\"invalid_token\"");
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

int reply_send(struct http_req *req, PGresult *res)
{
	if (!db_ok(res)) {
		reply_db_problem(req, res);
		return req->status;
	}
	if (PQntuples(res) < 1 || PQnfields(res) < 3 || PQgetisnull(res, 0, 0)) {
		log_error("%s %s: the statement returned no reply row", req->method, req->path);
		PQclear(res);
		http_problem(req, 500, "internal_error",
			     "the server failed to answer this request");
		return req->status;
	}
	int status = atoi(PQgetvalue(res, 0, 0));
	if (!PQgetisnull(res, 0, 2))
		db_notify_events(PQgetvalue(res, 0, 2));
	if (status == 204 || PQgetisnull(res, 0, 1))
		http_send(req, status, NULL, NULL, 0);
	else
		http_send_json(req, status, PQgetvalue(res, 0, 1), (size_t)PQgetlength(res, 0, 1));
	PQclear(res);
	return status;
}
