#include <libscrypt.h>
#include <string.h>
#include <sys/random.h>

#include "auth.h"
#include "hex.h"
#include "log.h"

/*
 * scrypt parameters from OWASP's Password Storage Cheat Sheet table
 * (N=2^14, r=8, p=5: 16 MiB and about 5 x 2^14 block mixes per hash).
 * The parameters are stored in each hash, so they can be raised later
 * without breaking old hashes.
 */
#define SCRYPT_COST_N 16384
#define SCRYPT_COST_R 8
#define SCRYPT_COST_P 5

static char dummy_hash[SCRYPT_MCF_LEN + 1];

int password_init(void)
{
	char random_password[33];
	unsigned char raw[16];
	if (getrandom(raw, sizeof raw, 0) != (ssize_t)sizeof raw)
		return -1;
	hex_encode(random_password, raw, sizeof raw);
	if (!libscrypt_hash(dummy_hash, random_password, SCRYPT_COST_N, SCRYPT_COST_R,
			    SCRYPT_COST_P)) {
		log_error("could not compute the dummy password hash");
		return -1;
	}
	return 0;
}

const char *password_hash(struct arena *a, const char *password)
{
	char *out = arena_alloc(a, SCRYPT_MCF_LEN + 1);
	if (!libscrypt_hash(out, password, SCRYPT_COST_N, SCRYPT_COST_R, SCRYPT_COST_P))
		return NULL;
	return out;
}

bool password_check(const char *hash, const char *password)
{
	/* libscrypt_check() writes into the hash it is given and returns -1 for
	 * a malformed one: give it a copy, and only > 0 is a match. */
	char copy[SCRYPT_MCF_LEN + 1];
	const char *source = hash ? hash : dummy_hash;
	size_t len = strnlen(source, SCRYPT_MCF_LEN);
	memcpy(copy, source, len);
	copy[len] = '\0';
	int rc = libscrypt_check(copy, password);
	return hash && rc > 0;
}
