/*
 * files - uploads, downloads and avatars (API.md "Files", and PUT/DELETE
 * /api/users/me/avatar), and the cleanup of unattached uploads: the master
 * process runs storage_sweep() every MSGR_SWEEP_INTERVAL seconds (default
 * 600) in a child of its own; `files --sweep` runs it once and exits.
 */
#include <string.h>

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
	{"GET", "/api/files/{file_id}", handle_download, NULL},
	{"HEAD", "/api/files/{file_id}", handle_download, NULL},
	{"PUT", "/api/users/me/avatar", handle_put_avatar, NULL},
	{"DELETE", "/api/users/me/avatar", handle_delete_avatar, NULL},
};

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
	struct srv_app app = {
		.name = "files",
		.routes = routes,
		.nroutes = sizeof routes / sizeof routes[0],
		.init_worker = upload_init,
		.periodic = storage_sweep,
		.periodic_secs = (unsigned)config_int("MSGR_SWEEP_INTERVAL", 600, 1, 86400),
	};
	return srv_main(argc, argv, &app);
}
