/*
 * config.h - configuration from the environment.
 *
 * Every setting is an environment variable named MSGR_*; each module reads
 * its own settings where it needs them, with a default and a range, so that
 * adding a setting never touches a central list. README.md lists them all.
 * A value that is set but malformed or out of range is fatal at start-up:
 * config_int() logs the problem and exits.
 */
#ifndef MSGR_CONFIG_H
#define MSGR_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"

/* The variable's value, or fallback when it is unset or empty. */
const char *config_str(const char *name, const char *fallback);
/* The variable as an integer in [min, max], or fallback when unset. */
long config_int(const char *name, long fallback, long min, long max);

/* The directory of the programs' sockets, where they find each other and
 * keep their metrics files (metrics.h): MSGR_RUN_DIR, or else the
 * directory of socket_path (this program's own socket; NULL: none). Writes
 * it to out (cap bytes); false when there is none, or it does not fit. */
bool config_run_dir(const char *socket_path, char *out, size_t cap);

/* Loads the server secret (MSGR_SECRET_FILE, the file's bytes with a final
 * newline removed). Refuses a secret shorter than 32 bytes. */
enum msgr_err config_secret(const unsigned char **secret, size_t *len) MSGR_WUR;

#endif
