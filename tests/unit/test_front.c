/*
 * test_front.c - the event-loop FastCGI server (shared/front.h), driven
 * through its header only, with FastCGI records as nginx sends them over a
 * real unix socket: answers at once and later, kept connections, closed
 * ones, a request held while nginx goes away, the routes a loop serves,
 * and what is not FastCGI. No database.
 */
#include <errno.h>
#include <fastcgi.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "buf.h"
#include "front.h"

#include "unit.h"

/* ---- a program ------------------------------------------------------------- */

static struct front_req *held[8];
static int nheld;
static int rounds;

static void worker_only(struct http_req *req)
{
	http_send_json(req, 200, "\"worker\"", 8);
}

static void loop_now(struct http_req *req, struct front_req *fr)
{
	(void)fr;
	http_send_json(req, 200, "\"now\"", 5);
}

static void loop_later(struct http_req *req, struct front_req *fr)
{
	(void)req;
	front_hold(fr);
	held[nheld++] = fr;
}

/* Holds, and answers before returning: as a holder that finds it can
 * answer at once. */
static void loop_at_once(struct http_req *req, struct front_req *fr)
{
	front_hold(fr);
	http_send_json(req, 201, req->body_len ? "1" : "0", 1);
	front_answered(fr);
}

static void loop_echo(struct http_req *req, struct front_req *fr)
{
	(void)fr;
	if (!http_read_body(req, 16))
		return;
	http_send(req, 200, "text/plain", req->body, req->body_len);
}

static void loop_silent(struct http_req *req, struct front_req *fr)
{
	(void)req;
	(void)fr;
}

static const struct http_route routes[] = {
	{"GET", "/now", worker_only, loop_now},
	{"POST", "/now", worker_only, NULL},
	{"GET", "/later", worker_only, loop_later},
	{"POST", "/at-once", worker_only, loop_at_once},
	{"POST", "/echo", worker_only, loop_echo},
	{"GET", "/silent", worker_only, loop_silent},
	{"GET", "/worker", worker_only, NULL},
};

static void count_round(void *arg)
{
	(void)arg;
	rounds++;
}

/* ---- a web server ------------------------------------------------------------ */

struct fixture {
	int listen_fd;
	struct front *f;
};

static struct fixture start(void)
{
	struct fixture x = {.listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)};
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	/* The abstract namespace: no file to remove. */
	int n = snprintf(a.sun_path + 1, sizeof a.sun_path - 1, "msgr-test-front-%d", getpid());
	socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
	if (x.listen_fd < 0 || bind(x.listen_fd, (struct sockaddr *)&a, len) != 0 ||
	    listen(x.listen_fd, 16) != 0)
		abort();
	struct front_config cfg = {.routes = routes,
				   .nroutes = sizeof routes / sizeof routes[0],
				   .body_limit = 16,
				   .round_end = count_round};
	x.f = front_new(x.listen_fd, &cfg);
	if (!x.f)
		abort();
	nheld = rounds = 0;
	return x;
}

static void stop(struct fixture *x)
{
	front_free(x->f);
	close(x->listen_fd);
}

static int connect_to(const struct fixture *x)
{
	struct sockaddr_un a;
	socklen_t len = sizeof a;
	if (getsockname(x->listen_fd, (struct sockaddr *)&a, &len) != 0)
		abort();
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, len) != 0)
		abort();
	return fd;
}

static void rec(struct buf *b, int type, uint16_t id, const void *c, size_t len)
{
	unsigned char h[8] = {1, (unsigned char)type, (unsigned char)(id >> 8), (unsigned char)id,
			      (unsigned char)(len >> 8), (unsigned char)len, 0, 0};
	buf_append(b, h, 8);
	if (len)
		buf_append(b, c, len);
}

static void pair(struct buf *b, const char *name, const char *value)
{
	buf_putc(b, (char)strlen(name));
	buf_putc(b, (char)strlen(value));
	buf_puts(b, name);
	buf_puts(b, value);
}

