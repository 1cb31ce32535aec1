/*
 * zipw.h - writes a ZIP archive (APPNOTE.TXT 6.3.10) of stored entries,
 * streamed, to a file: the building block of the account export (issue
 * 21), whose archive holds JSON, an HTML index and files that are mostly
 * compressed already (pictures, video), so that deflating would cost time
 * for little.
 *
 * Entries are "stored" (method 0, no compression). An entry's bytes are
 * written as they come, so memory does not grow with them; its CRC-32 and
 * size are then written into its local header in place (pwrite), which is
 * why the output must be a regular file, not a pipe: every reader,
 * streaming ones too, then finds the sizes where it looks first (no data
 * descriptors). What is kept in memory until zipw_finish() is the central
 * directory, some 60 bytes and the name a entry.
 *
 * ZIP64 (APPNOTE 4.5.3) is used where the classic fields do not reach: an
 * entry that starts 4 GiB or more into the archive gets a ZIP64 extra in
 * the central directory, and an archive of 65,535 entries or more, or
 * whose directory starts that far, gets the ZIP64 end records. One entry
 * may not exceed 4 GiB - 1 bytes (MSGR_ERR_TOO_LARGE): its local header has
 * no room for a ZIP64 extra, and nothing the export writes comes close
 * (uploads are at most 25 MiB, a chat's JSON is written in parts).
 *
 * Usage:
 *	struct zipw *z;
 *	if (zipw_open(fd, &z) != MSGR_OK) ...
 *	err = zipw_begin(z, "profile.json", time(NULL));
 *	err = zipw_write(z, json, len);      (as often as needed)
 *	err = zipw_end_entry(z);
 *	...
 *	err = zipw_finish(z);                (writes the directory; frees z)
 * A failure is sticky: every later call returns it, and zipw_finish() then
 * frees z and returns it too; the file is then no archive (remove it).
 */
#ifndef MSGR_ZIPW_H
#define MSGR_ZIPW_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "err.h"

struct zipw;

/* Starts an archive at the current end of fd (an empty regular file,
 * opened for writing); fd stays the caller's to close. */
enum msgr_err zipw_open(int fd, struct zipw **out) MSGR_WUR;
/* Starts an entry named name (UTF-8, "/" between directories, no leading
 * "/" and no ".." part: MSGR_ERR_MALFORMED; at most 65,535 bytes), with
 * mtime as its time (UTC). Ends the previous entry if it is open. */
enum msgr_err zipw_begin(struct zipw *z, const char *name, time_t mtime) MSGR_WUR;
enum msgr_err zipw_write(struct zipw *z, const void *data, size_t len) MSGR_WUR;
/* Ends the open entry: its CRC-32 and size go into its local header. */
enum msgr_err zipw_end_entry(struct zipw *z) MSGR_WUR;
/* Ends the open entry, writes the central directory and the end records,
 * and frees z (whatever the result). */
enum msgr_err zipw_finish(struct zipw *z) MSGR_WUR;
/* Frees z without finishing (after a failure elsewhere). NULL is fine. */
void zipw_free(struct zipw *z);

/* The CRC-32 of ISO-HDLC, as ZIP, gzip and PNG use it: crc of the bytes so
 * far (0 to start), extended with data. */
uint32_t zipw_crc32(uint32_t crc, const void *data, size_t len);

#endif
