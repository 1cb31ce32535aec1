/*
 * mailer - sends the mail outbox (schema/functions/mail.sql) over SMTP.
 *
 *   mailer [--socket PATH]
 *
 * One process, one database connection, one mail at a time: mail is a
 * trickle (password resets, notification digests), and several mailers,
 * on one host or several, share the outbox safely (below).
 *
 * Exactly once, as far as SMTP allows: a mail is claimed with FOR UPDATE
 * SKIP LOCKED in a transaction that stays open across the SMTP transaction
 * and marks the row sent before it commits. So
 *  - two mailers never send one row at once (the second skips it);
 *  - a mailer killed (kill -9, a crash, a lost host) before the SMTP server
 *    accepted the mail (its reply to the end of DATA) rolls back: the row
 *    is unsent and the next claim, by any mailer, sends it;
 *  - killed after the server accepted and before the commit, the row is
 *    sent again: a duplicate, with the same Message-ID (the row's), which
 *    is the one case SMTP cannot close (no two-phase commit with a relay).
 * A refused or failed send is tried again later (mail_failed(): backoff up
 * to an hour, given up after a day).
 * A stop (SIGTERM) cuts the SMTP transaction on the wire short, before the
 * server's acceptance, and rolls the claim back: no attempt counted, and
 * a stop never waits for a slow relay.
 *
 * Environment: MSGR_SMTP_URL (smtp://[user:password@]host[:port] -
 * STARTTLS when the server offers it, required with MSGR_SMTP_TLS=require -
 * or smtps://host[:465]: TLS from the start; AUTH with the URL's user and
 * password), MSGR_MAIL_FROM (default "Messenger <noreply@HOST>", HOST the
 * one of MSGR_PUBLIC_URL), MSGR_PUBLIC_URL, MSGR_DATABASE_URL,
 * MSGR_MAIL_POLL_SECONDS (how often it looks without a NOTIFY, default 30),
 * MSGR_MAIL_DIGEST_SECONDS (how often the digest job runs, default 60),
 * MSGR_SECRET_FILE (the key of the unsubscribe links it signs),
 * MSGR_MAIL_KEEP_DAYS and MSGR_MAIL_KEEP_FAILED_DAYS (how long the outbox
 * keeps a sent and a given-up mail, default 30 and 90: it prunes them, and
 * expired password resets, at its start and every hour, mail_prune()).
 *
 * The digest job: every MSGR_MAIL_DIGEST_SECONDS the mailer also queues
 * the notification digests that are due (schema/functions/mail.sql, "the
 * notification digest", argues why each message is mailed once and none
 * skipped). Each user's digest is one transaction of its own
 * (mail_digest_user() between BEGIN and COMMIT): a mailer killed in the
 * middle of a run leaves the users before done (their mail queued, their
 * watermarks moved) and the one in flight untouched, for the next run of
 * any mailer. Several mailers run it at once safely: a user's digest row is
 * locked FOR UPDATE SKIP LOCKED, so one builds it and the others pass.
 * It runs here because the mailer is already the one supervised, optional
 * program that exists for mail: no mail sender, no digests to queue.
 *
 * The socket (--socket, given by scripts/stack.sh like every program's) is
 * made once the database answered: it tells the supervisor that the
 * mailer is up. Nothing is served on it.
 */
#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <libpq-fe.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "config.h"
#include "db.h"
#include "log.h"
#include "message.h"
#include "token.h"

/* Longer than any SMTP transaction (CURLOPT_TIMEOUT): the claim's
 * transaction is idle while the mail is on the wire, and the application
 * role's default (10 s, scripts/migrate.sh) would end it. */
#define SMTP_TIMEOUT_S 60
#define IDLE_TX_SQL "SET idle_in_transaction_session_timeout = '90s'"
/* Users looked at per digest run: each is a transaction of its own and
 * makes progress, so the rest wait only for the next run. */
#define DIGEST_BATCH "200"
/* Rows of each kind mail_prune() deletes per transaction. */
#define PRUNE_BATCH "5000"
#define PRUNE_EVERY_S 3600.0

static volatile sig_atomic_t stopping;

