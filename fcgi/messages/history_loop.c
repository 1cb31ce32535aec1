/*
 * history_loop.c - the event loop's history reads (loop.c): GET
 * /api/chats/{id}/messages, served with history.c's steps.
 *
 * Most reads ask for a page the process keeps (history.c), which only
 * needs its stamp checked: one index lookup, which costs the database less
 * than the statement around it. So the stamps of the reads that came
 * together are checked with one statement, and only the reads whose page
 * is not kept, or changed, are rendered, one per statement. Both run
 * asynchronously on a few database connections of the loop ("links",
 * shared/pglink.h), so that renders use both cores while a link stays free
 * for stamps: a read of a kept page never waits behind a render.
 *
 * When a busy chat changes, every reader's next read finds its page stale.
 * So the reads of one stale page waiting when its render starts follow it:
 * the render keeps the page, and they then go to have their stamps checked
 * (which also checks that they may read it) instead of rendering it each.
 * A follower that finds no page kept after all (one with reactions is kept
 * per viewer) renders its own next, without following again.
 *
 * A read whose link was lost goes again once; a second loss, or no link to
 * be had (every link down: pglink.h), is a 503. While links connect, reads
 * wait for them.
 *
 * With a read replica (db.h), as many links again go to it, and every read
 * has its stamp checked on the primary first, kept page or not: the stamp
 * is the version its page must show (history.c). A read whose kept page is
 * not current is rendered on a replica link, one render per statement, and
 * answered when the render shows that version or a later one; otherwise
 * (the replica behind, a render that is not a page, the link lost, no
 * replica link connected) it is rendered on the primary as it would be
 * without a replica, at once.
 */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "db.h"
#include "front.h"
#include "log.h"
#include "metrics.h"
#include "messages.h"
#include "pglink.h"
#include "reply.h"

/* Reads checked with one statement at most: the statement's arrays grow
 * with it, and answering them holds the loop. */
#define READ_STAMPS_MAX 512

#define STAMPS_STATEMENT "read_stamps"
#define RENDER_STATEMENT "read_render"

static const struct pglink_statement read_statements[] = {
	/* HISTORY_STAMP_SQL for many reads: a row for each member's whose
	 * session is live, in order. A read without a row is rendered, and
	 * the render answers it (401 for an ended session): one revoked
	 * session fails no other read. */
	{STAMPS_STATEMENT,
	 "SELECT q.ord, CASE WHEN m.cleared_upto = 0 THEN c.version END, file_url_period() "
	 "FROM unnest($1::bigint[], $2::bigint[], $3::bigint[]) WITH ORDINALITY "
	 "AS q(user_id, chat_id, sid, ord) "
	 "JOIN chat_members m ON m.chat_id = q.chat_id AND m.user_id = q.user_id "
	 "JOIN chats c ON c.id = q.chat_id WHERE session_live(q.user_id, q.sid) ORDER BY q.ord",
	 3},
	{RENDER_STATEMENT, HISTORY_RENDER_SQL, HISTORY_NPARAMS},
};

/* A read held until it is answered; in its request's arena. */
struct pending_read {
	struct front_req *fr;
	struct http_req *req;
	struct history_query q;
	int tries;                   /* its statements lost with their link */
	bool followed;               /* it followed another read's render */
	bool stamped;                /* need holds the primary's stamp */
	bool replica_tried;          /* the replica did not answer it */
	struct page_stamp need;
	struct pending_read *next;   /* in a queue */
};

/* Reads in arrival order. */
struct read_queue {
	struct pending_read *head, *tail;
	size_t n;
};

enum read_job { READ_STAMPS, READ_RENDER };

struct read_link {
	struct pglink *link;
	enum read_job job;       /* while the link is busy */
	struct read_queue reads; /* the job's */
};

static struct read_link *links;
static int nlinks;
static int renders_running;
static struct read_queue stamps_waiting, renders_waiting;
/* The replica's links, each rendering one read at a time, and the reads
 * stamped on the primary that wait for them. */
struct replica_link {
	struct pglink *link;
	struct pending_read *read; /* while the link is busy */
};
static struct replica_link *replicas;
static int nreplicas;
static struct read_queue replica_waiting;

