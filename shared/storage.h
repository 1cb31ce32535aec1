/*
 * storage.h - the directory of uploaded files and the life of a stored file.
 *
 * Where the files live is decided here: MSGR_STORAGE_DIR (the default), or
 * the object store that MSGR_STORAGE_URL names (s3store.h), which then
 * holds the bytes while the directory keeps only the temporary files of
 * uploads being received; the rest of this comment is the directory's case.
 *
 * Every stored file is one regular file in MSGR_STORAGE_DIR named by its
 * storage key: 32 lower-case hex digits drawn at random by the server, never
 * anything the client sent. nginx serves the bytes from there
 * (X-Accel-Redirect to its internal location and the key, download.c); the
 * files table maps ids to keys.
 *
 * A file is written as an unnamed file of the directory (O_TMPFILE) and
 * linked under its key only once complete and synced: the kernel frees an
 * unnamed file when its descriptor closes, so a failed upload and a worker
 * that dies mid-upload (even by SIGKILL) leave nothing behind. Where the
 * file system cannot (O_TMPFILE refused) it is written under a temporary
 * name (".upload-" and the key) and renamed instead; the sweep removes such
 * names after an hour. Removing one goes the
 * other way round: its row is marked deleted (files.deleted_at) in the
 * transaction that drops it, and after the commit storage_purge() unlinks
 * the bytes and then deletes the row. A crash between the two leaves a
 * marked row that the next sweep finishes, never bytes without a row.
 */
#ifndef MSGR_STORAGE_H
#define MSGR_STORAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "s3store.h"

#define STORAGE_KEY_LEN 32
#define STORAGE_TMP_PREFIX ".upload-"
/* ".upload-" and 32 hex digits, and the NUL. */
#define STORAGE_NAME_MAX (sizeof STORAGE_TMP_PREFIX + STORAGE_KEY_LEN)

/* Opens the directory (MSGR_STORAGE_DIR, default "var/files"), creating it
 * if missing. Called once per process; later calls do nothing. */
enum msgr_err storage_init(void) MSGR_WUR;

/* Fills key with a fresh random storage key and its NUL. */
enum msgr_err storage_new_key(char key[STORAGE_KEY_LEN + 1]) MSGR_WUR;
/* True when s (len bytes) has the form of a storage key. */
bool storage_key_valid(const char *s, size_t len);

/* Creates the temporary file for key, opened for writing and reading (an
 * object store reads it back to send it); *fd gets it. It
 * stays open until storage_publish() or storage_remove_temp(): an unnamed
 * one is nothing without it. */
enum msgr_err storage_create_temp(const char *key, int *fd) MSGR_WUR;
/* Flushes fd to disk (fsync), keeping it open. */
enum msgr_err storage_sync(int fd) MSGR_WUR;
/* Gives the temporary file of each key (fds[i], from storage_create_temp)
 * its key as name, closes the descriptors, then syncs the directory so that
 * the names survive a crash. */
enum msgr_err storage_publish(const char *const *keys, const int *fds, size_t n) MSGR_WUR;
/* Closes fd (if >= 0) and unlinks the temporary name of key, if it has
 * one: the temporary file is gone. */
void storage_remove_temp(const char *key, int fd);
/* Unlinks the stored file of key; a missing one is fine. */
void storage_remove(const char *key);

/* Reads the stored bytes of key from the start, from the directory or the
 * object store, handing them to sink a piece at a time (memory stays flat
 * whatever the size): the sink's error stops the read and is returned;
 * MSGR_ERR_IO when the bytes cannot be read (logged). */
enum msgr_err storage_read(const char *key, s3store_sink sink, void *arg) MSGR_WUR;

/*
 * Unlinks the bytes of the files marked deleted, then deletes their rows:
 * those of one message (message_id > 0), of one file (file_id > 0), or any
 * (both 0), at most limit of them. Bytes that a row not marked still names
 * (a forwarded copy shares its original's) are kept. Returns how many were
 * purged, or -1 when the database failed or none of the bytes could be
 * removed (logged; their rows stay marked for the next sweep). Call it
 * after the commit that marked them.
 */
long storage_purge(int64_t message_id, int64_t file_id, long limit);

/*
 * The periodic cleanup: marks unattached uploads older than
 * MSGR_UPLOAD_TTL seconds (default 24 h) deleted, purges every marked file,
 * and unlinks temporary files older than an hour (left by a crash). Logs
 * what it removed.
 */
void storage_sweep(void);

#endif
