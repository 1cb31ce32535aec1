/*
 * wsd - the realtime daemon (API.md "Realtime"): WebSocket connections at
 * /ws behind nginx, fed from the events table (wsd.h lists the modules).
 *
 *   wsd --socket PATH        listen on a unix socket (what nginx proxies to)
 *   wsd --port N [--listen ADDR]   listen on TCP (tests, benchmarks), 127.0.0.1
 *
 * Environment: MSGR_DATABASE_URL, MSGR_SECRET_FILE (access tokens),
 * MSGR_ALLOWED_ORIGINS (space-separated; a handshake whose Origin is not
 * listed is refused, one without Origin is not a browser's and is let
 * through), MSGR_WSD_ID (this process in user_presence; default
 * HOST:SOCKET), and the MSGR_WSD_* limits read in read_config().
 *
 * SIGTERM or SIGINT: close every connection with 1001, take this process's
 * users offline, exit. SIGHUP is logged and otherwise ignored (there is
 * nothing to reload; a restart loses nothing: clients resume with since).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "token.h"
#include "wsd.h"

struct wsd W;

static volatile sig_atomic_t got_stop, got_hup;
static lws_sorted_usec_list_t sul_tick;
static uint64_t stop_deadline, next_sweep;
static enum { RUNNING, DRAINING, DEREGISTERING, DONE, TORN_DOWN } phase;
static bool event_lib; /* libev runs the loop (else lws's poll()) */

uint64_t wsd_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

struct pg_conn *wsd_conn_for(int64_t user_id)
{
	return W.work[(uint64_t)user_id % W.nwork];
}

static void on_signal(int sig)
{
	if (sig == SIGHUP)
		got_hup = 1;
	else
		got_stop = 1;
}

/* lws calls this for the signals the event library watches. */
static void on_lws_signal(void *handle, int sig)
{
	(void)handle;
	on_signal(sig);
}

static void lws_log(int level, const char *line)
{
	/* lws lines end with a newline. A refused handshake is logged by
	 * session.c with its reason already. */
	if (strstr(line, "User code denied connection"))
		return;
	int len = (int)strcspn(line, "\n");
	if (level & LLL_ERR)
		log_error("lws: %.*s", len, line);
	else
		log_info("lws: %.*s", len, line);
}

static void read_config(void)
{
	struct wsd_config *c = &W.cfg;
	c->auth_timeout_ms = config_int("MSGR_WSD_AUTH_TIMEOUT_MS", 10000, 100, 600000);
	c->ready_timeout_ms = config_int("MSGR_WSD_READY_TIMEOUT_MS", 30000, 100, 600000);
	c->queue_max_msgs = config_int("MSGR_WSD_QUEUE_MAX", 1000, 16, 1000000);
	c->queue_max_bytes = config_int("MSGR_WSD_QUEUE_MAX_BYTES", 4 << 20, 1 << 16, 1L << 30);
	c->replay_page = config_int("MSGR_WSD_PAGE", 200, 1, 10000);
	c->poll_ms = config_int("MSGR_WSD_POLL_MS", 1000, 10, 60000);
	c->gap_poll_ms = config_int("MSGR_WSD_GAP_POLL_MS", 50, 1, 60000);
	c->typing_burst = config_int("MSGR_WSD_TYPING_BURST", 5, 1, 1000);
	c->typing_window_ms = config_int("MSGR_WSD_TYPING_WINDOW_MS", 3000, 1, 600000);
	c->ack_flush_ms = config_int("MSGR_WSD_ACK_FLUSH_MS", 100, 0, 60000);
	c->heartbeat_secs = config_int("MSGR_WSD_HEARTBEAT_SECS", 10, 1, 3600);
	c->dead_secs = config_int("MSGR_WSD_DEAD_SECS", 60, 2, 86400);
	c->ping_secs = config_int("MSGR_WSD_PING_SECS", 30, 1, 3600);
	c->hangup_secs = config_int("MSGR_WSD_HANGUP_SECS", 75, 2, 7200);
	c->work_conns = config_int("MSGR_WSD_DB_CONNECTIONS", 2, 1, 64);
	c->max_frame = 4096; /* API.md: incoming frames over 4 KiB close with 1009 */
	if (c->hangup_secs <= c->ping_secs)
		c->hangup_secs = c->ping_secs + 1;
	if (c->dead_secs < 2 * c->heartbeat_secs)
		c->dead_secs = 2 * c->heartbeat_secs;
	W.conninfo = strdup(config_str("MSGR_DATABASE_URL", "dbname=messenger"));
}

static bool split_origins(void)
{
	const char *list = config_str("MSGR_ALLOWED_ORIGINS", "");
	size_t n = 0;
	for (const char *p = list; *p;) {
		p += strspn(p, " \t,");
		size_t len = strcspn(p, " \t,");
		if (len)
			n++;
		p += len;
	}
	W.origins = calloc(n + 1, sizeof *W.origins);
	if (!W.origins)
		return false;
	for (const char *p = list; *p;) {
		p += strspn(p, " \t,");
		size_t len = strcspn(p, " \t,");
		if (len && !(W.origins[W.norigins++] = strndup(p, len)))
			return false;
		p += len;
	}
	if (!W.norigins)
		log_info("MSGR_ALLOWED_ORIGINS is empty: browsers cannot connect");
	return true;
}