static void queue_push(struct read_queue *q, struct pending_read *c)
{
	c->next = NULL;
	if (q->tail)
		q->tail->next = c;
	else
		q->head = c;
	q->tail = c;
	q->n++;
}

/* Puts front's reads, in their order, before q's; front is left empty. */
static void queue_prepend(struct read_queue *q, struct read_queue *front)
{
	if (!front->n)
		return;
	front->tail->next = q->head;
	if (!q->tail)
		q->tail = front->tail;
	q->head = front->head;
	q->n += front->n;
	*front = (struct read_queue){0};
}

static struct pending_read *queue_pop(struct read_queue *q)
{
	struct pending_read *c = q->head;
	if (!c)
		return NULL;
	q->head = c->next;
	if (!q->head)
		q->tail = NULL;
	q->n--;
	c->next = NULL;
	return c;
}

static void reads_queue(struct pending_read *c)
{
	struct cached_page page;
	if (nreplicas && !c->replica_tried) {
		queue_push(c->stamped ? &replica_waiting : &stamps_waiting, c);
		return;
	}
	queue_push(history_kept(&c->q, &page) ? &stamps_waiting : &renders_waiting, c);
}

/* Answers each of q's reads 503: the database cannot be reached. */
static void reads_unreachable(struct read_queue *q)
{
	struct pending_read *c;
	while ((c = queue_pop(q))) {
		reply_db_problem(c->req, NULL);
		front_answered(c->fr);
	}
}

/* q's statement was lost with its link: each read goes again once. */
static void reads_lost(struct read_queue *q)
{
	struct pending_read *c;
	while ((c = queue_pop(q))) {
		if (c->tries++ == 0) {
			reads_queue(c);
		} else {
			reply_db_problem(c->req, NULL);
			front_answered(c->fr);
		}
	}
}

/* ---- the links ---------------------------------------------------------------- */

/* The statement's array parameters for q's reads: users, chats, sessions
 * (NULL for a token without sid). */
static void stamps_params(const struct read_queue *q, struct buf *users, struct buf *chats,
			  struct buf *sids)
{
	buf_putc(users, '{');
	buf_putc(chats, '{');
	buf_putc(sids, '{');
	for (const struct pending_read *c = q->head; c; c = c->next) {
		if (c != q->head) {
			buf_putc(users, ',');
			buf_putc(chats, ',');
			buf_putc(sids, ',');
		}
		buf_puts(users, c->q.uid);
		buf_puts(chats, c->q.chat);
		buf_puts(sids, c->q.sid ? c->q.sid : "NULL");
	}
	buf_putc(users, '}');
	buf_putc(chats, '}');
	buf_putc(sids, '}');
}

/* Sends l's job, whose reads are in l->reads (a render's: the one it
 * renders, and its followers); on failure they go again. */
static void read_link_send(struct read_link *l, enum read_job job)
{
	enum msgr_err err;
	if (job == READ_STAMPS) {
		struct buf users = {0}, chats = {0}, sids = {0};
		stamps_params(&l->reads, &users, &chats, &sids);
		const char *params[] = {buf_cstr(&users), buf_cstr(&chats), buf_cstr(&sids)};
		err = buf_status(&users) != MSGR_OK   ? buf_status(&users)
		      : buf_status(&chats) != MSGR_OK ? buf_status(&chats)
						      : buf_status(&sids);
		if (err == MSGR_OK)
			err = pglink_send(l->link, STAMPS_STATEMENT, 3, params);
		buf_free(&users);
		buf_free(&chats);
		buf_free(&sids);
	} else {
		const char *params[HISTORY_NPARAMS];
		history_params(&l->reads.head->q, params);
		err = pglink_send(l->link, RENDER_STATEMENT, HISTORY_NPARAMS, params);
	}
	if (err == MSGR_OK) {
		metrics_batch(METRICS_BATCH_HISTORY, (unsigned)l->reads.n);
		l->job = job;
		renders_running += job == READ_RENDER;
		return;
	}
	log_error("could not send %zu reads: %s", l->reads.n, msgr_strerror(err));
	struct read_queue q = l->reads;
	l->reads = (struct read_queue){0};
	reads_lost(&q);
}

/* Moves the reads of lead's page waiting to be rendered into q, when a
 * stale page is kept (the render will keep its own): the render about to
 * start is newer than what any of them may see. */
