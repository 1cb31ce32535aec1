#define _GNU_SOURCE /* O_TMPFILE */
#include "storage.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "config.h"
#include "db.h"
#include "hex.h"
#include "log.h"
#include "s3store.h"
#include "sqlparam.h"

/* Owner and group: nginx reads the files as the same user or group. */
#define STORAGE_DIR_MODE 0750
#define STORAGE_FILE_MODE 0640
/* Temporary files older than this are leftovers of a crashed request. */
#define STORAGE_TEMP_MAX_AGE 3600
#define STORAGE_PURGE_BATCH 200

static int dir_fd = -1;
static const char *dir_path;

enum msgr_err storage_init(void)
{
	if (dir_fd >= 0)
		return MSGR_OK;
	/* With an object store too: uploads are received into temporary
	 * files here before they are sent (s3store.h). */
	(void)s3store_enabled();
	dir_path = config_str("MSGR_STORAGE_DIR", "var/files");
	if (mkdir(dir_path, STORAGE_DIR_MODE) != 0 && errno != EEXIST) {
		log_error("could not create storage directory \"%s\": %s", dir_path,
			  strerror(errno));
		return MSGR_ERR_IO;
	}
	dir_fd = open(dir_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dir_fd < 0) {
		log_error("could not open storage directory \"%s\": %s", dir_path,
			  strerror(errno));
		return MSGR_ERR_IO;
	}
	return MSGR_OK;
}

enum msgr_err storage_new_key(char key[STORAGE_KEY_LEN + 1])
{
	unsigned char raw[STORAGE_KEY_LEN / 2];
	size_t got = 0;
	while (got < sizeof raw) {
		ssize_t n = getrandom(raw + got, sizeof raw - got, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			log_error("could not draw a storage key: %s", strerror(errno));
			return MSGR_ERR_IO;
		}
		got += (size_t)n;
	}
	hex_encode(key, raw, sizeof raw);
	return MSGR_OK;
}

bool storage_key_valid(const char *s, size_t len)
{
	if (len != STORAGE_KEY_LEN)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

static void temp_name(const char *key, char out[STORAGE_NAME_MAX])
{
	snprintf(out, STORAGE_NAME_MAX, "%s%s", STORAGE_TMP_PREFIX, key);
}

/* Whether the directory takes unnamed files; cleared at the first refusal
 * (logged once). */
static bool tmpfile_works = true;

enum msgr_err storage_create_temp(const char *key, int *fd)
{
	if (storage_init() != MSGR_OK)
		return MSGR_ERR_IO;
	if (tmpfile_works) {
		*fd = openat(dir_fd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, STORAGE_FILE_MODE);
		if (*fd >= 0)
			return MSGR_OK;
		if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL) {
			log_error("could not create an upload in \"%s\": %s", dir_path,
				  strerror(errno));
			return MSGR_ERR_IO;
		}
		log_info("the storage directory \"%s\" takes no unnamed files (O_TMPFILE: %s): "
			 "uploads are written under temporary names, which a worker that dies "
			 "leaves for the hourly sweep",
			 dir_path, strerror(errno));
		tmpfile_works = false;
	}
	char name[STORAGE_NAME_MAX];
	temp_name(key, name);
	*fd = openat(dir_fd, name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
		     STORAGE_FILE_MODE);
	if (*fd < 0) {
		log_error("could not create upload \"%s/%s\": %s", dir_path, name,
			  strerror(errno));
		return MSGR_ERR_IO;
	}
	return MSGR_OK;
}

enum msgr_err storage_sync(int fd)
{
	if (fsync(fd) != 0) {
		log_error("could not sync an upload in \"%s\": %s", dir_path, strerror(errno));
		return MSGR_ERR_IO;
	}
	return MSGR_OK;
}

/* Names the temporary file fd as key: an unnamed one (no links) is linked
 * through /proc (linkat with AT_EMPTY_PATH needs a capability the workers
 * do not have), a named one renamed. */
static enum msgr_err name_temp(const char *key, int fd)
{
	struct stat st;
	if (fstat(fd, &st) != 0) {
		log_error("could not stat upload %s: %s", key, strerror(errno));
		return MSGR_ERR_IO;
	}
	if (st.st_nlink == 0) {
		char proc[64];
		snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
		if (linkat(AT_FDCWD, proc, dir_fd, key, AT_SYMLINK_FOLLOW) != 0) {
			log_error("could not link upload \"%s/%s\": %s", dir_path, key,
				  strerror(errno));
			return MSGR_ERR_IO;
		}
		return MSGR_OK;
	}
	char name[STORAGE_NAME_MAX];
	temp_name(key, name);
	if (renameat(dir_fd, name, dir_fd, key) != 0) {
		log_error("could not rename upload \"%s/%s\": %s", dir_path, name,
			  strerror(errno));
		return MSGR_ERR_IO;
	}
	return MSGR_OK;
}