/* Enough descriptors for many connections; lws sizes its tables by the
 * limit, so it is capped. */
static unsigned raise_fd_limit(void)
{
	long want = config_int("MSGR_WSD_MAX_FDS", 65536, 64, 1 << 22);
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl))
		return 1024;
	rlim_t target = (rlim_t)want;
	if (rl.rlim_max != RLIM_INFINITY && target > rl.rlim_max)
		target = rl.rlim_max;
	if (rl.rlim_cur < target) {
		rl.rlim_cur = target;
		if (setrlimit(RLIMIT_NOFILE, &rl))
			log_error("could not raise the descriptor limit: %s", strerror(errno));
		getrlimit(RLIMIT_NOFILE, &rl);
	}
	return rl.rlim_cur > target ? (unsigned)target : (unsigned)rl.rlim_cur;
}

static void deregistered(void)
{
	phase = DONE;
}

#define CLOSE_SLICE 500 /* connections closing at once while stopping */

/* Before lws_context_destroy(): database sockets first, so that lws closing
 * them is not taken for a lost connection (the connections themselves stay
 * until every session's close callback has run), and every timer, which
 * lives in the context. */
static void teardown(void)
{
	feed_stop();
	for (unsigned i = 0; i < W.nwork; i++)
		pg_conn_shutdown(W.work[i]);
	hub_stop();
	ack_free();
	phase = TORN_DOWN;
	if (event_lib)
		lws_context_destroy(W.context); /* ends the loop: lws_service() returns */
}

/* Signals, the once-a-second sweep, and the stop sequence: close every
 * connection with 1001, take this process's users offline, exit. */
static void tick(lws_sorted_usec_list_t *sul)
{
	(void)sul;
	uint64_t now = wsd_now_ms();
	if (got_hup) {
		got_hup = 0;
		log_info("SIGHUP: nothing to reload");
	}
	if (got_stop && phase == RUNNING) {
		phase = DRAINING;
		W.stopping = true;
		stop_deadline = now + 4000;
		log_info("stopping: closing %u connections", session_count());
	}
	if (now >= next_sweep) {
		session_sweep();
		next_sweep = now + 1000;
	}
	if (phase == DRAINING)
		session_close_all(CLOSE_SLICE);
	if (phase == DRAINING && (!session_count() || now >= stop_deadline)) {
		phase = DEREGISTERING;
		stop_deadline = now + 4000; /* stack.sh waits 10 s in all */
		log_info("stopping: %u connections left; taking this instance's users offline",
			 session_count());
		ack_flush_now();
		hub_instance_stop(deregistered);
	} else if (phase == DEREGISTERING && now >= stop_deadline) {
		log_error("could not take this instance's users offline: exiting anyway");
		phase = DONE;
	}
	if (phase == DONE) {
		teardown();
		return;
	}
	lws_sul_schedule(W.context, 0, &sul_tick, tick,
			 (phase == RUNNING ? 200 : 50) * LWS_US_PER_MS);
}

static const struct lws_protocols ws_protocols[] = {
	{
		.name = "msgr",
		.callback = session_callback,
		.per_session_data_size = sizeof(struct session),
		/* Client frames are small (auth is the largest); bigger ones
		 * arrive in pieces and are reassembled up to max_frame. lws
		 * allocates this for every connection. */
		.rx_buffer_size = 1024,
		.tx_packet_size = 65536,
	},
	{0},
};

static const struct lws_protocols pg_protocols[] = {
	{.name = PG_LWS_PROTOCOL, .callback = pg_lws_callback},
	{0},
};

