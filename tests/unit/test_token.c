/*
 * test_token.c - access tokens, refresh tokens, hashes (shared/token.c).
 * libjwt 1.10's pitfalls are each checked: other HS algorithms, alg none,
 * missing or past exp, nbf, and a token that is not an access token.
 */
#include "token.c"

#include "unit.h"

static const unsigned char key[] = "0123456789abcdef0123456789abcdef0123";

static void init_key(void)
{
	CHECK(token_init(key, sizeof key - 1) == MSGR_OK);
}

/* Signs claims with alg (and our key) using libjwt directly. */
static char *sign(jwt_alg_t alg, const char *claims_json)
{
	jwt_t *jwt;
	if (jwt_new(&jwt))
		return NULL;
	jwt_add_grants_json(jwt, claims_json);
	if (alg != JWT_ALG_NONE)
		jwt_set_alg(jwt, alg, key, sizeof key - 1);
	char *out = jwt_encode_str(jwt);
	jwt_free(jwt);
	return out;
}

TEST(short_secret_refused)
{
	CHECK(token_init((const unsigned char *)"short", 5) == MSGR_ERR_CONFIG);
	CHECK(token_init(key, 31) == MSGR_ERR_CONFIG);
	init_key();
}

TEST(issue_and_verify)
{
	init_key();
	char *t = token_issue_access(42, 0, 1000000);
	REQUIRE(t != NULL);
	int64_t uid = 0;
	time_t exp = 0;
	CHECK(token_verify_access(t, 1000000, &uid, &exp, NULL) == MSGR_OK);
	CHECK_INT_EQ(uid, 42);
	CHECK_INT_EQ(exp, 1000000 + 900);
	CHECK(token_verify_access(t, 1000000 + 899, &uid, NULL, NULL) == MSGR_OK);
	CHECK(token_verify_access(t, 1000000 + 900, &uid, NULL, NULL) == MSGR_ERR_EXPIRED);
	free(t);
}

TEST(tampered_signature)
{
	init_key();
	char *t = token_issue_access(7, 0, 1000);
	REQUIRE(t != NULL);
	size_t n = strlen(t);
	t[n - 2] = t[n - 2] == 'A' ? 'B' : 'A';
	int64_t uid;
	CHECK(token_verify_access(t, 1000, &uid, NULL, NULL) != MSGR_OK);
	free(t);
}

/* The second check of a token is answered from the verified tokens: it
 * must answer exactly what the first did. */
TEST(verified_tokens_answer_as_the_check)
{
	init_key();
	char *t = token_issue_access(9, 0, 5000);
	REQUIRE(t != NULL);
	int64_t uid = 0;
	time_t exp = 0;
	CHECK(token_verify_access(t, 5000, &uid, &exp, NULL) == MSGR_OK);
	uid = 0;
	exp = 0;
	CHECK(token_verify_access(t, 5001, &uid, &exp, NULL) == MSGR_OK);
	CHECK_INT_EQ(uid, 9);
	CHECK_INT_EQ(exp, 5000 + 900);
	CHECK(token_verify_access(t, 5000 + 900, &uid, NULL, NULL) == MSGR_ERR_EXPIRED);

	/* One character off, after the good one was kept. */
	size_t n = strlen(t);
	for (size_t i = n - 3; i < n - 1; i++) { /* the last one holds padding bits */
		char was = t[i];
		t[i] = was == 'A' ? 'B' : 'A';
		CHECK(token_verify_access(t, 5001, &uid, NULL, NULL) != MSGR_OK);
		t[i] = was;
	}
	CHECK(token_verify_access(t, 5001, &uid, NULL, NULL) == MSGR_OK);

	/* A prefix or an extension of a kept token is another token. */
	char *longer = malloc(n + 2);
	REQUIRE(longer != NULL);
	memcpy(longer, t, n);
	memcpy(longer + n, "A", 2);
	CHECK(token_verify_access(longer, 5001, &uid, NULL, NULL) != MSGR_OK);
	longer[n - 1] = '\0';
	CHECK(token_verify_access(longer, 5001, &uid, NULL, NULL) != MSGR_OK);
	free(longer);

	/* Not before its nbf, even once kept. */
	char *later = sign(JWT_ALG_HS256,
			   "{\"sub\":\"3\",\"typ\":\"access\",\"exp\":9000,\"nbf\":6000}");
	REQUIRE(later != NULL);
	CHECK(token_verify_access(later, 6000, &uid, NULL, NULL) == MSGR_OK);
	CHECK(token_verify_access(later, 5999, &uid, NULL, NULL) != MSGR_OK);
	free(later);

	/* A new key forgets what the old one verified. */
	static const unsigned char other[] = "another key, just as long as the first one";
	CHECK(token_init(other, sizeof other - 1) == MSGR_OK);
	CHECK(token_verify_access(t, 5001, &uid, NULL, NULL) != MSGR_OK);
	init_key();
	CHECK(token_verify_access(t, 5001, &uid, NULL, NULL) == MSGR_OK);
	free(t);
}