static void on_stop(int sig)
{
	(void)sig;
	stopping = 1;
}

struct settings {
	const char *smtp_url;
	bool require_tls;
	char from[512];
	char envelope_from[320];
	char domain[256];
	long poll_s;
	long digest_s;
	long keep_days;
	long keep_failed_days;
	char public_url[1024]; /* MSGR_PUBLIC_URL without a final '/' */
	const char *socket;
};

/* The host of MSGR_PUBLIC_URL, without port or path. */
static void public_host(char *out, size_t cap)
{
	const char *url = config_str("MSGR_PUBLIC_URL", "http://localhost");
	const char *p = strstr(url, "://");
	p = p ? p + 3 : url;
	size_t n = strcspn(p, ":/?#");
	if (n == 0 || n >= cap) {
		snprintf(out, cap, "localhost");
		return;
	}
	memcpy(out, p, n);
	out[n] = '\0';
}

static int read_settings(int argc, char **argv, struct settings *s)
{
	static const struct option opts[] = {{"socket", required_argument, NULL, 's'}, {0}};
	int c;
	*s = (struct settings){0};
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c != 's') {
			fprintf(stderr, "usage: mailer [--socket PATH]\n");
			return 2;
		}
		s->socket = optarg;
	}
	s->smtp_url = config_str("MSGR_SMTP_URL", "");
	if (!*s->smtp_url) {
		log_error("MSGR_SMTP_URL is not set: nothing to send mail to");
		return 78; /* EX_CONFIG */
	}
	const char *tls = config_str("MSGR_SMTP_TLS", "try");
	if (strcmp(tls, "try") && strcmp(tls, "require")) {
		log_error("MSGR_SMTP_TLS must be try or require, not %s", tls);
		return 78;
	}
	s->require_tls = !strcmp(tls, "require");
	public_host(s->domain, sizeof s->domain);
	char fallback[sizeof s->from];
	snprintf(fallback, sizeof fallback, "Messenger <noreply@%s>", s->domain);
	snprintf(s->from, sizeof s->from, "%s", config_str("MSGR_MAIL_FROM", fallback));
	if (strpbrk(s->from, "\r\n") || !mail_address(s->from, s->envelope_from, sizeof s->envelope_from)) {
		log_error("MSGR_MAIL_FROM is not an address: %s", s->from);
		return 78;
	}
	s->poll_s = config_int("MSGR_MAIL_POLL_SECONDS", 30, 1, 3600);
	s->digest_s = config_int("MSGR_MAIL_DIGEST_SECONDS", 60, 1, 3600);
	s->keep_days = config_int("MSGR_MAIL_KEEP_DAYS", 30, 1, 3650);
	s->keep_failed_days = config_int("MSGR_MAIL_KEEP_FAILED_DAYS", 90, 1, 3650);
	const char *url = config_str("MSGR_PUBLIC_URL", "http://localhost");
	size_t n = strlen(url);
	while (n > 0 && url[n - 1] == '/')
		n--;
	if (n == 0 || n >= sizeof s->public_url || strpbrk(url, "\r\n\"<> ")) {
		log_error("MSGR_PUBLIC_URL is not a URL for links in mail: %s", url);
		return 78;
	}
	memcpy(s->public_url, url, n);
	s->public_url[n] = '\0';
	if (token_init_from_config() != MSGR_OK)
		return 78; /* said why */
	return -1;
}

struct reader {
	const char *data;
	size_t left;
};

static size_t read_cb(char *out, size_t size, size_t n, void *arg)
{
	struct reader *r = arg;
	size_t len = size * n < r->left ? size * n : r->left;
	memcpy(out, r->data, len);
	r->data += len;
	r->left -= len;
	return len;
}

/* A stop (SIGTERM) ends a transaction on the wire at once: before the
 * server's acceptance nothing was sent, and the claim rolls back. */
