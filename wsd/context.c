/*
 * context.c - the lws context and its vhosts.
 */
#include "context.h"

#include <errno.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <libwebsockets.h>

#include "config.h"
#include "lifecycle.h"
#include "log.h"
#include "pg.h"
#include "session.h"
#include "wsd.h"

/* lws's own idle pings are off: each reschedules a timer in one sorted
 * list, which costs O(connections) per frame received; session.c pings
 * from one sweep instead. (A zero hang-up time disables them.) */
static const lws_retry_bo_t idle = {0};

static const struct lws_protocols pg_protocols[] = {
	{.name = PG_LWS_PROTOCOL, .callback = pg_lws_callback},
	{0},
};

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

/* lws calls this for the signals the event library watches. */
static void on_lws_signal(void *handle, int sig)
{
	(void)handle;
	lifecycle_signal(sig);
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

static int create_context(void)
{
	struct lws_context_creation_info info;
	memset(&info, 0, sizeof info);
	info.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS | LWS_SERVER_OPTION_DISABLE_IPV6;
	/* poll() looks at every descriptor on every wakeup: with thousands of
	 * connections that is most of the work. libev (epoll) only at the
	 * ready ones. */
	const char *evlib = config_str("MSGR_WSD_EVENT_LIB", "ev");
	if (!strcmp(evlib, "ev")) {
		W.event_lib = true;
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
	if (!W.context && W.event_lib) {
		log_error("libev is not available to lws (libwebsockets-evlib-ev): using poll()");
		W.event_lib = false;
		info.options &= ~(uint64_t)LWS_SERVER_OPTION_LIBEV;
		info.signal_cb = NULL;
		W.context = lws_create_context(&info);
	}
	if (!W.context) {
		log_error("could not create the lws context");
		return 1;
	}
	return 0;
}

static struct lws_vhost *create_pg_vhost(void)
{
	struct lws_context_creation_info info;
	memset(&info, 0, sizeof info);
	info.vhost_name = "pg";
	info.retry_and_idle_policy = &idle;
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = pg_protocols;
	info.options = LWS_SERVER_OPTION_DISABLE_IPV6;
	return lws_create_vhost(W.context, &info);
}

static struct lws_vhost *create_ws_vhost(const struct wsd_listen *where)
{
	struct lws_context_creation_info info;
	memset(&info, 0, sizeof info);
	info.vhost_name = "ws";
	info.protocols = session_protocols;
	info.retry_and_idle_policy = &idle;
	info.timeout_secs = 10;
	info.options = LWS_SERVER_OPTION_VALIDATE_UTF8 | LWS_SERVER_OPTION_DISABLE_IPV6;
	if (where->socket) {
		info.options |= LWS_SERVER_OPTION_UNIX_SOCK;
		info.iface = where->socket;
		info.port = 0;
		unlink(where->socket); /* a socket left by a crash */
	} else {
		info.iface = where->addr;
		info.port = (int)where->port;
	}
	return lws_create_vhost(W.context, &info);
}

int context_create(const struct wsd_listen *where)
{
	lws_set_log_level(LLL_ERR | LLL_WARN, lws_log);
	int rc = create_context();
	if (rc)
		return rc;
	W.pg_vhost = create_pg_vhost();
	W.vhost = W.pg_vhost ? create_ws_vhost(where) : NULL;
	if (!W.vhost) {
		log_error("could not listen on %s", W.wsd_id);
		lws_context_destroy(W.context);
		return 1;
	}
	return 0;
}