static void take_followers(struct read_queue *q, const struct pending_read *lead)
{
	struct cached_page stale;
	if (!history_kept(&lead->q, &stale))
		return;
	struct read_queue others = {0};
	struct pending_read *c;
	while ((c = queue_pop(&renders_waiting))) {
		bool follows = !c->followed && !strcmp(c->q.shared_key, lead->q.shared_key);
		c->followed = c->followed || follows;
		queue_push(follows ? q : &others, c);
	}
	renders_waiting = others;
}

/* The followers of a render that is done: to the page kept, or first in
 * line for their own renders. */
static void followers_back(struct read_queue *followers)
{
	struct read_queue unkept = {0};
	struct pending_read *c;
	struct cached_page page;
	while ((c = queue_pop(followers)))
		queue_push(history_kept(&c->q, &page) ? &stamps_waiting : &unkept, c);
	queue_prepend(&renders_waiting, &unkept);
}

/* Renders may take every link but one, which stays for stamps. */
static bool render_may_start(void)
{
	return renders_waiting.n && renders_running < (nlinks > 1 ? nlinks - 1 : 1);
}

/* Starts a job on l, which is ready and free: a render when one may
 * start, or else the stamps waiting. */
static void read_link_start(struct read_link *l)
{
	if (render_may_start()) {
		struct pending_read *lead = queue_pop(&renders_waiting);
		queue_push(&l->reads, lead);
		take_followers(&l->reads, lead);
		read_link_send(l, READ_RENDER);
	} else {
		while (l->reads.n < READ_STAMPS_MAX && stamps_waiting.n)
			queue_push(&l->reads, queue_pop(&stamps_waiting));
		read_link_send(l, READ_STAMPS);
	}
}

/* The replica does not answer c: the primary renders it. */
static void replica_fallback(struct pending_read *c)
{
	metrics_replica_read(false);
	c->replica_tried = true;
	queue_push(&renders_waiting, c);
}

/* Starts renders on the replica's free links; with none ready or busy,
 * what waits for them goes to the primary. Not for a link that connects:
 * a replica whose host stopped answering takes seconds to fail a connect
 * (pglink.h), and the primary can answer now. */
static void replica_next(void)
{
	bool coming = false;
	for (int i = 0; i < nreplicas && replica_waiting.n; i++) {
		struct replica_link *r = &replicas[i];
		if (pglink_busy(r->link)) {
			coming = true;
			continue;
		}
		if (pglink_state(r->link) != PGLINK_READY)
			continue;
		struct pending_read *c = queue_pop(&replica_waiting);
		const char *params[HISTORY_NPARAMS];
		history_params(&c->q, params);
		if (pglink_send(r->link, RENDER_STATEMENT, HISTORY_NPARAMS, params) == MSGR_OK) {
			r->read = c;
			coming = true;
		} else {
			replica_fallback(c);
		}
	}
	if (!coming) {
		struct pending_read *c;
		while ((c = queue_pop(&replica_waiting)))
			replica_fallback(c);
	}
}

void history_loop_next(void)
{
	if (nreplicas)
		replica_next();
	/* Whether anything will come to answer what waits: a statement in
	 * flight, or a connect, which ends on an event of the loop. */
	bool coming = false;
	for (int i = 0; i < nlinks; i++) {
		struct read_link *l = &links[i];
		/* Renders first, as they are bounded: stamps, however many come,
		 * do not hold them back, and always have a link of their own. */
		if (!pglink_busy(l->link) && (stamps_waiting.n || render_may_start())) {
			enum pglink_state state = pglink_state(l->link);
			coming = coming || state == PGLINK_CONNECTING;
			if (state == PGLINK_READY)
				read_link_start(l);
		}
		coming = coming || pglink_busy(l->link);
	}
	/* Every link down and none busy: nothing would ever answer them. */
	if (!coming) {
		reads_unreachable(&stamps_waiting);
		reads_unreachable(&renders_waiting);
	}
}

/* ---- answers ------------------------------------------------------------------ */

/* Answers the reads whose kept page is current (res has a row, in order,
 * for each member's read); the others go to be rendered, which answers
 * them whatever they are. */
