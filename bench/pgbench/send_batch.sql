-- POST /api/chats/{id}/messages (JSON, text only) as the send batcher writes
-- it (fcgi/messages/batch.c): `batch` sends in one call of
-- message_send_batch(), which notifies wsd once. Run with one client, as
-- there is one batcher. Variables: uid_lo, chat_lo, chat_step, n (sender
-- uid_lo + i sends into chat chat_lo + i * chat_step, i < n), batch, text,
-- rate, burst.
\set r random(1, 1000000000000)
\set off random(0, :n - 1)
SELECT count(*) FROM message_send_batch(
	ARRAY(SELECT :uid_lo::bigint + (:off + g) % :n FROM generate_series(0, :batch - 1) g),
	ARRAY(SELECT :chat_lo::bigint + ((:off + g) % :n) * :chat_step FROM generate_series(0, :batch - 1) g),
	ARRAY(SELECT :text::text FROM generate_series(1, :batch)),
	ARRAY(SELECT 'pgb-' || :r::text || '-' || g FROM generate_series(1, :batch) g),
	ARRAY(SELECT NULL::bigint FROM generate_series(1, :batch)),
	:rate::float8, :burst::float8);