static int progress_cb(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
		       curl_off_t ulnow)
{
	(void)arg, (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
	return stopping ? 1 : 0;
}

/* Sends one message; "" when the server accepted it, else why not (in
 * err, for last_error). */
static bool smtp_send(const struct settings *s, const char *to, const struct buf *msg, char *err,
		      size_t cap)
{
	CURL *curl = curl_easy_init();
	if (!curl) {
		snprintf(err, cap, "curl_easy_init failed");
		return false;
	}
	char curl_err[CURL_ERROR_SIZE] = "";
	char rcpt_addr[400];
	snprintf(rcpt_addr, sizeof rcpt_addr, "<%s>", to);
	struct curl_slist *rcpt = curl_slist_append(NULL, rcpt_addr);
	struct reader r = {msg->data, msg->len};
	char from_addr[sizeof s->envelope_from + 2];
	snprintf(from_addr, sizeof from_addr, "<%s>", s->envelope_from);
	curl_easy_setopt(curl, CURLOPT_URL, s->smtp_url);
	/* smtp://: STARTTLS when the server offers it (or required); smtps://
	 * is TLS from the first byte whatever this says. */
	curl_easy_setopt(curl, CURLOPT_USE_SSL, s->require_tls ? (long)CURLUSESSL_ALL : (long)CURLUSESSL_TRY);
	curl_easy_setopt(curl, CURLOPT_MAIL_FROM, from_addr);
	curl_easy_setopt(curl, CURLOPT_MAIL_RCPT, rcpt);
	curl_easy_setopt(curl, CURLOPT_READFUNCTION, read_cb);
	curl_easy_setopt(curl, CURLOPT_READDATA, &r);
	curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT, (long)SMTP_TIMEOUT_S);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, progress_cb);
	curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, curl_err);
	CURLcode rc = curl_easy_perform(curl);
	if (rc != CURLE_OK) {
		long code = 0;
		curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
		snprintf(err, cap, "%s%s%s (SMTP %ld)", curl_easy_strerror(rc), *curl_err ? ": " : "",
			 curl_err, code);
	}
	curl_slist_free_all(rcpt);
	curl_easy_cleanup(curl);
	return rc == CURLE_OK;
}

static PGconn *connect_db(void)
{
	PGconn *c = db_connect_plain();
	if (!c)
		return NULL;
	PGresult *res = PQexec(c, IDLE_TX_SQL "; LISTEN msgr_mail");
	bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;
	PQclear(res);
	if (!ok) {
		log_error("could not set up the database session: %s", PQerrorMessage(c));
		PQfinish(c);
		return NULL;
	}
	return c;
}

static bool exec_ok(PGconn *c, const char *sql, int n, const char *const *params)
{
	PGresult *res = PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);
	ExecStatusType st = PQresultStatus(res);
	bool ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
	if (!ok)
		log_error("%s: %s", sql, PQerrorMessage(c));
	PQclear(res);
	return ok;
}

enum step { SENT_ONE, NOTHING_DUE, DB_FAILED };

