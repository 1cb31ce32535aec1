/*
 * test_s3sign.c - SigV4 presigning (shared/s3sign.c) against AWS's published
 * test vectors: the get-vanilla-query family of the SigV4 test suite
 * (credentials AKIDEXAMPLE, 20150830T123600Z, us-east-1, service "service":
 * canonical request, string to sign and signature of each) and the
 * presigned GET of S3's "Authenticating Requests: Using Query Parameters"
 * (examplebucket/test.txt, 20130524T000000Z, 86400 s).
 */
#include "s3sign.c"

#include "unit.h"

#define SUITE_SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define SUITE_DATE "20150830T123600Z"
#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

/* One vector of the suite: the query as pairs (decoded), what the suite
 * states for each step. The headers are host and x-amz-date, as in every
 * get-vanilla-query request. */
static void check_suite_vector(const struct s3sign_pair *q, size_t n, const char *want_query,
			       const char *want_sts_hash, const char *want_signature)
{
	struct buf query = {0}, creq = {0}, sts = {0}, want_sts = {0};
	REQUIRE(s3sign_canonical_query(&query, q, n) == MSGR_OK);
	CHECK_STR_EQ(buf_cstr(&query) ? buf_cstr(&query) : "", want_query);
	buf_printf(&creq,
		   "GET\n/\n%s\nhost:example.amazonaws.com\nx-amz-date:" SUITE_DATE
		   "\n\nhost;x-amz-date\n" EMPTY_SHA256,
		   buf_cstr(&query) ? buf_cstr(&query) : "");
	s3sign_string_to_sign(&sts, SUITE_DATE, "us-east-1", "service", buf_cstr(&creq));
	buf_printf(&want_sts, "AWS4-HMAC-SHA256\n" SUITE_DATE "\n20150830/us-east-1/service/aws4_request\n%s",
		   want_sts_hash);
	CHECK_STR_EQ(buf_cstr(&sts), buf_cstr(&want_sts));
	char sig[S3SIGN_HEX_LEN + 1];
	REQUIRE(s3sign_signature(sig, SUITE_SECRET, SUITE_DATE, "us-east-1", "service", buf_cstr(&sts)) ==
		MSGR_OK);
	CHECK_STR_EQ(sig, want_signature);
	buf_free(&query);
	buf_free(&creq);
	buf_free(&sts);
	buf_free(&want_sts);
}

