/*
 * hex.h - bytes as hexadecimal digits, and back.
 *
 * Written in lower case (hashes, storage keys, the secret handed to SQL:
 * what PostgreSQL's encode(..., 'hex') writes and compares equal), or in
 * upper case for percent-encoding, which RFC 3986 section 2.1 asks of URI
 * producers. Read in either case, as RFC 3986 section 2.1 requires of a
 * percent-decoder. Encoding cannot fail; decoding refuses any byte that is
 * not a digit, so "%2G" or "%+1" never reads as something.
 *
 *	char hash[2 * 32 + 1];
 *	hex_encode(hash, digest, 32);               // "ba7816bf..."
 *	unsigned char byte;
 *	if (!hex_decode(&byte, s + i + 1, 1))       // the two digits after '%'
 *		return NULL;
 */
#ifndef MSGR_HEX_H
#define MSGR_HEX_H

#include <stdbool.h>
#include <stddef.h>

/* Writes the 2 * len lower-case digits of the len bytes at in, and a NUL,
 * at out (2 * len + 1 bytes). */
void hex_encode(char *out, const void *in, size_t len);
/* The same with upper-case digits. */
void hex_encode_upper(char *out, const void *in, size_t len);
/* Reads the 2 * len digits at in, of either case, into the len bytes at
 * out; false (out partly written) when one of them is not a hex digit. */
bool hex_decode(void *out, const char *in, size_t len);

/* The value of an ASCII hex digit of either case, or -1 for any other
 * byte. */
static inline int hex_digit_value(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

#endif