/* Writes a whole request to fd, as nginx does. */
static void send_request(int fd, uint16_t id, bool keep, const char *method, const char *uri,
			 const char *body)
{
	struct buf b = {0}, p = {0};
	unsigned char begin[8] = {0, FCGI_RESPONDER, keep ? FCGI_KEEP_CONN : 0};
	rec(&b, FCGI_BEGIN_REQUEST, id, begin, 8);
	pair(&p, "REQUEST_METHOD", method);
	pair(&p, "REQUEST_URI", uri);
	if (*body) {
		char len[24];
		snprintf(len, sizeof len, "%zu", strlen(body));
		pair(&p, "CONTENT_LENGTH", len);
	}
	rec(&b, FCGI_PARAMS, id, p.data, p.len);
	rec(&b, FCGI_PARAMS, id, NULL, 0);
	if (*body)
		rec(&b, FCGI_STDIN, id, body, strlen(body));
	rec(&b, FCGI_STDIN, id, NULL, 0);
	if (write(fd, b.data, b.len) != (ssize_t)b.len)
		abort();
	buf_free(&p);
	buf_free(&b);
}

/* Turns the loop until nothing happens for a while. */
static void settle(struct fixture *x)
{
	while (front_turn(x->f, 50) > 0)
		;
}

/* What the loop wrote on fd so far, records taken apart: the FCGI_STDOUT
 * bytes into out; returns whether FCGI_END_REQUEST came for id. -1 when
 * the connection is closed and nothing came. */
static int answer_of(int fd, uint16_t id, struct buf *out)
{
	unsigned char data[65536];
	ssize_t n = recv(fd, data, sizeof data, MSG_DONTWAIT);
	if (n == 0)
		return -1;
	if (n < 0)
		return errno == EAGAIN ? 0 : -1;
	int ended = 0;
	for (size_t pos = 0; pos + 8 <= (size_t)n;) {
		const unsigned char *h = data + pos;
		size_t len = (size_t)(h[4] << 8 | h[5]);
		if ((h[2] << 8 | h[3]) == id && h[1] == FCGI_STDOUT)
			buf_append(out, h + 8, len);
		if ((h[2] << 8 | h[3]) == id && h[1] == FCGI_END_REQUEST)
			ended = 1;
		pos += 8 + len + h[6];
	}
	return ended;
}

/* Sends a request on a kept connection and turns the loop: whether its
 * answer came whole, its FCGI_STDOUT bytes in out (as answer_of()). */
static int exchange(struct fixture *x, int fd, uint16_t id, const char *method, const char *uri,
		    const char *body, struct buf *out)
{
	buf_reset(out);
	send_request(fd, id, true, method, uri, body);
	settle(x);
	return answer_of(fd, id, out);
}

static bool closed_by_peer(int fd)
{
	char c;
	return recv(fd, &c, 1, MSG_DONTWAIT) == 0;
}

/* ---- tests ------------------------------------------------------------------- */

TEST(a_request_answered_at_once_on_a_kept_connection_and_the_next_on_it)
{
	struct fixture x = start();
	int fd = connect_to(&x);
	struct buf out = {0};
	CHECK_INT_EQ(exchange(&x, fd, 1, "GET", "/now", "", &out), 1);
	CHECK(strstr(buf_cstr(&out), "Status: 200") != NULL);
	CHECK(strstr(buf_cstr(&out), "\"now\"") != NULL);
	CHECK(rounds > 0);
	CHECK_INT_EQ(exchange(&x, fd, 2, "GET", "/now?x=1", "", &out), 1);
	CHECK(strstr(buf_cstr(&out), "\"now\"") != NULL);
	CHECK(!closed_by_peer(fd));
	buf_free(&out);
	close(fd);
	settle(&x);
	stop(&x);
}

TEST(a_connection_not_kept_is_closed_after_its_answer)
{
	struct fixture x = start();
	int fd = connect_to(&x);
	send_request(fd, 1, false, "GET", "/now", "");
	settle(&x);
	struct buf out = {0};
	CHECK_INT_EQ(answer_of(fd, 1, &out), 1);
	CHECK(closed_by_peer(fd));
	buf_free(&out);
	close(fd);
	stop(&x);
}

