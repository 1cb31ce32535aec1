/*
 * wsload - load generator for the realtime daemon (API.md "Realtime").
 *
 *   wsload idle|fanout|storm|day --tokens FILE [--plan FILE] [options]
 *
 * One thread, one epoll loop, non-blocking sockets. The client side of
 * RFC 6455 is written out here: the opening handshake (section 4.1, with
 * the Sec-WebSocket-Accept check of section 4.2.2), framing (section 5.2),
 * masking of every client frame (section 5.3), fragmentation (5.4) and the
 * control frames ping, pong and close (5.5). A small HTTP/1.1 client with
 * keep-alive connections (Content-Length and chunked bodies) posts the
 * messages that make the events.
 *
 * Modes:
 *   idle    connects every user of the token file, authenticates, prints a
 *           "ready" line on stdout and holds the connections (answering
 *           pings) until stdin reaches end of file or has a line, or --hold
 *           seconds pass; then prints the summary.
 *   fanout  connects every user, prints the "ready" line, then runs the
 *           plan's "send" lines for --duration seconds and waits --drain
 *           seconds for the last events. Each message text carries its send
 *           time (CLOCK_REALTIME, nanoseconds), so every delivery gives a
 *           send-to-receive latency.
 *   storm   connects every user; sends the plan's "live" messages and waits
 *           until everybody has them; starts the "offline" messages and
 *           drops every connection at the same moment; once the messages are
 *           stored, reconnects everybody at once with since = the last event
 *           id each had, and measures until each has every message meant for
 *           it. With --ids-out, writes each user's received event ids, so
 *           that the caller can compare them with the events table: a line
 *           "USER_ID FIRST_READY_LAST_EVENT_ID SESSIONS N ID..." per user.
 *   day     a day in the life (docs/BENCHMARKS.md): connects every user,
 *           prints the "ready" line and waits for a "go" line on stdin
 *           (every load generator is connected); then each user, as
 *           independent Poisson processes (--send-every, --open-every,
 *           --list-every, --reconnect-every seconds on average): sends two
 *           typing frames 1.5 s apart and then a message to one of its
 *           chats (picked by the plan's weights), opens one of its chats
 *           (newest 50, then the read marker on the newest), fetches the
 *           chat list, drops its connection for a second and comes back
 *           with since; and acks every message it receives, as the app
 *           does. After --duration seconds: finishes the requests, waits
 *           for the reconnecting users, prints {"phase":"sent"}, waits for
 *           "top N" on stdin (the newest event id then), drains --drain
 *           seconds and writes --ids-out (as storm) and --samples-out (each
 *           latency sample, a line per series, so that the caller merges
 *           several processes' samples).
 *
 * Files:
 *   --tokens  "USER_ID ACCESS_TOKEN" per line: the users to connect (and the
 *             senders' credentials).
 *   --plan    "send CHAT SENDER INTERVAL_MS OFFSET_MS MEMBER..." (fanout),
 *             "live CHAT SENDER MEMBER..." and "offline CHAT SENDER MEMBER..."
 *             (storm). MEMBER lists the users that must receive the message.
 *             day: "chat CHAT WEIGHT direct|small|large MEMBER..." (a member
 *             sends to a chat with its weight; deliveries are timed by the
 *             chat's kind too; members of other processes are skipped).
 *
 * --connect-timeout S ends each connecting phase after S seconds: whoever is
 * not ready then is closed and counted ("not_in_time"), and the run goes on
 * with the others.
 *
 * Output: progress on stderr; on stdout the "ready" line (idle, fanout) and
 * one JSON summary line at the end. Exit status 0, or 1 when a connection or
 * a send failed (the summary says which), 2 for usage errors, 3 when
 * --timeout ended the run.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define MAX_MESSAGE (16u << 20)
#define MARK "wsload t="

/* ---- small helpers ------------------------------------------------------- */

static void die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("wsload: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(2);
}

static void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void note(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("wsload: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		die("out of memory");
	return p;
}

static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (!p)
		die("out of memory");
	return p;
}

static char *xstrndup(const char *s, size_t n)
{
	char *p = xrealloc(NULL, n + 1);
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Intervals and deadlines use the monotonic clock; the latency stamps in
 * message texts use the real-time clock, the same in sender and receiver. */
static uint64_t mono_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

static uint64_t real_ns(void)
{
	return clock_ns(CLOCK_REALTIME);
}

/* A growable byte buffer; consumed bytes are moved out at the front. */
struct sbuf {
	char *p;
	size_t len, cap;
};

static void sb_need(struct sbuf *b, size_t extra)
{
	if (b->len + extra <= b->cap)
		return;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < b->len + extra)
		cap *= 2;
	b->p = xrealloc(b->p, cap);
	b->cap = cap;
}

static void sb_add(struct sbuf *b, const void *d, size_t n)
{
	sb_need(b, n);
	memcpy(b->p + b->len, d, n);
	b->len += n;
}

