#include "reply.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "log.h"

const char *reply_id(char buf[REPLY_ID_LEN], int64_t id)
{
	snprintf(buf, REPLY_ID_LEN, "%lld", (long long)id);
	return buf;
}

const char *reply_id_array(struct arena *a, const int64_t *ids, size_t n)
{
	char *out = arena_alloc(a, n * (REPLY_ID_LEN - 3) + 3);
	size_t o = 0;
	out[o++] = '{';
	for (size_t i = 0; i < n; i++) {
		char id[REPLY_ID_LEN];
		size_t len = strlen(reply_id(id, ids[i]));
		if (i)
			out[o++] = ',';
		memcpy(out + o, id, len);
		o += len;
	}
	out[o++] = '}';
	out[o] = '\0';
	return out;
}

int reply_send(struct http_req *req, PGresult *res)
{
	if (!db_ok(res)) {
		http_db_problem(req, res);
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
