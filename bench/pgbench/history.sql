-- GET /api/chats/{id}/messages (no cursor, limit 50): fcgi/messages/history.c
-- (HISTORY_RENDER_SQL: the page as text; before and after are NULL).
-- Variables: uid_lo, uid_hi (members), chat, limit.
\set uid random(:uid_lo, :uid_hi)
SELECT 200, chat_page(:uid, :chat, NULL, NULL, :limit::int), NULL::bigint;