static void sb_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		die("vsnprintf failed");
	sb_need(b, (size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

static void sb_consume(struct sbuf *b, size_t n)
{
	if (n >= b->len) {
		b->len = 0;
		return;
	}
	memmove(b->p, b->p + n, b->len - n);
	b->len -= n;
}

static void sb_free(struct sbuf *b)
{
	free(b->p);
	*b = (struct sbuf){0};
}

struct i64vec {
	int64_t *v;
	size_t n, cap;
};

static void i64_push(struct i64vec *a, int64_t x)
{
	if (a->n == a->cap) {
		a->cap = a->cap ? a->cap * 2 : 16;
		a->v = xrealloc(a->v, a->cap * sizeof *a->v);
	}
	a->v[a->n++] = x;
}

/* Latency samples in microseconds. */
struct u32vec {
	uint32_t *v;
	size_t n, cap;
};

static void u32_push(struct u32vec *a, uint32_t x)
{
	if (a->n == a->cap) {
		a->cap = a->cap ? a->cap * 2 : 1024;
		a->v = xrealloc(a->v, a->cap * sizeof *a->v);
	}
	a->v[a->n++] = x;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of sorted samples, in milliseconds. */
static double pct_ms(const struct u32vec *a, double p)
{
	if (!a->n)
		return 0;
	size_t rank = (size_t)(p / 100.0 * (double)a->n + 0.999999);
	if (rank < 1)
		rank = 1;
	if (rank > a->n)
		rank = a->n;
	return a->v[rank - 1] / 1000.0;
}

static uint64_t rng_state;

/* xorshift64*: masking keys for a load generator need no cryptographic
 * strength (RFC 6455 section 10.3 is about hostile scripts in browsers). */
static uint32_t rng32(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint32_t)((rng_state * 2685821657736338717ull) >> 32);
}

static void b64(const unsigned char *in, size_t n, char *out)
{
	EVP_EncodeBlock((unsigned char *)out, in, (int)n);
}

/* ---- a scanner for the top level of one JSON object ------------------------ */

struct jtop {
	const char *type;
	size_t type_len;
	bool has_id, has_last, has_chat;
	int64_t id, last_event_id, chat_id;
	const char *data; /* the value of "data", when an object */
	size_t data_len;
};

static const char *skip_ws(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	return p;
}

/* p at the opening quote; returns the position after the closing one. */
static const char *skip_string(const char *p, const char *end)
{
	for (p++; p < end; p++) {
		if (*p == '\\')
			p++;
		else if (*p == '"')
			return p + 1;
	}
	return NULL;
}

static const char *skip_value(const char *p, const char *end)
{
	if (p >= end)
		return NULL;
	if (*p == '"')
		return skip_string(p, end);
	if (*p == '{' || *p == '[') {
		int depth = 0;
		while (p < end) {
			if (*p == '"') {
				p = skip_string(p, end);
				if (!p)
					return NULL;
				continue;
			}
			if (*p == '{' || *p == '[')
				depth++;
			else if ((*p == '}' || *p == ']') && --depth == 0)
				return p + 1;
			p++;
		}
		return NULL;
	}
	while (p < end && *p != ',' && *p != '}' && *p != ']' && *p != ' ' && *p != '\n')
		p++;
	return p;
}

static bool json_top(const char *p, size_t n, struct jtop *out)
{
	const char *end = p + n;
	*out = (struct jtop){0};
	p = skip_ws(p, end);
	if (p >= end || *p != '{')
		return false;
	p++;
	for (;;) {
		p = skip_ws(p, end);
		if (p < end && *p == '}')
			return true;
		if (p >= end || *p != '"')
			return false;
		const char *key = p + 1;
		p = skip_string(p, end);
		if (!p)
			return false;
		size_t klen = (size_t)(p - 1 - key);
		p = skip_ws(p, end);
		if (p >= end || *p != ':')
			return false;
		p = skip_ws(p + 1, end);
		const char *v = p;
		p = skip_value(p, end);
		if (!p)
			return false;
		if (klen == 4 && !memcmp(key, "type", 4) && *v == '"') {
			out->type = v + 1;
			out->type_len = (size_t)(p - v - 2);
		} else if (klen == 2 && !memcmp(key, "id", 2) && (*v == '-' || isdigit((unsigned char)*v))) {
			out->has_id = true;
			out->id = strtoll(v, NULL, 10);
		} else if (klen == 13 && !memcmp(key, "last_event_id", 13) &&
			   (*v == '-' || isdigit((unsigned char)*v))) {
			out->has_last = true;
			out->last_event_id = strtoll(v, NULL, 10);
		} else if (klen == 7 && !memcmp(key, "chat_id", 7) && isdigit((unsigned char)*v)) {
			out->has_chat = true;
			out->chat_id = strtoll(v, NULL, 10);
		} else if (klen == 4 && !memcmp(key, "data", 4) && *v == '{') {
			out->data = v;
			out->data_len = (size_t)(p - v);
		}
		p = skip_ws(p, end);
		if (p < end && *p == ',') {
			p++;
			continue;
		}
		return p < end && *p == '}';
	}
}

static bool type_is(const struct jtop *j, const char *t)
{
	size_t n = strlen(t);
	return j->type && j->type_len == n && !memcmp(j->type, t, n);
}

/* ---- configuration ------------------------------------------------------- */

enum mode { MODE_IDLE, MODE_FANOUT, MODE_STORM, MODE_DAY };

struct endpoint {
	bool is_unix;
	struct sockaddr_storage addr;
	socklen_t addrlen;
};

static struct {
	enum mode mode;
	struct endpoint ws, api;
	bool have_api;
	const char *host, *origin, *path;
	const char *tokens, *plan, *ids_out, *samples_out;
	int concurrency, reconnect_concurrency, http_conns;
	double duration, drain, hold, timeout, connect_timeout;
	int slice_index, slice_count;
	/* day: the mean seconds between one user's actions of each kind */
	double send_every, open_every, list_every, reconnect_every, typing_lead;
} cfg = {
	.send_every = 60,
	.open_every = 30,
	.list_every = 300,
	.reconnect_every = 6000,
	.typing_lead = 1.5,
	.path = "/ws",
	.concurrency = 256,
	.http_conns = 32,
	.duration = 30,
	.drain = 3,
	.timeout = 600,
	.slice_count = 1,
};

static void parse_endpoint(const char *spec, struct endpoint *ep)
{
	memset(ep, 0, sizeof *ep);
	if (!strncmp(spec, "unix:", 5)) {
		struct sockaddr_un *un = (struct sockaddr_un *)&ep->addr;
		size_t n = strlen(spec + 5);
		if (n >= sizeof un->sun_path)
			die("socket path too long: %s", spec + 5);
		un->sun_family = AF_UNIX;
		memcpy(un->sun_path, spec + 5, n + 1);
		ep->is_unix = true;
		ep->addrlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
		return;
	}
	if (!strncmp(spec, "tcp:", 4))
		spec += 4;
	const char *colon = strrchr(spec, ':');
	if (!colon)
		die("expected HOST:PORT or unix:PATH, got \"%s\"", spec);
	char host[64];
	size_t hl = (size_t)(colon - spec);
	if (hl >= sizeof host)
		die("host too long in \"%s\"", spec);
	memcpy(host, spec, hl);
	host[hl] = '\0';
	struct sockaddr_in *in = (struct sockaddr_in *)&ep->addr;
	in->sin_family = AF_INET;
	in->sin_port = htons((uint16_t)atoi(colon + 1));
	if (inet_pton(AF_INET, host, &in->sin_addr) != 1)
		die("not an IPv4 address: %s", host);
	/* Only this machine is a target. */
	if ((ntohl(in->sin_addr.s_addr) >> 24) != 127)
		die("refusing %s: wsload only talks to the loopback range 127.0.0.0/8", host);
	ep->addrlen = sizeof *in;
}

/* ---- users and their WebSocket connections --------------------------------- */

enum ws_state {
	WS_OFF,        /* not connected (yet, or dropped on purpose) */
	WS_WAIT,       /* waiting for a connection slot or a retry */
	WS_CONNECTING, /* non-blocking connect in progress */
	WS_HANDSHAKE,  /* upgrade request sent, waiting for 101 */
	WS_AUTH,       /* auth frame sent, waiting for "ready" */
	WS_READY,
	WS_FAILED,
};

struct user {
	int64_t id;
	char *token;
	int fd;
	enum ws_state state;
	struct sbuf in, out;
	struct sbuf msg; /* a fragmented message being assembled */
	int msg_op;
	char accept[32]; /* the Sec-WebSocket-Accept we expect */
	int64_t start_id; /* last_event_id of the first "ready"; -1 before */
	int64_t last_id;  /* the highest event id received; -1 before */
	int sessions;
	int retries;
	uint64_t retry_at;
	struct i64vec ids;
	uint32_t expect_live;   /* storm: "live" messages meant for this user */
	uint32_t expect_marked; /* storm: "live" and "offline" ones */
	uint32_t got_marked;
	uint64_t t_started, t_ready, t_caught;
	int close_code;
	/* day: the user's chats (indexes into dchats) and send weights */
	uint32_t *chats;
	uint32_t nchats, capchats;
	double wsum;
	int64_t replay_upto; /* events up to this id came as a replay */
	bool reconnecting;
};

static struct user *users;
static size_t nusers;

/* Counters for the summary. */
static struct {
	size_t ready, failed, dropped, resets, dup_or_old, unexpected_frames, retries;
	size_t fail_connect, fail_handshake, fail_auth, fail_closed;
	size_t deliveries, deliveries_in_window, other_events;
	size_t inflight;
	struct u32vec latency;      /* send to receive, per delivery */
	struct u32vec ready_time;   /* connect start to "ready" */
	struct u32vec caught_time;  /* storm: reconnect start to caught up */
	uint64_t last_delivery; /* monotonic */
	uint64_t last_frame;    /* monotonic: the last text frame of any user */
	int first_close_code;
	char first_failure[256];
} st;

static int epfd;
static bool stopping;

static void on_signal(int sig)
{
	(void)sig;
	stopping = true;
}

enum { OBJ_USER = 1, OBJ_HTTP = 2, OBJ_STDIN = 3 };

static uint64_t ev_key(int kind, size_t index, int fd)
{
	return (uint64_t)kind << 56 | (uint64_t)index << 24 | (uint64_t)(unsigned)fd;
}

static void ep_add(int fd, uint32_t events, uint64_t key)
{
	struct epoll_event ev = {.events = events, .data.u64 = key};
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		die("epoll_ctl add: %s", strerror(errno));
}

static void ep_mod(int fd, uint32_t events, uint64_t key)
{
	struct epoll_event ev = {.events = events, .data.u64 = key};
	if (epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &ev) < 0)
		die("epoll_ctl mod: %s", strerror(errno));
}

static void remember_failure(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void remember_failure(const char *fmt, ...)
{
	if (st.first_failure[0])
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(st.first_failure, sizeof st.first_failure, fmt, ap);
	va_end(ap);
}

static bool is_connecting(enum ws_state s)
{
	return s == WS_CONNECTING || s == WS_HANDSHAKE || s == WS_AUTH;
}

/* Closes the socket; the state says what happens next. */
static void ws_close(struct user *u, enum ws_state next)
{
	if (u->fd >= 0) {
		close(u->fd); /* also removes it from the epoll set */
		u->fd = -1;
	}
	if (is_connecting(u->state) && st.inflight)
		st.inflight--;
	if (u->state == WS_READY && st.ready)
		st.ready--;
	u->in.len = u->out.len = u->msg.len = 0;
	u->state = next;
}

static void day_dropped(struct user *u);

static void ws_fail(struct user *u, size_t *counter, const char *why)
{
	if (u->state == WS_READY)
		st.dropped++;
	else
		(*counter)++;
	remember_failure("user %" PRId64 ": %s", u->id, why);
	if (cfg.mode == MODE_DAY && u->state == WS_READY) {
		/* The app comes back with since, and so does a day's user. */
		day_dropped(u);
		return;
	}
	ws_close(u, WS_FAILED);
	st.failed++;
}

static void ws_flush(struct user *u)
{
	size_t idx = (size_t)(u - users);
	while (u->out.len) {
		ssize_t n = send(u->fd, u->out.p, u->out.len, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				ep_mod(u->fd, EPOLLIN | EPOLLOUT, ev_key(OBJ_USER, idx, u->fd));
				return;
			}
			ws_fail(u, &st.fail_closed, strerror(errno));
			return;
		}
		sb_consume(&u->out, (size_t)n);
	}
	if (u->state != WS_CONNECTING)
		ep_mod(u->fd, EPOLLIN, ev_key(OBJ_USER, idx, u->fd));
}

/* Queues one masked client frame (RFC 6455 section 5.2, 5.3). */
static void ws_frame(struct user *u, int opcode, const void *data, size_t len)
{
	unsigned char h[14];
	size_t hl = 0;
	h[hl++] = (unsigned char)(0x80 | opcode);
	if (len < 126) {
		h[hl++] = (unsigned char)(0x80 | len);
	} else if (len < 65536) {
		h[hl++] = 0x80 | 126;
		h[hl++] = (unsigned char)(len >> 8);
		h[hl++] = (unsigned char)len;
	} else {
		h[hl++] = 0x80 | 127;
		for (int i = 7; i >= 0; i--)
			h[hl++] = (unsigned char)((uint64_t)len >> (8 * i));
	}
	uint32_t m = rng32();
	unsigned char mask[4] = {(unsigned char)(m >> 24), (unsigned char)(m >> 16),
				 (unsigned char)(m >> 8), (unsigned char)m};
	memcpy(h + hl, mask, 4);
	hl += 4;
	sb_add(&u->out, h, hl);
	sb_need(&u->out, len);
	unsigned char *dst = (unsigned char *)u->out.p + u->out.len;
	const unsigned char *src = data;
	for (size_t i = 0; i < len; i++)
		dst[i] = src[i] ^ mask[i & 3];
	u->out.len += len;
}

/* One source address (and port range) holds about 28,000 connections to
 * one destination (net.ipv4.ip_local_port_range): more sockets than that
 * come from several loopback addresses, 127.1.SLICE.1 to .200, the port
 * picked at connect (IP_BIND_ADDRESS_NO_PORT) so that each address's range
 * serves the destination. */
static int bind_source(int fd, size_t idx)
{
	if (nusers <= 20000 && cfg.slice_count == 1)
		return 0;
	int one = 1;
	setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
	struct sockaddr_in src = {.sin_family = AF_INET};
	src.sin_addr.s_addr = htonl(0x7f010000u | (uint32_t)(cfg.slice_index & 0xff) << 8 |
				    (uint32_t)(1 + idx % 200));
	return bind(fd, (struct sockaddr *)&src, sizeof src);
}

static void ws_start(struct user *u)
{
	size_t idx = (size_t)(u - users);
	int fam = cfg.ws.is_unix ? AF_UNIX : AF_INET;
	int fd = socket(fam, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		ws_fail(u, &st.fail_connect, strerror(errno));
		return;
	}
	if (!cfg.ws.is_unix) {
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		if (bind_source(fd, idx) < 0) {
			close(fd);
			ws_fail(u, &st.fail_connect, strerror(errno));
			return;
		}
	}
	u->fd = fd;
	u->state = WS_CONNECTING;
	u->t_started = mono_ns();
	st.inflight++;
	int rc = connect(fd, (struct sockaddr *)&cfg.ws.addr, cfg.ws.addrlen);
	if (rc < 0 && errno == EAGAIN && cfg.ws.is_unix) {
		/* A unix socket's backlog is full: try again shortly. */
		ws_close(u, WS_WAIT);
		u->retry_at = mono_ns() + 20 * 1000000ull;
		u->retries++;
		st.retries++;
		return;
	}
	if (rc < 0 && errno != EINPROGRESS) {
		ws_fail(u, &st.fail_connect, strerror(errno));
		return;
	}
	ep_add(fd, EPOLLOUT | EPOLLIN, ev_key(OBJ_USER, idx, fd));
	if (rc == 0)
		u->state = WS_CONNECTING; /* the EPOLLOUT sends the handshake */
}

static void ws_send_handshake(struct user *u)
{
	unsigned char raw[16];
	char key[32];
	for (int i = 0; i < 16; i += 4) {
		uint32_t r = rng32();
		memcpy(raw + i, &r, 4);
	}
	b64(raw, 16, key);
	char both[96];
	int n = snprintf(both, sizeof both, "%s%s", key, WS_GUID);
	unsigned char digest[SHA_DIGEST_LENGTH];
	SHA1((unsigned char *)both, (size_t)n, digest);
	b64(digest, sizeof digest, u->accept);
	sb_printf(&u->out,
		  "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
		  "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\nOrigin: %s\r\n"
		  "User-Agent: wsload\r\n\r\n",
		  cfg.path, cfg.host, key, cfg.origin);
	u->state = WS_HANDSHAKE;
	ws_flush(u);
}

static void ws_send_auth(struct user *u)
{
	struct sbuf b = {0};
	int64_t since = u->last_id >= 0 ? u->last_id : u->start_id;
	if (u->sessions > 0 && since >= 0)
		sb_printf(&b, "{\"type\":\"auth\",\"token\":\"%s\",\"since\":%" PRId64 "}", u->token,
			  since);
	else
		sb_printf(&b, "{\"type\":\"auth\",\"token\":\"%s\"}", u->token);
	ws_frame(u, 1, b.p, b.len);
	sb_free(&b);
	u->state = WS_AUTH;
	ws_flush(u);
}

/* Finds header name in the response head [p, end); returns its value. */
static const char *find_header(const char *p, const char *end, const char *name, size_t *vlen)
{
	size_t nl = strlen(name);
	while (p < end) {
		const char *eol = memmem(p, (size_t)(end - p), "\r\n", 2);
		if (!eol)
			eol = end;
		if ((size_t)(eol - p) > nl && p[nl] == ':' && !strncasecmp(p, name, nl)) {
			const char *v = p + nl + 1;
			while (v < eol && (*v == ' ' || *v == '\t'))
				v++;
			const char *ve = eol;
			while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
				ve--;
			*vlen = (size_t)(ve - v);
			return v;
		}
		p = eol + 2;
	}
	return NULL;
}

static bool storm_phase_catching;
static uint64_t storm_t0;

static void day_on_event(struct user *u, const struct jtop *j, const char *p, size_t n);
static void day_on_ready(struct user *u, const struct jtop *j);

static void on_message(struct user *u, const char *p, size_t n)
{
	st.last_frame = mono_ns();
	struct jtop j;
	if (!json_top(p, n, &j)) {
		st.unexpected_frames++;
		return;
	}
	if (u->state == WS_AUTH) {
		if (!type_is(&j, "ready")) {
			st.unexpected_frames++;
			return;
		}
		st.inflight--;
		u->state = WS_READY;
		u->t_ready = mono_ns();
		if (cfg.mode == MODE_DAY)
			day_on_ready(u, &j);
		if (u->sessions == 0 && j.has_last)
			u->start_id = j.last_event_id;
		u->sessions++;
		st.ready++;
		u32_push(&st.ready_time, (uint32_t)((u->t_ready - u->t_started) / 1000));
		/* A storm client that had everything before it dropped is caught
		 * up as soon as it is back. */
		if (storm_phase_catching && !u->t_caught && u->got_marked >= u->expect_marked) {
			u->t_caught = u->t_ready;
			u32_push(&st.caught_time, (uint32_t)((u->t_caught - storm_t0) / 1000));
		}
		return;
	}
	if (type_is(&j, "reset")) {
		st.resets++;
		return;
	}
	if (j.has_id) {
		if (j.id <= u->last_id)
			st.dup_or_old++;
		else
			u->last_id = j.id;
		if (cfg.mode == MODE_STORM || cfg.mode == MODE_DAY)
			i64_push(&u->ids, j.id);
	}
	if (cfg.mode == MODE_DAY) {
		day_on_event(u, &j, p, n);
		return;
	}
	if (!type_is(&j, "message.created")) {
		st.other_events++;
		return;
	}
	const char *m = memmem(p, n, MARK, sizeof MARK - 1);
	if (!m) {
		st.other_events++;
		return;
	}
	const char *num = m + sizeof MARK - 1;
	uint64_t sent = strtoull(num, NULL, 10);
	const char *k = memmem(num, n - (size_t)(num - p), " k=", 3);
	char kind = k && k + 3 < p + n ? k[3] : '?';
	if (kind == 'f') {
		uint64_t now = real_ns();
		uint64_t lat = now > sent ? (now - sent) / 1000 : 0;
		u32_push(&st.latency, lat > UINT32_MAX ? UINT32_MAX : (uint32_t)lat);
		st.deliveries++;
		st.last_delivery = mono_ns();
	} else if (kind == 'l' || kind == 'o') {
		u->got_marked++;
		if (storm_phase_catching && !u->t_caught && u->got_marked >= u->expect_marked) {
			u->t_caught = mono_ns();
			u32_push(&st.caught_time, (uint32_t)((u->t_caught - storm_t0) / 1000));
		}
	}
}

/* Parses the frames in u->in (RFC 6455 section 5.2). */
static void ws_parse(struct user *u)
{
	for (;;) {
		if (u->fd < 0)
			return;
		unsigned char *p = (unsigned char *)u->in.p;
		size_t have = u->in.len;
		if (have < 2)
			return;
		int fin = p[0] & 0x80, op = p[0] & 0x0f;
		if (p[0] & 0x70) {
			ws_fail(u, &st.fail_closed, "frame with RSV bits (no extension was negotiated)");
			return;
		}
		if (p[1] & 0x80) {
			ws_fail(u, &st.fail_closed, "masked frame from the server");
			return;
		}
		uint64_t len = p[1] & 0x7f;
		size_t hl = 2;
		if (len == 126) {
			if (have < 4)
				return;
			len = (uint64_t)p[2] << 8 | p[3];
			hl = 4;
		} else if (len == 127) {
			if (have < 10)
				return;
			len = 0;
			for (int i = 0; i < 8; i++)
				len = len << 8 | p[2 + i];
			hl = 10;
		}
		if (len > MAX_MESSAGE) {
			ws_fail(u, &st.fail_closed, "frame too large");
			return;
		}
		if (have < hl + len)
			return;
		const char *data = (const char *)p + hl;
		size_t dlen = (size_t)len;
		if (op & 8) {
			if (op == 9) { /* ping: answer with the same data */
				ws_frame(u, 10, data, dlen);
				ws_flush(u);
			} else if (op == 8) {
				int code = dlen >= 2 ? ((unsigned char)data[0] << 8 | (unsigned char)data[1]) : 1005;
				u->close_code = code;
				if (!st.first_close_code)
					st.first_close_code = code;
				char why[64];
				snprintf(why, sizeof why, "closed by the server with code %d", code);
				ws_fail(u, u->state == WS_AUTH ? &st.fail_auth : &st.fail_closed, why);
				return;
			}
		} else {
			if (op != 0) {
				if (u->msg.len) {
					ws_fail(u, &st.fail_closed, "new message inside a fragmented one");
					return;
				}
				u->msg_op = op;
			}
			if (fin && op != 0) {
				if (op == 1)
					on_message(u, data, dlen);
			} else {
				sb_add(&u->msg, data, dlen);
				if (u->msg.len > MAX_MESSAGE) {
					ws_fail(u, &st.fail_closed, "message too large");
					return;
				}
				if (fin) {
					if (u->msg_op == 1)
						on_message(u, u->msg.p, u->msg.len);
					u->msg.len = 0;
				}
			}
		}
		sb_consume(&u->in, hl + dlen);
	}
}

static void ws_read(struct user *u)
{
	for (;;) {
		sb_need(&u->in, 4096);
		ssize_t n = recv(u->fd, u->in.p + u->in.len, u->in.cap - u->in.len, 0);
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			ws_fail(u, u->state == WS_HANDSHAKE ? &st.fail_handshake : &st.fail_closed,
				strerror(errno));
			return;
		}
		if (n == 0) {
			ws_fail(u,
				u->state == WS_HANDSHAKE ? &st.fail_handshake
				: u->state == WS_AUTH	 ? &st.fail_auth
							 : &st.fail_closed,
				"connection closed by the server");
			return;
		}
		u->in.len += (size_t)n;
		if (u->in.len < u->in.cap)
			break; /* the socket had no more */
	}
	if (u->state == WS_HANDSHAKE) {
		const char *end = memmem(u->in.p, u->in.len, "\r\n\r\n", 4);
		if (!end) {
			if (u->in.len > 16384)
				ws_fail(u, &st.fail_handshake, "handshake response too long");
			return;
		}
		size_t head = (size_t)(end - u->in.p) + 4;
		if (u->in.len < 12 || memcmp(u->in.p, "HTTP/1.1 101", 12)) {
			char why[128];
			size_t l = strcspn(u->in.p, "\r\n");
			snprintf(why, sizeof why, "handshake answered \"%.*s\"", (int)(l < 80 ? l : 80),
				 u->in.p);
			ws_fail(u, &st.fail_handshake, why);
			return;
		}
		size_t vl = 0;
		const char *v = find_header(u->in.p, end, "Sec-WebSocket-Accept", &vl);
		if (!v || vl != strlen(u->accept) || memcmp(v, u->accept, vl)) {
			ws_fail(u, &st.fail_handshake, "wrong or missing Sec-WebSocket-Accept");
			return;
		}
		sb_consume(&u->in, head);
		ws_send_auth(u);
		if (u->fd < 0)
			return;
	}
	ws_parse(u);
}

