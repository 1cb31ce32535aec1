/*
 * test_metrics.c - shared/metrics.c: the shared file as the processes of a
 * family update it, and the Prometheus text format the exporter renders
 * from it (cumulative buckets, _count equal to +Inf, escaped labels, one
 * HELP and TYPE per family, files of dead families skipped).
 */
#include "metrics.c"

#include "unit.h"

static void noop(struct http_req *req)
{
	(void)req;
}

static const struct http_route routes[] = {
	{"GET", "/api/health", noop, NULL},
	{"POST", "/api/chats/{chat_id}/messages", noop, NULL},
};

static char dir[] = "/tmp/msgr-test-metrics-XXXXXX";

static char *render_now(void)
{
	struct buf out = {0};
	enum msgr_err err = metrics_render(dir, &out);
	CHECK(err == MSGR_OK);
	char *s = strdup(buf_cstr(&out));
	buf_free(&out);
	return s;
}

static bool has_line(const char *text, const char *line)
{
	size_t n = strlen(line);
	for (const char *p = text; (p = strstr(p, line)); p++)
		if ((p == text || p[-1] == '\n') && (p[n] == '\n' || !p[n]))
			return true;
	return false;
}

TEST(requests_by_route_and_status)
{
	REQUIRE(mkdtemp(dir));
	REQUIRE(metrics_open(dir, "auth", routes, 2) == MSGR_OK);
	metrics_request(0, 200, 0.0004);
	metrics_request(0, 200, 0.003);
	metrics_request(1, 422, 0.2);
	metrics_request(2, 404, 0); /* no route */
	metrics_request(99, 418, 0); /* clamped to "unmatched", status "other" */
	metrics_db_error();
	char *t = render_now();
	CHECK(has_line(t, "# TYPE msgr_http_requests_total counter"));
	CHECK(has_line(t, "msgr_http_requests_total{program=\"auth\",method=\"GET\",route=\"/api/health\",status=\"200\"} 2"));
	CHECK(has_line(t, "msgr_http_requests_total{program=\"auth\",method=\"POST\",route=\"/api/chats/{chat_id}/messages\",status=\"422\"} 1"));
	CHECK(has_line(t, "msgr_http_requests_total{program=\"auth\",method=\"\",route=\"unmatched\",status=\"404\"} 1"));
	CHECK(has_line(t, "msgr_http_requests_total{program=\"auth\",method=\"\",route=\"unmatched\",status=\"other\"} 1"));
	/* cumulative buckets: 0.4 ms in the first, 3 ms by 0.005 */
	CHECK(has_line(t, "msgr_http_request_duration_seconds_bucket{program=\"auth\",method=\"GET\",route=\"/api/health\",le=\"0.001\"} 1"));
	CHECK(has_line(t, "msgr_http_request_duration_seconds_bucket{program=\"auth\",method=\"GET\",route=\"/api/health\",le=\"0.0025\"} 1"));
	CHECK(has_line(t, "msgr_http_request_duration_seconds_bucket{program=\"auth\",method=\"GET\",route=\"/api/health\",le=\"0.005\"} 2"));
	CHECK(has_line(t, "msgr_http_request_duration_seconds_bucket{program=\"auth\",method=\"GET\",route=\"/api/health\",le=\"+Inf\"} 2"));
	CHECK(has_line(t, "msgr_http_request_duration_seconds_count{program=\"auth\",method=\"GET\",route=\"/api/health\"} 2"));
	CHECK(has_line(t, "msgr_http_request_duration_seconds_sum{program=\"auth\",method=\"GET\",route=\"/api/health\"} 0.0034"));
	CHECK(has_line(t, "msgr_database_errors_total{program=\"auth\"} 1"));
	/* a program with routes has no WebSocket series */
	CHECK(!strstr(t, "msgr_websocket_connections{"));
	free(t);
}

/* Every sample line is NAME{LABELS} VALUE, every family has one TYPE,
 * before its samples. */
