/*
 * batch.c - plain text sends written in batches (schema/011_send_batch.sql).
 *
 * One transaction per message spends most of the database's time on what
 * each statement and each commit costs, not on the message. So a worker
 * hands a send without files to the program's companion process
 * (shared/server.h), which writes every send waiting at that moment with one
 * call of message_send_batch() (which also sends the one NOTIFY for all)
 * and answers each after the commit. Batches size themselves: sends pile
 * up while the previous batch is written, and an idle server writes
 * batches of one.
 *
 * The batch writes only what it is sure of. Every other send (an error, a
 * repeated client_id) the worker then sends alone with message_send(),
 * which answers it exactly; and a worker that cannot reach the companion
 * sends alone too. A worker that sent a request and got no answer cannot
 * know whether it was written: with a client_id it sends alone (message_send
 * answers the message if it was), without one it answers 503.
 *
 * Workers and companion speak in packets on the companion's SOCK_SEQPACKET
 * socket, on one machine, in host byte order: a request is a
 * batch_request_head, the text and the client_id; a reply a
 * batch_reply_head and the body. A worker has one request open at a time.
 */
#define _GNU_SOURCE /* accept4 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "buf.h"
#include "db.h"
#include "log.h"
#include "messages.h"
#include "reply.h"
#include "server.h"

#define BATCH_MAX 64
#define BATCH_CLIENT_ID_BYTES (4 * MESSAGE_CLIENT_ID_MAX)
#define BATCH_TEXT_BYTES (4 * MESSAGE_TEXT_MAX)
/* How long a worker waits for the companion's answer. The batch waits for
 * chat locks like any send, so this is long. */
#define BATCH_REPLY_TIMEOUT_SECS 30
#define BATCH_NO_CLIENT_ID UINT32_MAX

struct batch_request_head {
	int64_t user_id;
	int64_t chat_id;
	uint32_t text_len;
	uint32_t client_id_len; /* BATCH_NO_CLIENT_ID: none */
};

#define BATCH_REQUEST_MAX \
	(sizeof(struct batch_request_head) + BATCH_TEXT_BYTES + BATCH_CLIENT_ID_BYTES)

struct batch_reply_head {
	int32_t status; /* 201, or 0: send it alone */
	uint32_t body_len;
	int64_t event_id;
};

/* ---- requests ------------------------------------------------------------- */

/* Writes the request for item into out (BATCH_REQUEST_MAX bytes); returns
 * its length, or 0 when the item cannot travel (too long). */
static size_t batch_request_encode(const struct batch_item *item, unsigned char *out)
{
	if (item->text_len > BATCH_TEXT_BYTES ||
	    (item->client_id && item->client_id_len > BATCH_CLIENT_ID_BYTES))
		return 0;
	struct batch_request_head head = {
		.user_id = item->user_id,
		.chat_id = item->chat_id,
		.text_len = (uint32_t)item->text_len,
		.client_id_len = item->client_id ? (uint32_t)item->client_id_len : BATCH_NO_CLIENT_ID,
	};
	size_t n = sizeof head;
	memcpy(out, &head, sizeof head);
	memcpy(out + n, item->text, item->text_len);
	n += item->text_len;
	if (item->client_id) {
		memcpy(out + n, item->client_id, item->client_id_len);
		n += item->client_id_len;
	}
	return n;
}

/* Reads a request of len bytes at p into item, whose strings point into p.
 * False when it is not one: short, long, lengths that do not add up, or a
 * NUL in a string (it would cut the SQL parameter short). */
static bool batch_request_decode(const unsigned char *p, size_t len, struct batch_item *item)
{
	struct batch_request_head head;
	if (len < sizeof head)
		return false;
	memcpy(&head, p, sizeof head);
	size_t cid_len = head.client_id_len == BATCH_NO_CLIENT_ID ? 0 : head.client_id_len;
	if (head.text_len > BATCH_TEXT_BYTES || cid_len > BATCH_CLIENT_ID_BYTES ||
	    len != sizeof head + head.text_len + cid_len)
		return false;
	const char *text = (const char *)p + sizeof head;
	const char *cid = text + head.text_len;
	if (memchr(text, '\0', head.text_len + cid_len))
		return false;
	*item = (struct batch_item){
		.user_id = head.user_id,
		.chat_id = head.chat_id,
		.text = text,
		.text_len = head.text_len,
		.client_id = head.client_id_len == BATCH_NO_CLIENT_ID ? NULL : cid,
		.client_id_len = cid_len,
	};
	return true;
}

/* ---- the worker's side ----------------------------------------------------- */

static int companion_fd = -1;