static void ws_event(struct user *u, uint32_t events)
{
	if (u->state == WS_CONNECTING) {
		int err = 0;
		socklen_t el = sizeof err;
		getsockopt(u->fd, SOL_SOCKET, SO_ERROR, &err, &el);
		if (err) {
			ws_fail(u, &st.fail_connect, strerror(err));
			return;
		}
		if (!(events & EPOLLOUT) && !(events & (EPOLLERR | EPOLLHUP)))
			return;
		ws_send_handshake(u);
		return;
	}
	if (events & EPOLLOUT)
		ws_flush(u);
	if (u->fd >= 0 && (events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		ws_read(u);
}

/* ---- the HTTP client and the send plan ------------------------------------- */

struct plan {
	char kind; /* 's' send (fanout), 'l' live, 'o' offline (storm) */
	int64_t chat;
	size_t sender; /* index into users */
	uint64_t interval_ns, offset_ns, next;
	uint32_t recipients; /* members connected when the sending starts */
	uint32_t *members;   /* indexes into users */
	uint32_t nmembers;
};

static struct plan *plans;
static size_t nplans;

struct job {
	size_t plan; /* fanout and storm: the plan line */
	uint64_t due;
	/* day: what the request is (0: a plan's send), whose, which chat, and
	 * the message id of a read marker */
	int act;
	uint32_t user;
	int64_t chat, arg;
};

/* The jobs waiting for a free HTTP connection: a ring buffer. */
static struct {
	struct job *v;
	size_t head, len, cap;
} queue;

static void queue_push(struct job j)
{
	if (queue.len == queue.cap) {
		size_t cap = queue.cap ? queue.cap * 2 : 1024;
		struct job *v = xcalloc(cap, sizeof *v);
		for (size_t i = 0; i < queue.len; i++)
			v[i] = queue.v[(queue.head + i) % queue.cap];
		free(queue.v);
		queue.v = v;
		queue.head = 0;
		queue.cap = cap;
	}
	queue.v[(queue.head + queue.len) % queue.cap] = j;
	queue.len++;
}

static struct job queue_pop(void)
{
	struct job j = queue.v[queue.head];
	queue.head = (queue.head + 1) % queue.cap;
	queue.len--;
	return j;
}

enum h_state { H_OFF, H_CONNECTING, H_IDLE, H_BUSY };

struct hconn {
	int fd;
	enum h_state state;
	struct sbuf in, out;
	struct job job;
	uint64_t t_sent;
};

static struct hconn *hconns;
static size_t nhconns;

static struct {
	size_t sent, ok, non2xx, errors, expected, behind;
	uint64_t max_lag_ns;
	struct u32vec latency;
	int first_status;
	char first_body[256];
} hs;

static void day_http_error(struct hconn *h, const char *why);
static void day_http_begin(struct hconn *h, struct job j);
static void day_http_done(struct hconn *h, int status, size_t used);

static void http_close(struct hconn *h)
{
	if (h->fd >= 0)
		close(h->fd);
	h->fd = -1;
	h->state = H_OFF;
	h->in.len = h->out.len = 0;
}

static void http_error(struct hconn *h, const char *why)
{
	if (h->state == H_BUSY && h->job.act) {
		day_http_error(h, why);
	} else if (h->state == H_BUSY) {
		/* The send is lost: counted, not retried (it may have been stored). */
		hs.errors++;
		remember_failure("send to chat %" PRId64 ": %s", plans[h->job.plan].chat, why);
	}
	http_close(h);
}

static void http_flush(struct hconn *h)
{
	size_t idx = (size_t)(h - hconns);
	while (h->out.len) {
		ssize_t n = send(h->fd, h->out.p, h->out.len, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				ep_mod(h->fd, EPOLLIN | EPOLLOUT, ev_key(OBJ_HTTP, idx, h->fd));
				return;
			}
			http_error(h, strerror(errno));
			return;
		}
		sb_consume(&h->out, (size_t)n);
	}
	ep_mod(h->fd, EPOLLIN, ev_key(OBJ_HTTP, idx, h->fd));
}

static bool http_open(struct hconn *h)
{
	size_t idx = (size_t)(h - hconns);
	int fd = socket(cfg.api.is_unix ? AF_UNIX : AF_INET,
			SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	if (!cfg.api.is_unix) {
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	}
	if (connect(fd, (struct sockaddr *)&cfg.api.addr, cfg.api.addrlen) < 0 &&
	    errno != EINPROGRESS) {
		close(fd);
		return false;
	}
	h->fd = fd;
	h->state = H_CONNECTING;
	ep_add(fd, EPOLLIN | EPOLLOUT, ev_key(OBJ_HTTP, idx, fd));
	return true;
}

static void http_begin(struct hconn *h, struct job j)
{
	if (j.act) {
		day_http_begin(h, j);
		return;
	}
	const struct plan *pl = &plans[j.plan];
	const struct user *s = &users[pl->sender];
	char body[160];
	/* The send time goes into the text as late as possible: the latency
	 * is the server's, not this program's queue. */
	int bl = snprintf(body, sizeof body, "{\"text\":\"" MARK "%" PRIu64 " k=%c\"}", real_ns(),
			  pl->kind == 's' ? 'f' : pl->kind);
	h->in.len = 0;
	sb_printf(&h->out,
		  "POST /api/chats/%" PRId64 "/messages HTTP/1.1\r\nHost: %s\r\n"
		  "Authorization: Bearer %s\r\nContent-Type: application/json\r\n"
		  "Content-Length: %d\r\n\r\n%s",
		  pl->chat, cfg.host, s->token, bl, body);
	h->job = j;
	h->state = H_BUSY;
	h->t_sent = mono_ns();
	hs.sent++;
	uint64_t lag = h->t_sent > j.due ? h->t_sent - j.due : 0;
	if (lag > hs.max_lag_ns)
		hs.max_lag_ns = lag;
	if (lag > 100 * 1000000ull)
		hs.behind++;
	http_flush(h);
}

/* Parses one complete response at the front of h->in: 1 done (*status,
 * *consumed, *close_after), 0 incomplete, -1 malformed. */
static int http_parse(struct hconn *h, int *status, size_t *consumed, bool *close_after)
{
	const char *p = h->in.p, *end = p + h->in.len;
	const char *hend = memmem(p, h->in.len, "\r\n\r\n", 4);
	if (!hend)
		return h->in.len > 65536 ? -1 : 0;
	if (h->in.len < 12 || memcmp(p, "HTTP/1.", 7))
		return -1;
	*status = atoi(p + 9);
	size_t vl = 0;
	const char *v = find_header(p, hend, "Connection", &vl);
	*close_after = v && vl == 5 && !strncasecmp(v, "close", 5);
	const char *body = hend + 4;
	v = find_header(p, hend, "Transfer-Encoding", &vl);
	if (v && vl >= 7 && !strncasecmp(v + vl - 7, "chunked", 7)) {
		const char *q = body;
		for (;;) {
			const char *eol = memmem(q, (size_t)(end - q), "\r\n", 2);
			if (!eol)
				return 0;
			unsigned long size = strtoul(q, NULL, 16);
			q = eol + 2;
			if (size == 0) {
				/* no trailers from nginx: the empty line ends it */
				if (end - q < 2)
					return 0;
				q += 2;
				*consumed = (size_t)(q - p);
				return 1;
			}
			if ((size_t)(end - q) < size + 2)
				return 0;
			q += size + 2;
		}
	}
	v = find_header(p, hend, "Content-Length", &vl);
	size_t clen = v ? strtoul(v, NULL, 10) : 0;
	if ((size_t)(end - body) < clen)
		return 0;
	*consumed = (size_t)(body - p) + clen;
	return 1;
}

static void dispatch(void);

static void http_read(struct hconn *h)
{
	/* nginx closes a keep-alive connection right after the response that
	 * says "Connection: close" (keepalive_requests): the end of the stream
	 * can arrive in the same read as that response, which is then whole and
	 * must still count. */
	bool peer_closed = false;
	for (;;) {
		sb_need(&h->in, 4096);
		ssize_t n = recv(h->fd, h->in.p + h->in.len, h->in.cap - h->in.len, 0);
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			http_error(h, strerror(errno));
			return;
		}
		if (n == 0) {
			peer_closed = true;
			break;
		}
		h->in.len += (size_t)n;
	}
	if (h->state != H_BUSY) {
		if (h->in.len)
			http_error(h, "data on an idle connection");
		else if (peer_closed)
			http_close(h);
		return;
	}
	int status = 0;
	size_t used = 0;
	bool close_after = false;
	int rc = http_parse(h, &status, &used, &close_after);
	if (rc < 0) {
		http_error(h, "malformed response");
		return;
	}
	if (rc == 0) {
		if (peer_closed)
			http_error(h, "connection closed by the server");
		return;
	}
	close_after = close_after || peer_closed;
	if (h->job.act) {
		day_http_done(h, status, used);
		sb_consume(&h->in, used);
		h->state = H_IDLE;
		if (close_after)
			http_close(h);
		dispatch();
		return;
	}
	uint64_t now = mono_ns();
	u32_push(&hs.latency, (uint32_t)((now - h->t_sent) / 1000));
	const struct plan *pl = &plans[h->job.plan];
	if (status >= 200 && status < 300) {
		hs.ok++;
		hs.expected += pl->recipients;
	} else {
		hs.non2xx++;
		if (!hs.first_status) {
			hs.first_status = status;
			const char *b = memmem(h->in.p, used, "\r\n\r\n", 4);
			size_t off = b ? (size_t)(b - h->in.p) + 4 : used;
			snprintf(hs.first_body, sizeof hs.first_body, "%.*s",
				 (int)(used - off > 200 ? 200 : used - off), h->in.p + off);
		}
	}
	sb_consume(&h->in, used);
	h->state = H_IDLE;
	if (close_after)
		http_close(h);
	dispatch();
}

static void http_event(struct hconn *h, uint32_t events)
{
	if (h->state == H_CONNECTING) {
		int err = 0;
		socklen_t el = sizeof err;
		getsockopt(h->fd, SOL_SOCKET, SO_ERROR, &err, &el);
		if (err) {
			http_error(h, strerror(err));
			return;
		}
		h->state = H_IDLE;
		ep_mod(h->fd, EPOLLIN, ev_key(OBJ_HTTP, (size_t)(h - hconns), h->fd));
		dispatch();
		return;
	}
	if (events & EPOLLOUT)
		http_flush(h);
	if (h->fd >= 0 && (events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		http_read(h);
}

/* Hands queued jobs to idle connections, opening closed ones as needed. */
static void dispatch(void)
{
	for (size_t i = 0; i < nhconns && queue.len; i++) {
		struct hconn *h = &hconns[i];
		if (h->state == H_OFF) {
			if (!http_open(h)) {
				hs.errors++;
				remember_failure("could not connect to the API: %s", strerror(errno));
				queue_pop();
			}
			continue;
		}
		if (h->state == H_IDLE)
			http_begin(h, queue_pop());
	}
}

static size_t http_busy(void)
{
	size_t n = 0;
	for (size_t i = 0; i < nhconns; i++)
		n += hconns[i].state == H_BUSY;
	return n + queue.len;
}

/* Timers: a binary heap of (due, who, action, chat). fanout: who is a
 * plan line; day: a user and what it does next. */
struct dtimer {
	uint64_t due;
	uint32_t user; /* day: index into users; fanout: into plans */
	int act;
	uint32_t chat; /* index into dchats (ACT_TYPING2, ACT_SEND) */
};

static struct dtimer *dheap;
static size_t ndheap, capdheap;

static bool dt_less(size_t a, size_t b)
{
	return dheap[a].due < dheap[b].due;
}

static void dt_swap(size_t a, size_t b)
{
	struct dtimer t = dheap[a];
	dheap[a] = dheap[b];
	dheap[b] = t;
}

static void dt_push(struct dtimer t)
{
	if (ndheap == capdheap) {
		capdheap = capdheap ? capdheap * 2 : 4096;
		dheap = xrealloc(dheap, capdheap * sizeof *dheap);
	}
	size_t i = ndheap++;
	dheap[i] = t;
	while (i && dt_less(i, (i - 1) / 2)) {
		dt_swap(i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
}

static struct dtimer dt_pop(void)
{
	struct dtimer top = dheap[0];
	dheap[0] = dheap[--ndheap];
	size_t i = 0;
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < ndheap && dt_less(l, m))
			m = l;
		if (r < ndheap && dt_less(r, m))
			m = r;
		if (m == i)
			break;
		dt_swap(i, m);
		i = m;
	}
	return top;
}

static void heap_build(uint64_t t0)
{
	ndheap = 0;
	for (size_t i = 0; i < nplans; i++) {
		if (plans[i].kind != 's')
			continue;
		plans[i].next = t0 + plans[i].offset_ns;
		dt_push((struct dtimer){.due = plans[i].next, .user = (uint32_t)i});
	}
}

/* Queues every send that is due before until. */
static void schedule(uint64_t now, uint64_t until)
{
	while (ndheap && dheap[0].due <= now) {
		if (dheap[0].due >= until) {
			ndheap = 0; /* the window is over */
			break;
		}
		struct dtimer t = dt_pop();
		struct plan *pl = &plans[t.user];
		queue_push((struct job){.plan = t.user, .due = pl->next});
		pl->next += pl->interval_ns;
		t.due = pl->next;
		dt_push(t);
	}
}

/* ---- loading the inputs --------------------------------------------------- */

static int cmp_user_id(const void *a, const void *b)
{
	int64_t x = ((const struct user *)a)->id, y = ((const struct user *)b)->id;
	return x < y ? -1 : x > y;
}

static struct user *find_user(int64_t id)
{
	size_t lo = 0, hi = nusers;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (users[mid].id < id)
			lo = mid + 1;
		else if (users[mid].id > id)
			hi = mid;
		else
			return &users[mid];
	}
	return NULL;
}

static void load_tokens(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		die("could not open \"%s\": %s", path, strerror(errno));
	char *line = NULL;
	size_t cap = 0, n = 0, seen = 0;
	ssize_t len;
	while ((len = getline(&line, &cap, f)) > 0) {
		char *sp = strchr(line, ' ');
		if (!sp)
			continue;
		size_t k = seen++;
		if ((int)(k % (size_t)cfg.slice_count) != cfg.slice_index)
			continue;
		if (n == nusers) {
			nusers = nusers ? nusers * 2 : 1024;
			users = xrealloc(users, nusers * sizeof *users);
		}
		struct user *u = &users[n++];
		*u = (struct user){.fd = -1, .start_id = -1, .last_id = -1};
		u->id = strtoll(line, NULL, 10);
		char *tok = sp + 1;
		size_t tl = strcspn(tok, " \r\n");
		u->token = xstrndup(tok, tl);
	}
	free(line);
	fclose(f);
	nusers = n;
	qsort(users, nusers, sizeof *users, cmp_user_id);
	for (size_t i = 1; i < nusers; i++)
		if (users[i].id == users[i - 1].id)
			die("user %" PRId64 " appears twice in %s: one connection per user", users[i].id,
			    path);
	if (!nusers)
		die("no users in %s", path);
}

static void load_plan(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		die("could not open \"%s\": %s", path, strerror(errno));
	char *line = NULL;
	size_t cap = 0, capp = 0;
	while (getline(&line, &cap, f) > 0) {
		char kind[16];
		long long chat, sender;
		int used = 0;
		if (sscanf(line, "%15s %lld %lld%n", kind, &chat, &sender, &used) != 3)
			continue;
		struct plan pl = {.chat = chat};
		char *rest = line + used;
		if (!strcmp(kind, "send")) {
			long long interval, offset;
			int more = 0;
			if (sscanf(rest, "%lld %lld%n", &interval, &offset, &more) != 2 || interval <= 0)
				die("bad send line in %s: %s", path, line);
			pl.kind = 's';
			pl.interval_ns = (uint64_t)interval * 1000000u;
			pl.offset_ns = (uint64_t)offset * 1000000u;
			rest += more;
		} else if (!strcmp(kind, "live") || !strcmp(kind, "offline")) {
			pl.kind = kind[0];
		} else {
			die("unknown plan line in %s: %s", path, line);
		}
		struct user *s = find_user(sender);
		if (!s)
			die("sender %lld of chat %lld has no token", sender, chat);
		pl.sender = (size_t)(s - users);
		char *save = NULL;
		uint32_t capm = 0;
		for (char *t = strtok_r(rest, " \t\r\n", &save); t; t = strtok_r(NULL, " \t\r\n", &save)) {
			struct user *m = find_user(strtoll(t, NULL, 10));
			if (!m)
				continue; /* a member this run does not connect */
			if (pl.nmembers == capm) {
				capm = capm ? capm * 2 : 4;
				pl.members = xrealloc(pl.members, capm * sizeof *pl.members);
			}
			pl.members[pl.nmembers++] = (uint32_t)(m - users);
			pl.recipients++;
			if (pl.kind == 'l')
				m->expect_live++;
			if (pl.kind != 's')
				m->expect_marked++;
		}
		if (nplans == capp) {
			capp = capp ? capp * 2 : 1024;
			plans = xrealloc(plans, capp * sizeof *plans);
		}
		plans[nplans++] = pl;
	}
	free(line);
	fclose(f);
}

static void raise_nofile(size_t need)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur < need) {
		rl.rlim_cur = rl.rlim_max = need;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
			getrlimit(RLIMIT_NOFILE, &rl);
			die("%zu connections need %zu file descriptors but the limit is %llu: "
			    "split the users over processes (--slice I/K)",
			    nusers, need, (unsigned long long)rl.rlim_cur);
		}
	}
}