TEST(other_algorithms_refused)
{
	init_key();
	const char *claims = "{\"sub\":\"1\",\"exp\":99999999999,\"typ\":\"access\"}";
	int64_t uid;
	char *t = sign(JWT_ALG_HS256, claims);
	CHECK(token_verify_access(t, 1000, &uid, NULL, NULL) == MSGR_OK);
	free(t);
	t = sign(JWT_ALG_HS384, claims);
	CHECK(token_verify_access(t, 1000, &uid, NULL, NULL) != MSGR_OK);
	free(t);
	t = sign(JWT_ALG_HS512, claims);
	CHECK(token_verify_access(t, 1000, &uid, NULL, NULL) != MSGR_OK);
	free(t);
	t = sign(JWT_ALG_NONE, claims);
	REQUIRE(t != NULL);
	CHECK(token_verify_access(t, 1000, &uid, NULL, NULL) != MSGR_OK);
	free(t);
}

TEST(claims_checked)
{
	init_key();
	int64_t uid;
	struct {
		const char *claims;
		enum msgr_err want;
	} cases[] = {
		{"{\"sub\":\"1\",\"typ\":\"access\"}", MSGR_ERR_MALFORMED},             /* no exp */
		{"{\"sub\":\"1\",\"exp\":999,\"typ\":\"access\"}", MSGR_ERR_EXPIRED},   /* past */
		{"{\"sub\":\"1\",\"exp\":99999999999}", MSGR_ERR_MALFORMED},             /* no typ */
		{"{\"sub\":\"1\",\"exp\":99999999999,\"typ\":\"refresh\"}", MSGR_ERR_MALFORMED},
		{"{\"exp\":99999999999,\"typ\":\"access\"}", MSGR_ERR_MALFORMED},        /* no sub */
		{"{\"sub\":\"0\",\"exp\":99999999999,\"typ\":\"access\"}", MSGR_ERR_MALFORMED},
		{"{\"sub\":\"x\",\"exp\":99999999999,\"typ\":\"access\"}", MSGR_ERR_MALFORMED},
		{"{\"sub\":\"1\",\"exp\":99999999999,\"nbf\":5000,\"typ\":\"access\"}",
		 MSGR_ERR_EXPIRED}, /* not yet valid */
		{"{\"sub\":\"1\",\"exp\":99999999999,\"nbf\":500,\"typ\":\"access\"}", MSGR_OK},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *t = sign(JWT_ALG_HS256, cases[i].claims);
		REQUIRE(t != NULL);
		enum msgr_err got = token_verify_access(t, 1000, &uid, NULL, NULL);
		if (got != cases[i].want)
			unit_fail(__FILE__, __LINE__, "%s: got %s, expected %s", cases[i].claims,
				  msgr_strerror(got), msgr_strerror(cases[i].want));
		free(t);
	}
}

