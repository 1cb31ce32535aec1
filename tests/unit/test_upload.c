/*
 * test_upload.c - file names, SQL arrays (shared/upload.c), and the files
 * program's Content-Disposition and URL signatures (fcgi/files/download.c).
 */
#include "upload.c"

#include "../../fcgi/files/download.c"

#include "token.h"
#include "unit.h"
#include "utf8.h"

#define S(lit) (lit), sizeof(lit) - 1

static const char *clean(struct arena *a, const char *s, size_t len)
{
	size_t n;
	const char *out = upload_clean_name(a, s, len, &n);
	if (strlen(out) != n)
		unit_fail(__FILE__, __LINE__, "length %zu for \"%s\"", n, out);
	return out;
}

TEST(clean_name_keeps_ordinary_names)
{
	struct arena *a = arena_new();
	CHECK_STR_EQ(clean(a, S("report.pdf")), "report.pdf");
	CHECK_STR_EQ(clean(a, S("отчёт 2026.docx")), "отчёт 2026.docx");
	CHECK_STR_EQ(clean(a, S(".bashrc")), ".bashrc");
	CHECK_STR_EQ(clean(a, S("a;b,c'd.txt")), "a;b,c'd.txt");
	arena_free(a);
}

TEST(clean_name_drops_directories)
{
	struct arena *a = arena_new();
	CHECK_STR_EQ(clean(a, S("../../etc/passwd")), "passwd");
	CHECK_STR_EQ(clean(a, S("C:\\Users\\me\\photo.jpg")), "photo.jpg");
	CHECK_STR_EQ(clean(a, S("dir/")), "file");
	CHECK_STR_EQ(clean(a, S("..")), "file");
	CHECK_STR_EQ(clean(a, S(".")), "file");
	CHECK_STR_EQ(clean(a, S("a/..")), "file");
	arena_free(a);
}

TEST(clean_name_reads_browser_quotes)
{
	struct arena *a = arena_new();
	CHECK_STR_EQ(clean(a, S("say %22hi%22.txt")), "say \"hi\".txt");
	CHECK_STR_EQ(clean(a, S("100%.txt")), "100%.txt");
	CHECK_STR_EQ(clean(a, S("%2F.txt")), "%2F.txt");
	arena_free(a);
}

TEST(clean_name_drops_controls_and_overrides)
{
	struct arena *a = arena_new();
	CHECK_STR_EQ(clean(a, S("a\tb\x7f" "c\xc2\x85" "d.txt")), "abcd.txt");
	/* U+202E RIGHT-TO-LEFT OVERRIDE would make "evil<RLO>txt.exe" read as "evilexe.txt" */
	CHECK_STR_EQ(clean(a, S("evil\xe2\x80\xaetxt.exe")), "eviltxt.exe");
	CHECK_STR_EQ(clean(a, S("\xef\xbb\xbf" "bom.txt")), "bom.txt");
	arena_free(a);
}