TEST(get_vanilla_query)
{
	check_suite_vector(NULL, 0, "",
			   "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63",
			   "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
}

TEST(get_vanilla_query_order_key_case)
{
	const struct s3sign_pair q[] = {{"Param2", "value2"}, {"Param1", "value1"}};
	check_suite_vector(q, 2, "Param1=value1&Param2=value2",
			   "816cd5b414d056048ba4f7c5386d6e0533120fb1fcfa93762cf0fc39e2cf19e0",
			   "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500");
}

TEST(get_vanilla_query_order_encoded)
{
	/* Sorted by the encoded name: "%E1..." before "Param", and a name
	 * before a longer one it begins ("Param" before "Param-3"). */
	const struct s3sign_pair q[] = {
		{"Param-3", "Value3"}, {"Param", "Value2"}, {"\xe1\x88\xb4", "Value1"}};
	check_suite_vector(q, 3, "%E1%88%B4=Value1&Param=Value2&Param-3=Value3",
			   "868294f5c38bd141c4972a373a76654f1418a8e4fc18b2e7903ae45e8ae0ec71",
			   "371d3713e185cc334048618a97f809c9ffe339c62934c032af5a0e595648fcac");
}

TEST(get_vanilla_query_unreserved)
{
	const char *u = "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
	const struct s3sign_pair q[] = {{u, u}};
	check_suite_vector(q, 1,
			   "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz="
			   "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
			   "c30d4703d9f799439be92736156d47ccfb2d879ddf56f5befa6d1d6aab979177",
			   "9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197");
}

TEST(get_vanilla_utf8_query)
{
	const struct s3sign_pair q[] = {{"\xe1\x88\xb4", "bar"}};
	check_suite_vector(q, 1, "%E1%88%B4=bar",
			   "eb30c5bed55734080471a834cc727ae56beb50e5f39d1bff6d0d38cb192a7073",
			   "2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04");
}

TEST(query_sorts_equal_names_by_value)
{
	const struct s3sign_pair q[] = {{"a", "2"}, {"b", ""}, {"a", "1"}};
	struct buf out = {0};
	REQUIRE(s3sign_canonical_query(&out, q, 3) == MSGR_OK);
	CHECK_STR_EQ(buf_cstr(&out), "a=1&a=2&b=");
	buf_free(&out);
}

TEST(uri_encode_keeps_slash_only_in_paths)
{
	struct buf a = {0}, b = {0};
	const char s[] = "/a b/ü+*%~";
	s3sign_uri_encode(&a, s, sizeof s - 1, true);
	s3sign_uri_encode(&b, s, sizeof s - 1, false);
	CHECK_STR_EQ(buf_cstr(&a), "/a%20b/%C3%BC%2B%2A%25~");
	CHECK_STR_EQ(buf_cstr(&b), "%2Fa%20b%2F%C3%BC%2B%2A%25~");
	buf_free(&a);
	buf_free(&b);
}

TEST(amz_date)
{
	char d[17];
	s3sign_amz_date(d, 1369353600); /* 2013-05-24T00:00:00Z */
	CHECK_STR_EQ(d, "20130524T000000Z");
	s3sign_amz_date(d, 1440938160); /* 2015-08-30T12:36:00Z */
	CHECK_STR_EQ(d, SUITE_DATE);
}

static struct s3sign_presign s3_example(void)
{
	return (struct s3sign_presign){
		.method = "GET",
		.endpoint = "https://examplebucket.s3.amazonaws.com",
		.path = "/test.txt",
		.access_key = "AKIAIOSFODNN7EXAMPLE",
		.secret_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
		.region = "us-east-1",
		.service = "s3",
		.now = 1369353600,
		.expires = 86400,
	};
}

TEST(s3_presigned_get_example)
{
	struct s3sign_presign p = s3_example();
	struct buf url = {0}, creq = {0};
	REQUIRE(s3sign_presign(&url, &p, &creq) == MSGR_OK);
	CHECK_STR_EQ(buf_cstr(&creq),
		     "GET\n/test.txt\n"
		     "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2F"
		     "us-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&"
		     "X-Amz-SignedHeaders=host\n"
		     "host:examplebucket.s3.amazonaws.com\n\nhost\nUNSIGNED-PAYLOAD");
	CHECK_STR_EQ(buf_cstr(&url),
		     "https://examplebucket.s3.amazonaws.com/test.txt"
		     "?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2F"
		     "us-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&"
		     "X-Amz-SignedHeaders=host"
		     "&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404");
	/* The string to sign AWS states for it. */
	struct buf sts = {0};
	s3sign_string_to_sign(&sts, "20130524T000000Z", "us-east-1", "s3", buf_cstr(&creq));
	CHECK_STR_EQ(buf_cstr(&sts), "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n"
				     "3bfa292879f6447bbcda7001decf97f4a54dc650c8942174ae0a9121cf58ad04");
	buf_free(&url);
	buf_free(&creq);
	buf_free(&sts);
}

TEST(presign_host_drops_only_the_default_port)
{
	struct s3sign_presign p = s3_example();
	struct buf url = {0}, creq = {0};
	p.endpoint = "https://examplebucket.s3.amazonaws.com:443";
	REQUIRE(s3sign_presign(&url, &p, &creq) == MSGR_OK);
	CHECK(strstr(buf_cstr(&creq), "\nhost:examplebucket.s3.amazonaws.com\n") != NULL);
	/* Same signature as the example: :443 is what https means anyway. */
	CHECK(strstr(buf_cstr(&url), "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"));
	buf_free(&url);
	buf_free(&creq);
	p.endpoint = "http://127.0.0.1:9000";
	p.path = "/bucket/ab/c d";
	REQUIRE(s3sign_presign(&url, &p, &creq) == MSGR_OK);
	CHECK(strstr(buf_cstr(&creq), "GET\n/bucket/ab/c%20d\n") == buf_cstr(&creq));
	CHECK(strstr(buf_cstr(&creq), "\nhost:127.0.0.1:9000\n") != NULL);
	CHECK(strncmp(buf_cstr(&url), "http://127.0.0.1:9000/bucket/ab/c%20d?X-Amz-Algorithm=", 53) == 0);
	buf_free(&url);
	buf_free(&creq);
}

TEST(presign_signs_extra_parameters_in_order)
{
	struct s3sign_presign p = s3_example();
	const struct s3sign_pair q[] = {{"response-content-disposition", "attachment; filename=\"a b\""}};
	p.query = q;
	p.nquery = 1;
	struct buf url = {0}, creq = {0};
	REQUIRE(s3sign_presign(&url, &p, &creq) == MSGR_OK);
	/* Upper-case X-Amz-* sort before lower-case names. */
	CHECK(strstr(buf_cstr(&creq),
		     "X-Amz-SignedHeaders=host&response-content-disposition=attachment%3B%20filename%3D%22a%20b%22\n"));
	CHECK(strstr(buf_cstr(&url), "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404") == NULL);
	buf_free(&url);
	buf_free(&creq);
}

TEST(presign_refuses_bad_endpoints_and_expiries)
{
	static const char *const bad[] = {"examplebucket.s3.amazonaws.com", "ftp://h", "http://",
					  "http://h/path", "http://u@h", "http://h?x", "https://h h"};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		struct s3sign_presign p = s3_example();
		struct buf url = {0};
		p.endpoint = bad[i];
		CHECK_UINT_EQ(s3sign_presign(&url, &p, NULL), MSGR_ERR_CONFIG);
		CHECK_UINT_EQ(url.len, 0);
		buf_free(&url);
	}
	struct s3sign_presign p = s3_example();
	struct buf url = {0};
	p.expires = 0;
	CHECK_UINT_EQ(s3sign_presign(&url, &p, NULL), MSGR_ERR_CONFIG);
	p.expires = S3SIGN_MAX_EXPIRES + 1;
	CHECK_UINT_EQ(s3sign_presign(&url, &p, NULL), MSGR_ERR_CONFIG);
	p.expires = S3SIGN_MAX_EXPIRES;
	CHECK_UINT_EQ(s3sign_presign(&url, &p, NULL), MSGR_OK);
	buf_free(&url);
	char long_secret[S3SIGN_MAX_SECRET + 2];
	memset(long_secret, 'k', sizeof long_secret - 1);
	long_secret[sizeof long_secret - 1] = '\0';
	p.secret_key = long_secret;
	CHECK_UINT_EQ(s3sign_presign(&url, &p, NULL), MSGR_ERR_CONFIG);
	buf_free(&url);
}
