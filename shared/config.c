#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

#define SECRET_MIN 32
#define SECRET_MAX 512

const char *config_str(const char *name, const char *fallback)
{
	const char *v = getenv(name);
	return v && *v ? v : fallback;
}

long config_int(const char *name, long fallback, long min, long max)
{
	const char *v = getenv(name);
	if (!v || !*v)
		return fallback;
	char *end;
	errno = 0;
	long n = strtol(v, &end, 10);
	if (errno || *end || n < min || n > max) {
		log_error("invalid %s \"%s\": expected an integer from %ld to %ld", name, v, min,
			  max);
		exit(78); /* EX_CONFIG */
	}
	return n;
}

bool config_run_dir(const char *socket_path, char *out, size_t cap)
{
	const char *env = config_str("MSGR_RUN_DIR", NULL);
	const char *slash = socket_path ? strrchr(socket_path, '/') : NULL;
	int n;
	if (env)
		n = snprintf(out, cap, "%s", env);
	else if (slash)
		n = slash == socket_path ? snprintf(out, cap, "/")
					 : snprintf(out, cap, "%.*s", (int)(slash - socket_path),
						    socket_path);
	else if (socket_path)
		n = snprintf(out, cap, ".");
	else
		return false;
	return n >= 0 && (size_t)n < cap;
}

enum msgr_err config_secret(const unsigned char **secret, size_t *len)
{
	static unsigned char data[SECRET_MAX];
	static size_t data_len;
	if (data_len) {
		*secret = data;
		*len = data_len;
		return MSGR_OK;
	}
	const char *path = config_str("MSGR_SECRET_FILE", NULL);
	if (!path) {
		log_error("MSGR_SECRET_FILE is not set");
		return MSGR_ERR_CONFIG;
	}
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		log_error("could not open secret file \"%s\": %s", path, strerror(errno));
		return MSGR_ERR_CONFIG;
	}
	ssize_t n = read(fd, data, sizeof data);
	close(fd);
	if (n < 0) {
		log_error("could not read secret file \"%s\": %s", path, strerror(errno));
		return MSGR_ERR_CONFIG;
	}
	size_t got = (size_t)n;
	while (got && (data[got - 1] == '\n' || data[got - 1] == '\r'))
		got--;
	if (got < SECRET_MIN) {
		log_error("secret in \"%s\" is %zu bytes: at least %d are required", path, got,
			  SECRET_MIN);
		return MSGR_ERR_CONFIG;
	}
	data_len = got;
	*secret = data;
	*len = data_len;
	return MSGR_OK;
}
