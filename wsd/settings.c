/*
 * settings.c - the arguments and the MSGR_* settings of wsd.
 */
#include "settings.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "token.h"
#include "wsd.h"

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
	c->max_per_user = config_int("MSGR_WS_MAX_PER_USER", 20, 0, 1000000);
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

static void usage(FILE *f)
{
	fprintf(f, "usage: wsd --socket PATH | --port N [--listen ADDR]\n");
}

/* Returns -1 to go on, else the exit status. */
static int read_args(int argc, char **argv, struct wsd_listen *where)
{
	static const struct option opts[] = {
		{"socket", required_argument, NULL, 's'},
		{"port", required_argument, NULL, 'p'},
		{"listen", required_argument, NULL, 'l'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	int opt;
	*where = (struct wsd_listen){.addr = "127.0.0.1"};
	while ((opt = getopt_long(argc, argv, "s:p:l:h", opts, NULL)) != -1) {
		switch (opt) {
		case 's':
			where->socket = optarg;
			break;
		case 'p':
			where->port = strtol(optarg, NULL, 10);
			break;
		case 'l':
			where->addr = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!where->socket)
		where->socket = config_str("MSGR_WSD_SOCKET", NULL);
	if ((!where->socket && (where->port <= 0 || where->port > 65535)) ||
	    (where->socket && where->port)) {
		usage(stderr);
		return 2;
	}
	return -1;
}

int settings_read(int argc, char **argv, struct wsd_listen *where)
{
	int rc = read_args(argc, argv, where);
	if (rc >= 0)
		return rc;
	read_config();
	if (!W.conninfo || !split_origins())
		return 1;
	if (token_init_from_config() != MSGR_OK) {
		log_error("could not load the token secret");
		return 78;
	}
	char host[128] = "localhost", id[512];
	gethostname(host, sizeof host - 1);
	if (where->socket)
		snprintf(id, sizeof id, "%s:%s", host, where->socket);
	else
		snprintf(id, sizeof id, "%s:%s:%ld", host, where->addr, where->port);
	W.wsd_id = strdup(config_str("MSGR_WSD_ID", id));
	return W.wsd_id ? -1 : 1;
}

void settings_free(void)
{
	for (unsigned i = 0; i < W.norigins; i++)
		free(W.origins[i]);
	free(W.origins);
	free(W.wsd_id);
	free(W.conninfo);
}