/* Sends the temporary file fd of key to the object store, then drops its
 * temporary name if it has one (an unnamed one goes with its descriptor). */
static enum msgr_err send_temp(const char *key, int fd)
{
	enum msgr_err err = s3store_put_fd(key, fd);
	if (!tmpfile_works) {
		char name[STORAGE_NAME_MAX];
		temp_name(key, name);
		if (unlinkat(dir_fd, name, 0) != 0 && errno != ENOENT)
			log_error("could not remove \"%s/%s\": %s", dir_path, name, strerror(errno));
	}
	return err;
}

enum msgr_err storage_publish(const char *const *keys, const int *fds, size_t n)
{
	enum msgr_err err = storage_init();
	bool s3 = s3store_enabled();
	for (size_t i = 0; i < n; i++) {
		if (err == MSGR_OK)
			err = s3 ? send_temp(keys[i], fds[i]) : name_temp(keys[i], fds[i]);
		else if (s3 && !tmpfile_works)
			storage_remove_temp(keys[i], -1);
		close(fds[i]);
	}
	if (err == MSGR_OK && n && !s3 && fsync(dir_fd) != 0) {
		log_error("could not sync storage directory \"%s\": %s", dir_path,
			  strerror(errno));
		return MSGR_ERR_IO;
	}
	return err;
}

static bool remove_name(const char *name)
{
	if (storage_init() != MSGR_OK)
		return false;
	if (unlinkat(dir_fd, name, 0) != 0 && errno != ENOENT) {
		log_error("could not remove \"%s/%s\": %s", dir_path, name, strerror(errno));
		return false;
	}
	return true;
}

void storage_remove_temp(const char *key, int fd)
{
	if (fd >= 0)
		close(fd);
	if (tmpfile_works)
		return;
	char name[STORAGE_NAME_MAX];
	temp_name(key, name);
	remove_name(name);
}

/* Removes the stored bytes of key; true when they are gone (or were). */
static bool remove_stored(const char *key)
{
	if (!storage_key_valid(key, strlen(key)))
		return true;
	if (storage_init() != MSGR_OK)
		return false;
	return s3store_enabled() ? s3store_delete(key) == MSGR_OK : remove_name(key);
}

void storage_remove(const char *key)
{
	(void)remove_stored(key);
}

/* The read size of storage_read() from the directory. */
#define STORAGE_READ_CHUNK (256 * 1024)

enum msgr_err storage_read(const char *key, s3store_sink sink, void *arg)
{
	if (!storage_key_valid(key, strlen(key)) || storage_init() != MSGR_OK)
		return MSGR_ERR_IO;
	if (s3store_enabled())
		return s3store_get(key, sink, arg);
	int fd = openat(dir_fd, key, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		log_error("could not open \"%s/%s\": %s", dir_path, key, strerror(errno));
		return MSGR_ERR_IO;
	}
	/* One buffer for every read of the process (none reads two at once):
	 * a fresh one per file would be memory that grows with the number of
	 * files wherever freed memory is not given back at once (ASan's
	 * quarantine, which the tests' memory checks run under). */
	static char chunk[STORAGE_READ_CHUNK];
	enum msgr_err err = MSGR_OK;
	while (err == MSGR_OK) {
		ssize_t n = read(fd, chunk, STORAGE_READ_CHUNK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			log_error("could not read \"%s/%s\": %s", dir_path, key, strerror(errno));
			err = MSGR_ERR_IO;
		} else if (n == 0) {
			break;
		} else {
			err = sink(arg, chunk, (size_t)n);
		}
	}
	close(fd);
	return err;
}

