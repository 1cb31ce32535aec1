-- GET /api/chats/{id}/messages (no cursor, limit 50): fcgi/messages/history.c
-- (statement history; before and after are NULL). Variables: uid_lo,
-- uid_hi (members), chat, limit.
\set uid random(:uid_lo, :uid_hi)
SELECT status, body, event_id FROM chat_messages(:uid, :chat, NULL, NULL, :limit::int);
