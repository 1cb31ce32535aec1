-- GET /api/chats: fcgi/chats/chats.c (statement list_chats). Variable: uid.
SELECT status, body, event_id FROM chat_list(:uid);