TEST(a_held_request_is_answered_later_while_others_are_served)
{
	struct fixture x = start();
	int slow = connect_to(&x), fast = connect_to(&x);
	send_request(slow, 1, true, "GET", "/later", "");
	settle(&x);
	REQUIRE(nheld == 1);
	struct buf out = {0};
	CHECK_INT_EQ(answer_of(slow, 1, &out), 0);
	send_request(fast, 1, true, "GET", "/now", "");
	settle(&x);
	CHECK_INT_EQ(answer_of(fast, 1, &out), 1);
	buf_reset(&out);

	struct http_req *req = front_http(held[0]);
	CHECK_STR_EQ(req->path, "/later");
	http_send_json(req, 202, "\"later\"", 7);
	front_answered(held[0]);
	settle(&x);
	CHECK_INT_EQ(answer_of(slow, 1, &out), 1);
	CHECK(strstr(buf_cstr(&out), "Status: 202") && strstr(buf_cstr(&out), "\"later\""));
	buf_free(&out);
	close(slow);
	close(fast);
	settle(&x);
	stop(&x);
}

TEST(a_held_request_outlives_its_connection_and_is_answered_into_nothing)
{
	struct fixture x = start();
	int fd = connect_to(&x);
	send_request(fd, 1, true, "GET", "/later", "");
	settle(&x);
	REQUIRE(nheld == 1);
	close(fd); /* nginx gave up */
	settle(&x);
	/* The handle is still valid: its connection waits for the answer. */
	CHECK_STR_EQ(front_http(held[0])->path, "/later");
	http_send_json(front_http(held[0]), 200, "{}", 2);
	front_answered(held[0]);
	settle(&x);
	stop(&x);
}

TEST(the_next_request_on_a_connection_waits_for_the_held_one)
{
	struct fixture x = start();
	int fd = connect_to(&x);
	/* nginx does not do this; a client that did is answered in turn. */
	send_request(fd, 1, true, "GET", "/later", "");
	send_request(fd, 2, true, "GET", "/later", "");
	settle(&x);
	REQUIRE(nheld == 1);
	http_send_json(front_http(held[0]), 200, "1", 1);
	front_answered(held[0]);
	settle(&x);
	CHECK_INT_EQ(nheld, 2);
	http_send_json(front_http(held[1]), 200, "2", 1);
	front_answered(held[1]);
	settle(&x);
	struct buf out = {0};
	answer_of(fd, 1, &out);
	CHECK(out.len > 0);
	close(fd);
	settle(&x);
	buf_free(&out);
	stop(&x);
}

TEST(a_holder_may_answer_before_its_handler_returns)
{
	struct fixture x = start();
	int fd = connect_to(&x);
	struct buf out = {0};
	CHECK_INT_EQ(exchange(&x, fd, 1, "POST", "/at-once", "body", &out), 1);
	CHECK(strstr(buf_cstr(&out), "Status: 201") != NULL);
	buf_free(&out);
	close(fd);
	settle(&x);
	stop(&x);
}

TEST(the_body_is_the_handlers_up_to_the_limit)
{
	struct fixture x = start();
	int fd = connect_to(&x);
	struct buf out = {0};
	CHECK_INT_EQ(exchange(&x, fd, 1, "POST", "/echo", "hello", &out), 1);
	CHECK(strstr(buf_cstr(&out), "\r\n\r\nhello") != NULL);
	CHECK_INT_EQ(exchange(&x, fd, 2, "POST", "/echo", "longer than sixteen bytes", &out), 1);
	CHECK(strstr(buf_cstr(&out), "Status: 413") != NULL);
	buf_free(&out);
	close(fd);
	settle(&x);
	stop(&x);
}

