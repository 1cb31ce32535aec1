-- POST /api/chats/{id}/messages (JSON): fcgi/messages/send.c (statement
-- send_message), then the NOTIFY of shared/reply.c after the commit, as two
-- autocommitted statements like the program's. Variables: uid_lo, chat_lo,
-- chat_step, n (sender uid_lo + i sends into chat chat_lo + i * chat_step,
-- i < n: chat_step 0 puts every sender in one chat), text, rate, burst (the
-- program's MSGR_SEND_RATE and MSGR_SEND_BURST).
\set i random(0, :n - 1)
\set uid :uid_lo + :i
\set chat :chat_lo + :i * :chat_step
\set r random(1, 1000000000000)
SELECT status, event_id FROM message_send(:uid, :chat, :text, 'f'::boolean, 'pgb-' || :client_id || '-' || :r, '{}'::bigint[], 10::int, :rate::float8, :burst::float8) \gset
SELECT pg_notify('msgr_events', :event_id::text);