TEST(text_format_is_well_formed)
{
	char *t = render_now();
	char types[16][64];
	int ntypes = 0;
	for (char *line = strtok(t, "\n"); line; line = strtok(NULL, "\n")) {
		if (!strncmp(line, "# HELP ", 7))
			continue;
		if (!strncmp(line, "# TYPE ", 7)) {
			REQUIRE(ntypes < 16);
			sscanf(line + 7, "%63s", types[ntypes]);
			for (int i = 0; i < ntypes; i++)
				CHECK(strcmp(types[i], types[ntypes]) != 0);
			ntypes++;
			continue;
		}
		char *brace = strchr(line, '{'), *close = strrchr(line, '}');
		REQUIRE(brace && close && close > brace && close[1] == ' ');
		char *end;
		strtod(close + 2, &end);
		CHECK(*end == '\0');
		CHECK(ntypes > 0 && !strncmp(line, types[ntypes - 1], strlen(types[ntypes - 1])));
	}
	CHECK_INT_EQ(ntypes, 8); /* one per family: a new family is counted here */
	free(t);
}

TEST(labels_are_escaped)
{
	struct buf b = {0};
	put_label(&b, "route", "a\"b\\c\nd");
	CHECK_STR_EQ(buf_cstr(&b), "route=\"a\\\"b\\\\c\\nd\"");
	buf_free(&b);
}

TEST(websocket_and_batch_series)
{
	struct metrics_file f;
	memset(&f, 0, sizeof f);
	snprintf(f.program, sizeof f.program, "wsd");
	f.websockets = 3;
	f.events_sent = 7;
	f.delivery_lag.bucket[0] = 2;
	f.delivery_lag.sum = 1500;
	struct metrics_file g;
	memset(&g, 0, sizeof g);
	snprintf(g.program, sizeof g.program, "messages");
	g.nroutes = 1;
	g.batch[METRICS_BATCH_SEND].bucket[2] = 1; /* a batch of 3 or 4 */
	g.batch[METRICS_BATCH_SEND].sum = 3;
	struct metrics_file both[] = {g, f};
	struct buf out = {0};
	render(&out, both, 2);
	const char *t = buf_cstr(&out);
	CHECK(has_line(t, "msgr_websocket_connections{program=\"wsd\"} 3"));
	CHECK(has_line(t, "msgr_events_delivered_total{program=\"wsd\"} 7"));
	CHECK(has_line(t, "msgr_event_delivery_lag_seconds_count{program=\"wsd\"} 2"));
	CHECK(has_line(t, "msgr_event_delivery_lag_seconds_sum{program=\"wsd\"} 0.0015"));
	CHECK(has_line(t, "msgr_companion_batch_size_bucket{program=\"messages\",kind=\"send\",le=\"2\"} 0"));
	CHECK(has_line(t, "msgr_companion_batch_size_bucket{program=\"messages\",kind=\"send\",le=\"4\"} 1"));
	CHECK(has_line(t, "msgr_companion_batch_size_count{program=\"messages\",kind=\"send\"} 1"));
	CHECK(!strstr(t, "kind=\"history\""));
	CHECK(!strstr(t, "msgr_websocket_connections{program=\"messages\"}"));
	buf_free(&out);
}

/* A family killed outright leaves its file: nobody holds its lock, so it
 * is not rendered; a clean stop removes it. */
TEST(files_of_dead_families_are_skipped)
{
	char path[sizeof M.path];
	snprintf(path, sizeof path, "%s", M.path);
	/* As if the family died: its mapping and descriptor (the mapping
	 * holds the lock too) gone, the file left. */
	munmap(M.map, sizeof *M.map);
	close(M.fd);
	M.map = NULL;
	char *t = render_now();
	CHECK(!strstr(t, "program=\"auth\""));
	CHECK(strstr(t, "# TYPE msgr_http_requests_total counter") != NULL);
	free(t);
	/* A new family of the same program replaces it, from zero. */
	REQUIRE(metrics_open(dir, "auth", routes, 2) == MSGR_OK);
	metrics_request(0, 200, 0.001);
	t = render_now();
	CHECK(has_line(t, "msgr_http_requests_total{program=\"auth\",method=\"GET\",route=\"/api/health\",status=\"200\"} 1"));
	free(t);
	metrics_remove();
	CHECK(access(path, F_OK) != 0);
	char mdir[sizeof dir + 16];
	snprintf(mdir, sizeof mdir, "%s/metrics", dir);
	CHECK(rmdir(mdir) == 0);
	CHECK(rmdir(dir) == 0);
}
