/*
 * health.c - readiness (GET /api/health/ready) and the metrics (GET
 * /metrics) of every program: auth answers for the whole service.
 *
 * Ready means each part answers, not that its socket exists: the database
 * runs a statement, each FastCGI program answers a request (GET
 * /api/health/ready, which none of them routes: its 404 proves a worker,
 * or the messages companion's loop, took it and answered; it carries the
 * ready request's X-Request-Id, so their log lines say whose probe they
 * were; FCGI_GET_VALUES would be quieter, but libfcgi 2.4 never answers
 * it), and wsd answers an HTTP request on its socket with an HTTP status
 * line (any: a plain GET is not a WebSocket, the answer only proves lws
 * serves). auth itself answers this request.
 *
 * The probes are cheap to ask for and must stay so, as the endpoint is
 * public: they run side by side, within PROBE_BUDGET_MS in all (a program
 * that accepts and never answers costs that much, once), and a worker
 * probes at most once a second, answering again what it found the last
 * time meanwhile: a stranger asking in a loop makes no more probes than a
 * load balancer asking every second.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "buf.h"
#include "db.h"
#include "log.h"
#include "metrics.h"
#include "server.h"

#define PROBE_BUDGET_MS 1000
#define PROBE_CACHE_MS 1000
#define FCGI_RECORD_HEADER 8
enum { FCGI_BEGIN = 1, FCGI_PARAMS = 4, FCGI_STDIN = 5, FCGI_STDOUT = 6 };

enum probe_kind { PROBE_FCGI, PROBE_HTTP };

struct probe {
	const char *name;   /* in "checks" */
	const char *socket; /* in the run directory */
	enum probe_kind kind;
	int fd;
	const char *failed; /* why it is not ready; NULL: ready */
	unsigned char in[FCGI_RECORD_HEADER + 8];
	size_t got;
};


/* Appends a record of request 1 (content under 256 bytes). */
static void put_record(struct buf *b, unsigned char type, const void *data, size_t len)
{
	unsigned char h[FCGI_RECORD_HEADER] = {1, type, 0, 1, 0, (unsigned char)len, 0, 0};
	buf_append(b, h, sizeof h);
	buf_append(b, data, len);
}

/* A name-value pair, both under 128 bytes (FastCGI's short lengths). */
static void put_pair(struct buf *b, const char *name, const char *value)
{
	buf_putc(b, (char)strlen(name));
	buf_putc(b, (char)strlen(value));
	buf_puts(b, name);
	buf_puts(b, value);
}

/* The probe request: GET /api/health/ready, with request_id (may be
 * NULL), and no body. */
static void fcgi_probe(struct buf *out, const char *request_id)
{
	static const unsigned char begin[8] = {0, 1}; /* responder, close after */
	struct buf params = {0};
	put_pair(&params, "REQUEST_METHOD", "GET");
	put_pair(&params, "REQUEST_URI", "/api/health/ready");
	if (request_id)
		put_pair(&params, "HTTP_X_REQUEST_ID", request_id);
	put_record(out, FCGI_BEGIN, begin, sizeof begin);
	put_record(out, FCGI_PARAMS, buf_cstr(&params), params.len);
	put_record(out, FCGI_PARAMS, NULL, 0);
	put_record(out, FCGI_STDIN, NULL, 0);
	buf_free(&params);
}
static const char http_probe[] = "GET /ws HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";

static double now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

/* Connects p and sends its question, without waiting: a unix socket
 * either takes the connection at once or refuses it. */
static void probe_start(struct probe *p, const char *dir, const struct buf *fcgi)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int n = snprintf(sa.sun_path, sizeof sa.sun_path, "%s/%s", dir, p->socket);
	p->fd = -1;
	p->got = 0;
	p->failed = NULL;
	if (n < 0 || (size_t)n >= sizeof sa.sun_path) {
		p->failed = "its socket path is too long";
		return;
	}
	p->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (p->fd < 0) {
		p->failed = "could not make a socket";
		return;
	}
	const void *q = p->kind == PROBE_FCGI ? (const void *)buf_cstr(fcgi) : http_probe;
	size_t qlen = p->kind == PROBE_FCGI ? fcgi->len : sizeof http_probe - 1;
	if (connect(p->fd, (struct sockaddr *)&sa, sizeof sa) != 0)
		p->failed = errno == ENOENT	  ? "not running (no socket)"
			    : errno == ECONNREFUSED ? "not running (connection refused)"
			    : errno == EAGAIN	  ? "busy (its connection queue is full)"
						  : "could not connect";
	else if (send(p->fd, q, qlen, MSG_NOSIGNAL) != (ssize_t)qlen)
		p->failed = "could not send the probe";
	if (p->failed) {
		close(p->fd);
		p->fd = -1;
	}
}