/* Claims, sends and settles one mail, in one transaction. */
static enum step send_one(PGconn *c, const struct settings *s)
{
	if (!exec_ok(c, "BEGIN", 0, NULL))
		return DB_FAILED;
	PGresult *res = PQexecParams(c,
				     "SELECT c.id, c.to_addr, c.subject, c.body_text, c.body_html, c.created, "
				     "c.attempts, o.headers FROM mail_claim() c JOIN mail_outbox o USING (id)",
				     0, NULL, NULL, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		log_error("mail_claim: %s", PQerrorMessage(c));
		PQclear(res);
		return DB_FAILED; /* the connection is reset: the transaction ends */
	}
	if (PQntuples(res) == 0) {
		PQclear(res);
		return exec_ok(c, "COMMIT", 0, NULL) ? NOTHING_DUE : DB_FAILED;
	}
	struct mail m = {
		.id = strtoll(PQgetvalue(res, 0, 0), NULL, 10),
		.to = PQgetvalue(res, 0, 1),
		.subject = PQgetvalue(res, 0, 2),
		.text = PQgetvalue(res, 0, 3),
		.html = PQgetvalue(res, 0, 4),
		.created = strtoll(PQgetvalue(res, 0, 5), NULL, 10),
		.from = s->from,
		.domain = s->domain,
		.headers = PQgetvalue(res, 0, 7),
	};
	const char *id = PQgetvalue(res, 0, 0);
	struct buf msg = {0};
	char err[512] = "";
	bool sent = false;
	enum msgr_err rendered = mail_render(&msg, &m, time(NULL));
	if (rendered == MSGR_ERR_MALFORMED)
		snprintf(err, sizeof err, "the row's headers are not header fields this mailer writes");
	else if (rendered != MSGR_OK)
		snprintf(err, sizeof err, "out of memory rendering the message");
	else
		sent = smtp_send(s, m.to, &msg, err, sizeof err);
	buf_free(&msg);
	if (!sent && stopping) {
		/* Cut short by a stop: not an attempt that failed. */
		log_info("mail %s not sent: stopping; it stays queued", id);
		PQclear(res);
		return exec_ok(c, "ROLLBACK", 0, NULL) ? NOTHING_DUE : DB_FAILED;
	}
	const char *params[] = {id, err};
	bool ok = sent ? exec_ok(c, "SELECT mail_sent($1::bigint)", 1, params)
		       : exec_ok(c, "SELECT mail_failed($1::bigint, $2)", 2, params);
	if (sent)
		log_info("mail %s sent", id);
	else
		log_error("mail %s not sent (attempt %s): %s", id, PQgetvalue(res, 0, 6), err);
	PQclear(res);
	/* A commit that fails after the server accepted: sent again later,
	 * with the same Message-ID (the comment at the top). */
	return ok && exec_ok(c, "COMMIT", 0, NULL) ? SENT_ONE : DB_FAILED;
}

/* One run of the digest job (the comment at the top); false when the
 * connection failed (a statement that failed waits for the next run). */
static bool run_digests(PGconn *c, const struct settings *s)
{
	PGresult *due = PQexec(c, "SELECT * FROM mail_digest_due(" DIGEST_BATCH ")");
	if (PQresultStatus(due) != PGRES_TUPLES_OK) {
		log_error("mail_digest_due: %s", PQerrorMessage(c));
		PQclear(due);
		return PQstatus(c) == CONNECTION_OK;
	}
	bool ok = true;
	for (int i = 0; ok && !stopping && i < PQntuples(due); i++) {
		const char *uid = PQgetvalue(due, i, 0);
		char tok[TOKEN_LINK_MAX];
		char url[sizeof s->public_url + sizeof "/api/auth/unsubscribe?token=" + TOKEN_LINK_MAX];
		token_link_make(TOKEN_PURPOSE_UNSUBSCRIBE, strtoll(uid, NULL, 10), tok);
		snprintf(url, sizeof url, "%s/api/auth/unsubscribe?token=%s", s->public_url, tok);
		const char *params[] = {uid, s->public_url, url};
		if (!exec_ok(c, "BEGIN", 0, NULL)) {
			ok = false;
			break;
		}
		PGresult *res = PQexecParams(c, "SELECT mail_digest_user($1::bigint, $2, $3)", 3, NULL,
					     params, NULL, NULL, 0);
		if (PQresultStatus(res) != PGRES_TUPLES_OK) {
			/* This user's digest is left for the next run; the
			 * others go on. */
			log_error("digest of user %s: %s", uid, PQerrorMessage(c));
			ok = exec_ok(c, "ROLLBACK", 0, NULL);
		} else {
			bool queued = !PQgetisnull(res, 0, 0);
			ok = exec_ok(c, "COMMIT", 0, NULL);
			if (ok && queued)
				log_info("digest of user %s queued as mail %s", uid, PQgetvalue(res, 0, 0));
		}
		PQclear(res);
	}
	PQclear(due);
	return ok;
}

/* Prunes the outbox and the password resets (mail_prune()), a batch a
 * transaction; false when the connection failed. */