static void stamps_answer(struct read_queue *q, PGresult *res)
{
	if (!db_ok(res))
		log_error("checking %zu pages failed: %s", q->n, PQresultErrorMessage(res));
	int rows = db_ok(res) ? PQntuples(res) : 0, row = 0;
	struct pending_read *c;
	for (long long ord = 1; (c = queue_pop(q)); ord++) {
		struct page_stamp now;
		bool answered = false, row_stamped = false;
		if (row < rows && atoll(PQgetvalue(res, row, 0)) == ord) {
			row_stamped = history_stamp_of(res, row, 1, &now);
			answered = row_stamped && history_answer_kept(c->req, &c->q, now);
			row++;
		}
		if (answered) {
			front_answered(c->fr);
		} else if (nreplicas && row_stamped && !c->replica_tried) {
			c->stamped = true;
			c->need = now;
			queue_push(&replica_waiting, c);
		} else {
			queue_push(&renders_waiting, c);
		}
	}
	PQclear(res);
}

/* l's job has its result, res; NULL: the connection was lost. */
static void read_link_done(void *arg, PGresult *res)
{
	struct read_link *l = arg;
	struct read_queue q = l->reads;
	enum read_job job = l->job;
	l->reads = (struct read_queue){0};
	renders_running -= job == READ_RENDER;
	if (!res) {
		log_error("a database connection was lost with %zu reads; they go again", q.n);
		reads_lost(&q);
	} else if (job == READ_STAMPS) {
		stamps_answer(&q, res);
	} else {
		struct pending_read *lead = queue_pop(&q);
		history_answer_render(lead->req, &lead->q, res);
		front_answered(lead->fr);
		followers_back(&q);
	}
}

/* r's render has its result, res; NULL: the connection was lost. */
static void replica_link_done(void *arg, PGresult *res)
{
	struct replica_link *r = arg;
	struct pending_read *c = r->read;
	r->read = NULL;
	if (history_replica_current(res, c->need)) {
		metrics_replica_read(true);
		history_answer_render(c->req, &c->q, res);
		front_answered(c->fr);
		return;
	}
	PQclear(res);
	replica_fallback(c);
}

/* ---- the loop's interface ----------------------------------------------------- */

void history_loop(struct http_req *req, struct front_req *fr)
{
	search_index_yield();
	struct pending_read *c = arena_alloc(req->arena, sizeof *c);
	if (!history_read(req, &c->q))
		return;
	c->fr = fr;
	c->req = req;
	c->tries = 0;
	c->followed = false;
	c->stamped = false;
	c->replica_tried = false;
	front_hold(fr);
	reads_queue(c);
}

bool history_loop_start(struct front *f, int n)
{
	links = calloc((size_t)n, sizeof *links);
	if (!links) {
		log_error("out of memory for the read links");
		return false;
	}
	nlinks = n;
	for (int i = 0; i < n; i++) {
		links[i].link = pglink_new(f, read_statements,
					   sizeof read_statements / sizeof read_statements[0],
					   read_link_done, &links[i]);
		if (!links[i].link)
			return false;
		pglink_state(links[i].link); /* connecting now, not on the first read */
	}
	if (!db_replica_configured())
		return true;
	replicas = calloc((size_t)n, sizeof *replicas);
	if (!replicas) {
		log_error("out of memory for the replica's links");
		return false;
	}
	nreplicas = n;
	for (int i = 0; i < n; i++) {
		replicas[i].link = pglink_new(f, read_statements + 1, 1, replica_link_done,
					      &replicas[i]);
		if (!replicas[i].link)
			return false;
		pglink_use_replica(replicas[i].link);
		pglink_state(replicas[i].link);
	}
	return true;
}

void history_loop_finish(void)
{
	do {
		history_loop_next();
		for (int i = 0; i < nlinks; i++)
			pglink_wait(links[i].link);
		for (int i = 0; i < nreplicas; i++)
			pglink_wait(replicas[i].link);
	} while (stamps_waiting.n || renders_waiting.n || replica_waiting.n);
	for (int i = 0; i < nlinks; i++)
		pglink_free(links[i].link);
	free(links);
	links = NULL;
	nlinks = 0;
	for (int i = 0; i < nreplicas; i++)
		pglink_free(replicas[i].link);
	free(replicas);
	replicas = NULL;
	nreplicas = 0;
}
