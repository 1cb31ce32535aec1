/*
 * settings.h - what wsd is told: its arguments and environment.
 *
 *   wsd --socket PATH        listen on a unix socket (what nginx proxies to)
 *   wsd --port N [--listen ADDR]   listen on TCP (tests, benchmarks), 127.0.0.1
 *
 * Environment: MSGR_DATABASE_URL, MSGR_SECRET_FILE (access tokens),
 * MSGR_ALLOWED_ORIGINS (space-separated; a handshake whose Origin is not
 * listed is refused, one without Origin is not a browser's and is let
 * through), MSGR_WSD_ID (this process in user_presence; default
 * HOST:SOCKET), MSGR_WSD_SOCKET (as --socket), and the MSGR_WSD_* limits
 * of struct wsd_config (settings.c has their defaults and ranges).
 *
 * State: W's settings (cfg, conninfo, origins, wsd_id), from
 * settings_read() to settings_free().
 */
#ifndef WSD_SETTINGS_H
#define WSD_SETTINGS_H

/* Where to listen: a unix socket, or a TCP address and port. */
struct wsd_listen {
	const char *socket; /* or NULL */
	const char *addr;
	long port;
};

/* Reads the arguments and the environment into W and *where, and loads
 * the token secret. Returns -1 to go on, else the exit status (0 after
 * --help, 2 for bad arguments, 78 for a bad setting, 1 out of memory). */
int settings_read(int argc, char **argv, struct wsd_listen *where);
void settings_free(void);

#endif