TEST(garbage_refused)
{
	init_key();
	int64_t uid;
	CHECK(token_verify_access("", 1000, &uid, NULL, NULL) != MSGR_OK);
	CHECK(token_verify_access("a.b.c", 1000, &uid, NULL, NULL) != MSGR_OK);
	CHECK(token_verify_access("....", 1000, &uid, NULL, NULL) != MSGR_OK);
	char big[4096];
	memset(big, 'a', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	CHECK(token_verify_access(big, 1000, &uid, NULL, NULL) == MSGR_ERR_MALFORMED);
}

TEST(refresh_tokens_are_random_base64url)
{
	char a[TOKEN_REFRESH_LEN + 1], b[TOKEN_REFRESH_LEN + 1];
	CHECK(token_new_refresh(a) == MSGR_OK);
	CHECK(token_new_refresh(b) == MSGR_OK);
	CHECK_UINT_EQ(strlen(a), 43);
	CHECK(strcmp(a, b) != 0);
	for (size_t i = 0; i < 43; i++)
		CHECK(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", a[i]));
	/* 256 bits in 43 characters: the last carries 4 bits and 2 zero bits,
	 * so it is one of the 16 characters whose low 2 bits are zero. */
	CHECK(strchr("AEIMQUYcgkosw048", a[42]) != NULL);
}

/* Encodes len bytes and checks the text. */
static void check_b64(const void *in, size_t len, const char *want)
{
	char out[64];
	CHECK_UINT_EQ(base64url_encode(out, in, len), strlen(want));
	CHECK_STR_EQ(out, want);
}

TEST(base64url_known_answers)
{
	/* RFC 4648 section 10, without the padding */
	check_b64("", 0, "");
	check_b64("f", 1, "Zg");
	check_b64("fo", 2, "Zm8");
	check_b64("foo", 3, "Zm9v");
	check_b64("foob", 4, "Zm9vYg");
	check_b64("fooba", 5, "Zm9vYmE");
	check_b64("foobar", 6, "Zm9vYmFy");
	/* the two characters of the URL alphabet ("+/8=" in base64) */
	check_b64("\xfb\xff", 2, "-_8");
	/* a refresh token's length, and its last character's spare bits zero */
	unsigned char raw[32];
	for (size_t i = 0; i < sizeof raw; i++)
		raw[i] = (unsigned char)i;
	check_b64(raw, sizeof raw, "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8");
	memset(raw, 0xff, sizeof raw);
	check_b64(raw, sizeof raw, "__________________________________________8");
}

TEST(sha256_and_hmac_known_answers)
{
	char out[65];
	token_sha256_hex("abc", 3, out);
	CHECK_STR_EQ(out, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	/* The expected value is Python's hmac.new(key, msg, sha256) for the
	 * 36-byte test key (the RFC 4231 vectors use keys shorter than ours). */
	init_key();
	token_hmac_hex("what do ya want for nothing?", 28, out);
	CHECK_STR_EQ(out, "9ad8b8a4f72267f1b839e057b2f352cb74161dceafd0e6016c90733128d42957");
	CHECK(token_equal("abc", "abc", 3));
	CHECK(!token_equal("abc", "abd", 3));
}

TEST(reset_link_under_the_public_url)
{
	static const struct {
		const char *base, *want;
	} cases[] = {
		{"https://chat.example.org", "https://chat.example.org/#/reset?token=tok"},
		{"https://chat.example.org//", "https://chat.example.org/#/reset?token=tok"},
		{"https://example.org/chat/", "https://example.org/chat/#/reset?token=tok"},
		{NULL, "http://localhost:8080/#/reset?token=tok"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		if (cases[i].base)
			setenv("MSGR_PUBLIC_URL", cases[i].base, 1);
		else
			unsetenv("MSGR_PUBLIC_URL");
		char *link = token_reset_link("tok");
		REQUIRE(link != NULL);
		CHECK_STR_EQ(link, cases[i].want);
		free(link);
	}
	unsetenv("MSGR_PUBLIC_URL");
}

TEST(session_id_carried)
{
	init_key();
	char *t = token_issue_access(42, 77, 1000);
	REQUIRE(t != NULL);
	int64_t uid = 0, sid = 0;
	CHECK(token_verify_access(t, 1000, &uid, NULL, &sid) == MSGR_OK);
	CHECK_INT_EQ(uid, 42);
	CHECK_INT_EQ(sid, 77);
	/* Again, from the kept tokens: the same sid. */
	sid = 0;
	CHECK(token_verify_access(t, 1001, &uid, NULL, &sid) == MSGR_OK);
	CHECK_INT_EQ(sid, 77);
	free(t);
}

TEST(token_without_sid_still_valid)
{
	init_key();
	char *t = token_issue_access(5, 0, 1000);
	REQUIRE(t != NULL);
	int64_t uid = 0, sid = -1;
	CHECK(token_verify_access(t, 1000, &uid, NULL, &sid) == MSGR_OK);
	CHECK_INT_EQ(uid, 5);
	CHECK_INT_EQ(sid, 0);
	free(t);
}

TEST(bad_sid_refused)
{
	init_key();
	static const char *const bad[] = {
		"{\"sub\":\"1\",\"exp\":99999,\"typ\":\"access\",\"sid\":\"12\"}",
		"{\"sub\":\"1\",\"exp\":99999,\"typ\":\"access\",\"sid\":0}",
		"{\"sub\":\"1\",\"exp\":99999,\"typ\":\"access\",\"sid\":-3}",
		"{\"sub\":\"1\",\"exp\":99999,\"typ\":\"access\",\"sid\":1.5}",
		"{\"sub\":\"1\",\"exp\":99999,\"typ\":\"access\",\"sid\":null}",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char *t = sign(JWT_ALG_HS256, bad[i]);
		REQUIRE(t != NULL);
		int64_t uid, sid;
		CHECK(token_verify_access(t, 1000, &uid, NULL, &sid) == MSGR_ERR_MALFORMED);
		free(t);
	}
}