TEST(clean_name_replaces_invalid_utf8)
{
	struct arena *a = arena_new();
	CHECK_STR_EQ(clean(a, S("a\xff.txt")), "a\xef\xbf\xbd.txt");
	CHECK_STR_EQ(clean(a, S("\xc0\xaf.txt")), "\xef\xbf\xbd\xef\xbf\xbd.txt"); /* overlong */
	CHECK_STR_EQ(clean(a, S("\xed\xa0\x80")), "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
	CHECK_STR_EQ(clean(a, S("cut\xe2\x82")), "cut\xef\xbf\xbd\xef\xbf\xbd");
	arena_free(a);
}

TEST(clean_name_trims_and_defaults)
{
	struct arena *a = arena_new();
	CHECK_STR_EQ(clean(a, S("  name.txt \xc2\xa0")), "name.txt");
	CHECK_STR_EQ(clean(a, S("")), "file");
	CHECK_STR_EQ(clean(a, S("\x01\x02")), "file");
	CHECK_STR_EQ(clean(a, S("   ")), "file");
	arena_free(a);
}

TEST(clean_name_cuts_long_names_at_a_character)
{
	struct arena *a = arena_new();
	char buf[1200];
	size_t n = 0;
	for (int i = 0; i < 300; i++)
		buf[n++] = 'x';
	memcpy(buf + n, ".tar.gz", 7);
	n += 7;
	const char *out = clean(a, buf, n);
	CHECK_UINT_EQ(strlen(out), UPLOAD_NAME_MAX);
	CHECK(strcmp(out + UPLOAD_NAME_MAX - 3, ".gz") == 0);

	/* 200 two-byte letters: cut at 255 bytes would split one */
	n = 0;
	for (int i = 0; i < 200; i++) {
		memcpy(buf + n, "\xd0\xb6", 2);
		n += 2;
	}
	out = clean(a, buf, n);
	CHECK(strlen(out) <= UPLOAD_NAME_MAX && strlen(out) >= UPLOAD_NAME_MAX - 1);
	CHECK(utf8_valid(out, strlen(out)));

	/* a long "extension" is not one */
	n = 0;
	buf[n++] = 'a';
	buf[n++] = '.';
	for (int i = 0; i < 400; i++)
		buf[n++] = 'e';
	out = clean(a, buf, n);
	CHECK_UINT_EQ(strlen(out), UPLOAD_NAME_MAX);
	CHECK(strncmp(out, "a.eee", 5) == 0);
	arena_free(a);
}

TEST(sql_arrays_quote_and_escape)
{
	struct arena *a = arena_new();
	struct upload_file files[2] = {
		{.key = "0123456789abcdef0123456789abcdef", .name = "a \"b\" \\c", .size = 5,
		 .mime = "text/plain"},
		{.key = "fedcba9876543210fedcba9876543210", .name = "{x,y}", .size = 0,
		 .mime = "application/x-empty"},
	};
	files[0].name_len = strlen(files[0].name);
	files[1].name_len = strlen(files[1].name);
	struct upload up = {.files = files, .nfiles = 2};
	const char *out[4];
	upload_sql_arrays(a, &up, out);
	CHECK_STR_EQ(out[0], "{\"a \\\"b\\\" \\\\c\",\"{x,y}\"}");
	CHECK_STR_EQ(out[1], "{5,0}");
	CHECK_STR_EQ(out[2], "{\"text/plain\",\"application/x-empty\"}");
	CHECK_STR_EQ(out[3],
		     "{\"0123456789abcdef0123456789abcdef\",\"fedcba9876543210fedcba9876543210\"}");
	up.nfiles = 0;
	upload_sql_arrays(a, &up, out);
	CHECK_STR_EQ(out[0], "{}");
	arena_free(a);
}

TEST(disposition_inline_and_attachment)
{
	struct arena *a = arena_new();
	CHECK_STR_EQ(files_disposition(a, true, S("photo.png")),
		     "inline; filename=\"photo.png\"; filename*=UTF-8''photo.png");
	CHECK_STR_EQ(files_disposition(a, false, S("my \"report\" 100%.pdf")),
		     "attachment; filename=\"my _report_ 100_.pdf\"; "
		     "filename*=UTF-8''my%20%22report%22%20100%25.pdf");
	CHECK_STR_EQ(files_disposition(a, false, S("отчёт;x\\y.txt")),
		     "attachment; filename=\"_____;x_y.txt\"; "
		     "filename*=UTF-8''%D0%BE%D1%82%D1%87%D1%91%D1%82%3Bx%5Cy.txt");
	CHECK_STR_EQ(files_disposition(a, false, S("\xf0\x9f\x98\x80")),
		     "attachment; filename=\"_\"; filename*=UTF-8''%F0%9F%98%80");
	arena_free(a);
}

TEST(inline_types)
{
	CHECK(files_inline_type("image/png"));
	CHECK(files_inline_type("image/jpeg"));
	CHECK(files_inline_type("image/gif"));
	CHECK(files_inline_type("image/webp"));
	CHECK(!files_inline_type("image/svg+xml"));
	CHECK(!files_inline_type("text/html"));
	CHECK(!files_inline_type("image/png2"));
}

static enum msgr_err check_sig(struct arena *a, int64_t id, const char *query, long long now)
{
	struct http_req req = {.arena = a, .query = query};
	return files_check_signature(&req, id, now);
}

TEST(signatures)
{
	static const unsigned char secret[] = "0123456789abcdef0123456789abcdef";
	REQUIRE(token_init(secret, sizeof secret - 1) == MSGR_OK);
	struct arena *a = arena_new();
	char sig[2 * TOKEN_HASH_LEN + 1];
	token_hmac_hex(S("42:1800000000"), sig);
	const char *q = arena_printf(a, "exp=1800000000&sig=%s", sig);
	CHECK_INT_EQ(check_sig(a, 42, q, 1700000000), MSGR_OK);
	CHECK_INT_EQ(check_sig(a, 42, q, 1800000000), MSGR_ERR_EXPIRED);
	CHECK_INT_EQ(check_sig(a, 43, q, 1700000000), MSGR_ERR_CRYPTO);
	CHECK_INT_EQ(check_sig(a, 42, arena_printf(a, "exp=1800000001&sig=%s", sig), 1700000000),
		     MSGR_ERR_CRYPTO);
	CHECK_INT_EQ(check_sig(a, 42, arena_printf(a, "exp=01800000000&sig=%s", sig), 1700000000),
		     MSGR_ERR_CRYPTO);
	CHECK_INT_EQ(check_sig(a, 42, arena_printf(a, "exp=+1800000000&sig=%s", sig), 1700000000),
		     MSGR_ERR_CRYPTO);
	CHECK_INT_EQ(check_sig(a, 42, "exp=1800000000", 1700000000), MSGR_ERR_CRYPTO);
	CHECK_INT_EQ(check_sig(a, 42, arena_printf(a, "sig=%s", sig), 1700000000), MSGR_ERR_CRYPTO);
	CHECK_INT_EQ(check_sig(a, 42, arena_printf(a, "exp=1800000000&sig=%.63s", sig), 1700000000),
		     MSGR_ERR_CRYPTO);
	char upper[sizeof sig];
	for (size_t i = 0; i < sizeof sig; i++)
		upper[i] = (char)(sig[i] >= 'a' && sig[i] <= 'f' ? sig[i] - 32 : sig[i]);
	CHECK_INT_EQ(check_sig(a, 42, arena_printf(a, "exp=1800000000&sig=%s", upper), 1700000000),
		     MSGR_ERR_CRYPTO);
	CHECK_INT_EQ(check_sig(a, 42, arena_printf(a, "exp=99999999999999&sig=%s", sig), 1700000000),
		     MSGR_ERR_CRYPTO);
	arena_free(a);
}
