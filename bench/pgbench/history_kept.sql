-- GET /api/chats/{id}/messages when the worker keeps the page:
-- fcgi/messages/history.c (statement page_stamp), the membership check and
-- the chat's version that decide whether the kept page is current.
-- Variables: uid_lo, uid_hi (members), chat.
\set uid random(:uid_lo, :uid_hi)
SELECT c.version, file_url_period() FROM chat_members m JOIN chats c ON c.id = m.chat_id WHERE m.chat_id = :chat AND m.user_id = :uid;