/* ---- the loop --------------------------------------------------------------- */

static int concurrency_now;
static uint64_t deadline;
static bool timed_out;
static bool stdin_done;
static uint64_t last_progress;

/* Starts waiting connections up to the concurrency limit (0 = no limit). */
static void start_more(uint64_t now)
{
	for (size_t i = 0; i < nusers; i++) {
		if (concurrency_now && st.inflight >= (size_t)concurrency_now)
			return;
		struct user *u = &users[i];
		if (u->state == WS_WAIT && u->retry_at <= now)
			ws_start(u);
	}
}

static void progress(const char *phase, uint64_t now)
{
	if (now - last_progress < 2000000000ull)
		return;
	last_progress = now;
	note("%s: %zu/%zu ready, %zu connecting, %zu failed, %zu deliveries, %zu sends (%zu ok)",
	     phase, st.ready, nusers, st.inflight, st.failed, st.deliveries, hs.sent, hs.ok);
}

static size_t count_state(enum ws_state s)
{
	size_t n = 0;
	for (size_t i = 0; i < nusers; i++)
		n += users[i].state == s;
	return n;
}

static uint64_t connect_deadline;
static size_t not_in_time;

static bool all_connected(void)
{
	if (connect_deadline && mono_ns() >= connect_deadline) {
		/* Whoever is not ready by now is given up on (and counted). */
		for (size_t i = 0; i < nusers; i++) {
			struct user *u = &users[i];
			if (u->state == WS_WAIT || is_connecting(u->state)) {
				ws_close(u, WS_FAILED);
				not_in_time++;
			}
		}
		connect_deadline = 0;
		return true;
	}
	return st.ready + st.failed >= nusers && !count_state(WS_WAIT);
}

