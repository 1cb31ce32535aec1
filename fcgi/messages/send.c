/*
 * POST /api/chats/{id}/messages: JSON {text?, attachment_ids?, client_id?,
 * reply_to_id?} or multipart/form-data with the fields text, client_id and
 * reply_to_id and parts
 * "file" (repeatable), which become the message's attachments. Both end in
 * message_send() of schema/functions/messages.sql: idempotent by client_id, rate
 * limited (messages_config), one message.created event. nginx passes JSON
 * sends to the event loop (send_loop.c), which writes those of plain text
 * in batches and the others alone with SEND_JSON_SQL; multipart sends, and
 * every send when batching is off, come to the workers (handle_send).
 */
#include <string.h>
#include <strings.h>

#include "db.h"
#include "log.h"
#include "messages.h"
#include "reply.h"
#include "sqlparam.h"
#include "storage.h"
#include "upload.h"
#include "utf8.h"
#include "valid.h"

static const char *blank_param(const struct send_input *in)
{
	return !in->text || message_text_blank(in->text, in->text_len) ? "t" : "f";
}

/* ---- JSON ------------------------------------------------------------------ */

enum { SEND_TEXT, SEND_ATTACHMENT_IDS, SEND_CLIENT_ID, SEND_REPLY_TO_ID, SEND__MAX };
static const struct field_spec send_fields[SEND__MAX] = {
	[SEND_TEXT] = {"text", FIELD_STRING, FIELD_RAW | FIELD_NULLABLE, 0, MESSAGE_TEXT_MAX,
		       message_text_check},
	[SEND_ATTACHMENT_IDS] = {"attachment_ids", FIELD_ID_ARRAY, FIELD_NULLABLE, 0,
				 MESSAGE_FILES_MAX, NULL},
	[SEND_CLIENT_ID] = {"client_id", FIELD_STRING, FIELD_NULLABLE, 1, MESSAGE_CLIENT_ID_MAX,
			    NULL},
	[SEND_REPLY_TO_ID] = {"reply_to_id", FIELD_ID, FIELD_NULLABLE, 0, 0, NULL},
};

/* The id of a present, non-null FIELD_ID as a statement's text, in the
 * request's arena; NULL otherwise. */
static const char *id_param(struct http_req *req, const struct field_value *f)
{
	if (!f->present || f->is_null)
		return NULL;
	char *s = arena_alloc(req->arena, SQLPARAM_INT_LEN);
	return sqlparam_int(s, f->num);
}

bool send_json_read(struct http_req *req, struct send_input *in)
{
	struct field_value f[SEND__MAX];
	if (!http_parse_body(req, MESSAGES_BODY_LIMIT, send_fields, SEND__MAX, f))
		return false;
	bool has_text = f[SEND_TEXT].present && !f[SEND_TEXT].is_null;
	bool has_client_id = f[SEND_CLIENT_ID].present && !f[SEND_CLIENT_ID].is_null;
	*in = (struct send_input){
		.text = has_text ? f[SEND_TEXT].str : NULL,
		.text_len = has_text ? f[SEND_TEXT].len : 0,
		.client_id = has_client_id ? f[SEND_CLIENT_ID].str : NULL,
		.client_id_len = has_client_id ? f[SEND_CLIENT_ID].len : 0,
		.file_ids = sqlparam_int_array(req->arena, f[SEND_ATTACHMENT_IDS].ids,
					   f[SEND_ATTACHMENT_IDS].nids),
		.nfiles = f[SEND_ATTACHMENT_IDS].nids,
		.reply_to = id_param(req, &f[SEND_REPLY_TO_ID]),
	};
	return true;
}

bool send_batchable(const struct send_input *in)
{
	return in->nfiles == 0 && !in->reply_to && *blank_param(in) == 'f';
}

void send_json_params(const struct http_req *req, const struct send_input *in,
		      struct send_json_params *p)
{
	send_limit_params(p->rate, p->burst);
	const char *values[SEND_JSON_NPARAMS] = {
		sqlparam_int(p->uid, req->user_id), req->path_str[0], in->text, blank_param(in),
		in->client_id, in->file_ids, sqlparam_int(p->max, MESSAGE_FILES_MAX), p->rate,
		p->burst, in->reply_to, http_session_param(req)};
	memcpy(p->values, values, sizeof values);
}

/* A JSON send in a worker: one statement, which answers every case. */
static void send_json(struct http_req *req, const struct send_input *in)
{
	DB_STMT(send_message, SEND_JSON_NPARAMS, SEND_JSON_SQL);
	struct send_json_params p;
	send_json_params(req, in, &p);
	reply_send(req, db_exec(&send_message, p.values));
}

/* ---- multipart ------------------------------------------------------------- */

enum { PART_TEXT, PART_CLIENT_ID, PART_REPLY_TO_ID, PART__MAX };

/* Validates a multipart field like its JSON twin; NULL when fine. */
static const char *check_part(const struct upload_field *f, size_t max_points, bool is_text)
{
	if (!utf8_valid(f->value, f->len))
		return "must be valid UTF-8";
	if (utf8_has_nul(f->value, f->len))
		return "must not contain NUL characters";
	size_t n = utf8_count(f->value, f->len);
	if (n > max_points)
		return "is too long";
	if (is_text)
		return message_text_check(f->value, f->len);
	if (n == 0)
		return "must not be empty";
	return utf8_has_control(f->value, f->len) ? "must not contain control characters" : NULL;
}