TEST(only_the_routes_with_a_loop_handler_are_served)
{
	struct fixture x = start();
	int fd = connect_to(&x);
	struct buf out = {0};
	CHECK_INT_EQ(exchange(&x, fd, 1, "GET", "/worker", "", &out), 1);
	CHECK(strstr(buf_cstr(&out), "Status: 404") != NULL);
	buf_reset(&out);
	/* POST /now is the workers': the loop allows GET only. */
	CHECK_INT_EQ(exchange(&x, fd, 2, "POST", "/now", "", &out), 1);
	CHECK(strstr(buf_cstr(&out), "Status: 405") != NULL);
	CHECK(strstr(buf_cstr(&out), "Allow: GET\r\n") != NULL);
	CHECK_INT_EQ(exchange(&x, fd, 3, "GET", "/silent", "", &out), 1);
	CHECK(strstr(buf_cstr(&out), "Status: 500") != NULL);
	buf_free(&out);
	close(fd);
	settle(&x);
	stop(&x);
}

TEST(what_is_not_fastcgi_closes_the_connection)
{
	struct fixture x = start();
	int fd = connect_to(&x);
	CHECK(write(fd, "GET / HTTP/1.1\r\n\r\n", 18) == 18);
	settle(&x);
	CHECK(closed_by_peer(fd));
	close(fd);
	stop(&x);
}

static struct front_watch watched;
static int watched_calls;

static void count_watch(struct front_watch *w)
{
	CHECK(w == &watched);
	watched_calls++;
}

TEST(a_watched_descriptor_calls_back_when_readable)
{
	struct fixture x = start();
	int p[2];
	REQUIRE(pipe(p) == 0);
	watched.ready = count_watch;
	watched_calls = 0;
	REQUIRE(front_watch(x.f, p[0], &watched, FRONT_READABLE) == MSGR_OK);
	CHECK_INT_EQ(front_turn(x.f, 0), 0);
	CHECK(write(p[1], "x", 1) == 1);
	CHECK_INT_EQ(front_turn(x.f, 50), 1);
	CHECK_INT_EQ(watched_calls, 1);
	front_unwatch(x.f, p[0]);
	CHECK_INT_EQ(front_turn(x.f, 0), 0);
	close(p[0]);
	close(p[1]);
	stop(&x);
}

TEST(a_watch_asks_for_writable_readable_or_both_and_may_change_its_mind)
{
	struct fixture x = start();
	int p[2];
	REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, p) == 0);
	watched.ready = count_watch;
	watched_calls = 0;
	/* Writable is level-triggered: reported at every round while it is. */
	REQUIRE(front_watch(x.f, p[0], &watched, FRONT_WRITABLE) == MSGR_OK);
	CHECK_INT_EQ(front_turn(x.f, 0), 1);
	CHECK_INT_EQ(front_turn(x.f, 0), 1);
	CHECK_INT_EQ(watched_calls, 2);
	/* Full, it is not, until the other end reads. */
	char chunk[4096] = {0};
	while (write(p[0], chunk, sizeof chunk) > 0)
		;
	CHECK_INT_EQ(front_turn(x.f, 0), 0);
	/* Asked again, what it waits for changes: readable only. */
	REQUIRE(front_watch(x.f, p[0], &watched, FRONT_READABLE) == MSGR_OK);
	while (read(p[1], chunk, sizeof chunk) > 0)
		;
	CHECK_INT_EQ(front_turn(x.f, 0), 0);
	CHECK(write(p[1], "x", 1) == 1);
	CHECK_INT_EQ(front_turn(x.f, 0), 1);
	CHECK_INT_EQ(watched_calls, 3);
	/* Both: readable (the byte left unread) and writable, one call. */
	REQUIRE(front_watch(x.f, p[0], &watched, FRONT_READABLE | FRONT_WRITABLE) == MSGR_OK);
	CHECK_INT_EQ(front_turn(x.f, 0), 1);
	CHECK_INT_EQ(watched_calls, 4);
	/* A descriptor closed, and so forgotten by the loop, is added again
	 * under the same number. */
	int number = p[0];
	close(p[0]);
	REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, p) == 0);
	REQUIRE(p[0] == number);
	REQUIRE(front_watch(x.f, p[0], &watched, FRONT_WRITABLE) == MSGR_OK);
	CHECK_INT_EQ(front_turn(x.f, 0), 1);
	CHECK_INT_EQ(watched_calls, 5);
	front_unwatch(x.f, p[0]);
	CHECK_INT_EQ(front_turn(x.f, 0), 0);
	close(p[0]);
	close(p[1]);
	stop(&x);
}