static void day_stdin(void);

/* One round of the loop: waits at most max_ms. */
static void poll_once(int max_ms)
{
	struct epoll_event evs[1024];
	int n = epoll_wait(epfd, evs, 1024, max_ms);
	if (n < 0 && errno != EINTR)
		die("epoll_wait: %s", strerror(errno));
	for (int i = 0; i < n; i++) {
		uint64_t k = evs[i].data.u64;
		int kind = (int)(k >> 56);
		size_t idx = (size_t)((k >> 24) & 0xffffffff);
		int fd = (int)(k & 0xffffff);
		if (kind == OBJ_USER) {
			if (idx < nusers && users[idx].fd == fd)
				ws_event(&users[idx], evs[i].events);
		} else if (kind == OBJ_HTTP) {
			if (idx < nhconns && hconns[idx].fd == fd)
				http_event(&hconns[idx], evs[i].events);
		} else if (kind == OBJ_STDIN && cfg.mode == MODE_DAY) {
			day_stdin();
		} else if (kind == OBJ_STDIN) {
			char buf[256];
			ssize_t r = read(0, buf, sizeof buf);
			if (r <= 0 || memchr(buf, '\n', (size_t)r)) {
				stdin_done = true;
				epoll_ctl(epfd, EPOLL_CTL_DEL, 0, NULL);
			}
		}
	}
	uint64_t now = mono_ns();
	if (now >= deadline && !timed_out) {
		timed_out = true;
		note("the --timeout of %.0f s is over", cfg.timeout);
	}
}

/* Runs the loop until done() or the deadline. */
static void run_until(bool (*done)(void), const char *phase)
{
	while (!stopping && !timed_out && !done()) {
		uint64_t now = mono_ns();
		start_more(now);
		progress(phase, now);
		poll_once(20);
	}
}

static bool connected_done(void)
{
	return all_connected();
}

static void connect_all(int concurrency)
{
	concurrency_now = concurrency;
	connect_deadline = cfg.connect_timeout > 0 ? mono_ns() + (uint64_t)(cfg.connect_timeout * 1e9) : 0;
	for (size_t i = 0; i < nusers; i++)
		if (users[i].state == WS_OFF) {
			users[i].state = WS_WAIT;
			users[i].retry_at = 0;
		}
	run_until(connected_done, "connecting");
}

static void print_ready_line(double seconds)
{
	printf("{\"phase\":\"ready\",\"users\":%zu,\"ready\":%zu,\"failed\":%zu,"
	       "\"not_in_time\":%zu,\"seconds\":%.3f}\n",
	       nusers, st.ready, st.failed, not_in_time, seconds);
	fflush(stdout);
}

static void print_latency(struct sbuf *b, const char *name, struct u32vec *v)
{
	qsort(v->v, v->n, sizeof *v->v, cmp_u32);
	sb_printf(b,
		  ",\"%s\":{\"n\":%zu,\"p50_ms\":%.3f,\"p90_ms\":%.3f,\"p99_ms\":%.3f,"
		  "\"max_ms\":%.3f}",
		  name, v->n, pct_ms(v, 50), pct_ms(v, 90), pct_ms(v, 99), pct_ms(v, 100));
}

static void print_summary(const char *mode, double seconds, struct sbuf *extra)
{
	struct sbuf b = {0};
	sb_printf(&b,
		  "{\"mode\":\"%s\",\"users\":%zu,\"ready\":%zu,\"failed\":%zu,\"dropped\":%zu,"
		  "\"fail_connect\":%zu,\"fail_handshake\":%zu,\"fail_auth\":%zu,"
		  "\"fail_closed\":%zu,\"connect_retries\":%zu,\"first_close_code\":%d,"
		  "\"resets\":%zu,\"dup_or_old\":%zu,\"unexpected_frames\":%zu,"
		  "\"other_events\":%zu,\"not_in_time\":%zu,\"seconds\":%.3f,\"timed_out\":%s",
		  mode, nusers, st.ready, st.failed, st.dropped, st.fail_connect, st.fail_handshake,
		  st.fail_auth, st.fail_closed, st.retries, st.first_close_code, st.resets,
		  st.dup_or_old, st.unexpected_frames, st.other_events, not_in_time, seconds,
		  timed_out ? "true" : "false");
	print_latency(&b, "connect", &st.ready_time);
	if (extra && extra->len)
		sb_add(&b, extra->p, extra->len);
	sb_printf(&b, ",\"first_failure\":\"");
	for (const char *p = st.first_failure; *p; p++)
		if (*p != '"' && *p != '\\' && (unsigned char)*p >= 0x20)
			sb_add(&b, p, 1);
	sb_printf(&b, "\"}\n");
	fwrite(b.p, 1, b.len, stdout);
	fflush(stdout);
	sb_free(&b);
}

static void http_summary(struct sbuf *b)
{
	sb_printf(b,
		  ",\"sends\":{\"sent\":%zu,\"ok\":%zu,\"non2xx\":%zu,\"errors\":%zu,"
		  "\"first_status\":%d,\"behind_100ms\":%zu,\"max_lag_ms\":%.1f,\"first_body\":\"",
		  hs.sent, hs.ok, hs.non2xx, hs.errors, hs.first_status, hs.behind,
		  (double)hs.max_lag_ns / 1e6);
	for (const char *p = hs.first_body; *p; p++)
		if (*p != '"' && *p != '\\' && (unsigned char)*p >= 0x20)
			sb_add(b, p, 1);
	sb_printf(b, "\"");
	print_latency(b, "rest", &hs.latency);
	sb_printf(b, "}");
}

static int run_idle(void)
{
	uint64_t t0 = mono_ns();
	connect_all(cfg.concurrency);
	double secs = (double)(mono_ns() - t0) / 1e9;
	print_ready_line(secs);
	uint64_t hold_until = cfg.hold > 0 ? mono_ns() + (uint64_t)(cfg.hold * 1e9) : UINT64_MAX;
	if (cfg.hold <= 0)
		ep_add(0, EPOLLIN, ev_key(OBJ_STDIN, 0, 0));
	while (!stopping && !stdin_done && !timed_out && mono_ns() < hold_until)
		poll_once(100);
	print_summary("idle", secs, NULL);
	return st.failed ? 1 : 0;
}

static bool http_done(void)
{
	return http_busy() == 0;
}

/* Only connected members can receive: the expected deliveries count those
 * that are ready when the sending starts. */
static void count_recipients(void)
{
	for (size_t i = 0; i < nplans; i++) {
		struct plan *pl = &plans[i];
		pl->recipients = 0;
		for (uint32_t k = 0; k < pl->nmembers; k++)
			pl->recipients += users[pl->members[k]].state == WS_READY;
	}
}

