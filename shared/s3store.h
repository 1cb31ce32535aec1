/*
 * s3store.h - stored files in an S3-compatible object store (AWS S3, MinIO,
 * Ceph RGW, Garage) instead of MSGR_STORAGE_DIR, when
 *
 *	MSGR_STORAGE_URL=s3://BUCKET?endpoint=http://HOST:PORT&region=REGION&path_style=1
 *
 * with MSGR_S3_ACCESS_KEY and MSGR_S3_SECRET_KEY, or MSGR_S3_CREDENTIALS_FILE
 * (the access key on its first line, the secret key on its second). Each
 * stored file is one object named by its storage key. storage.c decides
 * which store holds the files; this module only talks to the object store:
 * requests through libcurl, signed by libcurl's CURLOPT_AWS_SIGV4, and the
 * presigned GET that nginx fetches for a download (s3sign.h).
 *
 * An upload is still received into a temporary file of MSGR_STORAGE_DIR
 * (memory stays flat whatever the size) and is streamed to the store after
 * its row commits (storage_publish): one PUT up to MSGR_S3_PART_MB, else a
 * multipart upload completed once every part is in and aborted on a
 * failure. Both are atomic: no reader ever sees part of an object, and a
 * failed one leaves no object.
 */
#ifndef MSGR_S3STORE_H
#define MSGR_S3STORE_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "err.h"

struct s3store_conf {
	char bucket[64];
	char region[64];
	/* scheme://host[:port] the requests go to: with path_style the
	 * endpoint, else the bucket's virtual host on it. */
	char endpoint[256];
	/* "/BUCKET" with path_style, else "". */
	char base_path[80];
};

/* Parses an "s3://" MSGR_STORAGE_URL. endpoint defaults to
 * https://s3.REGION.amazonaws.com, region to us-east-1, path_style to 0.
 * MSGR_ERR_MALFORMED (why in *why) for anything else: an unknown or
 * repeated parameter, a bucket name S3 would refuse, an endpoint that is
 * not http(s)://HOST[:PORT]. */
enum msgr_err s3store_parse_url(const char *url, struct s3store_conf *conf, const char **why)
	MSGR_WUR;

/* True when MSGR_STORAGE_URL names an object store; reads the settings
 * (and exits on a bad one, as config_int does) on the first call. */
bool s3store_enabled(void);

/* Sends the bytes of fd (read from its start) to the object key. */
enum msgr_err s3store_put_fd(const char *key, int fd) MSGR_WUR;
/* Takes the bytes of a read as they come; an error stops the read. */
typedef enum msgr_err (*s3store_sink)(void *arg, const void *data, size_t len);
/* Reads the object key, handing its bytes to sink as they arrive (memory
 * stays flat whatever the size): MSGR_OK once all of them went, the sink's
 * error if it refused some, MSGR_ERR_IO if the store did not answer 200
 * (logged). */
enum msgr_err s3store_get(const char *key, s3store_sink sink, void *arg) MSGR_WUR;
/* Deletes the object key; a missing one is fine. */
enum msgr_err s3store_delete(const char *key) MSGR_WUR;

/* The path and query (no scheme and host) that nginx's internal location
 * proxies to the store: "<scheme>/<host[:port]><path>?<presigned query>",
 * a presigned request (method "GET" or "HEAD") of key valid for a minute (nginx fetches it at once;
 * the File URL's own expiry is checked before), with the response's
 * Content-Type, Content-Disposition and Cache-Control set by the store
 * from the response-* parameters it signs. */
enum msgr_err s3store_download_target(struct buf *out, const char *method, const char *key,
				      const char *mime, const char *disposition,
				      const char *cache_control) MSGR_WUR;

#endif