static void usage(FILE *f)
{
	fprintf(f, "usage: wsd --socket PATH | --port N [--listen ADDR]\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"socket", required_argument, NULL, 's'},
		{"port", required_argument, NULL, 'p'},
		{"listen", required_argument, NULL, 'l'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	const char *sock = NULL, *listen_addr = "127.0.0.1";
	long port = 0;
	int opt;
	log_init("wsd");
	while ((opt = getopt_long(argc, argv, "s:p:l:h", opts, NULL)) != -1) {
		switch (opt) {
		case 's':
			sock = optarg;
			break;
		case 'p':
			port = strtol(optarg, NULL, 10);
			break;
		case 'l':
			listen_addr = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!sock)
		sock = config_str("MSGR_WSD_SOCKET", NULL);
	if ((!sock && (port <= 0 || port > 65535)) || (sock && port)) {
		usage(stderr);
		return 2;
	}
	read_config();
	if (!W.conninfo || !split_origins())
		return 1;
	if (token_init_from_config() != MSGR_OK) {
		log_error("could not load the token secret");
		return 78;
	}
	char host[128] = "localhost", id[512];
	gethostname(host, sizeof host - 1);
	if (sock)
		snprintf(id, sizeof id, "%s:%s", host, sock);
	else
		snprintf(id, sizeof id, "%s:%s:%ld", host, listen_addr, port);
	W.wsd_id = strdup(config_str("MSGR_WSD_ID", id));

	signal(SIGPIPE, SIG_IGN);
	struct sigaction sa = {.sa_handler = on_signal};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);

	lws_set_log_level(LLL_ERR | LLL_WARN, lws_log);
	/* lws's own idle pings are off: each reschedules a timer in one sorted
	 * list, which costs O(connections) per frame received; session.c pings
	 * from one sweep instead. (A zero hang-up time disables them.) */
	static const lws_retry_bo_t idle = {0};

	struct lws_context_creation_info info;
	memset(&info, 0, sizeof info);
	info.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS | LWS_SERVER_OPTION_DISABLE_IPV6;
	/* poll() looks at every descriptor on every wakeup: with thousands of
	 * connections that is most of the work. libev (epoll) only at the
	 * ready ones. */
	const char *evlib = config_str("MSGR_WSD_EVENT_LIB", "ev");
	if (!strcmp(evlib, "ev")) {
		event_lib = true;
		info.options |= LWS_SERVER_OPTION_LIBEV;
		info.signal_cb = on_lws_signal;
	} else if (strcmp(evlib, "poll")) {
		log_error("MSGR_WSD_EVENT_LIB \"%s\": expected ev or poll", evlib);
		return 78;
	}
	info.fd_limit_per_thread = raise_fd_limit();
	info.retry_and_idle_policy = &idle;
	info.timeout_secs = 10;
	info.gid = -1;
	info.uid = -1;
	W.context = lws_create_context(&info);
	if (!W.context && event_lib) {
		log_error("libev is not available to lws (libwebsockets-evlib-ev): using poll()");
		event_lib = false;
		info.options &= ~(uint64_t)LWS_SERVER_OPTION_LIBEV;
		info.signal_cb = NULL;
		W.context = lws_create_context(&info);
	}
	if (!W.context) {
		log_error("could not create the lws context");
		return 1;
	}

	memset(&info, 0, sizeof info);
	info.vhost_name = "pg";
	info.retry_and_idle_policy = &idle;
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = pg_protocols;
	info.options = LWS_SERVER_OPTION_DISABLE_IPV6;
	W.pg_vhost = lws_create_vhost(W.context, &info);

	memset(&info, 0, sizeof info);
	info.vhost_name = "ws";
	info.protocols = ws_protocols;
	info.retry_and_idle_policy = &idle;
	info.timeout_secs = 10;
	info.options = LWS_SERVER_OPTION_VALIDATE_UTF8 | LWS_SERVER_OPTION_DISABLE_IPV6;
	if (sock) {
		info.options |= LWS_SERVER_OPTION_UNIX_SOCK;
		info.iface = sock;
		info.port = 0;
		unlink(sock); /* a socket left by a crash */
	} else {
		info.iface = listen_addr;
		info.port = (int)port;
	}
	W.vhost = W.pg_vhost ? lws_create_vhost(W.context, &info) : NULL;
	if (!W.vhost) {
		log_error("could not listen on %s", W.wsd_id);
		lws_context_destroy(W.context);
		return 1;
	}

	W.nwork = (unsigned)W.cfg.work_conns;
	W.work = calloc(W.nwork, sizeof *W.work);
	for (unsigned i = 0; W.work && i < W.nwork; i++) {
		char name[16];
		snprintf(name, sizeof name, "work%u", i);
		if (!(W.work[i] = pg_conn_new(W.context, W.pg_vhost, name, W.conninfo, NULL, NULL)))
			break;
	}
	if (!W.work || !W.work[W.nwork - 1] || !hub_init()) {
		log_error("out of memory at start-up");
		return 1;
	}
	hub_instance_start();
	if (!feed_start()) {
		log_error("out of memory at start-up");
		return 1;
	}
	lws_sul_schedule(W.context, 0, &sul_tick, tick, LWS_US_PER_SEC);
	log_info("listening on %s (instance %s)", sock ? sock : listen_addr, W.wsd_id);

	/* With an event library lws_service() runs the loop until teardown()
	 * destroys the context; with poll() it returns after each wakeup. */
	while (phase != TORN_DOWN)
		if (lws_service(W.context, 0) < 0 && !event_lib)
			break;
	if (phase != TORN_DOWN)
		teardown();
	lws_context_destroy(W.context);
	for (unsigned i = 0; i < W.nwork; i++)
		pg_conn_free(W.work[i]);
	free(W.work);
	hub_free();
	for (unsigned i = 0; i < W.norigins; i++)
		free(W.origins[i]);
	free(W.origins);
	free(W.wsd_id);
	free(W.conninfo);
	log_info("stopped");
	return 0;
}
