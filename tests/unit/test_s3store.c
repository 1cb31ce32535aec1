/*
 * test_s3store.c - the "s3://" MSGR_STORAGE_URL parser (shared/s3store.c).
 * The requests themselves are tested against a real S3-compatible server
 * (tests/integration/test_files.py with MSGR_TEST_STORAGE=s3).
 */
#include "s3store.c"

#include "unit.h"

static enum msgr_err parse(const char *url, struct s3store_conf *c, const char **why)
{
	*why = NULL;
	return s3store_parse_url(url, c, why);
}

TEST(path_style_endpoint)
{
	struct s3store_conf c;
	const char *why;
	REQUIRE(parse("s3://msgr-files?endpoint=http://127.0.0.1:9000&region=eu-west-3&path_style=1",
		      &c, &why) == MSGR_OK);
	CHECK_STR_EQ(c.bucket, "msgr-files");
	CHECK_STR_EQ(c.region, "eu-west-3");
	CHECK_STR_EQ(c.endpoint, "http://127.0.0.1:9000");
	CHECK_STR_EQ(c.base_path, "/msgr-files");
}

TEST(defaults_are_aws_virtual_hosted)
{
	struct s3store_conf c;
	const char *why;
	REQUIRE(parse("s3://msgr-files", &c, &why) == MSGR_OK);
	CHECK_STR_EQ(c.region, "us-east-1");
	CHECK_STR_EQ(c.endpoint, "https://msgr-files.s3.us-east-1.amazonaws.com");
	CHECK_STR_EQ(c.base_path, "");
	REQUIRE(parse("s3://abc/?region=eu-central-1", &c, &why) == MSGR_OK);
	CHECK_STR_EQ(c.endpoint, "https://abc.s3.eu-central-1.amazonaws.com");
}

TEST(encoded_endpoint_and_trailing_slash)
{
	struct s3store_conf c;
	const char *why;
	REQUIRE(parse("s3://b.b.b?endpoint=https%3A%2F%2Fminio.example%3A9000%2F&path_style=1", &c,
		      &why) == MSGR_OK);
	CHECK_STR_EQ(c.endpoint, "https://minio.example:9000");
	CHECK_STR_EQ(c.base_path, "/b.b.b");
}

TEST(refuses_what_would_go_wrong_later)
{
	static const char *const bad[] = {
		"",
		"http://bucket",
		"s3://",
		"s3://ab",                                  /* too short */
		"s3://Bucket",                              /* upper case */
		"s3://-bucket",
		"s3://bucket-",
		"s3://bucket/prefix",                       /* no key prefix */
		"s3://bucket?endpoint=ftp://h",
		"s3://bucket?endpoint=http://h/path",
		"s3://bucket?endpoint=http://user:pw@h",
		"s3://bucket?endpoint=http://",
		"s3://bucket?region=EU",
		"s3://bucket?region=",
		"s3://bucket?path_style=yes",
		"s3://bucket?region=a&region=b",            /* repeated */
		"s3://bucket?acl=public-read",              /* unknown */
		"s3://bucket?endpoint=http://h%00x",        /* a NUL inside */
		"s3://bucket?endpoint=http://h%zz",         /* not percent-encoded */
		"s3://b.b?endpoint=https://h",              /* dots need path_style */
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		struct s3store_conf c;
		const char *why;
		if (parse(bad[i], &c, &why) != MSGR_ERR_MALFORMED || !why)
			fprintf(stderr, "accepted: %s\n", bad[i]);
		CHECK_UINT_EQ(parse(bad[i], &c, &why), MSGR_ERR_MALFORMED);
		CHECK(why != NULL);
	}
}