static int run_fanout(void)
{
	uint64_t t0 = mono_ns();
	connect_all(cfg.concurrency);
	double secs = (double)(mono_ns() - t0) / 1e9;
	print_ready_line(secs);
	if (stopping || timed_out) {
		print_summary("fanout", secs, NULL);
		return 3;
	}
	for (size_t i = 0; i < nhconns; i++)
		http_open(&hconns[i]);
	/* Let the connections open before the clock starts. */
	for (int i = 0; i < 10; i++)
		poll_once(10);
	count_recipients();
	uint64_t s0 = mono_ns(), until = s0 + (uint64_t)(cfg.duration * 1e9);
	heap_build(s0);
	size_t d0 = st.deliveries;
	st.latency.n = 0;
	while (!stopping && !timed_out) {
		uint64_t now = mono_ns();
		if (now >= until)
			break;
		schedule(now, until);
		dispatch();
		progress("fanout", now);
		uint64_t wait = ndheap && dheap[0].due > now ? dheap[0].due - now : 0;
		poll_once(wait > 5000000 ? 5 : (int)(wait / 1000000));
	}
	uint64_t send_end = mono_ns();
	/* The last sends finish, then the last events arrive. */
	run_until(http_done, "fanout (finishing sends)");
	uint64_t drain_until = mono_ns() + (uint64_t)(cfg.drain * 1e9);
	while (!stopping && !timed_out && mono_ns() < drain_until &&
	       st.deliveries - d0 < hs.expected)
		poll_once(20);
	double window = (double)(send_end - s0) / 1e9;
	/* The rate is over the time the deliveries took: from the first send to
	 * the last delivery, which is later than the end of the schedule when
	 * the sends or the deliveries fell behind. */
	uint64_t last = st.last_delivery > send_end ? st.last_delivery : send_end;
	double span = (double)(last - s0) / 1e9;
	struct sbuf extra = {0};
	sb_printf(&extra,
		  ",\"send_seconds\":%.3f,\"delivery_seconds\":%.3f,\"deliveries\":%zu,"
		  "\"expected_deliveries\":%zu,\"deliveries_per_second\":%.1f,"
		  "\"sends_per_second\":%.1f,\"scheduled_sends\":%zu",
		  window, span, st.deliveries - d0, hs.expected, (double)(st.deliveries - d0) / span,
		  (double)hs.ok / span, hs.sent);
	print_latency(&extra, "latency", &st.latency);
	http_summary(&extra);
	print_summary("fanout", secs, &extra);
	sb_free(&extra);
	bool bad = st.failed || hs.non2xx || hs.errors || st.deliveries - d0 != hs.expected;
	return timed_out ? 3 : bad ? 1 : 0;
}

static uint32_t storm_target; /* 0 = live messages only, 1 = everything */

static bool storm_caught(void)
{
	for (size_t i = 0; i < nusers; i++) {
		const struct user *u = &users[i];
		if (u->state == WS_FAILED)
			continue;
		if (u->got_marked < (storm_target ? u->expect_marked : u->expect_live))
			return false;
	}
	return http_busy() == 0;
}

static void enqueue_kind(char kind)
{
	uint64_t now = mono_ns();
	for (size_t i = 0; i < nplans; i++)
		if (plans[i].kind == kind)
			queue_push((struct job){.plan = i, .due = now});
	dispatch();
}

static void write_ids(const char *path)
{
	FILE *f = fopen(path, "w");
	if (!f)
		die("could not write \"%s\": %s", path, strerror(errno));
	for (size_t i = 0; i < nusers; i++) {
		const struct user *u = &users[i];
		fprintf(f, "%" PRId64 " %" PRId64 " %d %zu", u->id, u->start_id, u->sessions, u->ids.n);
		for (size_t k = 0; k < u->ids.n; k++)
			fprintf(f, " %" PRId64, u->ids.v[k]);
		fputc('\n', f);
	}
	if (fclose(f) != 0)
		die("could not write \"%s\": %s", path, strerror(errno));
}

static int run_storm(void)
{
	uint64_t t0 = mono_ns();
	connect_all(cfg.concurrency);
	double secs = (double)(mono_ns() - t0) / 1e9;
	print_ready_line(secs);
	for (size_t i = 0; i < nhconns; i++)
		http_open(&hconns[i]);
	for (int i = 0; i < 10; i++)
		poll_once(10);
	/* Live messages, received by connected clients. */
	uint64_t l0 = mono_ns();
	enqueue_kind('l');
	storm_target = 0;
	run_until(storm_caught, "storm (live messages)");
	double live_secs = (double)(mono_ns() - l0) / 1e9;
	/* Offline messages start, and everybody drops at the same moment. */
	size_t failed_before = st.failed;
	enqueue_kind('o');
	for (size_t i = 0; i < nusers; i++)
		if (users[i].state != WS_FAILED)
			ws_close(&users[i], WS_OFF);
	run_until(http_done, "storm (offline messages)");
	/* Everybody comes back at once. */
	storm_t0 = mono_ns();
	storm_phase_catching = true;
	storm_target = 1;
	connect_all(cfg.reconnect_concurrency);
	run_until(storm_caught, "storm (catching up)");
	double catch_secs = (double)(mono_ns() - storm_t0) / 1e9;
	/* Anything that would arrive twice arrives now. */
	uint64_t drain_until = mono_ns() + (uint64_t)(cfg.drain * 1e9);
	while (!stopping && mono_ns() < drain_until && !timed_out)
		poll_once(20);
	size_t caught = 0, missing_msgs = 0;
	for (size_t i = 0; i < nusers; i++) {
		const struct user *u = &users[i];
		if (u->got_marked >= u->expect_marked)
			caught++;
		else
			missing_msgs += u->expect_marked - u->got_marked;
	}
	if (cfg.ids_out)
		write_ids(cfg.ids_out);
	struct sbuf extra = {0};
	sb_printf(&extra,
		  ",\"live_seconds\":%.3f,\"catch_up_seconds\":%.3f,\"caught_up\":%zu,"
		  "\"missing_messages\":%zu,\"failed_in_storm\":%zu",
		  live_secs, catch_secs, caught, missing_msgs, st.failed - failed_before);
	print_latency(&extra, "caught", &st.caught_time);
	http_summary(&extra);
	print_summary("storm", secs, &extra);
	sb_free(&extra);
	bool bad = st.failed || hs.non2xx || hs.errors || caught != nusers;
	return timed_out ? 3 : bad ? 1 : 0;
}

/* ---- day: a day in the life of active users (docs/BENCHMARKS.md) ----------- */

/* The chats of the day plan: "chat CHAT WEIGHT MEMBER...". A member's send
 * goes to one of its chats with the chat's weight (the plan says how busy
 * each kind of chat is), an "open" to any of them alike. */
enum { CK_DIRECT, CK_SMALL, CK_LARGE, CK_N };
static const char *const ck_name[CK_N] = {"direct", "small", "large"};

struct dchat {
	int64_t id;
	double weight;
	int kind;
};

static struct dchat *dchats;
static size_t ndchats;
static uint32_t *dchat_by_id; /* indexes into dchats, by chat id */
static struct u32vec ck_latency[CK_N];

static int cmp_dchat_index(const void *a, const void *b)
{
	int64_t x = dchats[*(const uint32_t *)a].id, y = dchats[*(const uint32_t *)b].id;
	return x < y ? -1 : x > y;
}

/* The kind of chat id (CK_N when not in the plan). */
static int dchat_kind(int64_t id)
{
	size_t lo = 0, hi = ndchats;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int64_t m = dchats[dchat_by_id[mid]].id;
		if (m < id)
			lo = mid + 1;
		else if (m > id)
			hi = mid;
		else
			return dchats[dchat_by_id[mid]].kind;
	}
	return CK_N;
}

static void load_day_plan(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		die("could not open \"%s\": %s", path, strerror(errno));
	char *line = NULL;
	size_t cap = 0, capc = 0;
	while (getline(&line, &cap, f) > 0) {
		long long chat;
		double weight;
		char kind[16];
		int used = 0;
		if (sscanf(line, "chat %lld %lf %15s%n", &chat, &weight, kind, &used) != 3)
			die("bad day plan line in %s: %s", path, line);
		int ck = CK_N;
		for (int k = 0; k < CK_N; k++)
			if (!strcmp(kind, ck_name[k]))
				ck = k;
		if (ck == CK_N)
			die("unknown chat kind \"%s\" in %s", kind, path);
		if (ndchats == capc) {
			capc = capc ? capc * 2 : 1024;
			dchats = xrealloc(dchats, capc * sizeof *dchats);
		}
		uint32_t ci = (uint32_t)ndchats;
		dchats[ndchats++] = (struct dchat){.id = chat, .weight = weight, .kind = ck};
		char *save = NULL;
		for (char *t = strtok_r(line + used, " \t\r\n", &save); t; t = strtok_r(NULL, " \t\r\n", &save)) {
			struct user *m = find_user(strtoll(t, NULL, 10));
			if (!m)
				continue; /* another process's user */
			if (m->nchats == m->capchats) {
				m->capchats = m->capchats ? m->capchats * 2 : 8;
				m->chats = xrealloc(m->chats, m->capchats * sizeof *m->chats);
			}
			m->chats[m->nchats++] = ci;
			m->wsum += weight;
		}
	}
	free(line);
	fclose(f);
	dchat_by_id = xcalloc(ndchats, sizeof *dchat_by_id);
	for (size_t i = 0; i < ndchats; i++)
		dchat_by_id[i] = (uint32_t)i;
	qsort(dchat_by_id, ndchats, sizeof *dchat_by_id, cmp_dchat_index);
}

/* What a user does, each a Poisson process of its own mean interval. */
enum { ACT_NONE, ACT_TYPING, ACT_TYPING2, ACT_SEND, ACT_OPEN, ACT_READ, ACT_LIST, ACT_RECONNECT };
enum { K_SEND, K_HISTORY, K_READ, K_LIST, K_N };
static const char *const k_name[K_N] = {"send", "history", "read", "chats"};

static int act_kind(int act)
{
	return act == ACT_SEND ? K_SEND : act == ACT_OPEN ? K_HISTORY : act == ACT_READ ? K_READ : K_LIST;
}

static struct {
	size_t sent, ok, non2xx, errors, behind;
	int first_status;
	char first_body[200];
	struct u32vec latency;
} ks[K_N];

static struct {
	size_t deliveries, replayed, acks, typing_sent, typing_got, reads_skipped;
	size_t reconnects, own, other_stored, sends_queued_offline, lagging;
	struct u32vec reconnect_time;
	bool go, top_seen;
	int64_t top;
	struct sbuf in;
} dy;

/* An exponentially distributed interval of the given mean (a Poisson
 * process: the users act independently, not in step). */
static uint64_t exp_ns(double mean_s)
{
	double u = ((double)rng32() + 1.0) / 4294967297.0;
	double s = -mean_s * log(u);
	if (s > mean_s * 20)
		s = mean_s * 20;
	return (uint64_t)(s * 1e9);
}

static uint32_t pick_weighted(const struct user *u)
{
	double x = (double)rng32() / 4294967296.0 * u->wsum;
	uint32_t last = u->chats[0];
	for (uint32_t k = 0; k < u->nchats; k++) {
		double w = dchats[u->chats[k]].weight;
		if (w <= 0)
			continue; /* never written to (BENCH_DAY_BIG_PER_MIN=0) */
		last = u->chats[k];
		x -= w;
		if (x < 0)
			return last;
	}
	return last; /* rounding left a little of x */
}

static void day_dropped(struct user *u)
{
	if (u->close_code == 4008)
		dy.lagging++;
	u->close_code = 0;
	ws_close(u, WS_WAIT);
	u->retry_at = mono_ns() + 1000000000ull;
	u->reconnecting = true;
}

static void day_on_ready(struct user *u, const struct jtop *j)
{
	/* What comes before the live events after a reconnect with since is
	 * a replay: counted, not timed as a delivery. */
	u->replay_upto = j->has_last ? j->last_event_id : -1;
	if (u->reconnecting) {
		u->reconnecting = false;
		u32_push(&dy.reconnect_time, (uint32_t)((mono_ns() - u->t_started) / 1000));
	}
}