long storage_purge(int64_t message_id, int64_t file_id, long limit)
{
	DB_STMT(purge_select, 3,
		"SELECT f.id, f.storage_key, EXISTS (SELECT 1 FROM files o "
		"WHERE o.storage_key = f.storage_key AND o.deleted_at IS NULL) "
		"FROM files f WHERE f.deleted_at IS NOT NULL "
		"AND ($1::bigint = 0 OR f.message_id = $1) AND ($2::bigint = 0 OR f.id = $2) "
		"ORDER BY f.id LIMIT $3::int");
	DB_STMT(purge_delete, 1,
		"DELETE FROM files WHERE id = ANY($1::bigint[]) AND deleted_at IS NOT NULL");
	char msg[SQLPARAM_INT_LEN], file[SQLPARAM_INT_LEN], lim[SQLPARAM_INT_LEN];
	const char *params[] = {sqlparam_int(msg, message_id), sqlparam_int(file, file_id),
				sqlparam_int(lim, limit)};
	PGresult *res = db_exec(&purge_select, params);
	if (!db_ok(res)) {
		log_error("could not list deleted files: %s",
			  res ? PQresultErrorMessage(res) : "no database");
		PQclear(res);
		return -1;
	}
	long n = PQntuples(res);
	if (n == 0) {
		PQclear(res);
		return 0;
	}
	/* The bytes first, then the rows: a crash in between leaves rows the
	 * next purge finishes (unlinking a missing file is fine). Bytes that
	 * a live row still names (a forwarded copy's) stay: only a copy of a
	 * live row can name them anew, so once none is live none will be. */
	/* A row whose bytes could not be removed (the object store did not
	 * answer) stays marked for the next sweep: never a row gone and its
	 * object left. */
	struct buf ids = {0};
	buf_putc(&ids, '{');
	long kept = 0;
	for (long i = 0; i < n; i++) {
		if (strcmp(PQgetvalue(res, (int)i, 2), "t") &&
		    !remove_stored(PQgetvalue(res, (int)i, 1)))
			continue;
		buf_printf(&ids, "%s%s", kept++ ? "," : "", PQgetvalue(res, (int)i, 0));
	}
	buf_putc(&ids, '}');
	PQclear(res);
	if (kept == 0) {
		buf_free(&ids);
		return -1;
	}
	if (buf_status(&ids) != MSGR_OK) {
		buf_free(&ids);
		return -1;
	}
	const char *del_params[] = {buf_cstr(&ids)};
	res = db_exec(&purge_delete, del_params);
	buf_free(&ids);
	if (!db_ok(res)) {
		log_error("could not delete purged file rows: %s",
			  res ? PQresultErrorMessage(res) : "no database");
		PQclear(res);
		return -1;
	}
	PQclear(res);
	return kept;
}

/* Unlinks temporary files older than STORAGE_TEMP_MAX_AGE; returns how
 * many. */
static long sweep_temp_files(void)
{
	int fd = openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		log_error("could not list storage directory \"%s\": %s", dir_path,
			  strerror(errno));
		if (fd >= 0)
			close(fd);
		return 0;
	}
	time_t cutoff = time(NULL) - STORAGE_TEMP_MAX_AGE;
	long removed = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (strncmp(e->d_name, STORAGE_TMP_PREFIX, sizeof STORAGE_TMP_PREFIX - 1))
			continue;
		struct stat st;
		if (fstatat(dir_fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
		    st.st_mtime >= cutoff)
			continue;
		if (unlinkat(dir_fd, e->d_name, 0) == 0)
			removed++;
	}
	closedir(d);
	return removed;
}

void storage_sweep(void)
{
	DB_STMT(expire_uploads, 1,
		"WITH d AS (UPDATE files SET deleted_at = now() "
		"WHERE kind = 'upload' AND message_id IS NULL AND deleted_at IS NULL "
		"AND created_at < now() - make_interval(secs => $1::int) RETURNING 1) "
		"SELECT count(*) FROM d");
	if (storage_init() != MSGR_OK)
		return;
	char ttl[SQLPARAM_INT_LEN];
	const char *params[] = {
		sqlparam_int(ttl, config_int("MSGR_UPLOAD_TTL", 24 * 3600, 60, 365L * 24 * 3600))};
	PGresult *res = db_exec(&expire_uploads, params);
	if (!db_ok(res))
		log_error("could not expire unattached uploads: %s",
			  res ? PQresultErrorMessage(res) : "no database");
	else if (strcmp(PQgetvalue(res, 0, 0), "0"))
		log_info("%s unattached uploads expired", PQgetvalue(res, 0, 0));
	PQclear(res);
	long purged = 0, n;
	while ((n = storage_purge(0, 0, STORAGE_PURGE_BATCH)) > 0)
		purged += n;
	if (purged)
		log_info("%ld deleted files removed from storage", purged);
	long temps = sweep_temp_files();
	if (temps)
		log_info("%ld abandoned temporary uploads removed", temps);
}
