-- GET /api/chats: fcgi/chats/chats.c (statement list_chats) when the
-- worker's kept list is current: the stamp is read and nothing rendered
-- (chat_list(:uid) alone, the render, costs 8-12 ms). Variable: uid.
SELECT chat_list_stamp(:uid), file_url_period();