/* After the message's commit: the files become visible under their keys.
 * When that fails the message stays, without them. Returns false when it
 * failed (answered then). */
static bool publish(struct http_req *req, struct upload *up, PGresult *res)
{
	DB_STMT(drop_unpublished, 1, "SELECT files_drop($1::bigint[])");
	if (upload_publish(up) == MSGR_OK)
		return true;
	const char *params[] = {PQgetvalue(res, 0, 3)};
	PGresult *drop = db_exec(&drop_unpublished, params);
	if (!db_ok(drop))
		log_error("could not drop the unpublished files %s", params[0]);
	PQclear(drop);
	upload_discard(up);
	(void)storage_purge(0, 0, (long)up->nfiles);
	if (!PQgetisnull(res, 0, 2))
		db_notify_events(PQgetvalue(res, 0, 2));
	PQclear(res);
	http_problem(req, 500, "storage_failed", "the files of the message could not be stored");
	return false;
}

static void send_multipart(struct http_req *req)
{
	DB_STMT(send_upload, 15,
		"SELECT r.status, r.body, r.event_id, (SELECT array_agg((a->>'id')::bigint) "
		"FROM jsonb_array_elements(r.body->'attachments') a)::text "
		"FROM message_send_upload(live_session_user($1, $14), $2, $3, $4::boolean, $5, "
		"$6::text[], $7::bigint[], $8::text[], $9::text[], $10::int, $11::float8, "
		"$12::float8, $13::bigint, $15::bigint) r");
	struct upload_field fields[PART__MAX] = {
		[PART_TEXT] = {.name = "text", .max_bytes = 4 * MESSAGE_TEXT_MAX},
		[PART_CLIENT_ID] = {.name = "client_id", .max_bytes = 4 * MESSAGE_CLIENT_ID_MAX},
		[PART_REPLY_TO_ID] = {.name = "reply_to_id", .max_bytes = SQLPARAM_INT_LEN},
	};
	struct upload_opts opts = {
		.max_files = MESSAGE_FILES_MAX < upload_max_files() ? MESSAGE_FILES_MAX
								     : upload_max_files(),
		.max_file_size = upload_max_file_size(),
		.fields = fields,
		.nfields = PART__MAX,
	};
	struct upload up;
	if (!upload_receive(req, &opts, &up))
		return;
	struct field_errors errs = {0};
	const char *msg;
	if (fields[PART_TEXT].present &&
	    (msg = check_part(&fields[PART_TEXT], MESSAGE_TEXT_MAX, true)))
		field_errors_add(&errs, "text", msg);
	if (fields[PART_CLIENT_ID].present &&
	    (msg = check_part(&fields[PART_CLIENT_ID], MESSAGE_CLIENT_ID_MAX, false)))
		field_errors_add(&errs, "client_id", msg);
	int64_t reply_to = 0;
	if (fields[PART_REPLY_TO_ID].present &&
	    !valid_parse_id(fields[PART_REPLY_TO_ID].value, fields[PART_REPLY_TO_ID].len, &reply_to))
		field_errors_add(&errs, "reply_to_id", "must be a message id");
	if (errs.count) {
		upload_discard(&up);
		http_problem_fields(req, &errs);
		field_errors_free(&errs);
		return;
	}
	struct send_input in = {
		.text = fields[PART_TEXT].present ? fields[PART_TEXT].value : NULL,
		.text_len = fields[PART_TEXT].len,
		.client_id = fields[PART_CLIENT_ID].present ? fields[PART_CLIENT_ID].value : NULL,
	};
	const char *arrays[4];
	upload_sql_arrays(req->arena, &up, arrays);
	char uid[SQLPARAM_INT_LEN], max[SQLPARAM_INT_LEN], rate[SQLPARAM_INT_LEN], burst[SQLPARAM_INT_LEN];
	char reply[SQLPARAM_INT_LEN], quota[SQLPARAM_INT_LEN];
	send_limit_params(rate, burst);
	const char *params[] = {sqlparam_int(uid, req->user_id), req->path_str[0], in.text,
				blank_param(&in), in.client_id, arrays[0], arrays[1], arrays[2],
				arrays[3], sqlparam_int(max, MESSAGE_FILES_MAX), rate, burst,
				reply_to ? sqlparam_int(reply, reply_to) : NULL,
				http_session_param(req), upload_quota_param(quota)};
	PGresult *res = db_exec(&send_upload, params);
	bool created = db_ok(res) && PQntuples(res) == 1 && !strcmp(PQgetvalue(res, 0, 0), "201");
	if (!created || up.nfiles == 0) {
		/* An error, or a repeated client_id: nothing of this request's
		 * files is kept (their rows, if any, were rolled back or are
		 * swept as unattached uploads). */
		upload_discard(&up);
	} else if (!publish(req, &up, res)) {
		return;
	}
	reply_send(req, res);
}

static bool is_multipart(struct http_req *req)
{
	const char *ct = http_header(req, "Content-Type");
	if (!ct)
		return false;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	return !strncasecmp(ct, "multipart/form-data", 19);
}

void handle_send(struct http_req *req)
{
	bool multipart = is_multipart(req);
	if (!http_require_user(req)) {
		if (multipart)
			http_discard_body(req);
		return;
	}
	struct send_input in;
	if (multipart)
		send_multipart(req);
	else if (send_json_read(req, &in))
		send_json(req, &in);
}