/* Reads what p answered; true once it is settled (answered or failed). */
static bool probe_read(struct probe *p)
{
	ssize_t n = recv(p->fd, p->in + p->got, sizeof p->in - p->got, MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return false;
	if (n <= 0) {
		p->failed = "closed the connection without an answer";
		return true;
	}
	p->got += (size_t)n;
	if (p->kind == PROBE_FCGI && p->got >= sizeof p->in) {
		/* FCGI_STDOUT, version 1, starting with the CGI status */
		if (p->in[0] != 1 || p->in[1] != FCGI_STDOUT ||
		    memcmp(p->in + FCGI_RECORD_HEADER, "Status: ", 8))
			p->failed = "answered something that is not FastCGI";
		return true;
	}
	if (p->kind == PROBE_HTTP && p->got >= 7) {
		if (memcmp(p->in, "HTTP/1.", 7))
			p->failed = "answered something that is not HTTP";
		return true;
	}
	return false;
}

/* Waits for the started probes until each settles or the budget ends. */
static void probes_wait(struct probe *ps, size_t n, double deadline)
{
	for (;;) {
		struct pollfd pfd[8];
		size_t idx[8], waiting = 0;
		for (size_t i = 0; i < n && waiting < 8; i++) {
			if (ps[i].fd < 0)
				continue;
			pfd[waiting] = (struct pollfd){.fd = ps[i].fd, .events = POLLIN};
			idx[waiting++] = i;
		}
		double left = deadline - now_ms();
		if (!waiting)
			return;
		int r = left > 0 ? poll(pfd, waiting, (int)left + 1) : 0;
		if (r < 0 && errno == EINTR)
			continue;
		for (size_t k = 0; k < waiting; k++) {
			struct probe *p = &ps[idx[k]];
			bool settled;
			if (r <= 0)
				p->failed = "no answer within 1 s";
			settled = r <= 0 || (pfd[k].revents && probe_read(p));
			if (settled) {
				close(p->fd);
				p->fd = -1;
			}
		}
	}
}

/* The last answer of this worker: the status and the checks object. */
static struct {
	double at;
	int status;
	char checks[512];
	char failing[128];
} last;

static void put_check(struct buf *b, const char *name, const char *failed)
{
	if (b->len > 1)
		buf_putc(b, ',');
	buf_json_str(b, name, strlen(name));
	buf_putc(b, ':');
	buf_json_str(b, failed ? failed : "ok", strlen(failed ? failed : "ok"));
}

static void probe_all(const char *request_id)
{
	struct probe ps[] = {
		{"chats", "chats.sock", PROBE_FCGI, -1, NULL, {0}, 0},
		{"messages", "messages.sock", PROBE_FCGI, -1, NULL, {0}, 0},
		{"messages_loop", "messages.sock.loop", PROBE_FCGI, -1, NULL, {0}, 0},
		{"files", "files.sock", PROBE_FCGI, -1, NULL, {0}, 0},
		{"wsd", "wsd.sock", PROBE_HTTP, -1, NULL, {0}, 0},
	};
	size_t n = sizeof ps / sizeof ps[0];
	double deadline = now_ms() + PROBE_BUDGET_MS;
	struct buf fcgi = {0};
	fcgi_probe(&fcgi, request_id);
	for (size_t i = 0; i < n; i++)
		probe_start(&ps[i], srv_run_dir(), &fcgi);
	buf_free(&fcgi);
	/* The database while the programs answer. */
	DB_STMT(ready_db, 0, "SELECT 1");
	PGresult *res = db_exec(&ready_db, NULL);
	const char *db_failed = db_ok(res) ? NULL : "does not answer";
	PQclear(res);
	probes_wait(ps, n, deadline);

	struct buf b = {0}, failing = {0};
	buf_putc(&b, '{');
	put_check(&b, "database", db_failed);
	put_check(&b, "auth", NULL);
	if (db_failed)
		buf_puts(&failing, "database");
	for (size_t i = 0; i < n; i++) {
		put_check(&b, ps[i].name, ps[i].failed);
		if (ps[i].failed)
			buf_printf(&failing, "%s%s", failing.len ? ", " : "", ps[i].name);
	}
	buf_putc(&b, '}');
	last.at = now_ms();
	last.status = failing.len ? 503 : 200;
	if (buf_status(&b) != MSGR_OK || b.len >= sizeof last.checks) {
		last.status = 503;
		snprintf(last.checks, sizeof last.checks, "{}");
	} else {
		memcpy(last.checks, b.data, b.len + 1);
	}
	snprintf(last.failing, sizeof last.failing, "%s", buf_cstr(&failing));
	buf_free(&b);
	buf_free(&failing);
}

void handle_ready(struct http_req *req)
{
	if (!last.at || now_ms() - last.at >= PROBE_CACHE_MS)
		probe_all(req->request_id);
	if (last.status == 200) {
		struct buf b = {0};
		buf_printf(&b, "{\"status\":\"ok\",\"checks\":%s}", last.checks);
		if (buf_status(&b) == MSGR_OK)
			http_send_json(req, 200, b.data, b.len);
		else
			http_problem(req, 500, "internal_error", "out of memory");
		buf_free(&b);
		return;
	}
	http_add_header(req, "Retry-After", "1");
	http_problem_with(req, 503, "not_ready", "checks", last.checks, "not ready: %s",
			  last.failing[0] ? last.failing : "out of memory");
}

void handle_metrics(struct http_req *req)
{
	struct buf b = {0};
	if (metrics_render(srv_run_dir(), &b) == MSGR_OK)
		http_send(req, 200, "text/plain; version=0.0.4; charset=utf-8", b.data, b.len);
	else
		http_problem(req, 500, "internal_error", "the metrics could not be read");
	buf_free(&b);
}