static bool prune(PGconn *c, const struct settings *s)
{
	char sent[24], failed[24];
	snprintf(sent, sizeof sent, "%ld", s->keep_days);
	snprintf(failed, sizeof failed, "%ld", s->keep_failed_days);
	const char *params[] = {sent, failed};
	long total = 0;
	while (!stopping) {
		PGresult *res = PQexecParams(c, "SELECT mail_prune($1::int, $2::int, " PRUNE_BATCH ")",
					     2, NULL, params, NULL, NULL, 0);
		if (PQresultStatus(res) != PGRES_TUPLES_OK) {
			log_error("mail_prune: %s", PQerrorMessage(c));
			PQclear(res);
			return PQstatus(c) == CONNECTION_OK;
		}
		long n = atol(PQgetvalue(res, 0, 0));
		PQclear(res);
		total += n;
		if (n < atol(PRUNE_BATCH))
			break;
	}
	if (total > 0)
		log_info("pruned the outbox and the password resets (%ld rows at most of a kind)", total);
	return true;
}

static double monotonic_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Waits for a NOTIFY, the next due time, at most max_s seconds, or
 * stopping; false when the connection failed. */
static bool wait_for_mail(PGconn *c, const struct settings *s, double max_s)
{
	double due = s->poll_s < max_s ? (double)s->poll_s : max_s;
	PGresult *res = PQexec(c, "SELECT mail_next_due()");
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		PQclear(res);
		return false;
	}
	if (!PQgetisnull(res, 0, 0) && atof(PQgetvalue(res, 0, 0)) < due)
		due = atof(PQgetvalue(res, 0, 0));
	/* Due now and yet nothing was claimed: another mailer holds it. A
	 * second, not a busy loop, until that one is done. (The digest job
	 * waits for no less either.) */
	if (due < 1)
		due = 1;
	PQclear(res);
	struct pollfd pfd = {.fd = PQsocket(c), .events = POLLIN};
	int ms = (int)(due * 1000) + 1;
	if (poll(&pfd, 1, ms) < 0 && errno != EINTR)
		return false;
	if (!PQconsumeInput(c))
		return false;
	PGnotify *n;
	while ((n = PQnotifies(c)))
		PQfreemem(n);
	return true;
}

static int make_socket(const char *path)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof addr.sun_path) {
		log_error("socket path too long: %s", path);
		return -1;
	}
	strcpy(addr.sun_path, path);
	unlink(path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof addr) || listen(fd, 1)) {
		log_error("socket %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

int main(int argc, char **argv)
{
	struct settings s;
	log_init("mailer");
	int rc = read_settings(argc, argv, &s);
	if (rc >= 0)
		return rc;
	struct sigaction sa = {.sa_handler = on_stop};
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (curl_global_init(CURL_GLOBAL_DEFAULT)) {
		log_error("curl_global_init failed");
		return 1;
	}
	PGconn *c = NULL;
	int sock = -1;
	unsigned backoff = 1;
	double next_digest = 0; /* monotonic_s() of the next digest run */
	double next_prune = 0;
	while (!stopping) {
		if (!c && !(c = connect_db())) {
			sleep(backoff);
			backoff = backoff < 30 ? backoff * 2 : 30;
			continue;
		}
		backoff = 1;
		if (sock < 0 && s.socket) {
			if ((sock = make_socket(s.socket)) < 0)
				break;
			log_info("sending mail to %s (socket %s)", strchr(s.smtp_url, '@') ? "the relay" : s.smtp_url,
				 s.socket);
		}
		enum step st = SENT_ONE;
		if (monotonic_s() >= next_prune) {
			if (!prune(c, &s))
				st = DB_FAILED;
			next_prune = monotonic_s() + PRUNE_EVERY_S;
		}
		if (st != DB_FAILED && monotonic_s() >= next_digest) {
			if (!run_digests(c, &s))
				st = DB_FAILED;
			next_digest = monotonic_s() + (double)s.digest_s;
		}
		if (st != DB_FAILED)
			st = send_one(c, &s);
		if (st == NOTHING_DUE && !wait_for_mail(c, &s, next_digest - monotonic_s()))
			st = DB_FAILED;
		if (st == DB_FAILED) {
			PQfinish(c);
			c = NULL;
		}
	}
	PQfinish(c);
	if (sock >= 0) {
		close(sock);
		unlink(s.socket);
	}
	curl_global_cleanup();
	log_info("stopped");
	return 0;
}
