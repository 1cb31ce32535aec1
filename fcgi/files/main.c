/*
 * files - uploads, downloads and avatars (API.md "Files", and PUT/DELETE
 * /api/users/me/avatar), the export of a user's data (/api/users/me/export,
 * export.c), and the cleanup of unattached uploads. The master process runs
 * the periodic job in a child of its own every MSGR_EXPORT_INTERVAL seconds
 * (default 10): the exports asked for since (export_run()), and
 * storage_sweep() when MSGR_SWEEP_INTERVAL seconds (default 600) have
 * passed since the last sweep; `files --sweep` runs a sweep once and exits.
 */
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "config.h"
#include "db.h"
#include "files.h"
#include "log.h"
#include "s3store.h"
#include "server.h"
#include "storage.h"
#include "upload.h"

static const struct http_route routes[] = {
	{"POST", "/api/files", handle_upload, NULL},
	{"GET", "/api/files/limits", handle_upload_limits, NULL},
	{"GET", "/api/files/{file_id}", handle_download, NULL},
	{"HEAD", "/api/files/{file_id}", handle_download, NULL},
	{"PUT", "/api/users/me/avatar", handle_put_avatar, NULL},
	{"DELETE", "/api/users/me/avatar", handle_delete_avatar, NULL},
	{"POST", "/api/users/me/export", handle_export_request, NULL},
	{"GET", "/api/users/me/export", handle_export_get, NULL},
	{"DELETE", "/api/users/me/export", handle_export_discard, NULL},
};

/* When this host's last sweep started: a page shared by the master with
 * its periodic children (each run is a new child, which could not tell the
 * next one otherwise). NULL if it could not be mapped: every run sweeps. */
static time_t *last_sweep;
static unsigned sweep_secs;

/* The periodic job: the sweep when due, then the exports. The exports run
 * more often than the sweep (a user waits for them), in the same child and
 * under the same lock, so that one builder runs across hosts
 * (export.c). */
static void periodic(void)
{
	time_t now = time(NULL);
	/* A second's slack: a run comes every interval, not later. */
	if (!last_sweep || now - *last_sweep + 1 >= (time_t)sweep_secs) {
		if (last_sweep)
			*last_sweep = now;
		storage_sweep();
	}
	export_run();
}

/* files --sweep: one cleanup now, with the programs' environment. */
static int sweep_once(void)
{
	log_init("files");
	if (db_connect() != MSGR_OK)
		return 1;
	/* Not beside a sweep running now, here or on another host. */
	if (srv_periodic_lock("files"))
		storage_sweep();
	db_disconnect();
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], "--sweep"))
		return sweep_once();
	/* A bad MSGR_STORAGE_URL or missing keys stop the program here, once,
	 * rather than every worker as it starts. */
	(void)s3store_enabled();
	sweep_secs = (unsigned)config_int("MSGR_SWEEP_INTERVAL", 600, 1, 86400);
	unsigned export_secs = (unsigned)config_int("MSGR_EXPORT_INTERVAL", 10, 1, 3600);
	void *page = mmap(NULL, sizeof *last_sweep, PROT_READ | PROT_WRITE,
			  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (page != MAP_FAILED) {
		last_sweep = page;
		*last_sweep = 0;
	}
	struct srv_app app = {
		.name = "files",
		.routes = routes,
		.nroutes = sizeof routes / sizeof routes[0],
		.init_worker = upload_init,
		.periodic = periodic,
		.periodic_secs = export_secs < sweep_secs ? export_secs : sweep_secs,
	};
	return srv_main(argc, argv, &app);
}
