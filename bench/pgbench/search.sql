-- GET /api/search/messages?q=&limit=20: fcgi/messages/search.c (statement
-- search; chat_id and before are NULL). Variables: uid_lo, uid_hi, q (one
-- copy of this script per search word), limit.
\set uid random(:uid_lo, :uid_hi)
SELECT status, body, event_id FROM search_messages(:uid, :q, NULL, NULL, :limit::int);