/* The number after key in [p, end), or -1. */
static int64_t num_after(const char *p, const char *end, const char *key)
{
	size_t kl = strlen(key);
	const char *k = memmem(p, (size_t)(end - p), key, kl);
	if (!k)
		return -1;
	k += kl;
	while (k < end && *k == ' ')
		k++;
	return k < end && isdigit((unsigned char)*k) ? strtoll(k, NULL, 10) : -1;
}

static void day_on_event(struct user *u, const struct jtop *j, const char *p, size_t n)
{
	if (type_is(j, "typing")) {
		dy.typing_got++;
		return;
	}
	if (!type_is(j, "message.created") || !j->data || !j->has_chat) {
		if (j->has_id)
			dy.other_stored++;
		else
			st.other_events++;
		return;
	}
	/* data.message: jsonb puts the shortest key first, so "id" opens it,
	 * but look for it rather than count on that. */
	const char *dend = j->data + j->data_len;
	const char *m = memmem(j->data, j->data_len, "\"message\"", 9);
	struct jtop msg;
	if (!m || !(m = memchr(m, '{', (size_t)(dend - m))) || !json_top(m, (size_t)(dend - m), &msg) ||
	    !msg.has_id) {
		st.unexpected_frames++;
		return;
	}
	const char *mark = memmem(p, n, MARK, sizeof MARK - 1);
	int64_t sender = mark ? num_after(mark, p + n, " u=") : -1;
	if (sender == u->id) {
		dy.own++;
		return;
	}
	if (mark) {
		if (j->has_id && j->id <= u->replay_upto) {
			dy.replayed++;
		} else {
			uint64_t sent = strtoull(mark + sizeof MARK - 1, NULL, 10);
			uint64_t now = real_ns();
			uint64_t lat = now > sent ? (now - sent) / 1000 : 0;
			uint32_t l32 = lat > UINT32_MAX ? UINT32_MAX : (uint32_t)lat;
			u32_push(&st.latency, l32);
			int ck = dchat_kind(j->chat_id);
			if (ck < CK_N)
				u32_push(&ck_latency[ck], l32);
			dy.deliveries++;
		}
	}
	/* The app acks what it receives (www/js/sync.js ack()). */
	char ack[128];
	int al = snprintf(ack, sizeof ack, "{\"type\":\"ack\",\"chat_id\":%" PRId64 ",\"message_id\":%" PRId64 "}",
			  j->chat_id, msg.id);
	ws_frame(u, 1, ack, (size_t)al);
	ws_flush(u);
	dy.acks++;
}

static void day_http_begin(struct hconn *h, struct job j)
{
	const struct user *u = &users[j.user];
	int k = act_kind(j.act);
	h->in.len = 0;
	if (j.act == ACT_SEND) {
		char body[160];
		/* The send time goes into the text as late as possible: the
		 * latency is the server's, not this program's queue. */
		int bl = snprintf(body, sizeof body, "{\"text\":\"" MARK "%" PRIu64 " k=d u=%" PRId64 "\"}",
				  real_ns(), u->id);
		sb_printf(&h->out,
			  "POST /api/chats/%" PRId64 "/messages HTTP/1.1\r\nHost: %s\r\n"
			  "Authorization: Bearer %s\r\nContent-Type: application/json\r\n"
			  "Content-Length: %d\r\n\r\n%s",
			  j.chat, cfg.host, u->token, bl, body);
	} else if (j.act == ACT_OPEN) {
		sb_printf(&h->out,
			  "GET /api/chats/%" PRId64 "/messages?limit=50 HTTP/1.1\r\nHost: %s\r\n"
			  "Authorization: Bearer %s\r\n\r\n",
			  j.chat, cfg.host, u->token);
	} else if (j.act == ACT_READ) {
		char body[64];
		int bl = snprintf(body, sizeof body, "{\"message_id\":%" PRId64 "}", j.arg);
		sb_printf(&h->out,
			  "POST /api/chats/%" PRId64 "/read HTTP/1.1\r\nHost: %s\r\n"
			  "Authorization: Bearer %s\r\nContent-Type: application/json\r\n"
			  "Content-Length: %d\r\n\r\n%s",
			  j.chat, cfg.host, u->token, bl, body);
	} else {
		sb_printf(&h->out, "GET /api/chats HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n\r\n",
			  cfg.host, u->token);
	}
	h->job = j;
	h->state = H_BUSY;
	h->t_sent = mono_ns();
	ks[k].sent++;
	if (h->t_sent > j.due + 100 * 1000000ull)
		ks[k].behind++;
	http_flush(h);
}

static void day_http_error(struct hconn *h, const char *why)
{
	ks[act_kind(h->job.act)].errors++;
	remember_failure("%s of user %" PRId64 ": %s", k_name[act_kind(h->job.act)],
			 users[h->job.user].id, why);
}

static void day_http_done(struct hconn *h, int status, size_t used)
{
	int k = act_kind(h->job.act);
	/* From when the user wanted it: a wait for a free connection of this
	 * program counts (it is counted apart too, behind_100ms). */
	uint64_t from = h->job.due < h->t_sent ? h->job.due : h->t_sent;
	u32_push(&ks[k].latency, (uint32_t)((mono_ns() - from) / 1000));
	const char *b = memmem(h->in.p, used, "\r\n\r\n", 4);
	size_t off = b ? (size_t)(b - h->in.p) + 4 : used;
	if (status < 200 || status >= 300) {
		ks[k].non2xx++;
		if (!ks[k].first_status) {
			ks[k].first_status = status;
			snprintf(ks[k].first_body, sizeof ks[k].first_body, "%.*s",
				 (int)(used - off > 150 ? 150 : used - off), h->in.p + off);
		}
		return;
	}
	ks[k].ok++;
	if (h->job.act != ACT_OPEN)
		return;
	/* The newest message of the page (ascending ids: the last message
	 * object) becomes the read marker, as the app does on opening. */
	const char *q = h->in.p + off, *end = h->in.p + used, *last = NULL;
	while ((q = memmem(q, (size_t)(end - q), "{\"id\":", 6))) {
		last = q;
		q += 6;
	}
	if (!last) {
		dy.reads_skipped++;
		return;
	}
	queue_push((struct job){.due = mono_ns(), .act = ACT_READ, .user = h->job.user,
				.chat = h->job.chat, .arg = strtoll(last + 6, NULL, 10)});
}

/* Lines on stdin from the caller: "go" starts the day (every process is
 * connected), "top N" says the newest event id once the sends are over. */
static void day_stdin(void)
{
	sb_need(&dy.in, 256);
	ssize_t r = read(0, dy.in.p + dy.in.len, dy.in.cap - dy.in.len);
	if (r <= 0) {
		/* The caller closes stdin once it has said everything (or is
		 * gone): the run goes on to its end, which --timeout bounds. */
		epoll_ctl(epfd, EPOLL_CTL_DEL, 0, NULL);
		dy.go = dy.top_seen = true;
		return;
	}
	dy.in.len += (size_t)r;
	char *nl;
	while ((nl = memchr(dy.in.p, '\n', dy.in.len))) {
		*nl = '\0';
		if (!strcmp(dy.in.p, "go"))
			dy.go = true;
		else if (!strncmp(dy.in.p, "top ", 4)) {
			dy.top = strtoll(dy.in.p + 4, NULL, 10);
			dy.top_seen = true;
		}
		sb_consume(&dy.in, (size_t)(nl - dy.in.p) + 1);
	}
}

static void day_act(struct dtimer t, uint64_t now)
{
	struct user *u = &users[t.user];
	switch (t.act) {
	case ACT_TYPING: {
		dt_push((struct dtimer){now + exp_ns(cfg.send_every), t.user, ACT_TYPING, 0});
		uint32_t c = pick_weighted(u);
		/* Two typing frames while the text is written, then the send. */
		dt_push((struct dtimer){now + (uint64_t)(cfg.typing_lead * 1e9), t.user, ACT_TYPING2, c});
		t.chat = c;
	}
		/* fallthrough */
	case ACT_TYPING2:
		if (u->state == WS_READY) {
			char f[96];
			int fl = snprintf(f, sizeof f, "{\"type\":\"typing\",\"chat_id\":%" PRId64 "}",
					  dchats[t.chat].id);
			ws_frame(u, 1, f, (size_t)fl);
			ws_flush(u);
			dy.typing_sent++;
		}
		if (t.act == ACT_TYPING2)
			dt_push((struct dtimer){now + (uint64_t)(cfg.typing_lead * 1e9), t.user, ACT_SEND,
						t.chat});
		break;
	case ACT_SEND:
		if (u->state != WS_READY)
			dy.sends_queued_offline++; /* sent anyway, as an app's outbox would */
		queue_push((struct job){.due = now, .act = ACT_SEND, .user = t.user, .chat = dchats[t.chat].id});
		break;
	case ACT_OPEN:
		dt_push((struct dtimer){now + exp_ns(cfg.open_every), t.user, ACT_OPEN, 0});
		queue_push((struct job){.due = now, .act = ACT_OPEN, .user = t.user,
					.chat = dchats[u->chats[rng32() % u->nchats]].id});
		break;
	case ACT_LIST:
		dt_push((struct dtimer){now + exp_ns(cfg.list_every), t.user, ACT_LIST, 0});
		queue_push((struct job){.due = now, .act = ACT_LIST, .user = t.user});
		break;
	case ACT_RECONNECT:
		dt_push((struct dtimer){now + exp_ns(cfg.reconnect_every), t.user, ACT_RECONNECT, 0});
		if (u->state != WS_READY)
			break;
		/* Gone for a second (a train's tunnel), back with since. */
		ws_close(u, WS_WAIT);
		u->retry_at = now + 1000000000ull;
		u->reconnecting = true;
		dy.reconnects++;
		break;
	}
}

/* Every latency sample (microseconds), a line per series: the caller
 * merges the processes' samples before taking percentiles. */
static void write_samples(const char *path)
{
	FILE *f = fopen(path, "w");
	if (!f)
		die("could not write \"%s\": %s", path, strerror(errno));
	enum { NS = K_N + CK_N + 2 };
	const struct u32vec *v[NS] = {&st.latency, &dy.reconnect_time};
	const char *names[NS] = {"delivery", "reconnect"};
	char cknames[CK_N][32];
	for (int k = 0; k < K_N; k++) {
		v[k + 2] = &ks[k].latency;
		names[k + 2] = k_name[k];
	}
	for (int k = 0; k < CK_N; k++) {
		snprintf(cknames[k], sizeof cknames[k], "delivery_%s", ck_name[k]);
		v[K_N + 2 + k] = &ck_latency[k];
		names[K_N + 2 + k] = cknames[k];
	}
	for (int k = 0; k < NS; k++) {
		fputs(names[k], f);
		for (size_t i = 0; i < v[k]->n; i++)
			fprintf(f, " %" PRIu32, v[k]->v[i]);
		fputc('\n', f);
	}
	if (fclose(f) != 0)
		die("could not write \"%s\": %s", path, strerror(errno));
}

static bool day_settled(void)
{
	if (http_busy())
		return false;
	for (size_t i = 0; i < nusers; i++)
		if (users[i].state == WS_WAIT || is_connecting(users[i].state))
			return false;
	return true;
}

static void print_phase(const char *phase)
{
	printf("{\"phase\":\"%s\",\"ready\":%zu,\"failed\":%zu}\n", phase, st.ready, st.failed);
	fflush(stdout);
}