static void companion_close(void)
{
	if (companion_fd >= 0)
		close(companion_fd);
	companion_fd = -1;
}

static bool companion_connect(void)
{
	const char *path = srv_companion_path();
	if (!path)
		return false;
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	memcpy(addr.sun_path, path, strlen(path) + 1);
	companion_fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (companion_fd < 0)
		return false;
	struct timeval wait = {.tv_sec = BATCH_REPLY_TIMEOUT_SECS};
	if (setsockopt(companion_fd, SOL_SOCKET, SO_RCVTIMEO, &wait, sizeof wait) != 0 ||
	    connect(companion_fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
		log_error("could not reach the send batcher at \"%s\": %s", path, strerror(errno));
		companion_close();
		return false;
	}
	return true;
}

/* Sends the request; true once it is on its way. A connection the
 * companion closed (it restarted) is replaced once. */
static bool request_send(const unsigned char *packet, size_t len)
{
	for (int attempt = 0; attempt < 2; attempt++) {
		if (companion_fd < 0 && !companion_connect())
			return false;
		if (send(companion_fd, packet, len, MSG_NOSIGNAL) == (ssize_t)len)
			return true;
		companion_close();
	}
	return false;
}

/* Waits for the reply and answers it. */
static enum batch_outcome reply_receive(struct http_req *req)
{
	/* A body is a new message: its text at most doubled by JSON escapes. */
	static unsigned char packet[sizeof(struct batch_reply_head) + 2 * BATCH_TEXT_BYTES +
				    8 * BATCH_CLIENT_ID_BYTES + 4096];
	ssize_t size;
	do
		size = recv(companion_fd, packet, sizeof packet, MSG_TRUNC);
	while (size < 0 && errno == EINTR);
	struct batch_reply_head head;
	if (size < (ssize_t)sizeof head || (size_t)size > sizeof packet) {
		log_error("the send batcher gave no answer (%s)",
			  size < 0 ? strerror(errno) : size == 0 ? "closed" : "malformed");
		/* A late answer must not be read as the next request's. */
		companion_close();
		return BATCH_UNKNOWN;
	}
	memcpy(&head, packet, sizeof head);
	if (head.status != 201)
		return BATCH_ALONE;
	if (head.body_len != (size_t)size - sizeof head) {
		log_error("the send batcher answered a malformed packet");
		companion_close();
		return BATCH_UNKNOWN;
	}
	http_send_json(req, 201, (const char *)packet + sizeof head, head.body_len);
	return BATCH_ANSWERED;
}

enum batch_outcome batch_send(struct http_req *req, const struct batch_item *item)
{
	unsigned char *packet = arena_alloc(req->arena, BATCH_REQUEST_MAX);
	size_t len = packet ? batch_request_encode(item, packet) : 0;
	if (!len || !request_send(packet, len))
		return BATCH_ALONE;
	return reply_receive(req);
}

/* ---- the companion --------------------------------------------------------- */

/* A worker's connection. */
struct batch_client {
	int fd;
	struct batch_item item;
	unsigned char packet[BATCH_REQUEST_MAX];
};

struct batch {
	struct batch_client *clients[BATCH_MAX];
	size_t n;
};

static void client_drop(int epoll_fd, struct batch_client *c)
{
	epoll_ctl(epoll_fd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	free(c);
}

/* Reads c's request into the batch (which is written before the next
 * read, so c is in it at most once). A client that closed, or broke the
 * protocol, is dropped: its worker knows that it got no answer. */
static void client_read(int epoll_fd, struct batch_client *c, struct batch *b)
{
	ssize_t n = recv(c->fd, c->packet, sizeof c->packet, MSG_DONTWAIT | MSG_TRUNC);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0 || (size_t)n > sizeof c->packet ||
	    !batch_request_decode(c->packet, (size_t)n, &c->item)) {
		if (n > 0)
			log_error("a worker sent a malformed send request");
		client_drop(epoll_fd, c);
		return;
	}
	b->clients[b->n++] = c;
}

/* Takes the workers' new connections, and the request each may have sent
 * already: it belongs in this batch, not the next. */
static void clients_accept(int epoll_fd, int listen_fd, struct batch *b)
{
	int fd;
	while ((fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		struct batch_client *c = calloc(1, sizeof *c);
		struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
		if (!c || epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &ev) != 0) {
			log_error("could not take a worker's connection: %s", strerror(errno));
			free(c);
			close(fd);
			continue;
		}
		c->fd = fd;
		if (b->n < BATCH_MAX)
			client_read(epoll_fd, c, b);
	}
}

static void client_reply(struct batch_client *c, int status, int64_t event_id, const char *body,
			 size_t body_len)
{
	struct batch_reply_head head = {
		.status = status, .body_len = (uint32_t)body_len, .event_id = event_id};
	struct iovec iov[2] = {{&head, sizeof head}, {(void *)body, body_len}};
	struct msghdr msg = {.msg_iov = iov, .msg_iovlen = body_len ? 2 : 1};
	if (sendmsg(c->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
		log_error("could not answer a worker: %s", strerror(errno));
}

/* The statement's array parameters for the batch's items, in 4 buffers:
 * users, chats, texts, client_ids. */
static void batch_params(const struct batch *b, struct buf p[4])
{
	for (int k = 0; k < 4; k++)
		buf_putc(&p[k], '{');
	for (size_t i = 0; i < b->n; i++) {
		const struct batch_item *it = &b->clients[i]->item;
		if (i)
			for (int k = 0; k < 4; k++)
				buf_putc(&p[k], ',');
		buf_printf(&p[0], "%lld", (long long)it->user_id);
		buf_printf(&p[1], "%lld", (long long)it->chat_id);
		buf_pg_array_str(&p[2], it->text, it->text_len);
		if (it->client_id)
			buf_pg_array_str(&p[3], it->client_id, it->client_id_len);
		else
			buf_puts(&p[3], "NULL");
	}
	for (int k = 0; k < 4; k++)
		buf_putc(&p[k], '}');
}

/* Writes the batch and answers each of its clients. */
static void batch_write(struct batch *b)
{
	DB_STMT(send_batch, 6,
		"SELECT ord, body, event_id FROM message_send_batch($1::bigint[], $2::bigint[], "
		"$3::text[], $4::text[], $5::float8, $6::float8)");
	struct buf p[4] = {{0}};
	batch_params(b, p);
	char rate[REPLY_ID_LEN], burst[REPLY_ID_LEN];
	send_limit_params(rate, burst);
	const char *params[] = {buf_cstr(&p[0]), buf_cstr(&p[1]), buf_cstr(&p[2]),
				buf_cstr(&p[3]), rate, burst};
	bool built = true;
	for (int k = 0; k < 4; k++)
		built = built && buf_status(&p[k]) == MSGR_OK;
	PGresult *res = built ? db_exec(&send_batch, params) : NULL;
	for (int k = 0; k < 4; k++)
		buf_free(&p[k]);
	if (!db_ok(res)) {
		/* Nothing was written: each is sent alone and answered exactly. */
		log_error("a batch of %zu sends failed: %s", b->n,
			  res ? PQresultErrorMessage(res) : "no database connection");
		PQclear(res);
		for (size_t i = 0; i < b->n; i++)
			client_reply(b->clients[i], 0, 0, NULL, 0);
		b->n = 0;
		return;
	}
	/* The rows come in item order, only for the items written. */
	int rows = PQntuples(res), row = 0;
	for (size_t i = 0; i < b->n; i++) {
		if (row < rows && atoll(PQgetvalue(res, row, 0)) == (long long)i + 1) {
			client_reply(b->clients[i], 201, atoll(PQgetvalue(res, row, 2)),
				     PQgetvalue(res, row, 1), (size_t)PQgetlength(res, row, 1));
			row++;
		} else {
			client_reply(b->clients[i], 0, 0, NULL, 0);
		}
	}
	PQclear(res);
	b->n = 0;
}

void send_batcher(int listen_fd)
{
	int epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
	if (epoll_fd < 0 || epoll_ctl(epoll_fd, EPOLL_CTL_ADD, listen_fd, &ev) != 0) {
		log_error("the send batcher could not start: %s", strerror(errno));
		return;
	}
	/* Non-blocking, so that one accept loop takes every waiting worker. */
	int flags = fcntl(listen_fd, F_GETFL);
	fcntl(listen_fd, F_SETFL, flags | O_NONBLOCK);
	log_info("writing sends in batches of up to %d", BATCH_MAX);
	struct batch b = {.n = 0};
	struct epoll_event events[BATCH_MAX];
	while (!srv_stopping()) {
		int n = srv_companion_wait(epoll_fd, events, BATCH_MAX);
		if (n < 0 && errno != EINTR) {
			log_error("the send batcher's wait failed: %s", strerror(errno));
			break;
		}
		for (int i = 0; i < n; i++) {
			struct batch_client *c = events[i].data.ptr;
			if (!c)
				clients_accept(epoll_fd, listen_fd, &b);
			else if (b.n < BATCH_MAX)
				client_read(epoll_fd, c, &b);
		}
		if (b.n)
			batch_write(&b);
	}
	close(epoll_fd);
}