static int run_day(void)
{
	uint64_t t0 = mono_ns();
	connect_all(cfg.concurrency);
	double secs = (double)(mono_ns() - t0) / 1e9;
	print_ready_line(secs);
	ep_add(0, EPOLLIN, ev_key(OBJ_STDIN, 0, 0));
	while (!stopping && !timed_out && !dy.go)
		poll_once(100);
	for (size_t i = 0; i < nhconns; i++)
		http_open(&hconns[i]);
	for (int i = 0; i < 10; i++)
		poll_once(10);
	uint64_t s0 = mono_ns(), until = s0 + (uint64_t)(cfg.duration * 1e9);
	for (size_t i = 0; i < nusers; i++) {
		if (users[i].state != WS_READY || !users[i].nchats)
			continue;
		uint32_t ui = (uint32_t)i;
		dt_push((struct dtimer){s0 + exp_ns(cfg.send_every), ui, ACT_TYPING, 0});
		dt_push((struct dtimer){s0 + exp_ns(cfg.open_every), ui, ACT_OPEN, 0});
		dt_push((struct dtimer){s0 + exp_ns(cfg.list_every), ui, ACT_LIST, 0});
		dt_push((struct dtimer){s0 + exp_ns(cfg.reconnect_every), ui, ACT_RECONNECT, 0});
	}
	st.latency.n = 0;
	concurrency_now = cfg.concurrency;
	connect_deadline = 0;
	uint64_t last_start = 0;
	while (!stopping && !timed_out) {
		uint64_t now = mono_ns();
		if (now >= until)
			break;
		while (ndheap && dheap[0].due <= now)
			day_act(dt_pop(), now);
		if (now - last_start > 50000000ull) {
			start_more(now); /* the reconnecting users */
			last_start = now;
		}
		dispatch();
		progress("day", now);
		uint64_t wait = ndheap && dheap[0].due > now ? dheap[0].due - now : 0;
		poll_once(wait > 5000000 ? 5 : (int)(wait / 1000000));
	}
	double window = (double)(mono_ns() - s0) / 1e9;
	/* A send typed but not yet posted is dropped with the rest of the
	 * schedule; the posted ones finish and the reconnecting users return. */
	ndheap = 0;
	uint64_t settle_until = mono_ns() + 60 * 1000000000ull;
	while (!stopping && !timed_out && !day_settled() && mono_ns() < settle_until) {
		start_more(mono_ns());
		dispatch();
		poll_once(20);
	}
	print_phase("sent");
	while (!stopping && !timed_out && !dy.top_seen)
		poll_once(100);
	/* The events up to the caller's top arrive (and their acks' events,
	 * which are newer and not compared): until nothing came for --drain
	 * seconds, 300 s at most (a backlog in wsd can be minutes long). */
	uint64_t drain_start = mono_ns(), quiet = (uint64_t)(cfg.drain * 1e9);
	st.last_frame = drain_start;
	while (!stopping && !timed_out && mono_ns() - drain_start < 300 * 1000000000ull &&
	       (mono_ns() - st.last_frame < quiet || !day_settled())) {
		start_more(mono_ns()); /* who lagged behind comes back */
		poll_once(20);
	}
	double drain_secs = (double)(mono_ns() - drain_start) / 1e9;
	bool drain_capped = drain_secs >= 300;
	if (cfg.ids_out)
		write_ids(cfg.ids_out);
	if (cfg.samples_out)
		write_samples(cfg.samples_out);
	struct sbuf extra = {0};
	sb_printf(&extra,
		  ",\"day_seconds\":%.3f,\"deliveries\":%zu,\"replayed\":%zu,\"own\":%zu,\"acks\":%zu,"
		  "\"typing_sent\":%zu,\"typing_got\":%zu,\"other_stored\":%zu,\"reads_skipped\":%zu,"
		  "\"reconnects\":%zu,\"sends_while_offline\":%zu,\"drain_seconds\":%.1f,"
		  "\"lagging\":%zu,\"drain_capped\":%s",
		  window, dy.deliveries, dy.replayed, dy.own, dy.acks, dy.typing_sent, dy.typing_got,
		  dy.other_stored, dy.reads_skipped, dy.reconnects, dy.sends_queued_offline, drain_secs, dy.lagging,
		  drain_capped ? "true" : "false");
	print_latency(&extra, "latency", &st.latency);
	print_latency(&extra, "reconnect", &dy.reconnect_time);
	sb_printf(&extra, ",\"rest\":{");
	bool bad = false;
	for (int k = 0; k < K_N; k++) {
		sb_printf(&extra,
			  "%s\"%s\":{\"sent\":%zu,\"ok\":%zu,\"non2xx\":%zu,\"errors\":%zu,\"behind_100ms\":%zu,"
			  "\"first_status\":%d,\"first_body\":\"",
			  k ? "," : "", k_name[k], ks[k].sent, ks[k].ok, ks[k].non2xx, ks[k].errors, ks[k].behind,
			  ks[k].first_status);
		for (const char *c = ks[k].first_body; *c; c++)
			if (*c != '"' && *c != '\\' && (unsigned char)*c >= 0x20)
				sb_add(&extra, c, 1);
		sb_printf(&extra, "\"");
		print_latency(&extra, "latency", &ks[k].latency);
		sb_printf(&extra, "}");
		bad = bad || ks[k].non2xx || ks[k].errors;
	}
	sb_printf(&extra, "}");
	print_summary("day", secs, &extra);
	sb_free(&extra);
	return timed_out ? 3 : (bad || st.failed) ? 1 : 0;
}


static void usage(void)
{
	fputs("usage: wsload idle|fanout|storm|day --ws unix:PATH|HOST:PORT --tokens FILE\n"
	      "         [--plan FILE] [--api HOST:PORT] [--host HOST] [--origin URL]\n"
	      "         [--concurrency N] [--reconnect-concurrency N] [--http-conns N]\n"
	      "         [--duration S] [--drain S] [--hold S] [--timeout S] [--connect-timeout S]\n"
	      "         [--slice I/K] [--ids-out FILE] [--samples-out FILE]\n"
	      "         [--send-every S] [--open-every S] [--list-every S] [--reconnect-every S]\n",
	      stderr);
	exit(2);
}

int main(int argc, char **argv)
{
	if (argc < 2)
		usage();
	if (!strcmp(argv[1], "idle"))
		cfg.mode = MODE_IDLE;
	else if (!strcmp(argv[1], "fanout"))
		cfg.mode = MODE_FANOUT;
	else if (!strcmp(argv[1], "storm"))
		cfg.mode = MODE_STORM;
	else if (!strcmp(argv[1], "day"))
		cfg.mode = MODE_DAY;
	else
		usage();
	bool have_ws = false;
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i];
		if (i + 1 >= argc)
			usage();
		const char *v = argv[++i];
		if (!strcmp(a, "--ws")) {
			parse_endpoint(v, &cfg.ws);
			have_ws = true;
		} else if (!strcmp(a, "--api")) {
			parse_endpoint(v, &cfg.api);
			cfg.have_api = true;
		} else if (!strcmp(a, "--host")) {
			cfg.host = v;
		} else if (!strcmp(a, "--origin")) {
			cfg.origin = v;
		} else if (!strcmp(a, "--path")) {
			cfg.path = v;
		} else if (!strcmp(a, "--tokens")) {
			cfg.tokens = v;
		} else if (!strcmp(a, "--plan")) {
			cfg.plan = v;
		} else if (!strcmp(a, "--samples-out")) {
			cfg.samples_out = v;
		} else if (!strcmp(a, "--ids-out")) {
			cfg.ids_out = v;
		} else if (!strcmp(a, "--concurrency")) {
			cfg.concurrency = atoi(v);
		} else if (!strcmp(a, "--reconnect-concurrency")) {
			cfg.reconnect_concurrency = atoi(v);
		} else if (!strcmp(a, "--http-conns")) {
			cfg.http_conns = atoi(v);
		} else if (!strcmp(a, "--duration")) {
			cfg.duration = atof(v);
		} else if (!strcmp(a, "--drain")) {
			cfg.drain = atof(v);
		} else if (!strcmp(a, "--hold")) {
			cfg.hold = atof(v);
		} else if (!strcmp(a, "--timeout")) {
			cfg.timeout = atof(v);
		} else if (!strcmp(a, "--connect-timeout")) {
			cfg.connect_timeout = atof(v);
		} else if (!strcmp(a, "--send-every")) {
			cfg.send_every = atof(v);
		} else if (!strcmp(a, "--open-every")) {
			cfg.open_every = atof(v);
		} else if (!strcmp(a, "--list-every")) {
			cfg.list_every = atof(v);
		} else if (!strcmp(a, "--reconnect-every")) {
			cfg.reconnect_every = atof(v);
		} else if (!strcmp(a, "--slice")) {
			if (sscanf(v, "%d/%d", &cfg.slice_index, &cfg.slice_count) != 2 ||
			    cfg.slice_count < 1 || cfg.slice_index < 0 ||
			    cfg.slice_index >= cfg.slice_count)
				die("--slice takes I/K with 0 <= I < K");
		} else {
			usage();
		}
	}
	if (!have_ws || !cfg.tokens)
		usage();
	if (cfg.mode != MODE_IDLE && (!cfg.plan || !cfg.have_api))
		die("%s needs --plan and --api", argv[1]);
	if (cfg.concurrency < 0 || cfg.reconnect_concurrency < 0 || cfg.http_conns < 1)
		die("bad --concurrency, --reconnect-concurrency or --http-conns");
	static char host_buf[64];
	if (!cfg.host) {
		const struct endpoint *ep = cfg.have_api ? &cfg.api : &cfg.ws;
		if (ep->is_unix) {
			cfg.host = "localhost";
		} else {
			const struct sockaddr_in *in = (const struct sockaddr_in *)&ep->addr;
			char ip[INET_ADDRSTRLEN];
			inet_ntop(AF_INET, &in->sin_addr, ip, sizeof ip);
			snprintf(host_buf, sizeof host_buf, "%s:%u", ip, ntohs(in->sin_port));
			cfg.host = host_buf;
		}
	}
	static char origin_buf[80];
	if (!cfg.origin) {
		snprintf(origin_buf, sizeof origin_buf, "http://%s", cfg.host);
		cfg.origin = origin_buf;
	}

	if (getrandom(&rng_state, sizeof rng_state, 0) != sizeof rng_state || !rng_state)
		rng_state = real_ns() | 1;
	load_tokens(cfg.tokens);
	if (cfg.plan && cfg.mode == MODE_DAY)
		load_day_plan(cfg.plan);
	else if (cfg.plan)
		load_plan(cfg.plan);
	nhconns = cfg.mode == MODE_IDLE ? 0 : (size_t)cfg.http_conns;
	hconns = xcalloc(nhconns, sizeof *hconns);
	for (size_t i = 0; i < nhconns; i++)
		hconns[i].fd = -1;
	raise_nofile(nusers + nhconns + 64);

	struct sigaction sa = {.sa_handler = on_signal};
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (epfd < 0)
		die("epoll_create1: %s", strerror(errno));
	deadline = mono_ns() + (uint64_t)(cfg.timeout * 1e9);
	note("%s: %zu users, %zu plan lines, ws %s", argv[1], nusers, nplans,
	     cfg.ws.is_unix ? "unix socket" : "tcp");

	switch (cfg.mode) {
	case MODE_IDLE:
		return run_idle();
	case MODE_FANOUT:
		return run_fanout();
	case MODE_STORM:
		return run_storm();
	case MODE_DAY:
		return run_day();
	}
	return 2;
}
